package certs

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// needsNewCA reports whether a stored CA must be replaced, and why. NotBefore
// is not checked: a CA just made by a replica with a slightly fast clock must
// not be replaced by the others.
func needsNewCA(ca *x509.Certificate, now time.Time, renewBefore time.Duration) (bool, string) {
	switch {
	case ca == nil:
		return true, "absent"
	case !ca.BasicConstraintsValid || !ca.IsCA:
		return true, "not a CA certificate"
	case ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0:
		return true, "CA key usage lacks cert signing"
	case !now.Before(ca.NotAfter.Add(-renewBefore)):
		return true, fmt.Sprintf("CA expires at %s, within %s", ca.NotAfter.UTC().Format(time.RFC3339), renewBefore)
	}
	return false, ""
}

// needsNewLeaf reports whether a stored serving certificate must be
// replaced, and why: it must be signed by ca, outlive the renewal window,
// be usable for server auth and cover every name in sans (DNS names or IPs).
func needsNewLeaf(leaf, ca *x509.Certificate, sans []string, now time.Time, renewBefore time.Duration) (bool, string) {
	if leaf == nil {
		return true, "absent"
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return true, "not signed by the current CA"
	}
	if !now.Before(leaf.NotAfter.Add(-renewBefore)) {
		return true, fmt.Sprintf("expires at %s, within %s", leaf.NotAfter.UTC().Format(time.RFC3339), renewBefore)
	}
	if !serverAuth(leaf) {
		return true, "not valid for server auth"
	}
	for _, san := range sans {
		// VerifyHostname is the check a TLS client runs, for names and IPs.
		if leaf.VerifyHostname(san) != nil {
			return true, fmt.Sprintf("does not cover %q", san)
		}
	}
	return false, ""
}

// serverAuth mirrors x509.Verify: no EKU extension means any use.
func serverAuth(c *x509.Certificate) bool {
	return len(c.ExtKeyUsage) == 0 ||
		slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) ||
		slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}
