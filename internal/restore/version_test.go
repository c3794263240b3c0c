package restore

import (
	"strings"
	"testing"
)

func TestVersionRules(t *testing.T) {
	cases := []struct {
		data, target string
		refused      bool
	}{
		{"3.6.0", "3.6", false},
		{"3.6.0", "v3.6.16", false},
		{"3.6.0", "3.7.3-0", false},
		{"3.7.0", "3.6.16-0", true},
		{"3.5.0", "3.4", true},
		{"3.6.0", "2.9", true},
		{"3.6.0", "4.0", false},
	}
	for _, c := range cases {
		t.Run(c.data+" on "+c.target, func(t *testing.T) {
			d, err := ParseVersion(c.data)
			if err != nil {
				t.Fatal(err)
			}
			tv, err := targetVersion(c.target)
			if err != nil {
				t.Fatal(err)
			}
			err = compatible(d, tv)
			if (err != nil) != c.refused {
				t.Fatalf("refused = %v (%v), want %v", err != nil, err, c.refused)
			}
			if err != nil && (!strings.Contains(err.Error(), d.String()) || !strings.Contains(err.Error(), tv.String())) {
				t.Errorf("the refusal does not name both versions: %v", err)
			}
		})
	}
	for _, bad := range []string{"latest", "3", "3.x", "v3.6.16 ", "registry.k8s.io/etcd:3.6.16-0"} {
		if _, err := targetVersion(bad); err == nil {
			t.Errorf("target version %q accepted", bad)
		}
	}
	if compatible(Version{}, Version{3, 4}) != nil || compatible(Version{3, 7}, Version{}) != nil {
		t.Error("an unknown version on either side must not refuse")
	}
}
