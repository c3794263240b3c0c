// Package version holds the build version, stamped by the Makefile with
// -ldflags "-X github.com/etcd-backup/etcd-backup/internal/version.Version=...".
// The value comes from the VERSION file, the same place the chart's appVersion
// and the image tag come from.
package version

// Version is the release version of this build.
var Version = "dev"

// Commit is the source revision of this build, when known.
var Commit = "unknown"
