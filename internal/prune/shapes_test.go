package prune_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/prune"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

// shaped is a file of shape s written ageDays ago.
func shaped(s snapname.Shape, ageDays float64) destination.Object {
	t := now.Add(-time.Duration(ageDays * float64(24*time.Hour)))
	return destination.Object{Name: snapname.Format(prefix, t, s), ModTime: t}
}

var (
	plain  = snapname.Plain
	zst    = snapname.Shape{Kind: snapname.Snapshot, Compressed: true}
	age    = snapname.Shape{Kind: snapname.Snapshot, Encrypted: true}
	zstAge = snapname.Shape{Kind: snapname.Snapshot, Compressed: true, Encrypted: true}
	bundle = snapname.Shape{Kind: snapname.Bundle, Compressed: true, Encrypted: true}
	tarZst = snapname.Shape{Kind: snapname.Bundle, Compressed: true}
)

func TestSelectAcrossShapes(t *testing.T) {
	day := 24 * time.Hour
	sidecar := shaped(zstAge, 9)
	sidecar.Name += snapname.SidecarExt
	cases := []struct {
		name    string
		objs    []destination.Object
		policy  prune.Policy
		deleted []destination.Object
	}{
		{
			// Encryption switched on two days ago: the old plain snapshots
			// still count towards keep-min, so the newest of them stays.
			name:    "keep-min counts every shape",
			objs:    []destination.Object{shaped(zstAge, 0), shaped(zstAge, 1), shaped(plain, 8), shaped(plain, 9), shaped(plain, 10)},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 3},
			deleted: []destination.Object{shaped(plain, 10), shaped(plain, 9)},
		},
		{
			name:    "every snapshot shape is pruned by age",
			objs:    []destination.Object{shaped(plain, 0), shaped(zst, 6), shaped(age, 7), shaped(zstAge, 8)},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 1},
			deleted: []destination.Object{shaped(zstAge, 8), shaped(age, 7), shaped(zst, 6)},
		},
		{
			name:    "snapshots: bundles and sidecars are never chosen nor counted",
			objs:    []destination.Object{shaped(zstAge, 0), shaped(bundle, 0), shaped(bundle, 8), shaped(zstAge, 8), sidecar},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 1},
			deleted: []destination.Object{shaped(zstAge, 8)},
		},
		{
			name:    "bundles: the same rules on their own",
			objs:    []destination.Object{shaped(zstAge, 0), shaped(bundle, 0), shaped(tarZst, 6), shaped(bundle, 8), shaped(zstAge, 8)},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 2, Kind: snapname.Bundle, Keep: shaped(bundle, 0).Name},
			deleted: []destination.Object{shaped(bundle, 8)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.policy.Prefix = prefix
			got := names(prune.Select(tc.objs, tc.policy, now))
			if want := names(tc.deleted); !reflect.DeepEqual(got, want) {
				t.Fatalf("deleted %v, want %v", got, want)
			}
		})
	}
}
