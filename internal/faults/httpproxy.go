package faults

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// HTTPFaults say which requests an HTTPProxy answers itself with an error.
type HTTPFaults struct {
	// Status is the error status answered, e.g. 500, 503, 429 or 403.
	Status int
	// First is how many requests get the error before the proxy starts
	// forwarding; a negative number means every request.
	First int
}

// HTTPProxy is a reverse proxy on 127.0.0.1 in front of an HTTP server (an
// object store) that answers some requests with a server error instead of
// forwarding them. The Host header is passed on unchanged, so signed
// requests (AWS Signature V4) stay valid.
type HTTPProxy struct {
	srv      *http.Server
	ln       net.Listener
	faults   HTTPFaults
	requests atomic.Int64
	answered atomic.Int64
}

// StartHTTP starts a proxy in front of target (http://host:port).
func StartHTTP(target string, f HTTPFaults) (*HTTPProxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("proxy target %q is not an http://host:port URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the proxy: %w", err)
	}
	p := &HTTPProxy{ln: ln, faults: f}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	p.srv = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *HTTPProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.requests.Add(1)
		if p.faults.First < 0 || n <= int64(p.faults.First) {
			p.answered.Add(1)
			// Read the request as a server would before answering, so
			// that the client sees the status and not a reset connection.
			_, _ = io.Copy(io.Discard, r.Body)
			code := map[int]string{http.StatusServiceUnavailable: "ServiceUnavailable", http.StatusTooManyRequests: "SlowDown",
				http.StatusForbidden: "AccessDenied"}[p.faults.Status]
			if code == "" {
				code = "InternalError"
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(p.faults.Status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
				`<Error><Code>%s</Code><Message>answered by the fault proxy</Message></Error>`, code)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// URL is the proxy's base URL.
func (p *HTTPProxy) URL() string { return "http://" + p.ln.Addr().String() }

// Requests is how many requests arrived.
func (p *HTTPProxy) Requests() int64 { return p.requests.Load() }

// Answered is how many requests got the error.
func (p *HTTPProxy) Answered() int64 { return p.answered.Load() }

// Close stops the proxy and closes its connections.
func (p *HTTPProxy) Close() error { return p.srv.Close() }
