package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/catalog"
	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/fetch"
	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/logging"
	"github.com/etcd-backup/etcd-backup/internal/metrics"
	"github.com/etcd-backup/etcd-backup/internal/priority"
	"github.com/etcd-backup/etcd-backup/internal/seal"
	"github.com/etcd-backup/etcd-backup/internal/verify"
	"github.com/etcd-backup/etcd-backup/internal/version"
)

// restoreBinary is the sibling executable that runs restore and drill.
const restoreBinary = "backup-restore"

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var env bytes.Buffer
	config.Usage(&env)
	var showVersion bool
	root := &cobra.Command{
		Use:   "backup-job",
		Short: "Take one verified etcd snapshot, store it in every destination, prune old ones",
		Long: fmt.Sprintf(`backup-job %s: take one verified etcd snapshot, store it in every destination, prune old ones.

Without a command it runs one backup, configured from the environment:

%s
Exit status: 0 all done; 1 the backup or a destination failed; 2 bad configuration or usage.
The summary is one JSON line on stdout (and in /dev/termination-log when it exists); logs go to stderr.`,
			version.Version, env.String()),
		Args: cli.NoArgs("no argument (run a backup) or one of the commands below"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				fmt.Fprint(cmd.OutOrStdout(), versionLine())
				return nil
			}
			return runBackup(stdout, stderr)
		},
	}
	// A flag rather than cobra's Version field: its version template would
	// link text/template, which defeats dead-code elimination.
	root.Flags().BoolVar(&showVersion, "version", false, "print the version and commit")
	root.AddCommand(versionCmd(), verifyCmd(), listCmd(), fetchCmd(),
		siblingCmd("restore", "Turn a snapshot into a member's data directory (runs backup-restore)"),
		siblingCmd("drill", "Restore the newest snapshot into scratch and check it on a loopback etcd (runs backup-restore)"))
	return root
}

