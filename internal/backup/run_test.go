package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

var (
	cleanups []func()
	srvOnce  sync.Once
	srv      *etcdtest.Server
	srvErr   error
	srvDir   string
)

func TestMain(m *testing.M) {
	verify.RunChild()
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if srv != nil {
		srv.Close()
		os.RemoveAll(srvDir)
	}
	os.Exit(code)
}

// server is one real etcd (TLS, client certificates required) shared by
// the tests of this package, seeded with keys, deletions and overwrites.
func server(t *testing.T) *etcdtest.Server {
	t.Helper()
	srvOnce.Do(func() {
		srvDir, srvErr = os.MkdirTemp("", "backup-test-etcd-")
		if srvErr != nil {
			return
		}
		srv, srvErr = etcdtest.Start(srvDir, etcdtest.Options{})
		if srvErr != nil {
			return
		}
		ctx := context.Background()
		if srvErr = srv.Seed(ctx, "/registry/secrets/", 500, 300); srvErr != nil {
			return
		}
		cli, err := srv.Client()
		if err != nil {
			srvErr = err
			return
		}
		defer cli.Close()
		for i := 0; i < 20; i++ {
			if _, err := cli.Delete(ctx, fmt.Sprintf("/registry/secrets/%08d", i)); err != nil {
				srvErr = err
				return
			}
		}
	})
	if srvErr != nil {
		t.Fatal(srvErr)
	}
	return srv
}

// load builds the configuration the way the binary does, from the
// environment.
func load(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	testkit.ClearEnv(t, "ETCD_BACKUP_")
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Setenv("ETCD_BACKUP_WORK_DIR", t.TempDir())
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func envFor(s *etcdtest.Server, dests ...string) map[string]string {
	env := s.Env()
	env["ETCD_BACKUP_DESTINATIONS"] = strings.Join(dests, ",")
	env["ETCD_BACKUP_DIAL_TIMEOUT"] = "1s"
	return env
}

type result struct {
	sum     backup.Summary
	err     error
	stdout  string
	logs    string
	termLog string
}

func runBackup(t *testing.T, cfg config.Config, now time.Time) result {
	t.Helper()
	var out, logs bytes.Buffer
	term := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(term, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := backup.Run(context.Background(), cfg, backup.Deps{
		Log:            slog.New(slog.NewJSONHandler(&logs, nil)),
		Stdout:         &out,
		TerminationLog: term,
		Now:            func() time.Time { return now },
	})
	tl, rerr := os.ReadFile(term)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return result{sum: sum, err: err, stdout: out.String(), logs: logs.String(), termLog: string(tl)}
}

// listing is a directory's names with size and modification time, to prove
// that a failed run changed nothing.
func listing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fmt.Sprintf("%d %d %v", info.Size(), info.ModTime().UnixNano(), info.Mode())
	}
	return out
}

// oldSnapshots writes files named like snapshots with the given ages (days).
func oldSnapshots(t *testing.T, dir string, now time.Time, ages ...int) []string {
	t.Helper()
	var names []string
	for _, d := range ages {
		ts := now.Add(-time.Duration(d) * 24 * time.Hour)
		name := snapname.Format("etcd-snapshot-", ts, snapname.Plain)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("old snapshot"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, ts, ts); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

func noTemporaries(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), ".partial-") {
				t.Errorf("temporary file left behind: %s", filepath.Join(d, e.Name()))
			}
		}
	}
}

