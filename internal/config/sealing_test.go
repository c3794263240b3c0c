package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/config"
)

func ageKey(t *testing.T) (recipient, identity string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), id.String()
}

func tempFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSealingDefaults(t *testing.T) {
	setEnv(t, nil)
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Compression != "none" || c.CompressionLevel != 3 || c.Recipients != nil || c.Bundle != nil || c.SealOptions().Layers().Any() {
		t.Fatalf("sealing defaults: %+v", c.Sealing)
	}
}

func TestSealingGoodValues(t *testing.T) {
	r1, _ := ageKey(t)
	r2, id2 := ageKey(t)
	pki := t.TempDir()
	setEnv(t, map[string]string{
		"ETCD_BACKUP_COMPRESSION":             "zstd",
		"ETCD_BACKUP_COMPRESSION_LEVEL":       "9",
		"ETCD_BACKUP_ENCRYPT_RECIPIENTS":      r1,
		"ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE": tempFile(t, "# ops\n"+r2+"\n"),
		"ETCD_BACKUP_IDENTITY_FILE":           tempFile(t, id2+"\n"),
		"ETCD_BACKUP_BUNDLE_PATHS":            pki + ",/nonexistent/kubeadm-config.yaml?",
	})
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Recipients) != 2 || len(c.Identities) != 1 || len(c.Bundle) != 2 || c.SealOptions().Layers().Ext() != ".zst.age" {
		t.Fatalf("parsed: %+v", c.Sealing)
	}
	for _, k := range []string{"ETCD_BACKUP_COMPRESSION", "ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE", "ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT"} {
		if !contains(config.Keys(), k) {
			t.Errorf("Keys() misses %s", k)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestSealingRefused(t *testing.T) {
	r, id := ageKey(t)
	pki := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"compression unknown", map[string]string{"ETCD_BACKUP_COMPRESSION": "gzip"}, `invalid ETCD_BACKUP_COMPRESSION="gzip": accepted: none or zstd`},
		{"level too high", map[string]string{"ETCD_BACKUP_COMPRESSION": "zstd", "ETCD_BACKUP_COMPRESSION_LEVEL": "23"}, "invalid ETCD_BACKUP_COMPRESSION_LEVEL=\"23\": accepted: a whole number from 1"},
		{"level zero", map[string]string{"ETCD_BACKUP_COMPRESSION_LEVEL": "0"}, "invalid ETCD_BACKUP_COMPRESSION_LEVEL"},
		{"level not a number", map[string]string{"ETCD_BACKUP_COMPRESSION_LEVEL": "fast"}, "ETCD_BACKUP_COMPRESSION_LEVEL=\"fast\": accepted: a whole number"},
		{"recipient garbage", map[string]string{"ETCD_BACKUP_ENCRYPT_RECIPIENTS": r + ",age1nope"}, "invalid ETCD_BACKUP_ENCRYPT_RECIPIENTS: entry 2: not a valid age public key"},
		{"private key as recipient", map[string]string{"ETCD_BACKUP_ENCRYPT_RECIPIENTS": id}, "invalid ETCD_BACKUP_ENCRYPT_RECIPIENTS: entry 1: this is a private key"},
		{"only commas", map[string]string{"ETCD_BACKUP_ENCRYPT_RECIPIENTS": " , "}, "invalid ETCD_BACKUP_ENCRYPT_RECIPIENTS: holds no key"},
		{"recipients file missing", map[string]string{"ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE": "/nonexistent/keys"}, "invalid ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE: cannot read the recipients file"},
		{"recipients file bad", map[string]string{"ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE": tempFile(t, "ssh-ed25519 AAAA\n")}, "invalid ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE:"},
		{"identity file is a public key", map[string]string{"ETCD_BACKUP_IDENTITY_FILE": tempFile(t, r+"\n")}, "invalid ETCD_BACKUP_IDENTITY_FILE:"},
		{"bundle without encryption", map[string]string{"ETCD_BACKUP_BUNDLE_PATHS": pki}, "invalid ETCD_BACKUP_BUNDLE_PATHS: the bundle holds the cluster's private keys and encryption is off"},
		{"bundle path relative", map[string]string{"ETCD_BACKUP_BUNDLE_PATHS": "etc/kubernetes", "ETCD_BACKUP_ENCRYPT_RECIPIENTS": r}, "invalid ETCD_BACKUP_BUNDLE_PATHS:"},
		{"bundle path missing", map[string]string{"ETCD_BACKUP_BUNDLE_PATHS": "/nonexistent/pki", "ETCD_BACKUP_ENCRYPT_RECIPIENTS": r}, "invalid ETCD_BACKUP_BUNDLE_PATHS: cannot read /nonexistent/pki"},
		{"work dir is a destination", map[string]string{"ETCD_BACKUP_ENCRYPT_RECIPIENTS": r, "ETCD_BACKUP_DESTINATIONS": "/backup/host", "ETCD_BACKUP_WORK_DIR": "/backup/host"}, "invalid ETCD_BACKUP_WORK_DIR=\"/backup/host\": is inside the destination /backup/host"},
		{"work dir inside a destination", map[string]string{"ETCD_BACKUP_ENCRYPT_RECIPIENTS": r, "ETCD_BACKUP_DESTINATIONS": "s3://b,/backup/host/", "ETCD_BACKUP_WORK_DIR": "/backup/host/tmp"}, "invalid ETCD_BACKUP_WORK_DIR=\"/backup/host/tmp\": is inside the destination /backup/host"},
		{"allow plaintext not a bool", map[string]string{"ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT": "yes please"}, "ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			_, err := config.Load()
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a configuration error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), id) {
				t.Fatal("the error quotes a private key")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatal("the error is more than one line")
			}
		})
	}
}

// Without encryption the work directory may be anywhere, and a sibling
// of a destination is not inside it.
func TestWorkDirBesideDestination(t *testing.T) {
	r, _ := ageKey(t)
	for _, env := range []map[string]string{
		{"ETCD_BACKUP_DESTINATIONS": "/backup/host", "ETCD_BACKUP_WORK_DIR": "/backup/host"},
		{"ETCD_BACKUP_ENCRYPT_RECIPIENTS": r, "ETCD_BACKUP_DESTINATIONS": "/backup/host", "ETCD_BACKUP_WORK_DIR": "/backup/hostess"},
		{"ETCD_BACKUP_ENCRYPT_RECIPIENTS": r, "ETCD_BACKUP_DESTINATIONS": "/backup/host/sub", "ETCD_BACKUP_WORK_DIR": "/backup/host"},
	} {
		setEnv(t, env)
		if _, err := config.Load(); err != nil {
			t.Errorf("%v: %v", env, err)
		}
	}
}

func TestBundleAllowedInPlaintextWhenAsked(t *testing.T) {
	setEnv(t, map[string]string{"ETCD_BACKUP_BUNDLE_PATHS": t.TempDir(), "ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT": "true"})
	c, err := config.Load()
	if err != nil || len(c.Bundle) != 1 {
		t.Fatalf("bundle with ALLOW_PLAINTEXT=true: %v, %+v", err, c.Bundle)
	}
}
