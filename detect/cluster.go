package detect

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"

	"github.com/lowmem/harvester-network-webhook/informers"
)

// askTimeout bounds each question, so that a stuck call is asked again
// rather than holding the start-up.
const askTimeout = 10 * time.Second

// SecretGetter reads one Secret of the webhook's namespace.
type SecretGetter interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
}

// APICluster asks the API server: reviews through the dynamic client, CRDs
// and the Helm release's revisions as metadata only, and one Secret in full.
type APICluster struct {
	Dynamic  dynamic.Interface
	Metadata metadata.Interface
	// Secrets reads Secrets of Namespace, where the Helm release lives.
	Secrets   SecretGetter
	Namespace string
}

var (
	accessReviewsGVR = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}
	secretsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

// Allowed implements Cluster with a SelfSubjectAccessReview.
func (a APICluster) Allowed(ctx context.Context, verb string, resource schema.GroupResource, name string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	attrs := map[string]any{"verb": verb, "group": resource.Group, "resource": resource.Resource}
	if name != "" {
		attrs["name"] = name
	}
	review := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SelfSubjectAccessReview",
		"spec":       map[string]any{"resourceAttributes": attrs},
	}}
	answer, err := a.Dynamic.Resource(accessReviewsGVR).Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	allowed, found, err := unstructured.NestedBool(answer.Object, "status", "allowed")
	if err != nil || !found {
		return false, errNotAnswered
	}
	return allowed, nil
}

// CRDInstalled implements Cluster with a metadata-only GET.
func (a APICluster) CRDInstalled(ctx context.Context, name string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	_, err := a.Metadata.Resource(informers.CRDsGVR).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// helmRelease is the Helm release the network chart is part of.
const helmRelease = "harvester"

// ChartVersion implements Cluster: it lists the release's revisions by
// Helm's labels as metadata, then reads the newest revision's Secret.
func (a APICluster) ChartVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	list, err := a.Metadata.Resource(secretsGVR).Namespace(a.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: "owner=helm,name=" + helmRelease,
	})
	if err != nil {
		return "", err
	}
	newest, revision := "", 0
	for _, s := range list.Items {
		if r, err := strconv.Atoi(s.Labels["version"]); err == nil && r > revision {
			newest, revision = s.Name, r
		}
	}
	if newest == "" {
		return "", nil
	}
	secret, err := a.Secrets.Get(ctx, newest, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil // replaced by a newer revision since the list
	}
	if err != nil {
		return "", err
	}
	v, err := releaseChartVersion(secret.Data["release"])
	if err != nil {
		return "", fmt.Errorf("%w: Secret %s: %w", errUnreadableRelease, newest, err)
	}
	return v, nil
}

// errUnreadableRelease is a Helm release Secret whose content cannot be
// read; it is noted, not asked again.
var errUnreadableRelease = errors.New("unreadable")

// releaseChartVersion reads chart.metadata.version from a Helm release as
// Helm stores it in a Secret: base64 of (usually gzipped) JSON. The JSON is
// read as a stream up to that field; the chart's metadata comes before its
// templates and the rendered manifest, which are not decoded.
func releaseChartVersion(stored []byte) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(string(stored))
	if err != nil {
		return "", fmt.Errorf("not base64: %w", err)
	}
	var r io.Reader = bytes.NewReader(raw)
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		if r, err = gzip.NewReader(r); err != nil {
			return "", err
		}
	}
	dec := json.NewDecoder(r)
	if err := enter(dec, "chart"); err != nil {
		return "", err
	}
	if err := enter(dec, "metadata"); err != nil {
		return "", err
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := dec.Decode(&meta); err != nil {
		return "", fmt.Errorf("chart metadata: %w", err)
	}
	if meta.Version == "" {
		return "", errors.New("no chart version")
	}
	return meta.Version, nil
}

// enter reads an object's opening brace and its members up to key, leaving
// the decoder at key's value; other members are skipped.
func enter(dec *json.Decoder, key string) error {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("looking for %q: not an object", key)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if t == key {
			return nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // More is false on a read error too
		return err
	}
	return fmt.Errorf("no %q", key)
}
