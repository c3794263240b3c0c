package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
	"github.com/etcd-backup/etcd-backup/internal/snapshot"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// The tests in this file feed snapshots built here through the run, in
// place of etcd: each checks one safeguard of the run in seconds.

// page is the page size of the databases built here and by etcd.
const page = 4096

// database is an etcd-shaped bbolt database (a "key" bucket of revisions
// holding encoded key-values, a "meta" bucket) with keys live keys, followed
// by its sha256 trailer, as etcd sends it.
func database(t *testing.T, keys int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: page})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		kb, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		for i := range keys {
			rev := make([]byte, 17)
			binary.BigEndian.PutUint64(rev, uint64(i+2))
			rev[8] = '_'
			kv := mvccpb.KeyValue{Key: fmt.Appendf(nil, "/registry/secrets/%04d", i), Value: bytes.Repeat([]byte("v"), 300),
				CreateRevision: int64(i + 2), ModRevision: int64(i + 2), Version: 1}
			v, err := kv.Marshal()
			if err != nil {
				return err
			}
			if err := kb.Put(rev, v); err != nil {
				return err
			}
		}
		mb, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return mb.Put([]byte("storageVersion"), []byte("3.6"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// corruptPage gives the root page of the database an invalid page type and
// a trailer that matches the damage, as if etcd had sent a broken database:
// only the bbolt check can tell.
func corruptPage(snap []byte) []byte {
	b := bytes.Clone(snap[:len(snap)-verify.TrailerSize])
	meta := b[:page]
	if binary.LittleEndian.Uint64(b[page+64:]) > binary.LittleEndian.Uint64(b[64:]) {
		meta = b[page : 2*page] // the newer meta page is the one bbolt uses
	}
	root := int(binary.LittleEndian.Uint64(meta[32:]))
	b[root*page+8], b[root*page+9] = 0, 0
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// badTrailer keeps the database intact and changes its trailer: only the
// trailer check can tell.
func badTrailer(snap []byte) []byte {
	b := bytes.Clone(snap)
	b[len(b)-1] ^= 1
	return b
}

// source is a snapshot source sending each attempt's bytes in chunks; an
// attempt with a non-nil error stops after its bytes with that error.
type attempt struct {
	data []byte
	err  error
}

func source(attempts ...attempt) (func(context.Context, *slog.Logger, snapshot.Options, io.Writer) (snapshot.Member, error), *int) {
	n := 0
	return func(_ context.Context, _ *slog.Logger, _ snapshot.Options, w io.Writer) (snapshot.Member, error) {
		a := attempts[min(n, len(attempts)-1)]
		n++
		m := snapshot.Member{Endpoint: "https://127.0.0.1:2379", Version: "3.6.0"}
		for b := a.data; len(b) > 0; {
			c := b[:min(len(b), 10000)]
			if _, err := w.Write(c); err != nil {
				return m, err
			}
			b = b[len(c):]
		}
		return m, a.err
	}, &n
}

// fault wraps a real destination and makes one thing about it go wrong.
type fault struct {
	destination.Destination
	hide       string // a name the listing leaves out
	writeLimit int    // bytes the temporary file takes before writes fail; 0 = no limit
	syncErr    error  // what flushing the temporary file returns
	uploadErr  error  // what an upload returns
}

func (f *fault) List(ctx context.Context, prefix string) ([]destination.Object, error) {
	objs, err := f.Destination.List(ctx, prefix)
	var out []destination.Object
	for _, o := range objs {
		if o.Name != f.hide {
			out = append(out, o)
		}
	}
	return out, err
}

func (f *fault) Create(name string) (destination.Pending, error) {
	p, err := f.Destination.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultyPending{Pending: p, f: f}, nil
}

func (f *fault) Upload(ctx context.Context, name, path string, meta destination.Metadata) (destination.Object, error) {
	if f.uploadErr != nil {
		return destination.Object{}, f.uploadErr
	}
	return f.Destination.Upload(ctx, name, path, meta)
}

type faultyPending struct {
	destination.Pending
	f       *fault
	written int
}

func (p *faultyPending) Write(b []byte) (int, error) {
	if p.f.writeLimit > 0 && p.written+len(b) > p.f.writeLimit {
		return 0, fmt.Errorf("writing %s: %w", p.Path(), syscall.ENOSPC)
	}
	p.written += len(b)
	return p.Pending.Write(b)
}

func (p *faultyPending) Reset() error {
	p.written = 0
	return p.Pending.Reset()
}

func (p *faultyPending) Sync() error {
	if p.f.syncErr != nil {
		return p.f.syncErr
	}
	return p.Pending.Sync()
}

// opener opens destinations for real and wraps those named in faults.
func opener(faults map[string]*fault) func(context.Context, string) (destination.Destination, error) {
	return func(ctx context.Context, spec string) (destination.Destination, error) {
		d, err := destination.Open(ctx, spec)
		if err != nil || faults[spec] == nil {
			return d, err
		}
		f := faults[spec]
		f.Destination = d
		return f, nil
	}
}

// fastConfig is the configuration for a run that never reaches etcd.
func fastConfig(t *testing.T, dests ...string) config.Config {
	t.Helper()
	return load(t, map[string]string{
		"ETCD_BACKUP_DESTINATIONS": strings.Join(dests, ","),
		"ETCD_BACKUP_CACERT":       "", "ETCD_BACKUP_CERT": "", "ETCD_BACKUP_KEY": "",
	})
}

func runWith(t *testing.T, cfg config.Config, now time.Time, d backup.Deps) result {
	t.Helper()
	var out, logs bytes.Buffer
	d.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	d.Stdout = &out
	d.Now = func() time.Time { return now }
	sum, err := backup.Run(context.Background(), cfg, d)
	return result{sum: sum, err: err, stdout: out.String(), logs: logs.String()}
}

// exists reports whether path is there; any error but "not there" fails
// the test.
func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// clock is the run's time in these tests: a day and a half before the wall
// clock, so that a run that read the wall clock instead would name its
// snapshot otherwise.
func clock() time.Time { return time.Now().Add(-36 * time.Hour).Truncate(time.Second) }

// TestUnverifiedSnapshotIsNeitherStoredNorPrunedFor: a snapshot that fails
// either check gets no final name in any destination, is not uploaded, and
// nothing is pruned; the same run with a sound snapshot stores and prunes.
func TestUnverifiedSnapshotIsNeitherStoredNorPrunedFor(t *testing.T) {
	good := database(t, 50)
	cases := []struct {
		name     string
		snap     []byte
		wantErr  string // "" for a run that succeeds
		wantStep string
	}{
		{"sound snapshot", good, "", ""},
		{"corrupt page under a matching trailer", corruptPage(good), "bbolt consistency check", "verify"},
		{"trailer that does not match", badTrailer(good), "sha256 trailer does not match", "verify"},
		{"cut short mid-page", good[:len(good)-1000], "cut short", "verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := clock()
			dir, bucketDir := t.TempDir(), t.TempDir()
			olds := oldSnapshots(t, dir, now, 1, 2, 30)
			oldSnapshots(t, bucketDir, now, 1, 2, 30)
			before := []map[string]string{listing(t, dir), listing(t, bucketDir)}
			snap, _ := source(attempt{data: c.snap})
			res := runWith(t, fastConfig(t, dir, "file://"+bucketDir), now, backup.Deps{Snapshot: snap})
			name := snapname.Format("etcd-snapshot-", now, snapname.Plain)
			if c.wantErr == "" {
				if res.err != nil {
					t.Fatalf("run failed: %v\n%s", res.err, res.logs)
				}
				for _, d := range []string{dir, bucketDir} {
					stored, err := os.ReadFile(filepath.Join(d, name))
					if err != nil || !bytes.Equal(stored, c.snap) {
						t.Errorf("%s: snapshot not stored as sent (%v)", d, err)
					}
					if exists(t, filepath.Join(d, olds[2])) {
						t.Errorf("%s: the 30-day-old snapshot was not pruned", d)
					}
				}
				if res.sum.Snapshot == nil || res.sum.Snapshot.TotalKey != 50 {
					t.Errorf("summary snapshot: %+v", res.sum.Snapshot)
				}
				if res.sum.Etcd == nil || res.sum.Etcd.Version != "3.6.0" || res.sum.Etcd.Endpoint == "" {
					t.Errorf("summary etcd member: %+v", res.sum.Etcd)
				}
				return
			}
			if res.err == nil {
				t.Fatalf("run succeeded with a bad snapshot:\n%s", res.stdout)
			}
			if res.sum.FailedStep != c.wantStep || !strings.Contains(res.sum.Error, c.wantErr) {
				t.Errorf("summary: step %q error %q, want %s / %q", res.sum.FailedStep, res.sum.Error, c.wantStep, c.wantErr)
			}
			if res.sum.Snapshot != nil {
				t.Errorf("summary reports a snapshot: %+v", res.sum.Snapshot)
			}
			if strings.HasPrefix(res.sum.Error, "backup failed") {
				t.Errorf("summary error %q repeats the run's wrapping, not the cause", res.sum.Error)
			}
			for _, d := range res.sum.Destinations {
				if d.Status != "skipped" {
					t.Errorf("destination %s: %s, want skipped (nothing was written there)", d.Destination, d.Status)
				}
			}
			for i, d := range []string{dir, bucketDir} {
				if after := listing(t, d); fmt.Sprint(after) != fmt.Sprint(before[i]) {
					t.Errorf("%s changed by a run with a bad snapshot:\nbefore %v\nafter  %v", d, before[i], after)
				}
			}
		})
	}
}

// TestPruneOnlyWhereThisRunStored: a destination that drops out of the run
// at any step keeps all its old snapshots, the others are pruned; a listing
// that does not show the new snapshot is not trusted to prune from.
func TestPruneOnlyWhereThisRunStored(t *testing.T) {
	snapData := database(t, 20)
	now := clock()
	name := snapname.Format("etcd-snapshot-", now, snapname.Plain)
	cases := []struct {
		name      string
		fault     fault
		existing  bool   // the final name is taken already
		notADir   bool   // the faulty destination is a regular file
		bucket    bool   // the faulty destination is object storage
		wantStep  string // in the faulty destination's result
		wantErr   string
		wantFinal bool // the faulty destination holds the new snapshot
	}{
		{name: "directory full mid-write", fault: fault{writeLimit: 3 * page}, wantStep: "copy", wantErr: "no space left"},
		{name: "directory full on the first write", fault: fault{writeLimit: 1}, wantStep: "copy", wantErr: "no space left"},
		{name: "fsync fails", fault: fault{syncErr: syscall.EIO}, wantStep: "copy", wantErr: "input/output error"},
		{name: "final name taken", existing: true, wantStep: "copy", wantErr: "already exists"},
		{name: "not a directory", notADir: true, wantStep: "copy", wantErr: "not a directory"},
		{name: "upload refused", bucket: true, fault: fault{uploadErr: accessDenied{}}, wantStep: "copy", wantErr: "access denied"},
		{name: "listing without the new snapshot", fault: fault{hide: name}, wantStep: "prune", wantErr: "listing does not show", wantFinal: true},
		{name: "bucket listing without the new snapshot", bucket: true, fault: fault{hide: name}, wantStep: "prune", wantErr: "listing does not show", wantFinal: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			goodDir, badDir := t.TempDir(), t.TempDir()
			bad := badDir
			if c.bucket {
				bad = "file://" + badDir
			}
			goodOlds := oldSnapshots(t, goodDir, now, 1, 2, 30)
			oldSnapshots(t, badDir, now, 1, 2, 30)
			if c.existing {
				if err := os.WriteFile(filepath.Join(badDir, name), []byte("precious"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if c.notADir {
				bad = filepath.Join(badDir, "file")
				if err := os.WriteFile(bad, []byte("not a directory"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := listing(t, badDir)
			f := c.fault
			snap, _ := source(attempt{data: snapData})
			res := runWith(t, fastConfig(t, bad, goodDir), now, backup.Deps{Snapshot: snap, Open: opener(map[string]*fault{bad: &f})})
			if res.err == nil {
				t.Fatalf("run succeeded although %s failed", bad)
			}
			if len(res.sum.Destinations) != 2 {
				t.Fatalf("destinations: %+v", res.sum.Destinations)
			}
			b, g := res.sum.Destinations[0], res.sum.Destinations[1]
			if b.Status != "failed" || b.FailedStep != c.wantStep || !strings.Contains(b.Error, c.wantErr) {
				t.Errorf("faulty destination: %s step %q error %q, want failed / %s / %q", b.Status, b.FailedStep, b.Error, c.wantStep, c.wantErr)
			}
			if len(b.Pruned) != 0 {
				t.Errorf("faulty destination reports pruned %v", b.Pruned)
			}
			if res.sum.Status != "failed" || res.sum.FailedStep != c.wantStep || !strings.Contains(res.sum.Error, "1 of 2 destinations failed") {
				t.Errorf("run: %s, step %q, error %q; want failed, %s, 1 of 2 destinations failed", res.sum.Status, res.sum.FailedStep, res.sum.Error, c.wantStep)
			}
			after := listing(t, badDir)
			if c.wantFinal {
				if _, ok := after[name]; !ok {
					t.Errorf("the new snapshot is missing from %s", badDir)
				}
				delete(after, name)
				delete(after, name+".attrs") // the metadata file:// keeps beside an object
			}
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("faulty destination changed:\nbefore %v\nafter  %v", before, after)
			}
			if g.Status != "ok" || len(g.Pruned) != 1 || g.Pruned[0] != goodOlds[2] {
				t.Errorf("sound destination: %+v", g)
			}
			if stored, err := os.ReadFile(filepath.Join(goodDir, name)); err != nil || !bytes.Equal(stored, snapData) {
				t.Errorf("sound destination lacks the snapshot (%v)", err)
			}
		})
	}
}

// accessDenied is an error as a bucket refusing access returns it: not transient.
type accessDenied struct{}

func (accessDenied) Error() string { return "access denied" }

// TestRetryAfterPartialStream: an attempt cut off mid-stream is retried and
// the stored file holds the second attempt only, in every directory.
func TestRetryAfterPartialStream(t *testing.T) {
	snapData := database(t, 20)
	now := clock()
	dirs := []string{t.TempDir(), t.TempDir()}
	snap, calls := source(
		attempt{data: snapData[:len(snapData)/2+1000], err: fmt.Errorf("reading the snapshot stream: %w", syscall.ECONNRESET)},
		attempt{data: snapData},
	)
	res := runWith(t, fastConfig(t, dirs...), now, backup.Deps{Snapshot: snap})
	if res.err != nil {
		t.Fatalf("run failed: %v\n%s", res.err, res.logs)
	}
	if *calls != 2 {
		t.Errorf("snapshot taken %d times, want 2 (one retry)", *calls)
	}
	name := snapname.Format("etcd-snapshot-", now, snapname.Plain)
	for _, d := range dirs {
		stored, err := os.ReadFile(filepath.Join(d, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stored, snapData) {
			t.Errorf("%s: stored %d bytes, not the %d of the second attempt", d, len(stored), len(snapData))
		}
	}
	if res.sum.Snapshot == nil || res.sum.Snapshot.Size != int64(len(snapData)) || res.sum.Snapshot.SHA256 != fmt.Sprintf("%x", sha256.Sum256(snapData)) {
		t.Errorf("summary snapshot %+v, want size %d", res.sum.Snapshot, len(snapData))
	}
	noTemporaries(t, dirs...)
}

// TestEveryDirectoryFailsMidWrite: when the last directory drops out while
// the snapshot streams in, the run fails at the snapshot step; nothing is
// stored or pruned anywhere.
func TestEveryDirectoryFailsMidWrite(t *testing.T) {
	snapData := database(t, 20)
	now := time.Now()
	dirs := []string{t.TempDir(), t.TempDir()}
	var before []map[string]string
	for _, d := range dirs {
		oldSnapshots(t, d, now, 1, 2, 30)
		before = append(before, listing(t, d))
	}
	faults := map[string]*fault{dirs[0]: {writeLimit: 2 * page}, dirs[1]: {writeLimit: 5 * page}}
	snap, calls := source(attempt{data: snapData})
	res := runWith(t, fastConfig(t, dirs...), now, backup.Deps{Snapshot: snap, Open: opener(faults)})
	if res.err == nil {
		t.Fatalf("run succeeded with every directory full:\n%s", res.stdout)
	}
	if res.sum.FailedStep != "snapshot" || !strings.Contains(res.sum.Error, "every destination failed") {
		t.Errorf("summary: step %q error %q, want snapshot / every destination failed", res.sum.FailedStep, res.sum.Error)
	}
	if *calls != 1 {
		t.Errorf("snapshot taken %d times; a full disk is not worth another attempt", *calls)
	}
	for i, d := range dirs {
		if after := listing(t, d); fmt.Sprint(after) != fmt.Sprint(before[i]) {
			t.Errorf("%s changed:\nbefore %v\nafter  %v", d, before[i], after)
		}
	}
}

// TestObjectStorageOnlyVerifiesInWorkDir: with no directory to stream into,
// the snapshot is verified from a scratch file in the work directory, which
// is empty again afterwards; a bad snapshot is not uploaded.
func TestObjectStorageOnlyVerifiesInWorkDir(t *testing.T) {
	good := database(t, 20)
	for _, c := range []struct {
		name string
		snap []byte
		ok   bool
	}{{"sound", good, true}, {"corrupt page", corruptPage(good), false}} {
		t.Run(c.name, func(t *testing.T) {
			now := clock()
			bucketDir := t.TempDir()
			cfg := fastConfig(t, "file://"+bucketDir)
			snap, _ := source(attempt{data: c.snap})
			res := runWith(t, cfg, now, backup.Deps{Snapshot: snap})
			if (res.err == nil) != c.ok {
				t.Fatalf("run: %v, want success %v\n%s", res.err, c.ok, res.logs)
			}
			stored, err := os.ReadFile(filepath.Join(bucketDir, snapname.Format("etcd-snapshot-", now, snapname.Plain)))
			if c.ok && (err != nil || !bytes.Equal(stored, c.snap)) {
				t.Errorf("uploaded snapshot differs (%v)", err)
			}
			if !c.ok && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a corrupt snapshot was uploaded (%v)", err)
			}
			left, err := os.ReadDir(cfg.WorkDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Errorf("left in the work directory: %v", left)
			}
		})
	}
}
