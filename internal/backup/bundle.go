package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/bundle"
	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/retry"
	"github.com/etcd-backup/etcd-backup/internal/scratch"
	"github.com/etcd-backup/etcd-backup/internal/seal"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

// maxBundle bounds the sealed bundle, which is built in memory: the
// control-plane files of a node are a few hundred KiB, and its plaintext
// (private keys) must not touch the disk.
const maxBundle = 64 << 20

// builtBundle is this run's bundle, sealed, ready to be stored.
type builtBundle struct {
	name string
	data []byte
	sums seal.Sums
	err  error         // why there is no bundle
	file *scratch.File // a copy to upload from, made on first need
}

// makeBundle archives and seals the control-plane files, once the
// snapshot is verified: a failure here fails the run (exit 1) but keeps the
// snapshot.
func (r *run) makeBundle(ctx context.Context) {
	if len(r.cfg.Bundle) == 0 {
		return
	}
	t0 := time.Now()
	opts := r.cfg.SealOptions()
	l := opts.Layers()
	b := &builtBundle{name: snapname.Format(r.cfg.NamePrefix, r.start, snapname.Shape{Kind: snapname.Bundle, Compressed: l.Compressed, Encrypted: l.Encrypted})}
	r.bundle = b
	info := &BundleInfo{Name: b.name}
	r.sum.Bundle = info
	var buf bytes.Buffer
	w, err := seal.NewWriter(&boundedBuffer{b: &buf, max: maxBundle}, opts)
	var st bundle.Stats
	if err == nil {
		st, err = bundle.Write(ctx, w, r.cfg.Bundle)
	}
	if err == nil {
		err = w.Close()
	}
	r.sum.Seconds[StepBundle] = since(t0)
	if err != nil {
		b.err = fmt.Errorf("making the control-plane bundle: %w", err)
		info.Error = b.err.Error()
		r.d.Log.Error("no control-plane bundle", "error", info.Error)
		return
	}
	b.data, b.sums = buf.Bytes(), w.Sums()
	info.Files, info.Bytes, info.Missing = st.Files, st.Bytes, st.Missing
	info.Size, info.SHA256 = b.sums.StoredSize, b.sums.StoredSHA256
	if len(st.Missing) > 0 {
		r.d.Log.Info("optional bundle paths not found", "paths", st.Missing)
	}
	r.d.Log.Info("control-plane bundle made", "name", b.name, "files", st.Files, "bytes", st.Bytes, "size", info.Size)
}

// storeBundle writes the bundle to a directory where the snapshot was
// just stored.
func (r *run) storeBundle(t *target) {
	b := r.bundle
	if b == nil {
		return
	}
	if b.err != nil {
		t.res.BundleError = b.err.Error()
		return
	}
	p, err := t.dest.Create(b.name)
	if err == nil {
		if _, err = p.Write(b.data); err == nil {
			err = p.Commit()
		}
		p.Abort() // no-op once committed
	}
	if err != nil {
		t.res.BundleError = err.Error()
		r.d.Log.Error("could not store the bundle", "destination", t.res.Destination, "error", err.Error())
		return
	}
	t.bundleStored = true
	r.d.Log.Info("bundle stored", "destination", t.res.Destination, "name", b.name)
	r.writeSidecar(t, b.name, b.sums)
}

// uploadBundle sends the bundle to a bucket where the snapshot was just
// uploaded.
func (r *run) uploadBundle(ctx context.Context, t *target, meta destination.Metadata) {
	b := r.bundle
	if b == nil {
		return
	}
	if b.err != nil {
		t.res.BundleError = b.err.Error()
		return
	}
	err := r.bundleFile()
	if err == nil {
		meta.SHA256, meta.PlainSHA256 = b.sums.StoredSHA256, b.sums.PlainSHA256
		err = retry.Do(ctx, r.d.Log, "bundle upload to "+t.res.Destination, uploadRetry, func(ctx context.Context) error {
			_, err := t.dest.Upload(ctx, b.name, b.file.Path(), meta)
			return err
		})
	}
	if err != nil {
		t.res.BundleError = err.Error()
		r.d.Log.Error("bundle upload failed", "destination", t.res.Destination, "error", err.Error())
		return
	}
	t.bundleStored = true
	r.d.Log.Info("bundle uploaded", "destination", t.res.Destination, "name", b.name)
}

// bundleFile gives the sealed bundle a file to upload from: an unnamed
// scratch file in the work directory.
func (r *run) bundleFile() error {
	b := r.bundle
	if b.file != nil {
		return nil
	}
	f, err := scratch.Open(r.cfg.WorkDir)
	if err != nil {
		return err
	}
	if _, err := f.Write(b.data); err != nil {
		f.Close()
		return err
	}
	b.file = f
	return nil
}

// bundleFailures says where the bundle is missing, "" when it is stored
// wherever the snapshot is.
func (r *run) bundleFailures() string {
	if r.bundle == nil {
		return ""
	}
	if r.bundle.err != nil {
		return r.bundle.err.Error()
	}
	var missing []string
	for _, t := range r.targets {
		if t.res.BundleError != "" {
			missing = append(missing, t.res.Destination)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("the bundle %s is not stored in %v", r.bundle.name, missing)
}

// writeSidecar puts the sums of a stored file beside it in a directory.
// Without it the file is still whole and self-checking (zstd and age carry
// their own checksums), so a failure is a warning.
func (r *run) writeSidecar(t *target, name string, sums seal.Sums) {
	p, err := t.dest.Create(name + snapname.SidecarExt)
	if err == nil {
		if _, err = p.Write(sums.Sidecar(name)); err == nil {
			err = p.Commit()
		}
		p.Abort()
	}
	if err != nil {
		r.d.Log.Warn("could not write the sums beside the stored file", "destination", t.res.Destination, "name", name, "error", err.Error())
	}
}

// deleteSidecar removes the sums of a pruned file.
func (r *run) deleteSidecar(ctx context.Context, t *target, objs []destination.Object, name string) {
	side := name + snapname.SidecarExt
	if !slices.ContainsFunc(objs, func(o destination.Object) bool { return o.Name == side }) {
		return
	}
	if err := t.dest.Delete(ctx, side); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.d.Log.Warn("could not remove the sums of a pruned file", "destination", t.res.Destination, "name", side, "error", err.Error())
	}
}

// boundedBuffer refuses to grow past max.
type boundedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, fmt.Errorf("the bundle exceeds %d MiB; accepted: control-plane configuration files only", w.max>>20)
	}
	return w.b.Write(p)
}
