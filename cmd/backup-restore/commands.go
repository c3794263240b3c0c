package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/drill"
	"github.com/etcd-backup/etcd-backup/internal/kubeadm"
	"github.com/etcd-backup/etcd-backup/internal/restore"
	"github.com/etcd-backup/etcd-backup/internal/version"
)

func newRoot() *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "backup-restore",
		Short: "Restore etcd members from this tool's snapshots",
		Args:  cli.NoArgs("a command: restore, drill, version"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				fmt.Fprintf(cmd.OutOrStdout(), "backup-restore %s (commit %s)\n", version.Version, version.Commit)
				return nil
			}
			return cmd.Help()
		},
	}
	// Not cobra's Version field: its template would link text/template.
	root.Flags().BoolVar(&showVersion, "version", false, "print the version and commit")
	root.AddCommand(restoreCmd(), drillCmd(), &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  cli.NoArgs("none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "backup-restore %s (commit %s)\n", version.Version, version.Commit)
			return nil
		},
	})
	return root
}

type restoreFlags struct {
	opts      restore.Options
	src       cli.Source
	kubeadm   bool
	manifest  string
	fetchDir  string
	logFormat string
	identity  string
}

func restoreCmd() *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT",
		Short: "Turn a snapshot into the data directory of one etcd member",
		Long: `Turn a snapshot into the data directory of one etcd member, with etcd's own restore code and the
flag names of 'etcdutl snapshot restore'. SNAPSHOT is a local file (a path with a '/', or an existing
file), or a snapshot name or "latest" to fetch from the destinations (--from, else
$ETCD_BACKUP_DESTINATIONS) into --fetch-dir first; a compressed or encrypted one (.db.zst, .db.age,
.db.zst.age) is fetched as its plaintext .db, an encrypted one with --identity.

Refused, leaving everything as it is: a data directory that exists and is not empty; a snapshot that
fails verification (sha256 trailer, bbolt consistency check, the sha256 stored with a bucket object);
a snapshot whose data is newer than --target-version (etcd does not downgrade its data).

--kubeadm reads the etcd static pod manifest for --name, --initial-advertise-peer-urls, the
single-member --initial-cluster, the etcd version of its image and, unless --data-dir is given, puts
the data directory beside the member's (<data-dir>-restored); then prints the remaining steps.`,
		Example: `  backup-restore restore /backup/etcd-snapshot-20261123T170000Z.db --kubeadm
  backup-restore restore latest --from s3://bucket/etcd --kubeadm
  backup-restore restore ./snap.db --name m1 --initial-advertise-peer-urls https://10.0.0.1:2380 \
    --initial-cluster m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380 \
    --initial-cluster-token restored-20261130 --data-dir /var/lib/etcd-restored --target-version 3.5`,
		Args: cli.Args(1, 1, "backup-restore restore SNAPSHOT [flags]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.opts.Name, "name", "", "human-readable name for this member (required unless --kubeadm)")
	fl.StringVar(&f.opts.InitialCluster, "initial-cluster", "", "initial cluster configuration for restore bootstrap (default: this member alone, NAME=PEER-URLS)")
	fl.StringSliceVar(&f.opts.InitialAdvertisePeerURLs, "initial-advertise-peer-urls", nil, "list of this member's peer URLs to advertise to the rest of the cluster (required unless --kubeadm)")
	fl.StringVar(&f.opts.InitialClusterToken, "initial-cluster-token", "etcd-cluster", "initial cluster token for the etcd cluster during restore bootstrap")
	fl.StringVar(&f.opts.DataDir, "data-dir", "", "path to the data directory (default NAME.etcd; with --kubeadm, the member's data directory + '-restored')")
	fl.StringVar(&f.opts.WALDir, "wal-dir", "", "path to the WAL directory (default: inside --data-dir)")
	fl.BoolVar(&f.opts.SkipHashCheck, "skip-hash-check", false, "accept a database without the sha256 trailer (one copied from a data directory); bbolt is still checked")
	fl.Uint64Var(&f.opts.BumpRevision, "bump-revision", 0, "how much to increase the latest revision after restore (needs --mark-compacted)")
	fl.BoolVar(&f.opts.MarkCompacted, "mark-compacted", false, "mark the latest revision after restore as compacted (needs --bump-revision)")
	fl.StringVar(&f.opts.TargetVersion, "target-version", "", "the etcd version that will run the member (3.5, v3.6.16, 3.5.15-0); newer snapshot data is refused (default with --kubeadm: the manifest's image tag)")
	fl.BoolVar(&f.kubeadm, "kubeadm", false, "fill in the member from kubeadm's etcd static pod manifest and print the remaining steps")
	fl.StringVar(&f.manifest, "kubeadm-manifest", kubeadm.DefaultManifest, "the etcd static pod manifest --kubeadm reads")
	fl.StringVar(&f.fetchDir, "fetch-dir", "", "where a snapshot named by NAME|latest is fetched to (default: beside --data-dir)")
	fl.StringVar(&f.logFormat, "log-format", "json", "etcd restore log lines on stderr: json or text")
	fl.StringVar(&f.identity, "identity", os.Getenv("ETCD_BACKUP_IDENTITY_FILE"),
		"age identity file or SSH private key, to fetch an encrypted (.age) snapshot (default $ETCD_BACKUP_IDENTITY_FILE)")
	f.src.Flags(fl)
	return cmd
}

