//go:build linux

// Command bench measures the backup job against `etcdctl snapshot save`
// alone and against the usual recipe (etcdctl snapshot save, cp to a second
// directory, etcdutl snapshot status) on a real etcd server process filled to
// a given size. The contenders take turns, round after round, each starting
// from the same state: dirty pages written back, page cache dropped, the
// member's database read back in. It prints medians, ratios, throughput and
// peak anonymous memory, and whether the targets are met; it never fails
// because a target is missed. `make bench` builds the tools and runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/etcd-backup/etcd-backup/internal/cgrouptest"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
)

// Targets: wall time against etcdctl and the usual recipe, and the put
// latency etcd keeps while the backup job runs.
const (
	targetVsSave       = 1.15
	targetVsRecipe     = 0.90
	targetOneDirVsSave = 1.05
	targetP99VsIdle    = 4.0
	targetMaxMs        = 20.0
	targetAnonKB       = 64 << 10
)

type options struct {
	size      int64
	valueSize int
	rounds    int
	tools     string
	backupJob string
	compare   []namedPath
	variants  []variant
	load      loadOptions
	idle      time.Duration
	memLimit  int64
	serve     bool
}

type namedPath struct{ name, path string }

// variant is the backup job run with extra settings.
type variant struct {
	name string
	env  []string
}

func main() {
	o := parseOptions()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// parseOptions reads the flags; a bad one ends the program with status 2.
func parseOptions() options {
	var o options
	var size, memLimit string
	flag.StringVar(&size, "size", "1GiB", "database size to fill etcd to (1GiB, 4GiB, 500MB...)")
	flag.IntVar(&o.valueSize, "value-size", 8<<10, "bytes per value when filling")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds; each runs every contender once")
	flag.StringVar(&o.tools, "tools", ".tools", "directory with bin/etcd, bin/etcdctl, bin/etcdutl; data goes to its bench-data/")
	flag.StringVar(&o.backupJob, "backup-job", "bin/backup-job", "the backup job binary")
	flag.Func("compare", "NAME=PATH: another backup-job binary to measure in the same run (repeatable), e.g. a build from before a change", func(v string) error {
		name, path, ok := strings.Cut(v, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("want NAME=PATH, got %q", v)
		}
		o.compare = append(o.compare, namedPath{name, path})
		return nil
	})
	flag.Func("variant", "NAME=VAR=VALUE[,VAR=VALUE]: the backup job with extra settings (repeatable), e.g. idle-io=ETCD_BACKUP_IO_PRIORITY=idle", func(v string) error {
		name, env, ok := strings.Cut(v, "=")
		if !ok || name == "" || !strings.Contains(env, "=") {
			return fmt.Errorf("want NAME=VAR=VALUE[,VAR=VALUE], got %q", v)
		}
		o.variants = append(o.variants, variant{name: name, env: strings.Split(env, ",")})
		return nil
	})
	flag.IntVar(&o.load.rate, "load-rate", 200, "puts per second sent to etcd while each contender runs; 0 for none")
	flag.IntVar(&o.load.valueSize, "load-value", 1024, "bytes per put of the load")
	flag.IntVar(&o.load.keys, "load-keys", 1000, "keys the load cycles over")
	flag.DurationVar(&o.idle, "idle", 5*time.Second, "how long the load runs alone each round, for the idle baseline")
	flag.StringVar(&memLimit, "memory-limit", "512MiB", "memory limit of the extra backup-job row run inside a memory cgroup (root only); 0 for none")
	flag.BoolVar(&o.serve, "serve", false, "only start the filled etcd, print how to reach it, and wait for Ctrl-C (for profiling)")
	flag.Parse()
	n, err := humanize.ParseBytes(size)
	if err != nil || n < 1<<20 {
		fmt.Fprintf(os.Stderr, "bench: -size %q: want a size of at least 1MiB such as 1GiB or 4GiB\n", size)
		os.Exit(2)
	}
	o.size = int64(n)
	if memLimit != "0" {
		n, err := humanize.ParseBytes(memLimit)
		if err != nil || n < 16<<20 {
			fmt.Fprintf(os.Stderr, "bench: -memory-limit %q: want 0 or a size of at least 16MiB such as 512MiB\n", memLimit)
			os.Exit(2)
		}
		o.memLimit = int64(n)
	}
	if o.rounds < 1 || o.valueSize < 1 || o.load.rate < 0 || o.load.valueSize < 1 || o.load.keys < 1 || o.idle <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -rounds, -value-size, -load-value, -load-keys and -idle must be positive, -load-rate at least 0")
		os.Exit(2)
	}
	return o
}

