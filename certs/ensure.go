package certs

import (
	"context"
	"crypto/sha1" //nolint:gosec // fingerprint annotation format, not security
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"strings"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
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

// SecretClient is the part of a namespaced Secret client that Ensure uses;
// client-go's typed SecretInterface satisfies it.
type SecretClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
	Create(ctx context.Context, secret *corev1.Secret, opts metav1.CreateOptions) (*corev1.Secret, error)
	Update(ctx context.Context, secret *corev1.Secret, opts metav1.UpdateOptions) (*corev1.Secret, error)
}

// Ensure makes sure the CA Secret and the serving Secret in opts.Namespace
// hold a usable CA and a leaf it signed covering opts.SANs(), creating or
// replacing what does not, and returns them ready to serve. Replicas may run
// it concurrently: writes are create-if-absent or updates at the
// resourceVersion read, and a replica that loses a race uses the winner's.
// secrets must be a client for opts.Namespace.
func Ensure(ctx context.Context, secrets SecretClient, opts Options) (*Bundle, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	ca, err := ensureCA(ctx, secrets, opts)
	if err != nil {
		return nil, err
	}
	leaf, err := ensureLeaf(ctx, secrets, ca, opts)
	if err != nil {
		return nil, err
	}
	return newBundle(ca.certPEM, leaf), nil
}

func ensureCA(ctx context.Context, secrets SecretClient, opts Options) (*authority, error) {
	now := opts.Now()
	load := func(s *corev1.Secret) (*authority, string) {
		ca, err := parseAuthority(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
		if err != nil {
			return nil, err.Error()
		}
		if replace, why := needsNewCA(ca.cert, now, opts.RenewBefore); replace {
			return nil, why
		}
		return ca, ""
	}
	generate := func() (secretContent[*authority], error) {
		cn := fmt.Sprintf("%s-ca@%d", opts.ServiceName, now.Unix())
		ca, keyPEM, err := newAuthority(cn, now, opts.CAValidity)
		if err != nil {
			return secretContent[*authority]{}, err
		}
		return secretContent[*authority]{certPEM: ca.certPEM, keyPEM: keyPEM, value: ca}, nil
	}
	return reconcileSecret(ctx, secrets, opts.CASecretName(), opts.Logger, load, generate)
}

func ensureLeaf(ctx context.Context, secrets SecretClient, ca *authority, opts Options) (*tls.Certificate, error) {
	now, sans := opts.Now(), opts.SANs()
	load := func(s *corev1.Secret) (*tls.Certificate, string) {
		pair, err := parseLeaf(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
		if err != nil {
			return nil, err.Error()
		}
		if replace, why := needsNewLeaf(pair.Leaf, ca.cert, sans, now, opts.RenewBefore); replace {
			return nil, why
		}
		return pair, ""
	}
	generate := func() (secretContent[*tls.Certificate], error) {
		certPEM, keyPEM, pair, err := newLeaf(ca, sans, now, opts.LeafValidity)
		if err != nil {
			return secretContent[*tls.Certificate]{}, err
		}
		return secretContent[*tls.Certificate]{
			certPEM:     certPEM,
			keyPEM:      keyPEM,
			annotations: leafAnnotations(pair.Leaf, sans),
			value:       pair,
		}, nil
	}
	return reconcileSecret(ctx, secrets, opts.TLSSecretName(), opts.Logger, load, generate)
}

// secretContent is what generate produces: the Secret's data and
// annotations, and the parsed value they encode.
type secretContent[T any] struct {
	certPEM, keyPEM []byte
	annotations     map[string]string
	value           T
}

// reconcileSecret reads the named Secret and returns load's value if load
// finds no problem with it. Otherwise it writes generate's content (create
// when absent, else update at the read resourceVersion). On AlreadyExists
// or Conflict another writer won, so it reads again and judges their
// Secret instead.
func reconcileSecret[T any](
	ctx context.Context,
	secrets SecretClient,
	name string,
	log *zap.Logger,
	load func(*corev1.Secret) (T, string),
	generate func() (secretContent[T], error),
) (T, error) {
	var zero T
	for range maxAttempts {
		current, err := secrets.Get(ctx, name, metav1.GetOptions{})
		reason := "absent"
		switch {
		case apierrors.IsNotFound(err):
			current = nil
		case err != nil:
			return zero, fmt.Errorf("get secret %s: %w", name, err)
		default:
			value, problem := load(current)
			if problem == "" {
				return value, nil
			}
			reason = problem
		}

		content, err := generate()
		if err != nil {
			return zero, fmt.Errorf("secret %s: %w", name, err)
		}
		err = writeSecret(ctx, secrets, name, current, content)
		if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
			log.Debug("lost a race writing a secret; reading it again", zap.String("secret", name), zap.Error(err))
			continue
		}
		if err != nil {
			return zero, fmt.Errorf("write secret %s (%s): %w", name, reason, err)
		}
		log.Info("wrote secret", zap.String("secret", name), zap.String("reason", reason))
		return content.value, nil
	}
	return zero, fmt.Errorf("secret %s: still contended after %d attempts", name, maxAttempts)
}

// writeSecret creates the Secret when current is nil, else updates a copy of
// current. The copy carries current's resourceVersion, so the update fails
// with Conflict if anyone wrote in between.
func writeSecret[T any](ctx context.Context, secrets SecretClient, name string, current *corev1.Secret, c secretContent[T]) error {
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
