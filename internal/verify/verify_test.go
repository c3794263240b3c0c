package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	b, _ := os.ReadFile(path)
	if want := fmt.Sprintf("%x", sha256.Sum256(b)); sum != want {
		t.Errorf("sha256 = %s, want %s", sum, want)
	}
}

func TestCorruptSnapshotsRefused(t *testing.T) {
	good := saveSnapshot(t)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	cases := []struct {
		name    string
		mutate  func([]byte) []byte
		wantErr string
	}{
		{"flipped byte in the data", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, "sha256 trailer does not match"},
		{"flipped byte in the trailer", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "sha256 trailer does not match"},
		{"truncated by one page", func(b []byte) []byte { return b[:len(b)-page] }, "sha256 trailer does not match"},
		{"truncated mid-page", func(b []byte) []byte { return b[:len(b)-1000] }, "cut short"},
		{"trailer removed", func(b []byte) []byte { return b[:len(b)-verify.TrailerSize] }, "cut short"},
		{"empty", func(b []byte) []byte { return b[:0] }, "cut short"},
		{
			// a corrupt page with a trailer that matches it: only the bbolt
			// check can tell
			"corrupt page, trailer recomputed",
			func(b []byte) []byte {
				body := b[:len(b)-verify.TrailerSize]
				// the root page named by the newer of the two meta pages
				// (meta: 16-byte page header, magic, version, page size,
				// flags, then the root bucket's page id; txid at 64)
				meta := body[:page]
				if binary.LittleEndian.Uint64(body[page+64:]) > binary.LittleEndian.Uint64(body[64:]) {
					meta = body[page : 2*page]
				}
				root := int(binary.LittleEndian.Uint64(meta[32:]))
				body[root*page+8], body[root*page+9] = 0x00, 0x00 // page flags: no valid type
				s := sha256.Sum256(body)
				return append(body, s[:]...)
			},
			"bbolt",
		},
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
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %q does not mention %q", err, c.wantErr)
			}
		})
	}
}

func TestStreamTrailerAnyChunking(t *testing.T) {
	body := make([]byte, 3*512)
	_, _ = rand.Read(body)
	sum := sha256.Sum256(body)
	full := append(bytes.Clone(body), sum[:]...)
	for _, chunk := range []int{1, 7, 31, 32, 33, 100, 512, len(full)} {
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