// kind is what a contender is, for the ratios in the report.
type kind int

const (
	kindIdle   kind = iota // nothing but the load: the baseline
	kindSave               // etcdctl snapshot save
	kindRecipe             // the usual recipe
	kindJob                // a backup-job binary writing two directories
	kindJobOne             // the backup job writing one directory
)

// contender is one way of taking a backup.
type contender struct {
	name     string
	kind     kind
	memLimit int64 // run inside a memory cgroup of this limit
	steps    func(out string) []step
}

// result is one run of one contender.
type result struct {
	seconds float64
	cpu     float64
	peakKB  int64
	steps   []stepResult
	lat     latency
	// cached and dirty are the page cache bytes of the contender's files
	// after it exited.
	cached, dirty int64
	snapBytes     int64
	mem           *cgrouptest.Usage // inside a memory cgroup only
}

func bench(ctx context.Context, o options) error {
	jobs, err := resolvePaths(&o)
	if err != nil {
		return err
	}
	root := filepath.Join(o.tools, "bench-data")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	// A directory of its own for each run: several benchmarks may share
	// the tools directory. It keeps the logs (etcd.log, commands.log).
	runDir, err := os.MkdirTemp(root, "run-")
	if err != nil {
		return err
	}
	s, info, err := startFilled(ctx, o, root, runDir)
	if err != nil {
		return err
	}
	defer s.stop()
	if o.serve {
		fmt.Printf("ETCD_BACKUP_ENDPOINTS=%s\nETCD_BACKUP_CACERT=%s\nETCD_BACKUP_CERT=%s\nETCD_BACKUP_KEY=%s\netcd pid %d, db %s\n",
			s.endpoint, s.certs.CA, s.certs.ClientCert, s.certs.ClientKey, s.cmd.Process.Pid, s.dbPath())
		select {
		case <-ctx.Done():
		case err := <-s.exited:
			return fmt.Errorf("etcd exited: %v", err)
		}
		return nil
	}
	cli, err := s.client()
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := describe(ctx, o, s, cli, info); err != nil {
		return err
	}
	contenders := makeContenders(o, jobs, s)
	before := cpuNow(s.cmd.Process.Pid)
	results, dropped, err := rounds(ctx, o, s, cli, contenders, runDir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(runDir, "out")); err != nil {
		return err
	}
	other := before.otherSince(cpuNow(s.cmd.Process.Pid), results)
	report(os.Stdout, contenders, results, dropped, loadavg())
	fmt.Printf("CPU of everything else during the rounds (other processes, kernel threads): %.2f cores on average\n", other)
	fmt.Printf("logs: %s\n", runDir)
	return nil
}

// resolvePaths makes the paths in o absolute, checks that the tools and
// binaries exist, and returns the backup-job binaries to measure.
func resolvePaths(o *options) ([]namedPath, error) {
	var err error
	if o.tools, err = filepath.Abs(o.tools); err != nil {
		return nil, err
	}
	if o.backupJob, err = filepath.Abs(o.backupJob); err != nil {
		return nil, err
	}
	jobs := append([]namedPath{{"backup-job", o.backupJob}}, o.compare...)
	for i := range jobs[1:] {
		jobs[i+1].name = "backup-job " + jobs[i+1].name
		if jobs[i+1].path, err = filepath.Abs(jobs[i+1].path); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"etcd", "etcdctl", "etcdutl"} {
		if _, err := os.Stat(o.bin(name)); err != nil {
			return nil, fmt.Errorf("missing %s (make bench builds it): %w", o.bin(name), err)
		}
	}
	for _, j := range jobs {
		if _, err := os.Stat(j.path); err != nil {
			return nil, fmt.Errorf("missing %s: %w", j.path, err)
		}
	}
	return jobs, nil
}

