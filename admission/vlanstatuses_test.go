package admission

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// A VlanConfig matching eight nodes needs eight VlanStatuses: missing from
// the cache, they are fetched together, and the answer is the one a lookup
// in node order gives.
func TestOneVlanStatusPerNodeIsFetchedConcurrently(t *testing.T) {
	const nodes, delay = 8, 50 * time.Millisecond
	objects := []string{cnData}
	var names []string
	for i := range nodes {
		node := fmt.Sprintf("node-%d", i)
		names = append(names, `\"`+node+`\"`)
		owner := "vc-data"
		if i >= 6 {
			owner = "vc-other"
		}
		objects = append(objects, fmt.Sprintf(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanStatus","metadata":{"name":%q,
"labels":{"network.harvesterhci.io/vlanconfig":%q,"network.harvesterhci.io/clusternetwork":"data"}},"status":{"vlanConfig":%q}}`,
			vlanStatusName("data", node), owner, owner))
	}
	c := informerstest.New(t, informers.Config{}, clusterObjects(t, objects)...)
	c.DelayGets(delay)
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_4}, Store: c.Store}).Routes(r)
	vc := vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":"[`+strings.Join(names, ",")+`]"}`, uplink1500)
	began := time.Now()
	resp := decodeResponse(t, post(t, r, ValidationPath, "application/json", reviewFor(t, "admission.k8s.io/v1", admissionv1.Create, vc, "")))
	took := time.Since(began)
	want := "Internal error occurred: could not create vlanConfig vc-data because it overlaps with other vlanconfigs matching node(s) [node-6 node-7]"
	if resp.Allowed || resp.Result.Message != want {
		t.Errorf("answer %+v, want %q", resp.Result, want)
	}
	if p := c.PeakGets(); p != informers.FetchConcurrency {
		t.Errorf("%d GETs at once, want %d", p, informers.FetchConcurrency)
	}
	if took > nodes*delay/2 {
		t.Errorf("%d VlanStatuses of %s each took %s", nodes, delay, took)
	}
}
