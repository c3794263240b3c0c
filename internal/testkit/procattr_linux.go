package testkit

import "syscall"

// sysProcAttr puts a process in its own process group (so that stopping it
// stops its children too) and has the kernel kill it if the test binary dies
// before its cleanup runs.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