// bin is the path of one of etcd's binaries in the tools directory.
func (o options) bin(name string) string { return filepath.Join(o.tools, "bin", name) }

// startFilled starts etcd on a data directory filled to o.size, filling
// one first (kept under root for the next run) when there is none.
func startFilled(ctx context.Context, o options, root, runDir string) (*server, fillInfo, error) {
	dataDir := filepath.Join(root, fmt.Sprintf("%d-v%d", o.size, o.valueSize))
	infoPath := dataDir + ".json"
	info, filled := readFillInfo(infoPath)
	need := 2*o.size + 1<<30 // two copies at a time, and room to spare
	if !filled {
		need += 3 * o.size // database and WAL
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(root, &sfs); err == nil {
		free := int64(sfs.Bavail) * sfs.Bsize
		if free < need {
			return nil, info, fmt.Errorf("%s has %s free; a %s benchmark needs about %s", root, humanize.IBytes(uint64(free)), humanize.IBytes(uint64(o.size)), humanize.IBytes(uint64(need)))
		}
	}
	certs, err := etcdtest.GenerateCerts(filepath.Join(runDir, "pki"))
	if err != nil {
		return nil, info, fmt.Errorf("generating certificates: %w", err)
	}
	quota := max(2*o.size, o.size+2<<30)
	etcdLog := filepath.Join(runDir, "etcd.log")
	if !filled {
		fmt.Printf("filling etcd to %s with %d-byte values in %s (kept for the next run)\n", humanize.IBytes(uint64(o.size)), o.valueSize, dataDir)
		_ = os.Remove(infoPath)
		if err := os.RemoveAll(dataDir); err != nil {
			return nil, info, err
		}
		s, err := startEtcd(ctx, o.bin("etcd"), dataDir, etcdLog, certs, quota, true)
		if err != nil {
			return nil, info, err
		}
		info, err = fill(ctx, s, o.size, o.valueSize)
		s.stop()
		if err != nil {
			return nil, info, err
		}
		unix.Sync()
		b, _ := json.Marshal(info)
		if err := os.WriteFile(infoPath, b, 0o600); err != nil {
			return nil, info, err
		}
		fmt.Printf("filled in %.0fs\n", info.Seconds)
	}
	s, err := startEtcd(ctx, o.bin("etcd"), dataDir, etcdLog, certs, quota, false)
	return s, info, err
}

// describe prints what the benchmark runs against.
func describe(ctx context.Context, o options, s *server, cli *clientv3.Client, info fillInfo) error {
	dbSize, err := s.dbSize(ctx, cli)
	if err != nil {
		return err
	}
	resp, err := cli.Get(ctx, "", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("counting keys: %w", err)
	}
	fmt.Printf("etcd %s %s: db %s (%d bytes), %d keys of %d-byte values; %d rounds; load %s\n",
		s.version, s.endpoint, humanize.IBytes(uint64(dbSize)), dbSize, resp.Count, info.ValueSize, o.rounds, loadavg())
	if o.load.rate > 0 {
		fmt.Printf("write load while each contender runs: %d puts/s of %d bytes over %d keys; idle baseline %s per round\n", o.load.rate, o.load.valueSize, o.load.keys, o.idle)
	}
	return nil
}

// rounds runs every contender once per round, a different one first each
// round. It reports whether the page cache could be dropped every time.
func rounds(ctx context.Context, o options, s *server, cli *clientv3.Client, contenders []contender, runDir string) ([][]result, bool, error) {
	results := make([][]result, len(contenders))
	dropped := true
	checked := false
	for round := range o.rounds {
		for k := range contenders {
			i := (k + round) % len(contenders)
			c := contenders[i]
			r, ok, err := runOnce(ctx, o, s, cli, c, runDir)
			if err != nil {
				return nil, false, fmt.Errorf("round %d, %s: %w", round+1, c.name, err)
			}
			dropped = dropped && ok
			results[i] = append(results[i], r)
			fmt.Printf("round %d  %-26s %s\n", round+1, c.name, roundLine(c, r))
			if !checked && c.kind == kindJob {
				if err := crossCheck(o.bin("etcdutl"), r); err != nil {
					return nil, false, err
				}
				checked = true
			}
		}
	}
	return results, dropped, nil
}

// makeContenders lists the contenders: the idle baseline, etcdctl, the
// usual recipe, each backup-job binary with two directories, the backup
// job with one directory, its variants, and, when asked, the backup job
// inside a memory cgroup.
func makeContenders(o options, jobs []namedPath, s *server) []contender {
	certs, bin := s.certs, o.bin
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	tls := []string{"--endpoints=" + s.endpoint, "--cacert=" + certs.CA, "--cert=" + certs.ClientCert, "--key=" + certs.ClientKey}
	save := func(file string) step {
		return step{name: "save", args: append(append([]string{bin("etcdctl")}, tls...), "snapshot", "save", file), env: base}
	}
	jobEnv := append(slices.Clone(base),
		"ETCD_BACKUP_ENDPOINTS="+s.endpoint, "ETCD_BACKUP_CACERT="+certs.CA,
		"ETCD_BACKUP_CERT="+certs.ClientCert, "ETCD_BACKUP_KEY="+certs.ClientKey)
	job := func(path string, dirs []string, extra []string) func(out string) []step {
		return func(out string) []step {
			var dests []string
			for _, d := range dirs {
				dests = append(dests, filepath.Join(out, d))
			}
			env := append(slices.Clone(jobEnv), "ETCD_BACKUP_DESTINATIONS="+strings.Join(dests, ","), "ETCD_BACKUP_WORK_DIR="+out)
			return []step{{name: "backup-job", args: []string{path}, env: append(env, extra...)}}
		}
	}
	idleSecs := strconv.FormatFloat(o.idle.Seconds(), 'f', -1, 64)
	cs := []contender{
		{name: "idle (load only)", kind: kindIdle, steps: func(string) []step {
			return []step{{name: "idle", args: []string{"sleep", idleSecs}, env: base}}
		}},
		{name: "etcdctl snapshot save", kind: kindSave, steps: func(out string) []step {
			return []step{save(filepath.Join(out, "a", "snapshot.db"))}
		}},
		{name: "usual recipe", kind: kindRecipe, steps: func(out string) []step {
			first, second := filepath.Join(out, "r1", "snapshot.db"), filepath.Join(out, "r2", "snapshot.db")
			return []step{
				save(first),
				{name: "cp", args: []string{"cp", first, second}, env: base},
				// cp does not fsync; etcdctl and backup-job do. The copy is
				// synced so that every contender ends with durable files.
				{name: "sync", args: []string{"sync", second}, env: base},
				{name: "status", args: []string{bin("etcdutl"), "snapshot", "status", second, "-w", "json"}, env: base},
			}
		}},
	}
	if o.load.rate == 0 {
		cs = cs[1:]
	}
	for _, j := range jobs {
		cs = append(cs, contender{name: j.name, kind: kindJob, steps: job(j.path, []string{"j1", "j2"}, nil)})
	}
	cs = append(cs, contender{name: "backup-job, one dir", kind: kindJobOne, steps: job(o.backupJob, []string{"j1"}, nil)})
	for _, v := range o.variants {
		cs = append(cs, contender{name: "backup-job " + v.name, kind: kindJob, steps: job(o.backupJob, []string{"j1", "j2"}, v.env)})
	}
	if o.memLimit > 0 {
		if _, _, err := cgrouptest.Version(); err != nil || os.Geteuid() != 0 {
			fmt.Printf("no memory-limit row: needs root and a cgroup memory controller (%v)\n", err)
		} else {
			cs = append(cs, contender{name: "backup-job, limit " + humanize.IBytes(uint64(o.memLimit)), kind: kindJob, memLimit: o.memLimit,
				steps: job(o.backupJob, []string{"j1", "j2"}, nil)})
		}
	}
	return cs
}

// runOnce runs one contender from a settled start, under the write load,
// and looks at what it left behind. It reports whether the page cache
// could be dropped before.
func runOnce(ctx context.Context, o options, s *server, cli *clientv3.Client, c contender, runDir string) (result, bool, error) {
	out := filepath.Join(runDir, "out")
	if err := os.RemoveAll(out); err != nil {
		return result{}, false, err
	}
	for _, d := range []string{"a", "r1", "r2"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o700); err != nil {
			return result{}, false, err
		}
	}
	if err := compact(ctx, cli); err != nil {
		return result{}, false, err
	}
	dropped, err := settle(s.dbPath())
	if err != nil {
		return result{}, false, fmt.Errorf("preparing the page cache: %w", err)
	}
	steps := c.steps(out)
	var group *cgrouptest.Group
	if c.memLimit > 0 {
		if group, err = cgrouptest.New("etcd-backup-bench", c.memLimit); err != nil {
			return result{}, dropped, err
		}
		defer group.Remove()
		steps[0].args = group.Wrap(steps[0].args)
	}
	var load *writeLoad
	if o.load.rate > 0 {
		load = startLoad(ctx, cli, o.load)
	}
	var watch func() (cgrouptest.Usage, error)
	if group != nil {
		watch = group.Watch()
	}
	stepResults, peak, err := run(ctx, filepath.Join(runDir, "commands.log"), steps)
	r := result{peakKB: peak, steps: stepResults}
	if load != nil {
		r.lat = summarise(load.stopLoad())
	}
	if watch != nil {
		u, werr := watch()
		r.mem = &u
		err = errors.Join(err, werr)
	}
	if err != nil {
		return r, dropped, err
	}
	for _, st := range stepResults {
		r.seconds += st.seconds
		r.cpu += st.cpu
	}
	if c.kind == kindIdle {
		return r, dropped, nil
	}
	if r.cached, r.dirty, err = cacheLeft(out); err != nil {
		return r, dropped, err
	}
	r.snapBytes, err = checkOutputs(out)
	return r, dropped, err
}

