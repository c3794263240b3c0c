package snapname_test

import (
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

var at = time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)

func TestFormatAndParseEveryShape(t *testing.T) {
	want := map[string]snapname.Shape{
		"p-20261123T170000Z.db":             {Kind: snapname.Snapshot},
		"p-20261123T170000Z.db.zst":         {Kind: snapname.Snapshot, Compressed: true},
		"p-20261123T170000Z.db.age":         {Kind: snapname.Snapshot, Encrypted: true},
		"p-20261123T170000Z.db.zst.age":     {Kind: snapname.Snapshot, Compressed: true, Encrypted: true},
		"p-20261123T170000Z.bundle.tar":     {Kind: snapname.Bundle},
		"p-20261123T170000Z.bundle.tar.zst": {Kind: snapname.Bundle, Compressed: true},
		"p-20261123T170000Z.bundle.tar.age": {Kind: snapname.Bundle, Encrypted: true},
		"p-20261123T170000Z.bundle.tar.zst.age": {
			Kind: snapname.Bundle, Compressed: true, Encrypted: true},
	}
	if len(snapname.All()) != len(want) {
		t.Fatalf("All() has %d shapes, want %d", len(snapname.All()), len(want))
	}
	for name, shape := range want {
		if got := snapname.Format("p-", at, shape); got != name {
			t.Errorf("Format(%+v) = %q, want %q", shape, got, name)
		}
		n, ok := snapname.Parse("p-", name)
		if !ok || n.Shape != shape || !n.Time.Equal(at) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v at %v", name, n, ok, shape, at)
		}
	}
}

func TestFormatIsUTC(t *testing.T) {
	n := snapname.Format("etcd-snapshot-", time.Date(2026, 11, 24, 2, 0, 0, 0, time.FixedZone("KST", 9*3600)), snapname.Plain)
	if n != "etcd-snapshot-20261123T170000Z.db" {
		t.Fatalf("name %q: want UTC time", n)
	}
}

// TestParseEveryDigit: every digit in every position of the time stamp.
func TestParseEveryDigit(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(2019, 9, 29, 19, 59, 59, 0, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 7, 0, time.UTC),
		time.Date(2100, 10, 30, 20, 40, 50, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 58, 16, 0, time.UTC),
	} {
		name := snapname.Format("p-", ts, snapname.Plain)
		n, ok := snapname.Parse("p-", name)
		if !ok || !n.Time.Equal(ts) {
			t.Errorf("Parse(%q) = %v, %v; want %v", name, n.Time, ok, ts)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, name := range []string{
		"p-20261123T170000Z.db.partial-0123456789ab",
		".p-20261123T170000Z.db",
		"p-20261323T170000Z.db", // month 13
		"p-2026112+T170000Z.db",
		"p-2026112 T170000Z.db",
		"p-20261123t170000Z.db",
		"p-20261123T170000z.db",
		"p-20261123T1700:0Z.db", // ':' is the character after '9'
		"p-20261123T1700/0Z.db", // '/' is the character before '0'
		"p-20261123TT70000Z.db",
		"p-20261123T170000Z",
		"p-20261123T170000Z.tar",
		"p-20261123T170000Z.db.age.zst",
		"q-20261123T170000Z.db",
		"p-",
	} {
		if n, ok := snapname.Parse("p-", name); ok {
			t.Errorf("Parse(%q) = %+v, want refused", name, n)
		}
	}
}

func TestMatcherKeepsToShapes(t *testing.T) {
	plain := snapname.Matcher("p-", snapname.Plain)
	if !plain("p-20261123T170000Z.db") || plain("p-20261123T170000Z.db.zst") {
		t.Fatal("Matcher(Plain) must match .db and nothing else")
	}
	every := snapname.Matcher("p-", snapname.All()...)
	if !every("p-20261123T170000Z.bundle.tar.zst.age") {
		t.Fatal("Matcher(All()...) must match every shape")
	}
	if snapname.Matcher("a.b-", snapname.Plain)("axb-20261123T080000Z.db") {
		t.Fatal("prefix dot matched any character")
	}
}
