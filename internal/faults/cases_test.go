package faults_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/faults"
)

// cases are every fault, in the order they run.
func cases() []faultCase {
	var all []faultCase
	for _, group := range [][]faultCase{etcdCases(), streamCases(), diskCases(), objectStoreCases(), signalCases(), sharedCases(), sealedCases()} {
		all = append(all, group...)
	}
	return all
}

// etcdCases: etcd unreachable, refusing the client, failing or slow to answer.
func etcdCases() []faultCase {
	return []faultCase{
		{"etcd unreachable", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			// Retried (a refused connection is transient), but never past
			// the snapshot timeout, which bounds all attempts together.
			sc, _ := hostDir(t, s, s.src)
			sc.endpoints("https://" + closedPort(t))
			sc.env["ETCD_BACKUP_SNAPSHOT_TIMEOUT"] = "6s"
			r := sc.run(t, fails("snapshot", "connection refused").in(12*time.Second))
			if !r.stderrHas("retrying") {
				t.Error("a refused connection was not retried")
			}
			return sc, []*jobResult{r}
		}},
		{"wrong CA", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.src)
			sc.env["ETCD_BACKUP_CACERT"] = s.other.CA
			return sc, []*jobResult{runOnce(t, sc, s.src, fails("snapshot", "certificate signed by unknown authority").in(15*time.Second))}
		}},
		{"client certificate expired", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.src)
			sc.env["ETCD_BACKUP_CERT"], sc.env["ETCD_BACKUP_KEY"] = s.expired.ClientCert, s.expired.ClientKey
			return sc, []*jobResult{runOnce(t, sc, s.src, fails("snapshot", "ETCD_BACKUP_CERT", "expired").in(15*time.Second))}
		}},
		{"client certificate not yet valid", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.src)
			sc.env["ETCD_BACKUP_CERT"], sc.env["ETCD_BACKUP_KEY"] = s.future.ClientCert, s.future.ClientKey
			return sc, []*jobResult{runOnce(t, sc, s.src, fails("snapshot", "ETCD_BACKUP_CERT", "not yet valid").in(15*time.Second))}
		}},
		{"wrong etcd password", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.auth)
			sc.env["ETCD_BACKUP_USERNAME"], sc.env["ETCD_BACKUP_PASSWORD"] = "root", "not-the-password"
			return sc, []*jobResult{runOnce(t, sc, s.auth, fails("snapshot", "authentication failed").in(15*time.Second))}
		}},
		{"etcd user without the root role", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.auth)
			sc.env["ETCD_BACKUP_USERNAME"], sc.env["ETCD_BACKUP_PASSWORD"] = "viewer", viewerPassword
			return sc, []*jobResult{runOnce(t, sc, s.auth, fails("snapshot", "permission denied").in(15*time.Second))}
		}},
		{"etcd auth with the right password (control)", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.auth)
			sc.env["ETCD_BACKUP_USERNAME"], sc.env["ETCD_BACKUP_PASSWORD"] = "root", rootPassword
			return sc, []*jobResult{sc.run(t, succeeds())}
		}},
		{"etcd member killed mid-stream", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			victim := startEtcd(t, "victim", filepath.Join(t.TempDir(), "victim"), s.tls, false)
			if err := victim.server().Seed(context.Background(), "/registry/pods/", 3000, 1024); err != nil {
				t.Fatal(err)
			}
			p := startProxy(t, faults.Options{Target: victim.HostPort(), Down: faults.Rule{Fault: faults.Hold, After: mib}})
			sc, host := hostDir(t, s, &source{etcd: victim})
			sc.endpoints("https://" + p.Addr())
			st := sc.start(t)
			waitHeld(t, p, "snapshot stream")
			if len(partials(host.dir)) == 0 {
				t.Errorf("no temporary file in %s while the stream is under way", host.dir)
			}
			// The member dies with the stream half sent; its port is gone
			// with it, so the job's further attempts are refused.
			victim.Kill()
			if err := p.Close(); err != nil {
				t.Errorf("closing the proxy: %v", err)
			}
			return sc, []*jobResult{st.finish(t, fails("snapshot", "connection refused"))}
		}},
		{"stream stalls until the snapshot timeout", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.HostPort(), Down: faults.Rule{Fault: faults.Stall, After: mib}})
			sc, _ := hostDir(t, s, s.src)
			sc.endpoints("https://" + p.Addr())
			sc.env["ETCD_BACKUP_SNAPSHOT_TIMEOUT"] = "3s"
			r := sc.run(t, fails("snapshot", "ETCD_BACKUP_SNAPSHOT_TIMEOUT").in(20*time.Second))
			if p.Fired() == 0 {
				t.Error("the stream never stalled")
			}
			if r.Duration < 3*time.Second {
				t.Errorf("gave up after %s, before the 3s snapshot timeout", r.Duration)
			}
			return sc, []*jobResult{r}
		}},
		{"etcd comes up after the first attempt", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.src)
			addr := closedPort(t)
			sc.endpoints("https://" + addr)
			st := sc.start(t)
			st.waitLog(t, "retrying", 30*time.Second)
			p := startProxy(t, faults.Options{Target: s.src.etcd.HostPort(), Listen: addr})
			r := st.finish(t, succeeds().in(30*time.Second))
			if !r.stderrHas("retrying") {
				t.Error("no retry in the log")
			}
			if p.Accepted() == 0 {
				t.Error("the job never reached etcd")
			}
			return sc, []*jobResult{r}
		}},
		{"two endpoints with the first down", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.src)
			sc.endpoints("https://"+closedPort(t), s.src.etcd.Endpoint)
			w := succeeds()
			w.member = s.src.etcd.Endpoint
			return sc, []*jobResult{sc.run(t, w)}
		}},
	}
}

