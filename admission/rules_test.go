package admission

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// ruleCase is one admission request replayed through the HTTP handler over
// the real informers, holding objects.
type ruleCase struct {
	name    string
	objects []string // JSON objects in the cluster
	webhook string   // "validation" or "mutation"
	op      admissionv1.Operation
	// object and oldObject are JSON, or "" when the request carries none.
	object, oldObject string
	// denied is the exact rejection text (without "Internal error occurred: "),
	// or "" when the request must be allowed.
	denied string
	// patch is the expected JSON patch, or "" for none.
	patch string
}

// kindOf maps the kinds under test to their API coordinates.
var kindOf = map[string]struct{ group, version, resource string }{
	"NetworkAttachmentDefinition": {"k8s.cni.cncf.io", "v1", "network-attachment-definitions"},
	"VlanConfig":                  {"network.harvesterhci.io", "v1beta1", "vlanconfigs"},
	"ClusterNetwork":              {"network.harvesterhci.io", "v1beta1", "clusternetworks"},
}

// reviewFor builds the AdmissionReview an API server sends for c, taking
// kind, namespace and name from the object (or the old object).
func reviewFor(t testing.TB, apiVersion string, op admissionv1.Operation, object, oldObject string) []byte {
	t.Helper()
	src := object
	if src == "" {
		src = oldObject
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(src)); err != nil {
		t.Fatalf("test object %s: %v", src, err)
	}
	k, ok := kindOf[u.GetKind()]
	if !ok {
		t.Fatalf("no API coordinates for kind %q", u.GetKind())
	}
	gvk := map[string]string{"group": k.group, "version": k.version, "kind": u.GetKind()}
	gvr := map[string]string{"group": k.group, "version": k.version, "resource": k.resource}
	req := map[string]any{
		"uid": "test-uid", "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
		"name": u.GetName(), "namespace": u.GetNamespace(), "operation": op,
		"userInfo": map[string]any{"username": "admin"},
	}
	if object != "" {
		req["object"] = json.RawMessage(object)
	}
	if oldObject != "" {
		req["oldObject"] = json.RawMessage(oldObject)
	}
	b, err := json.Marshal(map[string]any{"apiVersion": apiVersion, "kind": "AdmissionReview", "request": req})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clusterObjects decodes JSON objects for a test store.
func clusterObjects(t testing.TB, objects []string) []*unstructured.Unstructured {
	t.Helper()
	objs := make([]*unstructured.Unstructured, len(objects))
	for i, o := range objects {
		objs[i] = &unstructured.Unstructured{}
		if err := objs[i].UnmarshalJSON([]byte(o)); err != nil {
			t.Fatalf("cluster object %s: %v", o, err)
		}
	}
	return objs
}

// answer posts body to the webhook path and decodes the answer.
func answer(t *testing.T, objects []string, webhook string, body []byte) *admissionv1.AdmissionReview {
	t.Helper()
	h := newTestRouter(informerstest.NewStore(t, clusterObjects(t, objects)...))
	rec := post(t, h, "/v1/webhook/"+webhook, "application/json", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
	}
	review := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), review); err != nil || review.Response == nil {
		t.Fatalf("undecodable answer %q: %v", rec.Body.String(), err)
	}
	return review
}

func (c ruleCase) run(t *testing.T) {
	t.Helper()
	review := answer(t, c.objects, c.webhook, reviewFor(t, "admission.k8s.io/v1", c.op, c.object, c.oldObject))
	checkResponse(t, review.Response, c.denied, c.patch)
}

