package ops

import (
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

var (
	vwcGVR = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	mwcGVR = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
)

const configName = "harvester-network-webhook"

// A configuration deleted, and the other edited by hand (a rule dropped, a
// timeout set), are restored within 5 s; the operator's timeout stays.
func TestConfigurationsAreRestored(t *testing.T) {
	ctx := t.Context()
	startWebhook(t, harness.WebhookOptions{})
	if err := harness.WaitAdmitting(ctx, client, "tenant"); err != nil {
		t.Fatal(err)
	}
	vwcs, mwcs := client.Dynamic.Resource(vwcGVR), client.Dynamic.Resource(mwcGVR)
	before, err := vwcs.Get(ctx, configName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantRules := rules(t, before)

	edited := before.DeepCopy()
	hooks, _, _ := unstructured.NestedSlice(edited.Object, "webhooks")
	hook := hooks[0].(map[string]any)
	hook["timeoutSeconds"] = int64(5)
	hook["rules"] = hook["rules"].([]any)[:1]
	if err := unstructured.SetNestedSlice(edited.Object, hooks, "webhooks"); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	if _, err := vwcs.Update(ctx, edited, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if err := mwcs.Delete(ctx, configName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 5*time.Second, "both configurations restored", func() error {
		v, err := vwcs.Get(ctx, configName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := rules(t, v); got != wantRules {
			return fmt.Errorf("rules %s, want %s", got, wantRules)
		}
		if _, err := mwcs.Get(ctx, configName, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return fmt.Errorf("the mutating configuration is still absent")
		} else if err != nil {
			return err
		}
		return nil
	})
	t.Logf("restored %s after the edit", time.Since(changed).Round(10*time.Millisecond))
	v, err := vwcs.Get(ctx, configName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hooks, _, _ = unstructured.NestedSlice(v.Object, "webhooks")
	if got := hooks[0].(map[string]any)["timeoutSeconds"]; got != int64(5) {
		t.Errorf("timeoutSeconds %v, want the operator's 5", got)
	}
	if err := harness.WaitAdmitting(ctx, client, "tenant"); err != nil {
		t.Fatal(err)
	}
}

// rules renders the first webhook's rules for comparison.
func rules(t *testing.T, cfg *unstructured.Unstructured) string {
	t.Helper()
	hooks, _, err := unstructured.NestedSlice(cfg.Object, "webhooks")
	if err != nil || len(hooks) == 0 {
		t.Fatalf("webhooks: %v", err)
	}
	return fmt.Sprint(hooks[0].(map[string]any)["rules"])
}