// compact drops the history the write load left, so that the database
// does not grow from round to round.
func compact(ctx context.Context, cli *clientv3.Client) error {
	resp, err := cli.Get(ctx, "/registry/bench-load/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("reading the revision: %w", err)
	}
	if resp.Header.Revision < 2 {
		return nil
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil && !strings.Contains(err.Error(), "compacted") {
		return fmt.Errorf("compacting: %w", err)
	}
	return nil
}

// checkOutputs makes sure a contender left complete snapshot files, no
// temporary ones, all of one size, which it returns.
func checkOutputs(out string) (int64, error) {
	var size int64
	for _, d := range []string{"a", "r1", "r2", "j1", "j2"} {
		entries, err := os.ReadDir(filepath.Join(out, d))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), ".part") {
				return 0, fmt.Errorf("temporary file %s left in %s", e.Name(), d)
			}
			fi, err := e.Info()
			if err != nil {
				return 0, err
			}
			if size != 0 && fi.Size() != size {
				return 0, fmt.Errorf("%s/%s is %d bytes, another copy %d", d, e.Name(), fi.Size(), size)
			}
			size = fi.Size()
		}
	}
	if size == 0 {
		return 0, errors.New("no snapshot file written")
	}
	return size, nil
}

// crossCheck compares the figures the backup job reported with those of
// etcdutl snapshot status for the file it wrote.
func crossCheck(etcdutl string, job result) error {
	sum, err := summary(job)
	if err != nil {
		return err
	}
	cmd := exec.Command(etcdutl, "snapshot", "status", sum.path(), "-w", "json")
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("etcdutl snapshot status %s: %w", sum.path(), err)
	}
	var ut struct {
		Hash      uint32 `json:"hash"`
		Revision  int64  `json:"revision"`
		TotalKey  int    `json:"totalKey"`
		TotalSize int64  `json:"totalSize"`
	}
	if err := json.Unmarshal(b, &ut); err != nil {
		return fmt.Errorf("reading etcdutl snapshot status: %w", err)
	}
	if sum.Snapshot.Hash != ut.Hash || sum.Snapshot.Revision != ut.Revision || sum.Snapshot.TotalKey != ut.TotalKey || sum.Snapshot.TotalSize != ut.TotalSize {
		return fmt.Errorf("backup-job reports hash %d revision %d keys %d size %d, etcdutl hash %d revision %d keys %d size %d",
			sum.Snapshot.Hash, sum.Snapshot.Revision, sum.Snapshot.TotalKey, sum.Snapshot.TotalSize, ut.Hash, ut.Revision, ut.TotalKey, ut.TotalSize)
	}
	fmt.Printf("figures agree with etcdutl snapshot status: hash %d, revision %d, %d keys, size %d\n", ut.Hash, ut.Revision, ut.TotalKey, ut.TotalSize)
	return nil
}

