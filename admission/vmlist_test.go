package admission

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// testVM is a VMI or VM of the denial tests.
type testVM struct {
	ns, name, node string
	networks       []string // multus networkNames, "ns/name" or bare
}

func (v testVM) vmiJSON() string {
	return fmt.Sprintf(`{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"namespace":%q,"name":%q},"spec":{"networks":%s},"status":{"nodeName":%q}}`,
		v.ns, v.name, v.networksJSON(), v.node)
}

func (v testVM) vmJSON() string {
	return fmt.Sprintf(`{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"namespace":%q,"name":%q},"spec":{"template":{"spec":{"networks":%s}}}}`,
		v.ns, v.name, v.networksJSON())
}

func (v testVM) networksJSON() string {
	nets := make([]map[string]any, len(v.networks))
	for i, n := range v.networks {
		nets[i] = map[string]any{"name": fmt.Sprintf("nic-%d", i), "multus": map[string]any{"networkName": n}}
	}
	b, _ := json.Marshal(nets)
	return string(b)
}

// usersOf is upstream's answer to "who uses NAD nad", written out: the VMs
// naming it "ns/name", then those naming it by its bare name from its
// namespace, each sorted by namespace and name, as "ns/name"; nil nodes
// means every node.
func usersOf(vms []testVM, nad string, nodes map[string]bool) []string {
	var qualified, bare []testVM
	for _, v := range vms {
		if nodes != nil && !nodes[v.node] {
			continue
		}
		if slices.Contains(v.networks, nad) {
			qualified = append(qualified, v)
		}
		if ns, name, _ := strings.Cut(nad, "/"); v.ns == ns && slices.Contains(v.networks, name) {
			bare = append(bare, v)
		}
	}
	var out []string
	for _, group := range [][]testVM{qualified, bare} {
		slices.SortFunc(group, func(a, b testVM) int { return cmp.Or(cmp.Compare(a.ns, b.ns), cmp.Compare(a.name, b.name)) })
		for _, v := range group {
			out = append(out, v.ns+"/"+v.name)
		}
	}
	return out
}

// sortedUnique is the v1.6-on VlanConfig list: the strings sorted, each
// once.
func sortedUnique(refs []string) []string {
	refs = slices.Clone(refs)
	slices.Sort(refs)
	return slices.Compact(refs)
}

