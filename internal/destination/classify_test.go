package destination

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/faults"
	"github.com/etcd-backup/etcd-backup/internal/retry"
)

// backendUnderFault is a real storage server and how to address it through
// another host:port (a proxy in front of it, or nothing at all).
type backendUnderFault struct {
	name string
	// patience is how long a faulty operation may take: the SDKs retry on
	// their own first, the Google one until the context ends.
	patience time.Duration
	target   string                                // the server's host:port
	spec     func(t *testing.T, via string) string // destination URL through host:port via
}

func faultBackends() []struct {
	name  string
	start func(t *testing.T) backendUnderFault
} {
	return []struct {
		name  string
		start func(t *testing.T) backendUnderFault
	}{
		{"s3", func(t *testing.T) backendUnderFault {
			s := blobtest.StartS3(t)
			s.SetEnv(t)
			return backendUnderFault{"s3", 20 * time.Second, strings.TrimPrefix(s.Endpoint, "http://"), func(t *testing.T, via string) string {
				q := url.Values{"endpoint": {"http://" + via}, "region": {s.Region}, "use_path_style": {"true"}}
				return (&url.URL{Scheme: "s3", Host: s.Bucket, Path: "/etcd", RawQuery: q.Encode()}).String()
			}}
		}},
		{"gcs", func(t *testing.T) backendUnderFault {
			g := blobtest.StartGCS(t)
			return backendUnderFault{"gcs", 4 * time.Second, g.Host, func(t *testing.T, via string) string {
				t.Setenv("STORAGE_EMULATOR_HOST", via)
				t.Setenv("STORAGE_EMULATOR_HOST_GRPC", "")
				return g.URL("etcd")
			}}
		}},
		{"azure", func(t *testing.T) backendUnderFault {
			a := blobtest.StartAzure(t)
			a.SetEnv(t)
			return backendUnderFault{"azure", 20 * time.Second, a.Host, func(t *testing.T, via string) string {
				q := url.Values{"protocol": {"http"}, "domain": {via}}
				return (&url.URL{Scheme: "azblob", Host: a.Container, Path: "/etcd", RawQuery: q.Encode()}).String()
			}}
		}},
	}
}

// TestRetryClassifiesRealSDKErrors hands retry.Transient the errors each
// storage SDK really returns, through Bucket as a run uses it: a stopped
// server (refused), a reset connection, a server that never answers, 5xx,
// 429, 403 and a missing object. The servers are real; a loopback proxy in
// front of them injects the fault.
func TestRetryClassifiesRealSDKErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "snap.db")
	if err := os.WriteFile(file, []byte("not much of a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	type fault struct {
		name      string
		via       func(t *testing.T, target string) string // host:port the SDK talks to
		transient bool
	}
	tcpProxy := func(o faults.Options) func(t *testing.T, target string) string {
		return func(t *testing.T, target string) string {
			o.Target = target
			p, err := faults.Start(o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			return p.Addr()
		}
	}
	httpProxy := func(status int) func(t *testing.T, target string) string {
		return func(t *testing.T, target string) string {
			p, err := faults.StartHTTP("http://"+target, faults.HTTPFaults{Status: status, First: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			return strings.TrimPrefix(p.URL(), "http://")
		}
	}
	faultCases := []fault{
		{"refused", func(t *testing.T, target string) string {
			// A proxy that has stopped: its port refuses connections.
			p, err := faults.Start(faults.Options{Target: target})
			if err != nil {
				t.Fatal(err)
			}
			addr := p.Addr()
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			return addr
		}, true},
		{"reset", tcpProxy(faults.Options{Up: faults.Rule{Fault: faults.Reset}}), true},
		{"5xx", httpProxy(503), true},
		{"429", httpProxy(429), true},
		{"403", httpProxy(403), false},
	}
	for _, be := range faultBackends() {
		t.Run(be.name, func(t *testing.T) {
			b := be.start(t)
			for _, fc := range faultCases {
				t.Run(fc.name, func(t *testing.T) {
					bucket := openVia(t, b.spec(t, fc.via(t, b.target)))
					ctx, cancel := context.WithTimeout(context.Background(), b.patience)
					defer cancel()
					_, err := bucket.Upload(ctx, "etcd-snapshot-20261130T000000Z.db", file, Metadata{})
					if err == nil {
						t.Fatal("upload succeeded through the fault")
					}
					if got := retry.Transient(err); got != fc.transient {
						t.Errorf("Transient = %v, want %v for %T: %v", got, fc.transient, err, err)
					}
				})
			}
			t.Run("timeout", func(t *testing.T) {
				// The server takes the request and never answers: the
				// caller's deadline ends it, and that is not retried.
				bucket := openVia(t, b.spec(t, tcpProxy(faults.Options{Down: faults.Rule{Fault: faults.Stall}})(t, b.target)))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_, err := bucket.Upload(ctx, "etcd-snapshot-20261130T000000Z.db", file, Metadata{})
				if err == nil {
					t.Fatal("upload succeeded through a stalled connection")
				}
				if retry.Transient(err) {
					t.Errorf("Transient = true after the caller's deadline: %v", err)
				}
			})
			t.Run("not found", func(t *testing.T) {
				bucket := openVia(t, b.spec(t, b.target))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err := bucket.Delete(ctx, "etcd-snapshot-20000101T000000Z.db")
				if !errors.Is(err, fs.ErrNotExist) || retry.Transient(err) {
					t.Errorf("deleting a missing object: not-exist %v, transient %v: %v", errors.Is(err, fs.ErrNotExist), retry.Transient(err), err)
				}
			})
		})
	}
}

func openVia(t *testing.T, spec string) *Bucket {
	t.Helper()
	b, err := openBucket(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