func versionLine() string {
	return fmt.Sprintf("backup-job %s (commit %s)\n", version.Version, version.Commit)
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  cli.NoArgs("none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}
}

// runBackup is the CronJob's run: configuration from the environment only.
func runBackup(stdout, stderr io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	if unknown := config.Unknown(os.Environ()); len(unknown) > 0 {
		log.Warn("ignoring unknown variables (typo?)", "variables", unknown, "known", config.Keys())
	}
	// Every file written is 0600 and every directory 0700: a snapshot holds
	// every Secret of the cluster.
	syscall.Umask(0o077)
	// Gentle on the node etcd runs on: less CPU and disk priority than etcd.
	if err := priority.Lower(cfg.Nice, priority.IOClass(cfg.IOPriority)); err != nil {
		log.Warn("could not lower the priority; running at the inherited one", "nice", cfg.Nice, "io_priority", cfg.IOPriority, "error", err.Error())
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	shown := make([]string, len(cfg.Destinations))
	for i, d := range cfg.Destinations {
		shown[i] = location.Redact(d)
	}
	log.Info("backup starting", "version", version.Version, "endpoints", cfg.Endpoints,
		"destinations", shown, "retention", cfg.Retention.String(), "keep_min", cfg.KeepMin, "dry_run", cfg.DryRun,
		"compression", cfg.Compression, "encryption_recipients", len(cfg.Recipients), "bundle_paths", len(cfg.Bundle))
	if cfg.IdentityFile != "" {
		log.Warn("ETCD_BACKUP_IDENTITY_FILE is set, but a backup never reads it: keep the private key out of the cluster")
	}
	sum, err := backup.Run(ctx, cfg, backup.Deps{Log: log, Stdout: stdout, TerminationLog: "/dev/termination-log"})
	publishMetrics(ctx, log, cfg, sum)
	if err != nil {
		log.Error("backup failed", "error", err.Error())
		return cli.ErrReported
	}
	log.Info("backup done")
	return nil
}

// publishMetrics reports the run to Prometheus; a failure there is only a
// warning. An interrupted run is still reported, within the push's own bound.
func publishMetrics(ctx context.Context, log *slog.Logger, cfg config.Config, sum backup.Summary) {
	p := metrics.PublisherFor(cfg)
	if !p.Enabled() {
		return
	}
	if err := p.Publish(context.WithoutCancel(ctx), backup.Metrics(sum, time.Now())); err != nil {
		log.Warn("could not publish metrics; the backup itself is not affected", "error", err.Error())
	}
}

func verifyCmd() *cobra.Command {
	var identity string
	cmd := &cobra.Command{
		Use:   "verify FILE...",
		Short: "Check saved snapshots of any shape: sha256 trailer, bbolt consistency, status figures",
		Long: `Check saved snapshots: the sha256 trailer, bbolt's consistency check and the status figures.
Compressed (.db.zst) and encrypted (.db.age, .db.zst.age) files are reversed into an unnamed scratch file in
$ETCD_BACKUP_WORK_DIR (else the system's temporary directory) first; an encrypted one needs --identity
(or $ETCD_BACKUP_IDENTITY_FILE). A damaged file, a wrong identity or a failed check is exit status 1.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.Usagef("no file given; accepted: backup-job verify [--identity FILE] FILE...")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			ids, err := readIdentities(identity)
			if err != nil {
				return err
			}
			scratchDir := os.Getenv("ETCD_BACKUP_WORK_DIR")
			if scratchDir == "" {
				scratchDir = os.TempDir()
			}
			failed := false
			for _, f := range files {
				st, sums, err := verify.Stored(cmd.Context(), f, ids, scratchDir)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "backup-job verify: %s: %v\n", f, err)
					failed = true
					continue
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "%s: ok sha256=%s hash=%d revision=%d total_keys=%d total_keys_all_buckets=%d total_size=%d",
					f, sums.StoredSHA256, st.Hash, st.Revision, st.TotalKey, st.TotalKeyAllBuckets, st.TotalSize)
				if sums.PlainSHA256 != sums.StoredSHA256 {
					fmt.Fprintf(out, " plain_sha256=%s plain_size=%d", sums.PlainSHA256, sums.PlainSize)
				}
				fmt.Fprintln(out)
			}
			if failed {
				return cli.ErrReported
			}
			return nil
		},
	}
	identityFlag(cmd, &identity)
	return cmd
}

// identityFlag is --identity, defaulting to $ETCD_BACKUP_IDENTITY_FILE.
func identityFlag(cmd *cobra.Command, identity *string) {
	cmd.Flags().StringVar(identity, "identity", os.Getenv("ETCD_BACKUP_IDENTITY_FILE"),
		"age identity file or SSH private key for encrypted (.age) files (default $ETCD_BACKUP_IDENTITY_FILE)")
}

// readIdentities reads the identity file, if one is given; an unusable one
// is a usage error (exit status 2).
func readIdentities(path string) ([]age.Identity, error) {
	if path == "" {
		return nil, nil
	}
	ids, err := seal.ReadIdentities(path)
	if err != nil {
		return nil, cli.Usagef("--identity: %v", err)
	}
	return ids, nil
}

func listCmd() *cobra.Command {
	var (
		src    cli.Source
		output string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the snapshots in every destination, newest first",
		Long: `List this tool's snapshots in every destination (--from, else $ETCD_BACKUP_DESTINATIONS), newest
first, with what is known without reading them. Files of other shapes are ignored. A destination that
cannot be read is reported and the others are still listed; the exit status is then 1.`,
		Args: cli.NoArgs("none; destinations are given with --from"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return cli.Usagef("output format %q is not supported; accepted: table, json", output)
			}
			if err := src.Resolve(); err != nil {
				return err
			}
			c := catalog.Catalog{Specs: src.From, Prefix: src.NamePrefix, Open: destination.OpenReader}
			entries, err := c.List(cmd.Context())
			if werr := catalog.Write(cmd.OutOrStdout(), entries, output, time.Now()); werr != nil {
				return werr
			}
			return err
		},
	}
	src.Flags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func fetchCmd() *cobra.Command {
	var (
		src      cli.Source
		output   string
		identity string
	)
	cmd := &cobra.Command{
		Use:   "fetch NAME|latest DIR",
		Short: "Copy one snapshot to a local directory, atomically, then verify it",
		Long: `Copy one snapshot (by name, or the newest with "latest") from the first destination that has it
to DIR/NAME, mode 0600, then verify it as a backup run does: sha256 trailer, bbolt consistency
check, status figures, and the sha256 and revision stored with the object. The file appears under
its name only when all of that passed; an existing file is never replaced. A compressed or encrypted
snapshot (.db.zst, .db.age, .db.zst.age) is reversed on the way and lands as the plaintext DIR/<name>.db;
an encrypted one needs --identity (or $ETCD_BACKUP_IDENTITY_FILE), and a wrong identity or a damaged
file writes nothing.`,
		Args: cli.Args(2, 2, "backup-job fetch NAME|latest DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return cli.Usagef("output format %q is not supported; accepted: text, json", output)
			}
			if err := src.Resolve(); err != nil {
				return err
			}
			syscall.Umask(0o077)
			c := catalog.Catalog{Specs: src.From, Prefix: src.NamePrefix, Open: destination.OpenReader}
			found, skipped, err := c.Find(cmd.Context(), args[0])
			if skipped != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "backup-job fetch: warning: chosen without %v\n", skipped)
			}
			if err != nil {
				return err
			}
			defer found.Reader.Close()
			ids, err := readIdentities(identity)
			if err != nil {
				return err
			}
			res, err := fetch.Fetch(cmd.Context(), found.Reader, found.Attributes, args[1], ids)
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: fetched from %s, ok sha256=%s hash=%d revision=%d total_keys=%d total_size=%d\n",
				res.Path, found.Destination, res.SHA256, res.Status.Hash, res.Status.Revision, res.Status.TotalKey, res.Status.TotalSize)
			return nil
		},
	}
	src.Flags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	identityFlag(cmd, &identity)
	return cmd
}

// siblingCmd hands a command to backup-restore, which lives next to this
// executable: restore links etcd's server packages, which the scheduled
// backup must not carry.
func siblingCmd(name, short string) *cobra.Command {
	return &cobra.Command{
		Use:                name,
		Short:              short,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := cli.Sibling(restoreBinary)
			if err != nil {
				return fmt.Errorf("%s runs in %s: %w", name, restoreBinary, err)
			}
			argv := append([]string{path, name}, args...)
			if err := syscall.Exec(path, argv, os.Environ()); err != nil {
				return fmt.Errorf("running %s: %w", path, err)
			}
			return errors.New("unreachable: exec returned")
		},
	}
}
