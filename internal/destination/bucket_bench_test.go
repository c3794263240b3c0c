package destination

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
)

// benchSize is the snapshot size for the throughput benchmarks: run
//
//	go test -run '^$' -bench 'Upload1GiB|DiskWrite1GiB' -benchtime 1x ./internal/destination/
//
// to compare an S3 upload on loopback with the local disk's write rate.
const benchSize = 1 << 30

// BenchmarkS3Upload1GiB uploads a 1 GiB file to versitygw on 127.0.0.1
// (which writes it to the same disk) and reports MB/s and the peak resident
// memory of the process.
func BenchmarkS3Upload1GiB(b *testing.B) {
	s := blobtest.StartS3(b)
	s.SetEnv(b)
	ctx := context.Background()
	bucket, err := openBucket(ctx, s.URL("bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	src, sum := makeFile(b, benchSize)
	before := maxRSSMiB()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := range b.N {
		name := "etcd-snapshot-bench-" + string(rune('a'+i%26)) + ".db"
		if _, err := bucket.Upload(ctx, name, src, testMeta(sum)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := bucket.Delete(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(maxRSSMiB(), "peak-RSS-MiB")
	b.ReportMetric(before, "before-RSS-MiB")
}

// BenchmarkDiskWrite1GiB writes and fsyncs a 1 GiB file in the test's
// temporary directory: what a local directory destination costs.
func BenchmarkDiskWrite1GiB(b *testing.B) {
	dir := b.TempDir()
	buf := make([]byte, 1<<20)
	rnd := rand.NewChaCha8([32]byte{1})
	_, _ = rnd.Read(buf)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		f, err := os.Create(filepath.Join(dir, "snapshot.db"))
		if err != nil {
			b.Fatal(err)
		}
		for written := 0; written < benchSize; written += len(buf) {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func maxRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux
}
