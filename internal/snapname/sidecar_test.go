package snapname_test

import (
	"testing"

	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

func TestSidecarOf(t *testing.T) {
	for _, tc := range []struct {
		name, base string
		ok         bool
	}{
		{"p-20261123T170000Z.db.zst.age.sha256", "p-20261123T170000Z.db.zst.age", true},
		{"p-20261123T170000Z.bundle.tar.age.sha256", "p-20261123T170000Z.bundle.tar.age", true},
		{"p-20261123T170000Z.db.sha256", "p-20261123T170000Z.db", true},
		{"p-20261123T170000Z.db.zst.age", "", false},
		{"p-20261123T170000Z.db.gz.sha256", "", false},
		{"q-20261123T170000Z.db.sha256", "", false},
		{"p-20261323T170000Z.db.sha256", "", false},
	} {
		base, ok := snapname.SidecarOf("p-", tc.name)
		if base != tc.base || ok != tc.ok {
			t.Errorf("SidecarOf(%q) = %q, %v; want %q, %v", tc.name, base, ok, tc.base, tc.ok)
		}
	}
	for _, k := range []snapname.Kind{snapname.Snapshot, snapname.Bundle} {
		shapes := snapname.Shapes(k)
		if len(shapes) != 4 {
			t.Errorf("%d shapes of kind %v written, want 4", len(shapes), k)
		}
		for _, s := range shapes {
			if s.Kind != k {
				t.Errorf("Shapes(%v) holds %+v, of another kind", k, s)
			}
		}
	}
}
