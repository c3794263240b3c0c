package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// certs are a CA, client and server certificates with their keys, made
// once for every test.
var certs = sync.OnceValues(func() (etcdtest.Certs, error) {
	dir, err := os.MkdirTemp("", "config-test-certs-")
	if err != nil {
		return etcdtest.Certs{}, err
	}
	return etcdtest.GenerateCerts(dir)
})

func TestMain(m *testing.M) {
	code := m.Run()
	if c, err := certs(); err == nil {
		os.RemoveAll(c.Dir)
	}
	os.Exit(code)
}

// setEnv clears every ETCD_BACKUP_ variable, points the TLS files at real
// PEM files, then applies env; "{certs}" in a value is the directory of the
// test certificates.
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	testkit.ClearEnv(t, "ETCD_BACKUP_")
	c, err := certs()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ETCD_BACKUP_CACERT", c.CA)
	t.Setenv("ETCD_BACKUP_CERT", c.ClientCert)
	t.Setenv("ETCD_BACKUP_KEY", c.ClientKey)
	for k, v := range env {
		t.Setenv(k, strings.ReplaceAll(v, "{certs}", c.Dir))
	}
}

// writeFile writes content to name in a new temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	setEnv(t, nil)
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Endpoints, []string{"https://127.0.0.1:2379"}) ||
		!reflect.DeepEqual(c.Destinations, []string{"/backup/host"}) ||
		time.Duration(c.Retention) != 5*24*time.Hour || c.KeepMin != 3 || c.NamePrefix != "etcd-snapshot-" ||
		time.Duration(c.DialTimeout) != 5*time.Second || time.Duration(c.SnapshotTimeout) != 30*time.Minute ||
		c.DryRun || c.LogFormat != "json" || c.LogLevel != "info" ||
		c.RateLimit != 0 || c.Nice != 10 || c.IOPriority != "best-effort" || c.ProgressEvery != 5*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestGoodValues(t *testing.T) {
	setEnv(t, map[string]string{
		"ETCD_BACKUP_ENDPOINTS":    "https://10.0.0.1:2379, https://10.0.0.2:2379",
		"ETCD_BACKUP_DESTINATIONS": "/backup/host/,/backup/pvc,s3://bucket/etcd/prod?region=eu-west-1,file:///var/backups",
		"ETCD_BACKUP_RETENTION":    "36h",
		"ETCD_BACKUP_KEEP_MIN":     "1",
		"ETCD_BACKUP_DRY_RUN":      "true",
		"ETCD_BACKUP_USERNAME":     "root",
		"ETCD_BACKUP_PASSWORD":     "secret",
		"ETCD_BACKUP_RATE_LIMIT":   "50MiB/s",
		"ETCD_BACKUP_NICE":         "19",
		"ETCD_BACKUP_IO_PRIORITY":  "idle",
	})
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit != 50<<20 || c.Nice != 19 || c.IOPriority != "idle" {
		t.Fatalf("rate limit %d, nice %d, I/O priority %q", c.RateLimit, c.Nice, c.IOPriority)
	}
	if c.Destinations[0] != "/backup/host" || len(c.Destinations) != 4 || time.Duration(c.Retention) != 36*time.Hour || !c.DryRun {
		t.Fatalf("got %+v", c)
	}
	if c.Endpoints[1] != "https://10.0.0.2:2379" {
		t.Fatalf("endpoints %q", c.Endpoints)
	}
}

