// Package prune decides which snapshots of one destination are past
// retention. It only ever chooses names of the exact shape this tool writes,
// keeps the newest ones, and never the snapshot just written.
package prune

import (
	"regexp"
	"sort"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/destination"
)

// TimeLayout is the UTC time in a snapshot name: sortable, no colons.
const TimeLayout = "20060102T150405Z"

// Suffix ends every snapshot name.
const Suffix = ".db"

// Name is the snapshot name for a time.
func Name(prefix string, t time.Time) string {
	return prefix + t.UTC().Format(TimeLayout) + Suffix
}

// Matcher reports whether a name is one of this tool's snapshots.
func Matcher(prefix string) func(string) bool {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `[0-9]{8}T[0-9]{6}Z` + regexp.QuoteMeta(Suffix) + `$`)
	return func(name string) bool {
		if !re.MatchString(name) {
			return false
		}
		// A well-shaped name must also be a real time (no month 13).
		_, err := time.Parse(TimeLayout, name[len(prefix):len(name)-len(Suffix)])
		return err == nil
	}
}

// Policy is how long snapshots are kept.
type Policy struct {
	Prefix    string
	Retention time.Duration
	KeepMin   int
	// Keep is the snapshot this run wrote: never deleted.
	Keep string
}

// Select returns the objects to delete, oldest first. Objects are ordered by
// modification time (name breaks ties); the KeepMin newest of this tool's
// snapshots stay whatever their age; the rest go once older than Retention.
// A modification time in the future counts as new, so clock skew can only
// keep a snapshot longer, never remove one early.
func Select(objs []destination.Object, p Policy, now time.Time) []destination.Object {
	own := Matcher(p.Prefix)
	var mine []destination.Object
	for _, o := range objs {
		if own(o.Name) {
			mine = append(mine, o)
		}
	}
	sort.Slice(mine, func(i, j int) bool {
		if !mine[i].ModTime.Equal(mine[j].ModTime) {
			return mine[i].ModTime.After(mine[j].ModTime)
		}
		return mine[i].Name > mine[j].Name
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
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// StaleAfter is how long a temporary file must have gone unmodified before it
// counts as left behind by a run that was killed (SIGKILL, OOM, node crash).
// A live run writes to its temporary file continuously and commits it within
// minutes of the last write.
const StaleAfter = time.Hour

// Stale returns this tool's own temporary files (".<snapshot name>.partial-<hex>")
// that have not been modified for StaleAfter.
func Stale(objs []destination.Object, prefix string, now time.Time) []destination.Object {
	re := regexp.MustCompile(`^\.` + regexp.QuoteMeta(prefix) + `[0-9]{8}T[0-9]{6}Z` + regexp.QuoteMeta(Suffix) +
		regexp.QuoteMeta(destination.TempMarker) + `[0-9a-f]{12}$`)
	var out []destination.Object
	for _, o := range objs {
		if re.MatchString(o.Name) && now.Sub(o.ModTime) > StaleAfter {
			out = append(out, o)
		}
	}
	return out
}
