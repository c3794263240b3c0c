// Package snapshot streams a snapshot from one healthy etcd member over the
// v3 API (Maintenance.Snapshot), the same call `etcdctl snapshot save` makes.
package snapshot

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

func init() {
	// The server sends the snapshot in messages of 32 KiB of data plus a
	// few bytes of framing, just over gRPC's 32 KiB buffer tier: each one
	// would be decoded into a 1 MiB buffer that is zeroed first. A 64 KiB
	// tier fits them.
	pool, err := mem.NewBinaryTieredBufferPool(8, 12, 14, 15, 16, 20)
	if err != nil {
		panic(err) // the sizes above are valid
	}
	experimental.SetDefaultBufferPool(pool)
}

// Options says how to reach etcd.
type Options struct {
	Endpoints       []string
	CACert          string
	Cert            string
	Key             string
	Username        string
	Password        string
	DialTimeout     time.Duration
	SnapshotTimeout time.Duration
	// ProgressEvery is the least time between two progress log lines.
	ProgressEvery time.Duration
}

// Member describes the etcd member the snapshot came from.
type Member struct {
	Endpoint string `json:"endpoint"`
	ID       string `json:"member_id"`
	Name     string `json:"member_name,omitempty"`
	Version  string `json:"server_version"`
	DBSize   int64  `json:"db_size"`
	IsLeader bool   `json:"is_leader"`
}

// TLSConfig builds the client TLS configuration, nil for plain http.
func TLSConfig(o Options, secure bool) (*tls.Config, error) {
	if !secure {
		return nil, nil
	}
	info := transport.TLSInfo{TrustedCAFile: o.CACert, CertFile: o.Cert, KeyFile: o.Key}
	if o.Cert == "" && o.CACert == "" {
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	if o.Cert == "" {
		info.CertFile, info.KeyFile = "", ""
	}
	if o.Cert != "" {
		if err := checkValidity(o.Cert, time.Now()); err != nil {
			return nil, err
		}
	}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading TLS files (ca %q, cert %q, key %q): %w", o.CACert, o.Cert, o.Key, err)
	}
	return cfg, nil
}

