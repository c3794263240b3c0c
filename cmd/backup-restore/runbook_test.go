package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
)

// runbookCommand is one shell command of docs/restore.md.
type runbookCommand struct {
	section string // "4" for "## 4. ..."
	line    string // continuation lines joined, comments dropped
	program string
}

// notRun are the programs of the runbook that this test cannot run, and
// why. Every other program's commands are run below.
var notRun = map[string]string{
	"ctr":       "needs containerd; ci/image.sh test runs restore inside the image",
	"docker":    "needs a container engine; ci/image.sh test runs restore inside the image",
	"cp":        "copies the binaries off a mounted image",
	"crictl":    "needs a kubelet; here the test stops and starts etcd itself",
	"kubectl":   "needs the API server of a whole cluster",
	"systemctl": "needs systemd",
	"chown":     "needs the etcd user",
	"":          "only sets a shell variable for the commands after it",
	"age":       "the age command-line tool is not on the node; internal/seal and fetch test the same format",
	"tar":       "extracts into the node's /; internal/bundle tests the archive's round trip",
}

var sectionRE = regexp.MustCompile(`^## ([0-9]+)\. `)

func runbookCommands(t *testing.T) []runbookCommand {
	t.Helper()
	f, err := os.Open("../../docs/restore.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out      []runbookCommand
		section  string
		inBlock  bool
		pending  string
		sc       = bufio.NewScanner(f)
		assignRE = regexp.MustCompile(`^[A-Z_0-9]+=\S*$`)
	)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			section = m[1]
		}
		if strings.HasPrefix(trimmed, "```") {
			inBlock = trimmed == "```sh"
			continue
		}
		if !inBlock || trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if i := strings.Index(trimmed, "  # "); i >= 0 {
			trimmed = strings.TrimSpace(trimmed[:i])
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			pending += cont
			continue
		}
		full := pending + trimmed
		pending = ""
		words := strings.Fields(full)
		prog := ""
		for _, w := range words {
			if !assignRE.MatchString(w) {
				prog = w
				break
			}
		}
		out = append(out, runbookCommand{section: section, line: full, program: prog})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// runbook runs runbook commands with the node's paths and addresses
// rewritten to a test's own.
type runbook struct {
	t    *testing.T
	cmds []runbookCommand
	path string // PATH with backup-job, backup-restore and etcdctl first
	ran  map[int]bool
}

func (r *runbook) section(s string) []int {
	var out []int
	for i, c := range r.cmds {
		if c.section == s {
			if _, skip := notRun[c.program]; !skip {
				out = append(out, i)
			}
		}
	}
	return out
}

// run runs command i with rewrites (pairs of old, new) and returns its
// output; a failure fails the test.
func (r *runbook) run(i int, rewrites ...string) string {
	r.t.Helper()
	line := strings.NewReplacer(rewrites...).Replace(r.cmds[i].line)
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = append(os.Environ(), "PATH="+r.path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("runbook command (section %s) %q failed: %v\n%s", r.cmds[i].section, line, err, out)
	}
	r.ran[i] = true
	return string(out)
}

func (r *runbook) find(section, prefix string) int {
	r.t.Helper()
	for _, i := range r.section(section) {
		if strings.HasPrefix(r.cmds[i].line, prefix) {
			return i
		}
	}
	r.t.Fatalf("section %s of the runbook has no command starting %q", section, prefix)
	return -1
}

// nodeRewrites maps a node's paths into root (and kubeadm's default
// manifest path, which --kubeadm does not spell out).
func nodeRewrites(root string) []string {
	return []string{
		"--kubeadm", "--kubeadm --kubeadm-manifest " + root + "/etc/kubernetes/manifests/etcd.yaml",
		"/etc/kubernetes", root + "/etc/kubernetes",
		"/var/lib/etcd", root + "/var/lib/etcd",
		"/data/etcd-backup", root + "/data/etcd-backup",
		"/root/", root + "/root/",
	}
}

