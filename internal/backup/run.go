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
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/prune"
	"github.com/etcd-backup/etcd-backup/internal/retry"
	"github.com/etcd-backup/etcd-backup/internal/scratch"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
	"github.com/etcd-backup/etcd-backup/internal/snapshot"
	"github.com/etcd-backup/etcd-backup/internal/throttle"
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
	// Snapshot streams a snapshot from etcd into w; snapshot.Take when nil.
	Snapshot func(ctx context.Context, log *slog.Logger, o snapshot.Options, w io.Writer) (snapshot.Member, error)
	// Open opens a destination; destination.Open when nil.
	Open func(ctx context.Context, spec string) (destination.Destination, error)
}

// ErrFailed is returned, wrapped, when anything in the run failed; what did
// succeed is kept and the summary says which step and destination failed.
var ErrFailed = errors.New("backup failed")

// target is a destination taking part in a run.
type target struct {
	res      *DestResult
	dest     destination.Destination // nil when it could not be opened
	pending  destination.Pending     // streaming destinations only
	writeErr error
	syncErr  error // from flushing the file while it is verified
	started  time.Time
	// bundleStored: this run's bundle is stored here (and so bundles are
	// pruned here).
	bundleStored bool
}

// Run performs one backup and prints its summary.
func Run(ctx context.Context, cfg config.Config, d Deps) (Summary, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Snapshot == nil {
		d.Snapshot = snapshot.Take
	}
	if d.Open == nil {
		d.Open = destination.Open
	}
	start := d.Now()
	layers := cfg.SealOptions().Layers()
	name := snapname.Format(cfg.NamePrefix, start, snapname.Shape{Kind: snapname.Snapshot, Compressed: layers.Compressed, Encrypted: layers.Encrypted})
	sum := Summary{
		Status:    StatusOK,
		Seconds:   map[string]float64{},
		DryRun:    cfg.DryRun,
		Version:   version.Version,
		StartedAt: start.UTC().Format(time.RFC3339),
	}
	r := &run{cfg: cfg, d: d, name: name, sum: &sum, start: start}
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
	redactStrings(reflect.ValueOf(&sum))
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
	// scratch takes the snapshot when no destination streams it in.
	scratch destination.Pending
	fan     *fanout
	// sealed is the plaintext side when the run compresses or encrypts.
	sealed *sealedStream
	bundle *builtBundle
	member snapshot.Member
	start  time.Time
}

func (r *run) stepFailed(step string, err error) error {
	r.sum.FailedStep = step
	r.sum.Error = err.Error()
	return fmt.Errorf("%w: %s: %w", ErrFailed, step, err)
}

// do runs the steps in order. A snapshot that cannot be taken or verified
// ends the run; a destination that fails a later step drops out of the run
// and the others go on.
func (r *run) do(ctx context.Context) error {
	defer r.closeAll()
	r.openDestinations(ctx)
	defer r.abortTemporaries()
	if err := r.takeSnapshot(ctx); err != nil {
		return err
	}
	if err := r.verifySnapshot(ctx); err != nil {
		return err
	}
	r.makeBundle(ctx)
	t0 := time.Now()
	r.upload(ctx, r.store())
	r.sum.Seconds[StepCopy] = since(t0)

	t0 = time.Now()
	r.prune(ctx)
	r.sum.Seconds[StepPrune] = since(t0)
	return r.failures()
}

func (r *run) openDestinations(ctx context.Context) {
	for _, spec := range r.cfg.Destinations {
		t := &target{res: &DestResult{Destination: location.Redact(spec), Status: StatusOK, Pruned: []string{}}}
		r.targets = append(r.targets, t)
		dest, err := r.d.Open(ctx, spec)
		if err != nil {
			r.d.Log.Error("destination not usable", "destination", t.res.Destination, "error", err.Error())
			t.res.fail(StepCopy, err)
			continue
		}
		t.dest = dest
		t.res.Destination = dest.String()
	}
}

