package snapshot

import (
	"reflect"
	"testing"
	"time"
)

func TestProgressAttrs(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name    string
		n       int64
		total   int64
		elapsed time.Duration
		want    []any
	}{
		{"a quarter in 2s", 128 * mib, 512 * mib, 2 * time.Second,
			[]any{"received", "128 MiB", "db_size", "512 MiB", "percent", 25.0, "rate", "64 MiB/s", "time_left", "6s", "bytes", int64(128 * mib)}},
		{"minutes left", 3 * mib, 8 << 30, 3 * time.Second,
			[]any{"received", "3.0 MiB", "db_size", "8.0 GiB", "percent", 0.0, "rate", "1.0 MiB/s", "time_left", "2h16m29s", "bytes", int64(3 * mib)}},
		{"rounded to a tenth", mib, 3 * mib, time.Second,
			[]any{"received", "1.0 MiB", "db_size", "3.0 MiB", "percent", 33.3, "rate", "1.0 MiB/s", "time_left", "2s", "bytes", int64(mib)}},
		// writes since the status was asked for grow the snapshot past
		// the database size, and the snapshot adds a trailer
		{"past the database size", 10*mib + 32, 10 * mib, time.Second,
			[]any{"received", "10 MiB", "db_size", "10 MiB", "percent", 99.0, "rate", "10 MiB/s", "bytes", int64(10*mib + 32)}},
		{"far past the database size", 30 * mib, 10 * mib, time.Second,
			[]any{"received", "30 MiB", "db_size", "10 MiB", "percent", 99.0, "rate", "30 MiB/s", "bytes", int64(30 * mib)}},
		{"at the database size", 10 * mib, 10 * mib, time.Second,
			[]any{"received", "10 MiB", "db_size", "10 MiB", "percent", 99.0, "rate", "10 MiB/s", "bytes", int64(10 * mib)}},
		{"just below the cap", 989 * mib / 10, 100 * mib, time.Second,
			[]any{"received", "99 MiB", "db_size", "100 MiB", "percent", 98.9, "rate", "99 MiB/s", "time_left", "0s", "bytes", int64(989 * mib / 10)}},
		{"size unknown", 5 * mib, 0, time.Second,
			[]any{"received", "5.0 MiB", "rate", "5.0 MiB/s", "bytes", int64(5 * mib)}},
		{"no time yet", 0, 10 * mib, 0,
			[]any{"received", "0 B", "db_size", "10 MiB", "percent", 0.0, "bytes", int64(0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := progressAttrs(c.n, c.total, c.elapsed); !reflect.DeepEqual(got, c.want) {
				t.Errorf("progressAttrs(%d, %d, %s)\n got  %v\n want %v", c.n, c.total, c.elapsed, got, c.want)
			}
		})
	}
}
