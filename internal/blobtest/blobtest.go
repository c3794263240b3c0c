// Package blobtest starts real object storage servers on 127.0.0.1 for
// tests: an S3 server (versitygw), a GCS emulator (fake-gcs-server) and an
// Azure Blob emulator (azurite). ci/install-test-servers.sh installs them
// into the repository's .tools directory. Each Start function registers the
// server's shutdown with t.Cleanup.
//
// A test whose server is not installed is skipped with the reason, except
// under CI=true, where it fails: CI must run every backend.
package blobtest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// startTimeout bounds how long a server may take to answer its first
// request; azurite (Node) is the slowest, at about a second.
const startTimeout = 60 * time.Second

// ToolsDir is where ci/install-test-servers.sh puts the servers: $TOOLS_DIR
// when set (the Makefile sets it), else .tools in the module root.
func ToolsDir() (string, error) {
	if d := os.Getenv("TOOLS_DIR"); d != "" {
		return d, nil
	}
	root, err := testkit.ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("TOOLS_DIR is not set: %w", err)
	}
	return filepath.Join(root, ".tools"), nil
}

// skipper is the part of testing.TB that missing needs.
type skipper interface {
	Helper()
	Fatal(args ...any)
	Skip(args ...any)
}

// tool returns the path of an installed server, or skips the test (fails it
// under CI=true) when it is missing.
func tool(t skipper, rel, what string) string {
	t.Helper()
	dir, err := ToolsDir()
	if err != nil {
		missing(t, what, err.Error())
	}
	p := filepath.Join(dir, rel)
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		missing(t, what, p+" not found")
	}
	return p
}

func missing(t skipper, what, why string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not installed (%s); run ci/install-test-servers.sh", what, why)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " — CI=true requires every object storage backend")
		return
	}
	t.Skip(msg)
}

// proc is a server process on a loopback port.
type proc struct {
	t       testing.TB
	name    string
	bin     string
	args    func(port int) []string
	env     []string
	port    int
	logPath string
	run     *testkit.Process
}

// startProc starts bin with args(port) on a free port and waits until it
// answers HTTP. The port is found by binding and releasing it, so another
// process may take it in between: a server that exits at once is retried on
// a new port.
func startProc(t testing.TB, name, bin string, env []string, args func(port int) []string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, bin: bin, args: args, env: env, logPath: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.logTail())
		}
	})
	var err error
	for range 3 {
		var ports []int
		if ports, err = testkit.FreePorts(1); err != nil {
			t.Fatalf("finding a free port for %s: %v", name, err)
		}
		p.port = ports[0]
		if err = p.start(); err == nil {
			return p
		}
	}
	t.Fatalf("starting %s: %v\n%s", name, err, p.logTail())
	return nil
}

func (p *proc) start() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(p.bin, p.args(p.port)...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	run, err := testkit.Start(cmd)
	if err != nil {
		return err
	}
	p.run = run

	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-run.Exited():
			return fmt.Errorf("%s exited during start-up: %v", p.name, cmd.ProcessState)
		default:
		}
		resp, err := client.Get(p.baseURL())
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("%s did not answer on %s within %s: %v", p.name, p.baseURL(), startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) baseURL() string { return "http://" + p.addr() }
func (p *proc) addr() string    { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// kill stops the server at once, as a crash or a network cut would.
func (p *proc) kill() {
	if p.run != nil {
		p.run.Kill()
	}
}

// stop asks the server to end and kills it if it does not.
func (p *proc) stop() {
	if p.run != nil {
		p.run.Stop(5 * time.Second)
	}
}

// restart starts the server again on the same port with the same data.
func (p *proc) restart() {
	p.t.Helper()
	p.stop()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The old process may hold the port for a moment after it ends.
		if err = p.start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("restarting %s: %v\n%s", p.name, err, p.logTail())
	}
}

func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// setEnv sets "K=V" pairs for the rest of the test.
func setEnv(t testing.TB, env []string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}