// Take connects to the first healthy endpoint, in the order given, and
// streams its snapshot into w, all within o.SnapshotTimeout. It returns the
// member it used.
func Take(ctx context.Context, log *slog.Logger, o Options, w io.Writer) (Member, error) {
	ctx, cancel := WithTimeout(ctx, o)
	defer cancel()
	secure := len(o.Endpoints) > 0 && strings.HasPrefix(o.Endpoints[0], "https://")
	tlsCfg, err := TLSConfig(o, secure)
	if err != nil {
		return Member{}, err
	}
	var errs []error
	for _, ep := range o.Endpoints {
		cli, m, err := connect(ctx, o, ep, tlsCfg)
		if err != nil && tlsCfg != nil && ctx.Err() == nil {
			if perr := probeTLS(ctx, ep, tlsCfg, o); perr != nil {
				err = perr
			}
		}
		if err != nil {
			log.Warn("etcd endpoint not usable", "endpoint", ep, "error", err.Error())
			errs = append(errs, fmt.Errorf("%s: %w", ep, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		log.Info("taking snapshot", "endpoint", ep, "member_id", m.ID, "member_name", m.Name,
			"server_version", m.Version, "db_size", m.DBSize, "is_leader", m.IsLeader)
		err = stream(ctx, log, cli, o, m.DBSize, w)
		cli.Close()
		if err != nil {
			return m, fmt.Errorf("streaming snapshot from %s: %w", ep, err)
		}
		return m, nil
	}
	return Member{}, fmt.Errorf("no etcd endpoint usable: %w", endpointErrors(errs))
}

// endpointErrors are the failures of every endpoint tried, on one line:
// the error goes into the summary and the termination message.
type endpointErrors []error

func (e endpointErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e endpointErrors) Unwrap() []error { return e }

// WithTimeout bounds a snapshot, every attempt included, by
// o.SnapshotTimeout: an error that Take returns because it expired names the
// setting.
func WithTimeout(ctx context.Context, o Options) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, o.SnapshotTimeout,
		&timeoutError{"ETCD_BACKUP_SNAPSHOT_TIMEOUT", o.SnapshotTimeout, "the time for the whole snapshot, retries included", false})
}

// timeoutError names the setting whose time ran out: "context deadline
// exceeded" or "i/o timeout" alone do not say which one to raise.
type timeoutError struct {
	setting    string
	value      time.Duration
	bounds     string
	perAttempt bool
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%s=%s expired (%s)", e.setting, e.value, e.bounds)
}

// Is makes every timeoutError a deadline, and one that bounds a single
// attempt a connection timeout as well, which another attempt may not meet.
func (e *timeoutError) Is(target error) bool {
	return target == context.DeadlineExceeded || (e.perAttempt && target == syscall.ETIMEDOUT)
}

func dialTimeout(o Options) *timeoutError {
	return &timeoutError{"ETCD_BACKUP_DIAL_TIMEOUT", o.DialTimeout, "the time to connect to one endpoint and get its status", true}
}

// expired adds to err the setting whose time ran out, when ctx ended
// because of one.
func expired(ctx context.Context, err error) error {
	var te *timeoutError
	if ctx.Err() == nil || !errors.As(context.Cause(ctx), &te) {
		return err
	}
	return fmt.Errorf("%w: %w", te, err)
}

// connect dials one endpoint and asks for its status, which proves that the
// member answers and that TLS and auth are right before any file is opened.
func connect(ctx context.Context, o Options, ep string, tlsCfg *tls.Config) (*clientv3.Client, Member, error) {
	start := time.Now()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{ep},
		DialTimeout: o.DialTimeout,
		TLS:         tlsCfg,
		Username:    o.Username,
		Password:    o.Password,
		Context:     ctx,
		Logger:      zap.NewNop(),
		// Block the dial until connected and report the connection error, not
		// just "deadline exceeded": clientv3 still dials with grpc.DialContext,
		// which honours both (deprecated only for grpc.NewClient).
		//lint:ignore SA1019 see above
		DialOptions: []grpc.DialOption{grpc.WithBlock(), grpc.WithReturnConnectionError()},
	})
	if err != nil {
		// The dial blocks until it connects or its time runs out (the
		// client's own DialTimeout, or ctx's), so a failure that took
		// that long is the dial timeout's.
		if ctx.Err() != nil {
			err = expired(ctx, err)
		} else if time.Since(start) >= o.DialTimeout {
			err = fmt.Errorf("%w: %w", dialTimeout(o), err)
		}
		return nil, Member{}, fmt.Errorf("connecting: %w", err)
	}
	sctx, cancel := context.WithTimeoutCause(ctx, o.DialTimeout, dialTimeout(o))
	defer cancel()
	st, err := cli.Status(sctx, ep)
	if err != nil {
		cli.Close()
		return nil, Member{}, fmt.Errorf("asking for member status: %w", expired(sctx, err))
	}
	if len(st.Errors) > 0 {
		cli.Close()
		return nil, Member{}, fmt.Errorf("member reports errors: %v", st.Errors)
	}
	m := Member{
		Endpoint: ep,
		ID:       strconv.FormatUint(st.Header.MemberId, 16),
		Version:  st.Version,
		DBSize:   st.DbSize,
		IsLeader: st.Leader == st.Header.MemberId,
	}
	if ml, err := cli.MemberList(sctx); err == nil {
		for _, mem := range ml.Members {
			if mem.ID == st.Header.MemberId {
				m.Name = mem.Name
			}
		}
	}
	return cli, m, nil
}

func stream(ctx context.Context, log *slog.Logger, cli *clientv3.Client, o Options, dbSize int64, w io.Writer) error {
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		return expired(ctx, err)
	}
	defer rc.Close()
	pw := &progress{w: w, log: log, every: o.ProgressEvery, start: time.Now(), total: dbSize}
	pw.last = pw.start
	if _, err := io.Copy(pw, rc); err != nil {
		return fmt.Errorf("after %s: %w", humanize.IBytes(uint64(pw.n)), expired(ctx, err))
	}
	return nil
}

// progress logs how far the stream has come, at most once per interval.
type progress struct {
	w     io.Writer
	log   *slog.Logger
	every time.Duration
	start time.Time
	last  time.Time
	n     int64
	total int64 // the member's database size; 0 if unknown
}