// TestRunbook runs the commands of docs/restore.md: finding and fetching a
// snapshot from a directory and S3, the single and three control-plane
// kubeadm restores (etcd started from the edited manifests), the external
// etcd restore, and the checks with etcdctl. Commands that need a kubelet,
// an API server, containerd or systemd are listed in notRun.
func TestRunbook(t *testing.T) {
	_, _ = binaries(t)
	etcd36, etcd35 := etcdtest.Binary(t, "3.6"), etcdtest.Binary(t, "3.5")
	tools := t.TempDir()
	if err := os.Symlink(etcdtest.Tool(t, "etcdctl-3.6"), filepath.Join(tools, "etcdctl")); err != nil {
		t.Fatal(err)
	}
	r := &runbook{t: t, cmds: runbookCommands(t), path: binDir + ":" + tools + ":" + os.Getenv("PATH"), ran: map[int]bool{}}
	for _, c := range r.cmds {
		if _, skip := notRun[c.program]; !skip && !map[string]bool{"backup-job": true, "backup-restore": true, "mkdir": true, "mv": true, "sed": true, "etcdctl": true, "grep": true}[c.program] {
			t.Fatalf("the runbook runs %q (%q), which this test neither runs nor lists in notRun", c.program, c.line)
		}
	}
	const name = "etcd-snapshot-20261123T170000Z.db"
	snap := embeddedSnapshot(t)

	t.Run("2 find and fetch", func(t *testing.T) { r.t = t; runbookFetch(r, snap, name) })
	t.Run("4 single control plane", func(t *testing.T) { r.t = t; runbookKubeadm(r, etcd36, snap, name, 1) })
	t.Run("5 three control planes and 7 checks", func(t *testing.T) { r.t = t; runbookKubeadm(r, etcd36, snap, name, 3) })
	t.Run("6 external etcd", func(t *testing.T) { r.t = t; runbookExternal(r, etcd35, name) })
	t.Run("9 encrypted snapshots", func(t *testing.T) { r.t = t; runbookSealed(r, snap) })
	r.t = t
	for i, c := range r.cmds {
		if _, skip := notRun[c.program]; !skip && !r.ran[i] && !t.Failed() {
			t.Errorf("runbook command of section %s was not run: %q", c.section, c.line)
		}
	}
}

func runbookFetch(r *runbook, snap, name string) {
	t := r.t
	root := t.TempDir()
	s3srv := blobtest.StartS3(t)
	body, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "data/etcd-backup"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "data/etcd-backup", name), body, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	putObject(t, s3srv, "etcd/"+name, body, map[string]string{"sha256": hex.EncodeToString(sum[:])})
	for _, kv := range s3srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	rw := append(nodeRewrites(root), "s3://my-bucket/etcd?region=eu-west-1", s3srv.URL("etcd"))
	for _, i := range r.section("2") {
		out := r.run(i, rw...)
		if !strings.Contains(out, name) {
			t.Fatalf("%q printed no %s:\n%s", r.cmds[i].line, name, out)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "root/restore", name)); err != nil {
		t.Fatalf("the fetch of the runbook left no file: %v", err)
	}
}

// runbookKubeadm restores n kubeadm control-plane nodes with the runbook's
// commands (section 4 for one, section 5 for three), starts etcd from each
// edited manifest and, for three, runs the etcdctl checks of section 7.
func runbookKubeadm(r *runbook, bin, snap, name string, n int) {
	t := r.t
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for attempt := 0; ; attempt++ {
		ports, err := etcdtest.FreePorts(2 * n)
		if err != nil {
			t.Fatal(err)
		}
		var peerRewrites []string
		for i := range n {
			peerRewrites = append(peerRewrites, fmt.Sprintf("https://10.0.0.1%d:2380", i+1), fmt.Sprintf("https://127.0.0.1:%d", ports[i].Peer))
		}
		shared, err := etcdtest.GenerateCerts(filepath.Join(t.TempDir(), "pki"))
		if err != nil {
			t.Fatal(err)
		}
		var members []*etcdtest.Process
		for i := range n {
			root := t.TempDir()
			certs := kubeadmNode(t, root, fmt.Sprintf("cp-%d", i+1), ports[i], ports[n+i].Client, snap, name, shared)
			rw := append(nodeRewrites(root), peerRewrites...)
			if n == 1 {
				r.run(r.find("4", "backup-restore restore"), rw...)
			} else {
				out := r.run(r.find("5", "grep"), rw...)
				if !strings.Contains(out, fmt.Sprintf("--name=cp-%d", i+1)) {
					t.Fatalf("the runbook's grep printed %q", out)
				}
				r.run(r.find("5", "backup-restore restore"), rw...)
			}
			for _, j := range r.section("4")[1:] { // the printed steps
				r.run(j, rw...)
			}
			m, err := startFromManifest(t, bin, filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml"), fmt.Sprintf("cp-%d", i+1), certs)
			if err != nil {
				for _, m := range members {
					m.Stop()
				}
				if strings.Contains(err.Error(), etcdtest.ErrAddressInUse.Error()) && attempt < 2 {
					members = nil
					break
				}
				t.Fatal(err)
			}
			members = append(members, m)
		}
		if len(members) < n {
			continue
		}
		for _, m := range members {
			if err := m.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n > 1 {
			runbookChecks(r, members, peerRewrites)
		}
		return
	}
}

// kubeadmNode lays out a kubeadm control-plane node under root: the etcd
// manifest, the certificates where kubeadm keeps them, an old data
// directory, and the snapshot in the backup directory and /root. The
// certificates are shared's, as the nodes of one cluster share a CA.
func kubeadmNode(t *testing.T, root, name string, p etcdtest.Ports, metrics int, snap, snapName string, shared etcdtest.Certs) etcdtest.Certs {
	t.Helper()
	pki := filepath.Join(root, "etc/kubernetes/pki/etcd")
	certs := etcdtest.Certs{Dir: pki, CA: filepath.Join(pki, "ca.crt"), ServerCert: filepath.Join(pki, "server.crt"), ServerKey: filepath.Join(pki, "server.key"),
		ClientCert: filepath.Join(pki, "client.crt"), ClientKey: filepath.Join(pki, "client.key")}
	if err := os.MkdirAll(pki, 0o700); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{shared.CA: certs.CA, shared.ServerCert: certs.ServerCert, shared.ServerKey: certs.ServerKey, shared.ClientCert: certs.ClientCert, shared.ClientKey: certs.ClientKey} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	body, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc/kubernetes/manifests", "var/lib/etcd/member", "data/etcd-backup", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/kubernetes/manifests/etcd.yaml":           kubeadmManifest(root, name, certs, p, metrics),
		"etc/kubernetes/manifests/kube-apiserver.yaml": "kind: Pod\n",
		"data/etcd-backup/" + snapName:                 string(body),
		"root/" + snapName:                             string(body),
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(root, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certs
}

// runbookChecks runs the etcdctl checks of section 7 against the first
// member, with its client URL and certificates.
func runbookChecks(r *runbook, members []*etcdtest.Process, peerRewrites []string) {
	t := r.t
	first := members[0]
	root := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(first.Certs.Dir))))
	rw := append(nodeRewrites(root), "https://127.0.0.1:2379", first.ClientURL)
	for _, i := range r.section("7") {
		out := r.run(i, rw...)
		switch {
		case strings.Contains(r.cmds[i].line, "member list"):
			for j := 1; j < len(peerRewrites); j += 2 {
				if !strings.Contains(out, peerRewrites[j]) {
					t.Errorf("member list lacks %s:\n%s", peerRewrites[j], out)
				}
			}
			if strings.Contains(out, "localhost") {
				t.Errorf("member list shows localhost:\n%s", out)
			}
		case strings.Contains(r.cmds[i].line, "endpoint health"):
			if strings.Count(out, "is healthy") != len(members) {
				t.Errorf("endpoint health --cluster:\n%s", out)
			}
		}
	}
}

