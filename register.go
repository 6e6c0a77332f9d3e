package main

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lowmem/harvester-network-webhook/admission"
)

// reconcileEvery is how often the webhook configurations are checked again,
// so that an edit or a deletion is repaired without a restart.
const reconcileEvery = time.Minute

// registrar keeps the two webhook configurations as the profile wants them.
type registrar struct {
	vwc        configClient[*admissionregistrationv1.ValidatingWebhookConfiguration]
	mwc        configClient[*admissionregistrationv1.MutatingWebhookConfiguration]
	profile    admission.Profile
	client     admission.ClientConfig
	kubeOVN    func() bool     // whether the kube-ovn rules belong in the configurations
	changed    <-chan struct{} // kube-ovn presence changed: apply now
	log        *zap.Logger
	registered *atomic.Bool
}

func (r *registrar) run(ctx context.Context) error {
	if _, err := retry(ctx, r.log, "register the webhook configurations", func() (struct{}, error) {
		return struct{}{}, r.apply(ctx)
	}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.registered.Store(true)
	r.log.Info("webhook configurations registered", zap.String("name", admission.Name))
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.changed:
		}
		if err := r.apply(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("failed to reconcile the webhook configurations", zap.Error(err))
		}
	}
}

func (r *registrar) apply(ctx context.Context) error {
	cc := r.client
	cc.KubeOVN = r.kubeOVN()
	vwc, mwc := admission.WebhookConfigurations(r.profile, cc)
	if err := applyConfig(ctx, r.log, r.vwc, vwc, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) any {
		return validatingFields(c.Webhooks)
	}, func(dst, src *admissionregistrationv1.ValidatingWebhookConfiguration) { dst.Webhooks = src.Webhooks }); err != nil {
		return err
	}
	return applyConfig(ctx, r.log, r.mwc, mwc, func(c *admissionregistrationv1.MutatingWebhookConfiguration) any {
		return mutatingFields(c.Webhooks)
	}, func(dst, src *admissionregistrationv1.MutatingWebhookConfiguration) { dst.Webhooks = src.Webhooks })
}

// configClient is the part of the typed webhook-configuration clients used.
type configClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// applyConfig creates the configuration, or updates it when the fields this
// webhook owns differ. Fields the API server defaults (timeouts, selectors,
// match policy) are not compared, so they are left alone while correct.
func applyConfig[T interface {
	*C
	metav1.Object
}, C any](ctx context.Context, log *zap.Logger, client configClient[T], desired T, owned func(T) any, copyWebhooks func(dst, src T)) error {
	current, err := client.Get(ctx, desired.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = client.Create(ctx, desired, metav1.CreateOptions{})
		if err == nil {
			log.Info("created webhook configuration", zap.String("kind", fmt.Sprintf("%T", *desired)))
		}
		return err
	}
	if err != nil {
		return err
	}
	if reflect.DeepEqual(owned(current), owned(desired)) {
		return nil
	}
	copyWebhooks(current, desired)
	if _, err := client.Update(ctx, current, metav1.UpdateOptions{}); err != nil {
		return err
	}
	log.Info("updated webhook configuration", zap.String("kind", fmt.Sprintf("%T", *desired)))
	return nil
}

// webhookFields are the fields of one webhook that this process sets.
type webhookFields struct {
	Name                    string
	ClientConfig            admissionregistrationv1.WebhookClientConfig
	Rules                   []admissionregistrationv1.RuleWithOperations
	FailurePolicy           *admissionregistrationv1.FailurePolicyType
	SideEffects             *admissionregistrationv1.SideEffectClass
	AdmissionReviewVersions []string
}

func validatingFields(hooks []admissionregistrationv1.ValidatingWebhook) []webhookFields {
	out := make([]webhookFields, len(hooks))
	for i, h := range hooks {
		out[i] = webhookFields{h.Name, h.ClientConfig, h.Rules, h.FailurePolicy, h.SideEffects, h.AdmissionReviewVersions}
	}
	return out
}

func mutatingFields(hooks []admissionregistrationv1.MutatingWebhook) []webhookFields {
	out := make([]webhookFields, len(hooks))
	for i, h := range hooks {
		out[i] = webhookFields{h.Name, h.ClientConfig, h.Rules, h.FailurePolicy, h.SideEffects, h.AdmissionReviewVersions}
	}
	return out
}
