// Package e2e holds the end-to-end tests of the v1.4 profile: the built
// webhook binary runs as a process against a real kube-apiserver (see
// controlplane), registered by URL, and is driven only through the API
// server. e2e/v19 does the same for the newest profile.
package e2e

import (
	"os"
	"testing"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// env is the control plane and webhook every test shares.
var env harness.Suite

func TestMain(m *testing.M) {
	os.Exit(harness.RunSuite(m, "..", &env, "--harvester-version", "v1.4"))
}