// runbookExternal restores three external members with section 6's
// command from a snapshot of etcd 3.5 and starts them with etcd 3.5.
func runbookExternal(r *runbook, bin, name string) {
	t := r.t
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	snap := snapshotOf(t, bin)
	certs, err := etcdtest.GenerateCerts(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	idx := r.find("6", "backup-restore restore")
	for attempt := 0; ; attempt++ {
		ports, err := etcdtest.FreePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		var peers []string
		for i, p := range ports {
			peers = append(peers, fmt.Sprintf("https://10.0.0.2%d:2380", i+1), fmt.Sprintf("http://127.0.0.1:%d", p.Peer))
		}
		var members []*etcdtest.Process
		var cluster []string
		for i := range ports {
			cluster = append(cluster, fmt.Sprintf("etcd-%d=http://127.0.0.1:%d", i+1, ports[i].Peer))
		}
		for i, p := range ports {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "root"), 0o700); err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(snap)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "root", name), body, 0o600); err != nil {
				t.Fatal(err)
			}
			own := fmt.Sprintf("--name etcd-%d --initial-advertise-peer-urls http://127.0.0.1:%d", i+1, p.Peer)
			rw := append([]string{"--name etcd-1 --initial-advertise-peer-urls https://10.0.0.21:2380", own}, nodeRewrites(root)...)
			r.run(idx, append(rw, peers...)...)
			m, err := etcdtest.StartProcess(t, bin, fmt.Sprintf("etcd-%d", i+1), filepath.Join(root, "var/lib/etcd-restored"), p, certs,
				"--initial-cluster", strings.Join(cluster, ","), "--initial-cluster-token", "etcd-restore-20261130")
			if err != nil {
				for _, m := range members {
					m.Stop()
				}
				if strings.Contains(err.Error(), etcdtest.ErrAddressInUse.Error()) && attempt < 2 {
					members = nil
					break
				}
				t.Fatal(err)
			}
			members = append(members, m)
		}
		if len(members) < 3 {
			continue
		}
		for _, m := range members {
			if err := m.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
		}
		c, err := members[2].Client()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ml, err := c.MemberList(ctx)
		if err != nil || len(ml.Members) != 3 {
			t.Fatalf("member list: %v %v", ml, err)
		}
		return
	}
}

// snapshotOf saves a snapshot of a real etcd (bin) holding a few keys.
func snapshotOf(t *testing.T, bin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	certs, err := etcdtest.GenerateCerts(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var p *etcdtest.Process
	for attempt := 0; ; attempt++ {
		ports, err := etcdtest.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		p, err = etcdtest.StartProcess(t, bin, "source", filepath.Join(t.TempDir(), "data"), ports[0], certs,
			"--initial-cluster", fmt.Sprintf("source=http://127.0.0.1:%d", ports[0].Peer))
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), etcdtest.ErrAddressInUse.Error()) || attempt == 2 {
			t.Fatal(err)
		}
	}
	if err := p.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := p.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 10 {
		if _, err := c.Put(ctx, fmt.Sprintf("/registry/k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "snapshot.db")
	if err := etcdtest.WriteSnapshot(ctx, c, path); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	return path
}
