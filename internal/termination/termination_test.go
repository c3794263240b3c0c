package termination

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "termination-log")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent")
	for _, tc := range []struct {
		name, path string
		want       string // content afterwards; "-" for no file
	}{
		{"inside a container", existing, `{"status":"ok"}`},
		{"outside a container", missing, "-"},
		{"no path", "", "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Write(tc.path, []byte(`{"status":"ok"}`)); err != nil {
				t.Fatal(err)
			}
			if tc.path == "" {
				return
			}
			b, err := os.ReadFile(tc.path)
			switch {
			case tc.want == "-" && !os.IsNotExist(err):
				t.Errorf("%s was created (%v)", tc.path, err)
			case tc.want != "-" && (err != nil || string(b) != tc.want):
				t.Errorf("%s holds %q (%v), want %q", tc.path, b, err, tc.want)
			}
		})
	}
}
