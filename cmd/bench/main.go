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
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
)

// Targets the backup job must meet against the other contenders: time
// relative to etcdctl and to the usual recipe, and peak anonymous memory.
const (
	targetVsSave   = 1.15
	targetVsRecipe = 0.90
	targetAnonKB   = 64 << 10
)

type options struct {
	size      int64
	valueSize int
	rounds    int
	tools     string
	backupJob string
	compare   []namedPath
	serve     bool
}

type namedPath struct{ name, path string }

func main() {
	var o options
	var size string
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
	flag.BoolVar(&o.serve, "serve", false, "only start the filled etcd, print how to reach it, and wait for Ctrl-C (for profiling)")
	flag.Parse()
	n, err := humanize.ParseBytes(size)
	if err != nil || n < 1<<20 {
		fmt.Fprintf(os.Stderr, "bench: -size %q: want a size of at least 1MiB such as 1GiB or 4GiB\n", size)
		os.Exit(2)
	}
	o.size = int64(n)
	if o.rounds < 1 || o.valueSize < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds and -value-size must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// contender is one way of taking a backup.
type contender struct {
	name  string
	job   bool // a backup-job binary, whose summary tells its steps
	steps func(out string) []step
}

// result is one run of one contender.
type result struct {
	seconds float64
	cpu     float64
	peakKB  int64
	steps   []stepResult
}

func bench(ctx context.Context, o options) error {
	jobs, err := resolvePaths(&o)
	if err != nil {
		return err
	}
	bin := func(name string) string { return filepath.Join(o.tools, "bin", name) }
	root := filepath.Join(o.tools, "bench-data")
	dataDir := filepath.Join(root, fmt.Sprintf("%d-v%d", o.size, o.valueSize))
	infoPath := dataDir + ".json"
	runDir := filepath.Join(root, "run")
	if o.serve {
		runDir = filepath.Join(root, "serve") // a benchmark may run meanwhile
	}
	// runDir keeps the logs of the last run (etcd.log, commands.log).
	if err := os.RemoveAll(runDir); err != nil {
		return err
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return err
	}
	info, filled := readFillInfo(infoPath)
	if err := checkSpace(root, o.size, filled); err != nil {
		return err
	}
	certs, err := etcdtest.GenerateCerts(filepath.Join(runDir, "pki"))
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	quota := max(2*o.size, o.size+2<<30)
	etcdLog := filepath.Join(runDir, "etcd.log")
	if !filled {
		if info, err = fillOnce(ctx, o, bin("etcd"), dataDir, infoPath, etcdLog, certs, quota); err != nil {
			return err
		}
	}
	s, err := startEtcd(ctx, bin("etcd"), dataDir, etcdLog, certs, quota, false)
	if err != nil {
		return err
	}
	defer s.stop()
	if o.serve {
		return serve(ctx, s, certs)
	}
	contenders := contendersFor(s, certs, jobs, bin)
	if err := describeEtcd(ctx, s, info, o.rounds); err != nil {
		return err
	}
	return runRounds(ctx, o, s, runDir, contenders)
}

// resolvePaths makes every path of o absolute, checks that the tools and
// jobs are there, and returns the jobs to compare.
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
	for _, b := range []string{"etcd", "etcdctl", "etcdutl"} {
		p := filepath.Join(o.tools, "bin", b)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("missing %s (make bench builds it): %w", p, err)
		}
	}
	for _, j := range jobs {
		if _, err := os.Stat(j.path); err != nil {
			return nil, fmt.Errorf("missing %s: %w", j.path, err)
		}
	}
	return jobs, nil
}

