package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"gocloud.dev/blob"

	"github.com/etcd-backup/etcd-backup/internal/bundle"
	"github.com/etcd-backup/etcd-backup/internal/seal"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// sealing is one combination of layers, as configured.
type sealing struct {
	name     string
	compress bool
	encrypt  bool
}

var sealings = []sealing{
	{"zst", true, false},
	{"age", false, true},
	{"zst.age", true, true},
}

func (s sealing) shape(k snapname.Kind) snapname.Shape {
	return snapname.Shape{Kind: k, Compressed: s.compress, Encrypted: s.encrypt}
}

// keys is an age key pair for a test.
func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// controlPlane is a small /etc/kubernetes: what a bundle archives.
func controlPlane(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "etc", "kubernetes")
	for p, content := range map[string]string{
		"pki/ca.key":              "cluster CA key",
		"pki/etcd/ca.key":         "etcd CA key",
		"manifests/etcd.yaml":     "kind: Pod",
		"admin.conf":              "kind: Config",
		"kubeadm-config.yaml.bak": "not listed",
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func (s sealing) env(t *testing.T, base map[string]string, id *age.X25519Identity, cp string) map[string]string {
	t.Helper()
	if s.compress {
		base["ETCD_BACKUP_COMPRESSION"] = "zstd"
	}
	if s.encrypt {
		base["ETCD_BACKUP_ENCRYPT_RECIPIENTS"] = id.Recipient().String()
	} else {
		base["ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT"] = "true"
	}
	if cp != "" {
		base["ETCD_BACKUP_BUNDLE_PATHS"] = cp + "/pki," + cp + "/manifests," + cp + "/admin.conf," + cp + "/kubeadm-config.yaml?"
	}
	return base
}

// unseal reverses the layers of a stored file into plaintext.
func unseal(t *testing.T, stored []byte, name string, id age.Identity) []byte {
	t.Helper()
	_, l := seal.LayersOf(name)
	r, err := seal.NewReader(bytes.NewReader(stored), l, []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s back: %v", name, err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%s is not empty after the run: %v", dir, entries)
	}
}

