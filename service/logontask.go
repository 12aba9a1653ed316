package service

import (
	"encoding/xml"
	"fmt"
	"strings"
	"unicode/utf16"
)

// On Windows the daemon runs as a scheduled task that starts at logon in
// the user's own session: a Service Control Manager service runs in
// session 0, which cannot reach the desktop the person sees (and
// kardianos/service has no logon-task mode). The task is defined in the
// Task Scheduler's XML (schtasks /Create /XML), written here so that it can
// be tested on any platform.

// TaskXML is the task definition for s, for the user `user` (DOMAIN\name):
// at their logon, in their interactive session, not elevated, restarted
// every minute when it fails, never stopped for running long, one instance.
// schtasks reads it as UTF-16 with a byte-order mark (TaskXMLFile).
func TaskXML(s Spec, user string) string {
	esc := func(v string) string {
		var b strings.Builder
		xml.EscapeText(&b, []byte(v))
		return b.String()
	}
	args := fmt.Sprintf(`--config %s --spool %s run`, winQuote(s.Config), winQuote(s.Spool))
	return `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>agentspool: delivers queued messages to the agents' windows (` + esc(s.name()) + `)</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>` + esc(user) + `</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>` + esc(user) + `</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>` + esc(s.Binary) + `</Command>
      <Arguments>` + esc(args) + `</Arguments>
    </Exec>
  </Actions>
</Task>
`
}

// TaskXMLFile is TaskXML as schtasks reads a file: UTF-16LE with a BOM
// and CRLF line ends.
func TaskXMLFile(s Spec, user string) []byte {
	text := strings.ReplaceAll(TaskXML(s, user), "\n", "\r\n")
	u := utf16.Encode([]rune(text))
	b := make([]byte, 2+2*len(u))
	b[0], b[1] = 0xff, 0xfe
	for i, c := range u {
		b[2+2*i], b[3+2*i] = byte(c), byte(c>>8)
	}
	return b
}

// winQuote quotes one argument of a Windows command line (as
// CommandLineToArgvW splits it): in double quotes, with the backslashes
// before a quote (and at the end) doubled and quotes escaped.
func winQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for _, r := range s {
		switch r {
		case '\\':
			slashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*slashes+1))
		default:
			b.WriteString(strings.Repeat(`\`, slashes))
		}
		slashes = 0
		b.WriteRune(r)
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}
