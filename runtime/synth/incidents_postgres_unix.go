//go:build unix

package synth

import (
	"os/exec"
	"syscall"
)

// runAs makes cmd run as uid:gid: postgres and initdb refuse to run as
// root.
func runAs(cmd *exec.Cmd, uid, gid uint32) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	return nil
}
