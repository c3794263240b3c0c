// Package verify decides whether a snapshot can be trusted: the sha256
// trailer that the etcd server appends to the stream must match the content,
// and the file must open as a bbolt database and pass its consistency check.
// It also reports revision, total keys, hash and size with the same
// definitions as `etcdutl snapshot status` of etcd 3.6 and later, so that the
// figures can be compared with etcd's own tools. Those count live keys;
// `etcdctl snapshot status` of etcd 3.4 and `etcdutl snapshot status` of 3.5
// count every entry of every bucket (each revision of each key, tombstones,
// and etcd's own buckets) under the same name, so that count is reported
// too; hash, revision and size mean the same in all three.
package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protowire"
)

// TrailerSize is the length of the sha256 the server appends to a snapshot.
const TrailerSize = sha256.Size

// Status holds the figures `etcdutl snapshot status` prints for a file.
type Status struct {
	Hash     uint32 `json:"hash"`
	Revision int64  `json:"revision"`
	// TotalKey is etcd 3.6's "total keys": keys whose newest revision is
	// not a deletion.
	TotalKey int `json:"total_keys"`
	// TotalKeyAllBuckets is etcd 3.4's and 3.5's "total keys": the entries
	// of every bucket.
	TotalKeyAllBuckets int    `json:"total_keys_all_buckets"`
	TotalSize          int64  `json:"total_size"`
	StorageVersion     string `json:"storage_version,omitempty"`
}

// Stream hashes a snapshot while it is written. The trailer must equal the
// sha256 of all but the last 32 bytes; the sha256 of the whole stream (what
// sha256sum prints for the saved file) is the same hash carried on over those
// 32 bytes, so every byte is hashed once.
type Stream struct {
	content hash.Hash
	tail    []byte // the last TrailerSize bytes seen, held back from content
	n       int64
}

// NewStream returns an empty Stream.
func NewStream() *Stream {
	return &Stream{content: sha256.New(), tail: make([]byte, 0, TrailerSize)}
}

// Write implements io.Writer; it never fails.
func (s *Stream) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if len(p) >= TrailerSize {
		s.content.Write(s.tail)
		s.content.Write(p[:len(p)-TrailerSize])
		s.tail = append(s.tail[:0], p[len(p)-TrailerSize:]...)
		return len(p), nil
	}
	// p is shorter than the trailer: release just enough of the held-back
	// tail to keep the last TrailerSize bytes.
	if over := len(s.tail) + len(p) - TrailerSize; over > 0 {
		s.content.Write(s.tail[:over])
		s.tail = append(s.tail[:0], s.tail[over:]...)
	}
	s.tail = append(s.tail, p...)
	return len(p), nil
}

// Size is the number of bytes written.
func (s *Stream) Size() int64 { return s.n }

// SHA256 is the hex sha256 of everything written.
func (s *Stream) SHA256() string {
	whole, err := s.content.(hash.Cloner).Clone()
	if err != nil {
		panic("cloning a sha256 state: " + err.Error()) // crypto/sha256 always can
	}
	whole.Write(s.tail)
	return hex.EncodeToString(whole.Sum(nil))
}

// ErrTrailer means the sha256 trailer is missing or does not match: the
// snapshot was cut short or changed on the way.
var ErrTrailer = errors.New("sha256 trailer does not match the snapshot content")

// CheckTrailer compares the last 32 bytes with the sha256 of the rest.
func (s *Stream) CheckTrailer() error {
	// A trailer alone (the sha256 of nothing) is no snapshot.
	if s.n <= TrailerSize || (s.n-TrailerSize)%512 != 0 {
		return fmt.Errorf("%w: size %d is not a whole number of pages plus a %d-byte trailer (cut short?)", ErrTrailer, s.n, TrailerSize)
	}
	if !bytes.Equal(s.content.Sum(nil), s.tail) {
		return fmt.Errorf("%w: the content hashes to %x, the trailer says %x", ErrTrailer, s.content.Sum(nil), s.tail)
	}
	return nil
}

// childEnv marks a process started only to check one database.
const childEnv = "BACKUP_JOB_VERIFY_DATABASE"

// childFoundProblem is the exit status of a child that checked the database
// and printed what is wrong with it; the Go runtime exits with 2 when it
// crashes.
const childFoundProblem = 1

// childMemoryLimit is the child's soft heap limit (unless GOMEMLIMIT says
// otherwise).
const childMemoryLimit = 40 << 20