func (p *progress) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if now := time.Now(); p.every > 0 && now.Sub(p.last) >= p.every {
		p.last = now
		p.log.Info("snapshot progress", progressAttrs(p.n, p.total, now.Sub(p.start))...)
	}
	return n, err
}

// maxPercent is the most a progress line shows while the stream lasts: the
// size it is measured against is only an estimate, and 100 would claim an
// end that has not come.
const maxPercent = 99

// progressAttrs describes a stream that has carried n bytes in elapsed:
// sizes for people, the share of the database and the time left at the rate
// so far. The database size is the member's file when the stream was asked
// for: free pages make the snapshot smaller, writes since then make it
// larger. The share is an estimate held below 100 until the stream ends,
// and past the size there is no time left to estimate.
func progressAttrs(n, total int64, elapsed time.Duration) []any {
	attrs := []any{"received", humanize.IBytes(uint64(n))}
	if total > 0 {
		attrs = append(attrs, "db_size", humanize.IBytes(uint64(total)),
			"percent", min(maxPercent, math.Round(100*float64(n)/float64(total)*10)/10))
	}
	if elapsed <= 0 || n <= 0 {
		return append(attrs, "bytes", n)
	}
	rate := float64(n) / elapsed.Seconds()
	attrs = append(attrs, "rate", humanize.IBytes(uint64(rate))+"/s")
	if total > n {
		left := time.Duration(float64(total-n) / rate * float64(time.Second))
		attrs = append(attrs, "time_left", left.Round(time.Second).String())
	}
	return append(attrs, "bytes", n)
}

// probeTLS explains a failed connection: gRPC reports a rejected client
// certificate as a broken pipe or a timeout, while a plain TLS handshake
// and one read show the server's alert (bad, expired or missing client
// certificate, unknown authority). It returns nil when the handshake tells
// nothing new: the TCP connection failed as well, or timed out.
func probeTLS(ctx context.Context, ep string, cfg *tls.Config, o Options) error {
	u, err := url.Parse(ep)
	if err != nil {
		return nil
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: o.DialTimeout}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err == nil {
		defer conn.Close()
		// TLS 1.3 delivers the server's verdict on the client certificate
		// after the handshake, with the first read; TLS 1.2 during it.
		_ = conn.SetReadDeadline(time.Now().Add(min(o.DialTimeout, 500*time.Millisecond)))
		var b [1]byte
		if _, err = conn.Read(b[:]); err == nil || !refusedCertificate(err) {
			return nil
		}
	}
	var opErr *net.OpError
	var netErr net.Error
	switch {
	case refusedCertificate(err) && o.Cert == "":
		return fmt.Errorf("the server requires a client certificate and none is configured: set ETCD_BACKUP_CERT and ETCD_BACKUP_KEY to its PEM files: %w", err)
	case refusedCertificate(err):
		return fmt.Errorf("the server refused the client certificate ETCD_BACKUP_CERT=%s: %w", o.Cert, err)
	case errors.As(err, &opErr) && opErr.Op == "dial", errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return nil
	}
	return fmt.Errorf("TLS connection to %s: %w", u.Host, err)
}

// refusedCertificate reports a TLS alert from the server about the client
// certificate (missing, bad, expired, of an unknown authority). crypto/tls
// keeps the alert type unexported: only its text tells.
func refusedCertificate(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "remote error") && strings.Contains(msg, "certificate")
}

// checkValidity reads the client certificate and refuses one outside its
// validity period before any connection: the server's TLS alert says
// "expired" in both directions, and an operator needs the dates.
func checkValidity(path string, now time.Time) error {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading client certificate ETCD_BACKUP_CERT=%s: %w", path, err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("client certificate ETCD_BACKUP_CERT=%s holds no PEM CERTIFICATE block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("parsing client certificate ETCD_BACKUP_CERT=%s: %w", path, err)
	}
	switch {
	case now.Before(cert.NotBefore):
		return fmt.Errorf("client certificate ETCD_BACKUP_CERT=%s is not yet valid: valid from %s (x509: certificate not yet valid)", path, cert.NotBefore.UTC().Format(time.RFC3339))
	case now.After(cert.NotAfter):
		return fmt.Errorf("client certificate ETCD_BACKUP_CERT=%s expired at %s (x509: certificate has expired)", path, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
