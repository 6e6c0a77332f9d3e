package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

func newTestRouter(store informers.Store) http.Handler {
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_4}, Store: store}).Routes(r)
	return r
}

func post(t *testing.T, h http.Handler, path, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const configMapReview = `{"apiVersion":"%s","kind":"AdmissionReview","request":{"uid":"u1",
 "kind":{"group":"","version":"v1","kind":"ConfigMap"},"resource":{"group":"","version":"v1","resource":"configmaps"},
 "name":"cm","namespace":"default","operation":"CREATE","userInfo":{"username":"admin"},"object":{"apiVersion":"v1","kind":"ConfigMap"}}}`

func TestMalformedReviewsGetClearHTTPErrors(t *testing.T) {
	h := newTestRouter(nil)
	tests := []struct {
		name, contentType string
		body              []byte
		wantCode          int
		wantText          string
	}{
		{"not JSON", "application/json", []byte("{"), http.StatusBadRequest, "decode admission review"},
		{"a field read of the wrong type", "application/json", []byte(strings.Replace(strings.Replace(configMapReview, "%s", "admission.k8s.io/v1", 1),
			`"name":"cm"`, `"name":5`, 1)), http.StatusBadRequest, "cannot unmarshal number into Go struct field admissionRequest.request.name of type string"},
		{"no request", "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest, "has no request"},
		{"unknown review version", "application/json", []byte(strings.Replace(configMapReview, "%s", "admission.k8s.io/v2", 1)), http.StatusBadRequest, "unsupported admission review apiVersion"},
		{"wrong content type", "text/plain", []byte(strings.Replace(configMapReview, "%s", "admission.k8s.io/v1", 1)), http.StatusUnsupportedMediaType, "not application/json"},
		{"oversized body", "application/json", bytes.Repeat([]byte(" "), maxBodyBytes+1), http.StatusRequestEntityTooLarge, "the most an API server sends"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(t, h, ValidationPath, tt.contentType, tt.body)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantText) {
				t.Errorf("got HTTP %d %q, want %d containing %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantText)
			}
		})
	}
}

// Fields the webhook does not read are skipped, as unknown ones are: a
// review is not refused for them.
func TestFieldsNotReadAreNotDecoded(t *testing.T) {
	body := strings.Replace(strings.Replace(configMapReview, "%s", "admission.k8s.io/v1", 1),
		`"resource":{"group":"","version":"v1","resource":"configmaps"}`, `"resource":5,"options":[],"dryRun":"no"`, 1)
	rec := post(t, newTestRouter(nil), ValidationPath, "application/json", []byte(body))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "no route match found for CREATE") {
		t.Errorf("got HTTP %d %s", rec.Code, rec.Body.String())
	}
}

// An object of JSON null is no object, as a runtime.RawExtension reads it.
func TestANullObjectIsMissing(t *testing.T) {
	body := strings.Replace(string(reviewFor(t, "admission.k8s.io/v1", admissionv1.Delete, "", nad("default", "n", dataLabels, "{}", vlan100Config))),
		`"oldObject":{`, `"oldObject":null,"x":{`, 1)
	rec := post(t, newTestRouter(informerstest.NewStore(t)), ValidationPath, "application/json", []byte(body))
	if !strings.Contains(rec.Body.String(), "request.oldObject is missing from the admission request") {
		t.Errorf("got HTTP %d %s", rec.Code, rec.Body.String())
	}
}

func TestReviewIsAnsweredInTheVersionAsked(t *testing.T) {
	for _, version := range []string{"admission.k8s.io/v1", "admission.k8s.io/v1beta1"} {
		rec := post(t, newTestRouter(nil), ValidationPath, "application/json", []byte(strings.Replace(configMapReview, "%s", version, 1)))
		var got admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.APIVersion != version || got.Kind != "AdmissionReview" || got.Response == nil || got.Response.UID != "u1" {
			t.Fatalf("%s: got %s", version, rec.Body.String())
		}
		want := "Internal error occurred: no route match found for CREATE /v1, Kind=ConfigMap default/cm"
		if got.Response.Allowed || got.Response.Result.Message != want || got.Response.Result.Code != 500 {
			t.Errorf("%s: got %+v, want denial %q", version, got.Response, want)
		}
		if got.Request != nil {
			t.Errorf("%s: the request is echoed back", version)
		}
	}
}