// Database checks path in a child process (this same executable; see
// RunChild): bbolt reads the file through a memory map and answers some
// corrupt pages with a panic in a goroutine of its own, or a page number past
// the end of the file with a SIGBUS or SIGSEGV, none of which a recover can
// catch, and a backup job must report a bad snapshot and clean up, not
// crash.
func Database(ctx context.Context, path string) (Status, error) {
	exe, err := os.Executable()
	if err != nil {
		return Status{}, fmt.Errorf("finding own executable to check %s: %w", path, err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// From here on this process only waits: hand its spent heap (the
	// snapshot stream's buffers) back to the system, so that the two
	// processes together stay small.
	debug.FreeOSMemory()
	runErr := cmd.Run()
	if runErr == nil {
		var st Status
		if err := json.Unmarshal(stdout.Bytes(), &st); err != nil {
			return Status{}, fmt.Errorf("checking %s: reading the checker's answer %q: %w", path, stdout.String(), err)
		}
		return st, nil
	}
	if ctx.Err() != nil {
		return Status{}, fmt.Errorf("checking %s: %w", path, ctx.Err())
	}
	return Status{}, childFailure(path, runErr, stderr.String())
}

// childFailure says in one line why the child checking path failed. A
// child that found a problem printed it, naming the file; any other end is a
// crash, whose dump (some two hundred lines, without the file name) would
// fill the summary and the termination message: it is reduced to its cause.
func childFailure(path string, runErr error, stderr string) error {
	var exit *exec.ExitError
	if !errors.As(runErr, &exit) {
		return fmt.Errorf("starting the bbolt consistency check of %s: %w", path, runErr)
	}
	if msg := strings.ReplaceAll(strings.TrimSpace(stderr), "\n", " "); exit.ExitCode() == childFoundProblem && msg != "" {
		return errors.New(msg)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		hint := ""
		if ws.Signal() == syscall.SIGKILL {
			hint = ", as the out-of-memory killer does"
		}
		return fmt.Errorf("bbolt consistency check of %s was killed by %s%s: the database could not be checked", path, unix.SignalName(ws.Signal()), hint)
	}
	reason, corrupt := crashReason(stderr)
	if reason == "" {
		reason = exit.String()
	}
	if corrupt {
		return fmt.Errorf("bbolt consistency check of %s crashed (%s): the database is corrupt", path, reason)
	}
	return fmt.Errorf("bbolt consistency check of %s crashed (%s): the database could not be checked", path, reason)
}

// maxCrashCause bounds the part of a crash message quoted from the dump.
const maxCrashCause = 200

// crashReason reduces a Go crash dump to its cause: the signal, the panic
// or fault message, and the first function outside the runtime, e.g.
// "SIGBUS: unexpected fault address 0x7f0c2a000000 in
// go.etcd.io/bbolt/internal/common.(*Page).FastCheck". corrupt says whether
// the crash is what a corrupt database causes: a memory fault reading the
// map, or a panic in the code reading it.
func crashReason(dump string) (reason string, corrupt bool) {
	var signal, cause, where string
	lines := strings.Split(dump, "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		switch {
		case signal == "" && strings.HasPrefix(line, "[signal "):
			signal = strings.FieldsFunc(strings.TrimPrefix(line, "[signal "), func(r rune) bool { return r == ':' || r == ' ' })[0]
		case cause == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "unexpected fault address ") || strings.HasPrefix(line, "fatal error: ")):
			cause = line
		case where == "" && strings.HasPrefix(line, "goroutine ") && strings.HasSuffix(line, ":"):
			where = firstFrame(lines[i+1:])
		}
	}
	if cause == "" {
		return "", false
	}
	if len(cause) > maxCrashCause {
		cause = cause[:maxCrashCause] + "..."
	}
	corrupt = signal == "SIGBUS" || signal == "SIGSEGV" || strings.HasPrefix(cause, "panic: ")
	if signal != "" {
		cause = signal + ": " + cause
	}
	if where != "" {
		cause += " in " + where
	}
	return cause, corrupt
}

// firstFrame returns the first function of a goroutine's stack that is not
// part of the runtime's panic handling.
func firstFrame(stack []string) string {
	for _, line := range stack {
		if line == "" {
			return ""
		}
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "runtime.") || strings.HasPrefix(line, "panic(") {
			continue
		}
		if i := strings.LastIndex(line, "("); i > 0 {
			return line[:i]
		}
		return line
	}
	return ""
}

// RunChild does the work of a child started by Database and exits; it
// returns at once in any other process. Call it first thing in main (and in
// TestMain of tests that verify snapshots).
func RunChild() {
	path := os.Getenv(childEnv)
	if path == "" {
		return
	}
	// bbolt's check keeps a map entry for every page; without a limit the
	// heap grows to twice that before the garbage collector runs. With it
	// the collector works harder only when the heap nears the limit.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(childMemoryLimit)
	}
	st, err := DatabaseInProcess(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(childFoundProblem)
	}
	_ = json.NewEncoder(os.Stdout).Encode(st)
	os.Exit(0)
}

