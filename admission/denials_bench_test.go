package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"

	cniv1 "github.com/lowmem/harvester-network-webhook/apis/cni/v1"
	"github.com/lowmem/harvester-network-webhook/apis/network/v1beta1"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// BenchmarkDenialsL10 measures, through the HTTP handler with the v1.9
// rules, the two denials that name many VMs, in a cluster shaped like the
// benchmark's L10 (e2e/bench/scenario.go): 20,000 VMIs on 300 nodes and
// 10,000 VMs (in another namespace), each using one of 100 NADs of the
// cluster network "data".
// The VlanConfig update takes node-0 and node-2 away from vc-data, so it
// looks at every NAD's 200 VMIs and names the 134 on those nodes; the NAD
// delete names the 200 VMIs of vlan-0. The rule/ sub-benchmarks call the
// validators on decoded objects, without the review's decoding and
// encoding around them.
func BenchmarkDenialsL10(b *testing.B) {
	const vmis, vms, nodes, nads = 20_000, 10_000, 300, 100
	threeNodes := `{"network.harvesterhci.io/matched-nodes":"[\"node-0\",\"node-1\",\"node-2\"]"}`
	objs := []string{cnData, vlanConfig("vc-data", "data", threeNodes, uplink1500)}
	for i := range nads {
		objs = append(objs, nad("default", fmt.Sprintf("vlan-%d", i), dataLabels, "{}", vlan100Config))
	}
	for i := range vmis {
		objs = append(objs, vmi(fmt.Sprintf("vmi-%d", i), fmt.Sprintf("node-%d", i%nodes), fmt.Sprintf("default/vlan-%d", i%nads)))
	}
	for i := range vms {
		objs = append(objs, vm("tenant", fmt.Sprintf("vm-%d", i), fmt.Sprintf("default/vlan-%d", i%nads)))
	}
	store := informerstest.NewVersion(b, 9, clusterObjects(b, objs)...).Store
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_9}, Store: store, Logger: zap.NewNop()}).Routes(r)

	oldVC, newVC := &v1beta1.VlanConfig{}, &v1beta1.VlanConfig{}
	vlan0 := &cniv1.NetworkAttachmentDefinition{}
	for obj, js := range map[any]string{
		oldVC: vlanConfig("vc-data", "data", threeNodes, uplink1500),
		newVC: vlanConfig("vc-data", "data", oneNode, uplink1500),
		vlan0: nad("default", "vlan-0", dataLabels, "{}", vlan100Config),
	} {
		if err := json.Unmarshal([]byte(js), obj); err != nil {
			b.Fatal(err)
		}
	}
	req := &Request{AdmissionRequest: &admissionv1.AdmissionRequest{}, Profile: Profile{Version: V1_9}, Store: store}
	for _, c := range []struct {
		name string
		rule func() error
	}{
		{"rule/vlanconfig-update", func() error { return validateVlanConfigUpdate(b.Context(), req, oldVC, newVC) }},
		{"rule/nad-delete", func() error { return validateNADDelete(b.Context(), req, vlan0) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			if c.rule() == nil {
				b.Fatal("allowed, want a denial")
			}
			b.ReportAllocs()
			for b.Loop() {
				_ = c.rule()
			}
		})
	}

	for _, c := range []struct {
		name string
		body []byte
	}{
		{"vlanconfig-update", reviewFor(b, "admission.k8s.io/v1", admissionv1.Update,
			vlanConfig("vc-data", "data", oneNode, uplink1500), vlanConfig("vc-data", "data", threeNodes, uplink1500))},
		{"nad-delete", reviewFor(b, "admission.k8s.io/v1", admissionv1.Delete, "",
			nad("default", "vlan-0", dataLabels, "{}", vlan100Config))},
	} {
		b.Run(c.name, func(b *testing.B) {
			rec := serveOnce(r, "validation", c.body)
			if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":false`)) {
				b.Fatalf("HTTP %d, want a denial: %.300s", rec.Code, rec.Body.String())
			}
			b.ReportMetric(float64(rec.Body.Len()), "resp-bytes")
			b.ReportAllocs()
			for b.Loop() {
				serveOnce(r, "validation", c.body)
			}
		})
	}
}
