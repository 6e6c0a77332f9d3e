package certs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// maxBundle bounds the caBundle. Previous CAs stay until they expire, so
// only a CA Secret deleted over and over could reach it; the oldest go
// first, and the newest CAs sign every leaf in service.
const maxBundle = 8

// problem says why a Secret must be written; the zero value means it need
// not be. broken marks a Secret deleted or corrupted, as opposed to one due
// for renewal: that is logged as a warning.
type problem struct {
	reason string
	broken bool
}

func (p problem) ok() bool { return p.reason == "" }

// needsNewCA says why a stored CA must be replaced. NotBefore is not
// checked: a CA just made by a replica with a slightly fast clock must not
// be replaced by the others.
func needsNewCA(ca *x509.Certificate, now time.Time, window time.Duration) problem {
	switch {
	case !ca.BasicConstraintsValid || !ca.IsCA:
		return problem{reason: "not a CA certificate", broken: true}
	case ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0:
		return problem{reason: "CA key usage lacks cert signing", broken: true}
	case !now.Before(ca.NotAfter.Add(-window)):
		return problem{reason: fmt.Sprintf("CA expires at %s, within %s", ca.NotAfter.UTC().Format(time.RFC3339), window)}
	}
	return problem{}
}

// unservable says why a leaf cannot be served at all: it must be in date,
// usable for server auth, signed by one of trusted (the caBundle) and cover
// every name in sans (DNS names or IPs).
func unservable(leaf *x509.Certificate, trusted []*x509.Certificate, sans []string, now time.Time) problem {
	switch {
	case !now.Before(leaf.NotAfter):
		return problem{reason: fmt.Sprintf("expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))}
	case !serverAuth(leaf):
		return problem{reason: "not valid for server auth"}
	case !slices.ContainsFunc(trusted, func(ca *x509.Certificate) bool { return leaf.CheckSignatureFrom(ca) == nil }):
		return problem{reason: "not signed by a CA in the bundle"}
	}
	for _, san := range sans {
		// VerifyHostname is the check a TLS client runs, for names and IPs.
		if leaf.VerifyHostname(san) != nil {
			return problem{reason: fmt.Sprintf("does not cover %q", san)}
		}
	}
	return problem{}
}

// needsRenewal says why a servable leaf should be replaced by one that
// signer issues, once signer may be used: it was signed by a previous CA,
// or it is within its renewal window. A leaf in its window is kept when a
// new one would be no better (signer itself expires within the window, so
// it is about to be rotated): renewing then would only loop.
func needsRenewal(leaf, signer *x509.Certificate, now time.Time, window time.Duration) problem {
	if leaf.CheckSignatureFrom(signer) != nil {
		return problem{reason: "signed by a previous CA"}
	}
	if leaf.NotAfter.Sub(now) < window && signer.NotAfter.Sub(now) >= window {
		return problem{reason: fmt.Sprintf("expires at %s, within %s", leaf.NotAfter.UTC().Format(time.RFC3339), window)}
	}
	return problem{}
}

// propagated reports whether a CA published at published has had delay to
// reach every caBundle. Unknown (zero) counts as long ago. So does a time
// more than delay ahead of now: clock skew between replicas is far smaller,
// and such a time would otherwise hold back the CA's leaves indefinitely.
func propagated(published, now time.Time, delay time.Duration) bool {
	return !now.Before(published.Add(delay)) || published.After(now.Add(delay))
}

// bundleOf returns the CA certificates of lists, in order, that can still
// anchor a chain at now: CA certificates not yet expired, each once, at
// most maxBundle.
func bundleOf(now time.Time, lists ...[]*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range slices.Concat(lists...) {
		if c.BasicConstraintsValid && c.IsCA && now.Before(c.NotAfter) &&
			!slices.ContainsFunc(out, func(o *x509.Certificate) bool { return bytes.Equal(o.Raw, c.Raw) }) {
			out = append(out, c)
		}
	}
	return out[:min(len(out), maxBundle)]
}

// serverAuth mirrors x509.Verify: no EKU extension means any use.
func serverAuth(c *x509.Certificate) bool {
	return len(c.ExtKeyUsage) == 0 ||
		slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) ||
		slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}
