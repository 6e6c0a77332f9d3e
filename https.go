package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Limits of the HTTPS server, after controller-runtime's webhook server.
// Each review also gets a read deadline of its own (the API server's
// ?timeout=), and takes an in-flight slot only once its body is read
// (admission/inflight.go): a slow client holds a connection, not the
// webhook.
const (
	httpsReadHeaderTimeout = 10 * time.Second
	// httpsReadTimeout bounds reading a request that never reaches a
	// review handler (an unknown path, say); a review's own deadline comes
	// first.
	httpsReadTimeout = 30 * time.Second
	// httpsWriteTimeout outlasts the longest review: the API server waits
	// 30 s at most.
	httpsWriteTimeout = 40 * time.Second
	httpsIdleTimeout  = 90 * time.Second
	httpsMaxHeader    = 1 << 20
	// httpsMaxFrame is the largest HTTP/2 frame a client may send: the
	// protocol's default, not Go's 1 MiB. Each connection's frame buffer
	// grows to the largest frame it has read and is kept as long as the
	// connection lives, which for the API server's is indefinitely: after a
	// few large reviews over many connections, megabytes stayed live.
	httpsMaxFrame = 16 << 10
)

// newHTTPSServer returns the admission server for h, with its limits.
func newHTTPSServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: httpsReadHeaderTimeout, ReadTimeout: httpsReadTimeout,
		WriteTimeout: httpsWriteTimeout, IdleTimeout: httpsIdleTimeout, MaxHeaderBytes: httpsMaxHeader,
		HTTP2: &http.HTTP2Config{MaxReadFrameSize: httpsMaxFrame}}
}

// withClientCAs makes c require client certificates signed by a CA of
// clientCAFile, when that is set. The file is read once, at start.
func withClientCAs(c *tls.Config, clientCAFile string) (*tls.Config, error) {
	if clientCAFile == "" {
		return c, nil
	}
	pool, err := loadClientCAs(clientCAFile)
	if err != nil {
		return nil, err
	}
	c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	return c, nil
}

func loadClientCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--client-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--client-ca-file: %s holds no PEM certificate", file)
	}
	return pool, nil
}
