package certs

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultServiceName is upstream's app name. It names the Service, both
// Secrets and the serving certificate's SAN.
const DefaultServiceName = "harvester-network-webhook"

// Defaults for Options.
const (
	// DefaultCAValidity matches dynamiclistener's CA lifetime.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// DefaultLeafValidity matches upstream's
	// CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS default of 365.
	DefaultLeafValidity = 365 * 24 * time.Hour
	// DefaultRenewFraction renews a certificate when a third of its
	// lifetime is left: about 122 days for a default leaf, where
	// dynamiclistener renewed at 90.
	DefaultRenewFraction = 1.0 / 3
	// DefaultPropagationDelay leaves a new CA a minute to reach every
	// caBundle before a leaf it signed is served. The registrar re-applies
	// the configurations within seconds of a change.
	DefaultPropagationDelay = time.Minute
)

// Options configures a Keeper or Ensure. Only Namespace is required.
type Options struct {
	// Namespace holds the Service and both Secrets.
	Namespace string
	// ServiceName is the webhook Service's name. The Secrets are
	// <ServiceName>-ca and <ServiceName>-tls, and the leaf always covers
	// <ServiceName>.<Namespace>.svc. Default DefaultServiceName.
	ServiceName string
	// ExtraSANs are further DNS names or IP addresses the leaf must cover,
	// such as the host of --webhook-url when running outside the cluster
	// (an API server calling https://127.0.0.1:8443 checks an IP SAN).
	ExtraSANs []string
	// CAValidity is the lifetime of a newly created CA. Default
	// DefaultCAValidity.
	CAValidity time.Duration
	// LeafValidity is the lifetime of a newly issued leaf, capped at the
	// CA's expiry. Default DefaultLeafValidity.
	LeafValidity time.Duration
	// RenewFraction decides when a certificate is replaced: a leaf when
	// less than RenewFraction×LeafValidity is left, the CA when less than
	// RenewFraction×CAValidity is. The windows come from the configured
	// validities, not from the certificates' own NotBefore and NotAfter:
	// a leaf is backdated and may be capped at its CA's expiry, and must
	// not look due the moment it is issued. Default DefaultRenewFraction;
	// it must be below 1.
	RenewFraction float64
	// PropagationDelay is how long a new CA sits in the caBundle before a
	// leaf it signed is served. It must be shorter than both renewal
	// windows, so that the leaf in service outlives the wait. Default
	// DefaultPropagationDelay.
	PropagationDelay time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Logger receives one line per Secret written and per change of what
	// is served. Default no-op.
	Logger *zap.Logger
}

// CASecretName is the name of the Secret holding the CA.
func (o Options) CASecretName() string { return o.serviceName() + "-ca" }

// TLSSecretName is the name of the Secret holding the serving certificate.
func (o Options) TLSSecretName() string { return o.serviceName() + "-tls" }

// ServiceDNSName is the name the API server dials: <service>.<ns>.svc.
func (o Options) ServiceDNSName() string {
	return o.serviceName() + "." + o.Namespace + ".svc"
}

// SANs lists the names the leaf must cover: the Service DNS name first, then
// ExtraSANs without blanks and duplicates.
func (o Options) SANs() []string {
	sans := []string{o.ServiceDNSName()}
	seen := map[string]bool{sans[0]: true}
	for _, s := range o.ExtraSANs {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		sans = append(sans, s)
	}
	return sans
}

func (o Options) serviceName() string {
	if o.ServiceName == "" {
		return DefaultServiceName
	}
	return o.ServiceName
}

// withDefaults returns a copy with every zero field set to its default.
func (o Options) withDefaults() Options {
	o.ServiceName = o.serviceName()
	if o.CAValidity <= 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.LeafValidity <= 0 {
		o.LeafValidity = DefaultLeafValidity
	}
	if o.RenewFraction == 0 {
		o.RenewFraction = DefaultRenewFraction
	}
	if o.PropagationDelay <= 0 {
		o.PropagationDelay = DefaultPropagationDelay
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// leafWindow is how long before its expiry a leaf is renewed.
func (o Options) leafWindow() time.Duration { return fraction(o.LeafValidity, o.RenewFraction) }

// caWindow is how long before its expiry the CA is rotated.
func (o Options) caWindow() time.Duration { return fraction(o.CAValidity, o.RenewFraction) }

func fraction(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }

// validate checks defaulted options.
func (o Options) validate() error {
	if o.Namespace == "" {
		return errors.New("certs: namespace is required")
	}
	if o.RenewFraction <= 0 || o.RenewFraction >= 1 {
		return fmt.Errorf("certs: renew fraction %v is not between 0 and 1", o.RenewFraction)
	}
	if shortest := min(o.leafWindow(), o.caWindow()); o.PropagationDelay >= shortest {
		return fmt.Errorf("certs: propagation delay %s is not shorter than the shortest renewal window, %s", o.PropagationDelay, shortest)
	}
	for _, san := range o.SANs() {
		if net.ParseIP(san) != nil {
			continue
		}
		if errs := validation.IsDNS1123Subdomain(san); len(errs) > 0 {
			return fmt.Errorf("certs: SAN %q is neither an IP nor a DNS name: %s", san, strings.Join(errs, "; "))
		}
	}
	return nil
}
