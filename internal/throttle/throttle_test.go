package throttle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/throttle"
)

func TestWriterBoundsTheRate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rate    int64
		size    int
		step    int           // bytes per Write
		atLeast time.Duration // the first burst passes at once
	}{
		{"1 MiB at 4 MiB/s in one write", 4 << 20, 1 << 20, 1 << 20, 180 * time.Millisecond},
		{"2 MiB at 8 MiB/s in small writes", 8 << 20, 2 << 20, 32 << 10, 210 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			if _, err := rand.Read(data); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w := throttle.NewWriter(context.Background(), &out, tc.rate)
			start := time.Now()
			step := tc.step
			for off := 0; off < len(data); off += step {
				n, err := w.Write(data[off:min(off+step, len(data))])
				if err != nil || n != min(step, len(data)-off) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if el := time.Since(start); el < tc.atLeast {
				t.Errorf("wrote %d bytes at a limit of %d/s in %s, want at least %s", tc.size, tc.rate, el, tc.atLeast)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Error("data changed on the way through")
			}
		})
	}
}

func TestWriterStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	w := throttle.NewWriter(ctx, &out, 1<<20)
	cancel()
	// More than one burst: the writer has to wait, and the wait ends at once.
	start := time.Now()
	_, err := w.Write(make([]byte, 4<<20))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel: %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("a cancelled write took %s", time.Since(start))
	}
}
