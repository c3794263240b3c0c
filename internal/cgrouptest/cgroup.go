//go:build linux

// Package cgrouptest runs commands inside a memory cgroup of their own, with
// a limit, the way a container runtime does, and reports what they used: peak
// anonymous and file-backed (page cache) memory and OOM kills. Root only;
// for tests and the benchmark, never linked into the backup job.
package cgrouptest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Group is a memory cgroup created by New; Remove deletes it.
type Group struct {
	Path  string
	v2    bool
	limit int64
}

// Usage is what the processes of a group used while a Watch ran, in bytes.
type Usage struct {
	PeakAnon  int64 // anonymous memory (heap, stacks), the largest sample
	PeakFile  int64 // page cache charged to the group, the largest sample
	PeakTotal int64 // the kernel's own high-water mark of the whole charge
	OOMKills  int   // processes of the group the OOM killer ended
}

// Version says which cgroup hierarchy has the memory controller: "v2" at
// /sys/fs/cgroup or /sys/fs/cgroup/unified, or "v1" at
// /sys/fs/cgroup/memory. It returns an error when neither is mounted.
func Version() (root string, v2 bool, err error) {
	for _, r := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		b, err := os.ReadFile(filepath.Join(r, "cgroup.controllers"))
		if err == nil && slices.Contains(strings.Fields(string(b)), "memory") {
			return r, true, nil
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		return "/sys/fs/cgroup/memory", false, nil
	}
	return "", false, errors.New("no cgroup memory controller mounted under /sys/fs/cgroup (v2) or /sys/fs/cgroup/memory (v1)")
}

// New creates a memory cgroup named name (made unique) directly under the
// memory hierarchy's root, limited to limit bytes of memory and, where the
// kernel accounts it, the same of memory plus swap.
func New(name string, limit int64) (*Group, error) {
	root, v2, err := Version()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(root, name+"-")
	if err != nil {
		return nil, fmt.Errorf("creating a cgroup under %s (needs root): %w", root, err)
	}
	g := &Group{Path: dir, v2: v2, limit: limit}
	lim := strconv.FormatInt(limit, 10)
	var files []string
	if v2 {
		files = []string{"memory.max", "memory.swap.max"}
	} else {
		files = []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}
	}
	for i, f := range files {
		err := os.WriteFile(filepath.Join(dir, f), []byte(lim), 0)
		if v2 && i == 1 {
			err = os.WriteFile(filepath.Join(dir, f), []byte("0"), 0)
		}
		if err != nil && (i == 0 || !errors.Is(err, os.ErrNotExist)) {
			_ = g.Remove()
			return nil, fmt.Errorf("setting %s of %s: %w", f, dir, err)
		}
	}
	return g, nil
}

// Command is exec.Command for a process that joins the group before it
// executes name.
func (g *Group) Command(name string, args ...string) *exec.Cmd {
	argv := g.Wrap(append([]string{name}, args...))
	return exec.Command(argv[0], argv[1:]...)
}

// Wrap turns a command line into one that joins the group first: a shell
// writes its own pid into the group, then executes the command, which so
// starts inside it.
func (g *Group) Wrap(argv []string) []string {
	script := `echo $$ > "$0" && exec "$@"`
	return append([]string{"/bin/sh", "-c", script, filepath.Join(g.Path, "cgroup.procs")}, argv...)
}

// Watch samples the group's memory every few milliseconds until the
// returned function is called, which reports the peaks and the OOM kills.
func (g *Group) Watch() func() (Usage, error) {
	var (
		u    Usage
		err  error
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			anon, file, serr := g.stat()
			if serr != nil {
				err = serr
				return
			}
			u.PeakAnon, u.PeakFile = max(u.PeakAnon, anon), max(u.PeakFile, file)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	return func() (Usage, error) {
		close(stop)
		wg.Wait()
		if err != nil {
			return u, err
		}
		peakFile := "memory.max_usage_in_bytes"
		if g.v2 {
			peakFile = "memory.peak"
		}
		if u.PeakTotal, err = readInt(filepath.Join(g.Path, peakFile)); err != nil {
			return u, err
		}
		u.OOMKills, err = g.oomKills()
		return u, err
	}
}

// stat reads the group's anonymous and page cache bytes now.
func (g *Group) stat() (anon, file int64, err error) {
	keys := [2]string{"rss", "cache"}
	if g.v2 {
		keys = [2]string{"anon", "file"}
	}
	m, err := readKeyed(filepath.Join(g.Path, "memory.stat"))
	if err != nil {
		return 0, 0, err
	}
	return m[keys[0]], m[keys[1]], nil
}

func (g *Group) oomKills() (int, error) {
	f := "memory.oom_control"
	if g.v2 {
		f = "memory.events"
	}
	m, err := readKeyed(filepath.Join(g.Path, f))
	if err != nil {
		return 0, err
	}
	n, ok := m["oom_kill"]
	if !ok {
		return 0, fmt.Errorf("%s has no oom_kill count (kernel too old to tell)", filepath.Join(g.Path, f))
	}
	return int(n), nil
}

// Remove deletes the group; its processes must have exited.
func (g *Group) Remove() error {
	var err error
	for range 50 { // the last process may take a moment to leave
		if err = os.Remove(g.Path); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", g.Path, err)
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// readKeyed reads a file of "key value" lines.
func readKeyed(path string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m, nil
}
