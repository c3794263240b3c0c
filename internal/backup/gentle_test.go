package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
)

// TestRateLimit: the snapshot step cannot be faster than the limit allows.
func TestRateLimit(t *testing.T) {
	// A server of its own, with a snapshot of about 2 MB: the smallest
	// limit accepted is 1MiB per second.
	s, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Seed(context.Background(), "/registry/configmaps/", 2000, 1000); err != nil {
		t.Fatal(err)
	}
	const rate = 1 << 20
	for _, tc := range []struct {
		name    string
		limit   string
		limited bool
	}{
		{"no limit", "0", false},
		{"1MiB per second", "1MiB", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := envFor(s, t.TempDir())
			env["ETCD_BACKUP_RATE_LIMIT"] = tc.limit
			res := runBackup(t, load(t, env), time.Now())
			if res.err != nil {
				t.Fatalf("run: %v\n%s", res.err, res.logs)
			}
			size := res.sum.Snapshot.Size
			// The first 256 KiB pass at once (the limiter's burst).
			least := float64(size-256<<10) / rate
			took := res.sum.Seconds["snapshot"]
			if least < 0.3 {
				t.Fatalf("a snapshot of %d bytes is too small to see a limit of %d/s", size, rate)
			}
			if tc.limited && took < least {
				t.Errorf("snapshot of %d bytes took %.2fs at a limit of %d bytes/s, want at least %.2fs", size, took, rate, least)
			}
			if !tc.limited && took >= least {
				t.Errorf("snapshot of %d bytes took %.2fs without a limit: the comparison shows nothing", size, took)
			}
		})
	}
}

// TestStoredCopiesLeaveNoPageCache: every copy is dropped from the page
// cache once it is on disk, so that a run does not crowd out etcd's own
// cached pages.
func TestStoredCopiesLeaveNoPageCache(t *testing.T) {
	s := server(t)
	dirs := []string{t.TempDir(), t.TempDir()}
	res := runBackup(t, load(t, envFor(s, dirs...)), time.Now())
	if res.err != nil {
		t.Fatalf("run: %v\n%s", res.err, res.logs)
	}
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, res.sum.Snapshot.Name))
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Cachestat_t
		err = unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if cached := int64(st.Cache) * int64(os.Getpagesize()); cached > 0 {
			t.Errorf("%s: %d of %d bytes still in the page cache after the run", d, cached, res.sum.Snapshot.Size)
		}
	}
}
