// Package backup is one run of the backup job: snapshot, verify, copy,
// prune, summary. Every destination that is a local directory receives the
// snapshot while it streams in, under a temporary name; nothing gets its final
// name before the snapshot is verified, and nothing is pruned anywhere unless
// a verified snapshot was written there in this run.
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"gocloud.dev/gcerrors"

	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/prune"
	"github.com/etcd-backup/etcd-backup/internal/retry"
	"github.com/etcd-backup/etcd-backup/internal/snapshot"
	"github.com/etcd-backup/etcd-backup/internal/verify"
	"github.com/etcd-backup/etcd-backup/internal/version"
)

// Deps are what a run needs from the world, so that tests can call Run
// directly.
type Deps struct {
	Log    *slog.Logger
	Stdout io.Writer // the summary line
	// TerminationLog is where the summary also goes when the path exists;
	// empty for none.
	TerminationLog string
	Now            func() time.Time
}

// ErrFailed is returned, wrapped, when anything in the run failed; what did
// succeed is kept and the summary says which step and destination failed.
var ErrFailed = errors.New("backup failed")

type target struct {
	res      *DestResult
	dest     destination.Destination
	pending  destination.Pending // local directories only
	writeErr error
	syncErr  error // from flushing the file while it is verified
	started  time.Time
}

// Run performs one backup and prints its summary.
func Run(ctx context.Context, cfg config.Config, d Deps) (Summary, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	start := d.Now()
	name := prune.Name(cfg.NamePrefix, start)
	sum := Summary{
		Status:    StatusOK,
		Seconds:   map[string]float64{},
		DryRun:    cfg.DryRun,
		Version:   version.Version,
		StartedAt: start.UTC().Format(time.RFC3339),
	}
	r := &run{cfg: cfg, d: d, name: name, sum: &sum}
	err := r.do(ctx)
	if err != nil {
		sum.Status = StatusFailed
		if sum.Error == "" {
			sum.Error = err.Error()
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			// SIGTERM (activeDeadlineSeconds, a deleted Job) or SIGINT
			sum.Error = "interrupted by a signal: " + sum.Error
		}
	}
	for _, t := range r.targets {
		if sum.Snapshot == nil && t.res.Status == StatusOK {
			// nothing was written there: the run failed before the copy
			t.res.Status = StatusSkipped
		}
		sum.Destinations = append(sum.Destinations, *t.res)
	}
	if sum.Destinations == nil {
		sum.Destinations = []DestResult{}
	}
	line, merr := json.Marshal(sum)
	if merr != nil {
		return sum, fmt.Errorf("encoding summary: %w", merr)
	}
	fmt.Fprintln(d.Stdout, string(line))
	if terr := writeTermination(d.TerminationLog, sum); terr != nil {
		d.Log.Warn("could not write termination message", "error", terr.Error())
	}
	return sum, err
}

type run struct {
	cfg     config.Config
	d       Deps
	name    string
	sum     *Summary
	targets []*target
}

func (r *run) stepFailed(step string, err error) error {
	r.sum.FailedStep = step
	r.sum.Error = err.Error()
	return fmt.Errorf("%w: %s: %w", ErrFailed, step, err)
}

