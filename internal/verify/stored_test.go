package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/seal"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// sealFile stores the snapshot at src with o's layers next to it.
func sealFile(t *testing.T, src string, o seal.Options) string {
	t.Helper()
	plain, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "etcd-snapshot-20261123T170000Z.db"+o.Layers().Ext())
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := seal.NewWriter(f, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("scratch directory not empty: %v", entries)
	}
}

func TestStoredEveryShape(t *testing.T) {
	src := saveSnapshot(t)
	want, wantSum, err := verify.File(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rcpt := []age.Recipient{id.Recipient()}
	for _, o := range []seal.Options{
		{},
		{Compression: seal.CompressionZstd},
		{Recipients: rcpt},
		{Compression: seal.CompressionZstd, Recipients: rcpt},
	} {
		ext := o.Layers().Ext()
		t.Run("shape "+ext, func(t *testing.T) {
			stored := sealFile(t, src, o)
			scratch := t.TempDir()
			st, sums, err := verify.Stored(context.Background(), stored, []age.Identity{id}, scratch)
			if err != nil {
				t.Fatal(err)
			}
			if st != want || sums.PlainSHA256 != wantSum {
				t.Fatalf("status %+v sha256 %s; want %+v %s", st, sums.PlainSHA256, want, wantSum)
			}
			// The sizes and the stored file's sha256 are those of the bytes
			// on disk; the plain ones those of the snapshot inside.
			storedBytes, err := os.ReadFile(stored)
			if err != nil {
				t.Fatal(err)
			}
			plainInfo, err := os.Stat(src)
			if err != nil {
				t.Fatal(err)
			}
			if sums.StoredSize != int64(len(storedBytes)) || sums.StoredSHA256 != fmt.Sprintf("%x", sha256.Sum256(storedBytes)) {
				t.Errorf("stored size %d sha256 %s; want %d %x", sums.StoredSize, sums.StoredSHA256, len(storedBytes), sha256.Sum256(storedBytes))
			}
			if sums.PlainSize != plainInfo.Size() {
				t.Errorf("plain size %d, want %d", sums.PlainSize, plainInfo.Size())
			}
			emptyDir(t, scratch)
			if !o.Layers().Any() {
				return
			}

			// damage in the stored bytes
			b, err := os.ReadFile(stored)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x04
			if err := os.WriteFile(stored, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err = verify.Stored(context.Background(), stored, []age.Identity{id}, scratch)
			if !errors.Is(err, seal.ErrCorrupt) {
				t.Fatalf("flipped byte: %v, want %v", err, seal.ErrCorrupt)
			}
			emptyDir(t, scratch)
			if !o.Layers().Encrypted {
				return
			}
			_, _, err = verify.Stored(context.Background(), stored, []age.Identity{other}, scratch)
			if !errors.Is(err, seal.ErrWrongIdentity) {
				t.Fatalf("wrong identity: %v, want %v", err, seal.ErrWrongIdentity)
			}
			emptyDir(t, scratch)
		})
	}
}

// A snapshot that was damaged before it was sealed (the layers are
// intact) still fails on its trailer.
func TestStoredChecksThePlaintext(t *testing.T) {
	src := saveSnapshot(t)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	b[4096] ^= 0x01
	if err := os.WriteFile(src, b, 0o600); err != nil {
		t.Fatal(err)
	}
	stored := sealFile(t, src, seal.Options{Compression: seal.CompressionZstd})
	scratch := t.TempDir()
	_, _, err = verify.Stored(context.Background(), stored, nil, scratch)
	if !errors.Is(err, verify.ErrTrailer) {
		t.Fatalf("got %v, want %v", err, verify.ErrTrailer)
	}
	emptyDir(t, scratch)
}
