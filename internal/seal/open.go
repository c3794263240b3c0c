package seal

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// ErrNoIdentity means an encrypted file was opened without an identity.
var ErrNoIdentity = errors.New("the file is encrypted (.age) and no identity was given; accepted: --identity FILE or ETCD_BACKUP_IDENTITY_FILE with the age or SSH private key matching one of the recipients")

// ErrWrongIdentity means none of the identities given can decrypt the file.
var ErrWrongIdentity = errors.New("none of the given identities can decrypt the file: it was encrypted to other recipients")

// ErrCorrupt means the stored bytes were changed or cut short: an age chunk
// failed authentication, or the zstd stream or its checksum is wrong.
var ErrCorrupt = errors.New("stored data is damaged or cut short")

// Reader reverses the layers and yields the plaintext. The sums are
// complete once Read has returned io.EOF, which it does only after every
// layer has checked its own integrity (age's authenticated chunks, the
// zstd content checksum) and the stored stream has no bytes left over.
type Reader struct {
	src           io.Reader // the stored bytes, hashed
	plain, stored *hashing
	top           io.Reader
	zr            *zstd.Decoder
	err           error
}

// NewReader opens the stored stream src with the given layers. ids are
// needed only when l.Encrypted. A wrong identity is reported here, before
// any plaintext is produced.
func NewReader(src io.Reader, l Layers, ids []age.Identity) (*Reader, error) {
	r := &Reader{plain: newHashing(), stored: newHashing()}
	r.src = markingReader{r: io.TeeReader(src, r.stored)}
	in := r.src
	if l.Encrypted {
		if len(ids) == 0 {
			return nil, ErrNoIdentity
		}
		ar, err := age.Decrypt(in, ids...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return nil, ErrWrongIdentity
			}
			return nil, fmt.Errorf("reading the age header: %w", classify(err))
		}
		in = ar
	}
	if l.Compressed {
		zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return nil, fmt.Errorf("starting decompression: %w", err)
		}
		r.zr = zr
		in = zr
	}
	r.top = in
	return r, nil
}

// Read yields plaintext.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.top.Read(p)
	r.plain.Write(p[:n])
	if err == nil {
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		err = r.finish()
		if err == nil {
			err = io.EOF
		}
	} else {
		err = classify(err)
	}
	r.err = err
	return n, err
}

// classify tells a failure to read the stored bytes from damage that a
// layer found in them.
func classify(err error) error {
	var se *sourceError
	if errors.As(err, &se) {
		return fmt.Errorf("reading the stored stream: %w", se.err)
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// sourceError marks errors of the underlying reader as they pass through
// the layers.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

type markingReader struct{ r io.Reader }

func (m markingReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &sourceError{err: err}
	}
	return n, err
}

// finish checks that nothing follows the end of the layers: bytes appended
// to a stored file are damage too.
func (r *Reader) finish() error {
	var one [1]byte
	n, err := io.ReadFull(r.src, one[:])
	if n > 0 {
		return fmt.Errorf("%w: data after the end of the stored stream", ErrCorrupt)
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return classify(err)
}

// Close releases the decompressor; it does not close src.
func (r *Reader) Close() error {
	if r.zr != nil {
		r.zr.Close()
	}
	return nil
}

// Sums of what was read so far (complete after io.EOF).
func (r *Reader) Sums() Sums {
	return Sums{PlainSHA256: r.plain.sum(), PlainSize: r.plain.n, StoredSHA256: r.stored.sum(), StoredSize: r.stored.n}
}
