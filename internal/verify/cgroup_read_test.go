package verify

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadCgroup reads a cgroup directory's memory files as the kernel
// writes them (v2 names; v1 differs only in the names).
func TestReadCgroup(t *testing.T) {
	cases := []struct {
		name        string
		files       map[string]string
		limit, used int64
		ok          bool
	}{
		{"limit, usage and inactive cache", map[string]string{"memory.max": "1000\n", "memory.current": "600\n", "memory.stat": "anon 100\ninactive_file 200\nactive_file 50\n"}, 1000, 400, true},
		{"no memory.stat", map[string]string{"memory.max": "1000\n", "memory.current": "600\n"}, 1000, 600, true},
		{"inactive cache above usage", map[string]string{"memory.max": "1000", "memory.current": "100", "memory.stat": "inactive_file 300\n"}, 1000, 0, true},
		{"unreadable count in memory.stat", map[string]string{"memory.max": "1000", "memory.current": "600", "memory.stat": "inactive_file many\n"}, 1000, 600, true},
		{"a key that only starts the same", map[string]string{"memory.max": "1000", "memory.current": "600", "memory.stat": "inactive_filex 300\n"}, 1000, 600, true},
		{"no limit", map[string]string{"memory.max": "max\n", "memory.current": "600\n"}, 0, 0, false},
		{"no limit file", map[string]string{"memory.current": "600\n"}, 0, 0, false},
		{"no usage file", map[string]string{"memory.max": "1000\n"}, 0, 0, false},
		{"unreadable usage", map[string]string{"memory.max": "1000\n", "memory.current": "lots\n"}, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			limit, used, ok := readCgroup(dir, "memory.max", "memory.current", "inactive_file")
			if limit != c.limit || used != c.used || ok != c.ok {
				t.Errorf("readCgroup = %d, %d, %v; want %d, %d, %v", limit, used, ok, c.limit, c.used, c.ok)
			}
		})
	}
}