// takeSnapshot streams the snapshot into a temporary file in every
// streaming destination at once, retrying transient failures.
func (r *run) takeSnapshot(ctx context.Context) error {
	t0 := time.Now()
	if err := r.createTemporaries(); err != nil {
		return r.stepFailed(StepSnapshot, err)
	}
	r.fan = &fanout{log: r.d.Log, hash: verify.NewStream(), targets: r.streaming(), scratch: r.scratch}
	var sink snapshotSink = r.fan
	if opts := r.cfg.SealOptions(); opts.Layers().Any() {
		s, err := newSealedStream(r.cfg.WorkDir, opts, r.fan)
		if err != nil {
			return r.stepFailed(StepSnapshot, err)
		}
		r.sealed, sink = s, s
	} else {
		// Unsealed, a destination's file is what is verified. (Sealed, the
		// plaintext scratch copy is, and every destination's file may
		// leave the page cache.)
		r.fan.keepSourceCached()
	}
	opts := r.snapshotOptions()
	// The snapshot timeout bounds all attempts together: a hung or flapping
	// etcd must not hold the Job past it.
	sctx, cancel := snapshot.WithTimeout(ctx, opts)
	defer cancel()
	err := retry.Do(sctx, r.d.Log, "snapshot", snapshotRetry, func(ctx context.Context) error {
		if err := sink.reset(); err != nil {
			return err
		}
		var w io.Writer = sink
		if r.cfg.RateLimit > 0 {
			w = throttle.NewWriter(ctx, sink, int64(r.cfg.RateLimit))
		}
		m, err := r.d.Snapshot(ctx, r.d.Log, opts, w)
		if m.Endpoint != "" {
			r.member = m
		}
		return err
	})
	r.sum.Seconds[StepSnapshot] = since(t0)
	if r.member.Endpoint != "" {
		r.sum.Etcd = &r.member
	}
	if err == nil && r.sealed != nil {
		err = r.sealed.finish()
	}
	if err != nil {
		return r.stepFailed(StepSnapshot, err)
	}
	r.d.Log.Info("snapshot received", "bytes", r.fan.hash.Size(), "seconds", r.sum.Seconds[StepSnapshot])
	return nil
}

// createTemporaries opens a temporary file in every streaming destination;
// with none, the snapshot goes to a scratch file in the work directory.
func (r *run) createTemporaries() error {
	for _, t := range r.targets {
		if t.res.Status != StatusOK || !t.dest.Streams() {
			continue
		}
		p, err := t.dest.Create(r.name)
		if err != nil {
			r.d.Log.Error("cannot write to destination", "destination", t.res.Destination, "error", err.Error())
			t.res.fail(StepCopy, err)
			continue
		}
		t.pending = p
		t.started = time.Now()
	}
	if len(r.streaming()) > 0 {
		return nil
	}
	// No local directory to verify or upload from (only object storage,
	// or every directory failed): an unnamed scratch file, which a killed
	// run cannot leave behind.
	work, err := destination.OpenLocal(r.cfg.WorkDir)
	if err == nil {
		var f *scratch.File
		if f, err = scratch.Open(work.String()); err == nil {
			r.scratch = scratchPending{f}
		}
	}
	if err != nil {
		return fmt.Errorf("no destination directory is writable and the work directory ETCD_BACKUP_WORK_DIR=%s is not either: %w", r.cfg.WorkDir, err)
	}
	return nil
}

func (r *run) snapshotOptions() snapshot.Options {
	return snapshot.Options{
		Endpoints: r.cfg.Endpoints, CACert: r.cfg.CACert, Cert: r.cfg.Cert, Key: r.cfg.Key,
		Username: r.cfg.Username, Password: r.cfg.Password,
		DialTimeout: time.Duration(r.cfg.DialTimeout), SnapshotTimeout: time.Duration(r.cfg.SnapshotTimeout),
		ProgressEvery: r.cfg.ProgressEvery,
	}
}

