// Package snapname is the format of the names this tool gives what it
// stores: <prefix><UTC time>.db for a snapshot and <prefix><UTC time>.bundle.tar
// for an archive of control-plane files, each optionally followed by .zst
// (compressed) and then .age (encrypted). Pruning and the removal of
// temporary files go by these names alone, so a name is recognised only when
// every part of it is exactly as Format writes it.
package snapname

import (
	"strings"
	"time"
)

// timeLayout is the UTC time in a name: sortable, no colons.
const timeLayout = "20060102T150405Z"

// Kind is what a file holds.
type Kind int

const (
	// Snapshot is an etcd snapshot (a bbolt database).
	Snapshot Kind = iota
	// Bundle is a tar archive of control-plane files.
	Bundle
)

// Shape is everything a name says about a file besides its time.
type Shape struct {
	Kind       Kind
	Compressed bool // .zst
	Encrypted  bool // .age
}

// Plain is an uncompressed, unencrypted snapshot.
var Plain = Shape{Kind: Snapshot}

// Written are the shapes this tool writes, and so the only ones that
// pruning and the removal of temporary files consider: snapshots and
// bundles, each plain, compressed, encrypted or both.
var Written = All()

// Shapes are the written shapes of one kind.
func Shapes(k Kind) []Shape {
	var out []Shape
	for _, s := range Written {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

// SidecarExt ends the name of the file that carries a stored file's sums
// in a directory: <name>.sha256 (sha256sum's format).
const SidecarExt = ".sha256"

// SidecarOf is the stored file a sidecar name belongs to, when name is a
// sidecar of one of the written shapes.
func SidecarOf(prefix, name string) (string, bool) {
	base, ok := strings.CutSuffix(name, SidecarExt)
	if !ok || !Matcher(prefix, Written...)(base) {
		return "", false
	}
	return base, true
}

// All is every shape a name can have.
func All() []Shape {
	var out []Shape
	for _, k := range []Kind{Snapshot, Bundle} {
		for _, c := range []bool{false, true} {
			for _, e := range []bool{false, true} {
				out = append(out, Shape{Kind: k, Compressed: c, Encrypted: e})
			}
		}
	}
	return out
}

// Suffix is what follows the time in a name of this shape.
func (s Shape) Suffix() string {
	suffix := ".db"
	if s.Kind == Bundle {
		suffix = ".bundle.tar"
	}
	if s.Compressed {
		suffix += ".zst"
	}
	if s.Encrypted {
		suffix += ".age"
	}
	return suffix
}

// Format is the name for a time and shape.
func Format(prefix string, t time.Time, s Shape) string {
	return prefix + t.UTC().Format(timeLayout) + s.Suffix()
}

// Name is what Parse reads from a name.
type Name struct {
	Time time.Time
	Shape
}

// Parse reads a name written by Format with this prefix. It reports false for
// anything else, including a well-shaped time that is not a real one (month
// 13): such a name was not written by this tool.
func Parse(prefix, name string) (Name, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || len(rest) < len(timeLayout) {
		return Name{}, false
	}
	stamp, suffix := rest[:len(timeLayout)], rest[len(timeLayout):]
	if !digitsLike(stamp) {
		return Name{}, false
	}
	t, err := time.Parse(timeLayout, stamp)
	if err != nil {
		return Name{}, false
	}
	for _, s := range All() {
		if s.Suffix() == suffix {
			return Name{Time: t, Shape: s}, true
		}
	}
	return Name{}, false
}

// digitsLike reports whether stamp has digits exactly where timeLayout has
// them: time.Parse alone would also take signs and spaces in some places.
func digitsLike(stamp string) bool {
	for i := range len(timeLayout) {
		c, l := stamp[i], timeLayout[i]
		if isDigit(l) != isDigit(c) || !isDigit(l) && c != l {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// Matcher reports whether a name with this prefix has one of the shapes.
func Matcher(prefix string, shapes ...Shape) func(string) bool {
	return func(name string) bool {
		n, ok := Parse(prefix, name)
		if !ok {
			return false
		}
		for _, s := range shapes {
			if n.Shape == s {
				return true
			}
		}
		return false
	}
}
