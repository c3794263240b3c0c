package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/destination"
)

func dirWith(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestListAndFind(t *testing.T) {
	a := dirWith(t, "etcd-snapshot-20261101T000000Z.db", "etcd-snapshot-20261103T000000Z.db", "notes.txt",
		"etcd-snapshot-20261104T000000Z.bundle.tar.age", "etcd-snapshot-20261101T000000Z.db.gz",
		"etcd-snapshot-20261199T000000Z.db", "x-etcd-snapshot-20261105T000000Z.db", ".etcd-snapshot-20261106T000000Z.db.partial-0123456789ab")
	b := dirWith(t, "etcd-snapshot-20261102T000000Z.db", "etcd-snapshot-20261103T000000Z.db", "etcd-snapshot-20261102T120000Z.db.zst")
	if err := os.Mkdir(filepath.Join(b, "etcd-snapshot-20261109T000000Z.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	c := Catalog{Specs: []string{a, missing, b}, Prefix: "etcd-snapshot-", Open: destination.OpenReader}
	entries, err := c.List(context.Background())
	var de *DestinationError
	if !errors.As(err, &de) || de.Destination != missing {
		t.Fatalf("error %v, want the missing destination reported", err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name[len("etcd-snapshot-"):len("etcd-snapshot-")+15]+e.Shape+"@"+map[string]string{a: "a", b: "b"}[e.Destination])
	}
	want := "20261104T000000.bundle.tar.age@a 20261103T000000.db@a 20261103T000000.db@b 20261102T120000.db.zst@b 20261102T000000.db@b 20261101T000000.db@a"
	if strings.Join(got, " ") != want {
		t.Fatalf("listed %v, want %s (newest first, destinations in order, only this tool's regular files)", got, want)
	}
	if !entries[1].Time.Equal(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("time %v", entries[0].Time)
	}

	for _, c2 := range []struct{ name, want, dest string }{
		{Latest, "etcd-snapshot-20261103T000000Z.db", a},
		{"etcd-snapshot-20261102T000000Z.db", "etcd-snapshot-20261102T000000Z.db", b},
	} {
		f, skipped, err := c.Find(context.Background(), c2.name)
		if err != nil || skipped == nil || f.Name != c2.want || f.Destination != c2.dest || f.Attributes.Size != int64(len(c2.want)) {
			t.Fatalf("Find(%s) = %+v, %v, %v", c2.name, f.Entry, skipped, err)
		}
		f.Reader.Close()
	}
	_, _, err = c.Find(context.Background(), "etcd-snapshot-20261001T000000Z.db")
	if err == nil || !strings.Contains(err.Error(), "no snapshot named") {
		t.Fatalf("finding an absent name: %v", err)
	}
	// a compressed snapshot is found like any other (fetch reverses it)
	f, _, err := c.Find(context.Background(), "etcd-snapshot-20261102T120000Z.db.zst")
	if err != nil || f.Name != "etcd-snapshot-20261102T120000Z.db.zst" || f.Destination != b {
		t.Fatalf("finding a compressed snapshot: %+v, %v", f.Entry, err)
	}
	f.Reader.Close()
	_, _, err = c.Find(context.Background(), "etcd-snapshot-20261104T000000Z.bundle.tar.age")
	var notSnapshot *cli.UsageError
	if !errors.As(err, &notSnapshot) {
		t.Fatalf("finding a bundle: %v, want a usage error (fetch takes snapshots)", err)
	}
	_, _, err = c.Find(context.Background(), "notes.txt")
	var ue *cli.UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("finding a foreign name: %v, want a usage error", err)
	}

	var out bytes.Buffer
	if err := Write(&out, entries, "json", time.Now()); err != nil {
		t.Fatal(err)
	}
	var back []Entry
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back) != 6 {
		t.Fatalf("json: %v %s", err, out.String())
	}
	out.Reset()
	if err := Write(&out, nil, "json", time.Now()); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Fatalf("empty json list: %q %v", out.String(), err)
	}
}
