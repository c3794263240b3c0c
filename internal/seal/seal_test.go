package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// plaintext is partly compressible, partly random, and spans many age
// chunks (64 KiB) and zstd blocks.
func plaintext(t *testing.T, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	for i := 0; i < size; i += 4096 {
		end := min(i+4096, size)
		if (i/4096)%3 == 0 {
			if _, err := rand.Read(b[i:end]); err != nil {
				t.Fatal(err)
			}
			continue
		}
		copy(b[i:end], bytes.Repeat([]byte("/registry/secrets/kube-system/token "), 4096/36+1))
	}
	return b
}

type keyPair struct {
	recipient    string // as given in ETCD_BACKUP_ENCRYPT_RECIPIENTS
	identityFile []byte
}

func x25519Pair(t *testing.T) keyPair {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{recipient: id.Recipient().String(), identityFile: []byte("# test key\n" + id.String() + "\n")}
}

func hybridPair(t *testing.T) keyPair {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{recipient: id.Recipient().String(), identityFile: []byte(id.String() + "\n")}
}

func sshEd25519Pair(t *testing.T) keyPair {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sshPair(t, pub, priv)
}

func sshRSAPair(t *testing.T) keyPair {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return sshPair(t, &priv.PublicKey, priv)
}

func sshPair(t *testing.T, pub, priv any) keyPair {
	t.Helper()
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " backup@test"
	return keyPair{recipient: line, identityFile: pem.EncodeToMemory(block)}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func seal(t *testing.T, plain []byte, o Options) ([]byte, Sums) {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, o)
	if err != nil {
		t.Fatal(err)
	}
	// odd write sizes, as a network stream delivers them
	for rest := plain; len(rest) > 0; {
		n := min(len(rest), 12345)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), w.Sums()
}

func open(stored []byte, l Layers, ids []age.Identity) ([]byte, Sums, error) {
	r, err := NewReader(bytes.NewReader(stored), l, ids)
	if err != nil {
		return nil, Sums{}, err
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	return got, r.Sums(), err
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestRoundTrip(t *testing.T) {
	plain := plaintext(t, 3<<20+17)
	x := x25519Pair(t)
	ed := sshEd25519Pair(t)
	rs := sshRSAPair(t)
	pq := hybridPair(t)
	tests := []struct {
		name        string
		compression string
		level       int
		keys        []keyPair
		ext         string
	}{
		{"plain", CompressionNone, 0, nil, ""},
		{"zstd default level", CompressionZstd, 0, nil, ".zst"},
		{"zstd fastest", CompressionZstd, 1, nil, ".zst"},
		{"zstd best", CompressionZstd, 19, nil, ".zst"},
		{"age x25519", CompressionNone, 0, []keyPair{x}, ".age"},
		{"zstd+age x25519", CompressionZstd, 3, []keyPair{x}, ".zst.age"},
		{"zstd+age two recipients", CompressionZstd, 3, []keyPair{x, ed}, ".zst.age"},
		{"age ssh-ed25519", CompressionNone, 0, []keyPair{ed}, ".age"},
		{"zstd+age ssh-rsa", CompressionZstd, 0, []keyPair{rs}, ".zst.age"},
		{"zstd+age post-quantum", CompressionZstd, 0, []keyPair{pq}, ".zst.age"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var list []string
			for _, k := range tc.keys {
				list = append(list, k.recipient)
			}
			rcpts, err := ParseRecipients(strings.Join(list, ","), "")
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Compression: tc.compression, Level: tc.level, Recipients: rcpts}
			if got := o.Layers().Ext(); got != tc.ext {
				t.Fatalf("Ext = %q, want %q", got, tc.ext)
			}
			stored, ws := seal(t, plain, o)
			want := Sums{PlainSHA256: hexSum(plain), PlainSize: int64(len(plain)), StoredSHA256: hexSum(stored), StoredSize: int64(len(stored))}
			if ws != want {
				t.Fatalf("writer sums %+v, want %+v", ws, want)
			}
			if tc.ext == "" && !bytes.Equal(stored, plain) {
				t.Fatal("no layers, yet the stored bytes differ from the plaintext")
			}
			if tc.compression == CompressionZstd && ws.Ratio() < 1.2 {
				t.Fatalf("compression ratio %.2f on a half-repetitive input", ws.Ratio())
			}
			if len(tc.keys) > 0 && bytes.Contains(stored, []byte("/registry/secrets/")) {
				t.Fatal("plaintext visible in the encrypted output")
			}
			// every recipient's identity opens it
			for _, k := range tc.keys {
				ids, err := ReadIdentities(writeFile(t, "key", k.identityFile))
				if err != nil {
					t.Fatal(err)
				}
				got, rsum, err := open(stored, o.Layers(), ids)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, plain) || rsum != want {
					t.Fatalf("round trip differs: sums %+v, want %+v", rsum, want)
				}
			}
			if len(tc.keys) == 0 {
				got, rsum, err := open(stored, o.Layers(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, plain) || rsum != want {
					t.Fatalf("round trip differs: sums %+v, want %+v", rsum, want)
				}
			}
		})
	}
}

