// Package metrics turns the outcome of a backup run or a restore drill into
// Prometheus metrics and publishes them the way batch jobs do: pushed to a
// Pushgateway, and/or written for node-exporter's textfile collector.
//
// Both places are updated with "add" semantics: a metric family this run
// reports replaces the one stored before, and every other family is left as
// it was. A run that did not succeed does not report the success timestamp
// (nor the snapshot's size and revision), so the last success survives a
// failed run; and a backup and a drill publishing to the same place do not
// erase each other's metrics.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/etcd-backup/etcd-backup/internal/backup"
)

// Metric names. Timestamps are Unix seconds of when the run finished; on a
// successful run the last-run and last-success timestamps are equal, so
// last_success < last_run means the latest run failed.
const (
	LastRun            = "etcd_backup_last_run_timestamp_seconds"
	LastSuccess        = "etcd_backup_last_success_timestamp_seconds"
	SnapshotSize       = "etcd_backup_snapshot_size_bytes"
	SnapshotRevision   = "etcd_backup_snapshot_revision"
	SnapshotKeys       = "etcd_backup_snapshot_keys"
	StepDuration       = "etcd_backup_step_duration_seconds"
	DestinationSuccess = "etcd_backup_destination_success"
	Pruned             = "etcd_backup_pruned_total"

	DrillLastRun     = "etcd_backup_drill_last_run_timestamp_seconds"
	DrillLastSuccess = "etcd_backup_drill_last_success_timestamp_seconds"
	DrillDuration    = "etcd_backup_drill_duration_seconds"
)

// Set is the metrics of one run, ready to be published.
type Set struct {
	reg *prometheus.Registry
}

// Gatherer gives the metrics in the form client_golang's writers take.
func (s *Set) Gatherer() prometheus.Gatherer { return s.reg }

func newSet() *Set { return &Set{reg: prometheus.NewPedanticRegistry()} }

func (s *Set) gauge(name, help string, v float64) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	g.Set(v)
	s.reg.MustRegister(g)
}

func (s *Set) gaugeVec(name, help, label string, values map[string]float64) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{label})
	for k, v := range values {
		g.WithLabelValues(k).Set(v)
	}
	s.reg.MustRegister(g)
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// FromSummary is the metrics of one backup run that finished at finished.
func FromSummary(sum backup.Summary, finished time.Time) *Set {
	s := newSet()
	s.gauge(LastRun, "When the latest backup run finished, successful or not (Unix seconds).", unix(finished))
	if sum.Status == backup.StatusOK {
		s.gauge(LastSuccess, "When the latest successful backup run finished (Unix seconds).", unix(finished))
	}
	if snap := sum.Snapshot; snap != nil {
		// Kept from the last verified snapshot when a run fails before one.
		s.gauge(SnapshotSize, "Size of the latest verified snapshot.", float64(snap.Size))
		s.gauge(SnapshotRevision, "etcd revision of the latest verified snapshot.", float64(snap.Revision))
		s.gauge(SnapshotKeys, "Keys in the latest verified snapshot, as etcdutl snapshot status counts them.", float64(snap.TotalKey))
	}
	if len(sum.Seconds) > 0 {
		s.gaugeVec(StepDuration, "Duration of each step of the latest backup run.", "step", sum.Seconds)
	}
	s.destinations(sum)
	return s
}

// destinations reports each destination's outcome. When no destination was
// reached (the run failed before the copy), the outcomes of the previous run
// are left in place: they are still the latest news about those destinations.
func (s *Set) destinations(sum backup.Summary) {
	success, pruned := map[string]float64{}, map[string]float64{}
	reached := false
	for _, d := range sum.Destinations {
		if d.Status != backup.StatusSkipped {
			reached = true
		}
		success[d.Destination] = 0
		if d.Status == backup.StatusOK {
			success[d.Destination] = 1
		}
		if !sum.DryRun {
			pruned[d.Destination] += float64(d.PrunedCount)
		}
	}
	if !reached {
		return
	}
	s.gaugeVec(DestinationSuccess, "1 when the latest backup run stored its snapshot in the destination, 0 when it failed there.", "destination", success)
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: Pruned,
		Help: "Snapshots the latest backup run deleted from the destination (0 in a dry run).",
	}, []string{"destination"})
	for d, n := range pruned {
		c.WithLabelValues(d).Add(n)
	}
	s.reg.MustRegister(c)
}

// Drill is the outcome of one restore drill.
type Drill struct {
	Success  bool
	Duration time.Duration
	Finished time.Time
}

// FromDrill is the metrics of one restore drill.
func FromDrill(d Drill) *Set {
	s := newSet()
	s.gauge(DrillLastRun, "When the latest restore drill finished, successful or not (Unix seconds).", unix(d.Finished))
	if d.Success {
		s.gauge(DrillLastSuccess, "When the latest successful restore drill finished (Unix seconds).", unix(d.Finished))
	}
	s.gauge(DrillDuration, "Duration of the latest restore drill.", d.Duration.Seconds())
	return s
}
