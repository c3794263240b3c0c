package backup

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

type failingWriter struct {
	bytes.Buffer
	failAfter int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.Len()+len(p) > f.failAfter {
		return 0, errors.New("disk full")
	}
	return f.Buffer.Write(p)
}

func TestOverlapKeepsOrderAndReportsErrors(t *testing.T) {
	data := make([]byte, 5*overlapBufferSize+12345)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		failAfter int
		wantErr   bool
	}{
		{"all written", len(data), false},
		{"writer fails", 2 * overlapBufferSize, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &failingWriter{failAfter: tc.failAfter}
			o := newOverlap(w)
			var writeErr error
			for rest := data; len(rest) > 0 && writeErr == nil; {
				n := min(len(rest), 32<<10+7) // gRPC-sized pieces
				_, writeErr = o.Write(rest[:n])
				rest = rest[n:]
			}
			err := o.close()
			if tc.wantErr {
				if err == nil {
					t.Fatal("close reported no error from the writer")
				}
				if _, err := o.Write([]byte("x")); err == nil {
					t.Fatal("a write after the writer failed succeeded")
				}
				return
			}
			if err != nil || writeErr != nil {
				t.Fatalf("errors: %v, %v", writeErr, err)
			}
			if !bytes.Equal(w.Bytes(), data) {
				t.Fatalf("the writer got %d bytes, not the %d written, in order", w.Len(), len(data))
			}
			if err := o.close(); err != nil {
				t.Fatalf("second close: %v", err)
			}
		})
	}
}
