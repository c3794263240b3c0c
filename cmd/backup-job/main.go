// Command backup-job takes one verified etcd snapshot, stores it in every
// configured destination, prunes old ones and exits. It is configured from
// ETCD_BACKUP_* environment variables; see `backup-job --help`.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	// CA roots inside the binary: the image is FROM scratch and object
	// storage is reached over HTTPS.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/metrics"
	"github.com/etcd-backup/etcd-backup/internal/verify"
	"github.com/etcd-backup/etcd-backup/internal/version"
)

// Exit statuses, as in the design contract.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	verify.RunChild()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			usage(stdout)
			return exitOK
		case "version", "--version":
			fmt.Fprintf(stdout, "backup-job %s (commit %s)\n", version.Version, version.Commit)
			return exitOK
		case "verify":
			return verifyFiles(args[1:], stdout, stderr)
		default:
			fmt.Fprintf(stderr, "backup-job: unknown argument %q; accepted: no argument (run a backup), verify FILE..., version, --help\n", args[0])
			return exitUsage
		}
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(stderr, "backup-job: %v\n", err)
		return exitUsage
	}
	log := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if unknown := config.Unknown(os.Environ()); len(unknown) > 0 {
		log.Warn("ignoring unknown variables (typo?)", "variables", unknown, "known", config.Keys())
	}
	// Every file written is 0600 and every directory 0700: a snapshot holds
	// every Secret of the cluster.
	syscall.Umask(0o077)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	shown := make([]string, len(cfg.Destinations))
	for i, d := range cfg.Destinations {
		shown[i] = location.Redact(d)
	}
	log.Info("backup starting", "version", version.Version, "endpoints", cfg.Endpoints,
		"destinations", shown, "retention", cfg.Retention.String(), "keep_min", cfg.KeepMin, "dry_run", cfg.DryRun)
	sum, err := backup.Run(ctx, cfg, backup.Deps{Log: log, Stdout: stdout, TerminationLog: "/dev/termination-log"})
	publishMetrics(ctx, log, cfg, sum)
	if err != nil {
		log.Error("backup failed", "error", err.Error())
		return exitFailed
	}
	log.Info("backup done")
	return exitOK
}

// publishMetrics reports the run to Prometheus; a failure there is only a
// warning. An interrupted run is still reported, within the push's own bound.
func publishMetrics(ctx context.Context, log *slog.Logger, cfg config.Config, sum backup.Summary) {
	p := metrics.PublisherFor(cfg)
	if !p.Enabled() {
		return
	}
	if err := p.Publish(context.WithoutCancel(ctx), metrics.FromSummary(sum, time.Now())); err != nil {
		log.Warn("could not publish metrics; the backup itself is not affected", "error", err.Error())
	}
}

func verifyFiles(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "backup-job verify: no file given; accepted: backup-job verify FILE...")
		return exitUsage
	}
	code := exitOK
	for _, f := range files {
		st, sum, err := verify.File(context.Background(), f)
		if err != nil {
			fmt.Fprintf(stderr, "backup-job verify: %v\n", err)
			code = exitFailed
			continue
		}
		fmt.Fprintf(stdout, "%s: ok sha256=%s hash=%d revision=%d total_keys=%d total_keys_all_buckets=%d total_size=%d\n",
			f, sum, st.Hash, st.Revision, st.TotalKey, st.TotalKeyAllBuckets, st.TotalSize)
	}
	return code
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // validated by config
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `backup-job %s: take one verified etcd snapshot, store it in every destination, prune old ones.

Usage:
  backup-job                 run a backup, configured from the environment below
  backup-job verify FILE...  check saved snapshots (sha256 trailer, bbolt consistency, status figures)
  backup-job version         print the version
  backup-job --help          this text

Environment:
`, version.Version)
	config.Usage(w)
	fmt.Fprint(w, `
Exit status: 0 all done; 1 the backup or a destination failed; 2 bad configuration or usage.
The summary is one JSON line on stdout (and in /dev/termination-log when it exists); logs go to stderr.
`)
}
