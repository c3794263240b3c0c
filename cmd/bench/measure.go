//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// step is one command of a contender.
type step struct {
	name string
	args []string
	env  []string
}

// stepResult is one command's wall time, CPU time and standard output.
type stepResult struct {
	name    string
	seconds float64
	cpu     float64 // user + system of the process and the children it waited for
	stdout  []byte
}

// run executes the steps one after the other and returns their results and
// the peak anonymous memory (kB) seen in any of them, summed over the
// process and its descendants at each sample.
func run(ctx context.Context, logPath string, steps []step) ([]stepResult, int64, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, err
	}
	defer logf.Close()
	var out []stepResult
	var peak int64
	for _, s := range steps {
		fmt.Fprintf(logf, "### %s: %s\n", s.name, strings.Join(s.args, " "))
		cmd := exec.CommandContext(ctx, s.args[0], s.args[1:]...)
		cmd.Env = s.env
		var stdout bytes.Buffer
		cmd.Stdout = io.MultiWriter(&stdout, logf)
		cmd.Stderr = logf
		cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return out, peak, fmt.Errorf("%s: starting %s: %w", s.name, s.args[0], err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var stepPeak int64
		var each map[string]int64
		wg.Go(func() { stepPeak, each = samplePeak(cmd.Process.Pid, stop) })
		werr := cmd.Wait()
		secs := time.Since(start).Seconds()
		close(stop)
		wg.Wait()
		peak = max(peak, stepPeak)
		fmt.Fprintf(logf, "### %s: %.2fs, peak RssAnon %d kB, by process %v\n", s.name, secs, stepPeak, each)
		if werr != nil {
			return out, peak, fmt.Errorf("%s: %s failed: %w (log: %s)", s.name, s.args[0], werr, logPath)
		}
		ps := cmd.ProcessState
		out = append(out, stepResult{name: s.name, seconds: secs, cpu: (ps.UserTime() + ps.SystemTime()).Seconds(), stdout: stdout.Bytes()})
	}
	return out, peak, nil
}

// samplePeak polls RssAnon of pid and all its descendants every 10ms until
// stop is closed and returns the largest sum seen, in kB, and the largest
// value of each process (named by its command and depth in the tree).
func samplePeak(pid int, stop <-chan struct{}) (int64, map[string]int64) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var peak int64
	each := map[string]int64{}
	for {
		var sum int64
		for i, p := range tree(pid) {
			kb := rssAnon(p)
			sum += kb
			name := comm(p)
			if i > 0 {
				name += " (child)"
			}
			each[name] = max(each[name], kb)
		}
		peak = max(peak, sum)
		select {
		case <-stop:
			return peak, each
		case <-tick.C:
		}
	}
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// tree is pid and its descendants, found through the children files of
// every thread (a Go program forks from whichever thread it runs on).
func tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", out[i]))
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// rssAnon reads RssAnon (kB) from /proc/pid/status, 0 once the process is gone.
func rssAnon(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// settle gives every contender the same start: dirty pages written back,
// the page cache dropped (when allowed), then the member's database read
// back in, since a running member has it cached. It reports whether the
// cache could be dropped.
func settle(dbPath string) (bool, error) {
	unix.Sync()
	dropped := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200) == nil
	f, err := os.Open(dbPath)
	if err != nil {
		return dropped, err
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	return dropped, err
}

// cacheLeft is what the page cache holds of the files under dir, in bytes:
// cached, and of those dirty or under writeback (cachestat(2), Linux 6.5
// and later).
func cacheLeft(dir string) (cached, dirty int64, err error) {
	page := int64(os.Getpagesize())
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var st unix.Cachestat_t
		if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
			return fmt.Errorf("cachestat %s: %w", path, err)
		}
		cached += int64(st.Cache) * page
		dirty += int64(st.Dirty+st.Writeback) * page
		return nil
	})
	return cached, dirty, err
}