// verifySnapshot checks the trailer from the stream and the database from
// one of the files: the plaintext scratch file when the run seals.
func (r *run) verifySnapshot(ctx context.Context) error {
	t0 := time.Now()
	stream := r.fan.hash
	source := r.fan.source()
	if source == "" {
		return r.stepFailed(StepSnapshot, errors.New("every destination failed while the snapshot was written"))
	}
	if r.sealed != nil {
		stream, source = r.sealed.hash, r.sealed.scratch.Path()
	}
	if err := stream.CheckTrailer(); err != nil {
		return r.stepFailed(StepVerify, err)
	}
	if avail, ok := verify.FitsInMemory(stream.Size()); !ok {
		r.d.Log.Warn("the snapshot is larger than the memory this run may use: verification reads it from disk several times and takes longer; raise the memory limit (resources.limits.memory) above the snapshot size for a fast one",
			"snapshot_bytes", stream.Size(), "available_bytes", avail)
	}
	flushing := r.syncTemporaries()
	st, err := verify.Database(ctx, source)
	flushing.Wait()
	r.sum.Seconds[StepVerify] = since(t0)
	if err != nil {
		return r.stepFailed(StepVerify, err)
	}
	info := &SnapshotInfo{Name: r.name, Size: r.fan.hash.Size(), SHA256: r.fan.hash.SHA256(), Status: st}
	if r.sealed != nil {
		r.sealed.close() // verified: the plaintext copy goes now
		sums := r.sealed.sums()
		info.PlainSize, info.PlainSHA256 = sums.PlainSize, sums.PlainSHA256
		if r.cfg.SealOptions().Layers().Compressed {
			info.CompressionRatio = math.Round(sums.Ratio()*100) / 100
		}
	}
	r.sum.Snapshot = info
	r.d.Log.Info("snapshot verified", "name", r.name, "size", info.Size, "sha256", info.SHA256,
		"plain_size", info.PlainSize, "plain_sha256", info.PlainSHA256, "compression_ratio", info.CompressionRatio,
		"revision", st.Revision, "total_keys", st.TotalKey, "hash", st.Hash, "seconds", r.sum.Seconds[StepVerify])
	return nil
}

// syncTemporaries sends the files to disk while the database is checked:
// the fsync waits for the disk, the check for the CPU. A failed fsync fails
// its destination for good (see store).
func (r *run) syncTemporaries() *sync.WaitGroup {
	var flushing sync.WaitGroup
	for _, t := range r.targets {
		if t.pending != nil && t.res.Status == StatusOK {
			flushing.Go(func() { t.syncErr = t.pending.Sync() })
		}
	}
	return &flushing
}

// store gives the verified temporary files their final names and returns a
// verified local file to upload from ("" if there is none).
func (r *run) store() string {
	from := ""
	for _, t := range r.targets {
		if t.pending == nil || t.res.Status != StatusOK {
			continue
		}
		if t.syncErr != nil {
			// After a failed fsync, Linux may report the lost pages as
			// clean, and a second fsync would succeed.
			t.drop(t.syncErr)
			r.d.Log.Error("could not store snapshot", "destination", t.res.Destination, "error", t.syncErr.Error())
			continue
		}
		if err := t.pending.Commit(); err != nil {
			r.d.Log.Error("could not store snapshot", "destination", t.res.Destination, "error", err.Error())
			t.res.fail(StepCopy, err)
			continue
		}
		t.res.Seconds = since(t.started)
		if from == "" {
			from = t.pending.Final()
		}
		r.d.Log.Info("snapshot stored", "destination", t.res.Destination, "name", r.name)
		if r.sealed != nil {
			r.writeSidecar(t, r.name, r.sealed.sums())
		}
		r.storeBundle(t)
	}
	if from == "" && r.scratch != nil {
		from = r.scratch.Path()
	}
	return from
}

// upload copies the verified file at from to every destination that does
// not stream.
func (r *run) upload(ctx context.Context, from string) {
	meta := destination.Metadata{SHA256: r.fan.hash.SHA256(), PlainSHA256: r.sum.Snapshot.PlainSHA256,
		Revision: r.sum.Snapshot.Revision, EtcdVersion: r.member.Version, ToolVersion: version.Version}
	for _, t := range r.targets {
		if t.res.Status != StatusOK || t.dest.Streams() {
			continue
		}
		if from == "" {
			t.res.fail(StepCopy, errors.New("no verified local copy to upload from"))
			continue
		}
		t1 := time.Now()
		err := retry.Do(ctx, r.d.Log, "upload to "+t.res.Destination, uploadRetry, func(ctx context.Context) error {
			_, err := t.dest.Upload(ctx, r.name, from, meta)
			return err
		})
		if err != nil {
			r.d.Log.Error("upload failed", "destination", t.res.Destination, "error", err.Error())
			t.res.fail(StepCopy, err)
			continue
		}
		t.res.Seconds = since(t1)
		r.d.Log.Info("snapshot uploaded", "destination", t.res.Destination, "name", r.name, "seconds", t.res.Seconds)
		r.uploadBundle(ctx, t, meta)
	}
}

