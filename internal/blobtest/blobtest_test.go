package blobtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// recorder stands in for a test to see whether missing skips or fails.
type recorder struct{ fatal, skip string }

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)  { r.skip = fmt.Sprint(args...) }

func TestMissingServerSkipsOrFailsUnderCI(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("TOOLS_DIR", empty)
	for _, ci := range []string{"", "false", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			var r recorder
			tool(&r, "bin/versitygw", "the S3 server versitygw")
			msg := r.skip
			if ci == "true" {
				if r.fatal == "" || r.skip != "" {
					t.Fatalf("under CI=true a missing server must fail the test: fatal %q, skip %q", r.fatal, r.skip)
				}
				msg = r.fatal
			} else if r.skip == "" || r.fatal != "" {
				t.Fatalf("outside CI a missing server must skip the test: fatal %q, skip %q", r.fatal, r.skip)
			}
			for _, want := range []string{"the S3 server versitygw is not installed", filepath.Join(empty, "bin/versitygw"), "ci/install-test-servers.sh"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
		})
	}
}

func TestToolsDir(t *testing.T) {
	t.Setenv("TOOLS_DIR", "")
	got, err := ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, ".tools"); got != want {
		t.Errorf("ToolsDir() = %s, want %s", got, want)
	}
	t.Setenv("TOOLS_DIR", "/opt/tools")
	if got, err := ToolsDir(); err != nil || got != "/opt/tools" {
		t.Errorf("with TOOLS_DIR set ToolsDir() = %s, %v", got, err)
	}
}

// TestS3KillAndRestart checks the server control the destination tests
// rely on: data survives a kill and restart on the same port, and a killed
// server refuses connections.
func TestS3KillAndRestart(t *testing.T) {
	s := StartS3(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.Client()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("a/b"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(s.Dir, s.Bucket, "a", "b")); err != nil || st.Size() != 5 {
		t.Fatalf("object a/b is not the file Dir/Bucket/a/b: %v", err)
	}
	if s.StoredBytes() < 5 {
		t.Errorf("StoredBytes() = %d, want at least 5", s.StoredBytes())
	}
	s.Kill()
	if _, err := http.Get(s.Endpoint); err == nil {
		t.Fatal("the killed server still answers")
	}
	s.Restart(t)
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("a/b")})
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if aws.ToInt64(out.ContentLength) != 5 {
		t.Errorf("after the restart a/b has %d bytes, want 5", aws.ToInt64(out.ContentLength))
	}
}

func TestGCSAndAzureStart(t *testing.T) {
	g := StartGCS(t)
	resp, err := http.Get("http://" + g.Host + "/storage/v1/b/" + g.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GCS bucket %s: %s", g.Bucket, resp.Status)
	}

	a := StartAzure(t)
	if !strings.HasPrefix(a.URL("x"), "azblob://"+a.Container+"/x?") {
		t.Errorf("URL(x) = %s", a.URL("x"))
	}
	a.CreateContainer(t, "second") // fails the test unless the service works
}
