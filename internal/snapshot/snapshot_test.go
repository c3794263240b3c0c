package snapshot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/faults"
	"github.com/etcd-backup/etcd-backup/internal/retry"
	"github.com/etcd-backup/etcd-backup/internal/snapshot"
)

// startEtcd runs a real etcd that requires client certificates, with size
// bytes of values in it.
func startEtcd(t *testing.T, size int) *etcdtest.Server {
	t.Helper()
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Seed(context.Background(), "/registry/a/", size/1024, 1024); err != nil {
		t.Fatal(err)
	}
	return srv
}

// options are what the backup job uses for srv: mTLS with its client
// certificate.
func options(srv *etcdtest.Server) snapshot.Options {
	return snapshot.Options{
		Endpoints: []string{srv.Endpoint}, CACert: srv.Certs.CA, Cert: srv.Certs.ClientCert, Key: srv.Certs.ClientKey,
		DialTimeout: 5 * time.Second, SnapshotTimeout: time.Minute,
	}
}

// proxy puts a TCP proxy with a fault in front of srv.
func proxy(t *testing.T, srv *etcdtest.Server, down faults.Rule) string {
	t.Helper()
	p, err := faults.Start(faults.Options{Target: strings.TrimPrefix(srv.Endpoint, "https://"), Down: down})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return "https://" + p.Addr()
}

func TestTakeErrorsNameTheCause(t *testing.T) {
	srv := startEtcd(t, 2<<20)
	cases := []struct {
		name      string
		change    func(*snapshot.Options)
		want      []string
		refuse    []string
		transient bool // worth another attempt
	}{
		{
			name:   "no client certificate configured",
			change: func(o *snapshot.Options) { o.Cert, o.Key, o.DialTimeout = "", "", time.Second },
			want:   []string{"requires a client certificate", "none is configured", "ETCD_BACKUP_CERT", "ETCD_BACKUP_KEY"},
			refuse: []string{"refused the client certificate"},
		},
		{
			name:   "snapshot timeout expires while connecting",
			change: func(o *snapshot.Options) { o.SnapshotTimeout = time.Millisecond },
			want:   []string{"ETCD_BACKUP_SNAPSHOT_TIMEOUT=1ms"},
		},
		{
			name: "server does not answer the handshake",
			change: func(o *snapshot.Options) {
				o.Endpoints = []string{proxy(t, srv, faults.Rule{Fault: faults.Stall})}
				o.DialTimeout = 300 * time.Millisecond
			},
			want:      []string{"ETCD_BACKUP_DIAL_TIMEOUT=300ms"},
			transient: true,
		},
		{
			name: "no endpoint answers the handshake",
			change: func(o *snapshot.Options) {
				stalled := faults.Rule{Fault: faults.Stall}
				o.Endpoints = []string{proxy(t, srv, stalled), proxy(t, srv, stalled)}
				o.DialTimeout = 300 * time.Millisecond
			},
			want:      []string{"no etcd endpoint usable", "ETCD_BACKUP_DIAL_TIMEOUT=300ms"},
			transient: true,
		},
		{
			name: "stream stalls",
			change: func(o *snapshot.Options) {
				o.Endpoints = []string{proxy(t, srv, faults.Rule{Fault: faults.Stall, After: 1 << 20})}
				o.SnapshotTimeout = 2 * time.Second
			},
			want: []string{"ETCD_BACKUP_SNAPSHOT_TIMEOUT=2s"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := options(srv)
			c.change(&o)
			_, err := snapshot.Take(context.Background(), slog.New(slog.DiscardHandler), o, io.Discard)
			if err == nil {
				t.Fatal("snapshot taken")
			}
			t.Log(err)
			// The error goes into the summary and the termination message.
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on more than one line: %q", err)
			}
			for _, w := range append(c.want, o.Endpoints...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			if retry.Transient(err) != c.transient {
				t.Errorf("transient = %v, want %v", !c.transient, c.transient)
			}
			for _, r := range c.refuse {
				if strings.Contains(err.Error(), r) {
					t.Errorf("error says %q: %v", r, err)
				}
			}
		})
	}
}

func TestTakeLogsProgress(t *testing.T) {
	srv := startEtcd(t, 2<<20)
	waitForDBSize(t, srv, 1<<20)
	var logs, snap bytes.Buffer
	o := options(srv)
	o.ProgressEvery = time.Nanosecond // a line for every write
	m, err := snapshot.Take(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)), o, &snap)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	dec := json.NewDecoder(&logs)
	for dec.More() {
		var l map[string]any
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		if l["msg"] == "snapshot progress" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 {
		t.Fatalf("%d progress lines for a %d-byte snapshot", len(lines), snap.Len())
	}
	first, last := lines[0], lines[len(lines)-1]
	t.Logf("first %v\nlast %v", first, last)
	if first["db_size"] != humanize.IBytes(uint64(m.DBSize)) {
		t.Errorf("db_size %v, want %s", first["db_size"], humanize.IBytes(uint64(m.DBSize)))
	}
	if p, ok := first["percent"].(float64); !ok || p <= 0 || p >= 50 {
		t.Errorf("first line: percent %v", first["percent"])
	}
	// The database can grow between the status and the stream: the share
	// follows the bytes but stays below 100 while the stream lasts.
	want := min(99, 100*float64(snap.Len()-1<<16)/float64(m.DBSize))
	for _, l := range lines {
		if p, ok := l["percent"].(float64); !ok || p > 99 {
			t.Errorf("percent %v while streaming, want at most 99", l["percent"])
		}
	}
	if p, ok := last["percent"].(float64); !ok || p < want {
		t.Errorf("last line: percent %v after %d of %d bytes, want at least %.1f", last["percent"], snap.Len(), m.DBSize, want)
	}
	for _, key := range []string{"received", "rate", "time_left"} {
		if _, ok := first[key].(string); !ok {
			t.Errorf("first line has no %s: %v", key, first)
		}
	}
}

// waitForDBSize waits until the member reports a database of at least size
// bytes: etcd updates the figure when it commits, up to 100ms after a write.
func waitForDBSize(t *testing.T, srv *etcdtest.Server, size int64) {
	t.Helper()
	cli, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := cli.Status(context.Background(), srv.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if st.DbSize >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database size %d after 10s, want %d", st.DbSize, size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
