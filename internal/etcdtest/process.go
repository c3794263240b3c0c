package etcdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// Binary is the real etcd server of one minor ("3.4" ... "3.7") that
// ci/install-etcd-servers.sh installs as <tools>/bin/etcd-<minor>. A missing
// one skips the test, and fails it under CI=true.
func Binary(t testing.TB, minor string) string {
	t.Helper()
	return Tool(t, "etcd-"+minor)
}

// Tool is a program that ci/install-etcd-servers.sh installs into
// <tools>/bin (etcd-3.6, etcdctl-3.6, ...). A missing one skips the test,
// and fails it under CI=true.
func Tool(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("TOOLS_DIR")
	if dir == "" {
		root, err := testkit.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".tools")
	}
	p := filepath.Join(dir, "bin", name)
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("%s is not installed (%v); run ci/install-etcd-servers.sh", name, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " — CI=true requires every etcd version and etcdctl")
		}
		t.Skip(msg)
	}
	return p
}

// Process is an etcd server process on 127.0.0.1 with TLS and client
// certificate authentication on its client URL, plain HTTP between peers.
type Process struct {
	Name      string
	DataDir   string
	ClientURL string
	PeerURL   string
	Certs     Certs
	Log       string

	proc *testkit.Process
}

// Ports are a member's client and peer ports.
type Ports struct{ Client, Peer int }

// FreePorts finds n pairs of free ports on 127.0.0.1. They are released
// before etcd binds them, so another process may take one: callers retry
// the whole start on ErrAddressInUse.
func FreePorts(n int) ([]Ports, error) {
	ports, err := testkit.FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	out := make([]Ports, n)
	for i := range out {
		out[i] = Ports{Client: ports[2*i], Peer: ports[2*i+1]}
	}
	return out, nil
}

// ErrAddressInUse means a port was taken between FreePorts and etcd's bind.
var ErrAddressInUse = errors.New("address already in use")

// StartProcess runs bin as a member named name on ports with data in
// dataDir and extra flags (--initial-cluster and the like), and waits until
// its client URL answers. The process is stopped when the test ends.
func StartProcess(t testing.TB, bin, name, dataDir string, ports Ports, certs Certs, extra ...string) (*Process, error) {
	t.Helper()
	p := &Process{
		Name: name, DataDir: dataDir, Certs: certs,
		ClientURL: fmt.Sprintf("https://127.0.0.1:%d", ports.Client),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports.Peer),
		Log:       filepath.Join(t.TempDir(), name+".log"),
	}
	args := append([]string{
		"--name", name, "--data-dir", dataDir,
		"--listen-client-urls", p.ClientURL, "--advertise-client-urls", p.ClientURL,
		"--listen-peer-urls", p.PeerURL, "--initial-advertise-peer-urls", p.PeerURL,
		"--cert-file", certs.ServerCert, "--key-file", certs.ServerKey, "--trusted-ca-file", certs.CA, "--client-cert-auth",
	}, extra...)
	return p, p.start(t, bin, args)
}

// StartArgs runs bin with exactly args (for a member whose flags come from
// elsewhere, such as a static pod manifest); clientURL is where it answers.
func StartArgs(t testing.TB, bin, name, clientURL string, certs Certs, args []string) (*Process, error) {
	t.Helper()
	p := &Process{Name: name, ClientURL: clientURL, Certs: certs, Log: filepath.Join(t.TempDir(), name+".log")}
	return p, p.start(t, bin, args)
}

func (p *Process) start(t testing.TB, bin string, args []string) error {
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if p.proc, err = testkit.Start(cmd); err != nil {
		return err
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", p.Name, p.LogTail())
		}
	})
	return p.waitListening()
}

// waitListening waits until the client port accepts TLS connections (a
// member of a cluster still forming answers no request yet).
func (p *Process) waitListening() error {
	addr := strings.TrimPrefix(p.ClientURL, "https://")
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.proc.Exited():
			if strings.Contains(p.LogTail(), "address already in use") {
				return fmt.Errorf("%s: %w", p.Name, ErrAddressInUse)
			}
			return fmt.Errorf("%s exited during start-up:\n%s", p.Name, p.LogTail())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s after 60s", p.Name, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client connects to this member only, with the client certificate.
func (p *Process) Client() (*clientv3.Client, error) {
	tlsCfg, err := transport.TLSInfo{CertFile: p.Certs.ClientCert, KeyFile: p.Certs.ClientKey, TrustedCAFile: p.Certs.CA}.ClientConfig()
	if err != nil {
		return nil, err
	}
	return clientv3.New(clientv3.Config{Endpoints: []string{p.ClientURL}, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// WaitHealthy waits until the member serves a linearizable read.
func (p *Process) WaitHealthy(ctx context.Context) error {
	c, err := p.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Get(rctx, "health")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy: %w (last error: %v)", p.Name, ctx.Err(), err)
		case <-p.proc.Exited():
			return fmt.Errorf("%s exited:\n%s", p.Name, p.LogTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop ends the process (SIGTERM, then SIGKILL after 10s).
func (p *Process) Stop() {
	if p.proc != nil {
		p.proc.Stop(10 * time.Second)
	}
}

// LogTail is the end of the process's output.
func (p *Process) LogTail() string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