func TestFullRun(t *testing.T) {
	s := server(t)
	host, pvc, bucketDir := t.TempDir(), t.TempDir(), t.TempDir()
	now := time.Now()
	bucket := "file://" + bucketDir
	res := runBackup(t, load(t, envFor(s, host, pvc, bucket)), now)
	if res.err != nil {
		t.Fatalf("run failed: %v\nlogs:\n%s", res.err, res.logs)
	}
	name := snapname.Format("etcd-snapshot-", now, snapname.Plain)

	// one summary line, the same in the termination log
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout has %d lines, want 1 summary line:\n%s", len(lines), res.stdout)
	}
	var sum backup.Summary
	if err := json.Unmarshal([]byte(lines[0]), &sum); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(res.termLog) != lines[0] {
		t.Errorf("termination log differs from the summary:\n%s\n%s", res.termLog, lines[0])
	}
	if sum.Status != "ok" || sum.Snapshot == nil || sum.Snapshot.Name != name || sum.Etcd == nil || sum.Etcd.Version == "" {
		t.Fatalf("summary: %s", lines[0])
	}
	for _, step := range []string{"snapshot", "verify", "copy", "prune"} {
		if _, ok := sum.Seconds[step]; !ok {
			t.Errorf("summary lacks the duration of %s", step)
		}
	}
	if len(sum.Destinations) != 3 {
		t.Fatalf("destinations: %+v", sum.Destinations)
	}
	for _, d := range sum.Destinations {
		if d.Status != "ok" {
			t.Errorf("destination %s: %s %s", d.Destination, d.Status, d.Error)
		}
	}

	// every copy is the same verified file, private to root
	var ref []byte
	for _, p := range []string{filepath.Join(host, name), filepath.Join(pvc, name), filepath.Join(bucketDir, name)} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("copy missing: %v", err)
		}
		if ref == nil {
			ref = b
		} else if !bytes.Equal(b, ref) {
			t.Errorf("%s differs from the first copy", p)
		}
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if p != filepath.Join(bucketDir, name) && info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, info.Mode().Perm())
		}
	}
	if got := fmt.Sprintf("%x", sha256.Sum256(ref)); got != sum.Snapshot.SHA256 || int64(len(ref)) != sum.Snapshot.Size {
		t.Errorf("summary sha256/size %s/%d, file %s/%d", sum.Snapshot.SHA256, sum.Snapshot.Size, got, len(ref))
	}
	want, err := etcdutl.NewV3(zap.NewNop()).Status(filepath.Join(host, name))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Snapshot.Hash != want.Hash || sum.Snapshot.Revision != want.Revision || sum.Snapshot.TotalKey != want.TotalKey || sum.Snapshot.TotalSize != want.TotalSize {
		t.Errorf("summary figures %+v differ from etcdutl %+v", sum.Snapshot.Status, want)
	}
	if sum.Snapshot.TotalKey != 480 {
		t.Errorf("total keys %d, want 480 (500 seeded, 20 deleted)", sum.Snapshot.TotalKey)
	}
	noTemporaries(t, host, pvc, bucketDir)

	// and it restores: etcd's own restore, a real etcd on the result, the
	// same keys as the source
	restoreAndCompare(t, s, filepath.Join(pvc, name))
}

