package main

import (
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/lowmem/harvester-network-webhook/internal/typed"
)

// clientSet holds every client the process uses. The typed ones are built on
// a scheme of only core/v1 and admissionregistration/v1: client-go's
// generated clientset registers every built-in API group at start-up, which
// costs about 9 MiB of RSS for three resources.
type clientSet struct {
	metadata metadata.Interface
	dynamic  dynamic.Interface
	secrets  *typed.Client[*corev1.Secret, *corev1.SecretList]
	vwc      *typed.Client[*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfigurationList]
	mwc      *typed.Client[*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfigurationList]
}

// The client-side rate limit of the metadata and dynamic clients, which
// every informer shares for its lists and watches. client-go's default, 5/s
// with a burst of 10, would hold back the relists that follow an API server
// restart, when the watches of every kind end at once. The on-demand GETs
// of the reviews have a client of their own (informers.Config.REST).
const (
	informerQPS   = 20
	informerBurst = 40
)

func newClients(cfg *rest.Config, namespace string) (*clientSet, error) {
	ic := rest.CopyConfig(cfg)
	ic.QPS, ic.Burst = informerQPS, informerBurst
	meta, err := metadata.NewForConfig(ic)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(ic)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := admissionregistrationv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(scheme)
	params := runtime.NewParameterCodec(scheme)
	core, err := typedRESTClient(cfg, "/api", corev1.SchemeGroupVersion, codecs)
	if err != nil {
		return nil, fmt.Errorf("core/v1 client: %w", err)
	}
	reg, err := typedRESTClient(cfg, "/apis", admissionregistrationv1.SchemeGroupVersion, codecs)
	if err != nil {
		return nil, fmt.Errorf("admissionregistration/v1 client: %w", err)
	}
	return &clientSet{
		metadata: meta,
		dynamic:  dyn,
		secrets: typed.New("secrets", core, params, namespace,
			func() *corev1.Secret { return &corev1.Secret{} },
			func() *corev1.SecretList { return &corev1.SecretList{} }),
		vwc: typed.New("validatingwebhookconfigurations", reg, params, "",
			func() *admissionregistrationv1.ValidatingWebhookConfiguration {
				return &admissionregistrationv1.ValidatingWebhookConfiguration{}
			},
			func() *admissionregistrationv1.ValidatingWebhookConfigurationList {
				return &admissionregistrationv1.ValidatingWebhookConfigurationList{}
			}),
		mwc: typed.New("mutatingwebhookconfigurations", reg, params, "",
			func() *admissionregistrationv1.MutatingWebhookConfiguration {
				return &admissionregistrationv1.MutatingWebhookConfiguration{}
			},
			func() *admissionregistrationv1.MutatingWebhookConfigurationList {
				return &admissionregistrationv1.MutatingWebhookConfigurationList{}
			}),
	}, nil
}

func typedRESTClient(cfg *rest.Config, apiPath string, gv schema.GroupVersion, codecs serializer.CodecFactory) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = apiPath
	c.GroupVersion = &gv
	c.NegotiatedSerializer = codecs.WithoutConversion()
	return rest.RESTClientFor(c)
}
