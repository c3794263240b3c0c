package blobtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// GCS is a running fake-gcs-server speaking the Cloud Storage JSON API over
// plain HTTP; clients find it through STORAGE_EMULATOR_HOST.
type GCS struct {
	Host   string // 127.0.0.1:port, the value of STORAGE_EMULATOR_HOST
	Bucket string // created at start

	p *proc
}

// StartGCS starts fake-gcs-server with a fresh directory and creates Bucket.
func StartGCS(t testing.TB) *GCS {
	t.Helper()
	bin := tool(t, "bin/fake-gcs-server", "the GCS emulator fake-gcs-server")
	dir := t.TempDir()
	g := &GCS{Bucket: "etcd-backup-test"}
	g.p = startProc(t, "fake-gcs-server", bin, nil, func(port int) []string {
		return []string{
			"-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
			"-backend", "filesystem", "-filesystem-root", dir, "-log-level", "warn",
			// Downloads address the server by this name.
			"-public-host", "127.0.0.1:" + strconv.Itoa(port),
		}
	})
	g.Host = g.p.addr()
	g.CreateBucket(t, g.Bucket)
	return g
}

// URL is the destination URL of prefix (may be empty) in Bucket.
func (g *GCS) URL(prefix string) string {
	return (&url.URL{Scheme: "gs", Host: g.Bucket, Path: "/" + prefix}).String()
}

// Env points the Google Cloud clients of a process at the emulator.
func (g *GCS) Env() []string {
	return []string{"STORAGE_EMULATOR_HOST=" + g.Host, "STORAGE_EMULATOR_HOST_GRPC="}
}

// SetEnv sets Env for the rest of the test.
func (g *GCS) SetEnv(t testing.TB) { t.Helper(); setEnv(t, g.Env()) }

// CreateBucket creates another bucket through the JSON API.
func (g *GCS) CreateBucket(t testing.TB, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post("http://"+g.Host+"/storage/v1/b?project=etcd-backup-test", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("creating bucket %s: %s", name, fmt.Sprint(resp.Status, ": ", string(msg)))
	}
}
