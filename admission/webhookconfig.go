package admission

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Name is upstream's application name: it names the Service, the Secrets and
// both webhook configurations.
const Name = "harvester-network-webhook"

// ClientConfig says how the API server reaches the webhook: through the
// Service in Namespace (in a cluster), or at URL (outside one).
type ClientConfig struct {
	Namespace string
	// Service names the Service, both configurations and, with the
	// namespace, their webhooks; "" means Name, upstream's. Another name
	// lets a second webhook (an audit) run beside upstream's.
	Service  string
	URL      string
	CABundle []byte
	// KubeOVN adds the rules of the kube-ovn routes (kube-ovn is installed).
	KubeOVN bool
	// Audit sets failure policy Ignore on both webhooks: an audit must
	// never block a write.
	Audit bool
}

// ConfigurationName is the name of both webhook configurations.
func (cc ClientConfig) ConfigurationName() string {
	if cc.Service == "" {
		return Name
	}
	return cc.Service
}

// WebhookConfigurations returns the validating and mutating configurations
// for the profile, with one rule per route in handler-table order, as
// upstream generates them.
func WebhookConfigurations(p Profile, cc ClientConfig) (*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration) {
	none := admissionregistrationv1.SideEffectClassNone
	fail, ignore := admissionregistrationv1.Fail, admissionregistrationv1.Ignore
	if cc.Audit {
		fail = ignore
	}
	versions := []string{"v1", "v1beta1"}
	name := cc.ConfigurationName()

	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "validator." + cc.Namespace + "." + name,
			ClientConfig:            cc.webhookClientConfig(ValidationPath),
			Rules:                   cc.rules(validationRoutes(p)),
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: versions,
		}},
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "mutator." + cc.Namespace + "." + name,
			ClientConfig:            cc.webhookClientConfig(MutationPath),
			Rules:                   cc.rules(mutationRoutes(p)),
			FailurePolicy:           &ignore,
			SideEffects:             &none,
			AdmissionReviewVersions: versions,
		}},
	}
	return vwc, mwc
}

func (cc ClientConfig) webhookClientConfig(path string) admissionregistrationv1.WebhookClientConfig {
	if cc.URL != "" {
		url := cc.URL + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: cc.CABundle}
	}
	port := int32(443)
	return admissionregistrationv1.WebhookClientConfig{
		Service:  &admissionregistrationv1.ServiceReference{Namespace: cc.Namespace, Name: cc.ConfigurationName(), Path: &path, Port: &port},
		CABundle: cc.CABundle,
	}
}

func (cc ClientConfig) rules(routes []route) []admissionregistrationv1.RuleWithOperations {
	out := make([]admissionregistrationv1.RuleWithOperations, 0, len(routes))
	for _, rt := range routes {
		if rt.kubeOVN && !cc.KubeOVN {
			continue
		}
		scope := rt.scope
		out = append(out, admissionregistrationv1.RuleWithOperations{
			Operations: rt.ops,
			Rule: admissionregistrationv1.Rule{
				APIGroups:   []string{rt.gvr.Group},
				APIVersions: []string{rt.gvr.Version},
				Resources:   []string{rt.gvr.Resource},
				Scope:       &scope,
			},
		})
	}
	return out
}
