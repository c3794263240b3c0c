package backup

import (
	"errors"
	"io"
	"sync"
)

// Overlap sizes: a few buffers of a size that keeps channel traffic low and
// memory small and fixed.
const (
	overlapBuffers    = 4
	overlapBufferSize = 1 << 20
)

// overlap hands what is written to it to w in a goroutine of its own, so
// that sealing (compression, encryption, the destinations' writes) runs
// alongside receiving the snapshot, hashing it and keeping its plaintext
// copy. Writes block once every buffer is in flight, so w sets the pace.
// An error of w fails the next Write and close.
type overlap struct {
	free chan []byte
	full chan []byte
	done chan struct{}
	cur  []byte

	mu  sync.Mutex
	err error // w's first error
}

func newOverlap(w io.Writer) *overlap {
	o := &overlap{free: make(chan []byte, overlapBuffers), full: make(chan []byte, overlapBuffers), done: make(chan struct{})}
	for range overlapBuffers {
		o.free <- make([]byte, 0, overlapBufferSize)
	}
	o.cur = <-o.free
	go o.drain(w)
	return o
}

func (o *overlap) drain(w io.Writer) {
	defer close(o.done)
	for b := range o.full {
		if o.failed() == nil {
			if _, err := w.Write(b); err != nil {
				o.mu.Lock()
				o.err = err
				o.mu.Unlock()
			}
		}
		o.free <- b[:0]
	}
}

func (o *overlap) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *overlap) Write(p []byte) (int, error) {
	if err := o.failed(); err != nil {
		return 0, err
	}
	if o.cur == nil {
		return 0, errors.New("write after close")
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(o.cur[len(o.cur):cap(o.cur)], p)
		o.cur, p = o.cur[:len(o.cur)+k], p[k:]
		if len(o.cur) == cap(o.cur) {
			o.full <- o.cur
			o.cur = <-o.free
		}
	}
	return n, nil
}

// close hands over what is left, waits for w to take everything and
// returns its first error.
func (o *overlap) close() error {
	if o.cur == nil {
		<-o.done
		return o.failed()
	}
	if len(o.cur) > 0 {
		o.full <- o.cur
	}
	o.cur = nil
	close(o.full)
	<-o.done
	return o.failed()
}