func TestPanickingRuleIsDeniedWithAMessage(t *testing.T) {
	s := NewServer(Config{Profile: Profile{Version: V1_4}})
	boom := route{kind: "Boom", admit: func(context.Context, *Request) ([]PatchOp, error) { panic("nil map") }}
	ar := &admissionv1.AdmissionRequest{UID: "u", Kind: metaGVK("", "v1", "Boom"), Operation: admissionv1.Create}
	resp := s.admit(t.Context(), "validation", []route{boom}, ar)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "failed to evaluate this request: nil map") {
		t.Errorf("got %+v, want a denial naming the failure", resp.Result)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"v1.4": V1_4, "1.5": V1_5, "v1.4.3": V1_4, " v1.5 ": V1_5} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "v1.3", "v2.4", "v1.4x", "latest", "1.-1"} {
		if _, err := ParseVersion(in); err == nil || !strings.Contains(err.Error(), "accepted values are v1.4, v1.5, v1.6, v1.7, v1.8, v1.9") {
			t.Errorf("ParseVersion(%q) error = %v, want one naming the accepted values", in, err)
		}
	}
}

func TestVlanStatusName(t *testing.T) {
	// Recorded from the Harvester controller (parity corpus).
	if got := vlanStatusName("data", "harv-node-01"); got != "data-harv-node-01-679513f3" {
		t.Errorf("got %s", got)
	}
	long := vlanStatusName("data", strings.Repeat("n", 80))
	if len(long) != 63 || !strings.HasPrefix(long, "data-nnn") {
		t.Errorf("long name %q (%d chars), want 63 chars", long, len(long))
	}
}

func TestWebhookConfigurationsFollowTheHandlerTable(t *testing.T) {
	vwc, mwc := WebhookConfigurations(Profile{Version: V1_4}, ClientConfig{Namespace: "harvester-system", CABundle: []byte("ca")})
	v, m := vwc.Webhooks[0], mwc.Webhooks[0]
	if v.Name != "validator.harvester-system.harvester-network-webhook" || m.Name != "mutator.harvester-system.harvester-network-webhook" {
		t.Errorf("webhook names %q, %q", v.Name, m.Name)
	}
	if *v.FailurePolicy != "Fail" || *m.FailurePolicy != "Ignore" || *v.ClientConfig.Service.Path != ValidationPath || *m.ClientConfig.Service.Port != 443 {
		t.Errorf("unexpected policies or service reference: %+v %+v", v, m)
	}
	got := []string{}
	for _, r := range append(v.Rules, m.Rules...) {
		got = append(got, r.Resources[0]+":"+strings.Trim(strings.Join(opsStrings(r.Operations), ","), ""))
	}
	want := []string{"clusternetworks:CREATE,DELETE", "network-attachment-definitions:CREATE,UPDATE,DELETE",
		"vlanconfigs:CREATE,UPDATE,DELETE", "network-attachment-definitions:CREATE,UPDATE", "vlanconfigs:CREATE,UPDATE"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rules %v, want %v (spec §5.4, v0.5.x)", got, want)
	}
	url, _ := WebhookConfigurations(Profile{Version: V1_4}, ClientConfig{Namespace: "ns", URL: "https://127.0.0.1:9443"})
	if u := url.Webhooks[0].ClientConfig; u.Service != nil || *u.URL != "https://127.0.0.1:9443"+ValidationPath {
		t.Errorf("URL client config %+v", u)
	}
}

// An audit beside upstream's webhook: the names follow its own Service, and
// no failure blocks a write.
func TestWebhookConfigurationsInAuditMode(t *testing.T) {
	vwc, mwc := WebhookConfigurations(Profile{Version: V1_9},
		ClientConfig{Namespace: "harvester-system", Service: "harvester-network-webhook-audit", Audit: true})
	v, m := vwc.Webhooks[0], mwc.Webhooks[0]
	if vwc.Name != "harvester-network-webhook-audit" || mwc.Name != "harvester-network-webhook-audit" ||
		v.Name != "validator.harvester-system.harvester-network-webhook-audit" || m.Name != "mutator.harvester-system.harvester-network-webhook-audit" {
		t.Errorf("names %s %s %s %s", vwc.Name, mwc.Name, v.Name, m.Name)
	}
	if *v.FailurePolicy != admissionregistrationv1.Ignore || *m.FailurePolicy != admissionregistrationv1.Ignore {
		t.Errorf("failure policies %s %s, want Ignore", *v.FailurePolicy, *m.FailurePolicy)
	}
	if s := v.ClientConfig.Service; s == nil || s.Name != "harvester-network-webhook-audit" {
		t.Errorf("service %+v", s)
	}
}

