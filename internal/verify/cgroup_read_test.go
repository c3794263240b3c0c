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

func TestMemAvailable(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		content string
		want    int64
	}{
		"present":    {"MemTotal:       16000 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\n", 2048 << 10},
		"unreadable": {"MemAvailable:    lots kB\n", 1 << 62},
		"missing":    {"MemTotal:       16000 kB\n", 1 << 62},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := memAvailable(p); got != c.want {
			t.Errorf("%s: memAvailable = %d, want %d", name, got, c.want)
		}
	}
	if got := memAvailable(filepath.Join(dir, "none")); got != 1<<62 {
		t.Errorf("no file: memAvailable = %d, want 1<<62", got)
	}
}

func TestCgroupMemoryOf(t *testing.T) {
	root := t.TempDir()
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "v2", "memory.max"), "1000\n")
	write(filepath.Join(root, "v2", "memory.current"), "300\n")
	write(filepath.Join(root, "memory", "v1", "memory.limit_in_bytes"), "2000\n")
	write(filepath.Join(root, "memory", "v1", "memory.usage_in_bytes"), "500\n")
	cases := []struct {
		name, proc  string
		limit, used int64
		ok          bool
	}{
		{"v2", "0::/v2\n", 1000, 300, true},
		{"v1", "12:cpu,cpuacct:/other\n4:memory:/v1\n", 2000, 500, true},
		{"v2 without a limit, then nothing", "0::/none\n", 0, 0, false},
		{"malformed lines", "garbage\n0:/v2\n", 0, 0, false},
		{"another controller only", "3:cpu:/v2\n", 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proc := filepath.Join(t.TempDir(), "cgroup")
			write(proc, c.proc)
			limit, used, ok := cgroupMemoryOf(proc, root)
			if limit != c.limit || used != c.used || ok != c.ok {
				t.Errorf("cgroupMemoryOf = %d, %d, %v; want %d, %d, %v", limit, used, ok, c.limit, c.used, c.ok)
			}
		})
	}
	if _, _, ok := cgroupMemoryOf(filepath.Join(root, "none"), root); ok {
		t.Error("no cgroup file: reported a limit")
	}
}
