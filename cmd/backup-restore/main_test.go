package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

func TestMain(m *testing.M) {
	verify.RunChild()
	os.Exit(m.Run())
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds backup-job and backup-restore side by side, as the image
// and `make build` ship them.
func binaries(t *testing.T) (job, restore string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "backup-restore-test-bin-")
		if buildErr != nil {
			return
		}
		var tags string
		if tags, buildErr = testkit.BuildTags(); buildErr != nil {
			return
		}
		for _, name := range []string{"backup-job", "backup-restore"} {
			out, err := exec.Command("go", "build", "-tags", tags, "-o", filepath.Join(binDir, name), "../"+name).CombinedOutput()
			if err != nil {
				buildErr = &buildError{name: name, out: string(out), err: err}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "backup-job"), filepath.Join(binDir, "backup-restore")
}

type buildError struct {
	name, out string
	err       error
}

func (e *buildError) Error() string {
	return "building " + e.name + ": " + e.err.Error() + "\n" + e.out
}

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs a binary with a clean ETCD_BACKUP_* environment plus env.
func runCLI(t *testing.T, env []string, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_BACKUP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s %v: %v", bin, args, err)
	}
	return r
}

func (r result) want(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout, stdout) || !strings.Contains(r.stderr, stderr) {
		t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", r.code, code, r.stdout, stdout, r.stderr, stderr)
	}
}

type listed struct {
	Name, Destination, SHA256 string
	Revision                  int64
	EtcdVersion               string `json:"etcd_version"`
}

// TestListFetchRestore takes a backup with the real backup-job into a
// directory and an S3 bucket (versitygw), adds files of other shapes and an
// older snapshot, and reads them back with list, fetch and restore latest.
func TestListFetchRestore(t *testing.T) {
	job, restore := binaries(t)
	s3srv := blobtest.StartS3(t)
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Seed(context.Background(), "/registry/secrets/", 200, 500); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "host")
	bucket := s3srv.URL("etcd")
	env := append(s3srv.Env(), "ETCD_BACKUP_DESTINATIONS="+dir+","+bucket)
	for k, v := range srv.Env() {
		env = append(env, k+"="+v)
	}
	runCLI(t, env, job).want(t, 0, `"status":"ok"`, "backup done")

	names, err := filepath.Glob(filepath.Join(dir, "etcd-snapshot-*.db"))
	if err != nil || len(names) != 1 {
		t.Fatalf("snapshots in %s: %v %v", dir, names, err)
	}
	newest := filepath.Base(names[0])
	snapshot, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	// Beside it: an older snapshot, and names this tool never wrote.
	older := "etcd-snapshot-20200101T000000Z.db"
	foreign := []string{"notes.txt", "etcd-snapshot-2020.db", "other-20200101T000000Z.db", "etcd-snapshot-20991301T000000Z.db",
		".etcd-snapshot-20300101T000000Z.db.partial-0123456789ab", "etcd-snapshot-20200101T000000Z.db.gz"}
	// A bundle is listed but never taken for a snapshot.
	bundle := "etcd-snapshot-20200102T000000Z.bundle.tar.zst.age"
	for _, n := range append(foreign, older, bundle) {
		if err := os.WriteFile(filepath.Join(dir, n), snapshot, 0o600); err != nil {
			t.Fatal(err)
		}
		putObject(t, s3srv, "etcd/"+n, snapshot, nil)
	}

	t.Run("list", func(t *testing.T) {
		r := runCLI(t, env, job, "list", "-o", "json")
		r.want(t, 0, newest, "")
		var got []listed
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("list -o json: %v\n%s", err, r.stdout)
		}
		var shown []string
		for _, e := range got {
			shown = append(shown, e.Name+"@"+strings.SplitN(e.Destination, "?", 2)[0])
		}
		want := []string{newest + "@" + dir, newest + "@s3://etcd-backup-test/etcd", bundle + "@" + dir, bundle + "@s3://etcd-backup-test/etcd",
			older + "@" + dir, older + "@s3://etcd-backup-test/etcd"}
		if strings.Join(shown, " ") != strings.Join(want, " ") {
			t.Fatalf("listed %v, want %v (newest first, foreign names left out)", shown, want)
		}
		if len(got) < 2 || got[1].SHA256 == "" || got[1].Revision == 0 || got[1].EtcdVersion == "" {
			t.Errorf("the bucket object's stored metadata is not listed: %+v", got[1])
		}
		runCLI(t, env, job, "list").want(t, 0, "NAME", "")
	})

	t.Run("list with an unreadable destination", func(t *testing.T) {
		r := runCLI(t, env, job, "list", "--from", filepath.Join(dir, "missing"), "--from", dir)
		r.want(t, 1, newest, "unreadable")
	})

	t.Run("fetch latest from S3", func(t *testing.T) {
		out := t.TempDir()
		r := runCLI(t, env, job, "fetch", "latest", out, "--from", bucket)
		r.want(t, 0, "ok sha256=", "")
		st, err := os.Stat(filepath.Join(out, newest))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("fetched file: %v %v", st, err)
		}
		got, err := os.ReadFile(filepath.Join(out, newest))
		if err != nil || !bytes.Equal(got, snapshot) {
			t.Fatalf("fetched file differs from the snapshot (%v)", err)
		}
		runCLI(t, env, job, "fetch", "latest", out, "--from", bucket).want(t, 1, "", "already exists")
	})

	t.Run("fetch by name from a directory", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "new")
		runCLI(t, env, job, "fetch", older, out, "--from", dir).want(t, 0, older+": fetched", "")
		runCLI(t, env, job, "fetch", "notes.txt", out, "--from", dir).want(t, 2, "", "not a snapshot name")
	})

	t.Run("restore latest from S3 and from a directory", func(t *testing.T) {
		for _, from := range []string{bucket, dir} {
			root := t.TempDir()
			data := filepath.Join(root, "etcd-restored")
			r := runCLI(t, env, job, "restore", "latest", "--from", from, "--name", "m0",
				"--initial-advertise-peer-urls", "https://10.0.0.1:2380", "--data-dir", data, "--target-version", "3.6")
			r.want(t, 0, "Restored "+filepath.Join(root, newest), "")
			if _, err := os.Stat(filepath.Join(data, "member", "snap", "db")); err != nil {
				t.Fatal(err)
			}
			// Run by backup-restore directly, the same.
			data2 := filepath.Join(root, "etcd-restored-2")
			runCLI(t, env, restore, "restore", filepath.Join(root, newest), "--name", "m0",
				"--initial-advertise-peer-urls", "https://10.0.0.1:2380", "--data-dir", data2).want(t, 0, "Next:", "")
		}
	})

	t.Run("sha256 metadata mismatch on a bucket object", func(t *testing.T) {
		bad := "etcd-snapshot-20300101T000000Z.db"
		putObject(t, s3srv, "etcd/"+bad, snapshot, map[string]string{"sha256": strings.Repeat("0", 64)})
		out := t.TempDir()
		runCLI(t, env, job, "fetch", bad, out, "--from", bucket).want(t, 1, "", "does not match the stored snapshot")
		left, err := os.ReadDir(out)
		if err != nil || len(left) != 0 {
			t.Fatalf("files left after a refused fetch: %v %v", left, err)
		}
		data := filepath.Join(out, "etcd-restored")
		runCLI(t, env, job, "restore", "latest", "--from", bucket, "--name", "m0", "--initial-advertise-peer-urls", "https://10.0.0.1:2380",
			"--data-dir", data).want(t, 1, "", "does not match the stored snapshot")
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Fatalf("data dir after a refused restore: %v", err)
		}
	})
}