// streamCases: a snapshot stream that arrives damaged or cut.
func streamCases() []faultCase {
	return []faultCase{
		{"snapshot with a flipped byte", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.PlainHostPort(), Down: faults.Rule{Fault: faults.Flip, After: 4 * mib}})
			sc, _ := hostDir(t, s, s.src)
			sc.plaintext("http://" + p.Addr())
			r := sc.run(t, fails("verify", "sha256 trailer does not match"))
			if p.Fired() != 1 {
				t.Errorf("the proxy flipped %d bytes, want 1", p.Fired())
			}
			return sc, []*jobResult{r}
		}},
		{"snapshot truncated: the stream ends early but cleanly", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.PlainHostPort(), Down: faults.Rule{Fault: faults.EndStream, After: 4 * mib}})
			sc, _ := hostDir(t, s, s.src)
			sc.plaintext("http://" + p.Addr())
			r := sc.run(t, fails("verify", "sha256 trailer"))
			if p.Fired() != 1 {
				t.Errorf("the proxy ended %d streams, want 1", p.Fired())
			}
			return sc, []*jobResult{r}
		}},
		{"connection cut mid-stream", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.HostPort(), Down: faults.Rule{Fault: faults.Cut, After: 4 * mib}})
			sc, _ := hostDir(t, s, s.src)
			sc.endpoints("https://" + p.Addr())
			r := sc.run(t, fails("snapshot"))
			if p.Fired() == 0 {
				t.Error("the proxy cut no connection")
			}
			return sc, []*jobResult{r}
		}},
	}
}

// diskCases: local directories that cannot take the snapshot.
func diskCases() []faultCase {
	return []faultCase{
		{"destination directory read-only", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.src)
			ro := sc.addDir(t, "readonly")
			sc.seedDefault(t, ro)
			readOnly(t, ro.dir)
			return sc, []*jobResult{sc.run(t, fails("copy").
				dest("host", "ok", "").
				dest("readonly", "failed", "copy", "read-only file system"))}
		}},
		{"only destination read-only", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc := newScenario(t, s, s.src)
			ro := sc.addDir(t, "readonly")
			sc.seedDefault(t, ro)
			readOnly(t, ro.dir)
			return sc, []*jobResult{sc.run(t, fails("copy").dest("readonly", "failed", "copy", "read-only file system"))}
		}},
		{"destination runs out of space mid-write (1 MiB tmpfs)", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			sc, _ := hostDir(t, s, s.src)
			full := sc.addDir(t, "full")
			mountTmpfs(t, full.dir, "1m")
			sc.seed(t, full, 7*day, 2*time.Hour)
			return sc, []*jobResult{sc.run(t, fails("copy").
				dest("host", "ok", "").
				dest("full", "failed", "copy", "no space left on device"))}
		}},
	}
}