func TestPlainHashedElsewhere(t *testing.T) {
	plain := plaintext(t, 200_000)
	_, s := seal(t, plain, Options{Compression: CompressionZstd, PlainHashedElsewhere: true})
	if s.PlainSHA256 != "" || s.PlainSize != int64(len(plain)) || s.StoredSHA256 == "" {
		t.Fatalf("sums %+v: want the plain size and the stored sha256 only", s)
	}
}

func TestDamageIsCaught(t *testing.T) {
	plain := plaintext(t, 1<<20)
	k := x25519Pair(t)
	rcpts, err := ParseRecipients(k.recipient, "")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ReadIdentities(writeFile(t, "key", k.identityFile))
	if err != nil {
		t.Fatal(err)
	}
	shapes := []struct {
		name string
		o    Options
	}{
		{"zstd", Options{Compression: CompressionZstd}},
		{"age", Options{Recipients: rcpts}},
		{"zstd+age", Options{Compression: CompressionZstd, Recipients: rcpts}},
	}
	damages := []struct {
		name string
		do   func([]byte) []byte
	}{
		{"flipped byte in the middle", func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }},
		{"flipped byte near the end", func(b []byte) []byte { b[len(b)-5] ^= 0x80; return b }},
		{"cut short", func(b []byte) []byte { return b[:len(b)*2/3] }},
		{"last byte missing", func(b []byte) []byte { return b[:len(b)-1] }},
		{"byte appended", func(b []byte) []byte { return append(b, 0) }},
	}
	for _, s := range shapes {
		stored, _ := seal(t, plain, s.o)
		for _, d := range damages {
			t.Run(s.name+"/"+d.name, func(t *testing.T) {
				bad := d.do(bytes.Clone(stored))
				_, _, err := open(bad, s.o.Layers(), ids)
				if err == nil {
					t.Fatal("damaged stream read without error")
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v does not say the data is damaged", err)
				}
			})
		}
	}
}

