//go:build unix && !linux

package testkit

import "syscall"

// sysProcAttr puts a process in its own process group, so that stopping it
// stops its children too.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
