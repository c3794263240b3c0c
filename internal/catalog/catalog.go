// Package catalog finds this tool's snapshots across destinations: every one
// of them for `list`, or the one a command names (or the newest) for `fetch`
// and `restore`. It reads names and stored attributes only, never contents,
// and ignores every file of a shape the tool does not write.
package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

// Latest names the newest snapshot in place of a name.
const Latest = "latest"

// Entry is one snapshot in one destination.
type Entry struct {
	Name        string    `json:"name"`
	Time        time.Time `json:"time"` // when it was taken, from its name
	ModTime     time.Time `json:"mod_time"`
	Size        int64     `json:"size"`
	Destination string    `json:"destination"`
	Shape       string    `json:"shape"` // what follows the time: .db, .db.zst, .bundle.tar.age, ...
	SHA256      string    `json:"sha256,omitempty"`
	Revision    int64     `json:"revision,omitempty"`
	EtcdVersion string    `json:"etcd_version,omitempty"`

	spec  string // the destination as configured, to open it again
	shape snapname.Shape
}

// Opener opens a destination for reading (destination.OpenReader).
type Opener func(ctx context.Context, spec string) (destination.Reader, error)

// Catalog is the destinations to look in and the names that count.
type Catalog struct {
	Specs  []string
	Prefix string
	Open   Opener
}

// DestinationError is a destination that could not be read; the others
// were still read.
type DestinationError struct {
	Destination string
	Err         error
}

func (e *DestinationError) Error() string {
	return fmt.Sprintf("destination %s unreadable: %v", e.Destination, e.Err)
}

func (e *DestinationError) Unwrap() error { return e.Err }

// List returns the snapshots of every destination, newest first (then in the
// order of the destinations). A destination that cannot be read is reported
// in the error, joined with the others, and the rest are still listed.
func (c Catalog) List(ctx context.Context) ([]Entry, error) {
	var (
		all  []Entry
		errs []error
	)
	for _, spec := range c.Specs {
		entries, err := c.listOne(ctx, spec)
		if err != nil {
			errs = append(errs, &DestinationError{Destination: location.Redact(spec), Err: err})
			continue
		}
		all = append(all, entries...)
	}
	slices.SortStableFunc(all, func(a, b Entry) int { return b.Time.Compare(a.Time) })
	return all, errors.Join(errs...)
}

func (c Catalog) listOne(ctx context.Context, spec string) ([]Entry, error) {
	r, err := c.Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	objs, err := r.List(ctx, c.Prefix)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, o := range objs {
		n, ok := snapname.Parse(c.Prefix, o.Name)
		if !ok {
			continue
		}
		a, err := r.Attributes(ctx, o.Name)
		if errors.Is(err, destination.ErrNotFound) {
			continue // pruned since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{
			Name: o.Name, Time: n.Time, ModTime: a.ModTime, Size: a.Size, Destination: r.String(), Shape: n.Suffix(),
			SHA256: a.SHA256, Revision: a.Revision, EtcdVersion: a.EtcdVersion, spec: spec, shape: n.Shape,
		})
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(b.Name, a.Name) })
	return out, nil
}

// Found is a snapshot chosen by Find, with its destination still open:
// the caller reads it and closes it.
type Found struct {
	Entry
	Attributes destination.Attributes
	Reader     destination.Reader
}

// Find returns the snapshot called name, or the newest one when name is
// Latest, from the first destination that has it. Destinations that cannot
// be read are passed over and returned in skipped, so that the caller can
// say that "latest" was chosen without them.
func (c Catalog) Find(ctx context.Context, name string) (found Found, skipped error, err error) {
	if name != Latest {
		n, ok := snapname.Parse(c.Prefix, name)
		if !ok || n.Kind != snapname.Snapshot {
			return Found{}, nil, cli.Usagef("%q is not a snapshot name of this tool (%sYYYYMMDDTHHMMSSZ%s) nor %q", name, c.Prefix, snapname.Plain.Suffix(), Latest)
		}
	}
	entries, skipped := c.List(ctx)
	var pick *Entry
	for i := range entries {
		if entries[i].shape.Kind == snapname.Snapshot && (name == Latest || entries[i].Name == name) {
			pick = &entries[i]
			break
		}
	}
	if pick == nil {
		what := fmt.Sprintf("no snapshot named %s", name)
		if name == Latest {
			what = "no snapshot"
		}
		if skipped != nil {
			return Found{}, skipped, fmt.Errorf("%s in the readable destinations (%v)", what, skipped)
		}
		return Found{}, nil, fmt.Errorf("%s in %d destination(s) with prefix %q", what, len(c.Specs), c.Prefix)
	}
	r, err := c.Open(ctx, pick.spec)
	if err != nil {
		return Found{}, skipped, fmt.Errorf("opening %s again to read %s: %w", pick.Destination, pick.Name, err)
	}
	a, err := r.Attributes(ctx, pick.Name)
	if err != nil {
		r.Close()
		return Found{}, skipped, err
	}
	return Found{Entry: *pick, Attributes: a, Reader: r}, skipped, nil
}
