// Package faults injects the failures a backup meets on a bad day into
// loopback connections: a TCP proxy that stalls, holds, cuts or corrupts a
// stream after a number of bytes, and an HTTP proxy that answers with server
// errors. The fault-injection suite in this directory drives the backup job
// through them against real etcd and object storage servers.
package faults

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// Direction is which way bytes flow through a proxy.
type Direction int

// Directions.
const (
	Down Direction = iota // from the server to the client
	Up                    // from the client to the server
)

func (d Direction) String() string {
	if d == Up {
		return "up"
	}
	return "down"
}

// Fault is what happens once a connection has carried Rule.After bytes.
type Fault int

// Faults.
const (
	// Pass forwards everything.
	Pass Fault = iota
	// Stall stops forwarding in that direction and keeps the connection
	// open, as a hung peer or a black-holed route does.
	Stall
	// Hold stops forwarding until Release is called, then goes on: a pause
	// in which the test acts (kills a server, signals the job).
	Hold
	// Cut closes both sides of the connection.
	Cut
	// Flip inverts one byte of the payload of a gRPC message (only on
	// plaintext HTTP/2 server-to-client streams): the payload arrives
	// changed, the framing stays valid.
	Flip
	// EndStream ends the gRPC call early but cleanly, at a message boundary,
	// with status OK (only on plaintext HTTP/2 server-to-client streams):
	// the client sees a complete-looking but truncated stream.
	EndStream
	// Reset aborts both sides of the connection with a TCP reset, as a
	// peer that crashed or a middlebox that dropped the connection does.
	Reset
)

func (f Fault) String() string {
	return [...]string{"pass", "stall", "hold", "cut", "flip", "end-stream", "reset"}[f]
}

// Rule says which fault hits a direction of a connection, and when.
type Rule struct {
	Fault Fault
	// After is how many bytes the direction carries on one connection
	// before the fault.
	After int64
	// Once limits the fault to the first connection that reaches After;
	// later connections pass untouched.
	Once bool
}

// Options configure a Proxy.
type Options struct {
	// Target is the server's host:port.
	Target string
	// Listen is the proxy's host:port; empty for a free port of 127.0.0.1.
	Listen string
	// Down and Up are the rules for each direction.
	Down, Up Rule
}

// Proxy is a TCP proxy on 127.0.0.1 in front of one server.
type Proxy struct {
	opts     Options
	ln       net.Listener
	stop     chan struct{}
	release  chan struct{}
	relOnce  sync.Once
	held     chan struct{}
	heldOnce sync.Once

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	claimed [2]atomic.Bool
	fired   atomic.Int64
	bytes   [2]atomic.Int64
	accepts atomic.Int64
}

// Start listens on a free port of 127.0.0.1 and forwards to o.Target.
func Start(o Options) (*Proxy, error) {
	for _, r := range []Rule{o.Down, o.Up} {
		if (r.Fault == Flip || r.Fault == EndStream) && r != o.Down {
			return nil, fmt.Errorf("fault %s works on the server-to-client direction only", r.Fault)
		}
	}
	addr := o.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for the proxy: %w", err)
	}
	p := &Proxy{
		opts: o, ln: ln, stop: make(chan struct{}), release: make(chan struct{}), held: make(chan struct{}),
		conns: map[net.Conn]struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Fired is how many times a fault hit.
func (p *Proxy) Fired() int64 { return p.fired.Load() }

// Forwarded is how many bytes went through in one direction, over all
// connections.
func (p *Proxy) Forwarded(d Direction) int64 { return p.bytes[d].Load() }

// Accepted is how many connections the proxy took.
func (p *Proxy) Accepted() int64 { return p.accepts.Load() }

// Held is closed when a connection is first held by a Hold fault.
func (p *Proxy) Held() <-chan struct{} { return p.held }

// Release lets held connections go on, and makes later Hold faults pass.
func (p *Proxy) Release() { p.relOnce.Do(func() { close(p.release) }) }

// Close stops listening, closes every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.stop)
	err := p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepts.Add(1)
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.opts.Target)
	if err != nil {
		// The server is down: the client sees its connection closed, as
		// close to a refused connection as a proxy can get.
		_ = client.Close()
		return
	}
	if !p.track(server) {
		_ = client.Close()
		return
	}
	closeBoth := sync.OnceFunc(func() { _ = client.Close(); _ = server.Close() })
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(Down, client, server, closeBoth) }()
	go func() { defer wg.Done(); p.pipe(Up, server, client, closeBoth) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// claim decides whether a rule fires on this connection.
func (p *Proxy) claim(d Direction, r Rule) bool {
	if r.Once && !p.claimed[d].CompareAndSwap(false, true) {
		return false
	}
	p.fired.Add(1)
	return true
}

// pipe copies src to dst under the rule of direction d. When src ends or
// the fault is a cut, both connections are closed.
func (p *Proxy) pipe(d Direction, dst, src net.Conn, closeBoth func()) {
	r := p.opts.Down
	if d == Up {
		r = p.opts.Up
	}
	if r.Fault == Flip || r.Fault == EndStream {
		_ = p.pipeGRPC(dst, src, r)
		closeBoth()
		return
	}
	defer closeBoth()
	armed := r.Fault != Pass
	var n int64
	buf := make([]byte, 32<<10)
	for {
		m, rerr := src.Read(buf)
		chunk := buf[:m]
		for len(chunk) > 0 {
			k := int64(len(chunk))
			if armed && n+k > r.After {
				k = r.After - n
			}
			if k > 0 {
				if _, err := dst.Write(chunk[:k]); err != nil {
					return
				}
				n += k
				p.bytes[d].Add(k)
				chunk = chunk[k:]
			}
			if !armed || n < r.After {
				continue
			}
			armed = false
			if !p.claim(d, r) {
				continue
			}
			switch r.Fault {
			case Stall:
				<-p.stop
				return
			case Hold:
				p.heldOnce.Do(func() { close(p.held) })
				select {
				case <-p.release:
				case <-p.stop:
					return
				}
			case Cut:
				return
			case Reset:
				// With no linger time, close sends a reset instead of a FIN.
				for _, c := range []net.Conn{dst, src} {
					if tc, ok := c.(*net.TCPConn); ok {
						_ = tc.SetLinger(0)
					}
				}
				return
			}
		}
		if rerr != nil {
			return
		}
	}
}
