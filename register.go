package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/lowmem/harvester-network-webhook/admission"
	"github.com/lowmem/harvester-network-webhook/internal/byname"
)

// fieldManager owns, through server-side apply, the fields of the webhook
// configurations this process sets; every replica applies as it, so they
// agree, and fields other managers set (an operator's timeoutSeconds or
// namespaceSelector) are left to them.
const fieldManager = "harvester-network-webhook"

// reconcileEvery is how often the configurations are compared even without
// an event: a backstop for a watch that missed one.
const reconcileEvery = time.Minute

// registrar keeps the two webhook configurations as the profile wants them.
// It watches them by name and restores, within moments, what differs from
// what it owns: rules, client config and caBundle, failure policy, side
// effects and review versions.
type registrar struct {
	vwc     configClient[*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfigurationList]
	mwc     configClient[*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfigurationList]
	profile admission.Profile
	// client is the client config, but for its CABundle, which caBundle
	// gives at every apply: the current CA, never a copy read at start.
	client   admission.ClientConfig
	caBundle func() []byte
	kubeOVN  func() bool     // whether the kube-ovn rules belong in the configurations
	changed  <-chan struct{} // kube-ovn presence or the CA changed: apply now
	log      *zap.Logger
	// registered is set once both configurations have been applied.
	registered *atomic.Bool
}

// configClient is the part of the typed webhook-configuration clients used.
type configClient[T runtime.Object, L runtime.Object] interface {
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

func (r *registrar) run(ctx context.Context) error {
	name := r.client.ConfigurationName()
	drift := make(chan struct{}, 1)
	vwcs := watchByName(ctx, r.vwc, name, &admissionregistrationv1.ValidatingWebhookConfiguration{}, drift)
	mwcs := watchByName(ctx, r.mwc, name, &admissionregistrationv1.MutatingWebhookConfiguration{}, drift)
	if !cache.WaitForCacheSync(ctx.Done(), vwcs.HasSynced, mwcs.HasSynced) {
		return nil
	}
	if _, err := retry(ctx, r.log, "register the webhook configurations", func() (struct{}, error) {
		return struct{}{}, r.apply(ctx, nil, nil)
	}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.registered.Store(true)
	r.log.Info("webhook configurations registered", zap.String("name", name))
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		var current [2]any // what the caches hold; nil if absent
		select {
		case <-ctx.Done():
			return nil
		case <-r.changed:
		case <-drift:
			current[0], current[1] = cached(vwcs, name), cached(mwcs, name)
		case <-t.C:
			current[0], current[1] = cached(vwcs, name), cached(mwcs, name)
		}
		if err := r.apply(ctx, current[0], current[1]); err != nil && ctx.Err() == nil {
			r.log.Warn("failed to restore the webhook configurations", zap.Error(err))
		}
	}
}

// watchByName runs an informer on the one object name of client; each of
// its events signals drift.
func watchByName[T, L runtime.Object](ctx context.Context, client configClient[T, L], name string, example runtime.Object,
	drift chan<- struct{}) cache.SharedInformer {
	inf := cache.NewSharedInformer(cache.ToListWatcherWithWatchListSemantics(byname.ListWatch[L](client, name), plainListWatch{}), example, 0)
	_, _ = inf.AddEventHandler(byname.OnChange(func() {
		select {
		case drift <- struct{}{}:
		default:
		}
	}))
	go inf.RunWithContext(ctx)
	return inf
}

// plainListWatch makes an informer LIST then WATCH rather than stream the
// initial list (WatchList): for one object the stream saves nothing.
type plainListWatch struct{}

func (plainListWatch) IsWatchListSemanticsUnSupported() bool { return true }

// cached returns the informer's object name, or nil.
func cached(inf cache.SharedInformer, name string) any {
	obj, ok, err := inf.GetStore().GetByKey(name)
	if err != nil || !ok {
		return nil
	}
	return obj
}

// apply applies each configuration unless current (the cached object, nil
// for "unknown or absent, apply") already holds what this process owns.
func (r *registrar) apply(ctx context.Context, currentVWC, currentMWC any) error {
	cc := r.client
	cc.CABundle = r.caBundle()
	cc.KubeOVN = r.kubeOVN()
	vwc, mwc := admission.WebhookConfigurations(r.profile, cc)
	vwc.TypeMeta = metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"}
	mwc.TypeMeta = metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"}
	if c, ok := currentVWC.(*admissionregistrationv1.ValidatingWebhookConfiguration); !ok ||
		!owns(validatingFields(c.Webhooks), validatingFields(vwc.Webhooks)) {
		if err := applyConfig(ctx, r.log, r.vwc, vwc, currentVWC != nil); err != nil {
			return err
		}
	}
	if c, ok := currentMWC.(*admissionregistrationv1.MutatingWebhookConfiguration); !ok ||
		!owns(mutatingFields(c.Webhooks), mutatingFields(mwc.Webhooks)) {
		return applyConfig(ctx, r.log, r.mwc, mwc, currentMWC != nil)
	}
	return nil
}

// owns tells whether current holds every desired webhook with the fields
// this process sets; webhooks of other names are someone else's.
func owns(current, desired []webhookFields) bool {
	for _, d := range desired {
		i := slices.IndexFunc(current, func(c webhookFields) bool { return c.Name == d.Name })
		if i < 0 || !reflect.DeepEqual(current[i], d) {
			return false
		}
	}
	return true
}

// applyConfig server-side applies desired as fieldManager, forcing: a field
// it owns that someone else changed is taken back. drifted says the
// configuration was seen to differ, for the log.
func applyConfig[T, L runtime.Object](ctx context.Context, log *zap.Logger, client configClient[T, L], desired interface {
	runtime.Object
	metav1.Object
}, drifted bool) error {
	body, err := json.Marshal(desired)
	if err != nil {
		return err
	}
	force := true
	kind := desired.GetObjectKind().GroupVersionKind().Kind
	if _, err := client.Patch(ctx, desired.GetName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
		return fmt.Errorf("apply the %s %s: %w", kind, desired.GetName(), err)
	}
	if drifted {
		log.Info("restored webhook configuration", zap.String("kind", kind), zap.String("name", desired.GetName()))
	}
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
