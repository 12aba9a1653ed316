//go:build !windows

package service

import (
	"context"
	"os/exec"
)

// shellCommand runs line with /bin/sh, so alert_command may have arguments
// and redirections.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", line)
}
