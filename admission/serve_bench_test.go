package admission

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// BenchmarkServe measures one admission review through the HTTP handler (no
// TLS), v1.9 rules, with a production JSON logger writing to io.Discard, in a
// cluster shaped like the benchmark's L1: 2,000 VMIs on three nodes, all on
// the cluster network "data", 1,333 of them on the nodes the VlanConfig
// update takes away (so its denial names 1,333 VMs).
func BenchmarkServe(b *testing.B) {
	const vmis = 2000
	objs := []string{nodeOne, nodeTwo, cnData, vsData,
		vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":"[\"node-0\",\"node-1\",\"node-2\"]"}`, uplink1500)}
	for i := range 10 {
		objs = append(objs, nad("default", fmt.Sprintf("vlan%d", i), dataLabels, "{}", vlan100Config))
	}
	for i := range vmis {
		objs = append(objs, vmi(fmt.Sprintf("vmi-%04d", i), fmt.Sprintf("node-%d", i%3), fmt.Sprintf("default/vlan%d", i%10)))
	}
	store := informerstest.NewVersion(b, 9, clusterObjects(b, objs)...).Store
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel))
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_9}, Store: store, Logger: logger}).Routes(r)

	newNAD := nad("default", "bench-new", dataLabels, "{}", vlan100Config)
	for _, c := range []struct {
		name, webhook string
		body          []byte
		allowed       bool
	}{
		{"nad-create-validate", "validation", reviewFor(b, "admission.k8s.io/v1", admissionv1.Create, newNAD, ""), true},
		{"nad-create-mutate", "mutation", reviewFor(b, "admission.k8s.io/v1", admissionv1.Create, newNAD, ""), true},
		{"vlanconfig-update-validate", "validation", reviewFor(b, "admission.k8s.io/v1", admissionv1.Update,
			vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":"[\"node-1\"]"}`, uplink1500),
			vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":"[\"node-0\",\"node-1\",\"node-2\"]"}`, uplink1500)), false},
		{"nad-delete-validate", "validation", reviewFor(b, "admission.k8s.io/v1", admissionv1.Delete, "",
			nad("default", "vlan0", dataLabels, "{}", vlan100Config)), false},
	} {
		b.Run(c.name, func(b *testing.B) {
			rec := serveOnce(r, c.webhook, c.body)
			if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)) != c.allowed {
				b.Fatalf("HTTP %d, want allowed=%v: %.300s", rec.Code, c.allowed, rec.Body.String())
			}
			b.ReportMetric(float64(rec.Body.Len()), "resp-bytes")
			b.ReportAllocs()
			for b.Loop() {
				serveOnce(r, c.webhook, c.body)
			}
		})
	}
}

func serveOnce(h http.Handler, webhook string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/webhook/"+webhook, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
