//go:build unix && !linux

package blobtest

import "syscall"

// sysProcAttr puts the server in its own process group, so that stopping it
// stops its children too.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