func putObject(t *testing.T, s *blobtest.S3, key string, body []byte, meta map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: bytes.NewReader(body), Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCommandLine covers what is handed between the two binaries and the
// usage errors.
func TestCommandLine(t *testing.T) {
	job, restore := binaries(t)
	alone := filepath.Join(t.TempDir(), "backup-job")
	b, err := os.ReadFile(job)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name           string
		bin            string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"restore help through backup-job", job, []string{"restore", "--help"}, 0, "--initial-advertise-peer-urls", ""},
		{"verify help", job, []string{"verify", "--help"}, 0, "verify FILE...", ""},
		{"flags after arguments", job, []string{"fetch", "latest", t.TempDir(), "--from", "relative/dir"}, 2, "", "neither an absolute path nor a URL"},
		{"restore without backup-restore beside it", alone, []string{"restore", "x"}, 1, "", "backup-restore is not next to"},
		{"restore without member", restore, []string{"restore", "/x.db"}, 2, "", "http://localhost:2380"},
		{"restore without snapshot", restore, []string{"restore"}, 2, "", "no argument given"},
		{"drill help through backup-job", job, []string{"drill", "--help"}, 0, "--kubernetes", ""},
		{"drill with two destinations", restore, []string{"drill", "--from", "/a", "--from", "/b"}, 2, "", "one destination to drill"},
		{"drill from a relative path", job, []string{"drill", "--from", "rel"}, 2, "", "neither an absolute path nor a URL"},
		{"drill with an argument", restore, []string{"drill", "latest"}, 2, "", "unknown argument"},
		{"drill with a zero page size", restore, []string{"drill", "--page-size", "0"}, 2, "", "--page-size 0"},
		{"version", restore, []string{"--version"}, 0, "backup-restore ", ""},
		{"completion", job, []string{"completion", "bash"}, 0, "__start_backup-job", ""},
		{"bump without compacted", restore, []string{"restore", "/x.db", "--bump-revision", "10", "--name", "a", "--initial-advertise-peer-urls", "http://a:2380"}, 2, "", "go together"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runCLI(t, nil, c.bin, c.args...).want(t, c.code, c.stdout, c.stderr)
		})
	}
}

// TestNoStorageClientsInBinary keeps the object storage SDKs out of
// backup-restore: backup-job, beside it in the image, fetches for it, and
// the image carries those SDKs once.
func TestNoStorageClientsInBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := string(out)
	if !strings.Contains(deps, "go.etcd.io/etcd/etcdutl/v3/snapshot\n") {
		t.Fatalf("dependency list looks wrong:\n%s", deps)
	}
	for _, banned := range []string{"gocloud.dev/", "github.com/aws/", "cloud.google.com/", "github.com/Azure/", "internal/destination", "internal/etcdtest"} {
		if strings.Contains(deps, banned) {
			t.Errorf("backup-restore links %s", banned)
		}
	}
}

// TestNoTemplatesLinked: a text/template in use (cobra's, when a command
// sets a usage or version template) stops the linker from dropping unused
// methods, which made backup-job half as big again. backup-restore is not
// held to it: etcd's embedded server, which the drill runs, links the
// debug pages of golang.org/x/net/trace (html/template); the image size
// test bounds what that costs.
func TestNoTemplatesLinked(t *testing.T) {
	job, _ := binaries(t)
	for _, bin := range []string{job} {
		out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput()
		if err != nil {
			t.Fatalf("go tool nm %s: %v\n%s", bin, err, out)
		}
		if !strings.Contains(string(out), "cobra.(*Command).Execute") {
			t.Fatalf("%s: symbol list looks wrong", bin)
		}
		if strings.Contains(string(out), "text/template.(*state).evalCall") {
			t.Errorf("%s links text/template's evaluator", filepath.Base(bin))
		}
	}
}
