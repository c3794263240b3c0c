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

// NewSet is an empty set. The backup run's metrics are built in package
// backup, so that this package (which the restore binary links for the
// drill) does not pull in the storage clients.
func NewSet() *Set { return &Set{reg: prometheus.NewPedanticRegistry()} }

// Gauge adds a gauge without labels.
func (s *Set) Gauge(name, help string, v float64) { s.gauge(name, help, v) }

// GaugeVec adds a gauge with one label.
func (s *Set) GaugeVec(name, help, label string, values map[string]float64) {
	s.gaugeVec(name, help, label, values)
}

// Register adds any other collector.
func (s *Set) Register(c prometheus.Collector) { s.reg.MustRegister(c) }

// Unix is a time as Prometheus timestamps are written: Unix seconds.
func Unix(t time.Time) float64 { return unix(t) }

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

// Drill is the outcome of one restore drill.
type Drill struct {
	Success  bool
	Duration time.Duration
	Finished time.Time
}

// FromDrill is the metrics of one restore drill.
func FromDrill(d Drill) *Set {
	s := NewSet()
	s.gauge(DrillLastRun, "When the latest restore drill finished, successful or not (Unix seconds).", unix(d.Finished))
	if d.Success {
		s.gauge(DrillLastSuccess, "When the latest successful restore drill finished (Unix seconds).", unix(d.Finished))
	}
	s.gauge(DrillDuration, "Duration of the latest restore drill.", d.Duration.Seconds())
	return s
}
