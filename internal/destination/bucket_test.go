package destination

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/faults"
	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

func TestOpenBucketRefusesBadURLs(t *testing.T) {
	const secret = "Sekr1t-Value"
	tests := []struct {
		name, spec string
		env        map[string]string
		want       string // in the error
	}{
		{"unknown scheme", "ftp://host/dir", nil, `unsupported scheme "ftp": accepted are absolute directory paths and the URL schemes azblob://, file://, gs://, s3://`},
		{"mem is not a destination", "mem://", nil, `unsupported scheme "mem"`},
		{"file root", "file:///", nil, "the root directory / is not accepted"},
		{"file root spelled otherwise", "file://localhost/x/..", nil, "the root directory / is not accepted"},
		{"relative path", "backups/etcd", nil, "neither an absolute path nor a URL"},
		{"opaque", "s3:bucket", nil, "s3: URL without //"},
		{"credentials in userinfo", "s3://AKIA" + secret + ":" + secret + "@bucket/etcd", nil, "credentials in the URL are not accepted"},
		{"credentials as a parameter", "s3://bucket?aws_secret_access_key=" + secret, nil, `unknown query parameter "aws_secret_access_key" for s3:// URLs: accepted are region, endpoint`},
		{"credentials in the endpoint", "s3://bucket?endpoint=http://u:" + secret + "@minio:9000", nil, "endpoint must be a URL such as https://s3.example.com:9000, without credentials"},
		{"endpoint without scheme", "s3://bucket?endpoint=minio:9000", nil, "endpoint must be a URL"},
		{"unparseable", "s3://AKIA:" + secret + "/x@bucket", nil, "not a valid URL: expected scheme://bucket/prefix?parameters"},
		{"bad escape", "s3://bucket/%zz" + secret, nil, "not a valid URL"},
		{"fragment", "s3://bucket/etcd#" + secret, nil, "a #fragment is not accepted"},
		{"parameter twice", "s3://bucket?region=a&region=b", nil, `query parameter "region" is given more than once`},
		{"no bucket", "s3:///etcd", nil, "bucket name missing: expected s3://bucket/prefix"},
		{"dot-dot prefix", "gs://bucket/a/../b", nil, `key prefix "a/../b" has an empty, . or .. segment`},
		{"empty segment", "gs://bucket/a//b", nil, `key prefix "a//b" has an empty, . or .. segment`},
		{"prefix twice", "azblob://container/a?prefix=b", nil, "key prefix given twice"},
		{"gs parameter on s3", "s3://bucket?universe_domain=x", nil, `unknown query parameter "universe_domain" for s3://`},
		{"file with host", "file://server/dir", nil, "a file:// URL names an absolute directory: file:///path/to/dir"},
		{"file relative", "file://./dir", nil, "a file:// URL names an absolute directory"},
		{"azure endpoint change with SAS token", "azblob://container?domain=evil.example",
			map[string]string{"AZURE_STORAGE_SAS_TOKEN": "sv=2020&sig=" + secret},
			`query parameter "domain" cannot change the Azure service endpoint while AZURE_STORAGE_SAS_TOKEN is set`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			b, err := openBucket(context.Background(), tc.spec)
			if err == nil {
				b.Close()
				t.Fatalf("openBucket(%q) succeeded, want an error", tc.spec)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// TestOpenBucketAccepts opens each accepted URL form without contacting a
// server (the SDKs connect on first use).
func TestOpenBucketAccepts(t *testing.T) {
	dir := t.TempDir()
	s3env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAOFFLINE", "AWS_SECRET_ACCESS_KEY": "offline-secret",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none")}
	tests := []struct {
		name, spec string
		env        map[string]string
		shown      string
	}{
		{"s3 with prefix and custom endpoint", "s3://bucket/some/prefix?region=eu-west-1&endpoint=http://127.0.0.1:9&use_path_style=true", s3env,
			"s3://bucket/some/prefix?endpoint=http%3A%2F%2F127.0.0.1%3A9&region=eu-west-1&use_path_style=true"},
		{"s3 with a literal key prefix", "s3://bucket?region=eu-west-1&prefix=etcd-", s3env, "s3://bucket?prefix=etcd-&region=eu-west-1"},
		{"s3 with KMS", "s3://bucket/etcd?region=eu-west-1&ssetype=aws:kms&kmskeyid=arn:aws:kms:eu-west-1:111122223333:key/k", s3env,
			"s3://bucket/etcd?kmskeyid=REDACTED&region=eu-west-1&ssetype=aws%3Akms"},
		{"gs", "gs://bucket/etcd", map[string]string{"STORAGE_EMULATOR_HOST": "127.0.0.1:9"}, "gs://bucket/etcd"},
		{"azblob", "azblob://container/etcd", map[string]string{"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_KEY": "a2V5"}, "azblob://container/etcd"},
		{"file", "file://" + dir + "/a", nil, "file://" + dir + "/a"},
		{"file on localhost", "file://localhost" + dir + "/b", nil, "file://localhost" + dir + "/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			b, err := openBucket(context.Background(), tc.spec)
			if err != nil {
				t.Fatalf("openBucket(%q): %v", tc.spec, err)
			}
			defer b.Close()
			if b.String() != tc.shown {
				t.Errorf("String() = %q, want %q", b.String(), tc.shown)
			}
		})
	}
}

func TestFileBucket(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new", "backups")
	b, err := openBucket(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("directory not created: %v", err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", st.Mode().Perm())
	}

	src, sum := makeFile(t, 3<<20)
	name := "etcd-snapshot-20261123T170000Z.db"
	if _, err := b.Upload(ctx, name, src, testMeta(sum)); err != nil {
		t.Fatal(err)
	}
	st, err = os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("object is not the file %s: %v", name, err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("snapshot file mode %v, want 0600", st.Mode().Perm())
	}
	if got := fileSHA256(t, filepath.Join(dir, name)); got != sum {
		t.Errorf("stored file sha256 %s, want %s", got, sum)
	}
	// Nothing but the object and gocloud's attributes file.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{name, name + ".attrs"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %v, want %v", names, want)
	}
}

// backend is one real object store, started for a test.
type backend struct {
	name  string
	start func(t *testing.T) (url func(prefix string) string)
}

var backends = []backend{
	{"s3", func(t *testing.T) func(string) string {
		s := blobtest.StartS3(t)
		s.SetEnv(t)
		return s.URL
	}},
	{"gcs", func(t *testing.T) func(string) string {
		g := blobtest.StartGCS(t)
		g.SetEnv(t)
		return g.URL
	}},
	{"azure", func(t *testing.T) func(string) string {
		a := blobtest.StartAzure(t)
		a.SetEnv(t)
		return a.URL
	}},
	{"file", func(t *testing.T) func(string) string {
		dir := t.TempDir()
		return func(prefix string) string {
			if prefix == "" {
				return "file://" + dir
			}
			return "file://" + dir + "?prefix=" + prefix + "/"
		}
	}},
}

// TestBackends runs the whole life of snapshots in a key prefix of each
// store: upload, metadata, listing among other keys, refusal to replace,
// delete.
func TestBackends(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			url := be.start(t)
			exerciseBucket(t, url("team/etcd"), url(""), "team/etcd/")
		})
	}
}