type jobSummary struct {
	Status       string             `json:"status"`
	Error        string             `json:"error"`
	Seconds      map[string]float64 `json:"seconds"`
	Destinations []struct {
		Destination string `json:"destination"`
	} `json:"destinations"`
	Snapshot *struct {
		Name      string `json:"name"`
		Size      int64  `json:"size"`
		Hash      uint32 `json:"hash"`
		Revision  int64  `json:"revision"`
		TotalKey  int    `json:"total_keys"`
		TotalSize int64  `json:"total_size"`
	} `json:"snapshot"`
}

// path is the snapshot file in the first destination.
func (s jobSummary) path() string {
	if len(s.Destinations) == 0 || s.Snapshot == nil {
		return ""
	}
	return filepath.Join(s.Destinations[0].Destination, s.Snapshot.Name)
}

func summary(r result) (jobSummary, error) {
	var s jobSummary
	out := strings.TrimSpace(string(r.steps[0].stdout))
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return s, fmt.Errorf("reading the backup job's summary %q: %w", out, err)
	}
	if s.Status != "ok" || s.Snapshot == nil {
		return s, fmt.Errorf("backup job: status %q: %s", s.Status, s.Error)
	}
	return s, nil
}

// cpuSample is the machine's busy CPU time and the part of it that the
// benchmark itself and the etcd server used, in seconds.
type cpuSample struct {
	at               time.Time
	busy, self, etcd float64
}

func cpuNow(etcdPid int) cpuSample {
	c := cpuSample{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu  user nice system idle iowait irq softirq steal ...
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for i, v := range f[1:] {
			n, _ := strconv.ParseFloat(v, 64)
			if i != 3 && i != 4 { // idle and iowait are not busy
				c.busy += n / 100 // USER_HZ
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", etcdPid)); err == nil {
		s := string(b)
		// fields after the command name, which is in parentheses: utime and stime are the 12th and 13th
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			st, _ := strconv.ParseFloat(f[12], 64)
			c.etcd = (u + st) / 100
		}
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		c.self = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return c
}

// otherSince is the average number of cores busy with anything but the
// benchmark, etcd and the contenders between c and now.
func (c cpuSample) otherSince(now cpuSample, results [][]result) float64 {
	used := (now.self - c.self) + (now.etcd - c.etcd)
	for _, rs := range results {
		for _, r := range rs {
			used += r.cpu
		}
	}
	return max(0, now.busy-c.busy-used) / now.at.Sub(c.at).Seconds()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
