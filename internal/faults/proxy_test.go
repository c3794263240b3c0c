package faults

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// serveBytes is a server that sends n bytes (0, 1, 2, ...) to each client.
func serveBytes(t *testing.T, n int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// The proxy under test may cut the connection: a failed
			// write is what some cases expect.
			go func() { defer c.Close(); _, _ = c.Write(data) }()
		}
	}()
	return ln.Addr().String()
}

func readAll(t *testing.T, addr string, timeout time.Duration) ([]byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

func TestRules(t *testing.T) {
	target := serveBytes(t, 100_000)
	for _, tc := range []struct {
		name    string
		rule    Rule
		wantLen int
		timeout bool // the read times out: the stream stalled
	}{
		{"pass", Rule{}, 100_000, false},
		{"cut", Rule{Fault: Cut, After: 1000}, 1000, false},
		{"stall", Rule{Fault: Stall, After: 1000}, 1000, true},
		{"cut once", Rule{Fault: Cut, After: 1000, Once: true}, 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Start(Options{Target: target, Down: tc.rule})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := readAll(t, p.Addr(), time.Second)
			var ne net.Error
			if timedOut := errors.As(err, &ne) && ne.Timeout(); timedOut != tc.timeout {
				t.Errorf("read error %v, want a timeout: %v", err, tc.timeout)
			}
			if len(got) != tc.wantLen || !bytes.Equal(got, prefix(len(got))) {
				t.Errorf("got %d bytes (intact: %v), want %d", len(got), bytes.Equal(got, prefix(len(got))), tc.wantLen)
			}
			if tc.rule.Once {
				again, _ := readAll(t, p.Addr(), time.Second)
				if len(again) != 100_000 {
					t.Errorf("second connection got %d bytes, want all: Once must spare it", len(again))
				}
			}
		})
	}
}

func TestHold(t *testing.T) {
	target := serveBytes(t, 100_000)
	p, err := Start(Options{Target: target, Down: Rule{Fault: Hold, After: 5000}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan []byte)
	go func() { b, _ := readAll(t, p.Addr(), 10*time.Second); done <- b }()
	select {
	case <-p.Held():
	case <-time.After(5 * time.Second):
		t.Fatal("not held")
	}
	if got := p.Forwarded(Down); got != 5000 {
		t.Errorf("forwarded %d bytes before the hold, want 5000", got)
	}
	p.Release()
	if b := <-done; len(b) != 100_000 || !bytes.Equal(b, prefix(len(b))) {
		t.Errorf("after release got %d bytes, want all 100000 intact", len(b))
	}
}

func prefix(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestOKTrailers decodes the synthesized trailers with the HTTP/2 library.
func TestOKTrailers(t *testing.T) {
	fr := http2.NewFramer(io.Discard, bytes.NewReader(okTrailers(7)))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	mh, ok := f.(*http2.MetaHeadersFrame)
	if !ok {
		t.Fatalf("frame %T, want headers", f)
	}
	if mh.StreamID != 7 || !mh.StreamEnded() || !mh.HeadersEnded() {
		t.Errorf("stream %d ended %v headers ended %v", mh.StreamID, mh.StreamEnded(), mh.HeadersEnded())
	}
	if len(mh.Fields) != 1 || mh.Fields[0].Name != "grpc-status" || mh.Fields[0].Value != "0" {
		t.Errorf("fields %v, want grpc-status: 0", mh.Fields)
	}
}

// TestGRPCStreamBoundaries feeds gRPC messages cut at every kind of place.
func TestGRPCStreamBoundaries(t *testing.T) {
	msg := func(n int) []byte {
		b := make([]byte, 5+n)
		binary.BigEndian.PutUint32(b[1:], uint32(n))
		return b
	}
	var stream []byte
	var ends []int // offsets where a message ends
	for _, n := range []int{10, 0, 3, 40000, 1} {
		stream = append(stream, msg(n)...)
		ends = append(ends, len(stream))
	}
	for _, chunk := range []int{1, 2, 5, 7, 4096, len(stream)} {
		var s grpcStream
		for off := 0; off < len(stream); off += chunk {
			end := min(off+chunk, len(stream))
			s.feed(stream[off:end])
			isEnd := false
			for _, e := range ends {
				isEnd = isEnd || e == end
			}
			if s.atBoundary() != isEnd {
				t.Fatalf("chunks of %d: at offset %d boundary %v, want %v", chunk, end, s.atBoundary(), isEnd)
			}
		}
	}
}
