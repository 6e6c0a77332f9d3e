package hostile

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// Paths of the webhook.
const (
	validation = "/v1/webhook/validation"
	mutation   = "/v1/webhook/mutation"
)

// directClient talks to the webhook's port the way the API server does
// (HTTP/2, its client certificate), or over HTTP/1.1 when h1.
func directClient(h1 bool) *http.Client {
	// The tests are about what the webhook accepts, not its certificate.
	cfg := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{env.clientCert}}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: !h1, MaxIdleConnsPerHost: 64}
	if h1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// answer is what the webhook sent back, or why nothing came.
type answer struct {
	status int // 0: no HTTP answer
	body   []byte
	err    error
	took   time.Duration
}

func (a answer) String() string {
	b := a.body
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	return fmt.Sprintf("HTTP %d after %s: %q (%v)", a.status, a.took.Round(time.Millisecond), b, a.err)
}

// response decodes an AdmissionReview answer.
func (a answer) response() (*admissionv1.AdmissionResponse, error) {
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(a.body, &review); err != nil || review.Response == nil {
		return nil, fmt.Errorf("no AdmissionReview response in %s: %w", a, err)
	}
	return review.Response, nil
}

// post sends body to the webhook's path with the content type.
func post(ctx context.Context, c *http.Client, path, contentType string, body io.Reader) answer {
	began := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.webhook.URL+path, body)
	if err != nil {
		return answer{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(began)}
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b, err: err, took: time.Since(began)}
}

// review builds an admission.k8s.io/v1 review as an API server sends it;
// object and oldObject are JSON or "", spliced in as they are (whatever
// their depth or bytes).
func review(op, kind, group, version, resource, namespace, name, object, oldObject string) []byte {
	gvk := map[string]string{"group": group, "version": version, "kind": kind}
	gvr := map[string]string{"group": group, "version": version, "resource": resource}
	req, err := json.Marshal(map[string]any{"uid": "e2e-uid", "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
		"name": name, "namespace": namespace, "operation": op, "userInfo": map[string]any{"username": "admin"}})
	if err != nil {
		panic(err)
	}
	b := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":`)
	b = append(b, req[:len(req)-1]...)
	if object != "" {
		b = append(append(b, `,"object":`...), object...)
	}
	if oldObject != "" {
		b = append(append(b, `,"oldObject":`...), oldObject...)
	}
	return append(b, "}}"...)
}

// nadJSON is a NAD in namespace default with config.
func nadJSON(name, config string) string {
	c, _ := json.Marshal(config)
	return fmt.Sprintf(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"name":%q,"namespace":"default"},"spec":{"config":%s}}`,
		name, c)
}

func nadReview(op, name, object, oldObject string) []byte {
	return review(op, "NetworkAttachmentDefinition", "k8s.cni.cncf.io", "v1", "network-attachment-definitions", "default", name, object, oldObject)
}

// rawExchange writes head on a new TLS connection, closes the connection's
// writing side when closeWrite, and reads whatever comes back until the
// server closes it or wait passes.
func rawExchange(head string, closeWrite bool, wait time.Duration) answer {
	began := time.Now()
	cfg := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{env.clientCert}, NextProtos: []string{"http/1.1"}}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(env.webhook.URL, "https://"), cfg)
	if err != nil {
		return answer{err: err}
	}
	defer func() { _ = conn.Close() }()
	if _, err := io.WriteString(conn, head); err != nil {
		return answer{err: err}
	}
	if closeWrite {
		_ = conn.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return answer{err: err, took: time.Since(began)}
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b, took: time.Since(began)}
}

// applyBase creates the cluster the direct reviews decide on: cluster
// network hcn with VlanConfig vc-h (MTU 9000) on two nodes.
func applyBase(t *testing.T) {
	t.Helper()
	// The VlanConfig is admitted only once the webhook's cache holds the
	// ClusterNetwork created just before it.
	harness.Eventually(t, "the base objects", func() error {
		_, err := env.client.Apply(t.Context(), []byte(baseObjects))
		return err
	})
}

const baseObjects = `
apiVersion: v1
kind: Node
metadata: {name: h-n1, labels: {hostile: "yes"}}
---
apiVersion: v1
kind: Node
metadata: {name: h-n2, labels: {hostile: "yes"}}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: hcn}
status: {conditions: [{type: ready, status: "True"}]}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanConfig
metadata: {name: vc-h, labels: {network.harvesterhci.io/clusternetwork: hcn}}
spec:
  clusterNetwork: hcn
  nodeSelector: {hostile: "yes"}
  uplink: {nics: [eth1], linkAttributes: {mtu: 9000}}
`

// realReview is an ordinary review that reads the cluster: a NAD on hcn,
// which the v1.9 validator allows once it has read the ClusterNetwork.
var realReview = nadReview("CREATE", "real",
	nadJSON("real", `{"cniVersion":"0.3.1","name":"real","type":"bridge","bridge":"hcn-br","promiscMode":true,"vlan":100,"ipam":{}}`), "")

// wantAllowed checks that a is the real review's answer: allowed.
func wantAllowed(a answer) error {
	if a.status != http.StatusOK {
		return fmt.Errorf("%s, want allowed", a)
	}
	resp, err := a.response()
	if err != nil {
		return err
	}
	if !resp.Allowed {
		return fmt.Errorf("denied: %s", resp.Result.Message)
	}
	return nil
}

// liveHeapAfterGC forces a garbage collection in the webhook (pprof's
// heap?gc=1) and returns the live heap it left. With E2E_HEAP_PROFILES set
// to a directory, the heap profile is saved there.
func liveHeapAfterGC(t *testing.T) int64 {
	t.Helper()
	resp, err := http.Get(env.webhook.HealthURL() + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	profile, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("E2E_HEAP_PROFILES"); dir != "" {
		name := filepath.Join(dir, fmt.Sprintf("%s-%d.pb.gz", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano()))
		if err := os.WriteFile(name, profile, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v, err := env.webhook.Metric("go_gc_heap_live_bytes")
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// dryRunCreate creates obj through the API server with dryRun=All.
func dryRunCreate(ctx context.Context, obj string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(obj)); err != nil {
		return nil, err
	}
	return env.client.DryRunCreate(ctx, u)
}

// nadConfigOf returns spec.config of a NAD the API server answered.
func nadConfigOf(u *unstructured.Unstructured) string {
	c, _, _ := unstructured.NestedString(u.Object, "spec", "config")
	return c
}

// healthy checks the process is up, ready, and answers through the API
// server.
func healthy(t *testing.T) {
	t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(env.webhook.HealthURL() + path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: HTTP %d %s", path, resp.StatusCode, b)
		}
	}
	select {
	case <-env.webhook.Exited():
		t.Fatal("the webhook exited")
	default:
	}
	if err := harness.WaitAdmitting(t.Context(), env.client, harness.WebhookNamespace); err != nil {
		t.Error(err)
	}
}

// bytesOf is n bytes of c.
func bytesOf(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }
