package faults_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// etcdChildEnv carries the configuration of an etcd server process: this
// test binary, re-executed. The server is the real etcd server code
// (go.etcd.io/etcd/server/v3/embed, what the etcd binary runs) in a process
// of its own, so that a test can kill it with SIGKILL in the middle of a
// snapshot stream, and nothing needs installing.
const etcdChildEnv = "FAULTS_ETCD_SERVER"

type etcdChildConfig struct {
	Name       string   `json:"name"`
	Dir        string   `json:"dir"`
	ClientURLs []string `json:"client_urls"` // the first one is advertised
	PeerURL    string   `json:"peer_url"`
	Cert       string   `json:"cert"`
	Key        string   `json:"key"`
	ClientCAs  string   `json:"client_cas"` // bundle of the CAs whose client certificates are accepted
}

// runEtcdChild serves etcd and exits when this process was started as an
// etcd server; it returns at once otherwise.
func runEtcdChild() {
	raw := os.Getenv(etcdChildEnv)
	if raw == "" {
		return
	}
	var c etcdChildConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, "etcd child: bad configuration:", err)
		os.Exit(2)
	}
	if err := serveEtcd(c); err != nil {
		fmt.Fprintln(os.Stderr, "etcd child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveEtcd(c etcdChildConfig) error {
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = c.Name, c.Dir
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{"stderr"}
	var clients []url.URL
	for _, s := range c.ClientURLs {
		u, err := url.Parse(s)
		if err != nil {
			return err
		}
		clients = append(clients, *u)
	}
	peer, err := url.Parse(c.PeerURL)
	if err != nil {
		return err
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = clients, clients[:1]
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo = transport.TLSInfo{CertFile: c.Cert, KeyFile: c.Key, TrustedCAFile: c.ClientCAs, ClientCertAuth: true}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fmt.Errorf("etcd failed while starting: %w", err)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("etcd not ready after 30s")
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
		return nil
	case err := <-e.Err():
		return err
	}
}

// etcdProc is a running etcd server process.
type etcdProc struct {
	Endpoint string // https://127.0.0.1:port
	Plain    string // http://127.0.0.1:port without TLS, "" when not asked for
	certs    etcdtest.Certs
	run      *testkit.Process
	stderr   *lockedBuffer
}

// serverTLS is what an etcd server presents and accepts.
type serverTLS struct {
	Certs     etcdtest.Certs // server certificate and key; the CA clients trust
	ClientCAs string         // CAs whose client certificates the server accepts
}

// startEtcd starts an etcd server process with its data under dir, on free
// ports of 127.0.0.1, and stops it in t.Cleanup.
func startEtcd(t testing.TB, name, dir string, tlsCfg serverTLS, plain bool) *etcdProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 3 { // a free port can be taken between finding and binding it
		ports, err := testkit.FreePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		c := etcdChildConfig{
			Name: name, Dir: dir,
			ClientURLs: []string{fmt.Sprintf("https://127.0.0.1:%d", ports[0])},
			PeerURL:    fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
			Cert:       tlsCfg.Certs.ServerCert, Key: tlsCfg.Certs.ServerKey, ClientCAs: tlsCfg.ClientCAs,
		}
		p := &etcdProc{Endpoint: c.ClientURLs[0], certs: tlsCfg.Certs, stderr: &lockedBuffer{}}
		if plain {
			p.Plain = fmt.Sprintf("http://127.0.0.1:%d", ports[2])
			c.ClientURLs = append(c.ClientURLs, p.Plain)
		}
		raw, _ := json.Marshal(c)
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), etcdChildEnv+"="+string(raw))
		cmd.Stderr = p.stderr
		ready := &readyWriter{ready: make(chan struct{})}
		cmd.Stdout = ready
		if p.run, err = testkit.Start(cmd); err != nil {
			t.Fatalf("starting etcd %s: %v", name, err)
		}
		select {
		case <-ready.ready:
			t.Cleanup(p.Stop)
			return p
		case <-p.run.Exited():
			lastErr = fmt.Errorf("etcd %s exited during start-up: %s", name, p.stderr.String())
		case <-time.After(60 * time.Second):
			p.Kill()
			lastErr = fmt.Errorf("etcd %s not ready after 60s: %s", name, p.stderr.String())
		}
	}
	t.Fatal(lastErr)
	return nil
}

// Kill ends the server at once (SIGKILL), as an OOM kill or a node crash.
func (p *etcdProc) Kill() { p.run.Kill() }

// Stop asks the server to end and kills it if it does not.
func (p *etcdProc) Stop() { p.run.Stop(10 * time.Second) }

// HostPort is the TLS endpoint's host:port.
func (p *etcdProc) HostPort() string { return strings.TrimPrefix(p.Endpoint, "https://") }

// PlainHostPort is the plaintext endpoint's host:port.
func (p *etcdProc) PlainHostPort() string { return strings.TrimPrefix(p.Plain, "http://") }

// server is the etcdtest view of the process, for its client and Seed.
func (p *etcdProc) server() *etcdtest.Server {
	return &etcdtest.Server{Certs: p.certs, Endpoint: p.Endpoint}
}

// keyDigest is every key of a keyspace with the sha256 of its value.
type keyDigest map[string][32]byte

// digest reads the whole keyspace.
func digest(ctx context.Context, cli *clientv3.Client) (keyDigest, int64, error) {
	resp, err := cli.Get(ctx, "\x00", clientv3.WithFromKey())
	if err != nil {
		return nil, 0, err
	}
	d := keyDigest{}
	for _, kv := range resp.Kvs {
		d[string(kv.Key)] = sha256.Sum256(kv.Value)
	}
	return d, resp.Header.Revision, nil
}

// diff describes how got differs from want, "" when equal.
func (want keyDigest) diff(got keyDigest) string {
	var missing, changed, extra []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case g != v:
			changed = append(changed, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(changed)+len(extra) == 0 {
		return ""
	}
	first := func(s []string) []string { return s[:min(len(s), 3)] }
	return fmt.Sprintf("%d keys missing %q, %d changed %q, %d extra %q (of %d)",
		len(missing), first(missing), len(changed), first(changed), len(extra), first(extra), len(want))
}

// readyWriter takes the server's output and closes ready at the line
// "ready".
type readyWriter struct {
	line  []byte
	ready chan struct{}
	seen  bool
}

func (w *readyWriter) Write(b []byte) (int, error) {
	for _, c := range b {
		if c != '\n' {
			w.line = append(w.line, c)
			continue
		}
		if string(w.line) == "ready" && !w.seen {
			w.seen = true
			close(w.ready)
		}
		w.line = w.line[:0]
	}
	return len(b), nil
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