func restoreAndCompare(t *testing.T, s *etcdtest.Server, snap string) {
	t.Helper()
	r, err := etcdtest.Restore(snap, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	restored, err := r.Client("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	source, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	ctx := context.Background()
	a, err := source.Get(ctx, "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	b, err := restored.Get(ctx, "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Kvs) == 0 || len(a.Kvs) != len(b.Kvs) {
		t.Fatalf("restored %d keys, source has %d", len(b.Kvs), len(a.Kvs))
	}
	for i := range a.Kvs {
		if !bytes.Equal(a.Kvs[i].Key, b.Kvs[i].Key) || !bytes.Equal(a.Kvs[i].Value, b.Kvs[i].Value) {
			t.Fatalf("key %d differs after restore: %q vs %q", i, a.Kvs[i].Key, b.Kvs[i].Key)
		}
	}
}

func TestPrune(t *testing.T) {
	s := server(t)
	now := time.Now()
	staleTemp := "." + snapname.Format("etcd-snapshot-", now.Add(-4*time.Hour), snapname.Plain) + ".partial-0123456789ab"
	liveTemp := "." + snapname.Format("etcd-snapshot-", now.Add(-time.Minute), snapname.Plain) + ".partial-ba9876543210"
	foreign := []string{
		"notes.txt", "etcd-snapshot-20200101T000000Z.db.bak", "etcd-snapshot-old.db",
		"etcd-snapshot-20200101T000000Z.db.partial-x", "other-20200101T000000Z.db",
	}
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		for _, f := range foreign {
			p := filepath.Join(dir, f)
			if err := os.WriteFile(p, []byte("not ours"), 0o600); err != nil {
				t.Fatal(err)
			}
			old := now.Add(-400 * 24 * time.Hour)
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(dir, snapname.Format("etcd-snapshot-", now.Add(-90*24*time.Hour), snapname.Plain)), 0o700); err != nil {
			t.Fatal(err) // a directory with a snapshot's name: never removed
		}
		// temporary files: one left by a run killed a minute ago, one
		// being written now (locked, as a live run holds it)
		for name, age := range map[string]time.Duration{staleTemp: time.Minute, liveTemp: 0} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
				t.Fatal(err)
			}
		}
		live, err := os.Open(filepath.Join(dir, liveTemp))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { live.Close() })
		if err := unix.Flock(int(live.Fd()), unix.LOCK_SH); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	cases := []struct {
		name     string
		ages     []int // days
		env      map[string]string
		wantGone []int // ages expected pruned
		wantDry  bool
	}{
		{name: "daily snapshots with defaults", ages: []int{1, 2, 3, 4, 6, 7, 30}, wantGone: []int{6, 7, 30}},
		{name: "keep-min when everything is old", ages: []int{10, 11, 12, 13}, wantGone: []int{12, 13}},
		{name: "keep-min 1 and retention 2d", ages: []int{1, 3, 5}, env: map[string]string{"ETCD_BACKUP_RETENTION": "2d", "ETCD_BACKUP_KEEP_MIN": "1"}, wantGone: []int{3, 5}},
		{name: "retention as a Go duration", ages: []int{1, 3, 5}, env: map[string]string{"ETCD_BACKUP_RETENTION": "60h", "ETCD_BACKUP_KEEP_MIN": "1"}, wantGone: []int{3, 5}},
		{name: "dry run deletes nothing", ages: []int{1, 2, 3, 4, 6, 7, 30}, env: map[string]string{"ETCD_BACKUP_DRY_RUN": "true"}, wantGone: []int{6, 7, 30}, wantDry: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := setup(t)
			olds := oldSnapshots(t, dir, now, c.ages...)
			env := envFor(s, dir)
			for k, v := range c.env {
				env[k] = v
			}
			res := runBackup(t, load(t, env), now)
			if res.err != nil {
				t.Fatalf("run: %v\n%s", res.err, res.logs)
			}
			gone := map[string]bool{}
			for _, a := range c.wantGone {
				for i, age := range c.ages {
					if age == a {
						gone[olds[i]] = true
					}
				}
			}
			for _, name := range olds {
				_, err := os.Stat(filepath.Join(dir, name))
				exists := err == nil
				if gone[name] && !c.wantDry && exists {
					t.Errorf("%s should have been pruned", name)
				}
				if (!gone[name] || c.wantDry) && !exists {
					t.Errorf("%s was deleted", name)
				}
			}
			for _, f := range foreign {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("foreign file %s touched: %v", f, err)
				}
			}
			var wantNames []string
			for n := range gone {
				wantNames = append(wantNames, n)
			}
			sort.Strings(wantNames)
			got := append([]string(nil), res.sum.Destinations[0].Pruned...)
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(wantNames, ",") {
				t.Errorf("summary pruned %v, want %v", got, wantNames)
			}
			if c.wantDry && !res.sum.DryRun {
				t.Error("summary does not say dry run")
			}
			if _, err := os.Stat(filepath.Join(dir, snapname.Format("etcd-snapshot-", now, snapname.Plain))); err != nil {
				t.Errorf("new snapshot missing: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, liveTemp)); err != nil {
				t.Errorf("a temporary file being written was removed: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, staleTemp)); (err == nil) != c.wantDry {
				t.Errorf("stale temporary file: exists=%v, want %v", err == nil, c.wantDry)
			}
		})
	}
}

