package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/bundle"
	"github.com/etcd-backup/etcd-backup/internal/seal"
)

// Sealing is what happens to a snapshot before it leaves the node
// (compression, encryption) and what travels with it (the control-plane
// bundle).
type Sealing struct {
	Compression           string `envconfig:"ETCD_BACKUP_COMPRESSION" default:"none" desc:"none or zstd: compress what is stored (names end in .zst)"`
	CompressionLevel      int    `envconfig:"ETCD_BACKUP_COMPRESSION_LEVEL" default:"3" desc:"zstd level, 1 (fastest) to 22 (smallest), as zstd numbers them"`
	EncryptRecipients     string `envconfig:"ETCD_BACKUP_ENCRYPT_RECIPIENTS" desc:"comma-separated public keys (age1..., ssh-ed25519 ..., ssh-rsa ...); set = everything stored is encrypted with age (names end in .age)"`
	EncryptRecipientsFile string `envconfig:"ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE" desc:"file with public keys, one per line (# comments); adds to ETCD_BACKUP_ENCRYPT_RECIPIENTS"`
	IdentityFile          string `envconfig:"ETCD_BACKUP_IDENTITY_FILE" desc:"age identity file or SSH private key, only for verify, fetch, restore and drill of encrypted files; a backup never needs it"`
	BundlePaths           string `envconfig:"ETCD_BACKUP_BUNDLE_PATHS" desc:"comma-separated absolute paths of control-plane files archived next to each snapshot (<name>.bundle.tar...); a trailing ? marks a path that may be missing; empty = no bundle"`
	BundleAllowPlaintext  bool   `envconfig:"ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT" default:"false" desc:"allow a bundle without encryption (it holds the cluster's private keys)"`

	// Parsed from the settings above by Validate.
	Recipients []age.Recipient `ignored:"true"`
	Identities []age.Identity  `ignored:"true"`
	Bundle     []bundle.Path   `ignored:"true"`
}

// SealOptions are the layers every stored file gets.
func (s *Sealing) SealOptions() seal.Options {
	return seal.Options{Compression: s.Compression, Level: s.CompressionLevel, Recipients: s.Recipients}
}

// refused is a configuration error that does not quote the value: a key
// list may hold a private key pasted by mistake.
func refused(name, what string) error {
	return &Error{msg: fmt.Sprintf("invalid %s_%s: %s", Prefix, name, what)}
}

// validateSealing checks the settings of Sealing and parses the keys and
// paths they name.
func (c *Config) validateSealing() error {
	if err := c.Sealing.validate(); err != nil {
		return err
	}
	if len(c.Recipients) == 0 {
		return nil
	}
	// The plaintext scratch file must never sit in a destination.
	for _, d := range c.Destinations {
		if !filepath.IsAbs(d) || strings.Contains(d, "://") {
			continue
		}
		if rel, err := filepath.Rel(d, filepath.Clean(c.WorkDir)); err == nil && filepath.IsLocal(rel) || rel == "." {
			return invalid("WORK_DIR", c.WorkDir, fmt.Sprintf("is inside the destination %s, and encryption is on: the plaintext scratch file would land there; accepted: a directory outside every destination (the chart uses /tmp, an emptyDir)", d))
		}
	}
	return nil
}

func (s *Sealing) validate() error {
	switch s.Compression {
	case seal.CompressionNone, seal.CompressionZstd:
	default:
		return invalid("COMPRESSION", s.Compression, "accepted: none or zstd")
	}
	if s.CompressionLevel < seal.MinLevel || s.CompressionLevel > seal.MaxLevel {
		return invalid("COMPRESSION_LEVEL", strconv.Itoa(s.CompressionLevel), fmt.Sprintf("accepted: a whole number from %d (fastest) to %d (smallest)", seal.MinLevel, seal.MaxLevel))
	}
	if err := s.parseRecipients(); err != nil {
		return err
	}
	if s.IdentityFile != "" {
		ids, err := seal.ReadIdentities(s.IdentityFile)
		if err != nil {
			return refused("IDENTITY_FILE", err.Error())
		}
		s.Identities = ids
	}
	return s.validateBundle()
}

func (s *Sealing) parseRecipients() error {
	listed, err := seal.ParseRecipients(s.EncryptRecipients, "")
	if err != nil {
		return refused("ENCRYPT_RECIPIENTS", err.Error())
	}
	if s.EncryptRecipientsFile != "" {
		if _, err := seal.ParseRecipients("", s.EncryptRecipientsFile); err != nil {
			return refused("ENCRYPT_RECIPIENTS_FILE", err.Error())
		}
	}
	all, err := seal.ParseRecipients(s.EncryptRecipients, s.EncryptRecipientsFile)
	if err != nil {
		return refused("ENCRYPT_RECIPIENTS", err.Error()+" (with the keys of ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE)")
	}
	if len(listed) == 0 && s.EncryptRecipients != "" {
		return refused("ENCRYPT_RECIPIENTS", "holds no key; accepted: "+seal.AcceptedRecipients+", comma-separated")
	}
	s.Recipients = all
	return nil
}

func (s *Sealing) validateBundle() error {
	paths, err := bundle.ParsePaths(s.BundlePaths)
	if err != nil {
		return refused("BUNDLE_PATHS", err.Error())
	}
	if len(paths) == 0 {
		return nil
	}
	if len(s.Recipients) == 0 && !s.BundleAllowPlaintext {
		return refused("BUNDLE_PATHS", "the bundle holds the cluster's private keys and encryption is off; accepted: set ETCD_BACKUP_ENCRYPT_RECIPIENTS (or _FILE), or ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT=true to store it readable")
	}
	for _, p := range paths {
		if p.Optional {
			continue
		}
		if _, err := os.Stat(p.Path); err != nil {
			return refused("BUNDLE_PATHS", fmt.Sprintf("cannot read %s (%v); accepted: existing paths (mounted into the Pod), or a trailing ? on a path that may be missing", p.Path, errors.Unwrap(err)))
		}
	}
	s.Bundle = paths
	return nil
}
