// Package seal turns a snapshot stream into what is stored and back: zstd
// compression, then age encryption, each optional, both applied while the
// bytes stream through. The sha256 of the plaintext and of the stored bytes
// are computed on the way, so a stored file can be identified by either
// without reading it twice.
//
// The stored formats are the standard ones: `age -d -i key | zstd -d`
// reverses a .zst.age file without this tool.
package seal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// Compression names accepted in ETCD_BACKUP_COMPRESSION.
const (
	CompressionNone = "none"
	CompressionZstd = "zstd"
)

// Extensions of the stored layers, in the order they are appended to a
// name: compression before encryption.
const (
	ExtZstd = ".zst"
	ExtAge  = ".age"
)

// Zstd levels accepted, with zstd's own numbering (the reference tool's
// default is 3). The encoder maps them onto its four speeds.
const (
	MinLevel     = 1
	MaxLevel     = 22
	DefaultLevel = 3
)

// Options say which layers a stream gets.
type Options struct {
	Compression string // CompressionNone (or "") or CompressionZstd
	Level       int    // zstd level, MinLevel..MaxLevel; 0 = DefaultLevel
	Recipients  []age.Recipient
	// PlainHashedElsewhere leaves the plaintext's sha256 to the caller,
	// which already hashes the stream (a backup run checks the snapshot's
	// trailer with it): Sums then has PlainSize but no PlainSHA256.
	PlainHashedElsewhere bool
}

// Layers are the layers of one stored file.
type Layers struct {
	Compressed bool
	Encrypted  bool
}

// Layers of what o writes.
func (o Options) Layers() Layers {
	return Layers{Compressed: o.Compression == CompressionZstd, Encrypted: len(o.Recipients) > 0}
}

// Ext is what the layers append to a name: "", ".zst", ".age" or ".zst.age".
func (l Layers) Ext() string {
	s := ""
	if l.Compressed {
		s += ExtZstd
	}
	if l.Encrypted {
		s += ExtAge
	}
	return s
}

// Any reports whether there is any layer at all.
func (l Layers) Any() bool { return l.Compressed || l.Encrypted }

// LayersOf reads the layers from the end of a name and returns the name
// without them: "x.db.zst.age" is x.db, compressed and encrypted.
func LayersOf(name string) (string, Layers) {
	var l Layers
	if base, ok := strings.CutSuffix(name, ExtAge); ok {
		name, l.Encrypted = base, true
	}
	if base, ok := strings.CutSuffix(name, ExtZstd); ok {
		name, l.Compressed = base, true
	}
	return name, l
}

// Sums identify a stream on both sides of the layers.
type Sums struct {
	PlainSHA256  string `json:"plain_sha256"`
	PlainSize    int64  `json:"plain_size"`
	StoredSHA256 string `json:"stored_sha256"`
	StoredSize   int64  `json:"stored_size"`
}

// Ratio is plaintext size over stored size (2.5 = stored in 40% of the
// space); 0 when nothing was stored.
func (s Sums) Ratio() float64 {
	if s.StoredSize == 0 {
		return 0
	}
	return float64(s.PlainSize) / float64(s.StoredSize)
}

// hashing counts and hashes what passes through it (only counts, with a
// nil hash).
type hashing struct {
	h hash.Hash
	n int64
}

func newHashing() *hashing { return &hashing{h: sha256.New()} }

func (c *hashing) Write(p []byte) (int, error) {
	if c.h != nil {
		c.h.Write(p)
	}
	c.n += int64(len(p))
	return len(p), nil
}

func (c *hashing) sum() string {
	if c.h == nil {
		return ""
	}
	return hex.EncodeToString(c.h.Sum(nil))
}

// Writer takes plaintext and writes the stored stream to its destination.
// Close must be called to finish the stream; what was written before a
// failed or missing Close is not a valid stored file.
type Writer struct {
	plain, stored *hashing
	top           io.Writer // where plaintext goes in
	closers       []io.Closer
	err           error
	closed        bool
}

// NewWriter returns a Writer that stores into dst with the layers of o.
func NewWriter(dst io.Writer, o Options) (*Writer, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	w := &Writer{plain: newHashing(), stored: newHashing()}
	if o.PlainHashedElsewhere {
		w.plain.h = nil
	}
	out := io.MultiWriter(dst, w.stored)
	var closers []io.Closer // innermost (nearest dst) first
	if len(o.Recipients) > 0 {
		aw, err := age.Encrypt(out, o.Recipients...)
		if err != nil {
			return nil, fmt.Errorf("starting encryption: %w", err)
		}
		out = aw
		closers = append(closers, aw)
	}
	if o.Compression == CompressionZstd {
		zw, err := zstd.NewWriter(out, encoderOptions(o.Level)...)
		if err != nil {
			return nil, fmt.Errorf("starting compression: %w", err)
		}
		out = zw
		closers = append(closers, zw)
	}
	// Close outermost first, so each layer flushes into the next.
	for i := len(closers) - 1; i >= 0; i-- {
		w.closers = append(w.closers, closers[i])
	}
	w.top = out
	return w, nil
}

// encoderOptions keep the encoder's memory small and fixed: the backup Job
// runs under a tight memory limit, and snapshots are large.
func encoderOptions(level int) []zstd.EOption {
	if level == 0 {
		level = DefaultLevel
	}
	return []zstd.EOption{
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(4 << 20),
		zstd.WithEncoderCRC(true),
	}
}

func (o Options) check() error {
	switch o.Compression {
	case "", CompressionNone, CompressionZstd:
	default:
		return fmt.Errorf("unknown compression %q; accepted: %s or %s", o.Compression, CompressionNone, CompressionZstd)
	}
	if o.Level != 0 && (o.Level < MinLevel || o.Level > MaxLevel) {
		return fmt.Errorf("zstd level %d out of range; accepted: %d to %d", o.Level, MinLevel, MaxLevel)
	}
	return nil
}

// Write takes plaintext.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("write after close")
	}
	n, err := w.top.Write(p)
	w.plain.Write(p[:n])
	if err != nil {
		w.err = err
	}
	return n, err
}

// Close finishes every layer: the zstd frame with its checksum, the last
// age chunk. It does not close the destination.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	for _, c := range w.closers {
		if err := c.Close(); err != nil && w.err == nil {
			w.err = err
		}
	}
	if w.err != nil {
		return fmt.Errorf("finishing the stored stream: %w", w.err)
	}
	return nil
}

// Sums of what went through so far (final after Close).
func (w *Writer) Sums() Sums {
	return Sums{PlainSHA256: w.plain.sum(), PlainSize: w.plain.n, StoredSHA256: w.stored.sum(), StoredSize: w.stored.n}
}

// SidecarExt names the file beside a stored file in a directory that
// carries its sums: "<stored name>.sha256".
const SidecarExt = ".sha256"

// Sidecar is that file's content, in sha256sum's format: the stored file's
// line, then the plaintext's under the name the file has once the layers
// are reversed. `sha256sum -c --ignore-missing` checks whichever of the
// two is present.
func (s Sums) Sidecar(storedName string) []byte {
	plainName, _ := LayersOf(storedName)
	return fmt.Appendf(nil, "%s  %s\n%s  %s\n", s.StoredSHA256, storedName, s.PlainSHA256, plainName)
}
