package faults_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/seal"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// want is what a case expects of one run (invariant 4).
type want struct {
	exit   int
	step   string   // the summary's failed_step, "" for none
	errHas []string // each in the summary's error (case-insensitive)
	dests  map[string]destWant
	within time.Duration // the run ends within this; 0 for no bound
	member string        // the endpoint the summary names as the snapshot's source
}

type destWant struct {
	status string
	step   string
	errHas []string
}

func succeeds() *want { return &want{exit: 0} }

func fails(step string, errHas ...string) *want {
	return &want{exit: 1, step: step, errHas: errHas}
}

// dest expects destination label to end with status (and step, error).
func (w *want) dest(label, status, step string, errHas ...string) *want {
	if w.dests == nil {
		w.dests = map[string]destWant{}
	}
	w.dests[label] = destWant{status: status, step: step, errHas: errHas}
	return w
}

func (w *want) in(d time.Duration) *want { w.within = d; return w }

// record lists every destination before the runs (invariant 3 compares
// with it).
func (sc *scenario) record(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	sc.before = map[*dest]map[string]entry{}
	for _, d := range sc.dests {
		l, err := d.list(ctx)
		if err != nil {
			t.Fatalf("listing %s before the run: %v", d, err)
		}
		sc.before[d] = l
	}
}

// run runs the job once with every destination of the scenario.
func (sc *scenario) run(t *testing.T, w *want) *jobResult {
	t.Helper()
	return sc.start(t).finish(t, w)
}

type started struct {
	j *job
}

// start records the destinations and starts the job.
func (sc *scenario) start(t *testing.T) started {
	t.Helper()
	if sc.before == nil {
		sc.record(t)
	}
	env := map[string]string{}
	for k, v := range sc.env {
		env[k] = v
	}
	if _, ok := env["ETCD_BACKUP_DESTINATIONS"]; !ok {
		var specs []string
		for _, d := range sc.dests {
			if d.dir != "" {
				specs = append(specs, d.dir)
			} else {
				specs = append(specs, d.spec)
			}
		}
		env["ETCD_BACKUP_DESTINATIONS"] = strings.Join(specs, ",")
	}
	return started{j: startJob(t, env)}
}