// checkSpace refuses to start when root cannot hold the database (unless it
// is filled already) and two snapshot copies at a time, with room to spare.
func checkSpace(root string, size int64, filled bool) error {
	need := 2*size + 1<<30
	if !filled {
		need += 3 * size // database and WAL
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(root, &sfs); err == nil {
		free := int64(sfs.Bavail) * sfs.Bsize
		if free < need {
			return fmt.Errorf("%s has %s free; a %s benchmark needs about %s", root, humanize.IBytes(uint64(free)), humanize.IBytes(uint64(size)), humanize.IBytes(uint64(need)))
		}
	}
	return nil
}

// fillOnce fills a fresh etcd in dataDir to o.size and records it in
// infoPath, so that later runs of the same size reuse the data.
func fillOnce(ctx context.Context, o options, etcdBin, dataDir, infoPath, etcdLog string, certs etcdtest.Certs, quota int64) (fillInfo, error) {
	fmt.Printf("filling etcd to %s with %d-byte values in %s (kept for the next run)\n", humanize.IBytes(uint64(o.size)), o.valueSize, dataDir)
	_ = os.Remove(infoPath)
	if err := os.RemoveAll(dataDir); err != nil {
		return fillInfo{}, err
	}
	s, err := startEtcd(ctx, etcdBin, dataDir, etcdLog, certs, quota, true)
	if err != nil {
		return fillInfo{}, err
	}
	info, err := fill(ctx, s, o.size, o.valueSize)
	s.stop()
	if err != nil {
		return fillInfo{}, err
	}
	unix.Sync()
	b, _ := json.Marshal(info)
	if err := os.WriteFile(infoPath, b, 0o600); err != nil {
		return fillInfo{}, err
	}
	fmt.Printf("filled in %.0fs\n", info.Seconds)
	return info, nil
}

// serve prints how to reach etcd and keeps it running until ctx ends.
func serve(ctx context.Context, s *server, certs etcdtest.Certs) error {
	fmt.Printf("ETCD_BACKUP_ENDPOINTS=%s\nETCD_BACKUP_CACERT=%s\nETCD_BACKUP_CERT=%s\nETCD_BACKUP_KEY=%s\netcd pid %d, db %s\n",
		s.endpoint, certs.CA, certs.ClientCert, certs.ClientKey, s.cmd.Process.Pid, s.dbPath())
	select {
	case <-ctx.Done():
	case err := <-s.exited:
		return fmt.Errorf("etcd exited: %v", err)
	}
	return nil
}

// contendersFor are etcdctl, the usual recipe and every backup job, in the
// order results are reported.
func contendersFor(s *server, certs etcdtest.Certs, jobs []namedPath, bin func(string) string) []contender {
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	tls := []string{"--endpoints=" + s.endpoint, "--cacert=" + certs.CA, "--cert=" + certs.ClientCert, "--key=" + certs.ClientKey}
	save := func(file string) step {
		return step{name: "save", args: append(append([]string{bin("etcdctl")}, tls...), "snapshot", "save", file), env: base}
	}
	contenders := []contender{
		{name: "etcdctl snapshot save", steps: func(out string) []step {
			return []step{save(filepath.Join(out, "a", "snapshot.db"))}
		}},
		{name: "usual recipe", steps: func(out string) []step {
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
	for _, j := range jobs {
		contenders = append(contenders, contender{name: j.name, job: true, steps: func(out string) []step {
			return []step{{name: "backup-job", args: []string{j.path}, env: append(slices.Clone(base),
				"ETCD_BACKUP_ENDPOINTS="+s.endpoint, "ETCD_BACKUP_CACERT="+certs.CA,
				"ETCD_BACKUP_CERT="+certs.ClientCert, "ETCD_BACKUP_KEY="+certs.ClientKey,
				"ETCD_BACKUP_DESTINATIONS="+filepath.Join(out, "j1")+","+filepath.Join(out, "j2"),
				"ETCD_BACKUP_WORK_DIR="+out)}}
		}})
	}
	return contenders
}

// describeEtcd prints what is benchmarked: the database and its keys.
func describeEtcd(ctx context.Context, s *server, info fillInfo, rounds int) error {
	cli, err := s.client()
	if err != nil {
		return err
	}
	dbSize, err := s.dbSize(ctx, cli)
	var keys int64
	if err == nil {
		var resp *clientv3.GetResponse
		resp, err = cli.Get(ctx, "", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if resp != nil {
			keys = resp.Count
		}
	}
	cli.Close()
	if err != nil {
		return err
	}
	fmt.Printf("etcd %s %s: db %s (%d bytes), %d keys of %d-byte values; %d rounds; load %s\n",
		s.version, s.endpoint, humanize.IBytes(uint64(dbSize)), dbSize, keys, info.ValueSize, rounds, loadavg())
	return nil
}

// rounds holds what the rounds have measured so far.
type rounds struct {
	results   [][]result
	snapBytes int64
	dropped   bool // the page cache could be dropped before every run
	checked   bool // the recipe and the job were cross-checked
}

// runRounds runs every contender o.rounds times, a different one first each
// round, and reports.
func runRounds(ctx context.Context, o options, s *server, runDir string, contenders []contender) error {
	rs := &rounds{results: make([][]result, len(contenders)), dropped: true}
	before := cpuNow(s.cmd.Process.Pid)
	for round := range o.rounds {
		for k := range contenders {
			i := (k + round) % len(contenders)
			if err := rs.runOne(ctx, s, runDir, round, i, contenders[i]); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(runDir, "out")); err != nil {
		return err
	}
	other := before.otherSince(cpuNow(s.cmd.Process.Pid), rs.results)
	report(contenders, rs.results, rs.snapBytes, rs.dropped)
	fmt.Printf("CPU of everything else during the rounds (other processes, kernel threads): %.2f cores on average\n", other)
	fmt.Printf("logs: %s\n", runDir)
	return nil
}

// runOne runs contender i once on a settled page cache and checks what it
// wrote.
func (rs *rounds) runOne(ctx context.Context, s *server, runDir string, round, i int, c contender) error {
	out := filepath.Join(runDir, "out")
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	for _, d := range []string{"a", "r1", "r2"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o700); err != nil {
			return err
		}
	}
	ok, err := settle(s.dbPath())
	if err != nil {
		return fmt.Errorf("preparing the page cache: %w", err)
	}
	rs.dropped = rs.dropped && ok
	steps, peak, err := run(ctx, filepath.Join(runDir, "commands.log"), c.steps(out))
	if err != nil {
		return fmt.Errorf("round %d, %s: %w", round+1, c.name, err)
	}
	r := result{peakKB: peak, steps: steps}
	for _, st := range steps {
		r.seconds += st.seconds
		r.cpu += st.cpu
	}
	rs.results[i] = append(rs.results[i], r)
	fmt.Printf("round %d  %-22s %7.2fs  cpu %6.2fs  peak RssAnon %6.1f MiB  %s\n", round+1, c.name, r.seconds, r.cpu, float64(peak)/1024, stepLine(steps))
	size, err := checkOutputs(out)
	if err != nil {
		return fmt.Errorf("round %d, %s: %w", round+1, c.name, err)
	}
	if rs.snapBytes != 0 && size != rs.snapBytes {
		return fmt.Errorf("round %d, %s: snapshot of %d bytes, another run had %d", round+1, c.name, size, rs.snapBytes)
	}
	rs.snapBytes = size
	if !rs.checked && len(rs.results[1]) > 0 && len(rs.results[2]) > 0 {
		if err := crossCheck(rs.results[1][0], rs.results[2][0]); err != nil {
			return err
		}
		rs.checked = true
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

// crossCheck compares the figures of etcdutl snapshot status with the
// ones the backup job reports for the same database.
func crossCheck(recipe, job result) error {
	var ut struct {
		Hash      uint32 `json:"hash"`
		Revision  int64  `json:"revision"`
		TotalKey  int    `json:"totalKey"`
		TotalSize int64  `json:"totalSize"`
	}
	if err := json.Unmarshal(recipe.steps[len(recipe.steps)-1].stdout, &ut); err != nil {
		return fmt.Errorf("reading etcdutl snapshot status: %w", err)
	}
	sum, err := summary(job)
	if err != nil {
		return err
	}
	if sum.Snapshot.Hash != ut.Hash || sum.Snapshot.Revision != ut.Revision || sum.Snapshot.TotalKey != ut.TotalKey || sum.Snapshot.TotalSize != ut.TotalSize {
		return fmt.Errorf("backup-job reports hash %d revision %d keys %d size %d, etcdutl hash %d revision %d keys %d size %d",
			sum.Snapshot.Hash, sum.Snapshot.Revision, sum.Snapshot.TotalKey, sum.Snapshot.TotalSize, ut.Hash, ut.Revision, ut.TotalKey, ut.TotalSize)
	}
	fmt.Printf("figures agree with etcdutl snapshot status: hash %d, revision %d, %d keys, size %d\n", ut.Hash, ut.Revision, ut.TotalKey, ut.TotalSize)
	return nil
}

type jobSummary struct {
	Status   string             `json:"status"`
	Error    string             `json:"error"`
	Seconds  map[string]float64 `json:"seconds"`
	Snapshot *struct {
		Size      int64  `json:"size"`
		Hash      uint32 `json:"hash"`
		Revision  int64  `json:"revision"`
		TotalKey  int    `json:"total_keys"`
		TotalSize int64  `json:"total_size"`
	} `json:"snapshot"`
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

func stepLine(steps []stepResult) string {
	if len(steps) == 1 {
		if s, err := summary(result{steps: steps}); err == nil {
			return fmt.Sprintf("(snapshot %.2f verify %.2f copy %.2f)", s.Seconds["snapshot"], s.Seconds["verify"], s.Seconds["copy"])
		}
		return ""
	}
	var parts []string
	for _, s := range steps {
		parts = append(parts, fmt.Sprintf("%s %.2f", s.name, s.seconds))
	}
	return "(" + strings.Join(parts, " ") + ")"
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func report(cs []contender, results [][]result, snapBytes int64, dropped bool) {
	fmt.Println()
	fmt.Printf("snapshot %d bytes (%s); %d rounds; page cache %s; load %s\n", snapBytes, humanize.IBytes(uint64(snapBytes)), len(results[0]),
		map[bool]string{true: "dropped before each run (then the member's db read back in)", false: "NOT dropped (no permission): only synced"}[dropped], loadavg())
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "contender\tmedian s\tmin s\tmax s\tMB/s\tCPU s\tpeak RssAnon MiB\t")
	med := make([]float64, len(cs))
	peaks := make([]int64, len(cs))
	for i, c := range cs {
		var secs, cpus []float64
		for _, r := range results[i] {
			secs = append(secs, r.seconds)
			cpus = append(cpus, r.cpu)
			peaks[i] = max(peaks[i], r.peakKB)
		}
		med[i] = median(secs)
		fmt.Fprintf(w, "%s\t%.2f\t%.2f\t%.2f\t%.0f\t%.2f\t%.1f\t\n", c.name, med[i], slices.Min(secs), slices.Max(secs),
			float64(snapBytes)/1e6/med[i], median(cpus), float64(peaks[i])/1024)
	}
	_ = w.Flush()
	// Median of each step, to show where the time goes.
	for i, c := range cs {
		steps := map[string][]float64{}
		var order []string
		for _, r := range results[i] {
			if c.job {
				if s, err := summary(r); err == nil {
					for _, k := range []string{"snapshot", "verify", "copy", "prune"} {
						if _, seen := steps[k]; !seen {
							order = append(order, k)
						}
						steps[k] = append(steps[k], s.Seconds[k])
					}
				}
				continue
			}
			for _, st := range r.steps {
				if _, seen := steps[st.name]; !seen {
					order = append(order, st.name)
				}
				steps[st.name] = append(steps[st.name], st.seconds)
			}
		}
		var parts []string
		for _, k := range order {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, median(steps[k])))
		}
		fmt.Printf("  %s, median per step (s): %s\n", c.name, strings.Join(parts, ", "))
	}
	fmt.Println()
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	for i, c := range cs {
		if !c.job {
			continue
		}
		rs, rr := med[i]/med[0], med[i]/med[1]
		fmt.Printf("%s / etcdctl snapshot save: %.3f  (target <= %.2f: %s; median of per-round ratios %.3f)\n",
			c.name, rs, targetVsSave, verdict(rs <= targetVsSave), pairedRatio(results[i], results[0]))
		fmt.Printf("%s / usual recipe:          %.3f  (target <= %.2f: %s; median of per-round ratios %.3f)\n",
			c.name, rr, targetVsRecipe, verdict(rr <= targetVsRecipe), pairedRatio(results[i], results[1]))
	}
	for i, c := range cs {
		note := ""
		if c.job {
			note = fmt.Sprintf("  (target < %d MiB: %s)", targetAnonKB>>10, verdict(peaks[i] < targetAnonKB))
		}
		fmt.Printf("peak RssAnon %-22s %6.1f MiB%s\n", c.name+":", float64(peaks[i])/1024, note)
	}
}

// pairedRatio is the median over rounds of a's time over b's in the same
// round, which drifts in the machine's load affect less than a ratio of
// medians.
func pairedRatio(a, b []result) float64 {
	var rs []float64
	for r := range min(len(a), len(b)) {
		rs = append(rs, a[r].seconds/b[r].seconds)
	}
	return median(rs)
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
