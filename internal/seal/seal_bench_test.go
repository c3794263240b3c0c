package seal

import (
	"io"
	"testing"
)

// BenchmarkWriter measures each layer on a half-compressible stream.
func BenchmarkWriter(b *testing.B) {
	t := &testing.T{}
	chunk := plaintext(t, 4<<20)
	k := x25519Pair(t)
	rcpts, err := ParseRecipients(k.recipient, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		o    Options
	}{
		{"none", Options{}},
		{"zstd1", Options{Compression: CompressionZstd, Level: 1}},
		{"zstd3", Options{Compression: CompressionZstd, Level: 3}},
		{"age", Options{Recipients: rcpts}},
		{"zstd3+age", Options{Compression: CompressionZstd, Level: 3, Recipients: rcpts}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(chunk)))
			w, err := NewWriter(io.Discard, bc.o)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := w.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(w.Sums().Ratio(), "ratio")
		})
	}
}
