// Package drill proves that a stored snapshot restores: it fetches the
// newest one from a destination, restores it into a scratch directory with
// etcd's own restore code, serves it with a throwaway single-member etcd
// that listens on 127.0.0.1 only, and reads it back. The scratch directory
// is removed whatever happens.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/restore"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// Steps of a drill, as named in the summary.
const (
	StepFetch   = "fetch"
	StepRestore = "restore"
	StepStart   = "start"
	StepCheck   = "check"
)

// Fetched is a snapshot copied out of a destination and verified there
// against the sha256 stored with it.
type Fetched struct {
	Path   string        `json:"path"`
	SHA256 string        `json:"sha256"`
	Size   int64         `json:"size"`
	Status verify.Status `json:"status"`
}

// FetchFunc copies the snapshot name ("latest" for the newest) from the
// destination into dir and verifies it.
type FetchFunc func(ctx context.Context, name, dir string) (Fetched, error)

// Options of one drill.
type Options struct {
	// From is the destination drilled, as shown (credentials redacted).
	From string
	// Snapshot is the name to fetch; "latest" for the newest.
	Snapshot string
	// WorkDir is where the scratch directory is made.
	WorkDir string
	// Kubernetes requires /registry/namespaces/kube-system in the snapshot.
	Kubernetes bool
	// Username and Password, when the snapshot's etcd had auth enabled.
	Username, Password string
	// PageSize is the keys read per range request.
	PageSize int64
	// StartTimeout bounds the throwaway etcd's start.
	StartTimeout time.Duration
}

// Deps are what a drill runs with.
type Deps struct {
	Fetch FetchFunc
	Log   *slog.Logger
	// EtcdLog receives etcd's own log lines (restore and server).
	EtcdLog *zap.Logger
	Stdout  io.Writer
	// TerminationLog is where the summary also goes when the path exists.
	TerminationLog string
	Now            func() time.Time
}

// Run runs one drill and prints its summary. The error is the first
// failure; the summary says which step it was.
func Run(ctx context.Context, o Options, d Deps) (Summary, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	sum := newSummary(o, d.Now())
	err := run(ctx, o, d, &sum)
	if err != nil {
		// The summary goes to the termination message: no credential in it.
		sum.Status, sum.Error = StatusFailed, location.RedactText(err.Error())
	}
	if werr := sum.print(d.Stdout); werr != nil && err == nil {
		err = werr
	}
	if terr := sum.writeTermination(d.TerminationLog); terr != nil {
		d.Log.Warn("could not write termination message", "error", terr.Error())
	}
	return sum, err
}

func run(ctx context.Context, o Options, d Deps, sum *Summary) (err error) {
	scratch, err := os.MkdirTemp(o.WorkDir, "etcd-backup-drill-")
	if err != nil {
		sum.FailedStep = StepFetch
		return fmt.Errorf("making a scratch directory in %s: %w", o.WorkDir, err)
	}
	defer func() {
		// A snapshot holds every Secret of the cluster: nothing of it stays.
		if rerr := os.RemoveAll(scratch); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the scratch directory %s: %w", scratch, rerr))
		}
	}()
	d.Log.Info("drill starting", "from", o.From, "snapshot", o.Snapshot, "scratch", scratch)

	var f Fetched
	if err := sum.step(ctx, StepFetch, d.Now, func() (err error) {
		f, err = d.Fetch(ctx, o.Snapshot, filepath.Join(scratch, "fetched"))
		return err
	}); err != nil {
		return err
	}
	sum.Snapshot = &SnapshotInfo{Name: filepath.Base(f.Path), Size: f.Size, SHA256: f.SHA256,
		Revision: f.Status.Revision, TotalKeys: f.Status.TotalKey}
	d.Log.Info("fetched and verified", "snapshot", sum.Snapshot.Name, "size", f.Size, "revision", f.Status.Revision)

	dataDir := filepath.Join(scratch, "member")
	if err := sum.step(ctx, StepRestore, d.Now, func() error {
		return restoreInto(ctx, f.Path, dataDir, d.EtcdLog)
	}); err != nil {
		return err
	}
	// The fetched copy is no longer needed: the restored member has all of
	// it, and the scratch volume need not hold it twice.
	if err := os.Remove(f.Path); err != nil {
		return fmt.Errorf("removing the fetched copy %s: %w", f.Path, err)
	}

	var srv *server
	if err := sum.step(ctx, StepStart, d.Now, func() (err error) {
		srv, err = start(ctx, dataDir, o.StartTimeout, d.EtcdLog)
		return err
	}); err != nil {
		return err
	}
	defer srv.close()
	d.Log.Info("throwaway etcd started", "endpoint", srv.endpoint)

	return sum.step(ctx, StepCheck, d.Now, func() error {
		res, err := check(ctx, srv, o, f.Status)
		sum.Checks = &res
		return err
	})
}

// restoreInto writes a single-member data directory with etcd's restore
// code. Its peer URL is never dialled: the member is alone.
func restoreInto(ctx context.Context, snap, dataDir string, log *zap.Logger) error {
	_, err := restore.Run(ctx, restore.Options{
		Snapshot:                 snap,
		Name:                     memberName,
		InitialAdvertisePeerURLs: []string{loopback},
		InitialClusterToken:      "etcd-backup-drill",
		DataDir:                  dataDir,
	}, log)
	return err
}
