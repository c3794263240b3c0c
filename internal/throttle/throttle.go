// Package throttle bounds the rate of a stream of writes, for a disk that
// etcd's write-ahead log shares.
package throttle

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// chunk is the most one wait lets through at once, so that the stream
// stays smooth (and within the limiter's burst).
const chunk = 256 << 10

// Writer passes writes on to w at most bytesPerSecond on average.
type Writer struct {
	ctx     context.Context
	w       io.Writer
	limiter *rate.Limiter
}

// NewWriter wraps w; a wait ends early, with an error, when ctx ends.
func NewWriter(ctx context.Context, w io.Writer, bytesPerSecond int64) *Writer {
	burst := int(min(bytesPerSecond, chunk))
	return &Writer{ctx: ctx, w: w, limiter: rate.NewLimiter(rate.Limit(bytesPerSecond), burst)}
}

func (t *Writer) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		n := min(len(b), t.limiter.Burst())
		if err := t.limiter.WaitN(t.ctx, n); err != nil {
			return written, err
		}
		m, err := t.w.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}
