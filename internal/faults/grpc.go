package faults

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
)

// HTTP/2 frame types and flags used here (RFC 9113, section 6).
const (
	frameData    = 0x0
	frameHeaders = 0x1
	flagEnd      = 0x1 // END_STREAM
	flagHeaders  = 0x4 // END_HEADERS
	flagPadded   = 0x8
	frameHeader  = 9
	// minFlipFrame is the least DATA payload in which a byte is flipped.
	// gRPC (grpc-go's loopy writer) never lets a DATA frame span two
	// messages, so a message's framing and protobuf field headers lie
	// within a few dozen bytes of a frame's edges; the middle byte of a
	// frame this long is always message payload (snapshot content).
	minFlipFrame = 4096
)

// grpcStream follows the gRPC message framing (1 flag byte, 4 length
// bytes, message) through the DATA frames of one HTTP/2 stream.
type grpcStream struct {
	data   int64 // DATA payload bytes so far
	prefix int   // bytes of the current 5-byte message prefix seen
	pbuf   [5]byte
	need   uint32 // bytes of the current message still to come
	ended  bool   // the proxy ended this stream; its later frames are dropped
}

func (s *grpcStream) feed(b []byte) {
	for len(b) > 0 {
		if s.need == 0 {
			k := copy(s.pbuf[s.prefix:], b)
			s.prefix += k
			b = b[k:]
			if s.prefix == len(s.pbuf) {
				s.need = binary.BigEndian.Uint32(s.pbuf[1:])
				if s.need == 0 {
					s.prefix = 0
				}
			}
			continue
		}
		k := min(uint32(len(b)), s.need)
		s.need -= k
		b = b[k:]
		if s.need == 0 {
			s.prefix = 0
		}
	}
}

// atBoundary is true between two messages.
func (s *grpcStream) atBoundary() bool { return s.need == 0 && s.prefix == 0 }

// pipeGRPC forwards the server-to-client half of a plaintext HTTP/2
// connection (gRPC with prior knowledge: the server's half is frames from
// the first byte) frame by frame, applying a Flip or EndStream rule to the
// first stream whose DATA passes r.After bytes.
func (p *Proxy) pipeGRPC(dst net.Conn, src net.Conn, r Rule) error {
	br := bufio.NewReaderSize(src, 64<<10)
	streams := map[uint32]*grpcStream{}
	done := false
	hdr := make([]byte, frameHeader)
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			return err
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := hdr[3], hdr[4]
		sid := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
		payload := make([]byte, length)
		if _, err := io.ReadFull(br, payload); err != nil {
			return err
		}
		st := streams[sid]
		if st == nil && sid != 0 {
			st = &grpcStream{}
			streams[sid] = st
		}
		if st != nil && st.ended {
			continue
		}
		endNow := false
		if typ == frameData && st != nil && !done {
			data := payload
			if flags&flagPadded != 0 && len(data) > 0 {
				pad := int(data[0])
				if pad+1 <= len(data) {
					data = data[1 : len(data)-pad]
				}
			}
			switch r.Fault {
			case Flip:
				if st.data+int64(len(data)) > r.After && len(data) >= minFlipFrame {
					done = true
					if p.claim(Down, r) {
						data[len(data)/2] ^= 0xff
					}
				}
			case EndStream:
				st.feed(data)
				if st.data+int64(len(data)) >= r.After && st.atBoundary() && flags&flagEnd == 0 {
					done = true
					endNow = p.claim(Down, r)
				}
			}
			st.data += int64(len(data))
		}
		if _, err := dst.Write(hdr); err != nil {
			return err
		}
		if _, err := dst.Write(payload); err != nil {
			return err
		}
		p.bytes[Down].Add(int64(frameHeader + length))
		if endNow {
			st.ended = true
			if _, err := dst.Write(okTrailers(sid)); err != nil {
				return err
			}
		}
	}
}

// okTrailers is a HEADERS frame that ends stream sid with grpc-status 0.
// The field is a literal without indexing (RFC 7541, section 6.2.2), which
// leaves the client's HPACK dynamic table as the server left it.
func okTrailers(sid uint32) []byte {
	var block []byte
	for _, f := range [][2]string{{"grpc-status", "0"}} {
		block = append(block, 0x00, byte(len(f[0])))
		block = append(block, f[0]...)
		block = append(block, byte(len(f[1])))
		block = append(block, f[1]...)
	}
	fr := make([]byte, frameHeader, frameHeader+len(block))
	fr[0], fr[1], fr[2] = byte(len(block)>>16), byte(len(block)>>8), byte(len(block))
	fr[3], fr[4] = frameHeaders, flagEnd|flagHeaders
	binary.BigEndian.PutUint32(fr[5:], sid)
	return append(fr, block...)
}
