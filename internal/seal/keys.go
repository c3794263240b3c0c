package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// AcceptedRecipients says what a recipient may be, for error messages.
const AcceptedRecipients = "age public keys (age1..., or age1pq1... for post-quantum keys) or SSH public keys (ssh-ed25519 or ssh-rsa lines as in authorized_keys)"

// AcceptedIdentities says what an identity file may hold, for error messages.
const AcceptedIdentities = "an age identity file (AGE-SECRET-KEY-1... lines, as age-keygen writes them) or an unencrypted SSH private key (ed25519 or RSA)"

// ParseRecipients parses public keys: list holds them comma-separated, file
// (a path, may be empty) one per line with # comments and blank lines, as
// age's recipients files do. At least one key must be given in total when
// either is set. The combination is checked the way encryption will use
// it, so that a run cannot fail later on keys that cannot be mixed.
func ParseRecipients(list, file string) ([]age.Recipient, error) {
	var out []age.Recipient
	for i, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		r, err := parseRecipient(item)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		out = append(out, r)
	}
	if file != "" {
		rs, err := recipientsFile(file)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if _, err := age.Encrypt(io.Discard, out...); err != nil {
		return nil, fmt.Errorf("these keys cannot be used together: %w", err)
	}
	return out, nil
}

func recipientsFile(path string) ([]age.Recipient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the recipients file: %w", err)
	}
	defer f.Close()
	var out []age.Recipient
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseRecipient(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no key; accepted: %s, one per line", path, AcceptedRecipients)
	}
	return out, nil
}

// parseRecipient never quotes the key: a private key pasted by mistake must
// not end up in a log.
func parseRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "AGE-SECRET-KEY-") || strings.Contains(s, "PRIVATE KEY"):
		return nil, errors.New("this is a private key, which must never be given to the backup; accepted: " + AcceptedRecipients)
	case strings.HasPrefix(s, "age1pq1"):
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("not a valid age post-quantum public key (%s); accepted: %s", firstWords(err), AcceptedRecipients)
		}
		return r, nil
	case strings.HasPrefix(s, "age1"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("not a valid age public key (%s); accepted: %s", firstWords(err), AcceptedRecipients)
		}
		return r, nil
	case strings.HasPrefix(s, "ssh-"):
		r, err := agessh.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("not a usable SSH public key (%s); accepted: %s", firstWords(err), AcceptedRecipients)
		}
		return r, nil
	}
	return nil, errors.New("unknown key type; accepted: " + AcceptedRecipients)
}

// firstWords keeps an error's text short and free of key material: the
// parsers' messages name the problem before any quoted input.
func firstWords(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\":"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// ReadIdentities reads the private keys that decrypt stored files.
func ReadIdentities(path string) ([]age.Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the identity file: %w", err)
	}
	if bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		id, err := agessh.ParseIdentity(data)
		if err != nil {
			var missing *ssh.PassphraseMissingError
			if errors.As(err, &missing) {
				return nil, fmt.Errorf("%s is a passphrase-protected SSH key, which a non-interactive tool cannot use; accepted: %s", path, AcceptedIdentities)
			}
			return nil, fmt.Errorf("%s is not a usable SSH private key (%s); accepted: %s", path, firstWords(err), AcceptedIdentities)
		}
		return []age.Identity{id}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s is not an identity file (%s); accepted: %s", path, firstWords(err), AcceptedIdentities)
	}
	return ids, nil
}
