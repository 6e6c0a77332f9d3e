package certs

import (
	"context"
	"crypto/sha1" //nolint:gosec // fingerprint annotation format, not security
	"crypto/x509"
	"fmt"
	"maps"
	"strings"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
)

// maxAttempts bounds the read-decide-write loop per Secret. Each lost race
// means another replica wrote a usable Secret, so a second read nearly
// always settles it.
const maxAttempts = 5

// dynamiclistener's annotations on the serving Secret. They are kept so that
// the Secret still looks like upstream's if upstream's image returns.
const (
	annotationCNPrefix    = "listener.cattle.io/cn-"
	annotationFingerprint = "listener.cattle.io/fingerprint"
)

// AnnotationCAPublished is the CA Secret's annotation recording when the
// first CA of tls.crt was written there (RFC 3339), so that every replica waits the same
// PropagationDelay before serving a leaf it signed. Without it (upstream's
// Secret, or one edited by hand), or with a time more than PropagationDelay
// ahead, the CA counts as published long ago.
const AnnotationCAPublished = "harvester-network-webhook/ca-published-at"

// SecretClient is the part of a namespaced Secret client that Ensure uses;
// client-go's typed SecretInterface satisfies it.
type SecretClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
	Create(ctx context.Context, secret *corev1.Secret, opts metav1.CreateOptions) (*corev1.Secret, error)
	Update(ctx context.Context, secret *corev1.Secret, opts metav1.UpdateOptions) (*corev1.Secret, error)
}

// WatchableSecretClient is what a Keeper uses: a SecretClient that can also
// list and watch, which it does only with a field selector on one name.
// client-go's typed SecretInterface and the webhook's own
// typed.Client[*corev1.Secret, *corev1.SecretList] satisfy it.
type WatchableSecretClient interface {
	SecretClient
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.SecretList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// secretContent is what a Secret is to hold: tls.crt, tls.key, and
// annotations to set (nil leaves them alone).
type secretContent struct {
	certPEM, keyPEM []byte
	annotations     map[string]string
}

// decision is a decide function's verdict on a Secret: the value to serve,
// and the content to write first unless write is nil.
type decision[T any] struct {
	value T
	write *secretContent
	why   problem
}

// reconcileSecret reads the named Secret and lets decide judge it. When
// decide keeps it, its value is returned; otherwise decide's content is
// written (create when absent, else update at the read resourceVersion).
// A write is decided only on a live read, never on the informer's cache,
// which may lag. On AlreadyExists or Conflict another writer won, so it
// reads again and judges their Secret instead.
func reconcileSecret[T any](ctx context.Context, k *Keeper, name string, decide func(*corev1.Secret) (decision[T], error)) (T, error) {
	var zero T
	live := false
	for range maxAttempts {
		current, fromCache, err := k.read(ctx, name, live)
		if err != nil {
			return zero, err
		}
		d, err := decide(current)
		if err != nil {
			return zero, fmt.Errorf("secret %s: %w", name, err)
		}
		if d.write == nil {
			return d.value, nil
		}
		if fromCache {
			live = true
			continue
		}
		err = writeSecret(ctx, k.secrets, name, current, d.write)
		if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
			k.opts.Logger.Debug("lost a race writing a secret; reading it again", zap.String("secret", name), zap.Error(err))
			continue
		}
		if err != nil {
			return zero, fmt.Errorf("write secret %s (%s): %w", name, d.why.reason, err)
		}
		if d.why.broken {
			k.opts.Logger.Warn("recreated secret", zap.String("secret", name), zap.String("problem", d.why.reason))
		} else {
			k.opts.Logger.Info("wrote secret", zap.String("secret", name), zap.String("reason", d.why.reason))
		}
		return d.value, nil
	}
	return zero, fmt.Errorf("secret %s: still contended after %d attempts", name, maxAttempts)
}

// writeSecret creates the Secret when current is nil, else updates a copy of
// current. The copy carries current's resourceVersion, so the update fails
// with Conflict if anyone wrote in between.
func writeSecret(ctx context.Context, secrets SecretClient, name string, current *corev1.Secret, c *secretContent) error {
	if current == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: c.annotations},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: c.certPEM, corev1.TLSPrivateKeyKey: c.keyPEM},
		}
		_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
		return err
	}
	s := current.DeepCopy()
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Data[corev1.TLSCertKey] = c.certPEM
	s.Data[corev1.TLSPrivateKeyKey] = c.keyPEM
	if c.annotations != nil {
		// The cn- annotations list the old certificate's names; drop them.
		maps.DeleteFunc(s.Annotations, func(k, _ string) bool { return strings.HasPrefix(k, annotationCNPrefix) })
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		maps.Copy(s.Annotations, c.annotations)
	}
	_, err := secrets.Update(ctx, s, metav1.UpdateOptions{})
	return err
}

// leafAnnotations mimics dynamiclistener: one cn- annotation per SAN and a
// SHA-1 fingerprint. A SAN that cannot form an annotation key (an IPv6
// address, say) gets ':' replaced, or is left out if still invalid.
func leafAnnotations(leaf *x509.Certificate, sans []string) map[string]string {
	a := map[string]string{
		annotationFingerprint: fmt.Sprintf("SHA1=%X", sha1.Sum(leaf.Raw)), //nolint:gosec // see import
	}
	for _, san := range sans {
		key := annotationCNPrefix + strings.ReplaceAll(san, ":", "_")
		if len(validation.IsQualifiedName(key)) == 0 {
			a[key] = san
		}
	}
	return a
}