// TestSealedRun: every sealed shape, into two directories and a file://
// bucket, with the control-plane bundle.
func TestSealedRun(t *testing.T) {
	s := server(t)
	cp := controlPlane(t)
	for _, sl := range sealings {
		t.Run(sl.name, func(t *testing.T) {
			id := newIdentity(t)
			host, pvc, bucketDir, work := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
			now := time.Now()
			cfg := load(t, sl.env(t, envFor(s, host, pvc, "file://"+bucketDir), id, cp))
			cfg.WorkDir = work
			res := runBackup(t, cfg, now)
			if res.err != nil {
				t.Fatalf("run: %v\n%s", res.err, res.logs)
			}
			name := snapname.Format("etcd-snapshot-", now, sl.shape(snapname.Snapshot))
			bname := snapname.Format("etcd-snapshot-", now, sl.shape(snapname.Bundle))
			sum := res.sum
			if sum.Snapshot.Name != name || sum.Bundle == nil || sum.Bundle.Name != bname || sum.Bundle.Error != "" {
				t.Fatalf("summary: %s", res.stdout)
			}
			if sl.compress != (sum.Snapshot.CompressionRatio > 1.2) {
				t.Errorf("compression ratio %v", sum.Snapshot.CompressionRatio)
			}
			emptyDir(t, work) // the plaintext copy is gone

			var plain []byte
			for _, dir := range []string{host, pvc, bucketDir} {
				stored, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("%s: %v", dir, err)
				}
				if sha(stored) != sum.Snapshot.SHA256 || int64(len(stored)) != sum.Snapshot.Size {
					t.Errorf("%s: the stored file is not what the summary says", dir)
				}
				if sl.encrypt && bytes.Contains(stored, []byte("/registry/secrets/")) {
					t.Errorf("%s: plaintext keys in an encrypted file", dir)
				}
				plain = unseal(t, stored, name, id)
				if sha(plain) != sum.Snapshot.PlainSHA256 || int64(len(plain)) != sum.Snapshot.PlainSize {
					t.Errorf("%s: the plaintext inside is not what the summary says", dir)
				}
				noTemporaries(t, dir)
			}
			// sidecars beside the files in directories
			for _, dir := range []string{host, pvc} {
				side, err := os.ReadFile(filepath.Join(dir, name+snapname.SidecarExt))
				want := fmt.Sprintf("%s  %s\n%s  %s\n", sum.Snapshot.SHA256, name, sum.Snapshot.PlainSHA256, strings.TrimSuffix(strings.TrimSuffix(name, ".age"), ".zst"))
				if err != nil || string(side) != want {
					t.Errorf("%s: sidecar %q (%v), want %q", dir, side, err, want)
				}
			}
			// the object carries both sums
			b, err := blob.OpenBucket(context.Background(), "file://"+bucketDir)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			attrs, err := b.Attributes(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if attrs.Metadata["sha256"] != sum.Snapshot.SHA256 || attrs.Metadata["plain-sha256"] != sum.Snapshot.PlainSHA256 {
				t.Errorf("object metadata %v", attrs.Metadata)
			}
			// the plaintext verifies as the run said
			st, _, err := verify.Stored(context.Background(), filepath.Join(host, name), []age.Identity{id}, t.TempDir())
			if err != nil || st != sum.Snapshot.Status {
				t.Errorf("verify of the stored file: %+v, %v; the run said %+v", st, err, sum.Snapshot.Status)
			}
			// the bundle comes back with its files
			for _, dir := range []string{host, bucketDir} {
				stored, err := os.ReadFile(filepath.Join(dir, bname))
				if err != nil {
					t.Fatalf("bundle in %s: %v", dir, err)
				}
				if sl.encrypt && bytes.Contains(stored, []byte("CA key")) {
					t.Errorf("%s: plaintext in an encrypted bundle", dir)
				}
				out := t.TempDir()
				if _, err := bundle.Extract(bytes.NewReader(unseal(t, stored, bname, id)), out); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(out, strings.TrimPrefix(cp, "/"), "pki/etcd/ca.key"))
				if err != nil || string(got) != "etcd CA key" {
					t.Errorf("bundle from %s: %q, %v", dir, got, err)
				}
				if _, err := os.Stat(filepath.Join(out, strings.TrimPrefix(cp, "/"), "kubeadm-config.yaml.bak")); err == nil {
					t.Error("a file that was not listed is in the bundle")
				}
			}
			if sl.compress && sl.encrypt {
				p := filepath.Join(t.TempDir(), "plain.db")
				if err := os.WriteFile(p, plain, 0o600); err != nil {
					t.Fatal(err)
				}
				restoreAndCompare(t, s, p)
			}
		})
	}
}

// TestSealedObjectStorage: with only a bucket, on each real server, the
// sealed snapshot and bundle are uploaded with both sums, and the work
// directory is left empty.
func TestSealedObjectStorage(t *testing.T) {
	s := server(t)
	cp := controlPlane(t)
	for _, name := range []string{"s3", "gcs", "azure"} {
		for _, sl := range sealings {
			t.Run(name+"/"+sl.name, func(t *testing.T) {
				be := startBackend(t, name)
				setEnvList(t, be.env)
				id := newIdentity(t)
				work := t.TempDir()
				now := time.Now()
				cfg := load(t, sl.env(t, envFor(s, be.url("etcd")), id, cp))
				cfg.WorkDir = work
				res := runBackup(t, cfg, now)
				if res.err != nil {
					t.Fatalf("run: %v\n%s", res.err, res.logs)
				}
				emptyDir(t, work)
				ctx := context.Background()
				b, err := blob.OpenBucket(ctx, be.root)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				for _, k := range []snapname.Kind{snapname.Snapshot, snapname.Bundle} {
					key := "etcd/" + snapname.Format("etcd-snapshot-", now, sl.shape(k))
					stored, err := b.ReadAll(ctx, key)
					if err != nil {
						t.Fatalf("reading %s: %v", key, err)
					}
					attrs, err := b.Attributes(ctx, key)
					if err != nil {
						t.Fatal(err)
					}
					plain := unseal(t, stored, key, id)
					if attrs.Metadata["sha256"] != sha(stored) || attrs.Metadata["plain-sha256"] != sha(plain) {
						t.Errorf("%s: metadata %v", key, attrs.Metadata)
					}
					if k == snapname.Snapshot {
						st, err := verify.Plaintext(ctx, bytes.NewReader(plain), t.TempDir())
						if err != nil || st != res.sum.Snapshot.Status {
							t.Errorf("the uploaded snapshot: %+v, %v", st, err)
						}
					}
				}
				if got := keys(t, be.root); len(got) != 2 {
					t.Errorf("objects in the bucket: %v; want the snapshot and the bundle", got)
				}
			})
		}
	}
}