// checkResponse asserts a denial with exactly the text denied, encoded as
// upstream encodes it, or an answer allowed with exactly patch.
func checkResponse(t *testing.T, resp *admissionv1.AdmissionResponse, denied, patch string) {
	t.Helper()
	if resp.UID != "test-uid" {
		t.Errorf("response uid %q, want the request's", resp.UID)
	}
	if denied != "" {
		if resp.Allowed || resp.Result == nil {
			t.Fatalf("allowed (patch %s), want the denial %q", resp.Patch, denied)
		}
		st := resp.Result
		if st.Message != "Internal error occurred: "+denied {
			t.Errorf("denied with\n  %q\nwant\n  %q", strings.TrimPrefix(st.Message, "Internal error occurred: "), denied)
		}
		if st.Code != 500 || st.Reason != "InternalError" || st.Status != "Failure" ||
			st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Message != denied {
			t.Errorf("status %+v is not upstream's InternalError encoding", st)
		}
		if resp.Patch != nil || resp.PatchType != nil {
			t.Errorf("a denial carries patch %s", resp.Patch)
		}
		return
	}
	if !resp.Allowed {
		t.Fatalf("denied with %q, want allowed", resp.Result.Message)
	}
	if patch == "" {
		if resp.Patch != nil || resp.PatchType != nil {
			t.Errorf("patch %s, want none", resp.Patch)
		}
		return
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Errorf("patchType %v, want JSONPatch", resp.PatchType)
	}
	var got, want any
	if err := json.Unmarshal(resp.Patch, &got); err != nil {
		t.Fatalf("undecodable patch %s: %v", resp.Patch, err)
	}
	if err := json.Unmarshal([]byte(patch), &want); err != nil {
		t.Fatalf("undecodable expected patch %s: %v", patch, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("patch\n  %s\nwant\n  %s", resp.Patch, patch)
	}
}

// Cluster objects shared by the cases.
const (
	nodeOne     = `{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","labels":{"kubernetes.io/hostname":"node-1"}}}`
	nodeTwo     = `{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-2","labels":{"kubernetes.io/hostname":"node-2"}}}`
	cnData      = `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":"data"},"status":{"conditions":[{"type":"ready","status":"True"}]}}`
	vcDataNoMTU = `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-data","labels":{"network.harvesterhci.io/clusternetwork":"data"},"annotations":{"network.harvesterhci.io/matched-nodes":"[\"node-1\"]"}},"spec":{"clusterNetwork":"data","uplink":{"nics":["ens5"]}}}`
	vsData      = `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanStatus","metadata":{"name":"data-node-1-abcdef01","labels":{"network.harvesterhci.io/vlanconfig":"vc-data","network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/node":"node-1"}},"status":{"vlanConfig":"vc-data","clusterNetwork":"data","node":"node-1"}}`
)

func vlanConfig(name, cn, annotations, uplink string) string {
	return fmt.Sprintf(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":%q,"labels":{"network.harvesterhci.io/clusternetwork":%q},"annotations":%s},"spec":{"clusterNetwork":%q,"uplink":%s}}`,
		name, cn, annotations, cn, uplink)
}

func nad(ns, name, labels, annotations, config string) string {
	c, _ := json.Marshal(config)
	return fmt.Sprintf(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"namespace":%q,"name":%q,"labels":%s,"annotations":%s},"spec":{"config":%s}}`,
		ns, name, labels, annotations, c)
}

// vmi is a VirtualMachineInstance in namespace default.
func vmi(name, node string, networks ...string) string {
	const ns = "default"
	nets := make([]string, len(networks))
	for i, n := range networks {
		nets[i] = fmt.Sprintf(`{"name":"nic-%d","multus":{"networkName":%q}}`, i, n)
	}
	return fmt.Sprintf(`{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"namespace":%q,"name":%q},"spec":{"networks":[%s]},"status":{"nodeName":%q}}`,
		ns, name, strings.Join(nets, ","), node)
}

const (
	dataLabels    = `{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/type":"L2VlanNetwork","network.harvesterhci.io/vlan-id":"100"}`
	vlan100Config = `{"cniVersion":"0.3.1","name":"vlan100","type":"bridge","bridge":"data-br","promiscMode":true,"vlan":100,"ipam":{}}`
	uplink1500    = `{"nics":["ens5"],"linkAttributes":{"mtu":1500}}`
	oneNode       = `{"network.harvesterhci.io/matched-nodes":"[\"node-1\"]"}`
)