func TestWebhookConfigurationsOfTheNewestProfile(t *testing.T) {
	for _, tt := range []struct {
		kubeOVN bool
		want    string
	}{
		{false, "clusternetworks:CREATE,UPDATE,DELETE network-attachment-definitions:CREATE,UPDATE,DELETE " +
			"vlanconfigs:CREATE,UPDATE,DELETE hostnetworkconfigs:CREATE,UPDATE,DELETE"},
		{true, "clusternetworks:CREATE,UPDATE,DELETE network-attachment-definitions:CREATE,UPDATE,DELETE " +
			"vlanconfigs:CREATE,UPDATE,DELETE hostnetworkconfigs:CREATE,UPDATE,DELETE subnets:CREATE,UPDATE,DELETE"},
	} {
		vwc, mwc := WebhookConfigurations(Profile{Version: V1_9}, ClientConfig{Namespace: "harvester-system", KubeOVN: tt.kubeOVN})
		var got []string
		for _, r := range vwc.Webhooks[0].Rules {
			got = append(got, r.Resources[0]+":"+strings.Join(opsStrings(r.Operations), ","))
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("kube-ovn %v: validating rules %v, want %s (spec §5.4, master)", tt.kubeOVN, got, tt.want)
		}
		if n := len(mwc.Webhooks[0].Rules); n != 2 {
			t.Errorf("kube-ovn %v: %d mutating rules, want NADs and VlanConfigs", tt.kubeOVN, n)
		}
	}
}

func TestLoggedDenialsAreBounded(t *testing.T) {
	short := errors.New("vlan 5000 is out of range")
	if got := loggedError(short); len(got) != 1 || got[0].String != short.Error() {
		t.Errorf("short error logged as %+v", got)
	}
	long := errors.New(strings.Repeat("é", maxLoggedError)) // two bytes a rune: the cut falls inside one
	got := loggedError(long)
	if len(got) != 2 || got[1].Integer != int64(len(long.Error())) {
		t.Fatalf("long error logged as %+v", got)
	}
	if msg := got[0].String; len(msg) > maxLoggedError+len("…") || !utf8.ValidString(msg) || !strings.HasSuffix(msg, "…") {
		t.Errorf("cut message %q: want at most %d bytes of valid UTF-8 ending in …", msg, maxLoggedError)
	}
}

func TestDenialsAreLoggedAndAllowedAnswersAreNot(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_4}, Store: informerstest.NewStore(t), Logger: zap.New(core)}).Routes(r)
	deny := reviewFor(t, "admission.k8s.io/v1", admissionv1.Create, nad("default", "bad", dataLabels, "{}", `{"type":"bridge","bridge":"data-br","vlan":5000}`), "")
	allow := reviewFor(t, "admission.k8s.io/v1", admissionv1.Delete, "", nad("default", "unused", dataLabels, "{}", vlan100Config))
	for _, body := range [][]byte{deny, allow} {
		if rec := post(t, r, ValidationPath, "application/json", body); rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
		}
	}
	entries := logs.All()
	if len(entries) != 1 || entries[0].Message != "denied" {
		t.Fatalf("log entries %+v, want one denial", entries)
	}
	fields := entries[0].ContextMap()
	if fields["name"] != "bad" || fields["operation"] != "CREATE" || !strings.Contains(fmt.Sprint(fields["error"]), "VLAN ID must") {
		t.Errorf("denial logged with %v", fields)
	}
}

