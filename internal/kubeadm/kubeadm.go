// Package kubeadm reads what a restore needs from the etcd static pod
// manifest kubeadm writes (/etc/kubernetes/manifests/etcd.yaml): the
// member's name, peer URL and data directory, and the etcd version of its
// image.
package kubeadm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// DefaultManifest is where kubeadm writes the etcd static pod.
const DefaultManifest = "/etc/kubernetes/manifests/etcd.yaml"

// Member is the etcd member a manifest runs.
type Member struct {
	Manifest  string
	Name      string
	PeerURLs  []string
	ClientURL string // the first advertised client URL
	// DataDir is --data-dir inside the container; HostDataDir the node's
	// directory mounted there (the same path in kubeadm's manifests).
	DataDir     string
	HostDataDir string
	Image       string
	ImageTag    string
	// TLS files etcdctl needs to talk to the member (node paths).
	CACert, Cert, Key string
}

// The part of a Pod that the manifest is read for; everything else is
// ignored.
type pod struct {
	Kind string `json:"kind"`
	Spec struct {
		Containers []struct {
			Name         string   `json:"name"`
			Image        string   `json:"image"`
			Command      []string `json:"command"`
			Args         []string `json:"args"`
			VolumeMounts []struct {
				Name      string `json:"name"`
				MountPath string `json:"mountPath"`
			} `json:"volumeMounts"`
		} `json:"containers"`
		Volumes []struct {
			Name     string `json:"name"`
			HostPath *struct {
				Path string `json:"path"`
			} `json:"hostPath"`
		} `json:"volumes"`
	} `json:"spec"`
}

// Read parses the manifest at path.
func Read(path string) (Member, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Member{}, fmt.Errorf("reading the etcd manifest: %w", err)
	}
	var p pod
	if err := yaml.Unmarshal(raw, &p); err != nil {
		return Member{}, fmt.Errorf("reading the etcd manifest %s: %w", path, err)
	}
	m, err := member(p)
	if err != nil {
		return Member{}, fmt.Errorf("reading the etcd manifest %s: %w", path, err)
	}
	m.Manifest = path
	return m, nil
}

func member(p pod) (Member, error) {
	if p.Kind != "Pod" {
		return Member{}, fmt.Errorf("kind is %q; accepted: a Pod (kubeadm's etcd static pod)", p.Kind)
	}
	for _, c := range p.Spec.Containers {
		if c.Name != "etcd" {
			continue
		}
		flags := parseFlags(append(append([]string{}, c.Command...), c.Args...))
		m := Member{
			Name: flags["name"], DataDir: flags["data-dir"], Image: c.Image,
			CACert: flags["trusted-ca-file"], Cert: flags["cert-file"], Key: flags["key-file"],
		}
		if u := flags["initial-advertise-peer-urls"]; u != "" {
			m.PeerURLs = strings.Split(u, ",")
		}
		if u := flags["advertise-client-urls"]; u != "" {
			m.ClientURL = strings.Split(u, ",")[0]
		}
		if i := strings.LastIndex(c.Image, ":"); i > strings.LastIndex(c.Image, "/") {
			m.ImageTag = c.Image[i+1:]
		}
		for _, need := range []struct{ flag, v string }{{"name", m.Name}, {"initial-advertise-peer-urls", flags["initial-advertise-peer-urls"]}, {"data-dir", m.DataDir}} {
			if need.v == "" {
				return Member{}, fmt.Errorf("the etcd container has no --%s", need.flag)
			}
		}
		for _, vm := range c.VolumeMounts {
			if filepath.Clean(vm.MountPath) != filepath.Clean(m.DataDir) {
				continue
			}
			for _, v := range p.Spec.Volumes {
				if v.Name == vm.Name && v.HostPath != nil {
					m.HostDataDir = filepath.Clean(v.HostPath.Path)
				}
			}
		}
		if m.HostDataDir == "" {
			return Member{}, fmt.Errorf("no hostPath volume is mounted at --data-dir=%s", m.DataDir)
		}
		return m, nil
	}
	return Member{}, errors.New("no container named etcd")
}

// parseFlags reads --key=value and --key value arguments.
func parseFlags(args []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		a, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			continue
		}
		if k, v, ok := strings.Cut(a, "="); ok {
			out[k] = v
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out[a] = args[i+1]
			i++
		}
	}
	return out
}