func TestNADMutatorRules(t *testing.T) {
	for _, c := range []ruleCase{
		{
			name:    "create is denied with a clear message when the first VlanConfig lacks linkAttributes",
			objects: []string{cnData, vcDataNoMTU},
			webhook: "mutation", op: admissionv1.Create,
			object: nad("default", "vlan100", "{}", "{}", vlan100Config),
			denied: "could not create nad default/vlan100 because vlanconfig vc-data has no spec.uplink.linkAttributes, so the MTU of cluster network data is unknown",
		},
		{
			name:    "create appends the VlanConfig MTU to a config without one",
			objects: []string{cnData, vlanConfig("vc-data", "data", oneNode, `{"nics":["ens5"],"linkAttributes":{"mtu":9000}}`)},
			webhook: "mutation", op: admissionv1.Create,
			object: nad("default", "vlan100", "{}", "{}", vlan100Config),
			patch:  `[{"op":"replace","path":"/spec/config","value":"{\"cniVersion\":\"0.3.1\",\"name\":\"vlan100\",\"type\":\"bridge\",\"bridge\":\"data-br\",\"promiscMode\":true,\"vlan\":100,\"ipam\":{},\"mtu\":9000}"}]`,
		},
		{
			name:    "create with an empty config is denied with the json error",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Create,
			object: nad("default", "empty", "{}", "{}", ""),
			denied: "could not create nad default/empty because unexpected end of JSON input",
		},
		{
			name:    "create with a bridge shorter than the suffix is denied instead of crashing",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Create,
			object: nad("default", "short", "{}", "{}", `{"type":"bridge","bridge":"br"}`),
			denied: "could not create nad default/short because the length of bridge name br is less than 3",
		},
		{
			name:    "update with an old bridge shorter than the suffix and a bridge change is denied with a clear message",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, "{}", `{"type":"bridge","bridge":"br","vlan":100}`),
			object:    nad("default", "vlan100", dataLabels, "{}", `{"type":"bridge","bridge":"data-br","vlan":100}`),
			denied:    "could not update nad default/vlan100 because the previous cluster network is unknown: the length of bridge name br is less than 3",
		},
		{
			name:    "update with an old bridge of exactly the suffix length records an empty last cluster network",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, "{}", `{"type":"bridge","bridge":"-br","vlan":100}`),
			object:    nad("default", "vlan100", dataLabels, "{}", `{"type":"bridge","bridge":"data-br","vlan":100}`),
			patch:     `[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/last-clusternetwork":"","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"L2VlanNetwork","network.harvesterhci.io/vlan-id":"100"}}]`,
		},
		{
			name:    "update to untagged without a route removes nothing but still replaces the annotations",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, `{"field.cattle.io/description":"lab"}`, vlan100Config),
			object:    nad("default", "vlan100", dataLabels, `{"field.cattle.io/description":"lab"}`, `{"type":"bridge","bridge":"data-br"}`),
			patch: `[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/last-type":"L2VlanNetwork","network.harvesterhci.io/last-vlan-id":"100","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"UntaggedNetwork"}},` +
				`{"op":"replace","path":"/metadata/annotations","value":{"field.cattle.io/description":"lab"}}]`,
		},
		{
			name:    "update to untagged removes the route annotation",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, `{"network.harvesterhci.io/route":"{\"mode\":\"auto\"}","a":"b"}`, vlan100Config),
			object:    nad("default", "vlan100", dataLabels, `{"network.harvesterhci.io/route":"{\"mode\":\"auto\"}","a":"b"}`, `{"type":"bridge","bridge":"data-br"}`),
			patch: `[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/last-type":"L2VlanNetwork","network.harvesterhci.io/last-vlan-id":"100","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"UntaggedNetwork"}},` +
				`{"op":"replace","path":"/metadata/annotations","value":{"a":"b"}}]`,
		},
		{
			name:    "update with a VLAN change keeps a manual route as it is",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, `{"network.harvesterhci.io/route":"{\"mode\":\"manual\",\"cidr\":\"10.0.0.0/24\",\"gateway\":\"10.0.0.1\"}"}`, vlan100Config),
			object:    nad("default", "vlan100", dataLabels, `{"network.harvesterhci.io/route":"{\"mode\":\"manual\",\"cidr\":\"10.0.0.0/24\",\"gateway\":\"10.0.0.1\"}"}`, `{"type":"bridge","bridge":"data-br","vlan":200}`),
			patch:     `[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/last-vlan-id":"100","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"L2VlanNetwork","network.harvesterhci.io/vlan-id":"200"}}]`,
		},
		{
			name:    "update with a VLAN change and a route of the wrong type is denied with upstream's type names",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, `{"network.harvesterhci.io/route":"{\"mode\":1}"}`, vlan100Config),
			object:    nad("default", "vlan100", dataLabels, `{"network.harvesterhci.io/route":"{\"mode\":1}"}`, `{"type":"bridge","bridge":"data-br","vlan":200}`),
			denied:    `could not update nad default/vlan100 because unmarshal {"mode":1} failed, error: json: cannot unmarshal number into Go struct field Layer3NetworkConf.mode of type utils.Mode`,
		},
		{
			name:    "update with both configs invalid reports the old config's error first",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, "{}", `{"vlan":"1"}`),
			object:    nad("default", "vlan100", dataLabels, "{}", `{{`),
			denied:    "could not update nad default/vlan100 because json: cannot unmarshal string into Go struct field NetConf.vlan of type int",
		},
		{
			name:    "update on a missing cluster network is denied with the cache's NotFound text",
			objects: []string{cnData},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, "{}", vlan100Config),
			object:    nad("default", "vlan100", dataLabels, "{}", `{"type":"bridge","bridge":"gone-br","vlan":100}`),
			denied:    `could not update nad default/vlan100 because clusternetworks.network.harvesterhci.io "gone" not found`,
		},
	} {
		t.Run(c.name, c.run)
	}
}

