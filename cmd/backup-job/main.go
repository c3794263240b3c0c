// Command backup-job takes one verified etcd snapshot, stores it in every
// configured destination, prunes old ones and exits. It is configured from
// ETCD_BACKUP_* environment variables; see `backup-job --help`. Its other
// commands read snapshots back: verify, list, fetch; restore and drill run
// in the sibling binary backup-restore, which links etcd's restore code.
package main

import (
	"io"
	"os"

	// CA roots inside the binary: the image is FROM scratch and object
	// storage is reached over HTTPS.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

func main() {
	verify.RunChild()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Execute(newRoot(stdout, stderr), args, stdout, stderr)
}
