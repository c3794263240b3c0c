package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

func TestMain(m *testing.M) {
	verify.RunChild()
	os.Exit(m.Run())
}

// TestExitCodes runs the whole command against a real etcd, as the
// CronJob does, and checks what an operator sees: exit status, one summary
// line on stdout, logs on stderr.
func TestExitCodes(t *testing.T) {
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	out := t.TempDir()
	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stdout     string
		stderr     string
		wantSumary bool
	}{
		{name: "help", args: []string{"--help"}, code: 0, stdout: "ETCD_BACKUP_RETENTION"},
		{name: "short help", args: []string{"-h"}, code: 0, stdout: "ETCD_BACKUP_DESTINATIONS"},
		{name: "version", args: []string{"version"}, code: 0, stdout: "backup-job "},
		{name: "unknown argument", args: []string{"--now"}, code: 2, stderr: "unknown argument"},
		{name: "verify without file", args: []string{"verify"}, code: 2, stderr: "no file"},
		{name: "bad configuration", env: map[string]string{"ETCD_BACKUP_KEEP_MIN": "-1"}, code: 2, stderr: "ETCD_BACKUP_KEEP_MIN"},
		{name: "backup", env: map[string]string{"ETCD_BACKUP_DESTINATIONS": out}, code: 0, wantSumary: true, stderr: `"msg":"backup done"`},
		{name: "etcd down", env: map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1:1", "ETCD_BACKUP_DIAL_TIMEOUT": "1s"}, code: 1, wantSumary: true, stderr: "backup failed"},
		{name: "snapshot timeout named", env: map[string]string{"ETCD_BACKUP_SNAPSHOT_TIMEOUT": "1ms"}, code: 1, wantSumary: true, stdout: "ETCD_BACKUP_SNAPSHOT_TIMEOUT=1ms expired"},
		{name: "typo warned", env: map[string]string{"ETCD_BACKUP_DESTINATIONS": filepath.Join(out, "typo"), "ETCD_BACKUP_RETENTON": "1d"}, code: 0, wantSumary: true, stderr: "ETCD_BACKUP_RETENTON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			testkit.ClearEnv(t, "ETCD_BACKUP_")
			for k, v := range srv.Env() {
				t.Setenv(k, v)
			}
			t.Setenv("ETCD_BACKUP_DESTINATIONS", filepath.Join(t.TempDir(), "default"))
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(c.args, &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("stdout %q (want %q)\nstderr %q (want %q)", stdout.String(), c.stdout, stderr.String(), c.stderr)
			}
			if c.wantSumary {
				lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
				var sum map[string]any
				if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &sum) != nil {
					t.Fatalf("stdout is not one JSON summary line: %q", stdout.String())
				}
				want := map[int]string{0: "ok", 1: "failed"}[c.code]
				if sum["status"] != want {
					t.Fatalf("summary status %v, want %s", sum["status"], want)
				}
			}
			if c.code == 2 && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("usage error is not one line: %q", stderr.String())
			}
		})
	}
}

func TestVerifyCommand(t *testing.T) {
	f := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(f, bytes.Repeat([]byte{1}, 4096+32), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"verify", f}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "sha256 trailer") {
		t.Fatalf("exit %d stderr %q", code, stderr.String())
	}
}

// TestNoServerInBinary keeps the etcd server, and the Helm and Kubernetes
// libraries, out of the binary: they are for tests only.
func TestNoServerInBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := string(out)
	if !strings.Contains(deps, "go.etcd.io/etcd/client/v3\n") || !strings.Contains(deps, "go.etcd.io/bbolt\n") {
		t.Fatalf("dependency list looks wrong:\n%s", deps)
	}
	for _, banned := range []string{"go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdutl", "helm.sh/", "k8s.io/", "internal/etcdtest"} {
		if strings.Contains(deps, banned) {
			t.Errorf("the binary links %s", banned)
		}
	}
}

// TestCredentialsRefusedUnshown: a credential in a URL is refused before any
// work (exit 2) and never shown; a hidden value of an accepted URL that
// reaches the run is not shown either.
func TestCredentialsRefusedUnshown(t *testing.T) {
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	const secret = "pass-W0rd-77"
	dir := t.TempDir()
	host := strings.TrimPrefix(srv.Endpoint, "https://")
	cases := []struct {
		name string
		env  map[string]string
		code int
		want string // in stderr
	}{
		{"endpoint", map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://root:" + secret + "@" + host}, 2, "credentials"},
		{"destination", map[string]string{"ETCD_BACKUP_DESTINATIONS": dir + ",s3://AKIA:" + secret + "@bucket/etcd"}, 2, "credentials"},
		{"destination endpoint", map[string]string{"ETCD_BACKUP_DESTINATIONS": dir + ",s3://bucket?region=r&endpoint=http://u:" + secret + "@127.0.0.1:1"}, 2, "without credentials"},
		{"hidden parameter", map[string]string{"ETCD_BACKUP_DESTINATIONS": dir + ",s3://bucket/etcd?region=r&use_path_style=true&endpoint=http://127.0.0.1:1&kmskeyid=" + secret,
			"AWS_ACCESS_KEY_ID": "AKIAOFFLINE", "AWS_SECRET_ACCESS_KEY": "offline", "AWS_EC2_METADATA_DISABLED": "true",
			"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none")}, 1, "kmskeyid=REDACTED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			testkit.ClearEnv(t, "ETCD_BACKUP_")
			for k, v := range srv.Env() {
				t.Setenv(k, v)
			}
			t.Setenv("ETCD_BACKUP_DESTINATIONS", dir)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(nil, &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout.String(), stderr.String())
			}
			if strings.Contains(stdout.String()+stderr.String(), secret) {
				t.Errorf("the secret is shown:\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr lacks %q: %s", c.want, stderr.String())
			}
		})
	}
}

// TestStartLineRedactsDestinations: the first log line of a run names the
// destinations as Redact shows them; no value Redact hides appears in any
// output.
func TestStartLineRedactsDestinations(t *testing.T) {
	const secret = "arn-aws-kms-key-7c1f3e"
	dest := "s3://bucket/etcd?endpoint=http://127.0.0.1:1&region=us-east-1&anonymous=true&kmskeyid=" + secret
	testkit.ClearEnv(t, "ETCD_BACKUP_")
	for k, v := range map[string]string{
		"ETCD_BACKUP_DESTINATIONS": dest,
		"ETCD_BACKUP_ENDPOINTS":    "https://127.0.0.1:1",
		"ETCD_BACKUP_CACERT":       "", "ETCD_BACKUP_CERT": "", "ETCD_BACKUP_KEY": "",
		// the run ends at once: only what is logged before it matters
		"ETCD_BACKUP_SNAPSHOT_TIMEOUT": "1ms",
		"ETCD_BACKUP_WORK_DIR":         t.TempDir(),
	} {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != cli.ExitFailed {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, cli.ExitFailed, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Errorf("output shows the KMS key id:\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	}
	var start struct {
		Msg          string   `json:"msg"`
		Destinations []string `json:"destinations"`
	}
	for line := range strings.SplitSeq(strings.TrimSpace(stderr.String()), "\n") {
		if err := json.Unmarshal([]byte(line), &start); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if start.Msg == "backup starting" {
			break
		}
	}
	want := []string{location.Redact(dest)}
	if start.Msg != "backup starting" || !slices.Equal(start.Destinations, want) {
		t.Errorf("start line %+v, want destinations %v", start, want)
	}
}
