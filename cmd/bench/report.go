//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
)

// roundLine is what one run printed as it finished.
func roundLine(c contender, r result) string {
	line := fmt.Sprintf("%7.2fs  cpu %6.2fs  peak RssAnon %6.1f MiB", r.seconds, r.cpu, float64(r.peakKB)/1024)
	if r.lat.n > 0 || r.lat.failed > 0 {
		line += fmt.Sprintf("  put p50 %.1f p99 %.1f max %.1f ms", ms(r.lat.p50), ms(r.lat.p99), ms(r.lat.max))
	}
	if c.kind != kindIdle {
		line += fmt.Sprintf("  cache left %.0f MiB", float64(r.cached)/(1<<20))
	}
	if r.mem != nil {
		line += fmt.Sprintf("  cgroup peak anon %.0f file %.0f MiB oom %d", mib(r.mem.PeakAnon), mib(r.mem.PeakFile), r.mem.OOMKills)
	}
	return line + "  " + stepLine(r.steps)
}

func stepLine(steps []stepResult) string {
	if len(steps) == 1 {
		if s, err := summary(result{steps: steps}); err == nil {
			return fmt.Sprintf("(snapshot %.2f verify %.2f copy %.2f)", s.Seconds["snapshot"], s.Seconds["verify"], s.Seconds["copy"])
		}
		return ""
	}
	var parts []string
	for _, s := range steps {
		parts = append(parts, fmt.Sprintf("%s %.2f", s.name, s.seconds))
	}
	return "(" + strings.Join(parts, " ") + ")"
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// pairedRatio is the median over rounds of a's time over b's in the same
// round, which drifts in the machine's load affect less than a ratio of
// medians; also the smallest and largest of those ratios.
func pairedRatio(a, b []result) (med, lo, hi float64) {
	var rs []float64
	for r := range min(len(a), len(b)) {
		if b[r].seconds > 0 {
			rs = append(rs, a[r].seconds/b[r].seconds)
		}
	}
	if len(rs) == 0 {
		return 0, 0, 0
	}
	return median(rs), slices.Min(rs), slices.Max(rs)
}

// stats is one contender's rounds, summarised.
type stats struct {
	secs, cpu              float64 // medians
	minSecs, maxSecs       float64
	peakKB                 int64
	p50, p99, p99lo, p99hi float64 // ms; medians and range over rounds
	maxMs                  float64 // the largest over all rounds
	failed                 int
	cachedMiB, dirtyMiB    float64 // the largest over all rounds
	snapBytes              int64
	mem                    *memStats
}

type memStats struct {
	anonMiB, fileMiB, totalMiB float64 // the largest over all rounds
	oomKills                   int
	verify                     float64 // median seconds of the verify step
}

func summariseRounds(rs []result) stats {
	var st stats
	var secs, cpus, p50s, p99s []float64
	for _, r := range rs {
		secs = append(secs, r.seconds)
		cpus = append(cpus, r.cpu)
		st.peakKB = max(st.peakKB, r.peakKB)
		if r.lat.n > 0 {
			p50s = append(p50s, ms(r.lat.p50))
			p99s = append(p99s, ms(r.lat.p99))
			st.maxMs = max(st.maxMs, ms(r.lat.max))
		}
		st.failed += r.lat.failed
		st.cachedMiB = max(st.cachedMiB, mib(r.cached))
		st.dirtyMiB = max(st.dirtyMiB, mib(r.dirty))
		st.snapBytes = max(st.snapBytes, r.snapBytes)
	}
	if len(secs) > 0 {
		st.secs, st.cpu, st.minSecs, st.maxSecs = median(secs), median(cpus), slices.Min(secs), slices.Max(secs)
	}
	if len(p99s) > 0 {
		st.p50, st.p99, st.p99lo, st.p99hi = median(p50s), median(p99s), slices.Min(p99s), slices.Max(p99s)
	}
	st.mem = summariseMemory(rs)
	return st
}

func summariseMemory(rs []result) *memStats {
	var m *memStats
	var verify []float64
	for _, r := range rs {
		if r.mem == nil {
			continue
		}
		if m == nil {
			m = &memStats{}
		}
		m.anonMiB = max(m.anonMiB, mib(r.mem.PeakAnon))
		m.fileMiB = max(m.fileMiB, mib(r.mem.PeakFile))
		m.totalMiB = max(m.totalMiB, mib(r.mem.PeakTotal))
		m.oomKills += r.mem.OOMKills
		if s, err := summary(r); err == nil {
			verify = append(verify, s.Seconds["verify"])
		}
	}
	if m != nil {
		m.verify = median(verify)
	}
	return m
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// report prints the table of every contender, the time per step, and the
// targets.
func report(w io.Writer, cs []contender, results [][]result, dropped bool, load string) {
	st := make([]stats, len(cs))
	var snapBytes int64
	for i := range cs {
		st[i] = summariseRounds(results[i])
		snapBytes = max(snapBytes, st[i].snapBytes)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "snapshot %d bytes (%s); %d rounds; page cache %s; load %s\n", snapBytes, humanize.IBytes(uint64(snapBytes)), len(results[0]),
		map[bool]string{true: "dropped before each run (then the member's db read back in)", false: "NOT dropped (no permission): only synced"}[dropped], load)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "contender\tmedian s\tmin s\tmax s\tMB/s\tCPU s\tpeak RssAnon MiB\tput p50 ms\tput p99 ms (range)\tput max ms\tcache left MiB (dirty)\t")
	for i, c := range cs {
		s := st[i]
		mbs, cache := "-", "-"
		if c.kind != kindIdle {
			mbs = fmt.Sprintf("%.0f", float64(snapBytes)/1e6/s.secs)
			cache = fmt.Sprintf("%.0f (%.0f)", s.cachedMiB, s.dirtyMiB)
		}
		lat := "-\t-\t-"
		if s.p99 > 0 {
			lat = fmt.Sprintf("%.1f\t%.1f (%.1f-%.1f)\t%.1f", s.p50, s.p99, s.p99lo, s.p99hi, s.maxMs)
			if s.failed > 0 {
				lat += fmt.Sprintf(" +%d failed", s.failed)
			}
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%s\t%.2f\t%.1f\t%s\t%s\t\n", c.name, s.secs, s.minSecs, s.maxSecs, mbs, s.cpu, float64(s.peakKB)/1024, lat, cache)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "  (cache left: page cache held by the contender's files after it exited, by cachestat(2); put latency from the moment each put was due)")
	stepMedians(w, cs, results)
	for i, c := range cs {
		if m := st[i].mem; m != nil {
			fmt.Fprintf(w, "memory limit: %s: cgroup peak anon %.1f MiB, file-backed %.1f MiB, total %.1f MiB; OOM kills %d; verify %.2fs (median)\n",
				c.name, m.anonMiB, m.fileMiB, m.totalMiB, m.oomKills, m.verify)
		}
	}
	fmt.Fprintln(w)
	targets(w, cs, results, st)
}

// stepMedians prints the median time of each step, to show where the
// time goes.
func stepMedians(w io.Writer, cs []contender, results [][]result) {
	for i, c := range cs {
		if c.kind == kindIdle {
			continue
		}
		steps := map[string][]float64{}
		var order []string
		add := func(k string, v float64) {
			if _, seen := steps[k]; !seen {
				order = append(order, k)
			}
			steps[k] = append(steps[k], v)
		}
		for _, r := range results[i] {
			if c.kind == kindJob || c.kind == kindJobOne {
				if s, err := summary(r); err == nil {
					for _, k := range []string{"snapshot", "verify", "copy", "prune"} {
						add(k, s.Seconds[k])
					}
				}
				continue
			}
			for _, st := range r.steps {
				add(st.name, st.seconds)
			}
		}
		var parts []string
		for _, k := range order {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, median(steps[k])))
		}
		fmt.Fprintf(w, "  %s, median per step (s): %s\n", c.name, strings.Join(parts, ", "))
	}
}

// targets prints each ratio against its target, with the spread of the
// per-round ratios.
func targets(w io.Writer, cs []contender, results [][]result, st []stats) {
	find := func(k kind) int {
		for i, c := range cs {
			if c.kind == k && c.memLimit == 0 {
				return i
			}
		}
		return -1
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	idle, save, recipe := find(kindIdle), find(kindSave), find(kindRecipe)
	ratio := func(i, j int, name string, target float64) {
		if i < 0 || j < 0 || st[j].secs == 0 {
			return
		}
		r := st[i].secs / st[j].secs
		p, lo, hi := pairedRatio(results[i], results[j])
		fmt.Fprintf(w, "%s / %s: %.3f  (target <= %.2f: %s; per-round ratios median %.3f, range %.3f-%.3f)\n",
			cs[i].name, name, r, target, verdict(r <= target), p, lo, hi)
	}
	for i, c := range cs {
		switch {
		case c.memLimit > 0:
			continue
		case c.kind == kindJob:
			ratio(i, save, "etcdctl snapshot save", targetVsSave)
			ratio(i, recipe, "usual recipe", targetVsRecipe)
		case c.kind == kindJobOne:
			ratio(i, save, "etcdctl snapshot save", targetOneDirVsSave)
		default:
			continue
		}
		if idle >= 0 && st[idle].p99 > 0 && st[i].p99 > 0 {
			r := st[i].p99 / st[idle].p99
			fmt.Fprintf(w, "%s: put p99 %.1f ms = %.1fx idle (target <= %.0fx: %s); max %.1f ms (target <= %.0f ms: %s)\n",
				c.name, st[i].p99, r, targetP99VsIdle, verdict(r <= targetP99VsIdle), st[i].maxMs, targetMaxMs, verdict(st[i].maxMs <= targetMaxMs))
		}
		fmt.Fprintf(w, "%s: peak RssAnon %.1f MiB (target < %d MiB: %s)\n", c.name, float64(st[i].peakKB)/1024, targetAnonKB>>10, verdict(st[i].peakKB < targetAnonKB))
	}
}