func (r *run) do(ctx context.Context) error {
	log := r.d.Log
	defer r.closeAll()
	for _, spec := range r.cfg.Destinations {
		t := &target{res: &DestResult{Destination: destination.Redact(spec), Status: StatusOK, Pruned: []string{}}}
		r.targets = append(r.targets, t)
		dest, err := destination.Open(ctx, spec)
		if err != nil {
			log.Error("destination not usable", "destination", t.res.Destination, "error", err.Error())
			t.res.fail(StepCopy, err)
			continue
		}
		t.dest = dest
		t.res.Destination = dest.String()
	}

	// snapshot: into a temporary file in every local directory at once
	t0 := time.Now()
	stream := verify.NewStream()
	var scratch destination.Pending
	defer func() {
		if scratch != nil {
			scratch.Abort()
		}
		for _, t := range r.targets {
			if t.pending != nil {
				t.pending.Abort() // no-op once committed
			}
		}
	}()
	for _, t := range r.targets {
		s, ok := t.dest.(destination.Streamer)
		if !ok || t.res.Status != StatusOK {
			continue
		}
		p, err := s.Create(r.name)
		if err != nil {
			log.Error("cannot write to destination", "destination", t.res.Destination, "error", err.Error())
			t.res.fail(StepCopy, err)
			continue
		}
		t.pending = p
		t.started = time.Now()
	}
	sinks := r.liveSinks()
	if len(sinks) == 0 {
		// No local directory to verify from (only object storage, or every
		// directory failed): the snapshot goes to a scratch file first.
		work, err := destination.OpenLocal(r.cfg.WorkDir)
		if err == nil {
			scratch, err = work.Create(r.name)
		}
		if err != nil {
			return r.stepFailed(StepSnapshot, fmt.Errorf("no destination directory is writable and the work directory ETCD_BACKUP_WORK_DIR=%s is not either: %w", r.cfg.WorkDir, err))
		}
	}
	fan := &fanout{log: log, hash: stream, targets: sinks, scratch: scratch}
	opts := snapshot.Options{
		Endpoints: r.cfg.Endpoints, CACert: r.cfg.CACert, Cert: r.cfg.Cert, Key: r.cfg.Key,
		Username: r.cfg.Username, Password: r.cfg.Password,
		DialTimeout: time.Duration(r.cfg.DialTimeout), SnapshotTimeout: time.Duration(r.cfg.SnapshotTimeout),
		ProgressEvery: r.cfg.ProgressEvery,
	}
	// The snapshot timeout bounds all attempts together: a hung or flapping
	// etcd must not hold the Job past it.
	sctx, cancel := snapshot.WithTimeout(ctx, opts)
	defer cancel()
	var member snapshot.Member
	err := retry.Do(sctx, log, "snapshot", snapshotRetry, func(ctx context.Context) error {
		if err := r.resetSinks(fan); err != nil {
			return err
		}
		m, err := snapshot.Take(ctx, log, opts, fan)
		if m.Endpoint != "" {
			member = m
		}
		return err
	})
	stream = fan.hash
	r.sum.Seconds[StepSnapshot] = since(t0)
	if member.Endpoint != "" {
		r.sum.Etcd = &member
	}
	if err != nil {
		return r.stepFailed(StepSnapshot, err)
	}
	log.Info("snapshot received", "bytes", stream.Size(), "seconds", r.sum.Seconds[StepSnapshot])

	// verify: trailer from the stream, database from one of the files
	t0 = time.Now()
	source := fan.source()
	if source == "" {
		return r.stepFailed(StepSnapshot, errors.New("every destination failed while the snapshot was written"))
	}
	if err := stream.CheckTrailer(); err != nil {
		return r.stepFailed(StepVerify, err)
	}
	// The files go to disk while the database is checked: the fsync waits
	// for the disk, the check for the CPU. A failed fsync fails its
	// destination for good: after one, Linux may report the lost pages as
	// clean, and a second fsync would succeed.
	var flushing sync.WaitGroup
	for _, t := range r.targets {
		if s, ok := t.pending.(interface{ Sync() error }); ok && t.res.Status == StatusOK {
			flushing.Go(func() { t.syncErr = s.Sync() })
		}
	}
	st, err := verify.Database(ctx, source)
	flushing.Wait()
	r.sum.Seconds[StepVerify] = since(t0)
	if err != nil {
		return r.stepFailed(StepVerify, err)
	}
	r.sum.Snapshot = &SnapshotInfo{Name: r.name, Size: stream.Size(), SHA256: stream.SHA256(), Status: st}
	log.Info("snapshot verified", "name", r.name, "size", stream.Size(), "sha256", stream.SHA256(),
		"revision", st.Revision, "total_keys", st.TotalKey, "hash", st.Hash, "seconds", r.sum.Seconds[StepVerify])

	// copy: give the local files their final names, then upload
	t0 = time.Now()
	uploadFrom := ""
	for _, t := range r.targets {
		if t.pending == nil || t.res.Status != StatusOK {
			continue
		}
		if t.syncErr != nil {
			t.drop(t.syncErr)
			log.Error("could not store snapshot", "destination", t.res.Destination, "error", t.syncErr.Error())
			continue
		}
		if err := t.pending.Commit(); err != nil {
			log.Error("could not store snapshot", "destination", t.res.Destination, "error", err.Error())
			t.res.fail(StepCopy, err)
			continue
		}
		t.res.Seconds = since(t.started)
		if uploadFrom == "" {
			uploadFrom = localPath(t.dest, r.name)
		}
		log.Info("snapshot stored", "destination", t.res.Destination, "name", r.name)
	}
	if uploadFrom == "" && scratch != nil {
		uploadFrom = scratch.Path()
	}
	meta := destination.Metadata{SHA256: stream.SHA256(), Revision: st.Revision, EtcdVersion: member.Version, ToolVersion: version.Version}
	for _, t := range r.targets {
		up, ok := t.dest.(destination.Uploader)
		if !ok || t.res.Status != StatusOK {
			continue
		}
		if uploadFrom == "" {
			t.res.fail(StepCopy, errors.New("no verified local copy to upload from"))
			continue
		}
		t1 := time.Now()
		err := retry.Do(ctx, log, "upload to "+t.res.Destination, uploadRetry, func(ctx context.Context) error {
			_, err := up.Upload(ctx, r.name, uploadFrom, meta)
			return err
		})
		if err != nil {
			log.Error("upload failed", "destination", t.res.Destination, "error", err.Error())
			t.res.fail(StepCopy, err)
			continue
		}
		t.res.Seconds = since(t1)
		log.Info("snapshot uploaded", "destination", t.res.Destination, "name", r.name, "seconds", t.res.Seconds)
	}
	r.sum.Seconds[StepCopy] = since(t0)

	// prune: only where this run's snapshot is stored
	t0 = time.Now()
	r.prune(ctx)
	r.sum.Seconds[StepPrune] = since(t0)

	var failed []string
	step := ""
	for _, t := range r.targets {
		if t.res.Status == StatusFailed {
			failed = append(failed, t.res.Destination)
			if step == "" {
				step = t.res.FailedStep
			}
		}
	}
	if len(failed) > 0 {
		return r.stepFailed(step, fmt.Errorf("%d of %d destinations failed: %v", len(failed), len(r.targets), failed))
	}
	return nil
}

