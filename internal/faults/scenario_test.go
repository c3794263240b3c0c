package faults_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/location"
)

const (
	namePrefix = "etcd-snapshot-"
	nameLayout = "20060102T150405Z"
	day        = 24 * time.Hour
)

// finalShape is the shape of a snapshot's final name, as the design
// defines it (written independently of the product's own matcher): .db,
// then .zst when compressed, then .age when encrypted.
var finalShape = regexp.MustCompile(`^` + regexp.QuoteMeta(namePrefix) + `([0-9]{8}T[0-9]{6}Z)\.db(\.zst)?(\.age)?$`)

// isFinalName reports whether name has exactly the shape the tool writes,
// with a real time in it (no month 13): the only names the tool may prune.
func isFinalName(name string) bool {
	m := finalShape.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	_, err := time.Parse(nameLayout, m[1])
	return err == nil
}

// snapshotName is the name the tool gives a snapshot taken at t.
func snapshotName(t time.Time) string { return namePrefix + t.UTC().Format(nameLayout) + ".db" }

// dest is one destination of a scenario: a local directory or a key prefix
// in an S3 bucket.
type dest struct {
	label  string
	dir    string       // local directory; "" for a bucket
	s3     *blobtest.S3 // the bucket's server, reached directly (not through a proxy)
	prefix string       // key prefix in the bucket, ending in "/"
	spec   string       // as configured in ETCD_BACKUP_DESTINATIONS
}

// shown is how the summary names the destination.
func (d *dest) shown() string {
	if d.dir != "" {
		return filepath.Clean(d.dir)
	}
	return location.Redact(d.spec)
}

func (d *dest) String() string { return d.label }

// entry is one name in a destination.
type entry struct {
	ModTime time.Time
	Size    int64
	Regular bool // a regular file (or an object); symlinks, directories and the rest are not
}

// scenario is one fault case: the job's environment, its destinations and
// the source whose keys a restored snapshot must hold.
type scenario struct {
	s         *suite
	env       map[string]string
	dests     []*dest
	workDir   string
	src       *source
	retention time.Duration
	keepMin   int
	before    map[*dest]map[string]entry // every entry of every destination before the runs
	// identity decrypts what the runs store; nil when encryption is off.
	identity *age.X25519Identity
}

// newScenario is a run against src over TLS with the suite's client
// certificate, retention 5 days, keep-min 2.
func newScenario(t *testing.T, s *suite, src *source) *scenario {
	t.Helper()
	sc := &scenario{s: s, src: src, retention: 5 * day, keepMin: 2, workDir: filepath.Join(t.TempDir(), "work")}
	if err := os.MkdirAll(sc.workDir, 0o700); err != nil {
		t.Fatal(err)
	}
	sc.env = map[string]string{
		"HOME":                         t.TempDir(),
		"ETCD_BACKUP_CACERT":           s.certs.CA,
		"ETCD_BACKUP_CERT":             s.certs.ClientCert,
		"ETCD_BACKUP_KEY":              s.certs.ClientKey,
		"ETCD_BACKUP_DIAL_TIMEOUT":     "2s",
		"ETCD_BACKUP_SNAPSHOT_TIMEOUT": "60s",
		"ETCD_BACKUP_RETENTION":        "5d",
		"ETCD_BACKUP_KEEP_MIN":         "2",
		"ETCD_BACKUP_LOG_FORMAT":       "json",
		"ETCD_BACKUP_WORK_DIR":         sc.workDir,
	}
	if src != nil {
		sc.env["ETCD_BACKUP_ENDPOINTS"] = src.etcd.Endpoint
	}
	return sc
}

// addDir adds a local directory destination (created empty).
func (sc *scenario) addDir(t *testing.T, label string) *dest {
	t.Helper()
	d := &dest{label: label, dir: filepath.Join(t.TempDir(), label)}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sc.dests = append(sc.dests, d)
	return d
}

var bucketSeq struct {
	sync.Mutex
	n int
}

// addBucket adds a fresh bucket of the suite's S3 server, reached at
// endpoint (the server itself or a proxy in front of it).
func (sc *scenario) addBucket(t *testing.T, label, endpoint string) *dest {
	t.Helper()
	if sc.s.s3 == nil {
		sc.s.needS3(t)
	}
	bucketSeq.Lock()
	bucketSeq.n++
	name := fmt.Sprintf("faults-%d", bucketSeq.n)
	bucketSeq.Unlock()
	sc.s.s3.CreateBucket(t, name)
	srv := *sc.s.s3
	srv.Bucket = name
	via := srv
	if endpoint != "" {
		via.Endpoint = endpoint
	}
	d := &dest{label: label, s3: &srv, prefix: "etcd/", spec: via.URL("etcd")}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		sc.env[k] = v
	}
	sc.dests = append(sc.dests, d)
	return d
}

// endpoints sets the etcd endpoints.
func (sc *scenario) endpoints(eps ...string) {
	sc.env["ETCD_BACKUP_ENDPOINTS"] = strings.Join(eps, ",")
}

// plaintext points the job at an etcd endpoint without TLS.
func (sc *scenario) plaintext(ep string) {
	sc.endpoints(ep)
	for _, k := range []string{"ETCD_BACKUP_CACERT", "ETCD_BACKUP_CERT", "ETCD_BACKUP_KEY"} {
		sc.env[k] = ""
	}
}

