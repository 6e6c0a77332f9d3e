package admission

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// validationCase is one request to the validation webhook of a v1.8-or-later
// profile, answered over the real informers holding objects.
type validationCase struct {
	name    string
	version Version // V1_9 when zero
	kubeOVN bool    // the cluster has the CRD subnets.kubeovn.io
	objects []string
	op      admissionv1.Operation
	// object and oldObject are JSON, or "" when the request carries none.
	object, oldObject string
	// denied is the exact rejection text, or "" when the request is allowed.
	denied string
}

// apiCoordinates are group, version and resource of the kinds under test.
var apiCoordinates = map[string][3]string{
	"HostNetworkConfig": {"network.harvesterhci.io", "v1beta1", "hostnetworkconfigs"},
	"Subnet":            {"kubeovn.io", "v1", "subnets"},
}

func (c validationCase) run(t *testing.T) {
	t.Helper()
	v := c.version
	if v == 0 {
		v = V1_9
	}
	objs := make([]*unstructured.Unstructured, 0, len(c.objects)+1)
	for _, o := range c.objects {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(o)); err != nil {
			t.Fatalf("cluster object %s: %v", o, err)
		}
		objs = append(objs, u)
	}
	if c.kubeOVN {
		objs = append(objs, informerstest.KubeOVNCRD())
	}
	store := informerstest.NewVersion(t, int(v), objs...).Store

	s := NewServer(Config{Profile: Profile{Version: v}, Store: store})
	s.validation = withRoutes(s.validation, hostNetworkConfigValidator(), subnetValidator())
	router := chi.NewRouter()
	s.Routes(router)

	rec := post(t, router, ValidationPath, "application/json", validationReview(t, c.op, c.object, c.oldObject))
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
	}
	review := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), review); err != nil || review.Response == nil {
		t.Fatalf("undecodable answer %q: %v", rec.Body.String(), err)
	}
	checkResponse(t, review.Response, c.denied, "")
}

// withRoutes adds the routes whose kind the table does not serve yet, so the
// tests keep working once routes.go registers them.
func withRoutes(table []route, extra ...route) []route {
	for _, e := range extra {
		served := false
		for i := range table {
			served = served || (table[i].kind == e.kind && table[i].gvr.Group == e.gvr.Group)
		}
		if !served {
			table = append(table, e)
		}
	}
	return table
}

// validationReview is the AdmissionReview an API server sends, taking kind
// and name from the object (or the old object).
func validationReview(t *testing.T, op admissionv1.Operation, object, oldObject string) []byte {
	t.Helper()
	src := object
	if src == "" {
		src = oldObject
	}
	var meta struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(src), &meta); err != nil {
		t.Fatalf("test object %s: %v", src, err)
	}
	k, ok := apiCoordinates[meta.Kind]
	if !ok {
		t.Fatalf("no API coordinates for kind %q", meta.Kind)
	}
	gvk := map[string]string{"group": k[0], "version": k[1], "kind": meta.Kind}
	gvr := map[string]string{"group": k[0], "version": k[1], "resource": k[2]}
	req := map[string]any{
		"uid": "test-uid", "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
		"name": meta.Metadata.Name, "operation": op, "userInfo": map[string]any{"username": "admin"},
	}
	if object != "" {
		req["object"] = json.RawMessage(object)
	}
	if oldObject != "" {
		req["oldObject"] = json.RawMessage(oldObject)
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Cluster objects of the HostNetworkConfig cases, after the recorded ones:
// three nodes, the data cluster network spanned by vc-data, ready
// VlanStatuses.

func hncNode(name, labels string, deleting bool) string {
	extra := ""
	if deleting {
		extra = `,"finalizers":["parity.test/hold"],"deletionTimestamp":"2026-11-27T06:00:00Z"`
	}
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q,"labels":%s%s}}`, name, labels, extra)
}

func clusterNetwork(name string) string {
	return fmt.Sprintf(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":%q},"status":{"conditions":[{"type":"ready","status":"True"}]}}`, name)
}

// spanningVlanConfig is a VlanConfig of cn whose matched-nodes annotation is
// matched, or absent when matched is "-".
func spanningVlanConfig(name, cn, matched string) string {
	annotations := "{}"
	if matched != "-" {
		a, _ := json.Marshal(map[string]string{annotationMatchedNodes: matched})
		annotations = string(a)
	}
	return vlanConfig(name, cn, annotations, `{"nics":["ens5"],"linkAttributes":{"mtu":1500}}`)
}

