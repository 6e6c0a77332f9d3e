package ops

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// Audit mode lets a bad NAD in, with the would-be denial in the API
// response's warnings.
func TestAuditModeWarns(t *testing.T) {
	ctx := t.Context()
	startWebhook(t, harness.WebhookOptions{}, "--mode", "audit")
	c, warned := warningsClient(t)
	want := "harvester-network-webhook (audit mode) would deny: can't create nad tenant/vlan5000 because vlan 5000 is out of range [0 .. 4094]"
	harness.Eventually(t, "the bad NAD admitted with a warning", func() error {
		if _, err := c.DryRunCreate(ctx, harness.MustObject(nad("vlan5000", 5000))); err != nil {
			return err
		}
		for _, w := range warned.all() {
			if strings.Contains(w, want) {
				return nil
			}
		}
		return fmt.Errorf("warnings %q, want one containing %q", warned.all(), want)
	})
}
