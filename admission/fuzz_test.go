package admission

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/tidwall/sjson"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/lowmem/harvester-network-webhook/apis/network/v1beta1"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// Native fuzz targets, seeded from the parity corpus (every recorded
// request, and the configs, route annotations and VlanConfigs in it).
// Without -fuzz they replay their seeds and testdata/fuzz as ordinary tests;
// `make fuzz` runs each for FUZZTIME, or run one with e.g.
//
//	go test -run '^$' -fuzz '^FuzzHandler$' -fuzztime 20s ./admission/
//
// An input that fails is written to testdata/fuzz/<target>/ and replayed by
// every later `go test`: commit it with the fix.

// corpusSeeds are values taken from the parity corpus.
type corpusSeeds struct {
	cases       []*parityCase
	configs     []string // spec.config of every NAD, in requests and in the cluster
	routes      []string // network.harvesterhci.io/route annotations
	selectors   []string // VlanConfig spec.nodeSelector, as JSON
	matched     []string // matched-nodes annotations
	clusterNets []string // VlanConfig spec.clusterNetwork
}

// loadCorpusSeeds reads every parity case once per fuzz target.
func loadCorpusSeeds(f *testing.F) *corpusSeeds {
	f.Helper()
	s := &corpusSeeds{}
	seen := map[string]bool{}
	add := func(dst *[]string, v string) {
		if !seen[v] {
			seen[v] = true
			*dst = append(*dst, v)
		}
	}
	for _, dir := range parityDirs {
		files, err := filepath.Glob(filepath.Join("testdata", "parity", dir, "*.json"))
		if err != nil || len(files) == 0 {
			f.Fatalf("parity corpus %s: %v", dir, err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			c := &parityCase{}
			if err := json.Unmarshal(b, c); err != nil {
				f.Fatalf("%s: %v", file, err)
			}
			s.cases = append(s.cases, c)
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(c.Request, &review); err != nil || review.Request == nil {
				f.Fatalf("%s: request: %v", file, err)
			}
			objects := append([]json.RawMessage{review.Request.Object.Raw, review.Request.OldObject.Raw}, c.Objects...)
			for _, raw := range objects {
				var o struct {
					Kind     string
					Metadata struct{ Annotations map[string]string }
					Spec     struct {
						Config         string
						ClusterNetwork string
						NodeSelector   map[string]string
					}
				}
				if len(raw) == 0 || json.Unmarshal(raw, &o) != nil {
					continue
				}
				switch o.Kind {
				case nadKind:
					add(&s.configs, o.Spec.Config)
					if r, ok := o.Metadata.Annotations[annotationRoute]; ok {
						add(&s.routes, r)
					}
				case vlanConfigKind:
					sel, _ := json.Marshal(o.Spec.NodeSelector)
					add(&s.selectors, string(sel))
					add(&s.matched, o.Metadata.Annotations[annotationMatchedNodes])
					add(&s.clusterNets, o.Spec.ClusterNetwork)
				}
			}
		}
	}
	return s
}

func FuzzDecodeNetConf(f *testing.F) {
	for _, s := range []string{"", "null", " null ", "[1]", "1", `"x"`, "{", vlan100Config,
		`{"bridge":"br","vlan":-1}`, `{"bridge":"data-br","vlan":"1"}`, `{"ipam":1}`, `{"dns":{"nameservers":[1]}}`} {
		f.Add(s)
	}
	for _, s := range loadCorpusSeeds(f).configs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		for _, v := range []Version{V1_6, V1_7, V1_9} {
			conf, err := decodeNADConfig(Profile{Version: v}, "ns", "name", config)
			if err == nil && conf == nil {
				t.Fatalf("%s: decodeNADConfig(%q) gave no config and no error", v, config)
			}
			if err != nil && len(err.Error()) > 4*maxQuoted {
				t.Fatalf("%s: decodeNADConfig's error has %d bytes", v, len(err.Error()))
			}
			if err == nil {
				_, _ = validatorClusterNetwork(Profile{Version: v}, conf.BrName)
				for _, item := range conf.VlanTrunk {
					_ = checkTrunkItem(item)
				}
			}
		}
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
	for _, s := range loadCorpusSeeds(f).routes {
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

// fuzzVersions are the rule sets the handler target runs, one handler each
// over fuzzCluster (with kube-ovn installed from v1.6 on).
var fuzzVersions = []Version{V1_4, V1_6, V1_7, V1_8, V1_9}

func fuzzHandlers(f *testing.F) []http.Handler {
	objs := make([]*unstructured.Unstructured, len(fuzzCluster))
	for i, o := range fuzzCluster {
		objs[i] = &unstructured.Unstructured{}
		if err := objs[i].UnmarshalJSON([]byte(o)); err != nil {
			f.Fatal(err)
		}
	}
	hs := make([]http.Handler, len(fuzzVersions))
	for i, v := range fuzzVersions {
		cluster := objs
		if v >= V1_6 {
			cluster = append(slices.Clip(objs), informerstest.KubeOVNCRD())
		}
		r := chi.NewRouter()
		NewServer(Config{Profile: Profile{Version: v, ControllerUser: upstreamControllerUser},
			Store: informerstest.NewVersion(f, int(v), cluster...).Store}).Routes(r)
		hs[i] = r
	}
	return hs
}

// FuzzHandler posts arbitrary bodies to both webhook paths of every rule
// set: review decoding and routing. The seeds are every recorded request.
func FuzzHandler(f *testing.F) {
	hs := fuzzHandlers(f)
	for _, c := range loadCorpusSeeds(f).cases {
		v, err := ParseVersion(c.Profile)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(c.Request), c.Webhook == "validation", uint8(slices.Index(fuzzVersions, min(v, V1_9))))
	}
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","request":null}`), true, uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, validation bool, version uint8) {
		path := MutationPath
		if validation {
			path = ValidationPath
		}
		rec := post(t, hs[int(version)%len(hs)], path, "application/json", body)
		checkAnswer(t, rec.Code, rec.Body.Bytes())
	})
}

