// Command backup-restore turns a snapshot into an etcd member's data
// directory (restore) and proves that the newest snapshot restores (drill).
// It is a binary of its own because it links etcd's restore code, which the
// scheduled backup-job does not need; backup-job hands `restore` and `drill`
// to it.
package main

import (
	"io"
	"os"

	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

func main() {
	verify.RunChild()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Execute(newRoot(), args, stdout, stderr)
}
