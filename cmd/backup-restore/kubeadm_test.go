package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"sigs.k8s.io/yaml"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
)

// kubeadmManifest is an etcd static pod manifest as kubeadm writes it
// (kubeadm 1.34, etcd 3.6), with the node's paths under root and ports
// free on 127.0.0.1.
func kubeadmManifest(root, name string, certs etcdtest.Certs, p etcdtest.Ports, metrics int) string {
	data := filepath.Join(root, "var/lib/etcd")
	peer := fmt.Sprintf("https://127.0.0.1:%d", p.Peer)
	client := fmt.Sprintf("https://127.0.0.1:%d", p.Client)
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: %[3]s
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=%[3]s
    - --cert-file=%[4]s
    - --client-cert-auth=true
    - --data-dir=%[1]s
    - --feature-gates=InitialCorruptCheck=true
    - --initial-advertise-peer-urls=%[2]s
    - --initial-cluster=%[9]s=%[2]s
    - --key-file=%[5]s
    - --listen-client-urls=%[3]s
    - --listen-metrics-urls=http://127.0.0.1:%[7]d
    - --listen-peer-urls=%[2]s
    - --name=%[9]s
    - --peer-cert-file=%[4]s
    - --peer-client-cert-auth=true
    - --peer-key-file=%[5]s
    - --peer-trusted-ca-file=%[6]s
    - --snapshot-count=10000
    - --trusted-ca-file=%[6]s
    image: registry.k8s.io/etcd:3.6.16-0
    imagePullPolicy: IfNotPresent
    name: etcd
    resources:
      requests:
        cpu: 100m
        memory: 100Mi
    volumeMounts:
    - mountPath: %[1]s
      name: etcd-data
    - mountPath: %[8]s
      name: etcd-certs
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: %[8]s
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: %[1]s
      type: DirectoryOrCreate
    name: etcd-data
status: {}
`, data, peer, client, certs.ServerCert, certs.ServerKey, certs.CA, metrics, certs.Dir, name)
}

// TestKubeadmRestore restores with --kubeadm against a kubeadm-style
// manifest, runs the steps it prints (moving the manifests out, pointing
// etcd.yaml at the restored directory, moving them back), then starts etcd
// exactly as the edited manifest says: the member must advertise the
// manifest's peer URL, not etcd's default http://localhost:2380.
func TestKubeadmRestore(t *testing.T) {
	_, restore := binaries(t)
	bin := etcdtest.Binary(t, "3.6")
	snap := embeddedSnapshot(t)
	root := t.TempDir()
	certs, err := etcdtest.GenerateCerts(filepath.Join(root, "etc/kubernetes/pki/etcd"))
	if err != nil {
		t.Fatal(err)
	}
	manifests := filepath.Join(root, "etc/kubernetes/manifests")
	if err := os.MkdirAll(filepath.Join(root, "var/lib/etcd/member"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(manifests, 0o700); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(manifests, "etcd.yaml")
	if err := os.WriteFile(filepath.Join(manifests, "kube-apiserver.yaml"), []byte("kind: Pod\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var member *etcdtest.Process
	for attempt := 0; ; attempt++ {
		ports, err := etcdtest.FreePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(manifest, []byte(kubeadmManifest(root, "cp-1", certs, ports[0], ports[1].Client)), 0o600); err != nil {
			t.Fatal(err)
		}
		restored := filepath.Join(root, "var/lib/etcd-restored")
		if err := os.RemoveAll(restored); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, nil, restore, "restore", snap, "--kubeadm", "--kubeadm-manifest", manifest)
		r.want(t, 0, "sed -i", "")
		runSteps(t, r.stdout)
		member, err = startFromManifest(t, bin, manifest, "cp-1", certs)
		if err == nil {
			break
		}
		if attempt == 2 || !strings.Contains(err.Error(), etcdtest.ErrAddressInUse.Error()) {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := member.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := member.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ml, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	want := flagValue(t, raw, "initial-advertise-peer-urls")
	if len(ml.Members) != 1 || strings.Join(ml.Members[0].PeerURLs, ",") != want || ml.Members[0].Name != "cp-1" {
		t.Fatalf("members %v, want cp-1 advertising %s", ml.Members, want)
	}
	resp, err := c.Get(ctx, "/registry/", clientv3.WithPrefix())
	if err != nil || resp.Count != 100 {
		t.Fatalf("restored keys: %v %v, want 100", resp, err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/etcd/member")); err != nil {
		t.Errorf("the old data directory was touched: %v", err)
	}
}

// runSteps runs the shell commands of the printed steps that change files
// (mkdir, mv, sed); the checks (crictl, etcdctl, kubectl) are the test's.
func runSteps(t *testing.T, out string) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "mkdir ") && !strings.HasPrefix(line, "mv ") && !strings.HasPrefix(line, "sed ") {
			continue
		}
		if b, err := exec.Command("sh", "-c", line).CombinedOutput(); err != nil {
			t.Fatalf("step %q: %v\n%s", line, err, b)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("ran %d steps, want 4 (mkdir, mv, sed, mv) in:\n%s", n, out)
	}
}

// startFromManifest starts etcd with the command of the manifest's etcd
// container, as kubelet would.
func startFromManifest(t *testing.T, bin, manifest, name string, certs etcdtest.Certs) (*etcdtest.Process, error) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var pod struct {
		Spec struct {
			Containers []struct {
				Command []string `json:"command"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &pod); err != nil {
		t.Fatal(err)
	}
	args := pod.Spec.Containers[0].Command[1:]
	return etcdtest.StartArgs(t, bin, name, flagValue(t, raw, "advertise-client-urls"), certs, args)
}

func flagValue(t *testing.T, manifest []byte, name string) string {
	t.Helper()
	for _, line := range strings.Split(string(manifest), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "- --"+name+"="); ok {
			return v
		}
	}
	t.Fatalf("no --%s in the manifest", name)
	return ""
}

// embeddedSnapshot saves a snapshot of the embedded etcd holding 100 keys
// under /registry/.
func embeddedSnapshot(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "snapshot.db")
	if err := etcdtest.SeededSnapshot(ctx, t.TempDir(), path, "/registry/", 100, 100, nil); err != nil {
		t.Fatal(err)
	}
	return path
}
