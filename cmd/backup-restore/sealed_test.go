package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/seal"
)

// TestRestoreSealed: a backup compressed and encrypted into an S3 bucket
// (versitygw) is restored with the right identity, and refused with a wrong
// one, which leaves neither a fetched file nor a data directory.
func TestRestoreSealed(t *testing.T) {
	job, _ := binaries(t)
	s3srv := blobtest.StartS3(t)
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Seed(context.Background(), "/registry/secrets/", 200, 500); err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	var files [2]string
	var recipient string
	for i := range files {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		files[i] = filepath.Join(keys, []string{"right.txt", "wrong.txt"}[i])
		if err := os.WriteFile(files[i], []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			recipient = id.Recipient().String()
		}
	}
	bucket := s3srv.URL("etcd")
	env := append(s3srv.Env(), "ETCD_BACKUP_DESTINATIONS="+bucket, "ETCD_BACKUP_COMPRESSION=zstd",
		"ETCD_BACKUP_ENCRYPT_RECIPIENTS="+recipient, "ETCD_BACKUP_WORK_DIR="+t.TempDir())
	for k, v := range srv.Env() {
		env = append(env, k+"="+v)
	}
	runCLI(t, env, job).want(t, 0, `.db.zst.age","size"`, "backup done")

	root := t.TempDir()
	data := filepath.Join(root, "etcd-restored")
	restore := func(identity string) result {
		return runCLI(t, env, job, "restore", "latest", "--from", bucket, "--identity", identity, "--name", "m0",
			"--initial-advertise-peer-urls", "https://10.0.0.1:2380", "--data-dir", data, "--target-version", "3.6")
	}
	restore(files[1]).want(t, 1, "", "none of the given identities can decrypt the file")
	if left, err := os.ReadDir(root); err != nil || len(left) != 0 {
		t.Fatalf("a refused restore left %v (%v)", left, err)
	}
	restore(files[0]).want(t, 0, "Restored ", "")
	if _, err := os.Stat(filepath.Join(data, "member", "snap", "db")); err != nil {
		t.Fatal(err)
	}
}

// runbookSealed runs section 9 of the runbook: fetch and verify of a
// compressed, encrypted snapshot, with the key at the runbook's path.
func runbookSealed(r *runbook, snap string) {
	t := r.t
	root := t.TempDir()
	const name = "etcd-snapshot-20261123T170000Z.db.zst.age"
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	w, err := seal.NewWriter(&stored, seal.Options{Compression: seal.CompressionZstd, Recipients: []age.Recipient{id.Recipient()}})
	if err == nil {
		_, err = w.Write(plain)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range map[string][]byte{"root/key.txt": []byte(id.String() + "\n"), "data/etcd-backup/" + name: stored.Bytes()} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s3srv := blobtest.StartS3(t)
	putObject(t, s3srv, "etcd/"+name, stored.Bytes(), map[string]string{"sha256": w.Sums().StoredSHA256})
	for _, kv := range s3srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	rw := append(nodeRewrites(root), "s3://my-bucket/etcd?region=eu-west-1", s3srv.URL("etcd"))
	for _, i := range r.section("9") {
		if p := r.cmds[i].program; p == "age" || p == "tar" {
			continue
		}
		out := r.run(i, rw...)
		if !strings.Contains(out, "plain_sha256="+w.Sums().PlainSHA256) && !strings.Contains(out, "etcd-snapshot-20261123T170000Z.db: fetched") {
			t.Fatalf("%q:\n%s", r.cmds[i].line, out)
		}
	}
	got, err := os.ReadFile(filepath.Join(root, "root/restore", "etcd-snapshot-20261123T170000Z.db"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the runbook's fetch left no plaintext snapshot (%v)", err)
	}
}
