package retry_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etcd-backup/etcd-backup/internal/retry"
)

// realErrors produces errors the way the network produces them.
func refused(t *testing.T) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = net.Dial("tcp", addr)
	if err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	return fmt.Errorf("connecting: %w", err)
}

func unknownAuthority(t *testing.T) error {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{ServerName: "example.com"})
	if err == nil {
		t.Fatal("handshake with an unknown CA succeeded")
	}
	return fmt.Errorf("connecting: %w", err)
}

func cutShort(t *testing.T) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
			c.Close()
		}
	}()
	resp, err := http.Get("http://" + l.Addr().String())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

// httpError is an error with an HTTP status, as the storage SDKs' errors
// carry one.
type httpError int

func (e httpError) Error() string       { return fmt.Sprintf("HTTP status %d", int(e)) }
func (e httpError) HTTPStatusCode() int { return int(e) }

func TestTransient(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused(t), true},
		// the AWS SDK's error for a request that got no response
		{"no response, status 0", statusError{0, refused(t)}, true},
		{"status 503", statusError{503, errors.New("service unavailable")}, true},
		{"status 403", statusError{403, errors.New("access denied")}, false},
		{"body cut short", cutShort(t), true},
		{"grpc unavailable", status.Error(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:2379: connect: connection refused\""), true},
		{"grpc unavailable from a TLS failure", status.Error(codes.Unavailable, "connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\""), false},
		{"unknown authority", unknownAuthority(t), false},
		{"etcd auth failed", status.Error(codes.InvalidArgument, "etcdserver: authentication failed, invalid user ID or password"), false},
		{"etcd permission denied", status.Error(codes.PermissionDenied, "etcdserver: permission denied"), false},
		{"rejected client certificate", errors.New("the server refused the client certificate: remote error: tls: bad certificate"), false},
		{"canceled", fmt.Errorf("stream: %w", context.Canceled), false},
		{"disk full", fmt.Errorf("writing: %w", errors.New("no space left on device")), false},
		{"unknown", errors.New("something else"), false},
		// A gRPC status with a code decides; Unknown leaves it to the text.
		{"grpc unknown, connection reset in the text", status.Error(codes.Unknown, "read tcp: connection reset by peer"), true},
		{"grpc internal, transport closing in the text", status.Error(codes.Internal, "transport is closing"), false},
		{"grpc resource exhausted", status.Error(codes.ResourceExhausted, "too many requests"), true},
		{"grpc aborted", status.Error(codes.Aborted, "aborted"), true},
		// An HTTP status decides, whatever the text says.
		{"http 500", httpError(500), true},
		{"http 503", httpError(503), true},
		{"http 408", httpError(408), true},
		{"http 429", httpError(429), true},
		{"http 499", httpError(499), false},
		{"http 404 saying connection reset", fmt.Errorf("connection reset: %w", httpError(404)), false},
		{"http 403", httpError(403), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := retry.Transient(c.err); got != c.want {
				t.Fatalf("Transient(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

func TestDo(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := retry.Policy{Attempts: 3, First: time.Millisecond, Max: 2 * time.Millisecond}
	transient := status.Error(codes.Unavailable, "try later")
	cases := []struct {
		name      string
		errs      []error // returned by successive calls; nil = success
		wantCalls int
		wantErr   bool
	}{
		{"success at once", []error{nil}, 1, false},
		{"transient then success", []error{transient, transient, nil}, 3, false},
		{"transient until attempts run out", []error{transient, transient, transient, nil}, 3, true},
		{"permanent at once", []error{errors.New("x509: expired"), nil}, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := retry.Do(context.Background(), log, "test", p, func(context.Context) error {
				calls++
				return c.errs[calls-1]
			})
			if calls != c.wantCalls || (err != nil) != c.wantErr {
				t.Fatalf("calls %d err %v; want %d calls, error %v", calls, err, c.wantCalls, c.wantErr)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := retry.Do(ctx, log, "test", retry.Policy{Attempts: 100, First: time.Hour, Max: time.Hour}, func(context.Context) error { return transient })
	if time.Since(start) > 5*time.Second {
		t.Fatal("Do waited past its context")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, transient) {
		t.Errorf("Do ended by its context returned %v", err)
	}
}

// statusError is an error with an HTTP status, as the AWS SDK's
// ResponseError is.
type statusError struct {
	code int
	err  error
}

func (e statusError) Error() string       { return fmt.Sprintf("StatusCode: %d, %v", e.code, e.err) }
func (e statusError) Unwrap() error       { return e.err }
func (e statusError) HTTPStatusCode() int { return e.code }
