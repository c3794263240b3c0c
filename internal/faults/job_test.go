package faults_test

import (
	"encoding/json"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/backup"
)

// job is one run of the backup job as a process, the way the CronJob runs it.
type job struct {
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	start  time.Time
	done   chan struct{}
	res    *jobResult
}

// jobResult is what a run left: its exit status, its output and the
// summary line.
type jobResult struct {
	Exit     int
	Stdout   string
	Stderr   string
	Duration time.Duration
	Summary  backup.Summary
	// SummaryErr is why stdout is not exactly one JSON summary line.
	SummaryErr error
	Want       *want // what the case expects; nil when only the invariants apply
}

// startJob starts the binary with exactly env (nothing inherited), in a
// process group of its own that t.Cleanup kills if it is still running.
func startJob(t testing.TB, env map[string]string) *job {
	t.Helper()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	j := &job{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	j.cmd = exec.Command(jobBinary)
	for _, k := range keys {
		j.cmd.Env = append(j.cmd.Env, k+"="+env[k])
	}
	j.cmd.Stdout, j.cmd.Stderr = j.stdout, j.stderr
	j.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	j.start = time.Now()
	if err := j.cmd.Start(); err != nil {
		t.Fatalf("starting the backup job: %v", err)
	}
	go func() {
		err := j.cmd.Wait()
		r := &jobResult{Exit: j.cmd.ProcessState.ExitCode(), Duration: time.Since(j.start),
			Stdout: j.stdout.String(), Stderr: j.stderr.String()}
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			r.Exit = -1
		}
		r.Summary, r.SummaryErr = parseSummary(r.Stdout)
		j.res = r
		close(j.done)
	}()
	t.Cleanup(func() {
		select {
		case <-j.done:
		default:
			j.kill(t)
			<-j.done
		}
	})
	return j
}

// kill kills the job's process group; a group that has just exited is not
// an error.
func (j *job) kill(t testing.TB) {
	if err := syscall.Kill(-j.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("killing the backup job: %v", err)
	}
}

// Signal sends sig to the job.
func (j *job) Signal(sig syscall.Signal) error { return j.cmd.Process.Signal(sig) }

// Wait waits for the job, at most timeout, after which it is killed and the
// test fails.
func (j *job) Wait(t testing.TB, timeout time.Duration) *jobResult {
	t.Helper()
	select {
	case <-j.done:
	case <-time.After(timeout):
		j.kill(t)
		<-j.done
		t.Errorf("the backup job did not end within %s; killed it\nstderr:\n%s", timeout, j.res.Stderr)
	}
	return j.res
}

// parseSummary requires stdout to be exactly one JSON summary line.
func parseSummary(stdout string) (backup.Summary, error) {
	var s backup.Summary
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if stdout == "" || len(lines) != 1 {
		return s, errors.New("stdout is not exactly one line")
	}
	if err := json.Unmarshal([]byte(lines[0]), &s); err != nil {
		return s, err
	}
	return s, nil
}

// stderrHas reports whether the job's log mentions s.
func (r *jobResult) stderrHas(s string) bool { return strings.Contains(r.Stderr, s) }
