package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

var (
	bigOnce sync.Once
	big     *etcdtest.Server
	bigErr  error
)

// bigServer holds about 65 MB, so that uploads go in several parts and take
// long enough to be interrupted.
func bigServer(t *testing.T) *etcdtest.Server {
	t.Helper()
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "backup-test-big-etcd-")
		if err != nil {
			bigErr = err
			return
		}
		big, bigErr = etcdtest.Start(dir, etcdtest.Options{})
		if bigErr != nil {
			return
		}
		bigErr = big.Seed(context.Background(), "/registry/configmaps/", 6500, 10000)
		cleanups = append(cleanups, func() { big.Close(); os.RemoveAll(dir) })
	})
	if bigErr != nil {
		t.Fatal(bigErr)
	}
	return big
}

// openBlob opens a bucket directly, closed when the test ends.
func openBlob(t *testing.T, bucketURL string) *blob.Bucket {
	t.Helper()
	b, err := blob.OpenBucket(context.Background(), bucketURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// put writes an object straight into a bucket, under the bucket's root.
func put(t *testing.T, bucketURL, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	b := openBlob(t, bucketURL)
	if err := b.WriteAll(ctx, key, data, nil); err != nil {
		t.Fatalf("writing %s: %v", key, err)
	}
}

func keys(t *testing.T, bucketURL string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	b := openBlob(t, bucketURL)
	out := map[string]bool{}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("listing %s: %v", bucketURL, err)
		}
		out[o.Key] = true
	}
	return out
}

type backend struct {
	name    string
	url     func(prefix string) string // destination URL for a prefix
	root    string                     // URL of the whole bucket, no prefix
	env     []string
	secrets []string // must never be printed
}

func startBackend(t *testing.T, name string) backend {
	switch name {
	case "s3":
		s := blobtest.StartS3(t)
		root := strings.Replace(s.URL(""), "/?", "?", 1)
		return backend{name: name, url: s.URL, root: root, env: s.Env(), secrets: []string{s.SecretKey}}
	case "gcs":
		g := blobtest.StartGCS(t)
		root := strings.Replace(g.URL(""), "/?", "?", 1)
		return backend{name: name, url: g.URL, root: root, env: g.Env()}
	case "azure":
		a := blobtest.StartAzure(t)
		root := strings.Replace(a.URL(""), "/?", "?", 1)
		return backend{name: name, url: a.URL, root: root, env: a.Env(), secrets: []string{blobtest.AzureKey}}
	}
	t.Fatalf("unknown backend %s", name)
	return backend{}
}

