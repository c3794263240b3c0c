package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/drill"
	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/logging"
	"github.com/etcd-backup/etcd-backup/internal/metrics"
)

type drillFlags struct {
	opts      drill.Options
	src       cli.Source
	workDir   string
	etcdLog   string
	terminate string
	identity  string
}

func drillCmd() *cobra.Command {
	var f drillFlags
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Restore the newest snapshot into scratch and check it on a loopback etcd",
		Long: `Prove that a stored snapshot restores: fetch the newest one (or --snapshot NAME) from one destination
(--from, default: the last of $ETCD_BACKUP_DESTINATIONS, normally the off-site bucket) with
'backup-job fetch', which verifies it against the sha256 stored with it; restore it into a scratch
directory under --work-dir with etcd's own restore code; serve it with a throwaway single-member etcd
listening on 127.0.0.1 only (ports the kernel picks, no peers); and check that it starts, that it
serves the snapshot's revision, that a paged read of every key and value succeeds and returns the
snapshot's number of keys and, unless --kubernetes=false, that /registry/namespaces/kube-system is
there. The scratch directory is removed at the end, also after a failure or SIGTERM.

Prints one JSON summary line (also to /dev/termination-log when it exists) and publishes the
drill's metrics as a backup run does ($ETCD_BACKUP_PUSHGATEWAY_URL, $ETCD_BACKUP_METRICS_FILE).
Exit status: 0 the snapshot restores; 1 the drill failed (the summary says at which step); 2 bad
configuration or usage.`,
		Example: `  backup-restore drill
  backup-restore drill --from s3://bucket/etcd?region=eu-west-1
  backup-restore drill --from /backup/host --kubernetes=false`,
		Args: cli.NoArgs("none; the destination is given with --from"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDrill(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.opts.Snapshot, "snapshot", "latest", "the snapshot to drill: a name, or latest")
	fl.StringVar(&f.workDir, "work-dir", "", "where the scratch directory is made; it needs room for the snapshot twice (default: $ETCD_BACKUP_WORK_DIR, else /tmp)")
	fl.BoolVar(&f.opts.Kubernetes, "kubernetes", true, "require /registry/namespaces/kube-system (false: drill an etcd that is not a Kubernetes cluster's)")
	fl.Int64Var(&f.opts.PageSize, "page-size", 500, "keys read per range request; bounds the memory of the read")
	fl.DurationVar(&f.opts.StartTimeout, "start-timeout", 10*time.Minute, "how long the throwaway etcd may take to start")
	fl.StringVar(&f.etcdLog, "etcd-log-format", "json", "etcd's own log lines (errors) on stderr: json or text")
	fl.StringVar(&f.terminate, "termination-log", "/dev/termination-log", "where the summary also goes, when the file exists")
	fl.StringVar(&f.identity, "identity", os.Getenv("ETCD_BACKUP_IDENTITY_FILE"),
		"age identity file or SSH private key, to fetch an encrypted (.age) snapshot (default $ETCD_BACKUP_IDENTITY_FILE)")
	f.src.Flags(fl)
	return cmd
}

func runDrill(cmd *cobra.Command, f *drillFlags) error {
	cfg, err := config.LoadForDrill()
	if err != nil {
		return err
	}
	if err := drillOptions(cmd, f, cfg); err != nil {
		return err
	}
	log := logging.New(cmd.ErrOrStderr(), cfg.LogFormat, cfg.LogLevel)
	syscall.Umask(0o077)
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	started := time.Now()
	sum, err := drill.Run(ctx, f.opts, drill.Deps{
		Fetch: func(ctx context.Context, name, dir string) (drill.Fetched, error) {
			return backupJobFetch(ctx, cmd.ErrOrStderr(), name, dir, f.src, f.identity)
		},
		Log: log,
		// Errors only: the throwaway etcd warns about every large read.
		EtcdLog:        newZap(cmd, f.etcdLog, zapcore.ErrorLevel),
		Stdout:         cmd.OutOrStdout(),
		TerminationLog: f.terminate,
	})
	publishDrill(ctx, log, cfg, sum.Status == drill.StatusOK, time.Since(started))
	if err != nil {
		log.Error("drill failed", "step", sum.FailedStep, "error", err.Error())
		return cli.ErrReported
	}
	log.Info("drill done: the snapshot restores", "snapshot", sum.Snapshot.Name, "seconds", time.Since(started).Seconds())
	return nil
}

// drillOptions checks the flags and fills what they left to the
// environment, before anything is fetched.
func drillOptions(cmd *cobra.Command, f *drillFlags, cfg config.Config) error {
	if f.etcdLog != "json" && f.etcdLog != "text" {
		return cli.Usagef("--etcd-log-format %q; accepted: json or text", f.etcdLog)
	}
	if f.opts.PageSize < 1 {
		return cli.Usagef("--page-size %d; accepted: a positive number of keys", f.opts.PageSize)
	}
	if f.opts.StartTimeout <= 0 {
		return cli.Usagef("--start-timeout %s; accepted: a positive duration such as 10m", f.opts.StartTimeout)
	}
	if len(f.src.From) > 1 {
		return cli.Usagef("--from is given %d times; accepted: one destination to drill", len(f.src.From))
	}
	if err := f.src.Resolve(); err != nil {
		return err
	}
	// The last destination is normally the off-site copy: the one restored
	// from when the node is gone.
	f.src.From = f.src.From[len(f.src.From)-1:]
	f.opts.From = location.Redact(f.src.From[0])
	f.opts.WorkDir = f.workDir
	if f.opts.WorkDir == "" {
		f.opts.WorkDir = cfg.WorkDir
	}
	f.opts.Username, f.opts.Password = cfg.Username, cfg.Password
	return nil
}

// publishDrill reports the drill to Prometheus; a failure there is only a
// warning. An interrupted drill is still reported, within the push's bound.
func publishDrill(ctx context.Context, log *slog.Logger, cfg config.Config, ok bool, took time.Duration) {
	p := metrics.PublisherFor(cfg)
	if !p.Enabled() {
		return
	}
	set := metrics.FromDrill(metrics.Drill{Success: ok, Duration: took, Finished: time.Now()})
	if err := p.Publish(context.WithoutCancel(ctx), set); err != nil {
		log.Warn("could not publish metrics; the drill itself is not affected", "error", err.Error())
	}
}
