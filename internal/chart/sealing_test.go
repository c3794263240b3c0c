package chart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const ageKey = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

// bundlePathsIn recreates the bundle paths under dir (the parser checks
// that required ones exist) and returns the list pointing there.
func bundlePathsIn(t *testing.T, dir, list string) string {
	t.Helper()
	var out []string
	for _, p := range strings.Split(list, ",") {
		local := filepath.Join(dir, "bundle", strings.TrimSuffix(p, "?"))
		if !strings.HasSuffix(p, "?") {
			if err := os.MkdirAll(local, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if strings.HasSuffix(p, "?") {
			local += "?"
		}
		out = append(out, local)
	}
	return strings.Join(out, ",")
}

func TestRenderSealing(t *testing.T) {
	cases := []struct {
		name, values string
		check        func(t *testing.T, r *release)
	}{
		{
			name:   "encryption with compression and the bundle",
			values: "encryption: {recipients: [" + ageKey + ", \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJ8TKdk5nsCpmcASiD9hdlHOoWkOB9zUqx6lYaaVHxU ops@example\"]}\ncompression: {type: zstd, level: 6}\nbundle: {enabled: true}",
			check: func(t *testing.T, r *release) {
				wantEnv(t, r, map[string]string{
					"ETCD_BACKUP_ENCRYPT_RECIPIENTS": ageKey + ",ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJ8TKdk5nsCpmcASiD9hdlHOoWkOB9zUqx6lYaaVHxU ops@example",
					"ETCD_BACKUP_COMPRESSION":        "zstd",
					"ETCD_BACKUP_COMPRESSION_LEVEL":  "6",
					"ETCD_BACKUP_BUNDLE_PATHS":       "/etc/kubernetes/manifests,/etc/kubernetes/pki,/etc/kubernetes/admin.conf,/etc/kubernetes/kubeadm-config.yaml?",
				})
				c := container(t, r)
				for _, p := range []string{"/etc/kubernetes/manifests", "/etc/kubernetes/pki/ca.key", "/etc/kubernetes/admin.conf"} {
					m, ok := mountFor(c, p)
					if !ok || m.Name != "bundle-source" || !m.ReadOnly {
						t.Errorf("%s: mount %+v (found %v), want bundle-source read-only", p, m, ok)
					}
				}
				// the etcd client certificates still come from their own mount
				if m, ok := mountFor(c, certMount+"/ca.crt"); !ok || m.Name == "bundle-source" {
					t.Errorf("etcd CA is in mount %+v", m)
				}
				v := volume(t, podSpec(r), "bundle-source")
				if v.HostPath == nil || v.HostPath.Path != "/etc/kubernetes" || deref(v.HostPath.Type) != corev1.HostPathDirectory {
					t.Errorf("bundle volume %+v, want hostPath /etc/kubernetes of type Directory", v.VolumeSource)
				}
			},
		},
		{
			name:   "bundle in plaintext when allowed",
			values: "bundle: {enabled: true, allowPlaintext: true, paths: [/etc/kubernetes/pki]}",
			check: func(t *testing.T, r *release) {
				wantEnv(t, r, map[string]string{"ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT": "true", "ETCD_BACKUP_BUNDLE_PATHS": "/etc/kubernetes/pki"})
			},
		},
		{
			name: "defaults set no sealing variable",
			check: func(t *testing.T, r *release) {
				for _, e := range container(t, r).Env {
					switch e.Name {
					case "ETCD_BACKUP_COMPRESSION", "ETCD_BACKUP_ENCRYPT_RECIPIENTS", "ETCD_BACKUP_BUNDLE_PATHS":
						t.Errorf("%s set by default", e.Name)
					}
				}
				if hasVolume(podSpec(r), "bundle-source") {
					t.Error("the bundle source is mounted by default")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(t, tc.values)
			if err != nil {
				t.Fatalf("render refused values:\n%s\nerror: %v", tc.values, err)
			}
			checkEveryRender(t, r)
			checkBinaryAcceptsEnv(t, r)
			tc.check(t, r)
		})
	}
}

func TestRenderRefusesBadSealing(t *testing.T) {
	for _, tc := range []struct{ name, values, want string }{
		{"compression unknown", "compression: {type: gzip}", "/compression/type"},
		{"compression level too high", "compression: {type: zstd, level: 23}", "/compression/level"},
		{"a private key as recipient", "encryption: {recipients: [AGE-SECRET-KEY-1QQQQ]}", "/encryption/recipients/0"},
		{"recipients a string", "encryption: {recipients: " + ageKey + "}", "/encryption/recipients"},
		{"bundle without encryption", "bundle: {enabled: true}", "bundle.enabled is true but encryption.recipients is empty"},
		{"bundle path outside its mount", "encryption: {recipients: [" + ageKey + "]}\nbundle: {enabled: true, paths: [/var/lib/etcd]}", "not inside bundle.hostPath"},
		{"bundle path relative", "bundle: {enabled: true, paths: [etc/kubernetes/pki]}", "/bundle/paths/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal naming %q", err, tc.want)
			}
		})
	}
}
