// Command demo-etcd starts a local etcd with TLS and client certificate
// authentication (embedded, on 127.0.0.1), seeds it with keys, and either
// runs the backup job against it (the demo) or serves until stopped (for
// the image test and manual runs).
//
//	demo-etcd [-dir DIR] [-out DIR] [-keys N] -- BACKUP-JOB-BINARY
//	demo-etcd -serve [-dir DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
)

func main() {
	dir := flag.String("dir", "", "directory for etcd's data and certificates (default: a new temporary directory)")
	out := flag.String("out", "demo-backups", "where the demo writes its backups (host/ and pvc/ below it)")
	keys := flag.Int("keys", 2000, "number of keys to seed")
	valueSize := flag.Int("value-size", 512, "bytes per seeded value")
	serve := flag.Bool("serve", false, "do not run the backup job: print the ETCD_BACKUP_* variables and serve until SIGTERM")
	flag.Parse()
	if err := run(*dir, *out, *keys, *valueSize, *serve, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "demo-etcd:", err)
		os.Exit(1)
	}
}

func run(dir, out string, keys, valueSize int, serve bool, args []string) error {
	if !serve && len(args) != 1 {
		return fmt.Errorf("give the backup-job binary to run, e.g. demo-etcd -- bin/backup-job (or -serve)")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "demo-etcd-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	srv, err := etcdtest.Start(dir, etcdtest.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := srv.Seed(ctx, "/registry/demo/", keys, valueSize); err != nil {
		return err
	}
	env := srv.Env()
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)

	if serve {
		for _, k := range names {
			fmt.Printf("%s=%s\n", k, env[k])
		}
		fmt.Fprintf(os.Stderr, "demo-etcd: serving %s with %d keys; stop with SIGTERM or Ctrl-C\n", srv.Endpoint, keys)
		<-ctx.Done()
		return nil
	}

	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	env["ETCD_BACKUP_DESTINATIONS"] = filepath.Join(absOut, "host") + "," + filepath.Join(absOut, "pvc")
	env["ETCD_BACKUP_LOG_FORMAT"] = "text"
	fmt.Fprintf(os.Stderr, "demo-etcd: etcd at %s with %d keys; running %s into %s\n", srv.Endpoint, keys, args[0], absOut)
	cmd := exec.CommandContext(ctx, args[0])
	cmd.Env = os.Environ()
	for _, k := range names {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Env = append(cmd.Env, "ETCD_BACKUP_DESTINATIONS="+env["ETCD_BACKUP_DESTINATIONS"], "ETCD_BACKUP_LOG_FORMAT=text")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("backup job: %w", err)
	}
	fmt.Fprintf(os.Stderr, "demo-etcd: done; snapshots are in %s/host and %s/pvc\n", absOut, absOut)
	return nil
}
