package scratch

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// A process holding a scratch file, for TestKilledLeavesNothing.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SCRATCH_TEST_HOLD_IN"); dir != "" {
		s, err := Open(dir)
		if err == nil {
			_, err = s.Write(bytes.Repeat([]byte("secret "), 1<<16))
		}
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("holding\n")
		select {}
	}
	os.Exit(m.Run())
}

// SIGKILL runs no cleanup code; the unnamed file goes with the process.
func TestKilledLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SCRATCH_TEST_HOLD_IN="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "holding\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("helper: %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the helper was not killed")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("a killed process left %v in %s", entries, dir)
	}
}

func TestUnnamedAndReadableByPath(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.named {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the filesystem of %s makes no unnamed files — CI=true requires it", dir)
		}
		t.Skipf("the filesystem of %s makes no unnamed files; the named fallback is tested below", dir)
	}
	if _, err := s.Write([]byte("first attempt")); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	want := []byte("plaintext snapshot")
	if _, err := s.Write(want); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("the scratch file has a name: %v", entries)
	}
	// another process reads it by its path, as the database check does
	out, err := exec.Command("cat", s.Path()).Output()
	if err != nil {
		t.Fatalf("reading %s from another process: %v", s.Path(), err)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("read %q, want %q", out, want)
	}
	s.Close()
	if _, err := os.Stat(s.Path()); err == nil {
		t.Fatal("the scratch file is still reachable after Close")
	}
}

func TestNamedFallbackIsRemoved(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// force the fallback's path through Close
	f, err := os.CreateTemp(dir, ".etcd-backup-scratch-")
	if err != nil {
		t.Fatal(err)
	}
	n := &File{f: f, path: f.Name(), named: true}
	n.Close()
	n.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
