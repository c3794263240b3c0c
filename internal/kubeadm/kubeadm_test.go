package kubeadm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.11:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://10.0.0.11:2380
    - --initial-cluster=cp-1=https://10.0.0.11:2380
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --name=cp-1
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    image: registry.k8s.io/etcd:3.5.21-0
    name: etcd
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
  volumes:
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
`

func TestRead(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(string) string
		want    Member
		wantErr string
	}{
		{name: "kubeadm", edit: func(s string) string { return s }, want: Member{Name: "cp-1", PeerURLs: []string{"https://10.0.0.11:2380"},
			ClientURL: "https://10.0.0.11:2379", DataDir: "/var/lib/etcd", HostDataDir: "/var/lib/etcd", ImageTag: "3.5.21-0"}},
		{name: "data on another host path", edit: func(s string) string {
			return strings.Replace(s, "      path: /var/lib/etcd", "      path: /srv/etcd", 1)
		}, want: Member{Name: "cp-1", PeerURLs: []string{"https://10.0.0.11:2380"}, ClientURL: "https://10.0.0.11:2379", DataDir: "/var/lib/etcd", HostDataDir: "/srv/etcd", ImageTag: "3.5.21-0"}},
		{name: "image with a registry port", edit: func(s string) string {
			return strings.Replace(s, "registry.k8s.io/etcd:3.5.21-0", "registry.local:5000/etcd:3.6.16-0", 1)
		}, want: Member{Name: "cp-1", PeerURLs: []string{"https://10.0.0.11:2380"}, ClientURL: "https://10.0.0.11:2379", DataDir: "/var/lib/etcd", HostDataDir: "/var/lib/etcd", ImageTag: "3.6.16-0"}},
		{name: "no name", edit: func(s string) string { return strings.Replace(s, "    - --name=cp-1\n", "", 1) }, wantErr: "no --name"},
		{name: "no peer URL", edit: func(s string) string {
			return strings.Replace(s, "    - --initial-advertise-peer-urls=https://10.0.0.11:2380\n", "", 1)
		}, wantErr: "no --initial-advertise-peer-urls"},
		{name: "no hostPath at the data dir", edit: func(s string) string {
			return strings.Replace(s, "    - mountPath: /var/lib/etcd", "    - mountPath: /data", 1)
		}, wantErr: "no hostPath volume"},
		{name: "not a pod", edit: func(s string) string { return strings.Replace(s, "kind: Pod", "kind: Deployment", 1) }, wantErr: "kind is \"Deployment\""},
		{name: "no etcd container", edit: func(s string) string { return strings.Replace(s, "    name: etcd\n", "    name: other\n", 1) }, wantErr: "no container named etcd"},
		{name: "not YAML", edit: func(string) string { return "\t{" }, wantErr: "reading the etcd manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "etcd.yaml")
			if err := os.WriteFile(p, []byte(c.edit(manifest)), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := Read(p)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != c.want.Name || strings.Join(m.PeerURLs, ",") != strings.Join(c.want.PeerURLs, ",") || m.ClientURL != c.want.ClientURL ||
				m.DataDir != c.want.DataDir || m.HostDataDir != c.want.HostDataDir || m.ImageTag != c.want.ImageTag || m.Manifest != p {
				t.Fatalf("read %+v, want %+v", m, c.want)
			}
		})
	}
}