func TestNADValidatorRules(t *testing.T) {
	for _, c := range []ruleCase{
		{
			name:    "update with an unchanged config and an invalid route annotation is denied",
			objects: []string{cnData},
			webhook: "validation", op: admissionv1.Update,
			oldObject: nad("default", "vlan100", dataLabels, "{}", vlan100Config),
			object:    nad("default", "vlan100", dataLabels, `{"network.harvesterhci.io/route":"{bad"}`, vlan100Config),
			denied:    "could not update nad default/vlan100 because unmarshal {bad faield, error: invalid character 'b' looking for beginning of object key string",
		},
		{
			name:    "create with the config null is denied as an empty config",
			webhook: "validation", op: admissionv1.Create,
			object: nad("default", "nullconf", "{}", "{}", "null"),
			denied: "could not create nad default/nullconf because config is empty",
		},
		{
			name:    "create with a config that is not an object names upstream's type",
			webhook: "validation", op: admissionv1.Create,
			object: nad("default", "arr", "{}", "{}", "[1]"),
			denied: "could not create nad default/arr because unmarshal config [1] failed: json: cannot unmarshal array into Go value of type utils.NetConf",
		},
		{
			name:    "create with a manual route without gateway is denied",
			webhook: "validation", op: admissionv1.Create,
			object: nad("default", "r", "{}", `{"network.harvesterhci.io/route":"{\"mode\":\"manual\",\"cidr\":\"10.0.0.0/24\"}"}`, vlan100Config),
			denied: "could not create nad default/r because the gateway  is invalid",
		},
		{
			name:    "update from null to null counts as unchanged",
			webhook: "validation", op: admissionv1.Update,
			objects:   []string{vmi("web-01", "node-1", "default/nullconf")},
			oldObject: nad("default", "nullconf", "{}", "{}", "null"),
			object:    nad("default", "nullconf", `{"a":"b"}`, "{}", "null"),
		},
		{
			name:    "delete lists a VMI once per form it uses the NAD in",
			objects: []string{vmi("web-01", "node-1", "default/vlan100", "vlan100")},
			webhook: "validation", op: admissionv1.Delete,
			oldObject: nad("default", "vlan100", dataLabels, "{}", vlan100Config),
			denied:    "could not delete nad default/vlan100 because it's still used by VM(s) default/web-01, default/web-01 which must be stopped at first",
		},
	} {
		t.Run(c.name, c.run)
	}
}

