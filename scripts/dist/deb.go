package main

import (
	"io"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	"github.com/goreleaser/nfpm/v2/files"
)

// maintainer is the Debian package's Maintainer field (make dist
// DEB_MAINTAINER=...).
var maintainer = "agentspool maintainers <maintainers@agentspool.invalid>"

const debDescription = `deliver spooled messages into AI agents' chat windows
agentspool is a daemon for a desktop that runs several AI agents, each in
its own chat window or terminal: a sender drops a message into the spool
(agentspool send, or a plain file renamed into spool/new/AGENT/), and the
daemon clicks the agent's input, checks that the focus is really the
agent's window, pastes the message through the clipboard, submits it and
gives the person their clipboard back, all under one desktop lock. A
message counts as delivered when the agent acknowledges it; unacknowledged
messages are retried and end in failed/ with the reason.
.
It drives an X11 desktop through the X server's XTEST extension (Xorg,
Xvfb and XWayland have it) and runs as a service of the user's desktop
session: agentspool service install writes a systemd user unit for the
current display. The example coords.yaml and the Prometheus rules are in
/usr/share/doc/agentspool/examples/.`

// writeDeb writes the Debian package for a linux/arch binary into out and
// returns its file name (nfpm's conventional one: name_version_arch.deb).
//
// What it holds and why:
//   - /usr/bin/agentspool: a static binary (CGO_ENABLED=0), so no Depends;
//     it talks to the X server itself (no xdotool, no xclip), and needs
//     nothing else installed to run;
//   - the README, the example config and the Prometheus rules under
//     /usr/share/doc/agentspool/;
//   - no systemd unit: `agentspool service install` writes each user's own
//     (~/.config/systemd/user/agentspool.service), with the absolute paths
//     of that user's config and spool and the DISPLAY and XAUTHORITY of
//     their session, none of which a packaged unit could know. A packaged
//     unit of the same name would be shadowed by it once installed, and
//     before that would offer every user a unit that cannot work.
//
// Suggests: prometheus, for the rules.
func writeDeb(out, arch, version, bin string, mtime time.Time) (string, error) {
	contents := files.Contents{{
		Source:      bin,
		Destination: "/usr/bin/agentspool",
		FileInfo:    &files.ContentFileInfo{Mode: 0o755, MTime: mtime},
	}}
	for _, d := range docs {
		contents = append(contents, &files.Content{
			Source:      d.path,
			Destination: d.deb,
			FileInfo:    &files.ContentFileInfo{Mode: 0o644, MTime: mtime},
		})
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:     "agentspool",
		Arch:     arch,
		Platform: "linux",
		Version:  version,
		// The version is a Debian one already (debVersion); nfpm's semver
		// parsing would render git describe's "-4-gabc" as a pre-release.
		VersionSchema: "none",
		Section:       "utils",
		Priority:      "optional",
		Maintainer:    maintainer,
		Description:   debDescription,
		Homepage:      "https://github.com/agentspool/agentspool",
		MTime:         mtime,
		Overridables: nfpm.Overridables{
			Suggests: []string{"prometheus"},
			Contents: contents,
		},
	})
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	name := pkg.ConventionalFileName(info)
	info.Target = filepath.Join(out, name)
	return name, writeFile(info.Target, func(w io.Writer) error { return pkg.Package(info, w) })
}