// TestLimits: values at the edge of what is accepted.
func TestLimits(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		check func(config.Config) bool
	}{
		{"endpoint with a trailing slash", map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1:2379/"},
			func(c config.Config) bool { return c.Endpoints[0] == "https://127.0.0.1:2379/" }},
		{"100000 days", map[string]string{"ETCD_BACKUP_RETENTION": "100000d"},
			func(c config.Config) bool { return time.Duration(c.Retention) == 100000*24*time.Hour }},
		{"prefix of 100 characters", map[string]string{"ETCD_BACKUP_NAME_PREFIX": strings.Repeat("a", 100)},
			func(c config.Config) bool { return len(c.NamePrefix) == 100 }},
		{"dial timeout of a millisecond", map[string]string{"ETCD_BACKUP_DIAL_TIMEOUT": "1ms"},
			func(c config.Config) bool { return time.Duration(c.DialTimeout) == time.Millisecond }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setEnv(t, c.env)
			got, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(got) {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestRetentionString(t *testing.T) {
	for _, c := range []struct {
		r    time.Duration
		want string
	}{
		{48 * time.Hour, "2d"},
		{24 * time.Hour, "1d"},
		{36 * time.Hour, "36h0m0s"},
		{90 * time.Minute, "1h30m0s"},
		{0, "0s"},
		{-48 * time.Hour, "-48h0m0s"},
	} {
		if got := config.Retention(c.r).String(); got != c.want {
			t.Errorf("Retention(%v).String() = %q, want %q", c.r, got, c.want)
		}
	}
}

func TestBadValues(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string // every string must appear in the one-line error
	}{
		{map[string]string{"ETCD_BACKUP_ENDPOINTS": ""}, []string{"ETCD_BACKUP_ENDPOINTS", "accepted"}},
		{map[string]string{"ETCD_BACKUP_ENDPOINTS": "127.0.0.1:2379"}, []string{"ETCD_BACKUP_ENDPOINTS", `"127.0.0.1:2379"`, "http(s)://host:port"}},
		{map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1"}, []string{"ETCD_BACKUP_ENDPOINTS", "host:port"}},
		{map[string]string{"ETCD_BACKUP_ENDPOINTS": "unix:///run/etcd.sock"}, []string{"ETCD_BACKUP_ENDPOINTS"}},
		{map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://a:2379,http://b:2379"}, []string{"ETCD_BACKUP_ENDPOINTS", "mixes"}},
		{map[string]string{"ETCD_BACKUP_ENDPOINTS": "http://127.0.0.1:2379"}, []string{"ETCD_BACKUP_CACERT", "http://"}},
		{map[string]string{"ETCD_BACKUP_CACERT": "/nonexistent/ca.crt"}, []string{"ETCD_BACKUP_CACERT", "/nonexistent/ca.crt", "no such file"}},
		{map[string]string{"ETCD_BACKUP_CERT": "/nonexistent/c.crt"}, []string{"ETCD_BACKUP_CERT", "/nonexistent/c.crt"}},
		{map[string]string{"ETCD_BACKUP_KEY": ""}, []string{"invalid ETCD_BACKUP_KEY=", "both CERT and KEY"}},
		{map[string]string{"ETCD_BACKUP_CERT": ""}, []string{"invalid ETCD_BACKUP_CERT=", "both CERT and KEY"}},
		{map[string]string{"ETCD_BACKUP_CACERT": "/"}, []string{"ETCD_BACKUP_CACERT", "directory"}},
		{map[string]string{"ETCD_BACKUP_USERNAME": "root"}, []string{"invalid ETCD_BACKUP_PASSWORD=", "both set"}},
		{map[string]string{"ETCD_BACKUP_PASSWORD": "hunter2"}, []string{"invalid ETCD_BACKUP_USERNAME=", "both set"}},
		{map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1:2379/v3"}, []string{"ETCD_BACKUP_ENDPOINTS", "host:port"}},
		{map[string]string{"ETCD_BACKUP_DIAL_TIMEOUT": "0s"}, []string{"ETCD_BACKUP_DIAL_TIMEOUT", "positive"}},
		{map[string]string{"ETCD_BACKUP_RETENTION": "100001d"}, []string{"ETCD_BACKUP_RETENTION", "too many days"}},
		{map[string]string{"ETCD_BACKUP_NAME_PREFIX": strings.Repeat("a", 101)}, []string{"ETCD_BACKUP_NAME_PREFIX", "up to 100"}},
		{map[string]string{"ETCD_BACKUP_DIAL_TIMEOUT": "5"}, []string{"ETCD_BACKUP_DIAL_TIMEOUT", `"5"`, "Go duration"}},
		{map[string]string{"ETCD_BACKUP_DIAL_TIMEOUT": "-1s"}, []string{"ETCD_BACKUP_DIAL_TIMEOUT", "positive"}},
		{map[string]string{"ETCD_BACKUP_SNAPSHOT_TIMEOUT": "0s"}, []string{"ETCD_BACKUP_SNAPSHOT_TIMEOUT", "positive"}},
		{map[string]string{"ETCD_BACKUP_SNAPSHOT_TIMEOUT": "forever"}, []string{"ETCD_BACKUP_SNAPSHOT_TIMEOUT", "forever"}},
		{map[string]string{"ETCD_BACKUP_DESTINATIONS": ""}, []string{"ETCD_BACKUP_DESTINATIONS", "one or more"}},
		{map[string]string{"ETCD_BACKUP_DESTINATIONS": "backup/host"}, []string{"ETCD_BACKUP_DESTINATIONS", "absolute path"}},
		{map[string]string{"ETCD_BACKUP_DESTINATIONS": "/"}, []string{"ETCD_BACKUP_DESTINATIONS", "root directory"}},
		{map[string]string{"ETCD_BACKUP_DESTINATIONS": "/a,,/b"}, []string{"ETCD_BACKUP_DESTINATIONS", "empty entry"}},
		{map[string]string{"ETCD_BACKUP_DESTINATIONS": "/a,/a/"}, []string{"ETCD_BACKUP_DESTINATIONS", "the same directory /a"}},
		{map[string]string{"ETCD_BACKUP_DESTINATIONS": "ftp://host/dir"}, []string{"ETCD_BACKUP_DESTINATIONS", `"ftp"`, "s3://"}},
		{map[string]string{"ETCD_BACKUP_DESTINATIONS": "s3:///prefix"}, []string{"ETCD_BACKUP_DESTINATIONS", "bucket name missing"}},
		{map[string]string{"ETCD_BACKUP_DESTINATIONS": "file://relative/dir"}, []string{"ETCD_BACKUP_DESTINATIONS", "file:///path/to/dir"}},
		{map[string]string{"ETCD_BACKUP_RETENTION": "5 days"}, []string{"ETCD_BACKUP_RETENTION", `"5 days"`, "5d"}},
		{map[string]string{"ETCD_BACKUP_RETENTION": "-5d"}, []string{"ETCD_BACKUP_RETENTION", "5d"}},
		{map[string]string{"ETCD_BACKUP_RETENTION": "-1h"}, []string{"ETCD_BACKUP_RETENTION", "positive"}},
		{map[string]string{"ETCD_BACKUP_RETENTION": "0d"}, []string{"ETCD_BACKUP_RETENTION", "positive"}},
		{map[string]string{"ETCD_BACKUP_RETENTION": "1.5d"}, []string{"ETCD_BACKUP_RETENTION", "whole days"}},
		{map[string]string{"ETCD_BACKUP_KEEP_MIN": "0"}, []string{"ETCD_BACKUP_KEEP_MIN", `"0"`, "at least 1"}},
		{map[string]string{"ETCD_BACKUP_KEEP_MIN": "three"}, []string{"ETCD_BACKUP_KEEP_MIN", `"three"`, "whole number"}},
		{map[string]string{"ETCD_BACKUP_NAME_PREFIX": ""}, []string{"ETCD_BACKUP_NAME_PREFIX", "letters"}},
		{map[string]string{"ETCD_BACKUP_NAME_PREFIX": "../etcd-"}, []string{"ETCD_BACKUP_NAME_PREFIX", `"../etcd-"`}},
		{map[string]string{"ETCD_BACKUP_NAME_PREFIX": "a/b-"}, []string{"ETCD_BACKUP_NAME_PREFIX"}},
		{map[string]string{"ETCD_BACKUP_NAME_PREFIX": ".hidden-"}, []string{"ETCD_BACKUP_NAME_PREFIX"}},
		{map[string]string{"ETCD_BACKUP_DRY_RUN": "maybe"}, []string{"ETCD_BACKUP_DRY_RUN", `"maybe"`, "true or false"}},
		{map[string]string{"ETCD_BACKUP_LOG_FORMAT": "xml"}, []string{"ETCD_BACKUP_LOG_FORMAT", "json or text"}},
		{map[string]string{"ETCD_BACKUP_LOG_LEVEL": "verbose"}, []string{"ETCD_BACKUP_LOG_LEVEL", "debug, info, warn or error"}},
		{map[string]string{"ETCD_BACKUP_WORK_DIR": "tmp"}, []string{"ETCD_BACKUP_WORK_DIR", "absolute"}},
		{map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "pushgateway:9091"}, []string{"ETCD_BACKUP_PUSHGATEWAY_URL", "http(s)://host"}},
		{map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "ftp://pushgateway:9091"}, []string{"ETCD_BACKUP_PUSHGATEWAY_URL", `"ftp://pushgateway:9091"`, "http(s)://host"}},
		{map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "http://"}, []string{"ETCD_BACKUP_PUSHGATEWAY_URL", "http(s)://host"}},
		{map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "http://pgw:9091/?x=1"}, []string{"ETCD_BACKUP_PUSHGATEWAY_URL", "without credentials, query"}},
		{map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "http://pgw:9091/#top"}, []string{"ETCD_BACKUP_PUSHGATEWAY_URL", "fragment"}},
		{map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "https://user:hunter2@pgw:9091"}, []string{"ETCD_BACKUP_PUSHGATEWAY_URL", `"https://pgw:9091"`, "credentials"}},
		{map[string]string{"ETCD_BACKUP_METRICS_FILE": "etcd_backup.prom"}, []string{"ETCD_BACKUP_METRICS_FILE", "absolute file path ending in .prom"}},
		{map[string]string{"ETCD_BACKUP_METRICS_FILE": "/var/lib/node_exporter/etcd_backup.txt"}, []string{"ETCD_BACKUP_METRICS_FILE", ".prom"}},
		{map[string]string{"ETCD_BACKUP_METRICS_FILE": "/var/lib/node_exporter/"}, []string{"ETCD_BACKUP_METRICS_FILE", ".prom"}},
		{map[string]string{"ETCD_BACKUP_RATE_LIMIT": "fast"}, []string{"ETCD_BACKUP_RATE_LIMIT", `"fast"`, "50MiB"}},
		{map[string]string{"ETCD_BACKUP_RATE_LIMIT": "-5MiB"}, []string{"ETCD_BACKUP_RATE_LIMIT", "bytes per second"}},
		{map[string]string{"ETCD_BACKUP_RATE_LIMIT": "1000"}, []string{"ETCD_BACKUP_RATE_LIMIT", "at least 1MiB"}},
		{map[string]string{"ETCD_BACKUP_NICE": "-5"}, []string{"ETCD_BACKUP_NICE", `"-5"`, "0 (unchanged) to 19"}},
		{map[string]string{"ETCD_BACKUP_NICE": "20"}, []string{"ETCD_BACKUP_NICE", "0 (unchanged) to 19"}},
		{map[string]string{"ETCD_BACKUP_NICE": "low"}, []string{"ETCD_BACKUP_NICE", "whole number"}},
		{map[string]string{"ETCD_BACKUP_IO_PRIORITY": "realtime"}, []string{"ETCD_BACKUP_IO_PRIORITY", `"realtime"`, "best-effort, idle or none"}},
	}
	for _, c := range cases {
		var name string
		for k, v := range c.env {
			name = strings.TrimPrefix(k, "ETCD_BACKUP_") + "=" + v
		}
		t.Run(name, func(t *testing.T) {
			setEnv(t, c.env)
			_, err := config.Load()
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a configuration error", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

func TestPasswordNeverInError(t *testing.T) {
	setEnv(t, map[string]string{"ETCD_BACKUP_PASSWORD": "hunter2-secret"})
	_, err := config.Load()
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestPushgatewayCredentialsNeverInError(t *testing.T) {
	setEnv(t, map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "https://backup:hunter2-secret@pgw.example:9091"})
	_, err := config.Load()
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestMetricsSettings(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		env          map[string]string
		wantInstance string
	}{
		{"instance defaults to the host name", map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "http://127.0.0.1:9091"}, host},
		{"instance set", map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "https://pgw.example/prefix/", "ETCD_BACKUP_METRICS_INSTANCE": "prod-cp-1"}, "prod-cp-1"},
		{"textfile only", map[string]string{"ETCD_BACKUP_METRICS_FILE": "/var/lib/node_exporter/etcd_backup.prom"}, host},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			c, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			if c.PushgatewayURL != tc.env["ETCD_BACKUP_PUSHGATEWAY_URL"] || c.MetricsFile != tc.env["ETCD_BACKUP_METRICS_FILE"] || c.MetricsInstance != tc.wantInstance {
				t.Errorf("pushgateway %q, file %q, instance %q; want %q, %q, %q", c.PushgatewayURL, c.MetricsFile, c.MetricsInstance,
					tc.env["ETCD_BACKUP_PUSHGATEWAY_URL"], tc.env["ETCD_BACKUP_METRICS_FILE"], tc.wantInstance)
			}
		})
	}
}