// objectStoreCases: object storage down, failing, cutting uploads or refusing credentials.
func objectStoreCases() []faultCase {
	return []faultCase{
		{"object store down", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", bucketEndpoint(closedPort(t)))
			sc.seedDefault(t, b)
			return sc, []*jobResult{sc.run(t, fails("copy").in(90*time.Second).
				dest("host", "ok", "").
				dest("s3", "failed", "copy", "connection refused"))}
		}},
		{"object store answers 503", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			p := startHTTPProxy(t, s.s3.Endpoint, faults.HTTPFaults{Status: 503, First: -1})
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", p.URL())
			sc.seedDefault(t, b)
			r := sc.run(t, fails("copy").in(90*time.Second).dest("host", "ok", "").dest("s3", "failed", "copy", "503"))
			t.Logf("the proxy answered %d requests with 503", p.Answered())
			return sc, []*jobResult{r}
		}},
		{"object store answers 500", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			p := startHTTPProxy(t, s.s3.Endpoint, faults.HTTPFaults{Status: 500, First: -1})
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", p.URL())
			sc.seedDefault(t, b)
			r := sc.run(t, fails("copy").in(90*time.Second).dest("host", "ok", "").dest("s3", "failed", "copy", "500"))
			t.Logf("the proxy answered %d requests with 500", p.Answered())
			return sc, []*jobResult{r}
		}},
		{"object store answers 503 twice then recovers", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			p := startHTTPProxy(t, s.s3.Endpoint, faults.HTTPFaults{Status: 503, First: 2})
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", p.URL())
			sc.seedDefault(t, b)
			r := sc.run(t, succeeds())
			if p.Answered() != 2 {
				t.Errorf("the proxy answered %d requests with 503, want 2", p.Answered())
			}
			return sc, []*jobResult{r}
		}},
		{"object store drops the connection mid-upload", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			p := startProxy(t, faults.Options{Target: strings.TrimPrefix(s.s3.Endpoint, "http://"), Up: faults.Rule{Fault: faults.Cut, After: mib}})
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", bucketEndpoint(p.Addr()))
			sc.seedDefault(t, b)
			r := sc.run(t, fails("copy").in(90*time.Second).dest("host", "ok", "").dest("s3", "failed", "copy"))
			if p.Fired() == 0 {
				t.Error("the proxy cut no upload")
			}
			t.Logf("the proxy cut %d connections", p.Fired())
			return sc, []*jobResult{r}
		}},
		{"object store drops the connection once", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			p := startProxy(t, faults.Options{Target: strings.TrimPrefix(s.s3.Endpoint, "http://"), Up: faults.Rule{Fault: faults.Cut, After: mib, Once: true}})
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", bucketEndpoint(p.Addr()))
			sc.seedDefault(t, b)
			r := sc.run(t, succeeds())
			if p.Fired() != 1 {
				t.Errorf("the proxy cut %d connections, want 1", p.Fired())
			}
			return sc, []*jobResult{r}
		}},
		{"object store refuses the credentials (403)", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			p := startHTTPProxy(t, s.s3.Endpoint, faults.HTTPFaults{}) // counts, forwards everything
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", p.URL())
			sc.seedDefault(t, b)
			sc.env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-key-0123456789"
			r := sc.run(t, fails("copy").in(15*time.Second).dest("host", "ok", "").dest("s3", "failed", "copy", "403"))
			if p.Requests() > 1 {
				t.Errorf("a permanent failure (403) was retried: %d requests", p.Requests())
			}
			return sc, []*jobResult{r}
		}},
	}
}

