package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lowmem/harvester-network-webhook/admission"
)

// eventually polls check every 20 ms until it passes or 5 s have gone.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The registrar applies both configurations, restores what it owns when it
// is edited or deleted, keeps what it does not own, and follows the CA.
func TestRegistrarRestoresWhatItOwns(t *testing.T) {
	cs := fake.NewClientset()
	vwcs := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	mwcs := cs.AdmissionregistrationV1().MutatingWebhookConfigurations()
	var ca atomic.Value
	ca.Store([]byte("ca-1"))
	changed := make(chan struct{}, 1)
	registered := &atomic.Bool{}
	r := &registrar{vwc: vwcs, mwc: mwcs, profile: admission.Profile{Version: admission.V1_9},
		client:   admission.ClientConfig{Namespace: "harvester-system"},
		caBundle: func() []byte { return ca.Load().([]byte) }, kubeOVN: func() bool { return false },
		changed: changed, log: zaptest.NewLogger(t), registered: registered}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	want, _ := admission.WebhookConfigurations(r.profile, admission.ClientConfig{Namespace: "harvester-system", CABundle: []byte("ca-1")})
	get := func() (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
		return vwcs.Get(ctx, admission.Name, metav1.GetOptions{})
	}
	eventually(t, "registered", func() error {
		if !registered.Load() {
			return fmt.Errorf("not registered")
		}
		if _, err := mwcs.Get(ctx, admission.Name, metav1.GetOptions{}); err != nil {
			return err
		}
		_, err := get()
		return err
	})

	// An operator sets a timeout and, by mistake, drops a rule.
	edited, err := get()
	if err != nil {
		t.Fatal(err)
	}
	five := int32(5)
	edited.Webhooks[0].TimeoutSeconds = &five
	edited.Webhooks[0].Rules = edited.Webhooks[0].Rules[:1]
	if _, err := vwcs.Update(ctx, edited, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rules restored, the timeout kept", func() error {
		c, err := get()
		if err != nil {
			return err
		}
		if !owns(validatingFields(c.Webhooks), validatingFields(want.Webhooks)) {
			return fmt.Errorf("rules %v", c.Webhooks[0].Rules)
		}
		if c.Webhooks[0].TimeoutSeconds == nil || *c.Webhooks[0].TimeoutSeconds != 5 {
			return fmt.Errorf("timeoutSeconds %v, want the operator's 5", c.Webhooks[0].TimeoutSeconds)
		}
		return nil
	})

	if err := mwcs.Delete(ctx, admission.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted configuration recreated", func() error {
		_, err := mwcs.Get(ctx, admission.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("still absent")
		}
		return err
	})

	ca.Store([]byte("ca-2"))
	changed <- struct{}{}
	eventually(t, "the new CA in the caBundle", func() error {
		c, err := get()
		if err != nil {
			return err
		}
		if got := string(c.Webhooks[0].ClientConfig.CABundle); got != "ca-2" {
			return fmt.Errorf("caBundle %q", got)
		}
		return nil
	})
}
