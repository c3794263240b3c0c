package testkit

import (
	"os/exec"
	"syscall"
	"time"
)

// Process is a child process in a process group of its own, so that
// stopping it stops whatever it started too.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts cmd in its own process group; on Linux the kernel kills it
// if the test binary dies before its cleanup runs. The process is waited for
// here, so cmd's output must go to writers, not to pipes read by the caller.
func Start(cmd *exec.Cmd) (*Process, error) {
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Exited is closed once the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Kill ends the process group at once (SIGKILL), as an OOM kill or a node
// crash would, and waits for the process to end.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// Stop asks the process group to end (SIGTERM) and kills it if it has not
// ended within grace.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}
