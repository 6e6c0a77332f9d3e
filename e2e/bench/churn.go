package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// Churn is the webhook's memory while the cluster changes: VMI status
// updates and Secrets coming and going, as on a busy cluster during backups.
type Churn struct {
	Seconds        float64 `json:"seconds"`
	VMIUpdates     int64   `json:"vmi_updates"`
	SecretsCreated int64   `json:"secrets_created"`
	Errors         int64   `json:"errors"`
	// PeakRSSBytes is the largest VmRSS sampled every 250 ms during churn;
	// VmHWM would include the start-up and latency phases.
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	After        Memory `json:"after"`
}

// Churn rates of the issue: 50 VMI status updates a second, 100 Secrets
// created and deleted a minute.
const (
	vmiUpdatesPerSecond = 50
	secretsPerMinute    = 100
)

// churn changes the cluster for d and samples the webhook's RSS meanwhile.
func churn(ctx context.Context, c *harness.Client, s Scenario, wh process, d time.Duration) Churn {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var out Churn
	var updates, secrets, errs atomic.Int64
	var wg sync.WaitGroup
	fail := func(err error) {
		if err != nil && ctx.Err() == nil {
			if errs.Add(1) == 1 {
				logf("  churn: first error: %v", err)
			}
		}
	}
	began := time.Now()
	peak := samplePeakRSS(wh)
	vmis, err := c.Resource(obj(map[string]any{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
		"metadata": map[string]any{"namespace": benchNS}}))
	if err != nil {
		fail(err)
		return out
	}
	// VMI status updates: VMIs have no status subresource, so a merge patch
	// of the object, one every 1/50 s, each in its own goroutine so a slow
	// answer does not lower the rate.
	wg.Go(func() {
		tick := time.NewTicker(time.Second / vmiUpdatesPerSecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			name := fmt.Sprintf("vmi-%d", i%s.VMIs)
			patch := fmt.Appendf(nil, `{"status":{"activePods":{"bench":%q}}}`, time.Now().Format(time.RFC3339Nano))
			wg.Go(func() {
				_, err := vmis.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
				if err == nil {
					updates.Add(1)
				}
				fail(err)
			})
		}
	})
	// Secrets: each one created is deleted at the next tick.
	var prev string // read only after wg.Wait
	wg.Go(func() {
		tick := time.NewTicker(time.Minute / secretsPerMinute)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			sec, err := secret(i)
			if err != nil {
				fail(err)
				continue
			}
			name := fmt.Sprintf("churn-%d-%d", began.Unix(), i)
			sec.SetName(name)
			if _, err := c.Create(ctx, sec); err != nil {
				fail(err)
				continue
			}
			secrets.Add(1)
			if prev != "" {
				fail(c.Delete(ctx, obj(map[string]any{"apiVersion": "v1", "kind": "Secret",
					"metadata": map[string]any{"name": prev, "namespace": benchNS}})))
			}
			prev = name
		}
	})
	defer func() {
		// The last Secret outlives the loop's context.
		if prev != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Delete(ctx, obj(map[string]any{"apiVersion": "v1", "kind": "Secret",
				"metadata": map[string]any{"name": prev, "namespace": benchNS}})); err != nil {
				logf("  churn: delete the last Secret: %v", err)
			}
		}
	}()
	wg.Wait()
	out.PeakRSSBytes = peak()
	out.Seconds = time.Since(began).Seconds()
	out.VMIUpdates, out.SecretsCreated, out.Errors = updates.Load(), secrets.Load(), errs.Load()
	out.After = memory(wh)
	return out
}
