package admission

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// Native fuzz targets. Without -fuzz they replay their seeds as ordinary
// tests; run one with e.g.
//
//	go test -run xxx -fuzz FuzzHandler -fuzztime 20s ./admission/

func FuzzDecodeNetConf(f *testing.F) {
	for _, s := range []string{"", "null", " null ", "[1]", "1", `"x"`, "{", vlan100Config,
		`{"bridge":"br","vlan":-1}`, `{"bridge":"data-br","vlan":"1"}`, `{"ipam":1}`, `{"dns":{"nameservers":[1]}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		conf, err := decodeNetConf(config)
		if err == nil {
			// The validator's checks must cope with whatever decoded, nil included.
			_ = checkBridgeConf(conf)
			if conf == nil && strings.TrimSpace(config) != "null" {
				t.Errorf("decodeNetConf(%q) gave no config and no error", config)
			}
		}
		strict, err := decodeNetConfStrict(config)
		if err == nil {
			if strict == nil {
				t.Fatalf("decodeNetConfStrict(%q) gave no config and no error", config)
			}
			// Only the suffix's length is cut, whatever the name ends in.
			if cn, err := clusterNetworkOfBridge(strict.BrName); err == nil && !strings.HasPrefix(strict.BrName, cn) ||
				err == nil && len(cn) != len(strict.BrName)-len(bridgeSuffix) {
				t.Errorf("clusterNetworkOfBridge(%q) = %q", strict.BrName, cn)
			}
		} else if config == "" && !strings.Contains(err.Error(), "unexpected end of JSON input") {
			t.Errorf("an empty config gave %v, want upstream's json error", err)
		}
	})
}

func FuzzValidateRoute(f *testing.F) {
	for _, s := range []string{"", "{}", "{", "null", `{"mode":"auto"}`, `{"mode":"manual","cidr":"10.0.0.0/24","gateway":"10.0.0.1"}`,
		`{"mode":"manual","cidr":"0.0.0.0/0","gateway":"10.0.0.1"}`, `{"mode":"manual","cidr":"::/0","gateway":"::1"}`,
		`{"mode":"dynamic"}`, `{"mode":1}`, `{"mode":"auto","outdated":"yes"}`, `{"mode":"auto","serverIPAddr":"","cidr":"","gateway":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, annotation string) {
		_ = validateRoute(annotation)
		route, ok, err := outdatedAutoRoute(annotation)
		if err != nil || !ok {
			return
		}
		var back layer3NetworkConf
		if err := json.Unmarshal([]byte(route), &back); err != nil || back.Mode != routeModeAuto || !back.Outdated {
			t.Fatalf("outdatedAutoRoute(%q) = %q, want an auto route marked outdated (%v)", annotation, route, err)
		}
		if err := validateRoute(route); err != nil {
			t.Errorf("the outdated route %q fails validation: %v", route, err)
		}
	})
}

// fuzzCluster is a cluster for the handler targets: every kind the rules
// read, with objects that reach the deeper checks (VlanStatuses, VMIs, a
// storage network NAD, a VlanConfig without linkAttributes).
var fuzzCluster = []string{
	nodeOne, nodeTwo, cnData, vcDataNoMTU, vsData,
	`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":"mgmt"}}`,
	vlanConfig("vc-storage", "storage", oneNode, uplink1500),
	nad("default", "vlan100", dataLabels, "{}", vlan100Config),
	nad("harvester-system", "storagenetwork-abc", `{"network.harvesterhci.io/clusternetwork":"data"}`,
		`{"storage-network.settings.harvesterhci.io":"true"}`, vlan100Config),
	vmi("default", "web-01", "node-1", "default/vlan100", "vlan100"),
}

func fuzzHandler(f *testing.F) http.Handler {
	objs := make([]*unstructured.Unstructured, len(fuzzCluster))
	for i, o := range fuzzCluster {
		objs[i] = &unstructured.Unstructured{}
		if err := objs[i].UnmarshalJSON([]byte(o)); err != nil {
			f.Fatal(err)
		}
	}
	return newTestRouter(informerstest.NewStore(f, objs...))
}