// The denials naming VMs keep upstream's texts byte for byte on a store of
// many VMIs over several NADs, namespaces (one a prefix of another, whose
// "ns/name" order differs from namespace-then-name order) and nodes, VMIs
// naming a NAD in both forms and several NADs of one cluster network.
func TestDenialsNamingManyVMs(t *testing.T) {
	namespaces := []string{"a", "a-b", "b", "default"}
	dataNADs := []string{"a/net1", "a-b/net1", "default/net1", "default/net2"} // in the Store's order
	candidates := []string{"a/net1", "a-b/net1", "default/net1", "default/net2", "net1", "net2", "default/other", "b/none", "default/net3"}
	rng := rand.New(rand.NewPCG(7, 8))
	var vmis, vms []testVM
	for i := range 400 {
		v := testVM{ns: namespaces[rng.IntN(len(namespaces))], name: fmt.Sprintf("vm-%d", i), node: fmt.Sprintf("node-%d", rng.IntN(5))}
		for _, n := range candidates[:8] {
			if rng.IntN(4) == 0 {
				v.networks = append(v.networks, n)
			}
		}
		vmis = append(vmis, v)
	}
	for i := range 50 {
		vms = append(vms, testVM{ns: namespaces[i%len(namespaces)], name: fmt.Sprintf("vm-%d", i), networks: []string{"default/net3", "net3"}})
	}
	allNodes := `{"network.harvesterhci.io/matched-nodes":"[\"node-0\",\"node-1\",\"node-2\",\"node-3\",\"node-4\"]"}`
	twoNodes := `{"network.harvesterhci.io/matched-nodes":"[\"node-1\",\"node-3\"]"}`
	vcAll, vcTwo := vlanConfig("vc-data", "data", allNodes, uplink1500), vlanConfig("vc-data", "data", twoNodes, uplink1500)
	// v1.4 skips updates that keep the spec.
	vcTwoNewUplink := vlanConfig("vc-data", "data", twoNodes, `{"nics":["ens6"],"linkAttributes":{"mtu":1500}}`)
	objects := []string{cnData, vcAll, vsData}
	for _, nad := range append(slices.Clone(dataNADs), "default/net3") {
		ns, name, _ := strings.Cut(nad, "/")
		objects = append(objects, nadNamed(ns, name, dataLabels))
	}
	objects = append(objects, nadNamed("default", "other", `{"network.harvesterhci.io/clusternetwork":"other"}`))
	for _, v := range vmis {
		objects = append(objects, v.vmiJSON())
	}
	for _, v := range vms {
		objects = append(objects, v.vmJSON())
	}

	takenAway := map[string]bool{"node-0": true, "node-2": true, "node-4": true}
	var legacyUpdate, updated, deleted []string
	for _, nad := range dataNADs {
		legacyUpdate = append(legacyUpdate, usersOf(vmis, nad, takenAway)...)
		updated = append(updated, usersOf(vmis, nad, takenAway)...)
		deleted = append(deleted, usersOf(vmis, nad, nil)...)
	}
	net1 := usersOf(vmis, "default/net1", nil)
	if len(legacyUpdate) == len(sortedUnique(updated)) || len(net1) == len(sortedUnique(net1)) {
		t.Fatal("the store has no VMI that names several NADs, or one NAD in both forms: change the seed")
	}
	net1Text := strings.Join(net1, ", ") + " which must be stopped at first"
	tests := []struct {
		name              string
		version           Version
		op                admissionv1.Operation
		object, oldObject string
		want              string
	}{
		{"v1.4 VlanConfig update: per NAD, as listed", V1_4, admissionv1.Update, vcTwoNewUplink, vcAll,
			"could not update vlanConfig vc-data because it's blocked by VM(s) " + strings.Join(legacyUpdate, ", ") + " which must be stopped at first"},
		{"v1.9 VlanConfig update: sorted, each once", V1_9, admissionv1.Update, vcTwo, vcAll,
			"can't update vlanConfig vc-data because it is blocked by VM(s) " + strings.Join(sortedUnique(updated), ", ") + " which must be stopped at first"},
		{"v1.9 VlanConfig delete: every matched node", V1_9, admissionv1.Delete, "", vcAll,
			"can't delete vlanConfig vc-data because it is blocked by VM(s) " + strings.Join(sortedUnique(deleted), ", ") + " which must be stopped at first"},
		{"v1.4 NAD delete", V1_4, admissionv1.Delete, "", nadNamed("default", "net1", dataLabels),
			"could not delete nad default/net1 because it's still used by VM(s) " + net1Text},
		{"v1.9 NAD delete", V1_9, admissionv1.Delete, "", nadNamed("default", "net1", dataLabels),
			"can't delete nad default/net1 because it's still used by VM(s) " + net1Text},
		{"v1.9 NAD delete used by VMs only", V1_9, admissionv1.Delete, "", nadNamed("default", "net3", dataLabels),
			"can't delete nad default/net3 because it's still used by VM(s) " + strings.Join(usersOf(vms, "default/net3", nil), ", ") +
				" which must remove the related networks and interfaces"},
	}
	stores := map[Version]informers.Store{}
	for _, v := range []Version{V1_4, V1_9} {
		stores[v] = informerstest.NewVersion(t, int(v), clusterObjects(t, objects)...).Store
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := validate(t, tt.version, stores[tt.version], reviewFor(t, "admission.k8s.io/v1", tt.op, tt.object, tt.oldObject))
			checkDenial(t, resp, tt.want)
		})
	}
}

// A denial naming more VMs than maxDenialBytes holds is cut there, saying
// how long it was, as before the lists were merged.
func TestDenialNamingTooManyVMsIsCut(t *testing.T) {
	objects := []string{cnData, nadNamed("default", "net1", dataLabels)}
	var names []string
	for i := range 12_000 {
		v := testVM{ns: "default", name: fmt.Sprintf("virtual-machine-%06d", i), node: "node-1", networks: []string{"default/net1"}}
		objects = append(objects, v.vmiJSON())
		names = append(names, v.ns+"/"+v.name)
	}
	slices.Sort(names)
	full := "can't delete nad default/net1 because it's still used by VM(s) " + strings.Join(names, ", ") + " which must be stopped at first"
	if len(full) <= maxDenialBytes {
		t.Fatalf("the denial is %d bytes, not over the bound %d", len(full), maxDenialBytes)
	}
	store := informerstest.NewVersion(t, 9, clusterObjects(t, objects)...).Store
	resp := validate(t, V1_9, store, reviewFor(t, "admission.k8s.io/v1", admissionv1.Delete, "", nadNamed("default", "net1", dataLabels)))
	checkDenial(t, resp, full)
}

