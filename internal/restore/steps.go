package restore

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/etcd-backup/etcd-backup/internal/kubeadm"
)

// PrintDone says what was restored and what remains to be done, with the
// exact commands for a kubeadm node when m is set.
func PrintDone(w io.Writer, r Result, m *kubeadm.Member) {
	o := r.Options
	fmt.Fprintf(w, "Restored %s (revision %d, %d keys, etcd %s data) into %s\n",
		o.Snapshot, r.Status.Revision, r.Status.TotalKey, r.DataVersion, r.DataDir)
	fmt.Fprintf(w, "  member %s, peer URLs %s, initial cluster %s, cluster token %s\n",
		o.Name, strings.Join(o.InitialAdvertisePeerURLs, ","), o.InitialCluster, o.InitialClusterToken)
	run := "etcd " + r.Target.String()
	if r.Target == (Version{}) {
		run = fmt.Sprintf("etcd of the cluster's own minor (the data is etcd %s; no --target-version was given to check it)", r.DataVersion)
	}
	if m == nil {
		fmt.Fprintf(w, `
Next:
  1. Restore the same snapshot on every other member, each with its own --name, --initial-advertise-peer-urls
     and --data-dir, and the same --initial-cluster and --initial-cluster-token.
  2. Start each member with %s, the same --name, --initial-advertise-peer-urls, --initial-cluster-token,
     and --data-dir=%s (the initial cluster is already in the data directory).
  3. Check: etcdctl member list -w table; etcdctl endpoint health --cluster
`, run, r.DataDir)
		return
	}
	manifests := filepath.Dir(m.Manifest)
	stopped := manifests + ".stopped"
	fmt.Fprintf(w, `
Next, on this node (kubelet runs the static pods in %[1]s):
  1. Stop the control plane: move the static pod manifests out and wait until kubelet has stopped them
       mkdir -p %[2]s
       mv %[1]s/*.yaml %[2]s/
       crictl ps --name 'etcd|kube-apiserver'     # until it lists nothing
  2. Point etcd at the restored directory (--data-dir, the volume mount and the hostPath):
       sed -i 's#%[3]s$#%[4]s#' %[2]s/%[5]s
  3. Start the control plane again:
       mv %[2]s/*.yaml %[1]s/
  4. Check (%[6]s must be running):
       crictl ps --name etcd
       ETCDCTL_API=3 etcdctl --endpoints %[7]s --cacert %[8]s --cert %[9]s --key %[10]s member list -w table
       ETCDCTL_API=3 etcdctl --endpoints %[7]s --cacert %[8]s --cert %[9]s --key %[10]s endpoint health
       kubectl get nodes
  The old data stays in %[3]s until you remove it.
`, manifests, stopped, m.HostDataDir, r.DataDir, filepath.Base(m.Manifest), run,
		m.ClientURL, m.CACert, m.Cert, m.Key)
}
