package verify

import (
	"os/exec"
	"strings"
	"testing"
)

// TestChildFailureOneLine covers the ends of a child that corrupt files do
// not produce on demand (verify_test.go has those that they do): each must
// become one line naming the file.
func TestChildFailureOneLine(t *testing.T) {
	const path = "/backup/etcd-snapshot-20261123T170000Z.db"
	cases := []struct {
		name   string
		script string // how the child ends
		stderr string // what it printed
		want   []string
		refuse []string
	}{
		{
			name: "found a problem", script: "exit 1",
			stderr: "checking " + path + ": bbolt consistency check found 2 problems:\npage 5: unreachable unfreed\n",
			want:   []string{"checking " + path + ": bbolt consistency check found 2 problems: page 5: unreachable unfreed"},
		},
		{
			name: "killed", script: "kill -KILL $$",
			want:   []string{"bbolt consistency check of " + path + " was killed by SIGKILL", "out-of-memory", "could not be checked"},
			refuse: []string{"corrupt"},
		},
		{
			name: "runtime out of memory", script: "exit 2",
			stderr: "fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw({0x1, 0x2})\n\t/usr/local/go/src/runtime/panic.go:1229 +0x48\n\ngoroutine 1 gp=0x1 m=0 mp=0x2 [running]:\nruntime.mallocgc(0x1)\n\t/usr/local/go/src/runtime/malloc.go:1 +0x1\ngo.etcd.io/bbolt.(*Tx).Check(0x1)\n\t/x/tx_check.go:1 +0x1\n",
			want:   []string{"bbolt consistency check of " + path + " crashed (fatal error: runtime: out of memory in go.etcd.io/bbolt.(*Tx).Check)", "could not be checked"},
			refuse: []string{"corrupt"},
		},
		{
			name: "nil pointer", script: "exit 2",
			stderr: "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]\n\ngoroutine 7 [running]:\ngo.etcd.io/bbolt.(*Cursor).search(0xc0001, {0x0, 0x0})\n\t/x/cursor.go:1 +0x1\n",
			want:   []string{"bbolt consistency check of " + path + " crashed (SIGSEGV: panic: runtime error: invalid memory address or nil pointer dereference in go.etcd.io/bbolt.(*Cursor).search): the database is corrupt"},
		},
		{
			name: "unknown dump", script: "exit 3", stderr: "something\nelse\n",
			want: []string{"bbolt consistency check of " + path + " crashed (exit status 3): the database could not be checked"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runErr := exec.Command("sh", "-c", c.script).Run()
			if runErr == nil {
				t.Fatal("the child did not fail")
			}
			msg := childFailure(path, runErr, c.stderr).Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("more than one line: %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not contain %q", msg, w)
				}
			}
			for _, r := range c.refuse {
				if strings.Contains(msg, r) {
					t.Errorf("%q claims %q", msg, r)
				}
			}
		})
	}
}

func TestCrashReasonBounded(t *testing.T) {
	for _, n := range []int{maxCrashCause - 1, maxCrashCause, maxCrashCause + 1, 5000} {
		cause := "panic: " + strings.Repeat("x", n-len("panic: "))
		got, corrupt := crashReason(cause + "\n")
		want := cause
		if n > maxCrashCause {
			want = cause[:maxCrashCause] + "..."
		}
		if got != want || !corrupt {
			t.Errorf("cause of %d bytes: got %q (corrupt %v), want %q", n, got, corrupt, want)
		}
	}
}

func TestFirstFrame(t *testing.T) {
	cases := []struct {
		stack []string
		want  string
	}{
		{[]string{"runtime.gopanic({0x1})", "\t/go/src/runtime/panic.go:1 +0x1", "panic({0x2})", "go.etcd.io/bbolt.(*Tx).Check(0x1)", "main.main()"}, "go.etcd.io/bbolt.(*Tx).Check"},
		{[]string{"main.f"}, "main.f"},
		{[]string{"(unnamed"}, "(unnamed"},
		{[]string{"runtime.throw()", "", "main.g()"}, ""},
		{nil, ""},
	}
	for _, c := range cases {
		if got := firstFrame(c.stack); got != c.want {
			t.Errorf("firstFrame(%q) = %q, want %q", c.stack, got, c.want)
		}
	}
}
