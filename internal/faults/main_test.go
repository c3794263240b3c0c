package faults_test

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/testkit"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// jobBinary is the backup job under test, built once in TestMain (or given
// as BACKUP_JOB_BINARY, e.g. the bin/backup-job of `make build`).
var jobBinary string

func TestMain(m *testing.M) {
	// This test binary is also re-executed as the database checker of
	// verify.Database and as an etcd server process.
	verify.RunChild()
	runEtcdChild()

	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "faults-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	jobBinary = os.Getenv("BACKUP_JOB_BINARY")
	if jobBinary == "" {
		jobBinary = filepath.Join(tmp, "backup-job")
		if err := buildJob(jobBinary); err != nil {
			return 0, err
		}
	} else if jobBinary, err = filepath.Abs(jobBinary); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// buildJob builds the binary the way `make build` does: static, trimmed,
// with the Makefile's GO_TAGS.
func buildJob(out string) error {
	root, err := testkit.ModuleRoot()
	if err != nil {
		return err
	}
	tags, err := testkit.BuildTags()
	if err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.Command("go", "build", "-trimpath", "-tags", tags, "-o", out, "./cmd/backup-job")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the backup job: %v\n%s", err, b)
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "built %s in %s\n", out, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
