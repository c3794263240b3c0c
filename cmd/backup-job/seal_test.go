package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// TestVerifySealed: a backup with compression and encryption, then
// `verify` of what it stored, with the right identity, a wrong one, none,
// and after a byte of the stored file changed.
func TestVerifySealed(t *testing.T) {
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	right, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	rightFile, wrongFile, publicFile := filepath.Join(keys, "right.txt"), filepath.Join(keys, "wrong.txt"), filepath.Join(keys, "public.txt")
	for p, s := range map[string]string{rightFile: right.String(), wrongFile: wrong.String(), publicFile: right.Recipient().String()} {
		if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, work := t.TempDir(), t.TempDir()
	testkit.ClearEnv(t, "ETCD_BACKUP_")
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("ETCD_BACKUP_DESTINATIONS", out)
	t.Setenv("ETCD_BACKUP_WORK_DIR", work)
	t.Setenv("ETCD_BACKUP_COMPRESSION", "zstd")
	t.Setenv("ETCD_BACKUP_ENCRYPT_RECIPIENTS", right.Recipient().String())
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, stderr.String())
	}
	stored, err := filepath.Glob(filepath.Join(out, "etcd-snapshot-*.db.zst.age"))
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored files: %v, %v", stored, err)
	}
	f := stored[0]
	damaged := filepath.Join(t.TempDir(), filepath.Base(f))
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x10
	if err := os.WriteFile(damaged, b, 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		args   []string
		env    string // ETCD_BACKUP_IDENTITY_FILE
		code   int
		stdout string
		stderr string
	}{
		{"right identity", []string{"verify", "--identity", rightFile, f}, "", 0, "plain_sha256=", ""},
		{"identity from the environment", []string{"verify", f}, rightFile, 0, ": ok sha256=", ""},
		{"wrong identity", []string{"verify", "--identity=" + wrongFile, f}, "", 1, "", "none of the given identities can decrypt the file"},
		{"no identity", []string{"verify", f}, "", 1, "", "no identity was given"},
		{"flipped byte", []string{"verify", "--identity", rightFile, damaged}, "", 1, "", "damaged"},
		{"public key as identity", []string{"verify", "--identity", publicFile, f}, "", 2, "", "is not an identity file"},
		{"--identity without a file", []string{"verify", f, "--identity"}, "", 2, "", "flag needs an argument: --identity"},
	}
	fetched := t.TempDir()
	cases = append(cases, []struct {
		name   string
		args   []string
		env    string // ETCD_BACKUP_IDENTITY_FILE
		code   int
		stdout string
		stderr string
	}{
		{"fetch with a wrong identity", []string{"fetch", "latest", filepath.Join(fetched, "wrong"), "--from", out, "--identity", wrongFile}, "", 1, "", "none of the given identities can decrypt the file"},
		{"fetch without an identity", []string{"fetch", "latest", filepath.Join(fetched, "none"), "--from", out}, "", 1, "", "no identity was given"},
		{"fetch", []string{"fetch", "latest", filepath.Join(fetched, "ok"), "--from", out, "--identity", rightFile}, "", 0, ".db: fetched from", ""},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("ETCD_BACKUP_IDENTITY_FILE", c.env)
			var stdout, stderr bytes.Buffer
			code := run(c.args, &stdout, &stderr)
			if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, c.code, stdout.String(), c.stdout, stderr.String(), c.stderr)
			}
			if strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("the error is not one line: %q", stderr.String())
			}
			entries, err := os.ReadDir(work)
			if err != nil || len(entries) != 0 {
				t.Errorf("the work directory holds %v (%v) after verify", entries, err)
			}
		})
	}
	// only the fetch with the right identity wrote anything: the plaintext
	for dir, want := range map[string]int{"wrong": 0, "none": 0, "ok": 1} {
		entries, err := os.ReadDir(filepath.Join(fetched, dir))
		if len(entries) != want || (want == 0 && err == nil) {
			t.Errorf("fetch into %s left %v (%v)", dir, entries, err)
		}
	}
	plain, err := filepath.Glob(filepath.Join(fetched, "ok", "etcd-snapshot-*.db"))
	if err != nil || len(plain) != 1 {
		t.Fatalf("fetched files: %v, %v", plain, err)
	}
	var so, se bytes.Buffer
	if code := run([]string{"verify", plain[0]}, &so, &se); code != 0 {
		t.Errorf("the fetched plaintext does not verify: %s", se.String())
	}
}