func setEnvList(t *testing.T, env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// TestObjectStorage: a full run into a directory and a bucket prefix on each
// real server, and a prune there by the objects' own ages, which never
// touches keys outside the prefix or of another shape.
func TestObjectStorage(t *testing.T) {
	for _, name := range []string{"s3", "gcs", "azure"} {
		t.Run(name, func(t *testing.T) {
			s := server(t)
			if name == "s3" {
				s = bigServer(t) // the upload of a snapshot over 50 MB
			}
			be := startBackend(t, name)
			setEnvList(t, be.env)
			now := time.Now()
			old := []string{
				"prod/etcd/" + snapname.Format("etcd-snapshot-", now.Add(-72*time.Hour), snapname.Plain),
				"prod/etcd/" + snapname.Format("etcd-snapshot-", now.Add(-48*time.Hour), snapname.Plain),
			}
			foreign := []string{
				"prod/etcd/notes.txt",
				"prod/etcd/etcd-snapshot-20200101T000000Z.db.bak",
				"prod/" + snapname.Format("etcd-snapshot-", now.Add(-100*time.Hour), snapname.Plain),             // above the prefix
				"prod/etcd/nested/" + snapname.Format("etcd-snapshot-", now.Add(-100*time.Hour), snapname.Plain), // below it
				"other/" + snapname.Format("etcd-snapshot-", now.Add(-100*time.Hour), snapname.Plain),
			}
			for _, k := range append(append([]string{}, old...), foreign...) {
				put(t, be.root, k, []byte("an object written before the run"))
			}
			dir := t.TempDir()
			env := envFor(s, dir, be.url("prod/etcd"))
			env["ETCD_BACKUP_RETENTION"] = "2s"
			env["ETCD_BACKUP_KEEP_MIN"] = "1"
			// The run's clock is ahead of the objects' modification times by
			// more than the retention: everything above is old to it.
			res := runBackup(t, load(t, env), time.Now().Add(3*time.Second))
			if res.err != nil {
				t.Fatalf("run: %v\n%s", res.err, res.logs)
			}
			sum := res.sum
			if len(sum.Destinations) != 2 || sum.Destinations[1].Status != "ok" {
				t.Fatalf("destinations: %+v", sum.Destinations)
			}
			if name == "s3" && sum.Snapshot.Size < 50_000_000 {
				t.Fatalf("snapshot of %d bytes; the S3 test needs one over 50 MB", sum.Snapshot.Size)
			}
			// the object is the verified file, with its metadata
			ctx := context.Background()
			b, err := blob.OpenBucket(ctx, be.root)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			key := "prod/etcd/" + sum.Snapshot.Name
			got, err := b.ReadAll(ctx, key)
			if err != nil {
				t.Fatalf("reading the uploaded snapshot: %v", err)
			}
			local, err := os.ReadFile(filepath.Join(dir, sum.Snapshot.Name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, local) {
				t.Fatalf("object (%d bytes) differs from the local copy (%d bytes)", len(got), len(local))
			}
			attrs, err := b.Attributes(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if attrs.Metadata["sha256"] != sum.Snapshot.SHA256 {
				t.Errorf("object metadata %v lacks sha256 %s", attrs.Metadata, sum.Snapshot.SHA256)
			}
			// prune: the old ones under the prefix went, nothing else did
			now2 := keys(t, be.root)
			for _, k := range old {
				if now2[k] {
					t.Errorf("%s should have been pruned", k)
				}
			}
			for _, k := range foreign {
				if !now2[k] {
					t.Errorf("%s was deleted", k)
				}
			}
			if sum.Destinations[1].PrunedCount != len(old) {
				t.Errorf("summary pruned %v", sum.Destinations[1].Pruned)
			}
			for _, secret := range be.secrets {
				if strings.Contains(res.stdout+res.logs, secret) {
					t.Errorf("a credential appears in the output")
				}
			}
		})
	}
}

// TestS3WrongCredentials: the upload fails at once with a clear error, the
// local copy is kept, and nothing is pruned in the bucket.
func TestS3WrongCredentials(t *testing.T) {
	s := server(t)
	s3 := blobtest.StartS3(t)
	setEnvList(t, s3.Env())
	const wrong = "WRONG-SECRET-d41d8cd98f00b204e980"
	t.Setenv("AWS_SECRET_ACCESS_KEY", wrong)
	oldKey := "etcd/" + snapname.Format("etcd-snapshot-", time.Now().Add(-240*time.Hour), snapname.Plain)
	root := strings.Replace(s3.URL(""), "/?", "?", 1)
	dir := t.TempDir()
	env := envFor(s, dir, s3.URL("etcd"))
	env["ETCD_BACKUP_RETENTION"] = "1h"
	env["ETCD_BACKUP_KEEP_MIN"] = "1"
	// the old object is written with the right key, then the run uses the wrong one
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3.SecretKey)
	put(t, root, oldKey, []byte("old"))
	t.Setenv("AWS_SECRET_ACCESS_KEY", wrong)
	start := time.Now()
	res := runBackup(t, load(t, env), time.Now())
	if res.err == nil {
		t.Fatal("run succeeded with wrong credentials")
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("a permanent error took %v", time.Since(start))
	}
	d := res.sum.Destinations[1]
	if d.Status != "failed" || d.FailedStep != "copy" || !strings.Contains(d.Error, "access denied") {
		t.Errorf("bucket destination: %+v", d)
	}
	if res.sum.Destinations[0].Status != "ok" {
		t.Errorf("local destination: %+v", res.sum.Destinations[0])
	}
	if _, err := os.Stat(filepath.Join(dir, res.sum.Snapshot.Name)); err != nil {
		t.Errorf("local copy not kept: %v", err)
	}
	if strings.Contains(res.stdout+res.logs, wrong) || strings.Contains(res.stdout+res.logs, s3.SecretKey) {
		t.Error("a secret appears in the output")
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3.SecretKey)
	if !keys(t, root)[oldKey] {
		t.Error("the bucket was pruned after a failed upload")
	}
}

// TestS3KilledMidUpload: the server dies while the snapshot is being
// uploaded; the run fails (after its retries), the local copy is kept, and
// the bucket never shows an object under the final name.
func TestS3KilledMidUpload(t *testing.T) {
	s := bigServer(t)
	s3 := blobtest.StartS3(t)
	setEnvList(t, s3.Env())
	dir := t.TempDir()
	cfg := load(t, envFor(s, dir, s3.URL("etcd")))
	before := s3.StoredBytes()
	done := make(chan result, 1)
	go func() { done <- runBackup(t, cfg, time.Now()) }()
	killed := false
	deadline := time.Now().Add(60 * time.Second)
	for !killed && time.Now().Before(deadline) {
		select {
		case r := <-done:
			t.Fatalf("run ended before the server could be killed: %v", r.err)
		default:
		}
		if s3.StoredBytes()-before > 8<<20 {
			s3.Kill()
			killed = true
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !killed {
		t.Fatal("the upload never started")
	}
	res := <-done
	if res.err == nil {
		t.Fatal("run succeeded although the server was killed")
	}
	if d := res.sum.Destinations[1]; d.Status != "failed" || d.FailedStep != "copy" {
		t.Errorf("bucket destination: %+v", d)
	}
	if _, err := os.Stat(filepath.Join(dir, res.sum.Snapshot.Name)); err != nil {
		t.Errorf("local copy not kept: %v", err)
	}
	s3.Restart(t)
	root := strings.Replace(s3.URL(""), "/?", "?", 1)
	if k := keys(t, root); k["etcd/"+res.sum.Snapshot.Name] {
		t.Fatal("a partial upload is visible under the final name")
	}
}
