package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/faults"
)

// source is an etcd server and the keys it holds (it does not change after
// seeding), for comparing restored snapshots with.
type source struct {
	etcd               *etcdProc
	keys               keyDigest
	username, password string // for reading a restored copy when etcd authentication is on
}

// suite is what every case shares: certificates, the etcd servers, a small
// real snapshot for pre-existing files and the S3 server.
type suite struct {
	dir                    string
	certs                  etcdtest.Certs // the CA, the server's and the job's certificates
	expired, future, other etcdtest.Certs
	tls                    serverTLS
	src                    *source // about 12 MB of keys, TLS and plaintext listeners
	auth                   *source // etcd authentication on: root/rootpw, viewer/viewerpw (no role)
	fixture                []byte  // a small real snapshot: the pre-existing snapshots are copies
	s3                     *blobtest.S3
	s3Missing              string

	mu   sync.Mutex
	rows []row
}

const (
	rootPassword   = "rootpw"
	viewerPassword = "viewerpw"
)

func newSuite(t *testing.T) *suite {
	t.Helper()
	start := time.Now()
	s := &suite{dir: t.TempDir()}
	var err error
	if s.certs, err = etcdtest.GenerateCerts(filepath.Join(s.dir, "pki")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if s.expired, err = etcdtest.GenerateCertsWith(filepath.Join(s.dir, "pki-expired"),
		etcdtest.CertOptions{ClientNotBefore: now.Add(-48 * time.Hour), ClientNotAfter: now.Add(-24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if s.future, err = etcdtest.GenerateCertsWith(filepath.Join(s.dir, "pki-future"),
		etcdtest.CertOptions{ClientNotBefore: now.Add(24 * time.Hour), ClientNotAfter: now.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if s.other, err = etcdtest.GenerateCerts(filepath.Join(s.dir, "pki-other")); err != nil {
		t.Fatal(err)
	}
	// The servers accept client certificates of the expired and not yet
	// valid sets too, so that the validity dates are what they reject.
	var bundle []byte
	for _, ca := range []string{s.certs.CA, s.expired.CA, s.future.CA} {
		b, err := os.ReadFile(ca)
		if err != nil {
			t.Fatal(err)
		}
		bundle = append(bundle, b...)
	}
	s.tls = serverTLS{Certs: s.certs, ClientCAs: filepath.Join(s.dir, "client-cas.crt")}
	if err := os.WriteFile(s.tls.ClientCAs, bundle, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srcProc := startEtcd(t, "source", filepath.Join(s.dir, "source"), s.tls, true)
	authProc := startEtcd(t, "auth", filepath.Join(s.dir, "auth"), s.tls, false)
	var wg sync.WaitGroup
	wg.Add(2)
	var srcErr, authErr error
	go func() { defer wg.Done(); s.src, srcErr = s.seedSource(ctx, srcProc) }()
	go func() { defer wg.Done(); s.auth, authErr = s.seedAuth(ctx, authProc) }()
	if dir, err := blobtest.ToolsDir(); err != nil {
		s.s3Missing = err.Error()
	} else if _, err := os.Stat(filepath.Join(dir, "bin", "versitygw")); err != nil {
		s.s3Missing = fmt.Sprintf("the S3 server versitygw is not installed (%v); run ci/install-test-servers.sh", err)
	} else {
		s.s3 = blobtest.StartS3(t)
	}
	wg.Wait()
	if srcErr != nil || authErr != nil {
		t.Fatalf("starting the etcd servers: %v; %v", srcErr, authErr)
	}
	t.Logf("suite ready in %s: source etcd %s, fixture snapshot %d bytes", time.Since(start).Round(time.Millisecond), s.src.etcd.Endpoint, len(s.fixture))
	return s
}

// startSource starts the etcd most cases back up: 11,000 keys of 1 KiB (a
// database of about 12 MB: a stream that takes a moment and an upload in
// two multipart parts), 100 of them deleted and 100 overwritten.
func (s *suite) seedSource(ctx context.Context, p *etcdProc) (*source, error) {
	if err := p.server().Seed(ctx, "/registry/secrets/", 11000, 1024); err != nil {
		return nil, err
	}
	cli, err := p.server().Client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	for i := 0; i < 100; i++ {
		if _, err := cli.Delete(ctx, fmt.Sprintf("/registry/secrets/%08d", i)); err != nil {
			return nil, err
		}
		if _, err := cli.Put(ctx, fmt.Sprintf("/registry/secrets/%08d", 100+i), fmt.Sprintf("overwritten %d", i)); err != nil {
			return nil, err
		}
	}
	keys, _, err := digest(ctx, cli)
	if err != nil {
		return nil, err
	}
	return &source{etcd: p, keys: keys}, nil
}

// startAuth starts a small etcd, saves its snapshot as the fixture, and
// turns etcd authentication on.
func (s *suite) seedAuth(ctx context.Context, p *etcdProc) (*source, error) {
	if err := p.server().Seed(ctx, "/registry/configmaps/", 50, 100); err != nil {
		return nil, err
	}
	cli, err := p.server().Client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	keys, _, err := digest(ctx, cli)
	if err != nil {
		return nil, err
	}
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = io.Copy(&b, rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	s.fixture = b.Bytes()
	steps := []func() error{
		func() error { _, err := cli.RoleAdd(ctx, "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", rootPassword); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "viewer", viewerPassword); return err },
		func() error { _, err := cli.RoleAdd(ctx, "reader"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "reader", "/", "0", clientv3.PermissionType(authpb.READ))
			return err
		},
		func() error { _, err := cli.UserGrantRole(ctx, "viewer", "reader"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return nil, fmt.Errorf("setting up etcd authentication: %w", err)
		}
	}
	return &source{etcd: p, keys: keys, username: "root", password: rootPassword}, nil
}

func (s *suite) needS3(t *testing.T) {
	t.Helper()
	if s.s3 != nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(s.s3Missing + " — CI=true requires it")
	}
	t.Skip(s.s3Missing)
}

// row is one line of the report table.
type row struct {
	fault, exit, summary string
	held                 bool
}

func (s *suite) record(t *testing.T, name string, runs []*jobResult) {
	var exits, sums []string
	for _, r := range runs {
		exits = append(exits, fmt.Sprint(r.Exit))
		sums = append(sums, describe(r))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, row{fault: name, exit: strings.Join(exits, ", "),
		summary: strings.Join(sums, " / "), held: !t.Failed()})
}

// describe says in a few words what a summary says.
func describe(r *jobResult) string {
	if r.SummaryErr != nil {
		return "no summary: " + r.SummaryErr.Error()
	}
	s := r.Summary
	out := s.Status
	if s.FailedStep != "" {
		out += " at " + s.FailedStep
	}
	var ds []string
	for _, d := range s.Destinations {
		x := d.Status
		if d.FailedStep != "" {
			x += " at " + d.FailedStep
		}
		if len(d.Pruned) > 0 {
			x += fmt.Sprintf(", pruned %d", len(d.Pruned))
		}
		if d.Error != "" {
			x += ": " + clip(d.Error, 110)
		}
		ds = append(ds, shortDest(d.Destination)+" "+x)
	}
	out += " [" + strings.Join(ds, "; ") + "]"
	if e := s.Error; e != "" {
		// The list of failed destinations repeats what is above.
		if i := strings.Index(e, "destinations failed"); i >= 0 {
			e = e[:i+len("destinations failed")]
		}
		out += ": " + clip(e, 150)
	}
	return out
}

// clip keeps the end of an error, where the cause is.
func clip(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func shortDest(d string) string {
	if i := strings.Index(d, "?"); i > 0 {
		d = d[:i]
	}
	if strings.HasPrefix(d, "/") {
		return filepath.Base(d)
	}
	return d
}

func (s *suite) report(t *testing.T) {
	var b strings.Builder
	b.WriteString("| fault | exit | summary | invariants held |\n|---|---|---|---|\n")
	for _, r := range s.rows {
		held := "yes"
		if !r.held {
			held = "NO"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.fault, r.exit, strings.ReplaceAll(r.summary, "|", "\\|"), held)
	}
	t.Log("\n" + b.String())
	if p := os.Getenv("FAULTS_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// faultCase is one named fault: it builds a scenario, injects the fault and
// runs the job; checkInvariants then runs on what it returns.
type faultCase struct {
	name string
	run  func(t *testing.T, s *suite) (*scenario, []*jobResult)
}

// TestFaults drives the backup job through every fault and checks the
// invariants after each.
func TestFaults(t *testing.T) {
	s := newSuite(t)
	start := time.Now()
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			cs := time.Now()
			sc, runs := c.run(t, s)
			if sc == nil || len(runs) == 0 {
				t.Fatal("the case ran nothing")
			}
			checkInvariants(t, sc, runs...)
			s.record(t, c.name, runs)
			t.Logf("case took %s", time.Since(cs).Round(time.Millisecond))
		})
	}
	t.Logf("all cases in %s", time.Since(start).Round(time.Millisecond))
	s.report(t)
	t.Run("the invariant checker catches violations", func(t *testing.T) { checkerCatches(t, s) })
}

// hostDir is a scenario with one local directory holding two snapshots past
// retention and two within it.
func hostDir(t *testing.T, s *suite, src *source) (*scenario, *dest) {
	t.Helper()
	sc := newScenario(t, s, src)
	d := sc.addDir(t, "host")
	sc.seedDefault(t, d)
	return sc, d
}

func startProxy(t *testing.T, o faults.Options) *faults.Proxy {
	t.Helper()
	p, err := faults.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("closing the proxy: %v", err)
		}
	})
	return p
}

func startHTTPProxy(t *testing.T, target string, f faults.HTTPFaults) *faults.HTTPProxy {
	t.Helper()
	p, err := faults.StartHTTP(target, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("closing the HTTP proxy: %v", err)
		}
	})
	return p
}

// runOnce runs the job against src through a proxy that counts
// connections, and requires a permanent failure to end after one attempt.
func runOnce(t *testing.T, sc *scenario, src *source, w *want) *jobResult {
	t.Helper()
	p := startProxy(t, faults.Options{Target: src.etcd.HostPort()})
	sc.endpoints("https://" + p.Addr())
	r := sc.run(t, w)
	// One attempt is at most 3 connections: gRPC redials a failed TLS
	// handshake once within the 2s dial timeout (its first backoff is about
	// 1s), then the job probes one handshake to read the server's alert.
	// A second attempt would add at least 2 more.
	if n := p.Accepted(); n > 3 {
		t.Errorf("a permanent failure was retried: %d connections to etcd", n)
	}
	t.Logf("%d connections to etcd", p.Accepted())
	return r
}

// waitHeld waits until the proxy holds a connection.
func waitHeld(t *testing.T, p *faults.Proxy, what string) {
	t.Helper()
	select {
	case <-p.Held():
	case <-time.After(60 * time.Second):
		t.Fatalf("the proxy held no connection within 60s (%s)", what)
	}
}

// partials lists the temporary files in dir.
func partials(dir string) []string {
	// Glob's only error is a malformed pattern, and this one is fixed.
	m, _ := filepath.Glob(filepath.Join(dir, ".*.partial-*"))
	return m
}

const mib = 1 << 20