func runRestore(cmd *cobra.Command, snapshot string, f *restoreFlags) error {
	if (f.opts.BumpRevision > 0) != f.opts.MarkCompacted {
		return cli.Usagef("--bump-revision and --mark-compacted go together (etcdutl's rule); accepted: both or neither")
	}
	if f.logFormat != "json" && f.logFormat != "text" {
		return cli.Usagef("--log-format %q; accepted: json or text", f.logFormat)
	}
	var member *kubeadm.Member
	if f.kubeadm {
		m, err := kubeadm.Read(f.manifest)
		if err != nil {
			return &cli.UsageError{Err: err}
		}
		member = &m
		fillFromKubeadm(cmd, &f.opts, m)
	}
	if f.opts.Name == "" || len(f.opts.InitialAdvertisePeerURLs) == 0 {
		return cli.Usagef("--name and --initial-advertise-peer-urls are required (or --kubeadm); etcd's defaults would give the member the peer URL http://localhost:2380, which breaks every cluster of more than one member")
	}
	syscall.Umask(0o077)
	ctx := cmd.Context()
	path, err := snapshotFile(ctx, cmd, snapshot, f)
	if err != nil {
		return err
	}
	f.opts.Snapshot = path
	res, err := restore.Run(ctx, f.opts, newZap(cmd, f.logFormat, zapcore.WarnLevel))
	if err != nil {
		return err
	}
	restore.PrintDone(cmd.OutOrStdout(), res, member)
	return nil
}

func fillFromKubeadm(cmd *cobra.Command, o *restore.Options, m kubeadm.Member) {
	if !cmd.Flags().Changed("name") {
		o.Name = m.Name
	}
	if !cmd.Flags().Changed("initial-advertise-peer-urls") {
		o.InitialAdvertisePeerURLs = m.PeerURLs
	}
	if !cmd.Flags().Changed("data-dir") {
		o.DataDir = m.HostDataDir + "-restored"
	}
	if !cmd.Flags().Changed("target-version") {
		o.TargetVersion = m.ImageTag
	}
}

// snapshotFile returns the local file to restore: the argument itself, or
// the snapshot it names fetched and verified from a destination.
func snapshotFile(ctx context.Context, cmd *cobra.Command, arg string, f *restoreFlags) (string, error) {
	if strings.Contains(arg, "/") {
		return arg, nil
	}
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		return arg, nil
	}
	if err := f.src.Resolve(); err != nil {
		return "", err
	}
	dir := f.fetchDir
	if dir == "" {
		dataDir := f.opts.DataDir
		if dataDir == "" {
			dataDir = f.opts.Name + ".etcd"
		}
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return "", err
		}
		dir = filepath.Dir(abs)
	}
	return fetchWithBackupJob(ctx, cmd, arg, dir, f.src, f.identity)
}

// fetchWithBackupJob has the sibling backup-job fetch and verify the
// snapshot: the object storage clients live in that binary only, which
// keeps this one (and the image) small.
func fetchWithBackupJob(ctx context.Context, cmd *cobra.Command, name, dir string, src cli.Source, identity string) (string, error) {
	res, err := backupJobFetch(ctx, cmd.ErrOrStderr(), name, dir, src, identity)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Fetched and verified %s (kept there for the other members)\n", res.Path)
	return res.Path, nil
}

// backupJobFetch runs `backup-job fetch NAME DIR -o json` and reads its
// answer. Its errors go to stderr; a usage error of its own is one here.
func backupJobFetch(ctx context.Context, stderr io.Writer, name, dir string, src cli.Source, identity string) (drill.Fetched, error) {
	job, err := cli.Sibling("backup-job")
	if err != nil {
		return drill.Fetched{}, fmt.Errorf("fetching %s: %w", name, err)
	}
	args := []string{"fetch", name, dir, "-o", "json", "--name-prefix", src.NamePrefix}
	for _, d := range src.From {
		args = append(args, "--from", d)
	}
	if identity != "" {
		args = append(args, "--identity", identity)
	}
	var out, errOut bytes.Buffer
	c := exec.CommandContext(ctx, job, args...)
	c.Stdout, c.Stderr = &out, io.MultiWriter(stderr, &errOut)
	if err := c.Run(); err != nil {
		err = fmt.Errorf("fetching %s with %s: %w: %s", name, job, err, lastLine(errOut.String()))
		if c.ProcessState != nil && c.ProcessState.ExitCode() == cli.ExitUsage {
			return drill.Fetched{}, &cli.UsageError{Err: err}
		}
		return drill.Fetched{}, err
	}
	var res drill.Fetched
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Path == "" {
		return drill.Fetched{}, fmt.Errorf("fetching %s: reading the answer of %s %q: %v", name, job, out.String(), err)
	}
	return res, nil
}

// lastLine is the last line a command wrote: its error.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func newZap(cmd *cobra.Command, format string, level zapcore.Level) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var encoder zapcore.Encoder = zapcore.NewJSONEncoder(enc)
	if format == "text" {
		encoder = zapcore.NewConsoleEncoder(enc)
	}
	return zap.New(zapcore.NewCore(encoder, zapcore.AddSync(cmd.ErrOrStderr()), level))
}
