package metrics_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/metrics"
)

// The snapshot size is the database's, whatever it is stored as: turning on
// compression must not look like a shrinking etcd to the alerts.
func TestSnapshotSizeIsThePlaintext(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap backup.SnapshotInfo
		want float64
	}{
		{"plain", backup.SnapshotInfo{Size: 4096}, 4096},
		{"compressed", backup.SnapshotInfo{Size: 1000, PlainSize: 4096, CompressionRatio: 4.1}, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "etcd_backup.prom")
			sum := backup.Summary{Status: backup.StatusOK, Snapshot: &tc.snap, Destinations: []backup.DestResult{}}
			if err := (metrics.Publisher{File: file}).Publish(context.Background(), backup.Metrics(sum, time.Now())); err != nil {
				t.Fatal(err)
			}
			check(t, "textfile", readTextfile(t, file), want{name: metrics.SnapshotSize, value: tc.want}, nil)
		})
	}
}
