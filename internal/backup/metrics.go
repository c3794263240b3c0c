package backup

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/etcd-backup/etcd-backup/internal/metrics"
)

// Metrics is the metrics of one backup run that finished at finished.
func Metrics(sum Summary, finished time.Time) *metrics.Set {
	s := metrics.NewSet()
	s.Gauge(metrics.LastRun, "When the latest backup run finished, successful or not (Unix seconds).", metrics.Unix(finished))
	if sum.Status == StatusOK {
		s.Gauge(metrics.LastSuccess, "When the latest successful backup run finished (Unix seconds).", metrics.Unix(finished))
	}
	if snap := sum.Snapshot; snap != nil {
		// Kept from the last verified snapshot when a run fails before one.
		// The database's own size, also when it is stored compressed or
		// encrypted: switching those on must not look like a shrinking etcd.
		size := snap.Size
		if snap.PlainSize > 0 {
			size = snap.PlainSize
		}
		s.Gauge(metrics.SnapshotSize, "Size of the latest verified snapshot (the database, before compression).", float64(size))
		s.Gauge(metrics.SnapshotRevision, "etcd revision of the latest verified snapshot.", float64(snap.Revision))
		s.Gauge(metrics.SnapshotKeys, "Keys in the latest verified snapshot, as etcdutl snapshot status counts them.", float64(snap.TotalKey))
	}
	if len(sum.Seconds) > 0 {
		s.GaugeVec(metrics.StepDuration, "Duration of each step of the latest backup run.", "step", sum.Seconds)
	}
	destinationMetrics(s, sum)
	return s
}

// destinationMetrics reports each destination's outcome. When no destination was
// reached (the run failed before the copy), the outcomes of the previous run
// are left in place: they are still the latest news about those destinations.
func destinationMetrics(s *metrics.Set, sum Summary) {
	success, pruned := map[string]float64{}, map[string]float64{}
	reached := false
	for _, d := range sum.Destinations {
		if d.Status != StatusSkipped {
			reached = true
		}
		success[d.Destination] = 0
		if d.Status == StatusOK {
			success[d.Destination] = 1
		}
		if !sum.DryRun {
			pruned[d.Destination] += float64(d.PrunedCount)
		}
	}
	if !reached {
		return
	}
	s.GaugeVec(metrics.DestinationSuccess, "1 when the latest backup run stored its snapshot in the destination, 0 when it failed there.", "destination", success)
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metrics.Pruned,
		Help: "Snapshots the latest backup run deleted from the destination (0 in a dry run).",
	}, []string{"destination"})
	for d, n := range pruned {
		c.WithLabelValues(d).Add(n)
	}
	s.Register(c)
}
