package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
)

// caState is the CA Secret as read or as written.
type caState struct {
	signer    *authority
	certs     []*x509.Certificate // the bundle, signer's certificate first
	bundlePEM []byte              // tls.crt as stored
	published time.Time           // zero when the Secret does not say
}

// leafState is the serving Secret as read or as written.
type leafState struct {
	cert            *tls.Certificate
	certPEM, keyPEM []byte
}

// sync makes one pass over both Secrets, the CA first, and publishes what
// they hold. It returns the first error; what is served then stays as it
// was, except that a new caBundle is published at once, since a leaf it
// signs will wait for it.
func (k *Keeper) sync(ctx context.Context) error {
	now := k.opts.Now()
	served := k.bundle.load()
	ca, err := reconcileSecret(ctx, k, k.opts.CASecretName(), func(s *corev1.Secret) (decision[*caState], error) {
		return k.decideCA(s, served, now)
	})
	if err != nil {
		return err
	}
	leaf, err := reconcileSecret(ctx, k, k.opts.TLSSecretName(), func(s *corev1.Secret) (decision[*leafState], error) {
		return k.decideLeaf(s, ca, served, now)
	})
	if err != nil {
		if served != nil {
			k.publish(ca, &leafState{cert: served.cert, certPEM: served.certPEM, keyPEM: served.keyPEM})
		}
		return err
	}
	k.publish(ca, leaf)
	return nil
}

// decideCA judges the CA Secret s (nil when absent). A usable CA outside
// its renewal window is kept byte for byte, unless the bundle holds expired
// or unreadable certificates, which are dropped. Otherwise a new CA goes
// first in the bundle, followed by the still-valid CAs of the old one; when
// the Secret was deleted or corrupted, also by those of the bundle in
// service, so that the leaf in service stays trusted.
func (k *Keeper) decideCA(s *corev1.Secret, served *material, now time.Time) (decision[*caState], error) {
	var known []*x509.Certificate
	if served != nil {
		known = served.caCerts
	}
	if s == nil {
		if served != nil {
			return k.newCA(now, problem{reason: "deleted", broken: true}, known)
		}
		return k.newCA(now, problem{reason: "absent"})
	}
	certPEM, keyPEM := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	stored, junk := parseCertificates(certPEM)
	signer, err := parseAuthority(certPEM, keyPEM)
	if err != nil {
		return k.newCA(now, problem{reason: err.Error(), broken: true}, stored, known)
	}
	if why := needsNewCA(signer.cert, now, k.opts.caWindow()); !why.ok() {
		if why.broken {
			return k.newCA(now, why, stored, known)
		}
		return k.newCA(now, why, stored)
	}
	state := &caState{signer: signer, certs: stored, bundlePEM: certPEM, published: publishedAt(s)}
	keep := bundleOf(now, stored) // stored[0] is signer's, which is in date
	if junk == 0 && len(keep) == len(stored) {
		return decision[*caState]{value: state}, nil
	}
	state.certs, state.bundlePEM = keep, encodeCertificates(keep)
	why := problem{reason: fmt.Sprintf("dropped %d expired, duplicate or unreadable certificates from the bundle", junk+len(stored)-len(keep))}
	return decision[*caState]{value: state, why: why, write: &secretContent{certPEM: state.bundlePEM, keyPEM: keyPEM}}, nil
}

// newCA creates a CA and a bundle of it followed by the CAs of carry.
func (k *Keeper) newCA(now time.Time, why problem, carry ...[]*x509.Certificate) (decision[*caState], error) {
	signer, keyPEM, err := newAuthority(fmt.Sprintf("%s-ca@%d", k.opts.ServiceName, now.Unix()), now, k.opts.CAValidity)
	if err != nil {
		return decision[*caState]{}, err
	}
	certs := bundleOf(now, append([][]*x509.Certificate{{signer.cert}}, carry...)...)
	// The annotation has whole seconds; the state must agree with a re-read.
	published := now.UTC().Truncate(time.Second)
	state := &caState{signer: signer, certs: certs, bundlePEM: encodeCertificates(certs), published: published}
	return decision[*caState]{value: state, why: why, write: &secretContent{
		certPEM:     state.bundlePEM,
		keyPEM:      keyPEM,
		annotations: map[string]string{AnnotationCAPublished: published.Format(time.RFC3339)},
	}}, nil
}

func publishedAt(s *corev1.Secret) time.Time {
	t, err := time.Parse(time.RFC3339, s.Annotations[AnnotationCAPublished])
	if err != nil {
		return time.Time{}
	}
	return t
}

