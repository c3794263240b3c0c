package blobtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 is a running versitygw, an S3 server over a local directory (its posix
// backend: a bucket is a directory, an object a file).
type S3 struct {
	Endpoint  string // http://127.0.0.1:port
	Region    string
	Bucket    string // created at start
	AccessKey string
	SecretKey string
	Dir       string // the backend's root: object key K of bucket B is the file Dir/B/K

	p *proc
}

// StartS3 starts versitygw with a fresh directory and access key, and
// creates Bucket in it.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := tool(t, "bin/versitygw", "the S3 server versitygw")
	s := &S3{
		Region:    "us-east-1",
		Bucket:    "etcd-backup-test",
		AccessKey: "ETCDBACKUPTEST" + randomHex(3),
		SecretKey: randomHex(20),
		Dir:       t.TempDir(),
	}
	s.p = startProc(t, "versitygw", bin, nil, func(port int) []string {
		return []string{
			"--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
			"--port", "127.0.0.1:" + strconv.Itoa(port), "--quiet",
			"posix", s.Dir,
		}
	})
	s.Endpoint = s.p.baseURL()
	s.CreateBucket(t, s.Bucket)
	return s
}

// URL is the destination URL of prefix (may be empty) in Bucket.
func (s *S3) URL(prefix string) string {
	q := url.Values{"endpoint": {s.Endpoint}, "region": {s.Region}, "use_path_style": {"true"}}
	u := url.URL{Scheme: "s3", Host: s.Bucket, Path: "/" + prefix, RawQuery: q.Encode()}
	return u.String()
}

// Env is the environment that gives a process the server's credentials,
// and only those: no shared config files, profile or instance metadata.
func (s *S3) Env() []string {
	none := filepath.Join(s.Dir, "no-such-aws-config")
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=" + s.Region,
		"AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + none,
		"AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// SetEnv sets Env for the rest of the test.
func (s *S3) SetEnv(t testing.TB) { t.Helper(); setEnv(t, s.Env()) }

// CreateBucket creates another bucket.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s on %s: %v", name, s.Endpoint, err)
	}
}

// Client is an S3 client for the server, independent of the environment,
// for checking what a test did.
func (s *S3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
	})
}

// Kill stops the server at once, in the middle of whatever it is doing.
func (s *S3) Kill() { s.p.kill() }

// Restart starts the server again on the same port and directory.
func (s *S3) Restart(t testing.TB) { t.Helper(); s.p.restart() }

// SetModTime sets the modification time the server reports for an object,
// through its storage: the posix backend takes it from the file.
func (s *S3) SetModTime(t testing.TB, key string, mt time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(s.Dir, s.Bucket, filepath.FromSlash(key)), mt, mt); err != nil {
		t.Fatalf("setting the time of object %s: %v", key, err)
	}
}

// StoredBytes is how much the server holds on disk, finished objects and
// parts of uploads in progress alike.
func (s *S3) StoredBytes() int64 {
	var n int64
	_ = filepath.WalkDir(s.Dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