func TestVlanConfigMutatorRules(t *testing.T) {
	for _, c := range []ruleCase{
		{
			name:    "create without labels is labelled even with an empty cluster network",
			objects: []string{nodeOne},
			webhook: "mutation", op: admissionv1.Create,
			object: `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-x"},"spec":{"clusterNetwork":"","uplink":{"nics":["ens5"]}}}`,
			patch: `[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":""}},` +
				`{"op":"replace","path":"/metadata/annotations","value":{"network.harvesterhci.io/matched-nodes":"[\"node-1\"]"}}]`,
		},
		{
			name:    "create with an empty label map and an empty cluster network gets no label op",
			objects: []string{nodeOne},
			webhook: "mutation", op: admissionv1.Create,
			object: `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-x","labels":{}},"spec":{"clusterNetwork":"","uplink":{"nics":["ens5"]}}}`,
			patch:  `[{"op":"replace","path":"/metadata/annotations","value":{"network.harvesterhci.io/matched-nodes":"[\"node-1\"]"}}]`,
		},
		{
			name:    "create records every matched node in node order",
			objects: []string{nodeTwo, nodeOne},
			webhook: "mutation", op: admissionv1.Create,
			object: vlanConfig("vc-data", "data", "{}", uplink1500),
			patch:  `[{"op":"replace","path":"/metadata/annotations","value":{"network.harvesterhci.io/matched-nodes":"[\"node-1\",\"node-2\"]"}}]`,
		},
		{
			name:    "update with an unchanged spec is not mutated",
			objects: []string{nodeOne},
			webhook: "mutation", op: admissionv1.Update,
			oldObject: vlanConfig("vc-data", "data", "{}", uplink1500),
			object:    vlanConfig("vc-data", "data", `{"x":"y"}`, uplink1500),
		},
	} {
		t.Run(c.name, c.run)
	}
}