func TestBareNamesIgnored(t *testing.T) {
	// envconfig would read KEY or USERNAME without the prefix if asked to.
	setEnv(t, map[string]string{"USERNAME": "someone", "RETENTION": "1h", "KEEP_MIN": "9"})
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Username != "" || time.Duration(c.Retention) != 120*time.Hour || c.KeepMin != 3 {
		t.Fatalf("bare variables were read: %+v", c)
	}
}

func TestUnknownVariables(t *testing.T) {
	got := config.Unknown([]string{"ETCD_BACKUP_RETENTON=1d", "ETCD_BACKUP_RETENTION=1d", "PATH=/bin", "ETCD_BACKUP_KEEPMIN=2"})
	if !reflect.DeepEqual(got, []string{"ETCD_BACKUP_KEEPMIN", "ETCD_BACKUP_RETENTON"}) {
		t.Fatalf("unknown = %v", got)
	}
}

// TestUsageListsEveryVariable checks Keys and Usage against the contract's
// list of variables and defaults, written out here rather than derived from
// the same struct tags.
func TestUsageListsEveryVariable(t *testing.T) {
	want := []struct{ key, def string }{
		{"ETCD_BACKUP_ENDPOINTS", "https://127.0.0.1:2379"},
		{"ETCD_BACKUP_CACERT", "/etc/kubernetes/pki/etcd/ca.crt"},
		{"ETCD_BACKUP_CERT", "/etc/kubernetes/pki/etcd/server.crt"},
		{"ETCD_BACKUP_KEY", "/etc/kubernetes/pki/etcd/server.key"},
		{"ETCD_BACKUP_USERNAME", "(empty)"},
		{"ETCD_BACKUP_PASSWORD", "(empty)"},
		{"ETCD_BACKUP_DIAL_TIMEOUT", "5s"},
		{"ETCD_BACKUP_SNAPSHOT_TIMEOUT", "30m"},
		{"ETCD_BACKUP_DESTINATIONS", "/backup/host"},
		{"ETCD_BACKUP_RETENTION", "5d"},
		{"ETCD_BACKUP_KEEP_MIN", "3"},
		{"ETCD_BACKUP_NAME_PREFIX", "etcd-snapshot-"},
		{"ETCD_BACKUP_DRY_RUN", "false"},
		{"ETCD_BACKUP_LOG_FORMAT", "json"},
		{"ETCD_BACKUP_LOG_LEVEL", "info"},
		{"ETCD_BACKUP_WORK_DIR", "/tmp"},
		{"ETCD_BACKUP_PUSHGATEWAY_URL", "(empty)"},
		{"ETCD_BACKUP_METRICS_FILE", "(empty)"},
		{"ETCD_BACKUP_METRICS_INSTANCE", "(empty)"},
		{"ETCD_BACKUP_RATE_LIMIT", "0"},
		{"ETCD_BACKUP_NICE", "10"},
		{"ETCD_BACKUP_IO_PRIORITY", "best-effort"},
		{"ETCD_BACKUP_COMPRESSION", "none"},
		{"ETCD_BACKUP_COMPRESSION_LEVEL", "3"},
		{"ETCD_BACKUP_ENCRYPT_RECIPIENTS", "(empty)"},
		{"ETCD_BACKUP_ENCRYPT_RECIPIENTS_FILE", "(empty)"},
		{"ETCD_BACKUP_IDENTITY_FILE", "(empty)"},
		{"ETCD_BACKUP_BUNDLE_PATHS", "(empty)"},
		{"ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT", "false"},
	}
	var keys []string
	for _, w := range want {
		keys = append(keys, w.key)
	}
	if got := config.Keys(); !reflect.DeepEqual(got, keys) {
		t.Errorf("Keys() = %v\nwant %v", got, keys)
	}
	var b strings.Builder
	config.Usage(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(want)+1 || strings.Fields(lines[0])[0] != "VARIABLE" {
		t.Fatalf("usage is not a header and %d variables:\n%s", len(want), b.String())
	}
	for i, w := range want {
		f := strings.Fields(lines[i+1])
		if len(f) < 3 || f[0] != w.key || f[1] != w.def {
			t.Errorf("usage line %q, want %s with default %s and a meaning", lines[i+1], w.key, w.def)
		}
	}
}

// TestRefusedBeforeAnyWork covers values that used to pass the
// configuration and fail (or do harm) only later in the run: each must be
// refused here, naming the variable, without showing a credential.
func TestRefusedBeforeAnyWork(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	notPEM := writeFile(t, "not.pem", "this is not PEM\n")
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"credentials in an endpoint", map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://root:" + secret + "@127.0.0.1:2379"},
			[]string{"ETCD_BACKUP_ENDPOINTS", "credentials", "ETCD_BACKUP_USERNAME"}},
		{"credentials in a second endpoint", map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://a:2379,https://root:" + secret + "@b:2379"},
			[]string{"ETCD_BACKUP_ENDPOINTS", "credentials", "https://a:2379,https://b:2379"}},
		{"credentials in an endpoint without port", map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://root:" + secret + "@127.0.0.1"},
			[]string{"ETCD_BACKUP_ENDPOINTS", "credentials"}},
		{"a query on an endpoint", map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1:2379?token=" + secret},
			[]string{"ETCD_BACKUP_ENDPOINTS", "not a client URL"}},
		{"credentials in a destination", map[string]string{"ETCD_BACKUP_DESTINATIONS": "/backup/host,s3://AKIA:" + secret + "@bucket/etcd"},
			[]string{"ETCD_BACKUP_DESTINATIONS", "credentials in the URL are not accepted", "s3://bucket/etcd"}},
		{"a secret destination parameter", map[string]string{"ETCD_BACKUP_DESTINATIONS": "s3://bucket?aws_secret_access_key=" + secret},
			[]string{"ETCD_BACKUP_DESTINATIONS", `unknown query parameter "aws_secret_access_key"`}},
		{"credentials in a destination endpoint", map[string]string{"ETCD_BACKUP_DESTINATIONS": "s3://bucket?endpoint=http://u:" + secret + "@minio:9000"},
			[]string{"ETCD_BACKUP_DESTINATIONS", "without credentials"}},
		{"file:///", map[string]string{"ETCD_BACKUP_DESTINATIONS": "file:///"}, []string{"ETCD_BACKUP_DESTINATIONS", "root directory"}},
		{"file:////", map[string]string{"ETCD_BACKUP_DESTINATIONS": "file:////"}, []string{"ETCD_BACKUP_DESTINATIONS", "root directory"}},
		{"file:///x/..", map[string]string{"ETCD_BACKUP_DESTINATIONS": "file:///x/.."}, []string{"ETCD_BACKUP_DESTINATIONS", "root directory"}},
		{"/x/..//", map[string]string{"ETCD_BACKUP_DESTINATIONS": "/x/..//"}, []string{"ETCD_BACKUP_DESTINATIONS", "root directory"}},
		{"file://localhost/", map[string]string{"ETCD_BACKUP_DESTINATIONS": "file://localhost/"}, []string{"ETCD_BACKUP_DESTINATIONS", "root directory"}},
		{"mem://", map[string]string{"ETCD_BACKUP_DESTINATIONS": "mem://"}, []string{"ETCD_BACKUP_DESTINATIONS", `unsupported scheme "mem"`}},
		{"mem:// with a bucket", map[string]string{"ETCD_BACKUP_DESTINATIONS": "/a,mem://bucket/etcd"}, []string{"ETCD_BACKUP_DESTINATIONS", `unsupported scheme "mem"`}},
		{"a newline inside", map[string]string{"ETCD_BACKUP_DESTINATIONS": "/backup/host\n/backup/pvc"},
			[]string{"ETCD_BACKUP_DESTINATIONS", `"/backup/host\n/backup/pvc"`, "entry 1 contains a newline", "commas"}},
		{"a tab inside", map[string]string{"ETCD_BACKUP_DESTINATIONS": "/a,/b\tc"}, []string{"ETCD_BACKUP_DESTINATIONS", "entry 2 contains a newline or another control character"}},
		{"a newline in the work directory", map[string]string{"ETCD_BACKUP_WORK_DIR": "/tmp\n"}, []string{"ETCD_BACKUP_WORK_DIR", `"/tmp\n"`, "control character"}},
		{"a newline in the metrics file", map[string]string{"ETCD_BACKUP_METRICS_FILE": "/var/lib/node-exporter/etcd\n.prom"}, []string{"ETCD_BACKUP_METRICS_FILE", "control character"}},
		{"a newline inside an endpoint", map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://a:2379\nhttps://b:2379"},
			[]string{"ETCD_BACKUP_ENDPOINTS", "entry 1 contains a newline"}},
		{"a path and its file URL", map[string]string{"ETCD_BACKUP_DESTINATIONS": "/x,file:///x"}, []string{"ETCD_BACKUP_DESTINATIONS", `"/x" and "file:///x" are the same directory /x`}},
		{"a file URL with a trailing slash", map[string]string{"ETCD_BACKUP_DESTINATIONS": "file:///x/y/,/x/y"}, []string{"ETCD_BACKUP_DESTINATIONS", "the same directory /x/y"}},
		{"a file URL on localhost", map[string]string{"ETCD_BACKUP_DESTINATIONS": "file://localhost/x/y,/x/z/../y"}, []string{"ETCD_BACKUP_DESTINATIONS", "the same directory /x/y"}},
		{"a symlink and its target", map[string]string{"ETCD_BACKUP_DESTINATIONS": "{certs}/../link/sub,{certs}/sub"}, []string{"ETCD_BACKUP_DESTINATIONS", "the same directory"}},
		{"a symlink to the root", map[string]string{"ETCD_BACKUP_DESTINATIONS": "{certs}/../rootlink"}, []string{"ETCD_BACKUP_DESTINATIONS", "resolves to the root directory"}},
		{"a bucket twice", map[string]string{"ETCD_BACKUP_DESTINATIONS": "s3://b/etcd?region=r&use_path_style=true,s3://b/etcd/?use_path_style=true&region=r"},
			[]string{"ETCD_BACKUP_DESTINATIONS", "are the same destination"}},
		{"a CA that is not PEM", map[string]string{"ETCD_BACKUP_CACERT": notPEM}, []string{"ETCD_BACKUP_CACERT", notPEM, "holds no PEM certificate"}},
		{"a CA that is a key", map[string]string{"ETCD_BACKUP_CACERT": "{certs}/ca.key"}, []string{"ETCD_BACKUP_CACERT", "holds no PEM certificate"}},
		{"a CA that does not parse", map[string]string{"ETCD_BACKUP_CACERT": writeFile(t, "bad.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
			[]string{"ETCD_BACKUP_CACERT", "certificate 1 does not parse"}},
		{"a client certificate that is not PEM", map[string]string{"ETCD_BACKUP_CERT": notPEM}, []string{"ETCD_BACKUP_CERT", "holds no PEM certificate"}},
		{"a client certificate that is a key", map[string]string{"ETCD_BACKUP_CERT": "{certs}/client.key"}, []string{"ETCD_BACKUP_CERT", "holds no PEM certificate"}},
		{"a key that is not PEM", map[string]string{"ETCD_BACKUP_KEY": notPEM}, []string{"ETCD_BACKUP_KEY", "holds no PEM private key"}},
		{"a key that is a certificate", map[string]string{"ETCD_BACKUP_KEY": "{certs}/client.crt"}, []string{"ETCD_BACKUP_KEY", "holds no PEM private key"}},
		{"a key of another certificate", map[string]string{"ETCD_BACKUP_KEY": "{certs}/server.key"}, []string{"ETCD_BACKUP_KEY", "is not the key of ETCD_BACKUP_CERT", "client.crt"}},
	}
	c, err := certs()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(c.Dir, filepath.Join(c.Dir, "..", "link")); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(c.Dir, "..", "rootlink")); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, l := range []string{"link", "rootlink"} {
			if err := os.Remove(filepath.Join(c.Dir, "..", l)); err != nil {
				t.Error(err)
			}
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			_, err := config.Load()
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a configuration error", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error shows the secret: %s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, strings.ReplaceAll(w, "{certs}", c.Dir)) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// TestSurroundingSpaceTrimmed: a Helm | block ends in a newline; around an
// entry it is trimmed like other space, so the value means what it shows.
func TestSurroundingSpaceTrimmed(t *testing.T) {
	setEnv(t, map[string]string{"ETCD_BACKUP_DESTINATIONS": "/backup/host\n", "ETCD_BACKUP_ENDPOINTS": " https://127.0.0.1:2379\n"})
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Destinations, []string{"/backup/host"}) || !reflect.DeepEqual(c.Endpoints, []string{"https://127.0.0.1:2379"}) {
		t.Fatalf("destinations %q, endpoints %q", c.Destinations, c.Endpoints)
	}
}

// TestLoadForDrill: the drill never reaches etcd, so its pod has no etcd
// certificates; everything it does use is still checked.
func TestLoadForDrill(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.crt")
	cases := []struct {
		name        string
		env         map[string]string
		load, drill string // the error each loader must give; empty for none
	}{
		{name: "certificates absent", env: map[string]string{"ETCD_BACKUP_CACERT": missing, "ETCD_BACKUP_CERT": missing, "ETCD_BACKUP_KEY": missing},
			load: "ETCD_BACKUP_CACERT"},
		{name: "bad destination", env: map[string]string{"ETCD_BACKUP_DESTINATIONS": "relative/dir"}, load: "DESTINATIONS", drill: "DESTINATIONS"},
		{name: "bad pushgateway", env: map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": "ftp://pgw"}, load: "PUSHGATEWAY_URL", drill: "PUSHGATEWAY_URL"},
		{name: "bad log format", env: map[string]string{"ETCD_BACKUP_LOG_FORMAT": "xml"}, load: "LOG_FORMAT", drill: "LOG_FORMAT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			for _, l := range []struct {
				name string
				fn   func() (config.Config, error)
				want string
			}{{"Load", config.Load, tc.load}, {"LoadForDrill", config.LoadForDrill, tc.drill}} {
				_, err := l.fn()
				if (l.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), l.want)) {
					t.Errorf("%s: %v, want an error naming %q", l.name, err, l.want)
				}
			}
		})
	}
}
