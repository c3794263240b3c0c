// Package chart holds the tests of the Helm chart in charts/etcd-backup: they
// render it with the Helm SDK, decode the manifests strictly into the
// Kubernetes API types and check what the backup job depends on.
//
// It is a module of its own because the Helm SDK requires Kubernetes
// libraries that select a newer etcd than the backup job is built with;
// keeping them apart leaves the job's dependency versions its own choice.
package chart
