package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// TestEveryCommandHasHelp: --help and -h on every command, before or after
// an argument, print its usage and exit 0 without doing anything. Commands
// handed to backup-restore (restore, drill) print that binary's help; its
// own test covers them.
func TestEveryCommandHasHelp(t *testing.T) {
	root := newRoot(io.Discard, io.Discard)
	for _, path := range testkit.CommandPaths(root) {
		cmd, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		if cmd.DisableFlagParsing {
			continue
		}
		for _, args := range [][]string{slices.Concat(path, []string{"--help"}), slices.Concat(path, []string{"-h"}), slices.Concat(path, []string{"an-argument", "--help"})} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Setenv("ETCD_BACKUP_DESTINATIONS", t.TempDir())
				var stdout, stderr bytes.Buffer
				code := run(args, &stdout, &stderr)
				if code != 0 {
					t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
				}
				if !strings.Contains(stdout.String(), "Usage:") || !strings.Contains(stdout.String(), cmd.UseLine()) {
					t.Errorf("no usage of %q on stdout: %s", cmd.UseLine(), stdout.String())
				}
				if stderr.Len() != 0 {
					t.Errorf("stderr: %s", stderr.String())
				}
			})
		}
	}
}