// checkDenial asserts that resp denies with text, as denied encodes it: cut
// at maxDenialBytes in the message, at maxQuoted in the cause.
func checkDenial(t *testing.T, resp *admissionv1.AdmissionResponse, text string) {
	t.Helper()
	if resp.Allowed || resp.Result == nil || resp.Result.Details == nil || len(resp.Result.Details.Causes) != 1 {
		t.Fatalf("answer %+v, want a denial with one cause", resp)
	}
	text = cut(text, maxDenialBytes)
	if got, want := resp.Result.Message, "Internal error occurred: "+text; got != want {
		t.Errorf("denied with\n  %q\nwant\n  %q", got, want)
	}
	if got, want := resp.Result.Details.Causes[0].Message, quote(text); got != want {
		t.Errorf("cause\n  %q\nwant\n  %q", got, want)
	}
}

func nadNamed(ns, name, labels string) string { return nad(ns, name, labels, "{}", vlan100Config) }

// validate answers body through the validation webhook of version over
// store.
func validate(t *testing.T, version Version, store informers.Store, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: version}, Store: store}).Routes(r)
	rec := post(t, r, ValidationPath, "application/json", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
	}
	review := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), review); err != nil || review.Response == nil {
		t.Fatalf("undecodable answer %.300q: %v", rec.Body.String(), err)
	}
	return review.Response
}

func TestCompareVMIsIsStringOrder(t *testing.T) {
	parts := []string{"a", "a-b", "a.b", "ab", "b", "a0", "", "z"}
	for _, ans := range parts {
		for _, an := range parts {
			for _, bns := range parts {
				for _, bn := range parts {
					a, b := informers.VMIRef{Namespace: ans, Name: an}, informers.VMIRef{Namespace: bns, Name: bn}
					if got, want := compareVMIs(a, b), strings.Compare(ans+"/"+an, bns+"/"+bn); got != want {
						t.Errorf("compareVMIs(%s/%s, %s/%s) = %d, want %d", ans, an, bns, bn, got, want)
					}
				}
			}
		}
	}
}

// mergeVMIs gives what sorting the "ns/name" strings and dropping repeats
// gives, whatever the lists' order.
func TestMergeVMIs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	namespaces := []string{"a", "a-b", "b"}
	for range 500 {
		var lists [][]informers.VMIRef
		var want []string
		for range rng.IntN(6) {
			var l []informers.VMIRef
			for range rng.IntN(8) {
				v := informers.VMIRef{Namespace: namespaces[rng.IntN(3)], Name: fmt.Sprintf("vm-%d", rng.IntN(10))}
				l = append(l, v)
				want = append(want, v.Namespace+"/"+v.Name)
			}
			if rng.IntN(2) == 0 {
				slices.SortFunc(l, func(a, b informers.VMIRef) int {
					return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
				})
			}
			lists = append(lists, l)
		}
		var got []string
		for v := range mergeVMIs(lists) {
			got = append(got, v.Namespace+"/"+v.Name)
		}
		if want = sortedUnique(want); !slices.Equal(got, want) {
			t.Fatalf("mergeVMIs(%v) = %v, want %v", lists, got, want)
		}
	}
}

func TestVMList(t *testing.T) {
	vmis := []informers.VMIRef{{Namespace: "a", Name: "x", Node: "n"}, {Namespace: "b", Name: "y"}}
	tests := []struct {
		give []informers.VMIRef
		want string
	}{
		{nil, "by VM(s)  which"},
		{vmis[:1], "by VM(s) a/x which"},
		{vmis, "by VM(s) a/x, b/y which"},
	}
	for _, tt := range tests {
		if got := vmList("by VM(s) ", tt.give, vmiName, " which"); got != tt.want {
			t.Errorf("vmList(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
