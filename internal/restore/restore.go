// Package restore turns a verified snapshot into the data directory of one
// etcd member, with etcd's own restore code (etcdutl's snapshot package), so
// that the result is exactly what `etcdutl snapshot restore` would write. It
// adds the checks an operator in an incident should not have to remember:
// the data directory must be new or empty and is never touched otherwise, the
// snapshot must pass the same verification as a backup run, and its data must
// not be newer than the etcd that is going to start on it.
package restore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// Options mirror `etcdutl snapshot restore`.
type Options struct {
	Snapshot                 string // a local file
	Name                     string
	InitialCluster           string
	InitialAdvertisePeerURLs []string
	InitialClusterToken      string
	DataDir                  string
	WALDir                   string
	// SkipHashCheck accepts a database without the sha256 trailer (one
	// copied out of a member's data directory); bbolt is still checked.
	SkipHashCheck bool
	BumpRevision  uint64
	MarkCompacted bool
	// TargetVersion is the etcd that will start on the data directory
	// ("3.6", "v3.6.16", "3.5.15-0"); empty skips the version check.
	TargetVersion string
}

// Result is a data directory made from a snapshot.
type Result struct {
	Options     Options // as used, defaults filled in
	DataDir     string
	Status      verify.Status
	DataVersion Version // the etcd minor the snapshot's data belongs to; zero when unknown
	Target      Version
}

// RefusedError is a restore refused before the data directory was written.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Run checks everything that can be checked first, then restores.
func Run(ctx context.Context, o Options, log *zap.Logger) (Result, error) {
	if err := checkOptions(&o); err != nil {
		return Result{}, err
	}
	target, err := targetVersion(o.TargetVersion)
	if err != nil {
		return Result{}, err
	}
	if err := checkDataDir(o.DataDir); err != nil {
		return Result{}, err
	}
	st, err := verifySnapshot(ctx, o)
	if err != nil {
		return Result{}, fmt.Errorf("verifying %s: %w", o.Snapshot, err)
	}
	data, err := dataVersion(o.Snapshot, st)
	if err != nil {
		return Result{}, err
	}
	if err := compatible(data, target); err != nil {
		return Result{}, err
	}
	if err := restoreInto(o, log); err != nil {
		return Result{}, err
	}
	return Result{Options: o, DataDir: o.DataDir, Status: st, DataVersion: data, Target: target}, nil
}

func checkOptions(o *Options) error {
	if o.Snapshot == "" {
		return errors.New("no snapshot given")
	}
	if o.Name == "" {
		return errors.New("--name is empty; accepted: the member's name, as in --initial-cluster")
	}
	if o.DataDir == "" {
		o.DataDir = o.Name + ".etcd"
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("resolving --data-dir %s: %w", o.DataDir, err)
	}
	o.DataDir = abs
	if len(o.InitialAdvertisePeerURLs) == 0 {
		return errors.New("--initial-advertise-peer-urls is empty; accepted: this member's peer URL(s), e.g. https://10.0.0.5:2380")
	}
	if o.InitialCluster == "" {
		o.InitialCluster = o.Name + "=" + strings.Join(o.InitialAdvertisePeerURLs, ",")
	}
	return nil
}

// checkDataDir refuses a data directory that holds anything: a restore
// never writes into, or over, a member's existing data.
func checkDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &RefusedError{Reason: fmt.Sprintf("refusing to restore into %s: cannot read it (%v); it must be absent or an empty directory", dir, err)}
	}
	if len(entries) > 0 {
		// Nothing has been read or written yet: a usage error (exit 2).
		return &cli.UsageError{Err: &RefusedError{Reason: fmt.Sprintf("refusing to restore into %s: it is not empty (%d entries, e.g. %s); it is left as it is. Give a new --data-dir, or move the old one away first", dir, len(entries), entries[0].Name())}}
	}
	return nil
}

func verifySnapshot(ctx context.Context, o Options) (verify.Status, error) {
	if o.SkipHashCheck {
		return verify.Database(ctx, o.Snapshot)
	}
	st, _, err := verify.File(ctx, o.Snapshot)
	return st, err
}

// restoreInto runs etcd's restore into a temporary directory beside the
// data directory and moves the finished member directory into place, so
// that a restore cut short leaves no half-written member directory under
// the final name. Where the two are on different filesystems (the data
// directory is a mount point), it restores in place and removes what it
// wrote when that fails.
func restoreInto(o Options, log *zap.Logger) error {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", o.DataDir, err)
	}
	if err := os.Chmod(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("making %s private: %w", o.DataDir, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("making a temporary name: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(o.DataDir), "."+filepath.Base(o.DataDir)+".restoring-"+hex.EncodeToString(rnd[:]))
	defer os.RemoveAll(tmp)
	if err := etcdRestore(o, tmp, log); err != nil {
		return err
	}
	member := filepath.Join(o.DataDir, "member")
	err := os.Rename(filepath.Join(tmp, "member"), member)
	if isCrossDevice(err) {
		if err := etcdRestore(o, o.DataDir, log); err != nil {
			_ = os.RemoveAll(member) // the directory was empty: all of it is ours
			return err
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("moving the restored member directory into %s: %w", o.DataDir, err)
	}
	return syncDir(o.DataDir)
}

func etcdRestore(o Options, dataDir string, log *zap.Logger) error {
	cfg := snapshot.RestoreConfig{
		SnapshotPath:        o.Snapshot,
		Name:                o.Name,
		OutputDataDir:       dataDir,
		OutputWALDir:        o.WALDir,
		PeerURLs:            o.InitialAdvertisePeerURLs,
		InitialCluster:      o.InitialCluster,
		InitialClusterToken: o.InitialClusterToken,
		SkipHashCheck:       o.SkipHashCheck,
		RevisionBump:        o.BumpRevision,
		MarkCompacted:       o.MarkCompacted,
	}
	if err := snapshot.NewV3(log).Restore(cfg); err != nil {
		return fmt.Errorf("restoring %s with etcd's restore: %w", o.Snapshot, err)
	}
	return nil
}

func isCrossDevice(err error) bool {
	var le *os.LinkError
	return errors.As(err, &le) && strings.Contains(le.Err.Error(), "cross-device")
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
