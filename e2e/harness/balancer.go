package harness

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Balancer forwards TCP connections on a loopback port to backends, round
// robin: the local stand-in for a Service in front of webhook replicas. A
// backend whose readiness URL fails gets no new connections, as an endpoint
// leaves a Service. (FaultProxy is the path to the API server that tests
// slow down or cut.)
type Balancer struct {
	ln   net.Listener
	Addr string // host:port clients dial

	mu       sync.Mutex
	backends []*backend
	next     int
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	stopping chan struct{}
}

type backend struct {
	addr    string // host:port
	readyz  string // "" means always ready
	healthy bool
}

// NewBalancer listens on a free loopback port.
func NewBalancer() (*Balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Balancer{ln: ln, Addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}, stopping: make(chan struct{})}
	p.wg.Go(p.accept)
	p.wg.Go(p.probe)
	return p, nil
}

// SetBackends replaces the backends. readyz, if not "", is polled every
// 100 ms; only backends whose last answer was 200 get new connections.
// Connections already open stay with their backend.
func (p *Balancer) SetBackends(addrs []string, readyz []string) {
	bs := make([]*backend, len(addrs))
	for i, a := range addrs {
		bs[i] = &backend{addr: a}
		if i < len(readyz) {
			bs[i].readyz = readyz[i]
		}
		bs[i].healthy = bs[i].readyz == "" || ready(bs[i].readyz)
	}
	p.mu.Lock()
	p.backends = bs
	p.mu.Unlock()
}

// Close stops the balancer and closes every connection.
func (p *Balancer) Close() error {
	close(p.stopping)
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Balancer) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

// pick returns the next healthy backend, round robin, or "".
func (p *Balancer) pick() string {
	for range p.backends {
		b := p.backends[p.next%len(p.backends)]
		p.next++
		if b.healthy {
			return b.addr
		}
	}
	return ""
}

func (p *Balancer) forward(client net.Conn) {
	p.mu.Lock()
	addr := p.pick()
	p.mu.Unlock()
	if addr == "" {
		_ = client.Close()
		return
	}
	server, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	p.mu.Lock()
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var once sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close so the other direction can finish, as TCP would.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	once.Go(func() { pipe(server, client) })
	once.Go(func() { pipe(client, server) })
	once.Wait()
	_ = client.Close()
	_ = server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// probe polls the backends' readiness URLs.
func (p *Balancer) probe() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stopping:
			return
		case <-t.C:
		}
		p.mu.Lock()
		bs := p.backends
		p.mu.Unlock()
		for _, b := range bs {
			if b.readyz == "" {
				continue
			}
			ok := ready(b.readyz)
			p.mu.Lock()
			b.healthy = ok
			p.mu.Unlock()
		}
	}
}

// ready tells whether GET url answers 200 within a second.
func ready(url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