func exerciseBucket(t *testing.T, spec, rootSpec, keyPrefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := openBucket(ctx, spec)
	if err != nil {
		t.Fatalf("openBucket(%s): %v", location.Redact(spec), err)
	}
	defer b.Close()
	if b.String() != location.Redact(spec) {
		t.Errorf("String() = %q, want %q", b.String(), location.Redact(spec))
	}
	root, err := openBucket(ctx, rootSpec)
	if err != nil {
		t.Fatalf("openBucket(%s): %v", location.Redact(rootSpec), err)
	}
	defer root.Close()

	// Keys that are not this destination's snapshots, and must stay
	// invisible to its listing: other prefixes, a look-alike prefix, a
	// deeper level, a name without the snapshot prefix.
	others := []string{
		"etcd-snapshot-20200101T000000Z.db",
		"team/etcd-snapshot-20200101T000000Z.db",
		"team/etcdx/etcd-snapshot-20200101T000000Z.db",
		keyPrefix + "sub/etcd-snapshot-20200101T000000Z.db",
		keyPrefix + "notes.txt",
	}
	for _, k := range others {
		if err := root.bucket.WriteAll(ctx, k, []byte("not a snapshot"), nil); err != nil {
			t.Fatalf("writing %s: %v", k, err)
		}
	}

	names := []string{"etcd-snapshot-20261121T170000Z.db", "etcd-snapshot-20261122T170000Z.db", "etcd-snapshot-20261123T170000Z.db"}
	sums := map[string]string{}
	for i, name := range names {
		src, sum := makeFile(t, int64(1<<20+i*4099))
		sums[name] = sum
		before := time.Now().Truncate(time.Second).Add(-time.Second)
		obj, err := b.Upload(ctx, name, src, testMeta(sum))
		if err != nil {
			t.Fatalf("Upload(%s): %v", name, err)
		}
		st, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		if obj.Name != name || obj.Size != st.Size() {
			t.Errorf("Upload returned %+v, want name %s size %d", obj, name, st.Size())
		}
		if obj.ModTime.Before(before) || obj.ModTime.After(time.Now().Add(2*time.Second)) {
			t.Errorf("Upload returned mod time %v, want the time of the upload (%v to now)", obj.ModTime, before)
		}
	}

	// The object is where the URL's prefix says, with its content type,
	// metadata and content.
	key := keyPrefix + names[0]
	attrs, err := root.bucket.Attributes(ctx, key)
	if err != nil {
		t.Fatalf("the object is not at key %s: %v", key, err)
	}
	if attrs.ContentType != "application/octet-stream" {
		t.Errorf("content type %q, want application/octet-stream", attrs.ContentType)
	}
	wantMeta := map[string]string{"sha256": sums[names[0]], "revision": "4242", "etcd-version": "3.6.16", "tool-version": "0.1.0-test"}
	for k, v := range wantMeta {
		if attrs.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q (all: %v)", k, attrs.Metadata[k], v, attrs.Metadata)
		}
	}
	if got := objectSHA256(t, root.bucket, key); got != sums[names[0]] {
		t.Errorf("stored content sha256 %s, want %s", got, sums[names[0]])
	}

	list, err := b.List(ctx, "etcd-snapshot-")
	if err != nil {
		t.Fatal(err)
	}
	if got := objectNames(list); !slices.Equal(got, names) {
		t.Errorf("List = %v, want only %v", got, names)
	}
	for _, o := range list {
		if o.ModTime.IsZero() || o.Size < 1<<20 {
			t.Errorf("listed %+v: want its size and modification time", o)
		}
	}

	// An existing name is never replaced: the check before the upload...
	other, otherSum := makeFile(t, 4096)
	_, err = b.Upload(ctx, names[0], other, testMeta(otherSum))
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("uploading over %s: got %v, want an error saying it exists", names[0], err)
	}
	// ...and, without that check, the store's own conditional write.
	f, err := os.Open(other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.upload(ctx, names[0], f, 4096, other, testMeta(otherSum), false)
	f.Close()
	if err == nil || gcerrors.Code(err) != gcerrors.FailedPrecondition {
		t.Errorf("conditional write over %s: got %v, want a failed precondition", names[0], err)
	}
	if got := objectSHA256(t, root.bucket, key); got != sums[names[0]] {
		t.Errorf("after the refused uploads the content changed: sha256 %s, want %s", got, sums[names[0]])
	}

	// A file that fails to read, or ends early, half way through a
	// multipart upload: nothing may appear under the name.
	const size = 20 << 20
	big, bigSum := makeFile(t, size)
	for _, tc := range []struct {
		name string
		r    func(f *os.File) io.Reader
	}{
		{"read error", func(f *os.File) io.Reader {
			return io.MultiReader(io.LimitReader(f, 18<<20), iotest.ErrReader(errors.New("input/output error")))
		}},
		{"file shrank", func(f *os.File) io.Reader { return io.LimitReader(f, 18<<20) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(big)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			name := "etcd-snapshot-20261124T170000Z.db"
			_, err = b.upload(ctx, name, tc.r(f), size, big, testMeta(bigSum), true)
			if err == nil {
				t.Fatal("upload succeeded")
			}
			t.Logf("error: %v", err)
			if ok, err := b.bucket.Exists(ctx, name); err != nil || ok {
				t.Errorf("after the failed upload %s exists: %v (%v)", name, ok, err)
			}
		})
	}

	if err := b.Delete(ctx, names[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, names[0]); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("deleting a missing object: got %v, want not found", err)
	}
	list, err = b.List(ctx, "etcd-snapshot-")
	if err != nil {
		t.Fatal(err)
	}
	if got := objectNames(list); !slices.Equal(got, names[1:]) {
		t.Errorf("after delete List = %v, want %v", got, names[1:])
	}
	for _, k := range others {
		if ok, err := root.bucket.Exists(ctx, k); err != nil || !ok {
			t.Errorf("other key %s is gone (%v)", k, err)
		}
	}
}