// waitLog waits until the job's log mentions text, at most timeout.
func (s started) waitLog(t *testing.T, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(s.j.stderr.String(), text) {
		select {
		case <-s.j.done:
			t.Fatalf("the job ended before its log said %q:\n%s", text, s.j.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's log did not say %q within %s:\n%s", text, timeout, s.j.stderr.String())
		}
	}
}

func (s started) finish(t *testing.T, w *want) *jobResult {
	t.Helper()
	r := s.j.Wait(t, 3*time.Minute)
	r.Want = w
	return r
}

// verified caches the sha256 of files that passed verification:
// identical bytes need no second bbolt check.
var verified sync.Map

// verifyFile runs the product's full verification (sha256 trailer, bbolt
// consistency check in a child process), once per distinct content, of a
// stored file named name; a compressed or encrypted one is reversed first
// (with the scenario's identity) into a plaintext copy, whose path it
// returns for restoring.
func verifyFile(ctx context.Context, t testing.TB, path, name string, id age.Identity) (string, error) {
	plain, err := plaintextOf(t, path, name, id)
	if err != nil {
		return "", err
	}
	f, err := os.Open(plain)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, ok := verified.Load(sum); ok {
		return plain, nil
	}
	if _, _, err := verify.File(ctx, plain); err != nil {
		return "", err
	}
	verified.Store(sum, true)
	return plain, nil
}

// plaintextOf is path itself for a plain .db, else a plaintext copy.
func plaintextOf(t testing.TB, path, name string, id age.Identity) (string, error) {
	_, layers := seal.LayersOf(name)
	if !layers.Any() {
		return path, nil
	}
	var ids []age.Identity
	if id != nil {
		ids = append(ids, id)
	}
	in, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	r, err := seal.NewReader(in, layers, ids)
	if err != nil {
		return "", err
	}
	defer r.Close()
	out, err := os.CreateTemp(t.TempDir(), "plain-")
	if err != nil {
		return "", err
	}
	defer out.Close()
	if _, err := io.Copy(out, r); err != nil {
		return "", err
	}
	return out.Name(), out.Close()
}

// checkInvariants checks the invariants after the runs of a case:
//
//  1. every snapshot under a final name in any destination passes full
//     verification, and one snapshot written by the runs is restored with
//     etcd's own restore code, served by a real etcd and its keys compared
//     with the source;
//  2. no temporary or partial file or object is left in any destination
//     (nor in the work directory), and no unfinished multipart upload;
//  3. every snapshot that was there before is still there unless a run
//     that stored its own snapshot there removed it under the retention
//     rules (and said so), and no foreign entry was touched;
//  4. each run's exit status and its one summary line say what happened,
//     and match the case's expectations;
//  5. no output line shows a credential of the run's environment or a URL
//     with user information;
//  6. no run took one directory as two destinations;
//  7. with encryption on, no plaintext on any destination: whatever the
//     runs left there (files, temporary files, objects, and what the S3
//     server keeps of unfinished uploads) is age-encrypted or a sidecar of
//     sums, and holds none of the source's keys.
func checkInvariants(t testing.TB, sc *scenario, runs ...*jobResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	after := map[*dest]map[string]entry{}
	for _, d := range sc.dests {
		l, err := d.list(ctx)
		if err != nil {
			t.Fatalf("listing %s after the run: %v", d, err)
		}
		after[d] = l
	}
	// The names of the snapshots the runs verified.
	produced := map[string]*jobResult{}
	for _, r := range runs {
		if r.SummaryErr == nil && r.Summary.Snapshot != nil {
			produced[r.Summary.Snapshot.Name] = r
		}
	}

	// 1. every final name verifies; one new snapshot restores
	restored := false
	for _, d := range sc.dests {
		for _, name := range sortedNames(after[d]) {
			e := after[d][name]
			if !isFinalName(name) || !e.Regular {
				continue
			}
			p, err := d.fetch(ctx, t, name)
			if err == nil {
				p, err = verifyFile(ctx, t, p, name, sc.ageIdentity())
			}
			if err != nil {
				t.Errorf("invariant 1: %s in %s does not verify: %v", name, d, err)
				continue
			}
			if _, isNew := produced[name]; isNew && !restored && sc.src != nil {
				restored = true
				restoreAndCompare(t, p, sc.src)
			}
		}
	}
	if len(produced) > 0 && !restored {
		for name := range produced {
			t.Logf("the snapshot %s was verified by the job but stored nowhere: nothing to restore", name)
		}
	}

	// 2. nothing partial
	dirs := []string{sc.workDir}
	for _, d := range sc.dests {
		if d.dir != "" {
			dirs = append(dirs, d.dir)
		}
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return nil // a directory the job never created
			}
			if err != nil {
				return err
			}
			if strings.Contains(de.Name(), ".partial-") {
				t.Errorf("invariant 2: temporary file left behind: %s", p)
			}
			return nil
		})
		if err != nil {
			t.Errorf("invariant 2: cannot look through %s: %v", dir, err)
		}
	}
	for _, d := range sc.dests {
		if d.s3 == nil {
			continue
		}
		keys, err := d.allKeys(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			if strings.Contains(k, ".partial-") {
				t.Errorf("invariant 2: temporary object left behind in %s: %s", d, k)
			}
		}
		mp, err := d.s3.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(d.s3.Bucket)})
		if err != nil {
			t.Fatalf("listing multipart uploads of %s: %v", d, err)
		}
		for _, u := range mp.Uploads {
			t.Errorf("invariant 2: unfinished multipart upload left in %s: key %s, started %v", d, aws.ToString(u.Key), aws.ToTime(u.Initiated))
		}
		left, err := backendLeftovers(d, keys)
		if err != nil {
			t.Fatalf("looking through the S3 server's storage of %s: %v", d, err)
		}
		for _, p := range left {
			t.Errorf("invariant 2: the S3 server holds data that is no object in %s: %s", d, p)
		}
	}

	// 3. nothing lost
	for _, d := range sc.dests {
		oracle := map[string]bool{}
		for _, r := range runs {
			for _, n := range sc.prunable(d, r) {
				oracle[n] = true
			}
		}
		pruned := map[string]bool{}
		for _, r := range runs {
			if dr := destResult(r, d); dr != nil {
				for _, n := range dr.Pruned {
					pruned[n] = true
				}
			}
		}
		for name, e := range sc.before[d] {
			a, still := after[d][name]
			if !isFinalName(name) || !e.Regular {
				if !still || a != e {
					t.Errorf("invariant 3: foreign entry %s in %s was removed or changed (before %+v, after %+v)", name, d, e, a)
				}
				continue
			}
			if still {
				continue
			}
			switch {
			case !oracle[name]:
				t.Errorf("invariant 3: %s in %s (modified %s) is gone, but no run that stored a snapshot there may prune it (retention %s, keep-min %d)",
					name, d, e.ModTime.UTC().Format(time.RFC3339), sc.retention, sc.keepMin)
			case !pruned[name]:
				t.Errorf("invariant 3: %s in %s is gone and no summary lists it as pruned", name, d)
			}
		}
		for name, e := range after[d] {
			if _, old := sc.before[d][name]; old || !isFinalName(name) || !e.Regular {
				continue
			}
			if produced[name] == nil {
				t.Errorf("invariant 3: %s appeared in %s but no run verified a snapshot of that name", name, d)
			}
		}
		if len(runs) == 1 {
			// One run: what it pruned is exactly what retention selects,
			// and exactly what its summary lists.
			r := runs[0]
			var gone []string
			for name := range sc.before[d] {
				if _, still := after[d][name]; !still && isFinalName(name) {
					gone = append(gone, name)
				}
			}
			sort.Strings(gone)
			want := sc.prunable(d, r)
			if dr := destResult(r, d); dr != nil && dr.Status == backup.StatusOK && !slices.Equal(gone, want) {
				t.Errorf("invariant 3: %s: pruned %q, retention selects %q", d, gone, want)
			}
			if dr := destResult(r, d); dr != nil {
				listed := slices.Clone(dr.Pruned)
				sort.Strings(listed)
				if !slices.Equal(listed, gone) {
					t.Errorf("invariant 4: the summary lists %q as pruned from %s, but %q are gone", listed, d, gone)
				}
				if dr.PrunedCount != len(dr.Pruned) {
					t.Errorf("invariant 4: %s: pruned_count %d for %d names", d, dr.PrunedCount, len(dr.Pruned))
				}
			}
		}
	}

	// 4. the exit status and the summary tell the truth
	for i, r := range runs {
		checkSummary(t, sc, r, after, len(runs) > 1, i)
	}

	// 5. nothing secret shown; 6. no directory taken twice
	for i, r := range runs {
		checkShown(t, sc, r, i)
		checkDirectoriesOnce(t, r, i)
	}

	// 7. nothing readable leaves the node when encryption is on
	checkNoPlaintext(t, sc, after)
}