// parityRequests returns a few recorded request bodies, one per handler and
// operation, as seeds.
func parityRequests(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range []string{"017-nad-mutate-update-vlan-change", "002-nad-mutate-create-mtu-replaced-in-place",
		"108-nad-delete-used-by-vmi", "046-vc-mutate-create-multi-key-selector-keeps-annotations",
		"143-vc-update-uplink-change-empty-affected-set-all-vmis", "154-vc-delete-vmi-two-nads-listed-twice",
		"060-cn-delete-with-vlanconfig", "165-route-unknown-kind", "169-route-object-decode-error"} {
		b, err := os.ReadFile(filepath.Join("testdata", "parity", "v1.4", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		var c parityCase
		if err := json.Unmarshal(b, &c); err != nil {
			f.Fatal(err)
		}
		out = append(out, c.Request)
	}
	return out
}

// checkAnswer asserts the HTTP contract: a 4xx, or a 200 carrying an
// AdmissionReview whose response answers the request, denies with upstream's
// encoding, or patches only the way upstream's mutators do. A rule that
// panicked is a failure even though the handler recovers.
func checkAnswer(t *testing.T, code int, body []byte) {
	t.Helper()
	if code >= 400 && code < 500 {
		return
	}
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Response == nil || review.Kind != "AdmissionReview" {
		t.Fatalf("HTTP 200 without an AdmissionReview response: %s (%v)", body, err)
	}
	resp := review.Response
	if !resp.Allowed {
		if resp.Result == nil || resp.Result.Code != 500 || !strings.HasPrefix(resp.Result.Message, "Internal error occurred: ") {
			t.Fatalf("denial without upstream's status: %s", body)
		}
		if strings.Contains(resp.Result.Message, "failed to evaluate this request") {
			t.Fatalf("a rule panicked: %s", resp.Result.Message)
		}
		return
	}
	if resp.Patch == nil {
		return
	}
	var ops []PatchOp
	if err := json.Unmarshal(resp.Patch, &ops); err != nil || len(ops) == 0 {
		t.Fatalf("undecodable patch %s: %v", resp.Patch, err)
	}
	for _, op := range ops {
		switch op.Path {
		case "/metadata/labels", "/metadata/annotations", "/spec/config":
		default:
			t.Fatalf("unexpected patch path in %s", resp.Patch)
		}
		if op.Op != "replace" {
			t.Fatalf("unexpected patch op in %s", resp.Patch)
		}
	}
}

// FuzzHandler posts arbitrary bodies to both webhook paths.
func FuzzHandler(f *testing.F) {
	h := fuzzHandler(f)
	for _, req := range parityRequests(f) {
		f.Add(req, true)
		f.Add(req, false)
	}
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","request":null}`), true)
	f.Fuzz(func(t *testing.T, body []byte, validation bool) {
		path := MutationPath
		if validation {
			path = ValidationPath
		}
		rec := post(t, h, path, "application/json", body)
		checkAnswer(t, rec.Code, rec.Body.Bytes())
	})
}

// FuzzRules wraps arbitrary objects in well-formed reviews, so that the
// fuzzer spends its time in the rules rather than in the review decoder.
func FuzzRules(f *testing.F) {
	h := fuzzHandler(f)
	kinds := []string{"NetworkAttachmentDefinition", "VlanConfig", "ClusterNetwork"}
	ops := []admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect, "PATCH"}
	seed := func(kind, op uint8, object, oldObject string) {
		f.Add(true, kind, op, []byte(object), []byte(oldObject))
		f.Add(false, kind, op, []byte(object), []byte(oldObject))
	}
	seed(0, 0, nad("default", "n", "{}", "{}", vlan100Config), "")
	seed(0, 1, nad("default", "n", dataLabels, `{"network.harvesterhci.io/route":"{\"mode\":\"auto\"}"}`, `{"bridge":"data-br","vlan":200}`),
		nad("default", "n", dataLabels, "{}", `{"bridge":"b","vlan":100}`))
	seed(0, 2, "", nad("default", "vlan100", "{}", "{}", vlan100Config))
	seed(1, 0, vlanConfig("vc-new", "data", `{"network.harvesterhci.io/matched-nodes":"[\"node-1\",\"node-2\"]"}`, uplink1500), "")
	seed(1, 1, vlanConfig("vc-data", "storage", "{}", `{"nics":["x"]}`), vcDataNoMTU)
	seed(1, 2, "", vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":""}`, uplink1500))
	seed(2, 2, "", cnData)
	seed(2, 0, `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":"abcdefghijklmn"}}`, "")
	f.Fuzz(func(t *testing.T, validation bool, kind, op uint8, object, oldObject []byte) {
		req := map[string]any{
			"uid":         "fuzz",
			"requestKind": map[string]string{"group": "", "version": "v1", "kind": kinds[int(kind)%len(kinds)]},
			"operation":   ops[int(op)%len(ops)],
			"userInfo":    map[string]string{"username": "admin"},
		}
		k := kindOf[kinds[int(kind)%len(kinds)]]
		req["requestKind"].(map[string]string)["group"] = k.group
		if json.Valid(object) {
			req["object"] = json.RawMessage(object)
		}
		if json.Valid(oldObject) {
			req["oldObject"] = json.RawMessage(oldObject)
		}
		body, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
		if err != nil {
			t.Fatalf("marshal review: %v", err)
		}
		path := MutationPath
		if validation {
			path = ValidationPath
		}
		rec := post(t, h, path, "application/json", body)
		checkAnswer(t, rec.Code, rec.Body.Bytes())
		if rec.Code != http.StatusOK {
			t.Fatalf("a well-formed review got HTTP %d: %s", rec.Code, rec.Body.String())
		}
	})
}
