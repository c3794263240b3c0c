//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/cgrouptest"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"one", []float64{3}, 3},
		{"odd, unsorted", []float64{9, 1, 5}, 5},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"outlier does not move it", []float64{1, 1, 1, 1000, 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := median(tc.in); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("median reordered its argument: %v", tc.in)
				}
			}
		})
	}
}

func secs(xs ...float64) []result {
	var rs []result
	for _, x := range xs {
		rs = append(rs, result{seconds: x})
	}
	return rs
}

func TestPairedRatio(t *testing.T) {
	for _, tc := range []struct {
		name        string
		a, b        []result
		med, lo, hi float64
	}{
		{"same rounds", secs(2, 4, 6), secs(1, 2, 3), 2, 2, 2},
		// A slow round slows both: the paired ratio stays, a ratio of
		// medians would not.
		{"drift affects both", secs(1, 1, 10), secs(2, 2, 20), 0.5, 0.5, 0.5},
		{"spread", secs(1, 3, 2), secs(1, 1, 1), 2, 1, 3},
		{"unequal rounds: only pairs count", secs(1, 2, 9), secs(1, 1), 1.5, 1, 2},
		{"zero time skipped", secs(1, 2), secs(0, 1), 2, 2, 2},
		{"nothing to pair", nil, secs(1), 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			med, lo, hi := pairedRatio(tc.a, tc.b)
			if med != tc.med || lo != tc.lo || hi != tc.hi {
				t.Errorf("pairedRatio = %v, %v, %v; want %v, %v, %v", med, lo, hi, tc.med, tc.lo, tc.hi)
			}
		})
	}
}

func TestPercentileAndSummarise(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // 100ms .. 1ms, unsorted on purpose
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	got := summarise(lat, 2)
	want := latency{n: 100, p50: 50 * time.Millisecond, p99: 99 * time.Millisecond, max: 100 * time.Millisecond, failed: 2}
	if got != want {
		t.Errorf("summarise = %+v, want %+v", got, want)
	}
	if lat[0] != 100*time.Millisecond {
		t.Error("summarise sorted its argument in place")
	}
	for _, tc := range []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 99, 0},
		{[]time.Duration{7}, 50, 7},
		{[]time.Duration{1, 2}, 50, 1},
		{[]time.Duration{1, 2}, 51, 2},
		{[]time.Duration{1, 2, 3}, 100, 3},
		{[]time.Duration{1, 2, 3}, 0, 1},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
		}
	}
	if got := summarise(nil, 3); got != (latency{failed: 3}) {
		t.Errorf("summarise(nil) = %+v", got)
	}
}

// jobResult is a backup-job run whose summary says how long verify took.
func jobResult(t *testing.T, seconds, verify float64, lat latency, mem *cgrouptest.Usage) result {
	t.Helper()
	sum := map[string]any{"status": "ok", "seconds": map[string]float64{"snapshot": seconds - verify, "verify": verify},
		"snapshot": map[string]any{"name": "s.db", "size": 1 << 30}, "destinations": []map[string]string{{"destination": "/d"}}}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	return result{seconds: seconds, cpu: seconds / 2, peakKB: 20 << 10, lat: lat, snapBytes: 1 << 30, cached: 3 << 20, mem: mem,
		steps: []stepResult{{name: "backup-job", seconds: seconds, stdout: append([]byte("log line\n"), b...)}}}
}

