package harness

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// FaultProxy is a TCP proxy in front of a server (the API server) that
// tests make slow or cut off. TLS passes through it untouched, so clients
// keep verifying the server's certificate (which must cover 127.0.0.1).
type FaultProxy struct {
	// Addr is the proxy's listening address, host:port.
	Addr string

	target string
	delay  atomic.Int64 // nanoseconds added to every chunk the server sends

	mu     sync.Mutex
	ln     net.Listener // nil while paused
	conns  map[net.Conn]struct{}
	closed chan struct{}
	wg     sync.WaitGroup
}

// StartFaultProxy listens on a free loopback port and forwards every
// connection to target (host:port).
func StartFaultProxy(target string) (*FaultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	p.wg.Go(func() { p.accept(ln) })
	return p, nil
}

// SetDelay makes every chunk of bytes the server sends reach the client d
// later (0: none). Chunks keep their order and the stream its throughput:
// the server seems d further away, not slower at sending.
func (p *FaultProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Cut closes every open connection, as a network failure or an API server
// restart would: watches end, and clients reconnect through the proxy.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// Pause stops listening and cuts every connection until Resume: clients
// are refused, as by a server that is down.
func (p *FaultProxy) Pause() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.Cut()
}

// Resume listens again, on the same address.
func (p *FaultProxy) Resume() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		return err
	}
	p.ln = ln
	p.wg.Go(func() { p.accept(ln) })
	return nil
}

// Close stops the proxy and closes its connections.
func (p *FaultProxy) Close() {
	close(p.closed)
	p.Pause()
	p.wg.Wait()
}

func (p *FaultProxy) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.track(client, server)
		p.wg.Go(func() {
			_, _ = io.Copy(server, client)
			_ = server.Close()
		})
		p.wg.Go(func() {
			p.delayedCopy(client, server)
			_ = client.Close()
			p.untrack(client, server)
		})
	}
}

func (p *FaultProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *FaultProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// delayedCopy copies src to dst, each chunk held until the delay set when
// it was read has passed.
func (p *FaultProxy) delayedCopy(dst, src net.Conn) {
	type chunk struct {
		b   []byte
		due time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				chunks <- chunk{b[:n], time.Now().Add(time.Duration(p.delay.Load()))}
			}
			if err != nil {
				return
			}
		}
	}()
	stop := func() {
		_ = src.Close()
		for range chunks { // let the reader end
		}
	}
	for c := range chunks {
		select {
		case <-time.After(time.Until(c.due)):
		case <-p.closed:
			stop()
			return
		}
		if _, err := dst.Write(c.b); err != nil {
			stop()
			return
		}
	}
}
