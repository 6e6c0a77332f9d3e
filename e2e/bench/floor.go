package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lowmem/harvester-network-webhook/certs"
	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
)

// The floor is the least a Go webhook must do per review: decode the
// AdmissionReview with encoding/json to learn its UID and answer "allowed"
// with it, over the webhook's TLS. It runs as a process of its own — the
// bench binary started with floorCommand — so that its CPU is measured as
// the webhook's is, under the same CPU limit.

// floorCommand, as the only argument besides an address, makes the bench
// binary serve the floor there.
const floorCommand = "serve-floor"

// serveFloor serves the floor on addr until the process is killed.
func serveFloor(addr string) error {
	cfg, err := floorTLS()
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(floorHandler), TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServeTLS("", "")
}

// floorHandler answers every AdmissionReview "allowed" with its UID.
func floorHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, "want an AdmissionReview with a request", http.StatusBadRequest)
		return
	}
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true},
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// floorTLS is the webhook's server TLS (certs/bundle.go: TLS 1.2 or later,
// upstream's six ECDHE suites, HTTP/2 and HTTP/1.1) with a self-signed
// P-256 certificate for 127.0.0.1, the webhook's key type.
func floorTLS() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: certs.CipherSuites(),
		NextProtos:   []string{"h2", "http/1.1"},
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}, nil
}

// floorServer is the floor running as a child process, in a CPU cgroup of
// its own when there is a CPU limit.
type floorServer struct {
	cmd    *exec.Cmd
	url    string
	cg     *cgroup
	exited chan struct{}
}

// startFloor starts the floor, limited to cpuMilli millicores unless 0, and
// waits until it accepts connections.
func startFloor(cpuMilli int64) (*floorServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ports, err := controlplane.FreePorts(1)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	f := &floorServer{url: "https://" + addr, exited: make(chan struct{})}
	argv := []string{exe, floorCommand, addr}
	if cpuMilli > 0 {
		if f.cg, err = newCgroup(limits{cpuMilli: cpuMilli}); err != nil {
			return nil, err
		}
		argv = append(f.cg.wrapper(), argv...)
	}
	f.cmd = exec.Command(argv[0], argv[1:]...)
	f.cmd.Stdout, f.cmd.Stderr = os.Stderr, os.Stderr
	if err := f.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start the floor: %w", err), f.removeCgroup())
	}
	go func() { _ = f.cmd.Wait(); close(f.exited) }()
	// A whole handshake, which the server does not log as an error.
	probe := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := probe.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			return f, nil
		}
		select {
		case <-f.exited:
			return nil, errors.Join(errors.New("the floor exited before it listened"), f.removeCgroup())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("the floor does not listen on %s: %w", addr, err), f.stop())
		}
	}
}

// client is a direct client of the floor, which it does not verify: the
// certificate is made up at each start.
func (f *floorServer) client() *directClient {
	return newTransport(f.url, &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true})
}

func (f *floorServer) pid() int { return f.cmd.Process.Pid }

// stop kills the floor, which keeps no state, and removes its cgroup.
func (f *floorServer) stop() error {
	_ = f.cmd.Process.Signal(syscall.SIGKILL)
	<-f.exited
	return f.removeCgroup()
}

func (f *floorServer) removeCgroup() error {
	if f.cg == nil {
		return nil
	}
	return f.cg.remove()
}