func TestReviewsWaitForAnInFlightSlot(t *testing.T) {
	s := NewServer(Config{Profile: Profile{Version: V1_4}, Store: informerstest.NewStore(t), MaxInFlight: 1})
	r := chi.NewRouter()
	s.Routes(r)
	body := reviewFor(t, "admission.k8s.io/v1", admissionv1.Delete, "", nad("default", "unused", dataLabels, "{}", vlan100Config))
	s.work.slots <- struct{}{} // the one slot is taken

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, ValidationPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Body.Len() != 0 {
		t.Errorf("a caller gone while waiting got %q", rec.Body.String())
	}

	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- post(t, r, ValidationPath, "application/json", body) }()
	select {
	case rec := <-done:
		t.Fatalf("answered while no slot was free: HTTP %d", rec.Code)
	case <-time.After(100 * time.Millisecond):
	}
	<-s.work.slots
	if rec := <-done; rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"allowed":true`) {
		t.Errorf("after the slot was freed: HTTP %d %s", rec.Code, rec.Body.String())
	}
}

// recorder keeps the labels of every observed review.
type recorder struct{ seen []string }

func (r *recorder) Observe(webhook, kind, operation, result string, _ time.Duration) {
	r.seen = append(r.seen, strings.Join([]string{webhook, kind, operation, result}, " "))
}

// Audit mode allows what it would deny, with the denial as a warning, logs
// and counts it, and patches nothing.
func TestAuditModeWarnsInsteadOfDenying(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	rec := &recorder{}
	objects := []string{cnData, vlanConfig("vc-data", "data", oneNode, `{"nics":["ens5"],"linkAttributes":{"mtu":9000}}`)}
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_4}, Store: informerstest.NewStore(t, clusterObjects(t, objects)...), Logger: zap.New(core), Recorder: rec, Audit: true}).Routes(r)
	bad := nad("default", "bad", dataLabels, "{}", `{"type":"bridge","bridge":"data-br","vlan":5000}`)
	for _, tc := range []struct{ path, label string }{{ValidationPath, "validation NetworkAttachmentDefinition CREATE warned"}} {
		resp := decodeResponse(t, post(t, r, tc.path, "application/json", reviewFor(t, "admission.k8s.io/v1", admissionv1.Create, bad, "")))
		want := "harvester-network-webhook (audit mode) would deny: could not create nad default/bad because VLAN ID must >=0 and <=4094"
		if !resp.Allowed || resp.Result != nil || len(resp.Warnings) != 1 || resp.Warnings[0] != want {
			t.Errorf("%s: got allowed=%v result=%v warnings=%q, want allowed with warning %q", tc.path, resp.Allowed, resp.Result, resp.Warnings, want)
		}
		if got := rec.seen[len(rec.seen)-1]; got != tc.label {
			t.Errorf("counted as %q, want %q", got, tc.label)
		}
	}
	if entries := logs.All(); len(entries) != 1 || entries[0].Message != "would deny (audit mode)" {
		t.Errorf("log entries %+v, want one would-be denial", entries)
	}

	// The mutator appends the VlanConfig's MTU; in audit mode it patches
	// nothing.
	mutate := reviewFor(t, "admission.k8s.io/v1", admissionv1.Create, nad("default", "ok", "{}", "{}", vlan100Config), "")
	if enforced := answer(t, objects, "mutation", mutate).Response; enforced.Patch == nil {
		t.Fatalf("enforce mode: %+v, want a patch", enforced)
	}
	patched := decodeResponse(t, post(t, r, MutationPath, "application/json", mutate))
	if !patched.Allowed || patched.Patch != nil || patched.PatchType != nil || len(patched.Warnings) != 0 {
		t.Errorf("mutation in audit mode: %+v, want allowed without a patch", patched)
	}
	if got := rec.seen[len(rec.seen)-1]; got != "mutation NetworkAttachmentDefinition CREATE allowed" {
		t.Errorf("mutation counted as %q", got)
	}

	long := audited(&admissionv1.AdmissionRequest{UID: "u"}, errors.New(strings.Repeat("é", 2000)))
	if w := long.Warnings[0]; len(w) > maxWarning+100 || !strings.HasSuffix(w, "…") || !utf8.ValidString(w) {
		t.Errorf("a long denial's warning has %d bytes: %q…", len(w), w[:80])
	}
}

// Metric labels come from closed sets, whatever the request names.
func TestMetricLabelsAreClosedSets(t *testing.T) {
	rec := &recorder{}
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_9}, Store: informerstest.NewStore(t), Recorder: rec}).Routes(r)
	for n := range 50 {
		body := strings.NewReplacer("%s", "admission.k8s.io/v1", "ConfigMap", fmt.Sprintf("Kind%d", n),
			`"operation":"CREATE"`, fmt.Sprintf(`"operation":"OP%d"`, n)).Replace(configMapReview)
		post(t, r, ValidationPath, "application/json", []byte(body))
	}
	post(t, r, ValidationPath, "application/json", []byte("{"))
	kinds := map[string]bool{}
	for _, s := range rec.seen {
		kinds[s] = true
	}
	if len(kinds) != 2 || !kinds["validation other other denied"] || !kinds["validation   error"] {
		t.Errorf("label sets %v, want only other/other and the unreadable review", kinds)
	}
}

func decodeResponse(t *testing.T, rec *httptest.ResponseRecorder) *admissionv1.AdmissionResponse {
	t.Helper()
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
		t.Fatalf("HTTP %d %s: %v", rec.Code, rec.Body.String(), err)
	}
	return review.Response
}