// DatabaseInProcess opens path as a bbolt database read-only, runs bbolt's
// consistency check and computes the etcdutl status figures; the figures
// count only when the check finds nothing. A corrupt file can crash the
// process: see Database.
func DatabaseInProcess(path string) (Status, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Status{}, fmt.Errorf("opening %s as a bbolt database: %w", path, err)
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second, MmapFlags: mmapFlags(fi.Size())})
	if err != nil {
		return Status{}, fmt.Errorf("opening %s as a bbolt database: %w", path, err)
	}
	defer db.Close()
	// Both read transactions begin before the check starts and end after it
	// has finished: the check loads bbolt's free-page list, which beginning
	// and ending a transaction read.
	checkTx, err := db.Begin(false)
	if err != nil {
		return Status{}, fmt.Errorf("checking %s: %w", path, err)
	}
	defer checkTx.Rollback()
	// A read-only open has read only the meta pages. Pages the meta page
	// counts but the file lacks would be read through the map past the
	// end of the file, which the kernel answers with SIGBUS: refuse such a
	// file before the check touches them.
	if fi.Size() < checkTx.Size() {
		return Status{}, fmt.Errorf("checking %s: the file has %d bytes but its meta page counts %d bytes of pages: it was cut short", path, fi.Size(), checkTx.Size())
	}
	figuresTx, err := db.Begin(false)
	if err != nil {
		return Status{}, fmt.Errorf("checking %s: %w", path, err)
	}
	defer figuresTx.Rollback()
	var (
		st        Status
		statusErr error
		overlap   sync.WaitGroup
	)
	figures := func() {
		defer func() {
			// A panic on a corrupt page is the check's to report.
			if r := recover(); r != nil {
				statusErr = fmt.Errorf("reading the database: %v", r)
			}
		}()
		statusErr = status(figuresTx, &st)
	}
	// The figures are computed during the check, on another core, while the
	// maps the two keep (an entry per page, one per key) fit in memory
	// together; after it otherwise.
	if fi.Size() <= overlapMaxSize {
		overlap.Go(figures)
	}
	var problems []string
	for err := range checkTx.Check() {
		problems = append(problems, err.Error())
	}
	overlap.Wait()
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return Status{}, fmt.Errorf("checking %s: the database is corrupt: bbolt consistency check found %d problems: %s", path, len(problems), strings.Join(problems, "; "))
	}
	if fi.Size() > overlapMaxSize {
		figures()
	}
	if statusErr != nil {
		return Status{}, fmt.Errorf("checking %s: %w", path, statusErr)
	}
	return st, nil
}

// overlapMaxSize is the largest database whose check and figures run at the
// same time: beyond it the two maps together would pass the child's memory
// limit.
const overlapMaxSize = 2 << 30

// status computes the figures exactly as etcdutl does: a Castagnoli crc32
// over every bucket name, key and value in order; the revision of the last
// entry of the "key" bucket; the number of keys whose newest entry is not a
// tombstone (3.6 and later) and the number of entries (3.4 and 3.5). Live keys are tracked by a 128-bit hash of the key rather than
// the key itself, so that memory grows by 16 bytes per key and not by the
// key's length.
func status(tx *bolt.Tx, st *Status) error {
	st.TotalSize = tx.Size()
	if meta := tx.Bucket([]byte("meta")); meta != nil {
		st.StorageVersion = string(meta.Get([]byte("storageVersion")))
	}
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	live := map[[16]byte]struct{}{}
	fh := fnv.New128a()
	c := tx.Cursor()
	for name, _ := c.First(); name != nil; name, _ = c.Next() {
		b := tx.Bucket(name)
		if b == nil {
			return fmt.Errorf("nil bucket %q", name)
		}
		crc.Write(name)
		isKey := string(name) == "key"
		err := b.ForEach(func(k, v []byte) error {
			crc.Write(k)
			crc.Write(v)
			st.TotalKeyAllBuckets++
			if !isKey {
				return nil
			}
			if len(k) < 17 {
				return fmt.Errorf("revision key %x is shorter than 17 bytes", k)
			}
			st.Revision = int64(binary.BigEndian.Uint64(k[:8]))
			key, err := userKey(v)
			if err != nil {
				return fmt.Errorf("decoding the value at revision key %x: %w", k, err)
			}
			fh.Reset()
			fh.Write(key)
			var id [16]byte
			fh.Sum(id[:0])
			if len(k) == 18 && k[17] == 't' { // tombstone: the key was deleted
				delete(live, id)
			} else {
				live[id] = struct{}{}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading bucket %q: %w", name, err)
		}
	}
	st.TotalKey = len(live)
	st.Hash = crc.Sum32()
	return nil
}

// userKey returns the key field of an encoded mvccpb.KeyValue without
// decoding the rest: a full decode would copy every value, the bulk of the
// database, only to throw it away.
func userKey(v []byte) ([]byte, error) {
	var key []byte
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		v = v[n:]
		if num == keyField {
			if typ != protowire.BytesType {
				return nil, fmt.Errorf("key field has wire type %d, want %d", typ, protowire.BytesType)
			}
			key, n = protowire.ConsumeBytes(v)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, v)
		}
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		v = v[n:]
	}
	return key, nil
}

// keyField is the number of the key field of mvccpb.KeyValue.
const keyField = 1

// File verifies a saved snapshot file from scratch: its trailer and its
// database. It reads the file once for the trailer; the database check
// then mostly hits the page cache.
func File(ctx context.Context, path string) (Status, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return Status{}, "", fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	s := NewStream()
	if _, err := io.Copy(s, f); err != nil {
		return Status{}, "", fmt.Errorf("reading %s: %w", path, err)
	}
	if err := s.CheckTrailer(); err != nil {
		return Status{}, "", fmt.Errorf("verifying %s: %w", path, err)
	}
	st, err := Database(ctx, path)
	return st, s.SHA256(), err
}
