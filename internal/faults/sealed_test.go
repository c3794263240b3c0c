package faults_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/faults"
)

// encrypt makes the scenario's runs encrypt (and compress) what they
// store, to a key of its own.
func (sc *scenario) encrypt(t *testing.T, compress bool) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sc.identity = id
	sc.env["ETCD_BACKUP_ENCRYPT_RECIPIENTS"] = id.Recipient().String()
	if compress {
		sc.env["ETCD_BACKUP_COMPRESSION"] = "zstd"
	}
}

// ageIdentity is the scenario's identity, nil (untyped) without one.
func (sc *scenario) ageIdentity() age.Identity {
	if sc.identity == nil {
		return nil
	}
	return sc.identity
}

var (
	ageHeader   = []byte("age-encryption.org/v1\n")
	sidecarText = regexp.MustCompile(`^([0-9a-f]{64}  [^\n/]+\n)+$`)
	// sourceKeys is in every plaintext snapshot of the suite's etcd
	// servers (their keys), and in no sealed byte stream.
	sourceKeys = []byte("/registry/")
)

// checkNoPlaintext is invariant 7; see checkInvariants.
func checkNoPlaintext(t testing.TB, sc *scenario, after map[*dest]map[string]entry) {
	t.Helper()
	if sc.identity == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, d := range sc.dests {
		for _, name := range sortedNames(after[d]) {
			e := after[d][name]
			if b, old := sc.before[d][name]; (old && b == e) || !e.Regular {
				continue // there before the runs, untouched
			}
			p, err := d.fetch(ctx, t, name)
			var content []byte
			if err == nil {
				content, err = os.ReadFile(p)
			}
			if err != nil {
				t.Errorf("invariant 7: reading %s in %s: %v", name, d, err)
				continue
			}
			switch {
			case strings.HasSuffix(name, ".sha256"):
				if !sidecarText.Match(content) {
					t.Errorf("invariant 7: %s in %s is not a sidecar of sums: %q", name, d, clip(string(content), 200))
				}
			case len(content) > 0 && !bytes.HasPrefix(content, ageHeader):
				t.Errorf("invariant 7: %s in %s (%d bytes) is not age-encrypted", name, d, len(content))
			case bytes.Contains(content, sourceKeys):
				t.Errorf("invariant 7: %s in %s holds the source's keys in plaintext", name, d)
			}
		}
		if d.s3 == nil {
			continue
		}
		keys, err := d.allKeys(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		leftovers, err := backendLeftovers(d, keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range leftovers {
			b, err := os.ReadFile(filepath.Join(d.s3.Dir, d.s3.Bucket, rel))
			if err == nil && bytes.Contains(b, sourceKeys) {
				t.Errorf("invariant 7: the S3 server keeps plaintext of an unfinished upload in %s: %s", d, rel)
			}
		}
	}
	// The plaintext copy that verification reads has no name, and goes
	// with the process.
	entries, err := os.ReadDir(sc.workDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("invariant 7: %s left in the work directory", e.Name())
	}
}

// sealedCases: encryption (and compression) on, through the faults that matter to it.
func sealedCases() []faultCase {
	return []faultCase{
		{"encrypted and compressed: directory and S3 (control)", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", "")
			sc.seedDefault(t, b)
			sc.encrypt(t, true)
			return sc, []*jobResult{sc.run(t, succeeds())}
		}},
		{"encrypted: object storage only", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			sc := newScenario(t, s, s.src)
			b := sc.addBucket(t, "s3", "")
			sc.seedDefault(t, b)
			sc.encrypt(t, false)
			return sc, []*jobResult{sc.run(t, succeeds())}
		}},
		{"encrypted: snapshot with a flipped byte", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.PlainHostPort(), Down: faults.Rule{Fault: faults.Flip, After: 4 * mib}})
			sc, _ := hostDir(t, s, s.src)
			sc.plaintext("http://" + p.Addr())
			sc.encrypt(t, true)
			r := sc.run(t, fails("verify", "sha256 trailer does not match"))
			if p.Fired() != 1 {
				t.Errorf("the proxy flipped %d bytes, want 1", p.Fired())
			}
			return sc, []*jobResult{r}
		}},
		{"encrypted: SIGTERM during the snapshot", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.HostPort(), Down: faults.Rule{Fault: faults.Hold, After: 4 * mib}})
			sc, host := hostDir(t, s, s.src)
			sc.endpoints("https://" + p.Addr())
			sc.encrypt(t, true)
			st := sc.start(t)
			waitHeld(t, p, "snapshot stream")
			if len(partials(host.dir)) == 0 {
				t.Errorf("no temporary file in %s while the stream is under way", host.dir)
			}
			if err := st.j.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			return sc, []*jobResult{st.finish(t, fails("snapshot", "interrupted by a signal"))}
		}},
		{"encrypted: SIGTERM during an upload", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			s.needS3(t)
			p := startProxy(t, faults.Options{Target: strings.TrimPrefix(s.s3.Endpoint, "http://"), Up: faults.Rule{Fault: faults.Hold, After: mib, Once: true}})
			sc, _ := hostDir(t, s, s.src)
			b := sc.addBucket(t, "s3", bucketEndpoint(p.Addr()))
			sc.seedDefault(t, b)
			sc.encrypt(t, false) // uncompressed: the upload is large enough to hold
			st := sc.start(t)
			waitHeld(t, p, "upload")
			if err := st.j.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			return sc, []*jobResult{st.finish(t, fails("copy", "interrupted by a signal").dest("host", "ok", "").dest("s3", "failed", "copy"))}
		}},
		{"encrypted: SIGKILL during the snapshot then the next run", func(t *testing.T, s *suite) (*scenario, []*jobResult) {
			p := startProxy(t, faults.Options{Target: s.src.etcd.HostPort(), Down: faults.Rule{Fault: faults.Hold, After: 4 * mib, Once: true}})
			sc, host := hostDir(t, s, s.src)
			sc.endpoints("https://" + p.Addr())
			sc.encrypt(t, true)
			st := sc.start(t)
			waitHeld(t, p, "snapshot stream")
			left := partials(host.dir)
			if len(left) == 0 {
				t.Fatalf("no temporary file in %s while the stream is under way", host.dir)
			}
			if err := syscall.Kill(-st.j.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if r := st.j.Wait(t, time.Minute); r.Exit != -1 {
				t.Errorf("the killed job exited %d", r.Exit)
			}
			p.Release()
			// Nothing runs after a SIGKILL: what is left is sealed (the
			// temporary file) or nothing at all (the plaintext copy).
			if entries, err := os.ReadDir(sc.workDir); err != nil || len(entries) != 0 {
				t.Errorf("the killed run left %v (%v) in the work directory", entries, err)
			}
			for _, f := range partials(host.dir) {
				b, err := os.ReadFile(f)
				if err != nil || !bytes.HasPrefix(b, ageHeader) || bytes.Contains(b, sourceKeys) {
					t.Errorf("the killed run left %s, not sealed (%v)", f, err)
				}
			}
			// An hour later, the next run removes the temporary file.
			old := time.Now().Add(-2 * time.Hour)
			for _, f := range left {
				if err := os.Chtimes(f, old, old); err != nil {
					t.Fatal(err)
				}
			}
			return sc, []*jobResult{sc.run(t, succeeds())}
		}},
	}
}
