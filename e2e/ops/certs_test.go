package ops

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// A serving certificate made to expire within a minute is renewed while 50
// clients send reviews through the API server: none fails, and the new
// certificate is the one served afterwards.
func TestServingCertificateIsRenewedUnderLoad(t *testing.T) {
	ctx := t.Context()
	freshCertSecrets(t)
	w := startWebhook(t, harness.WebhookOptions{},
		"--cert-validity", "1m", "--cert-renew-fraction", "0.5", "--ca-propagation-delay", "5s")
	if err := harness.WaitAdmitting(ctx, client, "tenant"); err != nil {
		t.Fatal(err)
	}
	first := served(t, w.URL)
	const expiry = `harvester_network_webhook_certificate_expiry_timestamp_seconds{certificate="serving"}`
	if got := value(scrape(t, w), expiry); got != float64(first.NotAfter.Unix()) {
		t.Errorf("%s = %v, want %d", expiry, got, first.NotAfter.Unix())
	}
	l := startLoad(t)
	// Renewed once less than 30 s is left.
	harness.WaitFor(t, 60*time.Second, "a new serving certificate served", func() error {
		if c := served(t, w.URL); c.SerialNumber.Cmp(first.SerialNumber) == 0 {
			return fmt.Errorf("still serving serial %s, which expires at %s", c.SerialNumber, c.NotAfter)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // the load goes on with the new certificate
	l.stop(t, "serving certificate renewal")
	renewed := served(t, w.URL)
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("the new certificate expires at %s, the first at %s", renewed.NotAfter, first.NotAfter)
	}
	t.Logf("serial %s (until %s) replaced by %s (until %s)", first.SerialNumber, first.NotAfter.Format(time.TimeOnly),
		renewed.SerialNumber, renewed.NotAfter.Format(time.TimeOnly))
	if got := value(scrape(t, w), expiry); got != float64(renewed.NotAfter.Unix()) {
		t.Errorf("after the renewal %s = %v, want %d", expiry, got, renewed.NotAfter.Unix())
	}
}

// The CA nears its end under the same load, with two replicas behind a
// balancer: the new CA joins the caBundle, then signs the serving
// certificate; no request fails, and the caBundle then settles and stays.
func TestCARotationUnderLoad(t *testing.T) {
	ctx := t.Context()
	freshCertSecrets(t)
	lb, err := harness.NewBalancer()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lb.Close() }()
	ports, err := controlplane.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	replicas := []harness.WebhookOptions{{HTTPSPort: ports[0], HealthPort: ports[1]}, {HTTPSPort: ports[2], HealthPort: ports[3]}}
	lb.SetBackends([]string{"127.0.0.1:" + strconv.Itoa(ports[0]), "127.0.0.1:" + strconv.Itoa(ports[2])},
		[]string{"http://127.0.0.1:" + strconv.Itoa(ports[1]) + "/readyz", "http://127.0.0.1:" + strconv.Itoa(ports[3]) + "/readyz"})
	// The CA is rotated when a minute is left, the leaf renewed with 30 s left.
	flags := []string{"--webhook-url", "https://" + lb.Addr, "--ca-validity", "2m", "--cert-validity", "1m",
		"--cert-renew-fraction", "0.5", "--ca-propagation-delay", "5s"}
	var running []*harness.Webhook
	for _, r := range replicas {
		running = append(running, startWebhook(t, r, flags...))
	}
	if err := harness.WaitAdmitting(ctx, client, "tenant"); err != nil {
		t.Fatal(err)
	}
	firstCA := caBundle(t)[0]
	l := startLoad(t)
	harness.WaitFor(t, 100*time.Second, "the serving certificate signed by a new CA", func() error {
		for _, w := range running {
			if leaf := served(t, w.URL); leaf.CheckSignatureFrom(firstCA) == nil {
				return fmt.Errorf("%s still serves a certificate of the first CA", w.URL)
			}
		}
		return nil
	})
	l.stop(t, "CA rotation with two replicas")

	bundle := caBundle(t)
	if len(bundle) < 2 || !bundle[1].Equal(firstCA) {
		t.Errorf("caBundle after the rotation: %d CAs, want the new one and then the first", len(bundle))
	}
	for _, w := range running {
		if err := served(t, w.URL).CheckSignatureFrom(bundle[0]); err != nil {
			t.Errorf("%s serves a certificate the caBundle's first CA did not sign: %v", w.URL, err)
		}
	}
	settled := caBundlePEM(t)
	for range 30 {
		time.Sleep(500 * time.Millisecond)
		if now := caBundlePEM(t); now != settled {
			t.Fatal("the caBundle changed again after the rotation")
		}
	}
}

// served is the certificate the webhook at url presents.
func served(t *testing.T, url string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reading what is served
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	return conn.ConnectionState().PeerCertificates[0]
}

// caBundlePEM is the validating configuration's caBundle.
func caBundlePEM(t *testing.T) string {
	t.Helper()
	v, err := client.Dynamic.Resource(vwcGVR).Get(t.Context(), configName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hooks, _, _ := unstructured.NestedSlice(v.Object, "webhooks")
	cc, _ := hooks[0].(map[string]any)["clientConfig"].(map[string]any)
	s, _ := cc["caBundle"].(string)
	return s
}

// caBundle parses the caBundle's certificates, in order.
func caBundle(t *testing.T) []*x509.Certificate {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(caBundlePEM(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("empty caBundle")
	}
	return out
}

// freshCertSecrets starts a test without certificates, so that those made
// with its flags are the ones served, and removes them when it ends (after
// its webhooks have stopped), so that no short-lived CA outlives it.
func freshCertSecrets(t *testing.T) {
	t.Helper()
	deleteCertSecrets(t)
	t.Cleanup(func() { deleteCertSecrets(t) })
}

func deleteCertSecrets(t *testing.T) {
	t.Helper()
	secrets := client.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace(harness.WebhookNamespace)
	for _, name := range []string{"harvester-network-webhook-ca", "harvester-network-webhook-tls"} {
		if err := secrets.Delete(context.WithoutCancel(t.Context()), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
}