// decideLeaf judges the serving Secret s (nil when absent) against ca.
// Until ca's first CA has been published for PropagationDelay, callers may
// not trust it yet: a servable leaf is kept whoever signed it, and an
// unservable one is replaced by the leaf in service if that is servable.
// After the delay, the leaf must be ca's and outside its renewal window.
func (k *Keeper) decideLeaf(s *corev1.Secret, ca *caState, served *material, now time.Time) (decision[*leafState], error) {
	sans := k.opts.SANs()
	settled := propagated(ca.published, now, k.opts.PropagationDelay)
	var why problem
	switch {
	case s == nil && served != nil:
		why = problem{reason: "deleted", broken: true}
	case s == nil:
		why = problem{reason: "absent"}
	default:
		certPEM, keyPEM := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
		pair, err := parseLeaf(certPEM, keyPEM)
		if err != nil {
			why = problem{reason: err.Error(), broken: true}
			break
		}
		stored := decision[*leafState]{value: &leafState{cert: pair, certPEM: certPEM, keyPEM: keyPEM}}
		if why = unservable(pair.Leaf, ca.certs, sans, now); !why.ok() {
			break
		}
		if !settled {
			return stored, nil
		}
		if why = needsRenewal(pair.Leaf, ca.signer.cert, now, k.opts.leafWindow()); why.ok() {
			return stored, nil
		}
	}
	if !settled && served != nil {
		if unservable(served.cert.Leaf, ca.certs, sans, now).ok() {
			return decision[*leafState]{
				value: &leafState{cert: served.cert, certPEM: served.certPEM, keyPEM: served.keyPEM},
				write: &secretContent{certPEM: served.certPEM, keyPEM: served.keyPEM, annotations: leafAnnotations(served.cert.Leaf, sans)},
				why:   why,
			}, nil
		}
		why = problem{reason: fmt.Sprintf("%s; no leaf its callers trust yet, so issued by a CA published less than %s ago", why.reason, k.opts.PropagationDelay), broken: true}
	}
	return k.issueLeaf(ca.signer, now, why)
}

func (k *Keeper) issueLeaf(signer *authority, now time.Time, why problem) (decision[*leafState], error) {
	sans := k.opts.SANs()
	certPEM, keyPEM, pair, err := newLeaf(signer, sans, now, k.opts.LeafValidity)
	if err != nil {
		return decision[*leafState]{}, err
	}
	return decision[*leafState]{
		value: &leafState{cert: pair, certPEM: certPEM, keyPEM: keyPEM},
		write: &secretContent{certPEM: certPEM, keyPEM: keyPEM, annotations: leafAnnotations(pair.Leaf, sans)},
		why:   why,
	}, nil
}

// publish serves ca and leaf, logs what changed, and tells the caBundle
// subscribers when the bundle did.
func (k *Keeper) publish(ca *caState, leaf *leafState) {
	m := &material{
		caPEM: ca.bundlePEM, caCerts: ca.certs, published: ca.published,
		cert: leaf.cert, certPEM: leaf.certPEM, keyPEM: leaf.keyPEM,
	}
	old := k.bundle.cur.Swap(m)
	if old == nil || !old.cert.Leaf.Equal(m.cert.Leaf) {
		k.opts.Logger.Info("serving certificate",
			zap.Time("notAfter", m.cert.Leaf.NotAfter), zap.String("issuer", m.cert.Leaf.Issuer.CommonName))
	}
	if old == nil || !bytes.Equal(old.caPEM, m.caPEM) {
		k.opts.Logger.Info("caBundle in use",
			zap.Int("certificates", len(m.caCerts)), zap.String("ca", m.caCerts[0].Subject.CommonName),
			zap.Time("caNotAfter", m.caCerts[0].NotAfter))
		k.notify()
	}
}

// nextDeadline returns the earliest moment after now at which a pass over
// m would decide differently, or the zero time.
func nextDeadline(m *material, o Options, now time.Time) time.Time {
	leaf := m.cert.Leaf
	times := []time.Time{
		m.published.Add(o.PropagationDelay),
		leaf.NotAfter.Add(-o.leafWindow()),
		leaf.NotAfter,
		m.caCerts[0].NotAfter.Add(-o.caWindow()),
	}
	for _, c := range m.caCerts[1:] {
		times = append(times, c.NotAfter)
	}
	var next time.Time
	for _, t := range times {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}