// signalCases: the Job ended by SIGTERM in the middle of a step.
func signalCases() []faultCase {
	return []faultCase{
		{"SIGTERM during the snapshot", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.HostPort(), Down: faults.Rule{Fault: faults.Hold, After: 4 * mib}})
			sc, host := hostDir(t, s, s.src)
			sc.endpoints("https://" + p.Addr())
			st := sc.start(t)
			waitHeld(t, p, "snapshot stream")
			if len(partials(host.dir)) == 0 {
				t.Errorf("no temporary file in %s while the stream is under way", host.dir)
			}
			signalled := time.Now()
			if err := st.j.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			r := st.finish(t, fails("snapshot", "interrupted by a signal"))
			if d := time.Since(signalled); d > 10*time.Second {
				t.Errorf("the job took %s to end after SIGTERM", d)
			}
			return sc, []*jobResult{r}
		}},
		{"SIGTERM during an upload", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			p := startProxy(t, faults.Options{Target: strings.TrimPrefix(s.s3.Endpoint, "http://"), Up: faults.Rule{Fault: faults.Hold, After: mib, Once: true}})
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", bucketEndpoint(p.Addr()))
			sc.seedDefault(t, b)
			st := sc.start(t)
			waitHeld(t, p, "upload")
			signalled := time.Now()
			if err := st.j.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			r := st.finish(t, fails("copy", "interrupted by a signal").dest("host", "ok", "").dest("s3", "failed", "copy"))
			if d := time.Since(signalled); d > 10*time.Second {
				t.Errorf("the job took %s to end after SIGTERM", d)
			}
			return sc, []*jobResult{r}
		}},
	}
}

// sharedCases: runs and files that share a destination: concurrent runs, clock skew, foreign files.
func sharedCases() []faultCase {
	return []faultCase{
		{"two runs at the same time (same second)", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", "")
			sc.seedDefault(t, b)
			sc.record(t)
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
			a, c := sc.start(t), sc.start(t)
			r1, r2 := a.finish(t, nil), c.finish(t, nil)
			if n1, n2 := snapName(r1.Summary), snapName(r2.Summary); n1 != n2 {
				t.Fatalf("the two runs did not collide: they named their snapshots %s and %s", n1, n2)
			}
			ok := 0
			for _, r := range []*jobResult{r1, r2} {
				if r.Exit == 0 {
					ok++
					continue
				}
				if r.Summary.FailedStep != backup.StepCopy || !strings.Contains(r.Stdout, "already exists") {
					t.Errorf("a run that lost the race for the name should fail at copy saying the snapshot already exists: %s", r.Stdout)
				}
			}
			if ok != 1 {
				t.Errorf("%d runs stored a snapshot under one name, want exactly 1:\n%s\n%s", ok, r1.Stdout, r2.Stdout)
			}
			return sc, []*jobResult{r1, r2}
		}},
		{"two overlapping runs prune the same directory", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.HostPort(), Down: faults.Rule{Fault: faults.Hold, After: 256 << 10}})
			sc, host := hostDir(t, s, s.src)
			var ages []time.Duration
			for i := range 3000 {
				ages = append(ages, 6*day+time.Duration(i)*time.Minute)
			}
			sc.seed(t, host, ages...)
			sc.endpoints("https://" + p.Addr())
			sc.record(t)
			// Different seconds, so different names; both held at the
			// same point of the stream, then released together so that
			// they prune at the same time.
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 600*time.Millisecond)))
			a := sc.start(t)
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 100*time.Millisecond)))
			c := sc.start(t)
			waitHeld(t, p, "two streams")
			deadline := time.Now().Add(30 * time.Second)
			for p.Fired() < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			p.Release()
			return sc, []*jobResult{a.finish(t, succeeds()), c.finish(t, succeeds())}
		}},
		{"clock skew: snapshots dated in the future", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			sc, host := hostDir(t, s, s.src)
			future := sc.seed(t, host, -30*day, -365*day)
			b := sc.addBucket(t, "s3", "")
			sc.seedDefault(t, b)
			sc.seed(t, b, -30*day, -365*day)
			r := sc.run(t, succeeds())
			for _, n := range future {
				if _, err := os.Stat(filepath.Join(host.dir, n)); err != nil {
					t.Errorf("the future-dated %s is gone: %v", n, err)
				}
			}
			if !r.stderrHas("modification time in the future") {
				t.Error("no warning about snapshots dated in the future in the log")
			}
			return sc, []*jobResult{r}
		}},
		{"thousands of foreign files and old snapshots", thousands},
	}
}

