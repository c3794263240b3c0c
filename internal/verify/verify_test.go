package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	clientsnap "go.etcd.io/etcd/client/v3/snapshot"
	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

func TestMain(m *testing.M) {
	verify.RunChild()
	os.Exit(m.Run())
}

// saveSnapshot takes a snapshot with etcd's own client code (what
// `etcdctl snapshot save` runs), independent of this project's stream code.
func saveSnapshot(t *testing.T) string {
	t.Helper()
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if err := srv.Seed(ctx, "/registry/a/", 300, 200); err != nil {
		t.Fatal(err)
	}
	cli, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// deletes and re-creations, so that the live-key count differs from the
	// number of entries
	for i := 0; i < 50; i++ {
		if _, err := cli.Delete(ctx, fmt.Sprintf("/registry/a/%08d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		if _, err := cli.Put(ctx, fmt.Sprintf("/registry/a/%08d", i), "again"); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(ctx, "/registry/b/overwritten", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	tlsCfg, err := transport.TLSInfo{CertFile: srv.Certs.ClientCert, KeyFile: srv.Certs.ClientKey, TrustedCAFile: srv.Certs.CA}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := clientsnap.SaveWithVersion(ctx, zap.NewNop(), clientv3.Config{
		Endpoints: []string{srv.Endpoint}, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
	}, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFiguresEqualEtcdutl(t *testing.T) {
	path := saveSnapshot(t)
	got, sum, err := verify.File(context.Background(), path)
	if err != nil {
		t.Fatalf("verify.File: %v", err)
	}
	want, err := etcdutl.NewV3(zap.NewNop()).Status(path)
	if err != nil {
		t.Fatalf("etcdutl status: %v", err)
	}
	if got.Hash != want.Hash || got.Revision != want.Revision || got.TotalKey != want.TotalKey ||
		got.TotalSize != want.TotalSize || got.StorageVersion != want.Version {
		t.Fatalf("figures differ from etcdutl:\n got  %+v\n want %+v", got, want)
	}
	// 300 seeded - 50 deleted + 10 re-created + 1 overwritten key
	if got.TotalKey != 261 {
		t.Errorf("total keys = %d, want 261", got.TotalKey)
	}
	if want := entriesOfEveryBucket(t, path); got.TotalKeyAllBuckets != want {
		t.Errorf("total keys of all buckets = %d, want %d (etcdctl 3.4 and etcdutl 3.5)", got.TotalKeyAllBuckets, want)
	}
	// 300 puts, 50 deletions and 20 more puts of user keys, each an entry of
	// its own, plus etcd's own entries
	if got.TotalKeyAllBuckets <= 370 {
		t.Errorf("total keys of all buckets = %d, want more than the 370 revisions", got.TotalKeyAllBuckets)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(b)); sum != want {
		t.Errorf("sha256 = %s, want %s", sum, want)
	}
	// The database alone, as etcd keeps it (pages only, no trailer): the
	// same figures, and a file exactly as long as its pages is whole.
	bare := filepath.Join(t.TempDir(), "bare.db")
	if err := os.WriteFile(bare, b[:len(b)-verify.TrailerSize], 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := verify.Database(context.Background(), bare)
	if err != nil {
		t.Fatalf("the database without its trailer: %v", err)
	}
	if st != got {
		t.Errorf("figures without the trailer %+v, with it %+v", st, got)
	}
}

// entriesOfEveryBucket is "total keys" as `etcdctl snapshot status` of
// etcd 3.4 and `etcdutl snapshot status` of 3.5 count it: every entry that
// ForEach visits in every bucket. (The module can hold only one etcdutl
// version; this is their definition, not their code.)
func entriesOfEveryBucket(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			return b.ForEach(func(_, _ []byte) error { n++; return nil })
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCorruptSnapshotsRefused(t *testing.T) {
	good := saveSnapshot(t)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// Which of a crash (SIGBUS, SIGSEGV) or one of bbolt's own assertions
	// stops the check on these pages depends on the map's size and on the
	// order bbolt visits pages in; what must hold is one line naming the
	// file and saying it is corrupt. crash_test.go covers each crash form.
	corrupt := []string{"the database is corrupt"}
	cases := []struct {
		name    string
		mutate  func([]byte) []byte
		wantErr []string
	}{
		{"flipped byte in the data", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, []string{"sha256 trailer does not match"}},
		{"flipped byte in the trailer", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, []string{"sha256 trailer does not match"}},
		{"truncated by one page", func(b []byte) []byte { return b[:len(b)-page] }, []string{"sha256 trailer does not match"}},
		{"truncated mid-page", func(b []byte) []byte { return b[:len(b)-1000] }, []string{"cut short"}},
		{"trailer removed", func(b []byte) []byte { return b[:len(b)-verify.TrailerSize] }, []string{"cut short"}},
		{"empty", func(b []byte) []byte { return b[:0] }, []string{"cut short"}},
		// The cases below have a trailer that matches the damage: only the
		// bbolt check can tell.
		{"corrupt page", retrailed(func(b []byte) []byte {
			root := int(binary.LittleEndian.Uint64(newerMeta(b)[metaRoot:]))
			b[root*page+8], b[root*page+9] = 0x00, 0x00 // page flags: no valid type
			return b
		}), []string{"bbolt", "the database is corrupt"}},
		// The meta page still counts the lost pages: reading them through
		// the map would be a SIGBUS.
		{"truncated by two pages", retrailed(func(b []byte) []byte { return b[:len(b)-2*page] }),
			[]string{"cut short"}},
		{"high-water mark past the end of the file", retrailed(func(b []byte) []byte {
			setMeta(b, metaHighWater, uint64(len(b)/page+10))
			return b
		}), []string{"cut short"}},
		// bbolt maps the file in sizes of a power of two: a page number
		// just past the end of the file lies inside the map, and reading
		// it is a SIGBUS.
		{"bucket root past the end of the file", retrailed(func(b []byte) []byte {
			setBucketRoot(b, "key", uint64(len(b)/page+2))
			return b
		}), corrupt},
		{"freelist page past the end of the file", retrailed(func(b []byte) []byte {
			setMeta(b, metaFreelist, uint64(len(b)/page+2))
			return b
		}), corrupt},
		// A page number this large points outside the address space: SIGSEGV.
		{"root page far outside the file", retrailed(func(b []byte) []byte {
			setMeta(b, metaRoot, 1<<35)
			return b
		}), corrupt},
		{"bucket root far outside the file", retrailed(func(b []byte) []byte {
			setBucketRoot(b, "key", 1<<35)
			return b
		}), corrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.db")
			if err := os.WriteFile(path, c.mutate(bytes.Clone(orig)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := verify.File(context.Background(), path)
			if err == nil {
				t.Fatal("corrupt snapshot accepted")
			}
			msg := err.Error()
			t.Log(msg)
			for _, want := range append(c.wantErr, path) {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not mention %q: %s", want, msg)
				}
			}
			// It goes into the summary and the termination message.
			if strings.Contains(msg, "\n") || len(msg) > 400 {
				t.Errorf("error is not one short line (%d bytes): %s", len(msg), msg)
			}
		})
	}
}

// page is the page size of the databases etcd writes.
const page = 4096

// Offsets in a bbolt meta page: a 16-byte page header, magic, version, page
// size and flags, then the root bucket's page, the freelist page, the
// high-water mark (pages in use), the transaction id and the checksum of all
// that.
const (
	metaRoot      = 32
	metaFreelist  = 48
	metaHighWater = 56
	metaTxID      = 64
	metaChecksum  = 72
)

// retrailed applies mutate to the database and appends a trailer that
// matches the result, as if the server had sent a broken database.
func retrailed(mutate func(db []byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		body := mutate(b[:len(b)-verify.TrailerSize])
		s := sha256.Sum256(body)
		return append(body, s[:]...)
	}
}

// newerMeta is the meta page bbolt uses: the one with the higher
// transaction id.
func newerMeta(db []byte) []byte {
	if binary.LittleEndian.Uint64(db[page+metaTxID:]) > binary.LittleEndian.Uint64(db[metaTxID:]) {
		return db[page : 2*page]
	}
	return db[:page]
}

// setMeta sets a field in both meta pages, with valid checksums, so that
// bbolt trusts it.
func setMeta(db []byte, offset int, v uint64) {
	for _, m := range [][]byte{db[:page], db[page : 2*page]} {
		binary.LittleEndian.PutUint64(m[offset:], v)
		h := fnv.New64a()
		h.Write(m[16:metaChecksum])
		binary.LittleEndian.PutUint64(m[metaChecksum:], h.Sum64())
	}
}

// setBucketRoot points a bucket of the root page at another page. The root
// page is a leaf: a 16-byte header (its element count at 10), then 16-byte
// elements (flags, position of the key from the element, key size, value
// size); a bucket's value starts with its root page.
func setBucketRoot(db []byte, name string, pgid uint64) {
	root := db[int(binary.LittleEndian.Uint64(newerMeta(db)[metaRoot:]))*page:]
	for i := range int(binary.LittleEndian.Uint16(root[10:])) {
		e := root[16+16*i:]
		pos, ksize := int(binary.LittleEndian.Uint32(e[4:])), int(binary.LittleEndian.Uint32(e[8:]))
		if string(e[pos:pos+ksize]) == name {
			binary.LittleEndian.PutUint64(e[pos+ksize:], pgid)
			return
		}
	}
	panic("no bucket " + name + " in the root page")
}

// TestTrailerAloneRefused: 32 bytes that are the sha256 of nothing have a
// matching trailer and no database.
func TestTrailerAloneRefused(t *testing.T) {
	empty := sha256.Sum256(nil)
	s := verify.NewStream()
	s.Write(empty[:])
	if err := s.CheckTrailer(); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("a trailer without a database: %v, want refused as cut short", err)
	}
}

func TestStreamTrailerAnyChunking(t *testing.T) {
	body := make([]byte, 3*512)
	rand.Read(body) // crypto/rand: never returns an error
	sum := sha256.Sum256(body)
	full := append(bytes.Clone(body), sum[:]...)
	for _, chunk := range []int{1, 7, 31, 32, 33, 64, 100, 512, len(full)} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			s := verify.NewStream()
			for i := 0; i < len(full); i += chunk {
				s.Write(full[i:min(i+chunk, len(full))])
			}
			if err := s.CheckTrailer(); err != nil {
				t.Fatalf("good stream refused: %v", err)
			}
			if s.Size() != int64(len(full)) {
				t.Fatalf("size %d, want %d", s.Size(), len(full))
			}
			if want := fmt.Sprintf("%x", sha256.Sum256(full)); s.SHA256() != want {
				t.Fatalf("sha256 %s, want %s", s.SHA256(), want)
			}
			bad := verify.NewStream()
			flipped := bytes.Clone(full)
			flipped[chunk%len(body)] ^= 1
			for i := 0; i < len(flipped); i += chunk {
				bad.Write(flipped[i:min(i+chunk, len(flipped))])
			}
			if err := bad.CheckTrailer(); !errors.Is(err, verify.ErrTrailer) {
				t.Fatalf("flipped stream: err = %v, want ErrTrailer", err)
			}
		})
	}
}
