package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DeniedPrefix starts every denial of the validating webhook as the API
// server reports it.
const DeniedPrefix = `admission webhook "validator.harvester-system.harvester-network-webhook" denied the request: Internal error occurred: `

// DryRunCreate creates obj with dryRun=All: admission runs, nothing is stored.
func (c *Client) DryRunCreate(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, err := c.Resource(obj)
	if err != nil {
		return nil, err
	}
	return ri.Create(ctx, obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
}

// DryRunDelete deletes obj with dryRun=All.
func (c *Client) DryRunDelete(ctx context.Context, obj *unstructured.Unstructured) error {
	ri, err := c.Resource(obj)
	if err != nil {
		return err
	}
	return ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
}

// Eventually retries check until it passes or 20 s have gone: the webhook
// decides on caches that follow the API server with a short delay.
func Eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	WaitFor(t, 20*time.Second, what, check)
}

// WaitFor retries check every 100 ms until it passes, or fails the test with
// its last error once timeout has gone.
func WaitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WantDenied checks that err is the validating webhook's denial with exactly
// msg.
func WantDenied(err error, msg string) error {
	if err == nil {
		return fmt.Errorf("allowed, want denied with %q", msg)
	}
	if !strings.Contains(err.Error(), DeniedPrefix+msg) {
		return fmt.Errorf("got %q, want %q", err.Error(), DeniedPrefix+msg)
	}
	return nil
}
