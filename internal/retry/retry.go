// Package retry decides which failures deserve another attempt, in one
// place, and retries them with bounded backoff.
//
// Transient (retried): the other side is not there yet or went away —
// connection refused, reset or cut, timeouts of one attempt, gRPC
// Unavailable/ResourceExhausted/Aborted, HTTP 5xx, 408 and 429.
//
// Permanent (fail at once): anything another attempt cannot fix — TLS and
// certificate errors (unknown authority, expired, rejected client
// certificate), etcd authentication and permission errors, HTTP 4xx such as
// 401, 403 and 404, a full or read-only disk, a name that already exists, a
// snapshot that fails verification, the run's own deadline or SIGTERM, and
// every error not recognised as transient.
package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Transient reports whether err is worth another attempt.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if permanentTLSOrAuth(err) {
		return false
	}
	if code, ok := httpStatus(err); ok {
		return code >= 500 || code == 408 || code == 429
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ETIMEDOUT,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		switch st.Code() {
		case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
			return true
		}
		return false
	}
	// gRPC and HTTP clients often flatten the cause into text.
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"connection refused", "connection reset", "broken pipe", "i/o timeout",
		"unexpected eof", "server closed", "transport is closing", "no route to host", "code = unavailable"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func permanentTLSOrAuth(err error) bool {
	var (
		ua    x509.UnknownAuthorityError
		ci    x509.CertificateInvalidError
		he    x509.HostnameError
		alert tls.AlertError
		rh    tls.RecordHeaderError
	)
	if errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) || errors.As(err, &alert) || errors.As(err, &rh) {
		return true
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument, codes.FailedPrecondition:
			return true
		}
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"x509:", "tls:", "certificate", "authentication failed", "permission denied",
		"invalid auth token", "user name is empty", "handshake failed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// httpStatus finds an HTTP status code in the error chain: the AWS SDK's
// errors carry one, and package destination gives the other storage SDKs'
// errors the same method. The AWS SDK reports 0 when no response came (a
// refused or reset connection): that is no status, and the network error
// beneath it decides.
func httpStatus(err error) (int, bool) {
	var withMethod interface{ HTTPStatusCode() int }
	if errors.As(err, &withMethod) {
		if code := withMethod.HTTPStatusCode(); code >= 100 {
			return code, true
		}
	}
	return 0, false
}

// Policy bounds the attempts.
type Policy struct {
	Attempts int           // at most this many attempts in all
	First    time.Duration // wait after the first failure; doubled each time
	Max      time.Duration // longest single wait
}

// Do runs fn until it succeeds, fails permanently, the attempts are used up
// or ctx ends. It returns fn's last error.
func Do(ctx context.Context, log *slog.Logger, what string, p Policy, fn func(context.Context) error) error {
	wait := p.First
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if attempt >= p.Attempts || !Transient(err) || ctx.Err() != nil {
			return err
		}
		log.Warn("transient failure; retrying", "what", what, "attempt", attempt, "of", p.Attempts,
			"retry_in", wait.String(), "error", err.Error())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, p.Max)
	}
}