func TestFailuresLeaveEverythingInPlace(t *testing.T) {
	s := server(t)
	now := time.Now()
	otherCA, err := etcdtest.GenerateCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"unreachable endpoint", map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1:1"}, "connection refused"},
		{"wrong CA", map[string]string{"ETCD_BACKUP_CACERT": otherCA.CA}, "certificate"},
		{"client certificate of another CA", map[string]string{"ETCD_BACKUP_CERT": otherCA.ClientCert, "ETCD_BACKUP_KEY": otherCA.ClientKey}, "certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host, pvc := t.TempDir(), t.TempDir()
			oldSnapshots(t, host, now, 10, 20, 30, 40)
			oldSnapshots(t, pvc, now, 50, 60)
			before := []map[string]string{listing(t, host), listing(t, pvc)}
			env := envFor(s, host, pvc)
			for k, v := range c.env {
				env[k] = v
			}
			start := time.Now()
			res := runBackup(t, load(t, env), now)
			if res.err == nil {
				t.Fatal("run succeeded")
			}
			if time.Since(start) > 20*time.Second {
				t.Errorf("failure took %v; the dial timeout is 1s", time.Since(start))
			}
			if res.sum.FailedStep != "snapshot" || !strings.Contains(res.sum.Error, c.wantErr) {
				t.Errorf("summary: step %q error %q, want snapshot / %q", res.sum.FailedStep, res.sum.Error, c.wantErr)
			}
			if res.stdout == "" || !strings.Contains(res.stdout, `"status":"failed"`) {
				t.Errorf("no failed summary line: %q", res.stdout)
			}
			after := []map[string]string{listing(t, host), listing(t, pvc)}
			for i := range before {
				if fmt.Sprint(before[i]) != fmt.Sprint(after[i]) {
					t.Errorf("destination changed by a failed run:\nbefore %v\nafter  %v", before[i], after[i])
				}
			}
		})
	}
}

func TestOneDestinationFails(t *testing.T) {
	s := server(t)
	now := time.Now()
	good := t.TempDir()
	olds := oldSnapshots(t, good, now, 1, 2, 3, 10)
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runBackup(t, load(t, envFor(s, notADir, good)), now)
	if res.err == nil {
		t.Fatal("run succeeded with a broken destination")
	}
	if res.sum.Snapshot == nil {
		t.Fatal("the snapshot itself should be reported")
	}
	byDest := map[string]backup.DestResult{}
	for _, d := range res.sum.Destinations {
		byDest[d.Destination] = d
	}
	if d := byDest[notADir]; d.Status != "failed" || !strings.Contains(d.Error, "not a directory") {
		t.Errorf("broken destination: %+v", d)
	}
	if d := byDest[good]; d.Status != "ok" || len(d.Pruned) != 1 || d.Pruned[0] != olds[3] {
		t.Errorf("good destination: %+v", d)
	}
	if _, err := os.Stat(filepath.Join(good, snapname.Format("etcd-snapshot-", now, snapname.Plain))); err != nil {
		t.Errorf("good destination lacks the snapshot: %v", err)
	}
}

func TestObjectStorageOnlyUsesScratch(t *testing.T) {
	s := server(t)
	bucketDir := t.TempDir()
	cfg := load(t, envFor(s, "file://"+bucketDir))
	res := runBackup(t, cfg, time.Now())
	if res.err != nil {
		t.Fatalf("run: %v\n%s", res.err, res.logs)
	}
	if _, _, err := verify.File(context.Background(), filepath.Join(bucketDir, res.sum.Snapshot.Name)); err != nil {
		t.Errorf("uploaded snapshot does not verify: %v", err)
	}
	left, err := os.ReadDir(cfg.WorkDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("scratch files left in the work directory: %v", left)
	}
}