// openS3 starts an S3 server and opens its bucket "etcd"; ctx bounds the
// test.
func openS3(t *testing.T) (*blobtest.S3, *Bucket, context.Context) {
	t.Helper()
	s := blobtest.StartS3(t)
	s.SetEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	b, err := openBucket(ctx, s.URL("etcd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return s, b, ctx
}

// TestS3LargeUpload sends a file well above the multipart threshold and
// checks that it went in parts of the chosen size and arrived whole.
func TestS3LargeUpload(t *testing.T) {
	_, b, ctx := openS3(t)

	const size = 64 << 20
	src, sum := makeFile(t, size)
	name := "etcd-snapshot-20261123T170000Z.db"
	obj, err := b.Upload(ctx, name, src, testMeta(sum))
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != size {
		t.Errorf("object size %d, want %d", obj.Size, size)
	}
	attrs, err := b.bucket.Attributes(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	// A multipart object's ETag ends in -<number of parts>.
	if want := "-8\""; !strings.HasSuffix(attrs.ETag, want) {
		t.Errorf("ETag %s: want a multipart upload of 8 parts (suffix %s)", attrs.ETag, want)
	}
	if got := objectSHA256(t, b.bucket, name); got != sum {
		t.Errorf("stored sha256 %s, want %s", got, sum)
	}
}

// TestS3ServerKilledMidUpload stops the server while parts are arriving:
// the upload fails and, with the server back, there is no object under the
// name.
func TestS3ServerKilledMidUpload(t *testing.T) {
	s, b, ctx := openS3(t)
	var err error

	src, sum := makeFile(t, 512<<20)
	name := "etcd-snapshot-20261123T170000Z.db"
	done := make(chan error, 1)
	go func() {
		_, err := b.Upload(ctx, name, src, testMeta(sum))
		done <- err
	}()
	// Wait until some parts are on the server's disk, not just started.
	deadline := time.Now().Add(time.Minute)
	for s.StoredBytes() < 24<<20 {
		select {
		case err := <-done:
			t.Fatalf("upload ended before the server was stopped (err %v); the test needs a larger file", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the server received no data within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Kill()
	killedAt := time.Now()
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("upload still running three minutes after the server was stopped")
	}
	if err == nil {
		t.Fatal("upload succeeded although the server was stopped")
	}
	t.Logf("upload failed %.1fs after the server stopped: %v", time.Since(killedAt).Seconds(), err)

	s.Restart(t)
	if _, err := os.Stat(filepath.Join(s.Dir, s.Bucket, "etcd", name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the server's storage has a file under the final name (stat: %v)", err)
	}
	if _, err := b.bucket.Attributes(ctx, name); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("object %s after the interrupted upload: got %v, want not found", name, err)
	}
	list, err := b.List(ctx, "etcd-snapshot-")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("List after the interrupted upload = %v, want nothing", objectNames(list))
	}
}

// TestS3ModTime checks that listing reports the server's modification
// times: the upload time, and a time set through the server's storage (how
// prune tests age their snapshots).
func TestS3ModTime(t *testing.T) {
	s := blobtest.StartS3(t)
	s.SetEnv(t)
	ctx := context.Background()
	b, err := openBucket(ctx, s.URL("etcd"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	src, sum := makeFile(t, 1024)
	name := "etcd-snapshot-20261123T170000Z.db"
	before := time.Now().Truncate(time.Second)
	if _, err := b.Upload(ctx, name, src, testMeta(sum)); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	list, err := b.List(ctx, "etcd-snapshot-")
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want one object", list, err)
	}
	if mt := list[0].ModTime; mt.Before(before) || mt.After(after) {
		t.Errorf("mod time %v, want between %v and %v", mt, before, after)
	}

	old := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	s.SetModTime(t, "etcd/"+name, old)
	list, err = b.List(ctx, "etcd-snapshot-")
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want one object", list, err)
	}
	if !list[0].ModTime.Equal(old) {
		t.Errorf("mod time %v after setting it to %v", list[0].ModTime, old)
	}
}

// TestCredentialsNeverShown runs uploads with wrong credentials whose
// secret part is recognisable, and looks for it in the error and in
// everything the process printed or logged meanwhile.
func TestCredentialsNeverShown(t *testing.T) {
	secret := "etcdBackupTestSecret" + hex.EncodeToString([]byte(t.Name()))[:8]
	tests := []struct {
		name  string
		setup func(t *testing.T) (spec string)
		want  string // a clear reason, in the error
	}{
		{"s3 wrong secret key", func(t *testing.T) string {
			s := blobtest.StartS3(t)
			s.SetEnv(t)
			t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
			return s.URL("etcd")
		}, "access denied: check the credentials and their permissions on the bucket"},
		{"s3 unknown access key", func(t *testing.T) string {
			s := blobtest.StartS3(t)
			s.SetEnv(t)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIA"+strings.ToUpper(secret))
			t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
			return s.URL("etcd")
		}, "No user exists with the provided access key ID"},
		{"s3 secret in the URL too", func(t *testing.T) string {
			s := blobtest.StartS3(t)
			s.SetEnv(t)
			t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
			return strings.Replace(s.URL("etcd"), "s3://", "s3://AKIAX:"+secret+"@", 1)
		}, "credentials in the URL are not accepted"},
		{"azure wrong key", func(t *testing.T) string {
			a := blobtest.StartAzure(t)
			a.SetEnv(t)
			// A shared key is base64; this one decodes fine but is wrong.
			t.Setenv("AZURE_STORAGE_KEY", secret+"AAAA")
			return a.URL("etcd")
		}, "AuthorizationFailure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.setup(t)
			src, sum := makeFile(t, 1<<20)
			var err error
			printed := captureOutput(t, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				var b *Bucket
				b, err = openBucket(ctx, spec)
				if err != nil {
					slog.Error("destination not usable", "destination", location.Redact(spec), "error", err)
					return
				}
				defer b.Close()
				_, err = b.Upload(ctx, "etcd-snapshot-20261123T170000Z.db", src, testMeta(sum))
				if err != nil {
					slog.Error("upload failed", "destination", b.String(), "error", err)
				}
			})
			if err == nil {
				t.Fatal("upload with wrong credentials succeeded")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if !strings.Contains(printed, "upload failed") && !strings.Contains(printed, "destination not usable") {
				t.Errorf("the log capture saw nothing; printed:\n%s", printed)
			}
			if strings.Contains(printed, secret) {
				t.Errorf("the output shows the secret:\n%s", printed)
			}
		})
	}
}

// captureOutput runs f with the default logger at debug level and stdout
// and stderr going to a buffer, and returns all of it.
func captureOutput(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	oldOut, oldErr, oldLog := os.Stdout, os.Stderr, slog.Default()
	os.Stdout, os.Stderr = w, w
	slog.SetDefault(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer func() {
		os.Stdout, os.Stderr = oldOut, oldErr
		slog.SetDefault(oldLog)
	}()
	f()
	w.Close()
	out := string(<-done)
	t.Logf("printed:\n%s", out)
	return out
}

func testMeta(sum string) Metadata {
	return Metadata{SHA256: sum, Revision: 4242, EtcdVersion: "3.6.16", ToolVersion: "0.1.0-test"}
}

// makeFile writes size pseudo-random (incompressible) bytes to a new file
// and returns its path and sha256.
func makeFile(t testing.TB, size int64) (string, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "snapshot-*.db")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seed [32]byte
	copy(seed[:], t.Name())
	seed[31] = byte(size)
	h := sha256.New()
	rnd := rand.NewChaCha8(seed)
	if _, err := io.CopyN(io.MultiWriter(f, h), rnd, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name(), hex.EncodeToString(h.Sum(nil))
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	sum, err := testkit.SHA256File(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func objectSHA256(t testing.TB, b *blob.Bucket, key string) string {
	t.Helper()
	r, err := b.NewReader(context.Background(), key, nil)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func objectNames(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	slices.Sort(out)
	return out
}

// TestS3CancelledUploadLeavesNoParts cancels an upload while its parts are
// on the way, as SIGTERM does: no multipart upload may stay open on the
// server, and no object appears.
func TestS3CancelledUploadLeavesNoParts(t *testing.T) {
	s := blobtest.StartS3(t)
	s.SetEnv(t)
	// A part passes until 4 MiB of it have gone up; then the proxy holds the
	// connection while the test cancels.
	p, err := faults.Start(faults.Options{Target: strings.TrimPrefix(s.Endpoint, "http://"),
		Up: faults.Rule{Fault: faults.Hold, After: 4 << 20, Once: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	q := url.Values{"endpoint": {"http://" + p.Addr()}, "region": {s.Region}, "use_path_style": {"true"}}
	b := openVia(t, (&url.URL{Scheme: "s3", Host: s.Bucket, Path: "/etcd", RawQuery: q.Encode()}).String())

	src, sum := makeFile(t, 64<<20)
	name := "etcd-snapshot-20261123T170000Z.db"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.Upload(ctx, name, src, testMeta(sum))
		done <- err
	}()
	select {
	case <-p.Held():
	case err := <-done:
		t.Fatalf("upload ended before the proxy held it: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the proxy did not see 4 MiB within a minute")
	}
	cancel()
	p.Release()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("upload still running a minute after it was cancelled")
	}
	if err == nil {
		t.Fatal("the cancelled upload succeeded")
	}
	check, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	mp, err := s.Client().ListMultipartUploads(check, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range mp.Uploads {
		t.Errorf("unfinished multipart upload left: key %s, started %v", aws.ToString(u.Key), aws.ToTime(u.Initiated))
	}
	if _, err := s.Client().HeadObject(check, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("etcd/" + name)}); err == nil {
		t.Error("an object appeared under the name of the cancelled upload")
	}
}