// userinfoURL is a URL with user information in it: scheme://user:...@
var userinfoURL = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s"@]*:[^/\s"@]*@`)

// secretValues are the values of the run's environment that hold a
// credential: passwords, secret keys, tokens.
func (sc *scenario) secretValues() []string {
	var out []string
	for k, v := range sc.env {
		if len(v) >= 4 && (strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET") ||
			strings.Contains(k, "TOKEN") || strings.HasSuffix(k, "STORAGE_KEY")) {
			out = append(out, v)
		}
	}
	return out
}

// checkShown: no line the job wrote (its logs on stderr, its summary on
// stdout, which is also what the termination message holds) shows a
// credential of its environment or a URL with user information.
func checkShown(t testing.TB, sc *scenario, r *jobResult, i int) {
	t.Helper()
	secrets := sc.secretValues()
	for _, out := range []struct{ name, text string }{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
		for n, line := range strings.Split(out.text, "\n") {
			if m := userinfoURL.FindString(line); m != "" {
				t.Errorf("invariant 5: run %d: %s line %d shows a URL with user information (%s...): %s", i, out.name, n+1, m[:strings.Index(m, "://")+3], clip(line, 300))
			}
			for _, v := range secrets {
				if strings.Contains(line, v) {
					t.Errorf("invariant 5: run %d: %s line %d shows a credential of the environment: %s", i, out.name, n+1, clip(strings.ReplaceAll(line, v, "<the secret>"), 300))
				}
			}
		}
	}
}

// checkDirectoriesOnce: a run that took its configuration lists no
// directory twice, however it was spelled (a path or a file:// URL,
// symlinks).
func checkDirectoriesOnce(t testing.TB, r *jobResult, i int) {
	t.Helper()
	if r.SummaryErr != nil {
		return
	}
	seen := map[string]string{}
	for _, dr := range r.Summary.Destinations {
		dir := dr.Destination
		if u, err := url.Parse(dir); err == nil && u.Scheme == "file" {
			dir = u.Path
		}
		if !filepath.IsAbs(dir) {
			continue
		}
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		dir = filepath.Clean(dir)
		if other, dup := seen[dir]; dup {
			t.Errorf("invariant 6: run %d took the directory %s twice, as %s and %s", i, dir, other, dr.Destination)
		}
		seen[dir] = dr.Destination
	}
}

// prunable is what the retention rules let run r remove from d: only when r
// stored its verified snapshot there; then, of this tool's snapshots
// ordered newest first by modification time (name breaks ties), all but
// the keep-min newest and r's own that are older than the retention.
func (sc *scenario) prunable(d *dest, r *jobResult) []string {
	dr := destResult(r, d)
	if r.SummaryErr != nil || r.Summary.Snapshot == nil || r.Summary.DryRun || dr == nil ||
		!(dr.Status == backup.StatusOK || dr.FailedStep == backup.StepPrune) {
		return nil
	}
	now, err := time.Parse(time.RFC3339, r.Summary.StartedAt)
	if err != nil {
		return nil
	}
	own := r.Summary.Snapshot.Name
	type snap struct {
		name string
		mt   time.Time
	}
	all := []snap{{own, now}}
	for name, e := range sc.before[d] {
		if isFinalName(name) && e.Regular && name != own {
			all = append(all, snap{name, e.ModTime})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].mt.Equal(all[j].mt) {
			return all[i].mt.After(all[j].mt)
		}
		return all[i].name > all[j].name
	})
	var out []string
	for i, s := range all {
		if i < sc.keepMin || s.name == own {
			continue
		}
		if now.Sub(s.mt) > sc.retention+time.Minute {
			out = append(out, s.name)
		}
	}
	sort.Strings(out)
	return out
}

// destResult is the summary's entry for d, nil if there is none.
func destResult(r *jobResult, d *dest) *backup.DestResult {
	for i := range r.Summary.Destinations {
		if r.Summary.Destinations[i].Destination == d.shown() {
			return &r.Summary.Destinations[i]
		}
	}
	return nil
}

// maxSummaryError is the longest error text a summary may hold.
const maxSummaryError = 1500

func checkSummary(t testing.TB, sc *scenario, r *jobResult, after map[*dest]map[string]entry, concurrent bool, i int) {
	t.Helper()
	who := "the run"
	if concurrent {
		who = fmt.Sprintf("run %d", i+1)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("invariant 4: %s: %s\nstdout: %s\nstderr (tail): %s", who, fmt.Sprintf(format, args...), r.Stdout, tail(r.Stderr, 15))
	}
	if r.SummaryErr != nil {
		fail("no valid summary line: %v", r.SummaryErr)
		return
	}
	s := r.Summary
	switch {
	case r.Exit == 0 && s.Status != backup.StatusOK, r.Exit == 1 && s.Status != backup.StatusFailed:
		fail("exit status %d with summary status %q", r.Exit, s.Status)
	case r.Exit != 0 && r.Exit != 1:
		fail("exit status %d; a run exits 0 or 1 (2 only for bad configuration)", r.Exit)
	}
	if s.Status == backup.StatusFailed && (s.FailedStep == "" || s.Error == "") {
		fail("failed without failed_step and error")
	}
	if s.Status == backup.StatusOK && (s.FailedStep != "" || s.Error != "") {
		fail("status ok with failed_step %q, error %q", s.FailedStep, s.Error)
	}
	// Errors go into the termination message, of which the kubelet keeps
	// 4 KiB: a crash dump or a list on many lines does not belong there.
	errs := []string{s.Error}
	for _, dr := range s.Destinations {
		errs = append(errs, dr.Error)
	}
	for _, e := range errs {
		if strings.Contains(e, "\n") || len(e) > maxSummaryError {
			fail("an error is not one short line (%d bytes): %q", len(e), e)
		}
	}
	if len(s.Destinations) != len(sc.dests) {
		fail("%d destinations in the summary, %d configured", len(s.Destinations), len(sc.dests))
	}
	for _, d := range sc.dests {
		dr := destResult(r, d)
		if dr == nil {
			fail("destination %s (%s) missing from the summary", d, d.shown())
			continue
		}
		stored := false
		if s.Snapshot != nil {
			if e, ok := after[d][s.Snapshot.Name]; ok && e.Regular {
				stored = true
				if !concurrent {
					checkStoredCopy(t, d, s.Snapshot, fail)
				}
			}
		}
		switch dr.Status {
		case backup.StatusOK:
			if !stored {
				fail("destination %s says ok, but this run's snapshot is not there (snapshot %v)", d, snapName(s))
			}
		case backup.StatusFailed:
			if dr.FailedStep == "" || dr.Error == "" {
				fail("destination %s failed without step or error", d)
			}
			if stored && dr.FailedStep != backup.StepPrune && !concurrent {
				fail("destination %s says %s failed, but the snapshot %s is there", d, dr.FailedStep, s.Snapshot.Name)
			}
		case backup.StatusSkipped:
			if stored && !concurrent {
				fail("destination %s says skipped, but the snapshot is there", d)
			}
		default:
			fail("destination %s has status %q", d, dr.Status)
		}
		if s.Status == backup.StatusOK && dr.Status != backup.StatusOK {
			fail("status ok, but destination %s is %s", d, dr.Status)
		}
	}
	if (s.FailedStep == backup.StepCopy || s.FailedStep == backup.StepPrune) && !anyDestFailed(s, s.FailedStep) {
		fail("failed_step %s, but no destination failed at %s", s.FailedStep, s.FailedStep)
	}

	w := r.Want
	if w == nil {
		return
	}
	if r.Exit != w.exit {
		fail("exit status %d, want %d", r.Exit, w.exit)
	}
	if s.FailedStep != w.step {
		fail("failed_step %q, want %q", s.FailedStep, w.step)
	}
	for _, sub := range w.errHas {
		if !strings.Contains(strings.ToLower(s.Error), strings.ToLower(sub)) {
			fail("the error does not say %q: %q", sub, s.Error)
		}
	}
	for label, dw := range w.dests {
		var d *dest
		for _, x := range sc.dests {
			if x.label == label {
				d = x
			}
		}
		dr := destResult(r, d)
		if dr == nil {
			continue
		}
		if dr.Status != dw.status || dr.FailedStep != dw.step {
			fail("destination %s: %s/%s, want %s/%s (error %q)", label, dr.Status, dr.FailedStep, dw.status, dw.step, dr.Error)
		}
		for _, sub := range dw.errHas {
			if !strings.Contains(strings.ToLower(dr.Error), strings.ToLower(sub)) {
				fail("destination %s: the error does not say %q: %q", label, sub, dr.Error)
			}
		}
	}
	if w.within > 0 && r.Duration > w.within {
		fail("took %s, want at most %s", r.Duration.Round(time.Millisecond), w.within)
	}
	if w.member != "" && (s.Etcd == nil || s.Etcd.Endpoint != w.member) {
		fail("the snapshot should come from %s; summary etcd: %+v", w.member, s.Etcd)
	}
}

// checkStoredCopy compares a stored copy with what the summary says of it.
func checkStoredCopy(t testing.TB, d *dest, info *backup.SnapshotInfo, fail func(string, ...any)) {
	t.Helper()
	p, err := d.fetch(context.Background(), t, info.Name)
	if err != nil {
		fail("reading %s from %s: %v", info.Name, d, err)
		return
	}
	sum, err := testkit.SHA256File(p)
	if err != nil {
		fail("hashing %s: %v", p, err)
		return
	}
	st, err := os.Stat(p)
	if err != nil {
		fail("%v", err)
		return
	}
	if sum != info.SHA256 || st.Size() != info.Size {
		fail("%s in %s has sha256 %s and %d bytes; the summary says %s and %d", info.Name, d, sum, st.Size(), info.SHA256, info.Size)
	}
}

func anyDestFailed(s backup.Summary, step string) bool {
	for _, d := range s.Destinations {
		if d.Status == backup.StatusFailed && d.FailedStep == step {
			return true
		}
	}
	return false
}

func snapName(s backup.Summary) string {
	if s.Snapshot == nil {
		return "none verified"
	}
	return s.Snapshot.Name
}

// backendLeftovers lists files the S3 server keeps in the bucket's storage
// that are not objects: unfinished uploads, temporary files.
func backendLeftovers(d *dest, keys map[string]entry) ([]string, error) {
	root := filepath.Join(d.s3.Dir, d.s3.Bucket)
	var out []string
	err := filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if _, ok := keys[filepath.ToSlash(rel)]; !ok {
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

func sortedNames(m map[string]entry) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// restoreAndCompare restores snap with etcd's own restore code
// (etcdutl snapshot restore), serves the result with a real etcd and
// compares every key and value with the source.
func restoreAndCompare(t testing.TB, snap string, src *source) {
	t.Helper()
	start := time.Now()
	r, err := etcdtest.Restore(snap, t.TempDir())
	if err != nil {
		t.Errorf("invariant 1: %v", err)
		return
	}
	defer r.Close()
	cli, err := r.Client(src.username, src.password)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, _, err := digest(ctx, cli)
	if err != nil {
		t.Errorf("invariant 1: reading the restored etcd: %v", err)
		return
	}
	if d := src.keys.diff(got); d != "" {
		t.Errorf("invariant 1: the restored snapshot %s differs from the source: %s", filepath.Base(snap), d)
		return
	}
	t.Logf("restored %s with etcdutl: %d keys equal to the source (%s)", filepath.Base(snap), len(got), time.Since(start).Round(time.Millisecond))
}