// TestPruneAcrossShapes: after encryption is switched on, keep-min still
// counts the old plain snapshots; sidecars go with their files; bundles
// follow the same retention on their own.
func TestPruneAcrossShapes(t *testing.T) {
	s := server(t)
	cp := controlPlane(t)
	dir := t.TempDir()
	now := time.Now()
	write := func(shape snapname.Shape, ageDays int, sidecar bool) string {
		ts := now.Add(-time.Duration(ageDays) * 24 * time.Hour)
		name := snapname.Format("etcd-snapshot-", ts, shape)
		files := []string{name}
		if sidecar {
			files = append(files, name+snapname.SidecarExt)
		}
		for _, f := range files {
			p := filepath.Join(dir, f)
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, ts, ts); err != nil {
				t.Fatal(err)
			}
		}
		return name
	}
	zstAge := sealing{"zst.age", true, true}
	plain8, plain9, plain10 := write(snapname.Plain, 8, false), write(snapname.Plain, 9, false), write(snapname.Plain, 10, false)
	sealed20 := write(zstAge.shape(snapname.Snapshot), 20, true)
	bundle7, bundle8 := write(zstAge.shape(snapname.Bundle), 7, true), write(zstAge.shape(snapname.Bundle), 8, true)
	id := newIdentity(t)
	env := zstAge.env(t, envFor(s, dir), id, cp)
	env["ETCD_BACKUP_KEEP_MIN"] = "3"
	res := runBackup(t, load(t, env), now)
	if res.err != nil {
		t.Fatalf("run: %v\n%s", res.err, res.logs)
	}
	gone := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err != nil
	}
	// kept: the new snapshot, plain8 and plain9 (keep-min 3 across shapes)
	for _, n := range []string{plain8, plain9, bundle7} {
		if gone(n) {
			t.Errorf("%s was pruned", n)
		}
	}
	for _, n := range []string{plain10, sealed20, sealed20 + snapname.SidecarExt} {
		if !gone(n) {
			t.Errorf("%s was kept", n)
		}
	}
	// bundles: keep-min 3 counts the new bundle, bundle7 and bundle8
	if gone(bundle8) || gone(bundle8+snapname.SidecarExt) {
		t.Errorf("bundle %s within keep-min was pruned", bundle8)
	}
	pruned := res.sum.Destinations[0].Pruned
	slices.Sort(pruned)
	want := []string{plain10, sealed20}
	slices.Sort(want)
	if !slices.Equal(pruned, want) {
		t.Errorf("summary pruned %v, want %v", pruned, want)
	}
}

// TestSealedInterrupted: SIGTERM mid-stream with encryption on leaves the
// destination as it was and the work directory empty.
func TestSealedInterrupted(t *testing.T) {
	s := bigServer(t)
	dir, work := t.TempDir(), t.TempDir()
	oldSnapshots(t, dir, time.Now(), 10, 20)
	before := listing(t, dir)
	env := sealing{"zst.age", true, true}.env(t, envFor(s, dir), newIdentity(t), "")
	cfg := load(t, env)
	cfg.WorkDir = work
	runInterrupted(t, cfg, dir, 1<<20)
	if after := listing(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("directory changed:\nbefore %v\nafter  %v", before, after)
	}
	emptyDir(t, work)
}