func (r *run) prune(ctx context.Context) {
	log := r.d.Log
	policy := prune.Policy{Prefix: r.cfg.NamePrefix, Retention: time.Duration(r.cfg.Retention), KeepMin: r.cfg.KeepMin, Keep: r.name}
	now := r.d.Now()
	for _, t := range r.targets {
		if t.res.Status != StatusOK {
			log.Warn("not pruning a destination this run did not store a snapshot in", "destination", t.res.Destination)
			continue
		}
		objs, err := t.dest.List(ctx, r.cfg.NamePrefix)
		if err != nil {
			t.res.fail(StepPrune, err)
			continue
		}
		if !contains(objs, r.name) {
			// The listing must show what was just written; if it does not,
			// it cannot be trusted to decide what is old.
			t.res.fail(StepPrune, fmt.Errorf("listing does not show the snapshot %s just written; not pruning", r.name))
			continue
		}
		for _, o := range objs {
			if o.ModTime.After(now.Add(time.Minute)) {
				log.Warn("snapshot has a modification time in the future; kept", "destination", t.res.Destination, "name", o.Name, "mod_time", o.ModTime)
			}
		}
		for _, o := range prune.Select(objs, policy, now) {
			age := now.Sub(o.ModTime).Round(time.Second).String()
			if r.cfg.DryRun {
				log.Info("would prune (dry run)", "destination", t.res.Destination, "name", o.Name, "age", age)
				t.res.Pruned = append(t.res.Pruned, o.Name)
				continue
			}
			if err := t.dest.Delete(ctx, o.Name); err != nil {
				if errors.Is(err, fs.ErrNotExist) || gcerrors.Code(err) == gcerrors.NotFound {
					// another run (concurrencyPolicy: Allow) pruned it first
					log.Info("already gone", "destination", t.res.Destination, "name", o.Name)
					continue
				}
				log.Error("prune failed", "destination", t.res.Destination, "name", o.Name, "error", err.Error())
				t.res.fail(StepPrune, err)
				break
			}
			log.Info("pruned", "destination", t.res.Destination, "name", o.Name, "age", age)
			t.res.Pruned = append(t.res.Pruned, o.Name)
		}
		t.res.PrunedCount = len(t.res.Pruned)
		r.removeStale(ctx, t, now)
	}
}

