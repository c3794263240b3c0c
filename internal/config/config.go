// Package config reads and validates the backup job's configuration from the
// environment. Every value is checked here, before any network or disk work,
// so that a typo fails the run at once with a line that names the variable,
// the value and what is accepted.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/dustin/go-humanize"
	"github.com/kelseyhightower/envconfig"

	"github.com/etcd-backup/etcd-backup/internal/location"
)

// Prefix is the prefix of every variable.
const Prefix = "ETCD_BACKUP"

// Config is the whole configuration of one run.
type Config struct {
	Endpoints       []string      `envconfig:"ETCD_BACKUP_ENDPOINTS" default:"https://127.0.0.1:2379" desc:"comma-separated etcd client URLs (http:// or https://); the snapshot is taken from the first healthy one"`
	CACert          string        `envconfig:"ETCD_BACKUP_CACERT" default:"/etc/kubernetes/pki/etcd/ca.crt" desc:"CA bundle that signed the etcd server certificate; empty = system roots"`
	Cert            string        `envconfig:"ETCD_BACKUP_CERT" default:"/etc/kubernetes/pki/etcd/server.crt" desc:"client certificate for mTLS; empty = no client certificate"`
	Key             string        `envconfig:"ETCD_BACKUP_KEY" default:"/etc/kubernetes/pki/etcd/server.key" desc:"client key for mTLS; empty = no client certificate"`
	Username        string        `envconfig:"ETCD_BACKUP_USERNAME" desc:"etcd user, when etcd auth is enabled"`
	Password        string        `envconfig:"ETCD_BACKUP_PASSWORD" desc:"etcd password, when etcd auth is enabled (never logged)"`
	DialTimeout     Duration      `envconfig:"ETCD_BACKUP_DIAL_TIMEOUT" default:"5s" desc:"time to connect to one endpoint"`
	SnapshotTimeout Duration      `envconfig:"ETCD_BACKUP_SNAPSHOT_TIMEOUT" default:"30m" desc:"time for the whole snapshot stream"`
	Destinations    []string      `envconfig:"ETCD_BACKUP_DESTINATIONS" default:"/backup/host" desc:"comma-separated absolute directory paths or blob URLs (s3://, gs://, azblob://, file://)"`
	Retention       Retention     `envconfig:"ETCD_BACKUP_RETENTION" default:"5d" desc:"delete own snapshots older than this (Go duration such as 120h, or whole days such as 5d)"`
	KeepMin         int           `envconfig:"ETCD_BACKUP_KEEP_MIN" default:"3" desc:"newest snapshots always kept per destination (at least 1)"`
	NamePrefix      string        `envconfig:"ETCD_BACKUP_NAME_PREFIX" default:"etcd-snapshot-" desc:"snapshot name prefix; only <prefix>YYYYMMDDTHHMMSSZ.db names are ever pruned"`
	DryRun          bool          `envconfig:"ETCD_BACKUP_DRY_RUN" default:"false" desc:"prune only reports what it would delete"`
	LogFormat       string        `envconfig:"ETCD_BACKUP_LOG_FORMAT" default:"json" desc:"json or text"`
	LogLevel        string        `envconfig:"ETCD_BACKUP_LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	WorkDir         string        `envconfig:"ETCD_BACKUP_WORK_DIR" default:"/tmp" desc:"scratch directory for verification, used only when no destination is a local directory"`
	PushgatewayURL  string        `envconfig:"ETCD_BACKUP_PUSHGATEWAY_URL" desc:"Pushgateway base URL (http:// or https://, no credentials); empty = no push. A failed push is only a warning"`
	MetricsFile     string        `envconfig:"ETCD_BACKUP_METRICS_FILE" desc:"node-exporter textfile-collector file (absolute path ending in .prom), replaced atomically; empty = none"`
	MetricsInstance string        `envconfig:"ETCD_BACKUP_METRICS_INSTANCE" desc:"Pushgateway grouping label instance; empty = this host's name"`
	RateLimit       ByteRate      `envconfig:"ETCD_BACKUP_RATE_LIMIT" default:"0" desc:"bytes per second the snapshot is received at, and so written to each local directory (e.g. 50MiB), for disks shared with etcd's WAL; 0 = no limit"`
	Nice            int           `envconfig:"ETCD_BACKUP_NICE" default:"10" desc:"CPU nice value of the run, 0 (unchanged) to 19; higher leaves more CPU to etcd"`
	IOPriority      string        `envconfig:"ETCD_BACKUP_IO_PRIORITY" default:"best-effort" desc:"I/O scheduling class of the run: best-effort (its lowest level), idle (only when the disk is otherwise idle) or none (unchanged)"`
	ProgressEvery   time.Duration `ignored:"true"`
	Sealing
}

// Error is a configuration error: the run must not start.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func invalid(name, value, accepted string) error {
	return &Error{msg: fmt.Sprintf("invalid %s_%s=%q: %s", Prefix, name, value, accepted)}
}

// Load reads the configuration from the process environment. The struct tags
// carry the full names and the prefix passed to envconfig is empty on
// purpose: with a prefix, envconfig also falls back to the bare names
// (KEY, USERNAME, PASSWORD, ...), which other software sets for its own use.
func Load() (Config, error) {
	c, err := load()
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

// LoadForDrill reads the configuration of the restore drill, which never
// reaches the cluster's etcd: its connection settings (and the certificate
// files, absent from the drill's pod) are not checked.
func LoadForDrill() (Config, error) {
	c, err := load()
	if err != nil {
		return c, err
	}
	for _, check := range []func() error{c.validateDestinations, c.validateRun, c.validateMetrics} {
		if err := check(); err != nil {
			return c, err
		}
	}
	return c, nil
}

func load() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return c, &Error{msg: fmt.Sprintf("invalid %s=%q: %v", pe.KeyName, pe.Value, acceptedFor(pe))}
		}
		return c, &Error{msg: fmt.Sprintf("reading configuration: %v", err)}
	}
	c.ProgressEvery = 5 * time.Second
	if c.MetricsInstance == "" {
		// With hostNetwork, the node's name: runs on different nodes push
		// to groups of their own.
		c.MetricsInstance, _ = os.Hostname()
	}
	return c, nil
}

// acceptedFor turns envconfig's conversion error into what is accepted.
func acceptedFor(pe *envconfig.ParseError) string {
	switch pe.TypeName {
	case "int":
		return "accepted: a whole number"
	case "bool":
		return "accepted: true or false"
	}
	return pe.Err.Error()
}

// Unknown lists ETCD_BACKUP_* variables in env that no setting reads, most
// likely typos. They are reported, not refused: Kubernetes itself may inject
// variables with this prefix for a Service of the same name.
func Unknown(env []string) []string {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
	}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, Prefix+"_") && !known[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Keys lists every variable name read.
func Keys() []string {
	var out []string
	for _, f := range fields() {
		out = append(out, f.key)
	}
	return out
}

var namePrefixRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate checks every value and cross-checks related ones.
func (c *Config) Validate() error {
	for _, check := range []func() error{c.validateEtcd, c.validateTimeouts, c.validateDestinations, c.validateRun, c.validateMetrics, c.validateSealing} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateEtcd checks how etcd is reached: endpoints, TLS files, user.
func (c *Config) validateEtcd() error {
	if err := c.validateEndpoints(); err != nil {
		return err
	}
	if (c.Cert == "") != (c.Key == "") {
		if c.Cert == "" {
			return invalid("CERT", c.Cert, "empty while ETCD_BACKUP_KEY is set; accepted: both CERT and KEY set, or both empty")
		}
		return invalid("KEY", c.Key, "empty while ETCD_BACKUP_CERT is set; accepted: both CERT and KEY set, or both empty")
	}
	if strings.HasPrefix(c.Endpoints[0], "http://") {
		for _, f := range []struct{ name, v string }{{"CACERT", c.CACert}, {"CERT", c.Cert}, {"KEY", c.Key}} {
			if f.v != "" {
				return invalid(f.name, f.v, "a TLS file is set but ETCD_BACKUP_ENDPOINTS uses http://; accepted: https:// endpoints, or CACERT, CERT and KEY all empty")
			}
		}
	}
	if err := c.validateTLSFiles(); err != nil {
		return err
	}
	if (c.Username == "") != (c.Password == "") {
		if c.Username == "" {
			return invalid("USERNAME", "", "empty while ETCD_BACKUP_PASSWORD is set; accepted: both set, or both empty")
		}
		return invalid("PASSWORD", "", "empty while ETCD_BACKUP_USERNAME is set; accepted: both set, or both empty")
	}
	return nil
}

// validateEndpoints accepts http(s)://host:port URLs, all of one scheme.
// Credentials in them are refused: an endpoint is shown in logs and in the
// summary, and etcd takes its user from USERNAME and PASSWORD.
func (c *Config) validateEndpoints() error {
	shown := func() string { return location.RedactText(strings.Join(c.Endpoints, ",")) }
	if len(c.Endpoints) == 0 {
		return invalid("ENDPOINTS", "", "accepted: one or more comma-separated URLs such as https://127.0.0.1:2379")
	}
	schemes := map[string]bool{}
	for i, ep := range c.Endpoints {
		ep = strings.TrimSpace(ep)
		c.Endpoints[i] = ep
		if err := listEntry("ENDPOINTS", shown, i, ep); err != nil {
			return err
		}
		u, err := url.Parse(ep)
		if err == nil && u.User != nil {
			return invalid("ENDPOINTS", shown(), "credentials in an endpoint URL are not accepted; accepted: http(s)://host:port, with ETCD_BACKUP_USERNAME and ETCD_BACKUP_PASSWORD for etcd authentication")
		}
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.Port() == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return invalid("ENDPOINTS", shown(), fmt.Sprintf("%q is not a client URL; accepted: http(s)://host:port, comma-separated", location.RedactText(ep)))
		}
		schemes[u.Scheme] = true
	}
	if len(schemes) > 1 {
		return invalid("ENDPOINTS", shown(), "mixes http:// and https://; accepted: all endpoints with the same scheme")
	}
	return nil
}

// listEntry refuses an empty entry of a comma-separated list, and one with
// a newline or another control character inside: a Helm "|" block value
// ends in a newline (trimmed, like other surrounding space) and puts one
// between lines, which would otherwise become part of a name.
func listEntry(name string, shown func() string, i int, v string) error {
	if v == "" {
		return invalid(name, shown(), "has an empty entry; accepted: entries separated by single commas")
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return invalid(name, shown(), fmt.Sprintf("entry %d contains a newline or another control character; accepted: entries separated by commas on one line (in Helm values, a plain string rather than a | block)", i+1))
	}
	return nil
}

// validateTLSFiles reads the TLS files: the CA bundle must hold
// certificates, CERT a certificate, KEY its private key. A wrong file
// would otherwise show only later, as an unknown authority or a refused
// handshake.
func (c *Config) validateTLSFiles() error {
	files := map[string][]byte{}
	for _, f := range []struct{ name, v string }{{"CACERT", c.CACert}, {"CERT", c.Cert}, {"KEY", c.Key}} {
		if f.v == "" {
			continue
		}
		if strings.ContainsFunc(f.v, unicode.IsControl) {
			return invalid(f.name, f.v, "contains a newline or another control character; accepted: a readable PEM file, or empty")
		}
		st, err := os.Stat(f.v)
		if err == nil && st.IsDir() {
			return invalid(f.name, f.v, "is a directory; accepted: a readable PEM file, or empty")
		}
		b, err := os.ReadFile(f.v)
		if err != nil {
			return invalid(f.name, f.v, fmt.Sprintf("cannot read it (%v); accepted: a readable PEM file, or empty", errors.Unwrap(err)))
		}
		files[f.name] = b
	}
	for _, name := range []string{"CACERT", "CERT"} {
		if b, ok := files[name]; ok {
			if err := pemCertificates(b); err != nil {
				v := c.CACert
				if name == "CERT" {
					v = c.Cert
				}
				return invalid(name, v, fmt.Sprintf("%v; accepted: a PEM file of CERTIFICATE blocks, or empty", err))
			}
		}
	}
	if c.Cert == "" {
		return nil
	}
	if !hasPrivateKey(files["KEY"]) {
		return invalid("KEY", c.Key, "holds no PEM private key; accepted: the PEM private key of ETCD_BACKUP_CERT, or empty")
	}
	if _, err := tls.X509KeyPair(files["CERT"], files["KEY"]); err != nil {
		return invalid("KEY", c.Key, fmt.Sprintf("is not the key of ETCD_BACKUP_CERT=%s (%v); accepted: the PEM private key of that certificate", c.Cert, err))
	}
	return nil
}

// pemCertificates checks that b holds at least one certificate and that
// every CERTIFICATE block in it parses.
func pemCertificates(b []byte) error {
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse (%v)", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("holds no PEM certificate")
	}
	return nil
}

func hasPrivateKey(b []byte) bool {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return false
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return true
		}
	}
}

func (c *Config) validateTimeouts() error {
	if c.DialTimeout <= 0 {
		return invalid("DIAL_TIMEOUT", c.DialTimeout.String(), "accepted: a positive Go duration such as 5s")
	}
	if c.SnapshotTimeout <= 0 {
		return invalid("SNAPSHOT_TIMEOUT", c.SnapshotTimeout.String(), "accepted: a positive Go duration such as 30m")
	}
	return nil
}

// validateRun checks retention, names, logging and the work directory.
func (c *Config) validateRun() error {
	if c.Retention <= 0 {
		return invalid("RETENTION", c.Retention.String(), "accepted: a positive Go duration such as 120h, or whole days such as 5d")
	}
	if c.KeepMin < 1 {
		return invalid("KEEP_MIN", strconv.Itoa(c.KeepMin), "accepted: a whole number of at least 1")
	}
	if !namePrefixRE.MatchString(c.NamePrefix) || len(c.NamePrefix) > 100 {
		return invalid("NAME_PREFIX", c.NamePrefix, "accepted: up to 100 letters, digits, '.', '_' or '-', not starting with '.', '_' or '-'")
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return invalid("LOG_FORMAT", c.LogFormat, "accepted: json or text")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return invalid("LOG_LEVEL", c.LogLevel, "accepted: debug, info, warn or error")
	}
	for _, f := range []struct{ name, v string }{{"WORK_DIR", c.WorkDir}, {"METRICS_FILE", c.MetricsFile}} {
		if strings.ContainsFunc(f.v, unicode.IsControl) {
			return invalid(f.name, f.v, "contains a newline or another control character; accepted: an absolute path on one line")
		}
	}
	if !filepath.IsAbs(c.WorkDir) {
		return invalid("WORK_DIR", c.WorkDir, "accepted: an absolute directory path")
	}
	return c.validatePriority()
}

// minRateLimit is the smallest rate limit accepted: below it even a small
// database would take longer than the default snapshot timeout.
const minRateLimit = 1 << 20

func (c *Config) validatePriority() error {
	if c.RateLimit != 0 && c.RateLimit < minRateLimit {
		return invalid("RATE_LIMIT", c.RateLimit.String(), "accepted: 0 (no limit) or at least 1MiB (bytes per second), such as 50MiB")
	}
	if c.Nice < 0 || c.Nice > 19 {
		return invalid("NICE", strconv.Itoa(c.Nice), "accepted: a whole number from 0 (unchanged) to 19")
	}
	switch c.IOPriority {
	case "none", "best-effort", "idle":
	default:
		return invalid("IO_PRIORITY", c.IOPriority, "accepted: best-effort, idle or none")
	}
	return nil
}

// validateMetrics checks where metrics go.
func (c *Config) validateMetrics() error {
	if c.PushgatewayURL != "" {
		const accepted = "accepted: http(s)://host[:port][/path] of a Pushgateway, without credentials, query or fragment, or empty"
		u, err := url.Parse(c.PushgatewayURL)
		if err != nil {
			return invalid("PUSHGATEWAY_URL", location.RedactText(c.PushgatewayURL), "not a URL; "+accepted)
		}
		switch {
		case u.User != nil:
			// Shown without them: they hold a password.
			return invalid("PUSHGATEWAY_URL", location.RedactText(c.PushgatewayURL), "has credentials in it; "+accepted)
		case u.Scheme != "http" && u.Scheme != "https", u.Hostname() == "", u.RawQuery != "", u.Fragment != "", u.Opaque != "":
			return invalid("PUSHGATEWAY_URL", location.RedactText(c.PushgatewayURL), accepted)
		}
		if c.MetricsInstance == "" {
			return invalid("METRICS_INSTANCE", "", "empty and the host name is unknown; accepted: a name for this backup's Pushgateway group, such as the node name")
		}
	}
	if c.MetricsFile != "" {
		if !filepath.IsAbs(c.MetricsFile) || !strings.HasSuffix(c.MetricsFile, ".prom") || strings.HasSuffix(c.MetricsFile, "/.prom") {
			return invalid("METRICS_FILE", c.MetricsFile, "accepted: an absolute file path ending in .prom (node-exporter's textfile collector reads only *.prom), or empty")
		}
	}
	return nil
}

// validateDestinations reads every destination as the run will open it,
// and refuses one directory listed twice, however it is spelled (a path or
// a file:// URL, trailing slashes, .., symlinks).
func (c *Config) validateDestinations() error {
	shown := func() string { return location.RedactText(strings.Join(c.Destinations, ",")) }
	if len(c.Destinations) == 0 {
		return invalid("DESTINATIONS", "", "accepted: one or more comma-separated absolute paths or URLs (s3://, gs://, azblob://, file://)")
	}
	seen := map[string]string{}
	for i, d := range c.Destinations {
		d = strings.TrimSpace(d)
		c.Destinations[i] = d
		if err := listEntry("DESTINATIONS", shown, i, d); err != nil {
			return err
		}
		spec, err := location.Parse(d)
		if err != nil {
			return invalid("DESTINATIONS", shown(), fmt.Sprintf("entry %q: %v", location.RedactText(d), err))
		}
		if spec.Local() {
			c.Destinations[i] = spec.Dir
		}
		key, err := sameness(spec)
		if err != nil {
			return invalid("DESTINATIONS", shown(), fmt.Sprintf("entry %q: %v", location.RedactText(d), err))
		}
		if other, dup := seen[key]; dup {
			same := "the same destination"
			if dir := spec.Directory(); dir != "" {
				same = "the same directory " + key
			}
			return invalid("DESTINATIONS", shown(), fmt.Sprintf("%q and %q are %s; accepted: each destination once",
				other, location.RedactText(d), same))
		}
		seen[key] = location.RedactText(d)
	}
	return nil
}

// sameness is what two specs of one destination have in common: the
// directory with its symlinks resolved, or the bucket and key prefix.
func sameness(spec location.Spec) (string, error) {
	dir := spec.Directory()
	if dir == "" {
		// The bucket URL has its parameters in a fixed order.
		return spec.Bucket.String() + " " + spec.Prefix, nil
	}
	real, err := location.Resolve(dir)
	if err != nil {
		return "", err
	}
	if real == "/" {
		return "", fmt.Errorf("resolves to the root directory /; accepted: an absolute directory path below /")
	}
	return real, nil
}

type field struct{ key, def, desc string }

func fields() []field { return fieldsOf(reflect.TypeOf(Config{})) }

func fieldsOf(t reflect.Type) []field {
	out := make([]field, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, fieldsOf(f.Type)...)
			continue
		}
		tag := t.Field(i).Tag
		if tag.Get("envconfig") == "" {
			continue
		}
		out = append(out, field{key: tag.Get("envconfig"), def: tag.Get("default"), desc: tag.Get("desc")})
	}
	return out
}

// Usage writes the list of variables with their defaults.
func Usage(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, f := range fields() {
		def := f.def
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.key, def, f.desc)
	}
	_ = tw.Flush()
}

// Duration is a time.Duration read from a Go duration string.
type Duration time.Duration

// Decode implements envconfig.Decoder.
func (d *Duration) Decode(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a duration; accepted: a Go duration such as 30s, 5m or 1h30m")
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// ByteRate is bytes per second, read from a whole number of bytes or a
// size such as 50MiB or 50MB (an optional "/s" is allowed).
type ByteRate int64

// Decode implements envconfig.Decoder.
func (r *ByteRate) Decode(s string) error {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	n, err := humanize.ParseBytes(s)
	if err != nil || n > 1<<50 {
		return errors.New("not a rate; accepted: 0 (no limit) or bytes per second such as 52428800, 50MiB or 50MB")
	}
	*r = ByteRate(n)
	return nil
}

func (r ByteRate) String() string {
	if r == 0 {
		return "0"
	}
	return humanize.IBytes(uint64(r)) + "/s"
}

// Retention is a time.Duration read from a Go duration or whole days ("5d").
type Retention time.Duration

var daysRE = regexp.MustCompile(`^([0-9]+)d$`)

// Decode implements envconfig.Decoder.
func (r *Retention) Decode(s string) error {
	s = strings.TrimSpace(s)
	const accepted = "accepted: a Go duration such as 120h, or whole days such as 5d"
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return errors.New("too many days; " + accepted)
		}
		*r = Retention(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration; " + accepted)
	}
	*r = Retention(v)
	return nil
}

func (r Retention) String() string {
	d := time.Duration(r)
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
