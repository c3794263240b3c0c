package prune_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/prune"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

var now = time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)

const prefix = "etcd-snapshot-"

// snap is a snapshot written ageDays ago, named and timed accordingly.
func snap(ageDays float64) destination.Object {
	t := now.Add(-time.Duration(ageDays * float64(24*time.Hour)))
	return destination.Object{Name: name(t), ModTime: t}
}

func name(t time.Time) string { return snapname.Format(prefix, t, snapname.Plain) }

func obj(name string, ageDays float64) destination.Object {
	return destination.Object{Name: name, ModTime: now.Add(-time.Duration(ageDays * float64(24*time.Hour)))}
}

func names(objs []destination.Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

func TestSelect(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		name    string
		objs    []destination.Object
		policy  prune.Policy
		deleted []string
	}{
		{
			name:    "daily snapshots, 5 days kept",
			objs:    []destination.Object{snap(0), snap(1), snap(2), snap(3), snap(4), snap(5.1), snap(6), snap(9)},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 3},
			deleted: names([]destination.Object{snap(9), snap(6), snap(5.1)}),
		},
		{
			name:    "exactly at the retention age is kept",
			objs:    []destination.Object{snap(0), snap(1), snap(2), snap(5)},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 1},
			deleted: []string{},
		},
		{
			name:    "keep-min when everything is old",
			objs:    []destination.Object{snap(30), snap(31), snap(32), snap(33), snap(34)},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 3},
			deleted: names([]destination.Object{snap(34), snap(33)}),
		},
		{
			name:    "fewer snapshots than keep-min",
			objs:    []destination.Object{snap(30), snap(40)},
			policy:  prune.Policy{Retention: day, KeepMin: 3},
			deleted: []string{},
		},
		{
			name: "foreign files and other shapes are never chosen",
			objs: []destination.Object{
				snap(0), snap(10),
				obj("etcd-snapshot-20200101T000000Z.db.bak", 100),
				obj("etcd-snapshot-20200101T000000Z.db.partial-abc", 100),
				obj(".etcd-snapshot-20200101T000000Z.db.partial-abc", 100),
				obj("etcd-snapshot-2020-01-01.db", 100),
				obj("etcd-snapshot-20201301T000000Z.db", 100), // month 13
				obj("etcd-snapshot-20200101T000000Z.DB", 100),
				obj("etcd-snapshot-latest.db", 100),
				obj("other-20200101T000000Z.db", 100),
				obj("xetcd-snapshot-20200101T000000Z.db", 100),
				obj("etcd-snapshot-20200101T000000Z.db/", 100),
				obj("notes.txt", 100),
			},
			policy:  prune.Policy{Retention: day, KeepMin: 1},
			deleted: names([]destination.Object{snap(10)}),
		},
		{
			name: "the snapshot just written is kept even when it looks old",
			objs: []destination.Object{
				snap(0), snap(1), obj(name(now), 50),
			},
			policy:  prune.Policy{Retention: day, KeepMin: 1, Keep: name(now)},
			deleted: []string{},
		},
		{
			name: "future modification times count as new and push nothing out early",
			objs: []destination.Object{
				obj(name(now.Add(-48*time.Hour)), -3), // clock skew: written "in 3 days"
				snap(0.5), snap(2), snap(3),
			},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 2},
			deleted: []string{},
		},
		{
			name: "order by modification time, not by name",
			objs: []destination.Object{
				obj(name(now.Add(-100*day)), 0), // copied in today
				snap(7), snap(8),
			},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 1},
			deleted: names([]destination.Object{snap(8), snap(7)}),
		},
		{
			name: "equal modification times: the later name counts as newer",
			objs: []destination.Object{
				obj(name(now.Add(-10*day)), 10), obj(name(now.Add(-9*day)), 10), // copied in together
			},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 1},
			deleted: []string{name(now.Add(-10 * day))},
		},
		{
			name: "equal modification times, given newest first",
			objs: []destination.Object{
				obj(name(now.Add(-9*day)), 10), obj(name(now.Add(-10*day)), 10),
			},
			policy:  prune.Policy{Retention: 5 * day, KeepMin: 1},
			deleted: []string{name(now.Add(-10 * day))},
		},
		{
			name:    "other prefix",
			objs:    []destination.Object{obj("etcd-snapshot-20200101T000000Z.db", 100), obj("prod-20200101T000000Z.db", 100), obj("prod-20260101T000000Z.db", 90)},
			policy:  prune.Policy{Prefix: "prod-", Retention: day, KeepMin: 1},
			deleted: []string{"prod-20200101T000000Z.db"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.policy.Prefix == "" {
				c.policy.Prefix = prefix
			}
			got := names(prune.Select(c.objs, c.policy, now))
			if !reflect.DeepEqual(got, c.deleted) {
				t.Fatalf("deleted %v, want %v", got, c.deleted)
			}
		})
	}
}
