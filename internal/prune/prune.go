// Package prune decides which snapshots of one destination are past
// retention. It only ever chooses names of the exact shape this tool writes,
// keeps the newest ones, and never the snapshot just written.
package prune

import (
	"slices"
	"strings"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

// Policy is how long snapshots are kept.
type Policy struct {
	Prefix    string
	Retention time.Duration
	KeepMin   int
	// Keep is the snapshot (or bundle) this run wrote: never deleted.
	Keep string
	// Kind is what is selected: snapshots of every shape together (so
	// that KeepMin still holds when compression or encryption is switched
	// on or off), or bundles, which follow the same rules on their own.
	Kind snapname.Kind
}

// Select returns the objects to delete, oldest first. Objects are ordered by
// modification time (name breaks ties); the KeepMin newest of this tool's
// snapshots stay whatever their age; the rest go once older than Retention.
// A modification time in the future counts as new, so clock skew can only
// keep a snapshot longer, never remove one early.
func Select(objs []destination.Object, p Policy, now time.Time) []destination.Object {
	own := snapname.Matcher(p.Prefix, snapname.Shapes(p.Kind)...)
	var mine []destination.Object
	for _, o := range objs {
		if own(o.Name) {
			mine = append(mine, o)
		}
	}
	// newest first
	slices.SortFunc(mine, func(a, b destination.Object) int {
		if c := b.ModTime.Compare(a.ModTime); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	var out []destination.Object
	for i, o := range mine {
		if i < p.KeepMin || o.Name == p.Keep {
			continue
		}
		if now.Sub(o.ModTime) > p.Retention {
			out = append(out, o)
		}
	}
	// oldest first, so a run cut short has removed the least valuable ones
	slices.Reverse(out)
	return out
}