func lat(p50, p99, mx float64) latency {
	d := func(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
	return latency{n: 1000, p50: d(p50), p99: d(p99), max: d(mx)}
}

func TestReport(t *testing.T) {
	cs := []contender{
		{name: "idle (load only)", kind: kindIdle},
		{name: "etcdctl snapshot save", kind: kindSave},
		{name: "usual recipe", kind: kindRecipe},
		{name: "backup-job", kind: kindJob},
		{name: "backup-job, one dir", kind: kindJobOne},
		{name: "backup-job, limit 512 MiB", kind: kindJob, memLimit: 512 << 20},
	}
	saveRun := func(s, p99, mx float64) result {
		return result{seconds: s, cpu: 1, snapBytes: 1 << 30, cached: 1 << 30, lat: lat(1, p99, mx), steps: []stepResult{{name: "save", seconds: s}}}
	}
	recipeRun := func(s float64) result {
		return result{seconds: s, cpu: 2, snapBytes: 1 << 30, cached: 2 << 30, dirty: 5 << 20, lat: lat(1, 300, 400),
			steps: []stepResult{{name: "save", seconds: s - 2}, {name: "cp", seconds: 1}, {name: "sync", seconds: 0.5}, {name: "status", seconds: 0.5}}}
	}
	mem := &cgrouptest.Usage{PeakAnon: 40 << 20, PeakFile: 470 << 20, PeakTotal: 512 << 20}
	results := [][]result{
		{{seconds: 5, lat: lat(1, 2, 3)}, {seconds: 5, lat: lat(1, 2.5, 4)}, {seconds: 5, lat: lat(1, 3, 5)}},
		{saveRun(8, 330, 450), saveRun(8, 340, 460), saveRun(8, 320, 470)},
		{recipeRun(10), recipeRun(10), recipeRun(10)},
		{jobResult(t, 9, 1, lat(1, 9, 15), nil), jobResult(t, 9.2, 1, lat(1, 10, 19), nil), jobResult(t, 8.8, 1, lat(1, 11, 25), nil)},
		{jobResult(t, 8, 1, lat(1, 5, 9), nil), jobResult(t, 8, 1, lat(1, 6, 9), nil), jobResult(t, 8, 1, lat(1, 7, 9), nil)},
		{jobResult(t, 12, 4, lat(1, 9, 15), mem), jobResult(t, 12, 4, lat(1, 9, 15), mem), jobResult(t, 12, 4, lat(1, 9, 15), mem)},
	}
	var out bytes.Buffer
	report(&out, cs, results, true, "1.00 1.00 1.00")
	got := out.String()
	for _, want := range []string{
		"snapshot 1073741824 bytes (1.0 GiB); 3 rounds; page cache dropped before each run",
		// idle baseline: p99 median 2.5 of 2, 2.5, 3; max over rounds 5
		"2.5 (2.0-3.0)",
		// the recipe left 2 GiB cached, 5 MiB of it dirty
		"2048 (5)",
		"backup-job / etcdctl snapshot save: 1.125  (target <= 1.15: met; per-round ratios median 1.125, range 1.100-1.150)",
		"backup-job / usual recipe:", "0.900  (target <= 0.90: met",
		"backup-job, one dir / etcdctl snapshot save: 1.000  (target <= 1.05: met",
		// 10 ms p99 is 4x the idle 2.5 ms; the max of 25 ms misses 20 ms
		"backup-job: put p99 10.0 ms = 4.0x idle (target <= 4x: met); max 25.0 ms (target <= 20 ms: MISSED)",
		"backup-job, one dir: put p99 6.0 ms = 2.4x idle (target <= 4x: met); max 9.0 ms (target <= 20 ms: met)",
		"memory limit: backup-job, limit 512 MiB: cgroup peak anon 40.0 MiB, file-backed 470.0 MiB, total 512.0 MiB; OOM kills 0; verify 4.00s (median)",
		"usual recipe, median per step (s): save 8.00, cp 1.00, sync 0.50, status 0.50",
		"backup-job, median per step (s): snapshot 8.00, verify 1.00",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	// The run under a memory limit is reported, but not against the
	// targets, which are for unconstrained runs.
	if strings.Contains(got, "limit 512 MiB / etcdctl") || strings.Contains(got, "limit 512 MiB: put p99") {
		t.Errorf("memory-limited run compared against the targets:\n%s", got)
	}
}
