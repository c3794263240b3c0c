package priority

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The test lowers its own process's priority: harmless, and the only way
// to see what every thread got.
func TestLowerAppliesToEveryThread(t *testing.T) {
	if err := Lower(7, IOIdle); err != nil {
		t.Fatal(err)
	}
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	if len(tids) < 2 {
		t.Fatalf("only %d threads: the test shows nothing about threads", len(tids))
	}
	for _, tid := range tids {
		if n := threadNice(t, tid); n != 7 {
			t.Errorf("thread %d: nice %d, want 7", tid, n)
		}
		prio, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0)
		if errno != 0 {
			t.Fatalf("ioprio_get: %v", errno)
		}
		if class := prio >> ioprioClassShift; class != ioprioClassIdle {
			t.Errorf("thread %d: I/O class %d, want idle (%d)", tid, class, ioprioClassIdle)
		}
	}
}

func TestIOClasses(t *testing.T) {
	for _, tc := range []struct {
		class   IOClass
		want    int
		wantErr bool
	}{
		{IONone, 0, false},
		{IOBestEffort, 2<<13 | 7, false},
		{IOIdle, 3 << 13, false},
		{"realtime", 0, true},
	} {
		got, err := ioprio(tc.class)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ioprio(%q) = %#x, %v; want %#x, error %v", tc.class, got, err, tc.want, tc.wantErr)
		}
	}
}

// threadNice reads the nice value (field 19) from /proc/self/task/TID/stat.
func threadNice(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}