// FuzzRules wraps arbitrary objects in well-formed reviews, so that the
// fuzzer spends its time in the rules rather than in the review decoder.
func FuzzRules(f *testing.F) {
	h := fuzzHandlers(f)[0]
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

// fuzzNodes are the nodes the node-matching target selects from.
var fuzzNodes = []string{
	`{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1","zone":"a","nic":"ens5"}}}`,
	`{"apiVersion":"v1","kind":"Node","metadata":{"name":"n2","labels":{"kubernetes.io/hostname":"n2","zone":"b","nic":"ens5"}}}`,
	`{"apiVersion":"v1","kind":"Node","metadata":{"name":"n3","labels":{"kubernetes.io/hostname":"n3","zone":"a"}}}`,
	`{"apiVersion":"v1","kind":"Node","metadata":{"name":"w","labels":{"kubernetes.io/hostname":"w","zone":"a","node-role.harvesterhci.io/witness":"true"}}}`,
}

// FuzzVlanConfigNodeMatching runs the VlanConfig mutator's node matching
// and the validator's reading of its result: the nodes matched are exactly
// those carrying every label of the selector, never a witness; the
// matched-nodes annotation written parses back to them; every VlanStatus
// name derived from a node fits a Kubernetes name.
func FuzzVlanConfigNodeMatching(f *testing.F) {
	seeds := loadCorpusSeeds(f)
	for i, sel := range seeds.selectors {
		f.Add(sel, seeds.matched[i%len(seeds.matched)], seeds.clusterNets[i%len(seeds.clusterNets)])
	}
	f.Add(`{"zone":"a"}`, `["n1","n3"]`, "data")
	f.Add(`{}`, `[`, strings.Repeat("x", 60))
	store := informerstest.NewStore(f, clusterObjectsF(f, fuzzNodes)...)
	f.Fuzz(func(t *testing.T, selector, matched, clusterNetwork string) {
		var set map[string]string
		if json.Unmarshal([]byte(selector), &set) != nil {
			return
		}
		r := &Request{AdmissionRequest: &admissionv1.AdmissionRequest{}, Profile: Profile{Version: V1_4}, Store: store}
		vc := &v1beta1.VlanConfig{}
		vc.Name, vc.Spec.ClusterNetwork, vc.Spec.NodeSelector = "vc", clusterNetwork, set
		vc.Annotations = map[string]string{annotationMatchedNodes: matched}
		var want []string
		for _, n := range store.Nodes(labels.Everything()) {
			_, witness := n.Labels[labelWitnessNode]
			ok := !witness
			for k, v := range set {
				if got, has := n.Labels[k]; !has || got != v {
					ok = false
				}
			}
			if ok {
				want = append(want, n.Name)
			}
		}
		ops := vlanConfigPatches(r, vc, true)
		var got []string
		for _, op := range ops {
			if op.Path == "/metadata/annotations" {
				if err := json.Unmarshal([]byte(op.Value.(map[string]string)[annotationMatchedNodes]), &got); err != nil {
					t.Fatalf("matched-nodes written %q: %v", op.Value, err)
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("selector %v matched %v, want %v", set, got, want)
		}
		nodes, present, err := matchedNodes(vc)
		if err == nil && present {
			for _, node := range nodes {
				if name := vlanStatusName(clusterNetwork, node); len(name) > 63 {
					t.Fatalf("vlanStatusName(%q, %q) = %q is longer than a name may be", clusterNetwork, node, name)
				}
			}
		}
		if err != nil && len(err.Error()) > 2*maxQuoted {
			t.Fatalf("matched-nodes error of %d bytes", len(err.Error()))
		}
	})
}

// FuzzPatchBuilding builds the NAD mutator's patch: the MTU set in a config
// byte-faithfully, as upstream does with sjson, then the JSON patch of the
// labels, annotations and config. A valid config stays valid JSON with
// every other field as it was, and the patch decodes to what was built.
func FuzzPatchBuilding(f *testing.F) {
	for _, c := range loadCorpusSeeds(f).configs {
		f.Add(c, 9000, `{"network.harvesterhci.io/type":"L2VlanNetwork"}`)
	}
	f.Add(`{"mtu":1,"mtu":2}`, 1500, `{}`)
	f.Fuzz(func(t *testing.T, config string, mtu int, labelsJSON string) {
		var before map[string]any
		if json.Unmarshal([]byte(config), &before) != nil || !utf8.ValidString(config) {
			return // the mutator patches only configs that decode
		}
		var lbls map[string]string
		if json.Unmarshal([]byte(labelsJSON), &lbls) != nil {
			return
		}
		patched, err := sjson.Set(config, "mtu", mtu)
		if err != nil {
			t.Fatalf("sjson.Set(%q): %v", config, err)
		}
		var after map[string]any
		if err := json.Unmarshal([]byte(patched), &after); err != nil {
			t.Fatalf("config %q patched into invalid JSON %q: %v", config, patched, err)
		}
		for k, v := range before {
			if k != "mtu" && !reflect.DeepEqual(after[k], v) {
				t.Fatalf("patching the MTU of %q changed %q: %q", config, k, patched)
			}
		}
		ops := []PatchOp{replaceLabels(copyMap(lbls)), replaceAnnotations(copyMap(nil)), replaceConfig(patched)}
		body, err := encodePatch(ops)
		if err != nil {
			t.Fatal(err)
		}
		var back []struct {
			Op, Path string
			Value    any
		}
		if err := json.Unmarshal(body, &back); err != nil || len(back) != 3 {
			t.Fatalf("patch %s: %v", body, err)
		}
		if back[2].Value != patched || back[0].Path != "/metadata/labels" || len(back[0].Value.(map[string]any)) != len(lbls) {
			t.Fatalf("patch %s does not carry what was built", body)
		}
	})
}

func clusterObjectsF(f *testing.F, objects []string) []*unstructured.Unstructured {
	objs := make([]*unstructured.Unstructured, len(objects))
	for i, o := range objects {
		objs[i] = &unstructured.Unstructured{}
		if err := objs[i].UnmarshalJSON([]byte(o)); err != nil {
			f.Fatal(err)
		}
	}
	return objs
}