func TestWrongIdentity(t *testing.T) {
	right, wrong := x25519Pair(t), x25519Pair(t)
	rcpts, err := ParseRecipients(right.recipient, "")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := seal(t, plaintext(t, 100_000), Options{Compression: CompressionZstd, Recipients: rcpts})
	wrongIDs, err := ReadIdentities(writeFile(t, "wrong", wrong.identityFile))
	if err != nil {
		t.Fatal(err)
	}
	sshIDs, err := ReadIdentities(writeFile(t, "ssh", sshEd25519Pair(t).identityFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ids  []age.Identity
		want error
	}{
		{"other age key", wrongIDs, ErrWrongIdentity},
		{"ssh key", sshIDs, ErrWrongIdentity},
		{"none", nil, ErrNoIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(stored), Layers{Compressed: true, Encrypted: true}, tc.ids)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseRecipientsRefusals(t *testing.T) {
	x := x25519Pair(t)
	pq := hybridPair(t)
	secret := strings.TrimSpace(strings.Split(string(x.identityFile), "\n")[1])
	tests := []struct {
		name, list, file string
		want             string // in the error
	}{
		{"garbage", "hello", "", "unknown key type; accepted: age public keys"},
		{"private key given", secret, "", "private key"},
		{"broken age key", x.recipient[:len(x.recipient)-3] + "qqq", "", "not a valid age public key"},
		{"broken ssh key", "ssh-ed25519 AAAAnotbase64", "", "not a usable SSH public key"},
		{"unsupported ssh type", "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "", "not a usable SSH public key"},
		{"second entry bad", x.recipient + ",nope", "", "entry 2"},
		{"classic and post-quantum mixed", x.recipient + "," + pq.recipient, "", "cannot be used together"},
		{"file missing", "", "/nonexistent/recipients.txt", "cannot read the recipients file"},
		{"file empty", "", "EMPTY", "holds no key"},
		{"file bad line", "", "BAD", "line 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file
			switch file {
			case "EMPTY":
				file = writeFile(t, "r", []byte("# nothing\n\n"))
			case "BAD":
				file = writeFile(t, "r", []byte("# ok\n"+x.recipient+"\nage1broken\n"))
			}
			_, err := ParseRecipients(tc.list, file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatal("the error quotes a private key")
			}
		})
	}
}

func TestParseRecipientsAccepts(t *testing.T) {
	x, y, ed := x25519Pair(t), x25519Pair(t), sshEd25519Pair(t)
	file := writeFile(t, "r", []byte("# team keys\n\n"+y.recipient+"\n  "+ed.recipient+"  \n"))
	rs, err := ParseRecipients(" "+x.recipient+" ,", file)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d recipients, want 3", len(rs))
	}
	none, err := ParseRecipients("", "")
	if err != nil || none != nil {
		t.Fatalf("empty settings: %v, %v; want no recipients and no error", none, err)
	}
}

func TestReadIdentitiesRefusals(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	locked, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"public key instead", []byte(x25519Pair(t).recipient + "\n"), "is not an identity file"},
		{"empty", []byte("# nothing\n"), "is not an identity file"},
		{"passphrase-protected ssh key", pem.EncodeToMemory(locked), "passphrase-protected"},
		{"broken pem", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), "not a usable SSH private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIdentities(writeFile(t, "id", tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "accepted:") {
				t.Fatalf("got %v, want an error containing %q and what is accepted", err, tc.want)
			}
		})
	}
	if _, err := ReadIdentities("/nonexistent/key.txt"); err == nil || !strings.Contains(err.Error(), "cannot read the identity file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLayersOf(t *testing.T) {
	for _, tc := range []struct {
		name, base string
		l          Layers
	}{
		{"a.db", "a.db", Layers{}},
		{"a.db.zst", "a.db", Layers{Compressed: true}},
		{"a.db.age", "a.db", Layers{Encrypted: true}},
		{"a.db.zst.age", "a.db", Layers{Compressed: true, Encrypted: true}},
		{"a.db.age.zst", "a.db.age", Layers{Compressed: true}},
		{"a.bundle.tar.zst.age", "a.bundle.tar", Layers{Compressed: true, Encrypted: true}},
	} {
		base, l := LayersOf(tc.name)
		if base != tc.base || l != tc.l || (l.Ext() != tc.name[len(base):]) {
			t.Errorf("LayersOf(%q) = %q, %+v", tc.name, base, l)
		}
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []Options{{Compression: "gzip"}, {Compression: CompressionZstd, Level: 23}, {Compression: CompressionZstd, Level: -1}} {
		if _, err := NewWriter(io.Discard, o); err == nil || !strings.Contains(err.Error(), "accepted") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// The writer's memory must not grow with the stream: the Job runs under a
// small memory limit and snapshots are large.
func TestWriterMemoryIsBounded(t *testing.T) {
	k := x25519Pair(t)
	rcpts, err := ParseRecipients(k.recipient, "")
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(io.Discard, Options{Compression: CompressionZstd, Recipients: rcpts})
	if err != nil {
		t.Fatal(err)
	}
	chunk := plaintext(t, 1<<20)
	allocs := testing.AllocsPerRun(1, func() {
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// a few buffers at start-up, not one per chunk or block
	if allocs > 200 {
		t.Fatalf("%.0f allocations for 64 MiB written", allocs)
	}
}

// The sidecar is what sha256sum itself checks.
func TestSidecarChecksWithSha256sum(t *testing.T) {
	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no sha256sum on this machine — CI=true requires it")
		}
		t.Skip("no sha256sum on this machine")
	}
	plain := plaintext(t, 100_000)
	stored, sums := seal(t, plain, Options{Compression: CompressionZstd})
	dir := t.TempDir()
	name := "etcd-snapshot-20261123T170000Z.db.zst"
	for n, b := range map[string][]byte{name: stored, "etcd-snapshot-20261123T170000Z.db": plain, name + SidecarExt: sums.Sidecar(name)} {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sha256sum, "--strict", "-c", name+SidecarExt)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	stored[10] ^= 1
	if err := os.WriteFile(filepath.Join(dir, name), stored, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("sha256sum -c passed a changed file:\n%s", out)
	}
}