func TestExistingNameNeverOverwritten(t *testing.T) {
	s := server(t)
	dir := t.TempDir()
	now := time.Now()
	name := snapname.Format("etcd-snapshot-", now, snapname.Plain)
	if err := os.WriteFile(filepath.Join(dir, name), []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runBackup(t, load(t, envFor(s, dir)), now)
	if res.err == nil || !strings.Contains(res.sum.Destinations[0].Error, "already exists") {
		t.Fatalf("err %v, summary %+v", res.err, res.sum.Destinations)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || string(b) != "precious" {
		t.Fatal("existing snapshot overwritten")
	}
	noTemporaries(t, dir)
}

// TestEtcdComesUpLate: the endpoint resets every connection (a member
// restarting) until the run has logged a retry, then answers; the run
// succeeds on the next attempt.
func TestEtcdComesUpLate(t *testing.T) {
	s := server(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	logs := &watchedLog{want: "transient failure; retrying", seen: make(chan struct{})}
	target := strings.TrimPrefix(s.Endpoint, "https://")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case <-logs.seen:
				go forward(c, target)
			default:
				// a reset, as from a port nobody listens on yet
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}
		}
	}()
	dir := t.TempDir()
	env := envFor(s, dir)
	env["ETCD_BACKUP_ENDPOINTS"] = "https://" + l.Addr().String()
	var out bytes.Buffer
	_, err = backup.Run(context.Background(), load(t, env), backup.Deps{Log: slog.New(slog.NewJSONHandler(logs, nil)), Stdout: &out})
	if err != nil {
		t.Fatalf("run failed instead of retrying: %v\n%s", err, logs.String())
	}
	select {
	case <-logs.seen:
	default:
		t.Errorf("no retry logged:\n%s", logs.String())
	}
}

// forward copies between c and a new connection to target until either
// side closes.
func forward(c net.Conn, target string) {
	defer c.Close()
	u, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer u.Close()
	go func() {
		defer c.Close()
		io.Copy(u, c)
	}()
	io.Copy(c, u)
}

// watchedLog is a log that closes seen once want has been written to it.
type watchedLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *watchedLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(b, []byte(w.want)) && !bytes.Contains(w.buf.Bytes(), []byte(w.want)) {
		close(w.seen)
	}
	return w.buf.Write(b)
}

func (w *watchedLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestInterrupted: SIGTERM in the middle of the stream (the run's context is
// cancelled) leaves nothing behind and says so.
func TestInterrupted(t *testing.T) {
	s := bigServer(t)
	dir := t.TempDir()
	oldSnapshots(t, dir, time.Now(), 10, 20, 30, 40)
	before := listing(t, dir)
	cfg := load(t, envFor(s, dir))
	runInterrupted(t, cfg, dir, 4<<20)
	if after := listing(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("directory changed:\nbefore %v\nafter  %v", before, after)
	}
}

// runInterrupted runs a backup whose context is cancelled, as SIGTERM does,
// once a temporary file in dir holds more than size bytes, and checks that
// the summary says the snapshot was interrupted.
func runInterrupted(t *testing.T, cfg config.Config, dir string, size int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Errorf("watching %s: %v", dir, err)
				cancel()
				return
			}
			for _, e := range entries {
				if info, err := e.Info(); err == nil && strings.Contains(e.Name(), ".partial-") && info.Size() > size {
					cancel()
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var out, logs bytes.Buffer
	sum, err := backup.Run(ctx, cfg, backup.Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Stdout: &out})
	if err == nil {
		t.Fatal("run succeeded although interrupted")
	}
	if sum.FailedStep != "snapshot" || !strings.HasPrefix(sum.Error, "interrupted by a signal") {
		t.Errorf("summary: step %q error %q", sum.FailedStep, sum.Error)
	}
}