// thousands: 3,000 foreign entries and 2,000 snapshots past retention in a
// directory, 600 foreign objects and 500 old snapshots in a bucket (more
// than one listing page); pruning must remove exactly the old snapshots,
// touch nothing else, and be quick.
func thousands(t *testing.T, s *suite) (*scenario, []*jobResult) {
	s.needS3(t)
	sc := newScenario(t, s, s.src)
	sc.keepMin = 3
	sc.env["ETCD_BACKUP_KEEP_MIN"] = "3"
	host := sc.addDir(t, "host")
	b := sc.addBucket(t, "s3", "")
	old := time.Now().Add(-30 * day)
	mk := time.Now()
	for i := range 3000 {
		var name string
		switch i % 6 {
		case 0:
			name = fmt.Sprintf("etcd-snapshot-%d.db", i)
		case 1:
			name = snapshotName(old.Add(time.Duration(i)*time.Minute)) + ".sha256"
		case 2:
			name = fmt.Sprintf("etcd-snapshot-2024%02d01T000000Z.db", 13+i%20) // no such month
		case 3:
			name = "ETCD-SNAPSHOT-" + old.Add(time.Duration(i)*time.Minute).UTC().Format(nameLayout) + ".db"
		case 4:
			name = fmt.Sprintf("kube-apiserver-%d.log", i)
		default:
			name = "other-" + snapshotName(old.Add(time.Duration(i)*time.Minute))
		}
		sc.put(t, host, name, []byte("not ours"), old)
	}
	// Entries named exactly like old snapshots that are not files.
	dirName := snapshotName(old.Add(-time.Hour))
	if err := os.Mkdir(filepath.Join(host.dir, dirName), 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside.db")
	if err := os.WriteFile(outside, []byte("not ours either"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(host.dir, snapshotName(old.Add(-2*time.Hour)))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(host.dir, dirName)} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	var ages []time.Duration
	for i := range 2000 {
		ages = append(ages, 6*day+time.Duration(i)*time.Minute)
	}
	sc.seed(t, host, ages...)
	sc.seed(t, host, time.Hour, 2*time.Hour, 3*time.Hour)

	ctx := context.Background()
	var wg sync.WaitGroup
	work := make(chan func(), 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				f()
			}
		}()
	}
	for i := range 600 {
		name := fmt.Sprintf("foreign-%04d.txt", i)
		if i%2 == 0 {
			name = snapshotName(old.Add(time.Duration(i)*time.Minute)) + ".bak"
		}
		work <- func() {
			if err := b.put(ctx, name, []byte("not ours"), old); err != nil {
				t.Error(err)
			}
		}
	}
	for i := range 500 {
		mt := time.Now().Add(-6*day - time.Duration(i)*time.Minute).Truncate(time.Second)
		work <- func() {
			if err := b.put(ctx, snapshotName(mt), s.fixture, mt); err != nil {
				t.Error(err)
			}
		}
	}
	close(work)
	wg.Wait()
	sc.seed(t, b, time.Hour, 2*time.Hour, 3*time.Hour)
	t.Logf("made 5,005 directory entries and 1,103 objects in %s", time.Since(mk).Round(time.Millisecond))

	r := sc.run(t, succeeds().in(2*time.Minute))
	if r.SummaryErr == nil {
		var per []string
		for _, d := range r.Summary.Destinations {
			per = append(per, fmt.Sprintf("%s pruned %d", shortDest(d.Destination), d.PrunedCount))
		}
		t.Logf("run %s; prune step %.3fs (%s)", r.Duration.Round(time.Millisecond), r.Summary.Seconds["prune"], strings.Join(per, ", "))
		if r.Summary.Seconds["prune"] > 30 {
			t.Errorf("pruning took %.1fs", r.Summary.Seconds["prune"])
		}
	}
	return sc, []*jobResult{r}
}