// seed stores copies of the suite's small snapshot in d, one per age (a
// negative age is in the future), named and dated as the tool would have.
func (sc *scenario) seed(t *testing.T, d *dest, ages ...time.Duration) []string {
	t.Helper()
	now := time.Now()
	var names []string
	for _, age := range ages {
		mt := now.Add(-age).Truncate(time.Second)
		name := snapshotName(mt)
		sc.put(t, d, name, sc.s.fixture, mt)
		names = append(names, name)
	}
	return names
}

// seedDefault gives d two snapshots past the 5-day retention and two
// within it.
func (sc *scenario) seedDefault(t *testing.T, d *dest) {
	t.Helper()
	sc.seed(t, d, 7*day, 6*day, 26*time.Hour, 2*time.Hour)
}

// put writes a file or object with the given modification time.
func (sc *scenario) put(t *testing.T, d *dest, name string, content []byte, mt time.Time) {
	t.Helper()
	if err := d.put(context.Background(), name, content, mt); err != nil {
		t.Fatal(err)
	}
}

// put writes a file or object with the given modification time; safe to
// call from any goroutine.
func (d *dest) put(ctx context.Context, name string, content []byte, mt time.Time) error {
	if d.dir != "" {
		p := filepath.Join(d.dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			return err
		}
		return os.Chtimes(p, mt, mt)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	key := d.prefix + name
	if _, err := d.s3.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(d.s3.Bucket), Key: aws.String(key), Body: bytes.NewReader(content),
	}); err != nil {
		return fmt.Errorf("putting %s: %w", key, err)
	}
	// The S3 server's posix backend reports a file's modification time.
	return os.Chtimes(filepath.Join(d.s3.Dir, d.s3.Bucket, filepath.FromSlash(key)), mt, mt)
}

// list returns every entry directly in d (for a bucket: every key under
// its prefix, without the prefix).
func (d *dest) list(ctx context.Context) (map[string]entry, error) {
	out := map[string]entry{}
	if d.dir != "" {
		des, err := os.ReadDir(d.dir)
		if err != nil {
			return nil, err
		}
		for _, de := range des {
			info, err := os.Lstat(filepath.Join(d.dir, de.Name()))
			if err != nil {
				return nil, err
			}
			out[de.Name()] = entry{ModTime: info.ModTime(), Size: info.Size(), Regular: info.Mode().IsRegular()}
		}
		return out, nil
	}
	keys, err := d.allKeys(ctx, d.prefix)
	if err != nil {
		return nil, err
	}
	for k, e := range keys {
		out[strings.TrimPrefix(k, d.prefix)] = e
	}
	return out, nil
}

// allKeys lists every object of the bucket under prefix.
func (d *dest) allKeys(ctx context.Context, prefix string) (map[string]entry, error) {
	out := map[string]entry{}
	p := s3.NewListObjectsV2Paginator(d.s3.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(d.s3.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing bucket %s: %w", d.s3.Bucket, err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = entry{ModTime: aws.ToTime(o.LastModified), Size: aws.ToInt64(o.Size), Regular: true}
		}
	}
	return out, nil
}

// fetch gives a local path with the content of name in d.
func (d *dest) fetch(ctx context.Context, t testing.TB, name string) (string, error) {
	if d.dir != "" {
		return filepath.Join(d.dir, name), nil
	}
	resp, err := d.s3.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.s3.Bucket), Key: aws.String(d.prefix + name)})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	f, err := os.CreateTemp(t.TempDir(), "object-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// mountTmpfs mounts a tmpfs of the given size (e.g. "1m") on dir.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	requireRoot(t)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		skipUnlessCI(t, "cannot mount a tmpfs here (%v): needs root with CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { unmount(t, dir) })
}

// readOnly makes dir read-only with a read-only bind mount of itself:
// root ignores permission bits, not a read-only mount.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	requireRoot(t)
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		skipUnlessCI(t, "cannot bind-mount here (%v): needs root with CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { unmount(t, dir) })
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remounting %s read-only: %v", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600); !errors.Is(err, unix.EROFS) {
		t.Fatalf("%s is not read-only after the remount: writing a file gave %v", dir, err)
	}
}

func unmount(t *testing.T, dir string) {
	if err := unix.Unmount(dir, 0); err != nil {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipUnlessCI(t, "needs root: mounts a read-only or size-limited filesystem (root ignores directory permission bits, so chmod cannot simulate it)")
	}
}

// skipUnlessCI skips the test, except under CI=true, where every case must
// run (CI runs as root) and a skip would hide a case that never ran.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" — CI=true requires it", args...)
	}
	t.Skipf(format, args...)
}

// closedPort is an address on 127.0.0.1 where nothing listens, held for the
// rest of the test: a socket bound to it and never listening, whose
// connections are refused. It has SO_REUSEADDR, as Go's listeners do, so
// that a listener of this test (startProxy with Listen) can take the port
// over later, while no port-0 bind elsewhere is handed it.
func closedPort(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Close(fd); err != nil {
			t.Errorf("closing the socket holding a closed port: %v", err)
		}
	})
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
}

// bucketEndpoint is the S3 endpoint URL for host:port.
func bucketEndpoint(hostport string) string {
	return (&url.URL{Scheme: "http", Host: hostport}).String()
}
