package verify_test

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	clientsnap "go.etcd.io/etcd/client/v3/snapshot"
	"go.uber.org/zap"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// The snapshot the benchmarks verify: a file given with -verify.file (for
// example one saved from the `make bench` etcd), or one taken from an
// embedded etcd filled with -verify.keys keys of -verify.value bytes.
var (
	benchFile  = flag.String("verify.file", "", "snapshot file to verify in the benchmarks (default: make one)")
	benchKeys  = flag.Int("verify.keys", 16384, "keys in the snapshot the benchmarks make")
	benchValue = flag.Int("verify.value", 8192, "bytes per value in the snapshot the benchmarks make")
)

// snapshotForBench returns the file to verify and its size.
func snapshotForBench(b *testing.B) (string, int64) {
	b.Helper()
	path := *benchFile
	if path == "" {
		dir := b.TempDir()
		srv, err := etcdtest.Start(dir, etcdtest.Options{QuotaBytes: 8 << 30})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		ctx := context.Background()
		if err := srv.Seed(ctx, "/registry/bench/", *benchKeys, *benchValue); err != nil {
			b.Fatal(err)
		}
		tlsCfg, err := transport.TLSInfo{CertFile: srv.Certs.ClientCert, KeyFile: srv.Certs.ClientKey, TrustedCAFile: srv.Certs.CA}.ClientConfig()
		if err != nil {
			b.Fatal(err)
		}
		path = filepath.Join(dir, "snapshot.db")
		if _, err := clientsnap.SaveWithVersion(ctx, zap.NewNop(), clientv3.Config{
			Endpoints: []string{srv.Endpoint}, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		}, path); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return path, fi.Size()
}

// BenchmarkVerify measures the verify step alone, on a file in the page
// cache (the backup job verifies the file it has just written): the stream
// hash, the database check in this process, and the same in the child
// process the backup job uses.
func BenchmarkVerify(b *testing.B) {
	path, size := snapshotForBench(b)
	b.Run("stream-hash", func(b *testing.B) {
		b.SetBytes(size)
		buf := make([]byte, 32<<10) // the size of the server's snapshot messages
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			s := verify.NewStream()
			if _, err := io.CopyBuffer(s, f, buf); err != nil {
				b.Fatal(err)
			}
			f.Close()
			if *benchFile == "" {
				if err := s.CheckTrailer(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("database-in-process", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := verify.DatabaseInProcess(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("database-child", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := verify.Database(context.Background(), path); err != nil {
				b.Fatal(err)
			}
		}
	})
}