// removeStale deletes temporary files that a killed run left in a local
// directory. Only exact temporary names of this tool qualify.
func (r *run) removeStale(ctx context.Context, t *target, now time.Time) {
	if _, ok := t.dest.(destination.Streamer); !ok {
		return
	}
	objs, err := t.dest.List(ctx, "."+r.cfg.NamePrefix)
	if err != nil {
		r.d.Log.Warn("cannot list temporary files", "destination", t.res.Destination, "error", err.Error())
		return
	}
	for _, o := range prune.Stale(objs, r.cfg.NamePrefix, now) {
		if r.cfg.DryRun {
			r.d.Log.Info("would remove a temporary file left by a killed run (dry run)", "destination", t.res.Destination, "name", o.Name)
			continue
		}
		if err := t.dest.Delete(ctx, o.Name); err != nil {
			r.d.Log.Warn("cannot remove a temporary file left by a killed run", "destination", t.res.Destination, "name", o.Name, "error", err.Error())
			continue
		}
		r.d.Log.Info("removed a temporary file left by a killed run", "destination", t.res.Destination, "name", o.Name)
		t.res.RemovedTemporaries = append(t.res.RemovedTemporaries, o.Name)
	}
}

// Retry bounds: a member that is restarting or a load balancer that sheds
// load gets about half a minute; see package retry for what is transient.
var (
	snapshotRetry = retry.Policy{Attempts: 4, First: time.Second, Max: 8 * time.Second}
	uploadRetry   = retry.Policy{Attempts: 3, First: 2 * time.Second, Max: 8 * time.Second}
)

// resetSinks prepares the fan-out for a (new) attempt: a fresh hash and
// empty temporary files. A directory that failed stays out.
func (r *run) resetSinks(f *fanout) error {
	if f.hash.Size() == 0 {
		return nil // first attempt
	}
	f.hash = verify.NewStream()
	for _, t := range f.targets {
		if t.writeErr != nil {
			continue
		}
		if err := t.pending.Reset(); err != nil {
			t.drop(err)
		}
	}
	if f.scratch != nil {
		return f.scratch.Reset()
	}
	return nil
}

func (r *run) liveSinks() []*target {
	var out []*target
	for _, t := range r.targets {
		if t.pending != nil {
			out = append(out, t)
		}
	}
	return out
}

func (r *run) closeAll() {
	for _, t := range r.targets {
		if t.dest != nil {
			_ = t.dest.Close()
		}
	}
}

func localPath(d destination.Destination, name string) string {
	if l, ok := d.(*destination.Local); ok {
		return l.Dir() + string(os.PathSeparator) + name
	}
	return ""
}

func contains(objs []destination.Object, name string) bool {
	for _, o := range objs {
		if o.Name == name {
			return true
		}
	}
	return false
}

// since is the time from t in seconds, to the millisecond.
func since(t time.Time) float64 {
	return math.Round(time.Since(t).Seconds()*1000) / 1000
}

// drop takes a local destination out of this run: its temporary file goes
// and the summary says why.
func (t *target) drop(err error) {
	t.writeErr = err
	t.pending.Abort()
	t.res.fail(StepCopy, err)
}