func TestVlanConfigValidatorRules(t *testing.T) {
	vmiOnData := vmi("web-01", "node-2", "default/vlan100")
	nadData := nad("default", "vlan100", dataLabels, "{}", vlan100Config)
	nadData2 := nad("default", "vlan200", dataLabels, "{}", `{"type":"bridge","bridge":"data-br","vlan":200}`)
	for _, c := range []ruleCase{
		{
			name:    "update with an unchanged cluster network is denied clearly when the old object has no matched-nodes annotation",
			objects: []string{cnData, vsData},
			webhook: "validation", op: admissionv1.Update,
			oldObject: vlanConfig("vc-data", "data", "{}", uplink1500),
			object:    vlanConfig("vc-data", "data", oneNode, `{"nics":["ens6"],"linkAttributes":{"mtu":1500}}`),
			denied:    "could not update vlanConfig vc-data because the nodes it leaves are unknown: the old object has no network.harvesterhci.io/matched-nodes annotation",
		},
		{
			name:    "update with a changed cluster network and no old matched-nodes annotation checks VMIs on every node",
			objects: []string{cnData, vsData, nadData, vmiOnData},
			webhook: "validation", op: admissionv1.Update,
			oldObject: vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":""}`, uplink1500),
			object:    vlanConfig("vc-data", "storage", oneNode, uplink1500),
			denied:    "could not update vlanConfig vc-data because it's blocked by VM(s) default/web-01 which must be stopped at first",
		},
		{
			name:    "update with a changed cluster network and no old matched-nodes annotation is allowed when nothing runs",
			objects: []string{cnData, vsData, nadData},
			webhook: "validation", op: admissionv1.Update,
			oldObject: vlanConfig("vc-data", "data", "{}", uplink1500),
			object:    vlanConfig("vc-data", "storage", oneNode, uplink1500),
		},
		{
			name:    "update with invalid old matched-nodes JSON is denied with the json error",
			objects: []string{cnData, vsData},
			webhook: "validation", op: admissionv1.Update,
			oldObject: vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":"[node-1]"}`, uplink1500),
			object:    vlanConfig("vc-data", "data", oneNode, `{"nics":["ens6"],"linkAttributes":{"mtu":1500}}`),
			denied:    "could not update vlanConfig vc-data because invalid character 'o' in literal null (expecting 'u')",
		},
		{
			name:    "create is denied clearly when the matched-nodes annotation is empty",
			objects: []string{cnData},
			webhook: "validation", op: admissionv1.Create,
			object: vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":""}`, uplink1500),
			denied: "could not create vlanConfig vc-data because vlanConfig vc-data has no network.harvesterhci.io/matched-nodes annotation: its node selector matches no node",
		},
		{
			name:    "create is denied clearly when the current object lacks linkAttributes and another VlanConfig exists",
			objects: []string{cnData, vlanConfig("vc-a", "data", oneNode, uplink1500)},
			webhook: "validation", op: admissionv1.Create,
			object: vlanConfig("vc-b", "data", `{"network.harvesterhci.io/matched-nodes":"[\"node-2\"]"}`, `{"nics":["ens5"]}`),
			denied: "could not create vlanConfig vc-b because the MTU can't be compared with network config vc-a: this vlanConfig has no spec.uplink.linkAttributes",
		},
		{
			name:    "update is denied clearly when the other VlanConfig lacks linkAttributes",
			objects: []string{cnData, vcDataNoMTU, vlanConfig("vc-b", "data", `{"network.harvesterhci.io/matched-nodes":"[\"node-2\"]"}`, uplink1500)},
			webhook: "validation", op: admissionv1.Update,
			oldObject: vlanConfig("vc-b", "data", `{"network.harvesterhci.io/matched-nodes":"[\"node-2\"]"}`, uplink1500),
			object:    vlanConfig("vc-b", "data", `{"network.harvesterhci.io/matched-nodes":"[\"node-2\"]"}`, `{"nics":["ens6"],"linkAttributes":{"mtu":1500}}`),
			denied:    "could not update vlanConfig vc-b because the MTU can't be compared with network config vc-data: it has no spec.uplink.linkAttributes",
		},
		{
			name:    "create without linkAttributes is allowed when it is the only VlanConfig of its cluster network",
			objects: []string{cnData},
			webhook: "validation", op: admissionv1.Create,
			object: vlanConfig("vc-data", "data", oneNode, `{"nics":["ens5"]}`),
		},
		{
			name:    "delete with invalid matched-nodes JSON is denied with the json error",
			objects: []string{cnData},
			webhook: "validation", op: admissionv1.Delete,
			oldObject: vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":"{"}`, uplink1500),
			denied:    "could not delete vlanConfig vc-data because unexpected end of JSON input",
		},
		{
			name:    "delete with an empty matched-nodes annotation checks VMIs on every node",
			objects: []string{cnData, vsData, nadData, vmiOnData},
			webhook: "validation", op: admissionv1.Delete,
			oldObject: vlanConfig("vc-data", "data", `{"network.harvesterhci.io/matched-nodes":""}`, uplink1500),
			denied:    "could not delete vlanConfig vc-data because it's blocked by VM(s) default/web-01 which must be stopped at first",
		},
		{
			name:    "delete lists a VMI once per NAD of the cluster network it uses",
			objects: []string{cnData, vsData, nadData, nadData2, vmi("web-01", "node-1", "default/vlan100", "default/vlan200")},
			webhook: "validation", op: admissionv1.Delete,
			oldObject: vlanConfig("vc-data", "data", oneNode, uplink1500),
			denied:    "could not delete vlanConfig vc-data because it's blocked by VM(s) default/web-01, default/web-01 which must be stopped at first",
		},
		{
			name: "delete with a storage network NAD in harvester-system prints the NAD name only",
			objects: []string{cnData, nad("harvester-system", "storagenetwork-abc", `{"network.harvesterhci.io/clusternetwork":"data"}`,
				`{"storage-network.settings.harvesterhci.io":"true"}`, vlan100Config)},
			webhook: "validation", op: admissionv1.Delete,
			oldObject: vlanConfig("vc-data", "data", oneNode, uplink1500),
			denied:    "could not delete vlanConfig vc-data because storage network nad storagenetwork-abc is still attached",
		},
	} {
		t.Run(c.name, c.run)
	}
}

func TestClusterNetworkValidatorRules(t *testing.T) {
	for _, c := range []ruleCase{
		{
			name:    "delete lists every VlanConfig of the cluster network",
			objects: []string{cnData, vlanConfig("vc-b", "data", oneNode, uplink1500), vlanConfig("vc-a", "data", oneNode, uplink1500)},
			webhook: "validation", op: admissionv1.Delete,
			oldObject: cnData,
			denied:    "could not delete cluster network data because vlanconfig(s) [vc-a vc-b] under this clusternetwork is/are still exist(s)",
		},
		{
			name:    "create with a 13-character name is denied",
			webhook: "validation", op: admissionv1.Create,
			object: `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":"abcdefghijklm"}}`,
			denied: "could not create cluster network abcdefghijklm because the length of the clusterNetwork value is more than 12",
		},
		{
			name:    "delete is allowed while NADs still use the cluster network",
			objects: []string{cnData, nad("default", "vlan100", dataLabels, "{}", vlan100Config)},
			webhook: "validation", op: admissionv1.Delete,
			oldObject: cnData,
		},
	} {
		t.Run(c.name, c.run)
	}
}

func TestFrameworkRules(t *testing.T) {
	t.Run("a v1beta1 review is answered as v1beta1 with a patch", func(t *testing.T) {
		objects := []string{cnData, vlanConfig("vc-data", "data", oneNode, `{"nics":["ens5"],"linkAttributes":{"mtu":9000}}`)}
		body := reviewFor(t, "admission.k8s.io/v1beta1", admissionv1.Create, nad("default", "vlan100", "{}", "{}", `{"bridge":"data-br","mtu":1500}`), "")
		review := answer(t, objects, "mutation", body)
		if review.APIVersion != "admission.k8s.io/v1beta1" || review.Kind != "AdmissionReview" {
			t.Errorf("answered as %s %s, want admission.k8s.io/v1beta1 AdmissionReview", review.APIVersion, review.Kind)
		}
		checkResponse(t, review.Response, "", `[{"op":"replace","path":"/spec/config","value":"{\"bridge\":\"data-br\",\"mtu\":9000}"}]`)
	})
	for _, c := range []ruleCase{
		{
			name:    "CONNECT is allowed",
			webhook: "validation", op: admissionv1.Connect,
			object: nad("default", "vlan100", "{}", "{}", "not json"),
		},
		{
			name:    "UPDATE without oldObject is denied with a clear message",
			webhook: "validation", op: admissionv1.Update,
			object: nad("default", "vlan100", "{}", "{}", vlan100Config),
			denied: "request.oldObject is missing from the admission request",
		},
		{
			name:    "DELETE without oldObject is denied with a clear message",
			webhook: "mutation", op: admissionv1.Delete,
			object: nad("default", "vlan100", "{}", "{}", vlan100Config),
			denied: "request.oldObject is missing from the admission request",
		},
		{
			name:    "an unknown operation is refused as upstream refuses it",
			webhook: "validation", op: "PATCH",
			object: nad("default", "vlan100", "{}", "{}", vlan100Config),
			denied: "unsupported operation PATCH",
		},
		{
			name:    "UPDATE whose old object does not decode is denied with the decode error",
			webhook: "validation", op: admissionv1.Update,
			oldObject: `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-data"},"spec":"x"}`,
			object:    `{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-data"},"spec":{"clusterNetwork":"data","uplink":{}}}`,
			denied:    "json: cannot unmarshal string into Go struct field VlanConfig.spec of type v1beta1.VlanConfigSpec",
		},
	} {
		t.Run(c.name, c.run)
	}
}