func vlanStatus(cn, vc, node, ready string) string {
	return fmt.Sprintf(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanStatus","metadata":{"name":%q,"labels":{"network.harvesterhci.io/clusternetwork":%q,"network.harvesterhci.io/vlanconfig":%q,"network.harvesterhci.io/node":%q}},"status":{"clusterNetwork":%q,"vlanConfig":%q,"node":%q,"conditions":[{"type":"ready","status":%q}]}}`,
		vlanStatusName(cn, node), cn, vc, node, cn, vc, node, ready)
}

// hostNetworkConfig is an HNC with the given spec; deleting adds a finalizer
// and a deletionTimestamp.
func hostNetworkConfig(name, spec string, deleting bool) string {
	extra := ""
	if deleting {
		extra = `,"finalizers":["parity.test/hold"],"deletionTimestamp":"2026-11-27T06:00:00Z"`
	}
	return fmt.Sprintf(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"HostNetworkConfig","metadata":{"name":%q%s},"spec":%s}`, name, extra, spec)
}

func vm(ns, name string, networks ...string) string {
	nets := make([]string, len(networks))
	for i, n := range networks {
		nets[i] = fmt.Sprintf(`{"name":"nic-%d","multus":{"networkName":%q}}`, i, n)
	}
	return fmt.Sprintf(`{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"namespace":%q,"name":%q},"spec":{"template":{"spec":{"networks":[%s]}}}}`,
		ns, name, strings.Join(nets, ","))
}

var (
	node01     = hncNode("harv-node-01", `{"kubernetes.io/hostname":"harv-node-01","topology.harvesterhci.io/rack":"rack-a"}`, false)
	node02     = hncNode("harv-node-02", `{"kubernetes.io/hostname":"harv-node-02","topology.harvesterhci.io/rack":"rack-a"}`, false)
	node03     = hncNode("harv-node-03", `{"kubernetes.io/hostname":"harv-node-03","topology.harvesterhci.io/rack":"rack-b"}`, false)
	witness04  = hncNode("harv-node-04", `{"kubernetes.io/hostname":"harv-node-04","node-role.harvesterhci.io/witness":"true"}`, false)
	deleting05 = hncNode("harv-node-05", `{"kubernetes.io/hostname":"harv-node-05","topology.harvesterhci.io/rack":"rack-a"}`, true)

	allThree = `["harv-node-01","harv-node-02","harv-node-03"]`

	// dataCluster is the data cluster network on three nodes, ready.
	dataCluster = []string{
		node01, node02, node03, clusterNetwork("mgmt"), clusterNetwork("data"),
		spanningVlanConfig("vc-data", "data", allThree),
		vlanStatus("data", "vc-data", "harv-node-01", "True"),
		vlanStatus("data", "vc-data", "harv-node-02", "True"),
		vlanStatus("data", "vc-data", "harv-node-03", "True"),
	}

	overlayNAD = nad("default", "ovn1",
		`{"network.harvesterhci.io/type":"OverlayNetwork","network.harvesterhci.io/ready":"true","network.harvesterhci.io/clusternetwork":"mgmt"}`, "{}",
		`{"cniVersion":"0.3.1","name":"ovn1","type":"kube-ovn","server_socket":"/run/openvswitch/kube-ovn-daemon.sock","provider":"ovn1.default.ovn"}`)
)

func with(base []string, more ...string) []string {
	return append(append([]string(nil), base...), more...)
}

const (
	dhcp100         = `{"clusterNetwork":"data","vlanID":100,"mode":"dhcp","underlay":false}`
	dhcp100Underlay = `{"clusterNetwork":"data","vlanID":100,"mode":"dhcp","underlay":true}`
	static100       = `{"clusterNetwork":"data","vlanID":100,"mode":"static","underlay":false,"ips":{"harv-node-01":"10.20.0.11/24","harv-node-02":"10.20.0.12/24","harv-node-03":"10.20.0.13/24"}}`
)

func TestHostNetworkConfigCreateRules(t *testing.T) {
	hnc := func(spec string) string { return hostNetworkConfig("h", spec, false) }
	for _, c := range []validationCase{
		{
			name:    "a DHCP HNC on a ready cluster network is allowed (hnc-create-valid-dhcp)",
			objects: dataCluster,
			object:  hnc(dhcp100),
		},
		{
			name:    "a cluster network name over 12 characters is denied (hnc-create-cn-name-too-long)",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"storage-net01","vlanID":10,"mode":"dhcp"}`),
			denied:  "can't create hostnetworkConfig h because the length of the clusterNetwork name storage-net01 is more than 12",
		},
		{
			name: "a VLAN interface name of 15 characters is allowed (hnc-create-intf-name-15)",
			objects: []string{node01, clusterNetwork("mgmt"), clusterNetwork("storagen"),
				spanningVlanConfig("vc-s", "storagen", `["harv-node-01"]`), vlanStatus("storagen", "vc-s", "harv-node-01", "True")},
			object: hnc(`{"clusterNetwork":"storagen","vlanID":100,"mode":"dhcp"}`),
		},
		{
			name:    "a VLAN interface name of 16 characters is denied",
			objects: []string{node01, clusterNetwork("mgmt"), clusterNetwork("storagen")},
			object:  hnc(`{"clusterNetwork":"storagen","vlanID":1000,"mode":"dhcp"}`),
			denied:  "can't create hostnetworkConfig h because host network interface name storagen-br.1000 length 16 is more than 15",
		},
		{
			name:    "a missing cluster network is denied with the cache error (hnc-create-cn-missing)",
			objects: []string{clusterNetwork("mgmt")},
			object:  hnc(`{"clusterNetwork":"ghost","vlanID":10,"mode":"dhcp"}`),
			denied:  `can't create hostnetworkConfig h because it refers to a none-existing cluster network ghost or error clusternetworks.network.harvesterhci.io "ghost" not found`,
		},
		{
			name:    "the same VLAN of the same cluster network is denied",
			objects: with(dataCluster, hostNetworkConfig("hnc-data-100", dhcp100, false)),
			object:  hnc(dhcp100),
			denied:  "can't create hostnetworkConfig h because hostnetworkconfig hnc-data-100 already exists for cluster network data with vlanID 100",
		},
		{
			name:    "the same VLAN as an HNC being deleted is allowed (hnc-create-same-vlan-existing-deleting)",
			objects: with(dataCluster, hostNetworkConfig("hnc-data-100", dhcp100, true)),
			object:  hnc(dhcp100),
		},
		{
			name:    "another VLAN of the same cluster network is allowed (hnc-create-other-vlan)",
			objects: with(dataCluster, hostNetworkConfig("hnc-data-200", `{"clusterNetwork":"data","vlanID":200,"mode":"dhcp"}`, false)),
			object:  hnc(dhcp100),
		},
		{
			name:    "a second underlay is denied, naming this cluster network and the other's VLAN (hnc-create-underlay-exists)",
			objects: with(dataCluster, hostNetworkConfig("underlay-st", `{"clusterNetwork":"storage","vlanID":300,"mode":"dhcp","underlay":true}`, false)),
			object:  hostNetworkConfig("hnc-data-100", dhcp100Underlay, false),
			denied:  "can't create hostnetworkConfig hnc-data-100 because hostnetworkconfig underlay-st already exists for cluster network data vlanid 300 with underlay enabled",
		},
		{
			name:    "an underlay being deleted does not count (hnc-create-underlay-other-deleting)",
			objects: with(dataCluster, hostNetworkConfig("underlay-st", `{"clusterNetwork":"storage","vlanID":300,"mode":"dhcp","underlay":true}`, true)),
			object:  hnc(dhcp100Underlay),
		},
		{
			name:    "mgmt needs no VlanStatus (hnc-create-mgmt-skips-vs)",
			objects: []string{clusterNetwork("mgmt")},
			object:  hnc(`{"clusterNetwork":"mgmt","vlanID":10,"mode":"dhcp"}`),
		},
		{
			name:    "a cluster network without VlanStatus is denied (hnc-create-no-vlanstatus)",
			objects: []string{node01, clusterNetwork("mgmt"), clusterNetwork("data"), spanningVlanConfig("vc-data", "data", allThree)},
			object:  hostNetworkConfig("hnc-data-100", dhcp100, false),
			denied:  "can't create hostnetworkConfig hnc-data-100 because vlan status not present for cluster network data",
		},
		{
			name: "a VlanStatus not ready is denied (hnc-create-vs-not-ready)",
			objects: []string{node01, clusterNetwork("mgmt"), clusterNetwork("data"), spanningVlanConfig("vc-data", "data", allThree),
				vlanStatus("data", "vc-data", "harv-node-01", "False")},
			object: hostNetworkConfig("hnc-data-100", dhcp100, false),
			denied: "can't create hostnetworkConfig hnc-data-100 because vs data-harv-node-01-679513f3 status is not Ready",
		},
		{
			name:    "static addresses for every node in one subnet are allowed (hnc-create-static-valid)",
			objects: dataCluster,
			object:  hnc(static100),
		},
		{
			name:    "a node without a static address is denied (hnc-create-static-missing-node)",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","ips":{"harv-node-01":"10.20.0.11/24","harv-node-02":"10.20.0.12/24"}}`),
			denied:  "can't create hostnetworkConfig h because static IP not found for node harv-node-03",
		},
		{
			name:    "without a selector, witness and deleting nodes need an address too",
			objects: with(dataCluster, witness04),
			object:  hnc(static100),
			denied:  "can't create hostnetworkConfig h because static IP not found for node harv-node-04",
		},
		{
			name:    "static addresses in different subnets are denied (hnc-create-static-different-subnets)",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","ips":{"harv-node-01":"10.20.0.11/24","harv-node-02":"10.20.0.12/24","harv-node-03":"10.21.0.13/24"}}`),
			denied:  "can't create hostnetworkConfig h because static IPs are not in the same subnet: <nil>",
		},
		{
			name:    "static addresses with different prefix lengths are denied",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","ips":{"harv-node-01":"10.20.0.11/16","harv-node-02":"10.20.0.12/24","harv-node-03":"10.20.0.13/24"}}`),
			denied:  "can't create hostnetworkConfig h because static IPs are not in the same subnet: <nil>",
		},
		{
			name:    "an invalid static address is denied with the parse error (hnc-create-static-invalid-cidr)",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","ips":{"harv-node-01":"10.20.0.11/24","harv-node-02":"10.20.0.12/24","harv-node-03":"10.20.0.300/24"}}`),
			denied:  "can't create hostnetworkConfig h because static IPs are not in the same subnet: invalid CIDR address: 10.20.0.300/24",
		},
		{
			name:    "an invalid first static address is denied, not a crash",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","ips":{"harv-node-01":"bad","harv-node-02":"10.20.0.12/24","harv-node-03":"10.20.0.13/24"}}`),
			denied:  "can't create hostnetworkConfig h because static IPs are not in the same subnet: invalid CIDR address: bad",
		},
		{
			name:    "with a selector only matching nodes that are not being deleted need an address (hnc-create-static-selector)",
			objects: with(dataCluster, deleting05),
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","ips":{"harv-node-01":"10.20.0.11/24","harv-node-02":"10.20.0.12/24"},"nodeSelector":{"matchLabels":{"topology.harvesterhci.io/rack":"rack-a"}}}`),
		},
		{
			name:    "an invalid static selector is denied with the selector error",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","ips":{},"nodeSelector":{"matchExpressions":[{"key":"rack","operator":"Bogus"}]}}`),
			denied:  `can't create hostnetworkConfig h because "Bogus" is not a valid label selector operator`,
		},
		{
			name:    "an underlay spanned by the VlanConfigs is allowed (hnc-create-underlay-valid)",
			objects: dataCluster,
			object:  hnc(dhcp100Underlay),
		},
		{
			name: "an underlay whose VlanConfigs miss a node is denied (hnc-create-underlay-vc-not-spanning)",
			objects: []string{node01, node02, node03, clusterNetwork("mgmt"), clusterNetwork("data"),
				spanningVlanConfig("vc-data", "data", `["harv-node-01","harv-node-02"]`),
				vlanStatus("data", "vc-data", "harv-node-01", "True"), vlanStatus("data", "vc-data", "harv-node-02", "True")},
			object: hnc(dhcp100Underlay),
			denied: "can't create hostnetworkConfig h because vlanconfig does not span harv-node-03",
		},
		{
			name: "the span is the union of the VlanConfigs; witness and deleting nodes need not be spanned",
			objects: []string{node01, node02, node03, witness04, deleting05, clusterNetwork("mgmt"), clusterNetwork("data"),
				spanningVlanConfig("vc-a", "data", `["harv-node-01","harv-node-02"]`), spanningVlanConfig("vc-b", "data", `["harv-node-03"]`),
				vlanStatus("data", "vc-a", "harv-node-01", "True")},
			object: hnc(dhcp100Underlay),
		},
		{
			name:    "an underlay on mgmt needs no VlanConfig (hnc-create-underlay-mgmt)",
			objects: []string{node01, node02, node03, clusterNetwork("mgmt")},
			object:  hnc(`{"clusterNetwork":"mgmt","vlanID":10,"mode":"dhcp","underlay":true}`),
		},
		{
			name:    "an underlay on a cluster network without VlanConfig is denied",
			objects: []string{node01, clusterNetwork("mgmt"), clusterNetwork("data"), vlanStatus("data", "vc-gone", "harv-node-01", "True")},
			object:  hnc(dhcp100Underlay),
			denied:  "can't create hostnetworkConfig h because vlan config not present for cluster network data",
		},
		{
			name: "v1.9 skips VlanConfigs whose matched-nodes annotation is absent, empty or []",
			objects: with(dataCluster, spanningVlanConfig("vc-absent", "data", "-"), spanningVlanConfig("vc-empty", "data", ""),
				spanningVlanConfig("vc-none", "data", "[]")),
			object: hnc(dhcp100Underlay),
		},
		{
			name:    "v1.8 denies a VlanConfig without matched-nodes annotation",
			version: V1_8,
			objects: with(dataCluster, spanningVlanConfig("vc-absent", "data", "-")),
			object:  hnc(dhcp100Underlay),
			denied:  "can't create hostnetworkConfig h because vlan config annotations is absent for matched nodes",
		},
		{
			name:    "v1.8 accepts a VlanConfig whose matched-nodes annotation is []",
			version: V1_8,
			objects: with(dataCluster, spanningVlanConfig("vc-none", "data", "[]")),
			object:  hnc(dhcp100Underlay),
		},
		{
			name:    "an invalid matched-nodes annotation is denied with the json error",
			objects: with(dataCluster, spanningVlanConfig("vc-bad", "data", "harv-node-01")),
			object:  hnc(dhcp100Underlay),
			denied:  "can't create hostnetworkConfig h because invalid character 'h' looking for beginning of value",
		},
		{
			name:    "an underlay selector that misses a node is denied with the update prefix",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"dhcp","underlay":true,"nodeSelector":{"matchLabels":{"topology.harvesterhci.io/rack":"rack-a"}}}`),
			denied:  "can't update hostnetworkConfig h because node selector does not match all nodes",
		},
		{
			name:    "an underlay selector does not match a node being deleted",
			objects: with(dataCluster, deleting05),
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"dhcp","underlay":true,"nodeSelector":{"matchLabels":{"kubernetes.io/os":"linux"}}}`),
			denied:  "can't update hostnetworkConfig h because node selector does not match all nodes",
		},
		{
			name:    "an underlay selector matching every node is allowed",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"dhcp","underlay":true,"nodeSelector":{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"Exists"}]}}`),
		},
		{
			name:    "an undecodable HNC is denied with the json error, unprefixed",
			objects: dataCluster,
			object:  hnc(`{"clusterNetwork":"data","vlanID":"100"}`),
			denied:  "json: cannot unmarshal string into Go struct field HostNetworkConfigSpec.spec.vlanID of type uint16",
		},
	} {
		c.op = admissionv1.Create
		t.Run(c.name, c.run)
	}
}

func TestHostNetworkConfigUpdateDeleteRules(t *testing.T) {
	const name = "hnc-data-100"
	hnc := func(spec string) string { return hostNetworkConfig(name, spec, false) }
	for _, c := range []validationCase{
		{
			name:      "changing the VLAN is denied (hnc-update-vlan-change)",
			objects:   with(dataCluster, hnc(dhcp100)),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100), object: hnc(`{"clusterNetwork":"data","vlanID":101,"mode":"dhcp","underlay":false}`),
			denied: "can't update hostnetworkConfig hnc-data-100 because cannot update clusterNetwork or vlanID field,instead delete the old hostnetworkconfig and create a new one",
		},
		{
			name:      "changing the cluster network is denied",
			objects:   with(dataCluster, hnc(dhcp100)),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100), object: hnc(`{"clusterNetwork":"storage","vlanID":100,"mode":"dhcp"}`),
			denied: "can't update hostnetworkConfig hnc-data-100 because cannot update clusterNetwork or vlanID field,instead delete the old hostnetworkconfig and create a new one",
		},
		{
			name: "enabling underlay without a spanning VlanConfig is denied (hnc-update-enable-underlay-not-spanning)",
			objects: []string{node01, node02, node03, clusterNetwork("mgmt"), clusterNetwork("data"),
				spanningVlanConfig("vc-data", "data", `["harv-node-01","harv-node-02"]`), hnc(dhcp100)},
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100), object: hnc(dhcp100Underlay),
			denied: "can't update hostnetworkConfig hnc-data-100 because vlanconfig does not span harv-node-03",
		},
		{
			name:      "any spec change of an underlay HNC conflicts with itself (hnc-update-underlay-self-conflict)",
			objects:   with(dataCluster, hnc(dhcp100Underlay)),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100Underlay),
			object:    hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","underlay":true,"ips":{"harv-node-01":"10.20.0.11/24","harv-node-02":"10.20.0.12/24","harv-node-03":"10.20.0.13/24"}}`),
			denied:    "can't update hostnetworkConfig hnc-data-100 because hostnetworkconfig hnc-data-100 already exists for cluster network data vlanid 100 with underlay enabled",
		},
		{
			name:      "an update that leaves the spec as it is is allowed, conflicts or not",
			objects:   with(dataCluster, hnc(dhcp100Underlay)),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100Underlay), object: hostNetworkConfig(name, dhcp100Underlay, true),
		},
		{
			name:      "disabling underlay while a VM uses an overlay NAD is denied (hnc-update-disable-underlay-overlay-vm)",
			objects:   with(dataCluster, hnc(dhcp100Underlay), overlayNAD, vm("default", "ovn-vm", "default/ovn1")),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100Underlay), object: hnc(dhcp100),
			denied: "can't update hostnetworkConfig hnc-data-100 because it's still used by VM(s) default/ovn-vm which must remove the related networks and interfaces",
		},
		{
			name:      "a VM on a bridge NAD does not block disabling underlay",
			objects:   with(dataCluster, hnc(dhcp100Underlay), nad("default", "vlan100", dataLabels, "{}", vlan100Config), vm("default", "web", "default/vlan100")),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100Underlay), object: hnc(dhcp100),
		},
		{
			name:      "disabling underlay without VMs on overlay NADs is allowed (hnc-update-disable-underlay-free)",
			objects:   with(dataCluster, hnc(dhcp100Underlay), overlayNAD),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100Underlay), object: hnc(dhcp100),
		},
		{
			name:      "a static update missing a node is denied (hnc-update-static-missing)",
			objects:   with(dataCluster, hnc(dhcp100)),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100),
			object:    hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"static","underlay":false,"ips":{"harv-node-01":"10.20.0.11/24","harv-node-02":"10.20.0.12/24"}}`),
			denied:    "can't update hostnetworkConfig hnc-data-100 because static IP not found for node harv-node-03",
		},
		{
			name:      "the VLAN uniqueness is not checked on update (hnc-update-same-vlan-not-checked)",
			objects:   with(dataCluster, hnc(dhcp100), hostNetworkConfig("twin", dhcp100, false)),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100), object: hnc(static100),
		},
		{
			name:      "on update the VlanStatuses are not checked",
			objects:   []string{node01, node02, node03, clusterNetwork("mgmt"), hnc(dhcp100)},
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100), object: hnc(static100),
		},
		{
			name:      "an underlay update selector that misses a node is denied",
			objects:   with(dataCluster, hnc(dhcp100)),
			op:        admissionv1.Update,
			oldObject: hnc(dhcp100),
			object:    hnc(`{"clusterNetwork":"data","vlanID":100,"mode":"dhcp","underlay":true,"nodeSelector":{"matchLabels":{"topology.harvesterhci.io/rack":"rack-b"}}}`),
			denied:    "can't update hostnetworkConfig hnc-data-100 because node selector does not match all nodes",
		},
		{
			name:      "deleting an HNC that is not an underlay is allowed (hnc-delete-plain)",
			objects:   with(dataCluster, hnc(dhcp100)),
			op:        admissionv1.Delete,
			oldObject: hnc(dhcp100),
		},
		{
			name:      "deleting an underlay is denied",
			objects:   with(dataCluster, hnc(dhcp100Underlay)),
			op:        admissionv1.Delete,
			oldObject: hnc(dhcp100Underlay),
			denied:    "can't delete hostnetworkConfig hnc-data-100 because underlay is enabled, disable underlay first",
		},
	} {
		t.Run(c.name, c.run)
	}
}

func TestHostNetworkConfigValidatorRoute(t *testing.T) {
	rt := hostNetworkConfigValidator()
	if got := opsStrings(rt.ops); strings.Join(got, ",") != "CREATE,UPDATE,DELETE" {
		t.Errorf("operations %v", got)
	}
	if rt.gvr != hostNetworkConfigGVR || rt.kind != "HostNetworkConfig" || rt.scope != "Cluster" {
		t.Errorf("route %v %s %s", rt.gvr, rt.kind, rt.scope)
	}
}