// prune removes old snapshots, only where this run's snapshot is stored.
func (r *run) prune(ctx context.Context) {
	policy := prune.Policy{Prefix: r.cfg.NamePrefix, Retention: time.Duration(r.cfg.Retention), KeepMin: r.cfg.KeepMin, Keep: r.name}
	now := r.d.Now()
	for _, t := range r.targets {
		if t.res.Status != StatusOK {
			r.d.Log.Warn("not pruning a destination this run did not store a snapshot in", "destination", t.res.Destination)
			continue
		}
		r.pruneTarget(ctx, t, policy, now)
		if t.bundleStored && t.res.Status == StatusOK {
			bp := policy
			bp.Kind, bp.Keep = snapname.Bundle, r.bundle.name
			r.pruneTarget(ctx, t, bp, now)
		}
		t.res.PrunedCount = len(t.res.Pruned)
		r.removeStale(ctx, t, now)
	}
}

func (r *run) pruneTarget(ctx context.Context, t *target, policy prune.Policy, now time.Time) {
	log := r.d.Log
	objs, err := t.dest.List(ctx, r.cfg.NamePrefix)
	if err != nil {
		t.res.fail(StepPrune, err)
		return
	}
	if !slices.ContainsFunc(objs, func(o destination.Object) bool { return o.Name == policy.Keep }) {
		// The listing must show what was just written; if it does not,
		// it cannot be trusted to decide what is old.
		t.res.fail(StepPrune, fmt.Errorf("listing does not show %s just written; not pruning", policy.Keep))
		return
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
			if errors.Is(err, fs.ErrNotExist) {
				// another run (concurrencyPolicy: Allow) pruned it first
				log.Info("already gone", "destination", t.res.Destination, "name", o.Name)
				continue
			}
			log.Error("prune failed", "destination", t.res.Destination, "name", o.Name, "error", err.Error())
			t.res.fail(StepPrune, err)
			return
		}
		log.Info("pruned", "destination", t.res.Destination, "name", o.Name, "age", age)
		t.res.Pruned = append(t.res.Pruned, o.Name)
		r.deleteSidecar(ctx, t, objs, o.Name)
	}
}

// removeStale deletes temporary files that a killed run left behind.
func (r *run) removeStale(ctx context.Context, t *target, now time.Time) {
	objs, err := t.dest.Stale(ctx, r.cfg.NamePrefix, now)
	if err != nil {
		r.d.Log.Warn("cannot list temporary files", "destination", t.res.Destination, "error", err.Error())
		return
	}
	for _, o := range objs {
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

// failures is the run's error when any destination failed, or the bundle
// is not stored wherever the snapshot is.
func (r *run) failures() error {
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
	if msg := r.bundleFailures(); msg != "" {
		return r.stepFailed(StepBundle, errors.New(msg))
	}
	return nil
}

// Retry bounds: a member that is restarting or a load balancer that sheds
// load gets about half a minute; see package retry for what is transient.
var (
	snapshotRetry = retry.Policy{Attempts: 4, First: time.Second, Max: 8 * time.Second}
	uploadRetry   = retry.Policy{Attempts: 3, First: 2 * time.Second, Max: 8 * time.Second}
)

// streaming are the targets that take the snapshot while it streams in.
func (r *run) streaming() []*target {
	var out []*target
	for _, t := range r.targets {
		if t.pending != nil {
			out = append(out, t)
		}
	}
	return out
}

// abortTemporaries removes whatever temporary file was not committed, and
// the plaintext scratch copy.
func (r *run) abortTemporaries() {
	if r.sealed != nil {
		r.sealed.close()
	}
	if r.bundle != nil && r.bundle.file != nil {
		r.bundle.file.Close()
	}
	if r.scratch != nil {
		r.scratch.Abort()
	}
	for _, t := range r.targets {
		if t.pending != nil {
			t.pending.Abort() // no-op once committed
		}
	}
}

func (r *run) closeAll() {
	for _, t := range r.targets {
		if t.dest != nil {
			_ = t.dest.Close()
		}
	}
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
