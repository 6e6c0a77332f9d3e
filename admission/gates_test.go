package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/lowmem/harvester-network-webhook/apis/network/v1beta1"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// gateCase replays a recorded request, over its recorded objects, with the
// rules of one release: each version gate appears with the releases on both
// of its sides. The case comes from the release's own corpus
// (testdata/parity/<version>) where one was recorded under that name, and
// the row must then be the recorded answer; otherwise (v1.5, or a variant
// the test edits) it is v1.9's case and the row is what the gate implies.
type gateCase struct {
	gate    string // the gate the case pins
	corpus  string // case name in testdata/parity/<version> or v1.9
	kubeOVN bool   // seed subnets.kubeovn.io
	version Version
	denied  string // exact text after "Internal error occurred: ", "" when allowed
	patch   string // JSON patch expected when allowed, "" for none
}

var gateCases = []gateCase{
	// Error prefixes: "could not" up to v1.5, "can't" from v1.6; the
	// ClusterNetwork name length reworded in v1.7.
	{"prefix", "cn-create-name-13", false, V1_5, "could not create cluster network storage-net01 because the length of the clusterNetwork value is more than 12", ""},
	{"prefix", "cn-create-name-13", false, V1_6, "can't create cluster network storage-net01 because the length of name is more than 12", ""},
	{"prefix", "cn-create-name-13", false, V1_7, "can't create cluster network storage-net01 because the length of the clusterNetwork name storage-net01 is more than 12", ""},

	// ClusterNetwork validator: UPDATE from v1.6; objects being deleted
	// skipped from v1.7; VlanConfigs being deleted are skipped in the MTU
	// check from v1.8; system-network wording in v1.9.
	{"V1 ops", "cn-update-vc-mtu-mismatch", false, V1_5, "", ""},
	{"V1 ops", "cn-update-vc-mtu-mismatch", false, V1_6, "can't update cluster network data because clusternetwork has MTU 1500, but the vlanconfigs vc-data has another MTU 9000", ""},
	{"V1 deleting", "cn-update-deleting", false, V1_6, "can't update cluster network data because clusternetwork has MTU 1500, but the vlanconfigs vc-data has another MTU 9000", ""},
	{"V1 deleting", "cn-update-deleting", false, V1_7, "", ""},
	{"V1 deleting VC", "cn-update-deleting-vc-skipped", false, V1_7, "can't update cluster network data because clusternetwork has MTU 1500, but the vlanconfigs vc-data has another MTU 9000", ""},
	{"V1 deleting VC", "cn-update-deleting-vc-skipped", false, V1_8, "", ""},
	{"V1 RWX NAD", "cn-update-mgmt-mtu-rwx-nad-by-name", false, V1_8, "", ""},
	{"V1 RWX NAD", "cn-update-mgmt-mtu-rwx-nad-by-name", false, V1_9, "can't update cluster network mgmt because the MTU can't be changed from 1500 to 9000 as nad rwx-network-8xkzt is still attached", ""},

	// uplink-mtu annotation errors: reworded in v1.8.
	{"MTU wording", "nad-mutate-create-cn-annotation-not-integer", false, V1_7,
		`can't create nad default/vlan100 because nad's host cluster network data has invalid MTU annotation network.harvesterhci.io/uplink-mtu/jumbo annotation jumbo value is not an integer, error strconv.Atoi: parsing "jumbo": invalid syntax`, ""},
	{"MTU wording", "nad-mutate-create-cn-annotation-not-integer", false, V1_8,
		`can't create nad default/vlan100 because nad's host cluster network data has invalid MTU annotation network.harvesterhci.io/uplink-mtu/jumbo value jumbo is not an integer: strconv.Atoi: parsing "jumbo": invalid syntax`, ""},
	{"MTU wording", "cn-update-annotation-out-of-range", false, V1_7, "can't update cluster network data because annotation 100 value is not in range [0, 576..9000]", ""},
	{"MTU wording", "cn-update-annotation-out-of-range", false, V1_8, "can't update cluster network data because value 100 is not in range [0, 576..9000]", ""},

	// NAD config decoding: v1.6's config has no vlanTrunk, its mutator
	// decodes as v0.5.x's (an empty config is an error, errors are json's),
	// its validator says "unmarshal config … failed"; v1.7 names the NAD.
	{"config decode", "nad-mutate-create-empty-config", false, V1_6, "can't create nad default/empty because unexpected end of JSON input", ""},
	{"config decode", "nad-mutate-create-empty-config", false, V1_7, "can't create nad default/empty because the length of bridge name  is less than 3", ""},
	{"config decode", "nad-mutate-update-old-invalid-json", false, V1_6, "can't update nad default/vlan100 because unexpected end of JSON input", ""},
	{"config decode", "nad-mutate-update-old-invalid-json", false, V1_7, "can't update nad default/vlan100 because failed to unmarshal nad default/vlan100 config { unexpected end of JSON input", ""},
	{"config decode", "nad-update-new-invalid", false, V1_6, "can't update nad default/vlan100 because unmarshal config { failed: unexpected end of JSON input", ""},
	{"config decode", "nad-update-new-invalid", false, V1_7, "can't update nad default/vlan100 because failed to unmarshal nad default/vlan100 config { unexpected end of JSON input", ""},
	{"config decode", "nad-mutate-update-trunk-type", false, V1_6, "", ""},
	{"config decode", "nad-mutate-update-trunk-type", false, V1_7, "",
		`[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"L2VlanTrunkNetwork"}}]`},

	// NAD mutator create: v1.6 slices the bridge name unchecked, v1.7
	// validates it.
	{"M1 bridge", "nad-mutate-create-bridge-no-suffix", false, V1_6, `can't create nad default/x because clusternetworks.network.harvesterhci.io "mgmt-bri" not found`, ""},
	{"M1 bridge", "nad-mutate-create-bridge-no-suffix", false, V1_7, "can't create nad default/x because the bridge name mgmt-bridge does not include suffix -br", ""},
	{"M1 bridge", "nad-mutate-create-bridge-too-short", false, V1_6, `can't create nad default/x because clusternetworks.network.harvesterhci.io "" not found`, ""},
	{"M1 bridge", "nad-mutate-create-bridge-too-short", false, V1_7, "can't create nad default/x because the length of bridge name -br is less than 3", ""},

	// NAD mutator update: v1.6 only when the config changed, with last-*
	// labels; v1.7 always, without; the overlay cluster network label kept
	// (mgmt when absent) up to v1.7, from the nodes from v1.8.
	{"M1 update", "nad-mutate-update-metadata-only-labels-emitted", false, V1_6, "", ""},
	{"M1 update", "nad-mutate-update-metadata-only-labels-emitted", false, V1_7, "",
		`[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"L2VlanNetwork","network.harvesterhci.io/vlan-id":"100","team":"blue"}}]`},
	{"M1 last-*", "nad-mutate-update-vlan-change", false, V1_6, "",
		`[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/last-vlan-id":"100","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"L2VlanNetwork","network.harvesterhci.io/vlan-id":"200"}},{"op":"replace","path":"/metadata/annotations","value":{"network.harvesterhci.io/route":"{\"mode\":\"auto\",\"outdated\":true}"}}]`},
	{"M1 last-*", "nad-mutate-update-vlan-change", false, V1_7, "",
		`[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"L2VlanNetwork","network.harvesterhci.io/vlan-id":"200"}},{"op":"replace","path":"/metadata/annotations","value":{"network.harvesterhci.io/route":"{\"mode\":\"auto\",\"outdated\":true}"}}]`},
	{"M1 overlay", "nad-mutate-update-kube-ovn-default-mgmt", false, V1_7, "",
		`[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"OverlayNetwork"}}]`},
	{"M1 overlay", "nad-mutate-update-kube-ovn-default-mgmt", false, V1_8, "",
		`[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"mgmt","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"OverlayNetwork"}}]`},
	{"M1 overlay", "kubeovn-nad-mutate-update-labels-added", true, V1_6, "", ""},
	{"M1 overlay", "kubeovn-nad-mutate-update-labels-added", true, V1_7, "",
		`[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"mgmt","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"OverlayNetwork"}}]`},
	{"M1 overlay", "kubeovn-nad-mutate-update-labels-added", true, V1_8, "",
		`[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"OverlayNetwork"}}]`},

	// NAD validator: v1.6 words the VLAN and bridge checks as v0.5.x,
	// checking the bridge's length before its suffix; trunks from v1.7;
	// kube-ovn create refused without kube-ovn from v1.8; kube-ovn delete
	// without kube-ovn refused in v1.6 and v1.7 (two wordings), allowed from
	// v1.8; underlay HNC check on delete from v1.8; exclusive storage VLAN
	// from v1.9.
	{"V2 VLAN", "nad-create-vlan-negative", false, V1_6, "can't create nad default/v because VLAN ID must >=0 and <=4094", ""},
	{"V2 VLAN", "nad-create-vlan-negative", false, V1_7, "can't create nad default/v because vlan -5 is out of range [0 .. 4094]", ""},
	{"V2 bridge", "nad-create-bridge-too-long", false, V1_6, "can't create nad default/x because the length of the brName can't be more than 15", ""},
	{"V2 bridge", "nad-create-bridge-too-long", false, V1_7, "can't create nad default/x because the length of the bridge name storage-net01-br can't be more than 15", ""},
	{"V2 bridge", "nad-create-macvlan-rejected", false, V1_6, "can't create nad default/mv because the suffix of the brName should be -br", ""},
	{"V2 bridge", "nad-create-macvlan-rejected", false, V1_7, "can't create nad default/mv because the length of bridge name  is less than 3", ""},
	{"V2 trunk", "nad-create-trunk-item-empty", false, V1_6, "", ""},
	{"V2 trunk", "nad-create-trunk-item-empty", false, V1_7, "can't create nad default/trunk because all fields in this VlanTrunk are empty", ""},
	{"V2 kube-ovn create", "nad-create-kube-ovn-not-enabled", false, V1_7, "", ""},
	{"V2 kube-ovn create", "nad-create-kube-ovn-not-enabled", false, V1_8, "can't create nad default/ovn1 because kubeovn is not yet enabled", ""},
	{"V2 kube-ovn delete", "kubeovn-nad-delete-no-subnet", false, V1_6, "operation not permitted as kubeovn is not yet enabled", ""},
	{"V2 kube-ovn delete", "kubeovn-nad-delete-no-subnet", false, V1_8, "", ""},
	{"V2 underlay", "nad-delete-underlay-overlay-vm", false, V1_7, "", ""},
	{"V2 underlay", "nad-delete-underlay-overlay-vm", false, V1_8, "can't delete nad default/vlan300 because hostnetworkconfig underlay-300 is using nad vlan300 vid 300 as underlay on cluster network data, it's still used by VM(s) default/ovn-vm which must remove the related networks and interfaces", ""},
	{"V2 exclusive SN", "nad-create-exclusive-sn-vlan-same", false, V1_8, "", ""},
	{"V2 exclusive SN", "nad-create-exclusive-sn-vlan-same", false, V1_9, "can't create nad default/v because vlan 2012 is exclusively reserved for storage network", ""},
	{"V2 MTU", "nad-create-mtu-mismatch-vc", false, V1_5, "", ""},
	{"V2 MTU", "nad-create-mtu-mismatch-vc", false, V1_6, "can't create nad default/x because nad MTU 1500 does not match cluster network MTU 9000", ""},

	// kube-ovn Subnet validator: the DHCP check from v1.8.
	{"V5 DHCP", "kubeovn-subnet-update-dhcp-vmi", true, V1_7, "", ""},
	{"V5 DHCP", "kubeovn-subnet-update-dhcp-vmi", true, V1_8, "cannot update DHCP setting for subnet vswitch1 as VMs are still using it, stop the VMs and update err:it's still used by VM(s) default/ovn-vm which must be stopped at first", ""},

	// VlanConfig mutator: spec-unchanged updates skipped up to v1.6, objects
	// being deleted from v1.7.
	{"M2 update", "vc-mutate-update-spec-unchanged-recomputed", false, V1_6, "", ""},
	{"M2 update", "vc-mutate-update-spec-unchanged-recomputed", false, V1_7, "",
		`[{"op":"replace","path":"/metadata/annotations","value":{"n":"1","network.harvesterhci.io/matched-nodes":"[\"harv-node-01\"]"}}]`},
	{"M2 deleting", "vc-mutate-update-deleting", false, V1_6, "",
		`[{"op":"replace","path":"/metadata/annotations","value":{"network.harvesterhci.io/matched-nodes":"[\"harv-node-03\"]"}}]`},
	{"M2 deleting", "vc-mutate-update-deleting", false, V1_7, "", ""},

	// VlanConfig validator: CN existence and the new MTU rule from v1.6;
	// spec-unchanged updates checked from v1.7; deleting VlanConfigs skipped
	// in the MTU check from v1.8; mgmt for nobody before v1.9; CN label rule,
	// RWX NADs and system-network wording from v1.9.
	{"V3 CN exists", "vc-update-cn-missing", false, V1_5, "", ""},
	{"V3 CN exists", "vc-update-cn-missing", false, V1_6, `can't update vlanConfig vc-data because it refers to a none-existing cluster network ghost or error clusternetworks.network.harvesterhci.io "ghost" not found`, ""},
	{"V3 spec unchanged", "vc-update-overlap", false, V1_6, "", ""},
	{"V3 spec unchanged", "vc-update-overlap", false, V1_7, "can't update vlanConfig vc-data because it overlaps with other vlanconfigs matching node(s) [harv-node-03]", ""},
	{"V3 deleting VC", "vc-create-mtu-other-deleting", false, V1_7, "can't create vlanConfig vc-data-b because the vlanconfig vc-data-b MTU 1500 is different with another vlanconfig vc-data-a MTU 9000, all vlanconfigs on one clusternetwork need to have same MTU", ""},
	{"V3 deleting VC", "vc-create-mtu-other-deleting", false, V1_8, "", ""},
	{"V3 mgmt", "vc-create-mgmt-controller", false, V1_8, "can't create vlanConfig mgmt-vlan-harv-node-01 because cluster network can't be mgmt", ""},
	{"V3 mgmt", "vc-create-mgmt-controller", false, V1_9, "", ""},
	{"V3 mgmt", "vc-create-mgmt-user", false, V1_8, "can't create vlanConfig vc-mgmt because cluster network can't be mgmt", ""},
	{"V3 mgmt", "vc-create-mgmt-user", false, V1_9, "can't create vlanConfig vc-mgmt because users can't create vlanConfig for mgmt cluster network", ""},
	{"V3 mgmt", "vc-update-mgmt-controller", false, V1_8, "can't update vlanConfig mgmt-vlan-harv-node-01 because cluster network can't be mgmt", ""},
	{"V3 mgmt", "vc-update-mgmt-controller", false, V1_9, "", ""},
	{"V3 label", "vc-update-label-mismatch", false, V1_8, "", ""},
	{"V3 label", "vc-update-label-mismatch", false, V1_9, "can't update vlanConfig vc-data because cluster network label storage is invalid and must not be updated by user", ""},
	{"V3 RWX NAD", "vc-update-system-nad-rwx", false, V1_8, "", ""},
	{"V3 RWX NAD", "vc-update-system-nad-rwx", false, V1_9, "can't update vlanConfig vc-data because the system network nad rwx-net-abc12 is still attached", ""},
	{"V3 uplink", "vc-update-uplink-change-all-old-nodes", false, V1_5, "could not update vlanConfig vc-data because it's blocked by VM(s) default/web-01 which must be stopped at first", ""},
	{"V3 uplink", "vc-update-uplink-change-all-old-nodes", false, V1_6, "can't update vlanConfig vc-data because it is blocked by VM(s) default/web-01 which must be stopped at first", ""},
	{"V3 wording", "vc-delete-system-nad", false, V1_8, "can't delete vlanConfig vc-data because the storage network nad storagenetwork-lcw9n is still attached", ""},
	{"V3 wording", "vc-delete-system-nad", false, V1_9, "can't delete vlanConfig vc-data because the system network nad storagenetwork-lcw9n is still attached", ""},
}

func TestVersionGates(t *testing.T) {
	for _, g := range gateCases {
		t.Run(g.gate+"/"+g.corpus+"@"+g.version.String(), func(t *testing.T) {
			checkGate(t, g)
		})
	}
}

// TestIntermediateReleaseGetsItsOwnAnswer: a review answered differently by
// v1.6 and v1.8 gets v1.7's own answer with Version V1_7.
func TestIntermediateReleaseGetsItsOwnAnswer(t *testing.T) {
	base := gateCase{corpus: "kubeovn-nad-delete-no-subnet"}
	answers := map[Version]string{
		V1_6: "operation not permitted as kubeovn is not yet enabled",
		V1_7: "operation is not permitted as kubeovn is not yet enabled",
		V1_8: "",
	}
	for v, denied := range answers {
		g := base
		g.version, g.denied = v, denied
		t.Run(v.String(), func(t *testing.T) { checkGate(t, g) })
	}
}

// TestRouteFieldOrder: the recorded VLAN change with a filled auto route.
// Up to v1.8 the route is re-serialised in v0.5.x's field order (v1.6 by
// v0.5.x's own route step), v1.9 in its own.
func TestRouteFieldOrder(t *testing.T) {
	const (
		labels   = `{"network.harvesterhci.io/clusternetwork":"data",%s"network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"L2VlanNetwork","network.harvesterhci.io/vlan-id":"200"}`
		lastVlan = `"network.harvesterhci.io/last-vlan-id":"100",`
		v05      = `{\"mode\":\"auto\",\"cidr\":\"172.16.100.0/24\",\"gateway\":\"172.16.100.1\",\"serverIPAddr\":\"172.16.100.1\",\"outdated\":true}`
		v19      = `{\"mode\":\"auto\",\"serverIPAddr\":\"172.16.100.1\",\"cidr\":\"172.16.100.0/24\",\"gateway\":\"172.16.100.1\",\"outdated\":true}`
		patch    = `[{"op":"replace","path":"/metadata/labels","value":%s},{"op":"replace","path":"/metadata/annotations","value":{"network.harvesterhci.io/route":"%s"}}]`
	)
	for v, want := range map[Version]string{
		V1_6: fmt.Sprintf(patch, fmt.Sprintf(labels, lastVlan), v05),
		V1_8: fmt.Sprintf(patch, fmt.Sprintf(labels, ""), v05),
		V1_9: fmt.Sprintf(patch, fmt.Sprintf(labels, ""), v19),
	} {
		t.Run(v.String(), func(t *testing.T) {
			checkGateCase(t, gateCase{corpus: "nad-mutate-update-vlan-change", version: v, patch: want}, func(c *parityCase) {
				c.Request = []byte(strings.ReplaceAll(string(c.Request), `\"serverIPAddr\":\"\",\"cidr\":\"\",\"gateway\":\"\"`,
					`\"serverIPAddr\":\"172.16.100.1\",\"cidr\":\"172.16.100.0/24\",\"gateway\":\"172.16.100.1\"`))
			})
		})
	}
}

// TestV16MutatorKubeOVNUpdate: the recorded bridge to kube-ovn update, sent
// to the mutator. v1.6 keeps the vlan-id label and, the bridge having
// changed, writes the annotations without the route; v1.7 drops vlan-id
// and, the NAD having no annotations, writes none.
func TestV16MutatorKubeOVNUpdate(t *testing.T) {
	labels := `{"network.harvesterhci.io/clusternetwork":"mgmt","network.harvesterhci.io/ready":"true","network.harvesterhci.io/type":"OverlayNetwork"%s}`
	for v, want := range map[Version]string{
		V1_6: `[{"op":"replace","path":"/metadata/labels","value":` + fmt.Sprintf(labels, `,"network.harvesterhci.io/vlan-id":"100"`) + `},` +
			`{"op":"replace","path":"/metadata/annotations","value":{}}]`,
		V1_7: `[{"op":"replace","path":"/metadata/labels","value":` + fmt.Sprintf(labels, "") + `}]`,
	} {
		t.Run(v.String(), func(t *testing.T) {
			checkGateCase(t, gateCase{corpus: "nad-update-bridge-to-kube-ovn", version: v, patch: want}, func(c *parityCase) {
				c.Webhook = "mutation"
			})
		})
	}
}

// TestV16ValidatorChecksRouteFirst: the recorded invalid route, with an
// invalid config too. v1.6 checks the route first, v1.7 on the config.
func TestV16ValidatorChecksRouteFirst(t *testing.T) {
	for v, want := range map[Version]string{
		V1_6: `can't create nad default/r because unmarshal {"mode": faield, error: unexpected end of JSON input`,
		V1_7: `can't create nad default/r because failed to unmarshal nad default/r config {"vlan":"x"} json: cannot unmarshal string into Go struct field NetConf.vlan of type int`,
	} {
		t.Run(v.String(), func(t *testing.T) {
			checkGateCase(t, gateCase{corpus: "nad-create-route-invalid-json", version: v, denied: want}, func(c *parityCase) {
				c.Request = setNADConfig(t, c.Request, `{"vlan":"x"}`)
			})
		})
	}
}

// TestOverlayNADClusterNetwork: the recorded valid kube-ovn NAD, labelled
// with another cluster network than mgmt. Up to v1.7 overlay NADs belong to
// mgmt; v1.8 allows others.
func TestOverlayNADClusterNetwork(t *testing.T) {
	for v, want := range map[Version]string{
		V1_6: "can't create nad default/ovn1 because nad with kubeovn type can only be part of mgmt cluster",
		V1_7: "can't create nad default/ovn1 because nad with kubeovn type can only be part of mgmt cluster",
		V1_8: "",
	} {
		t.Run(v.String(), func(t *testing.T) {
			checkGateCase(t, gateCase{corpus: "kubeovn-nad-create-valid", kubeOVN: true, version: v, denied: want}, func(c *parityCase) {
				c.Request = []byte(strings.Replace(string(c.Request), `"network.harvesterhci.io/clusternetwork": "mgmt"`, `"network.harvesterhci.io/clusternetwork": "data"`, 1))
			})
		})
	}
}

// TestStorageNADParamsWording: the recorded VLAN change, made to a storage
// network NAD. v1.9 reworded the refusal with the RWX network NAD.
func TestStorageNADParamsWording(t *testing.T) {
	for v, want := range map[Version]string{
		V1_8: "can't update nad harvester-system/storagenetwork-t8xk2 because it is used by storagenetwork",
		V1_9: "can't update nad harvester-system/storagenetwork-t8xk2 because system network nad's params can't be changed",
	} {
		t.Run(v.String(), func(t *testing.T) {
			checkGateCase(t, gateCase{corpus: "nad-update-vlan-change-free", version: v, denied: want}, func(c *parityCase) {
				r := strings.ReplaceAll(string(c.Request), `"namespace": "default"`, `"namespace": "harvester-system"`)
				c.Request = []byte(strings.ReplaceAll(r, `"name": "vlan100"`, `"name": "storagenetwork-t8xk2"`))
			})
		})
	}
}

// setNADConfig replaces spec.config of the NAD in a recorded review.
func setNADConfig(t *testing.T, review []byte, config string) []byte {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(review, &r); err != nil {
		t.Fatal(err)
	}
	r["request"].(map[string]any)["object"].(map[string]any)["spec"] = map[string]any{"config": config}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMgmtMTUStorageNADWording: the recorded case with its storage network
// NAD no longer being deleted; v1.9 says "nad", earlier releases "storage
// network nad".
func TestMgmtMTUStorageNADWording(t *testing.T) {
	for v, want := range map[Version]string{
		V1_5: "",
		V1_8: "can't update cluster network mgmt because the MTU can't be changed from 1500 to 9000 as storage network nad storagenetwork-lcw9n is still attached",
		V1_9: "can't update cluster network mgmt because the MTU can't be changed from 1500 to 9000 as nad storagenetwork-lcw9n is still attached",
	} {
		t.Run(v.String(), func(t *testing.T) {
			checkGateCase(t, gateCase{corpus: "cn-update-mgmt-mtu-system-nad-deleting", version: v, denied: want}, func(c *parityCase) {
				for i, o := range c.Objects {
					c.Objects[i] = []byte(strings.Replace(string(o), `"deletionTimestamp"`, `"ignoredTimestamp"`, 1))
				}
			})
		})
	}
}

func checkGate(t *testing.T, g gateCase) {
	t.Helper()
	checkGateCase(t, g, nil)
}

func checkGateCase(t *testing.T, g gateCase, edit func(*parityCase)) {
	t.Helper()
	c, recorded := loadGateCase(t, g.version, g.corpus)
	if edit != nil {
		edit(c)
	}
	if recorded && edit == nil && g.kubeOVN == (len(c.Requires) > 0) {
		checkRowIsRecorded(t, g, c.Response)
	}
	got := parityAnswer(t, c, g.version, g.kubeOVN)
	if g.denied != "" {
		if got.Allowed || got.Status == nil || got.Status.Message != "Internal error occurred: "+g.denied {
			t.Fatalf("got %s\nwant the denial %q", dump(got), g.denied)
		}
		return
	}
	if !got.Allowed {
		t.Fatalf("got %s, want allowed", dump(got))
	}
	var want, have any
	if g.patch != "" {
		if err := json.Unmarshal([]byte(g.patch), &want); err != nil {
			t.Fatal(err)
		}
	}
	if len(got.Patch) > 0 {
		if err := json.Unmarshal(got.Patch, &have); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(want, have) {
		t.Errorf("patch %s\nwant  %s", got.Patch, g.patch)
	}
}

// loadGateCase loads the case named name from v's corpus, and reports
// whether it was recorded there; v1.9's case stands in for it otherwise.
func loadGateCase(t *testing.T, v Version, name string) (*parityCase, bool) {
	t.Helper()
	for _, dir := range []string{v.String(), "v1.9"} {
		files, err := filepath.Glob(filepath.Join("testdata", "parity", dir, "*-"+name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 1 {
			return loadParityCase(t, files[0]), dir == v.String()
		}
	}
	t.Fatalf("no corpus case %s for %s or v1.9", name, v)
	return nil, false
}

// checkRowIsRecorded fails when a row's answer is not the one recorded.
func checkRowIsRecorded(t *testing.T, g gateCase, recorded *parityResponse) {
	t.Helper()
	row := &parityResponse{Allowed: g.denied == ""}
	if g.denied != "" {
		row.Status = &parityStatus{Code: 500, Reason: "InternalError", Message: "Internal error occurred: " + g.denied}
	}
	if g.patch != "" {
		patchType := "JSONPatch"
		row.PatchType, row.Patch = &patchType, json.RawMessage(g.patch)
	}
	if recorded == nil || !reflect.DeepEqual(normalize(t, recorded), normalize(t, row)) {
		t.Errorf("the row is not %s's recorded answer\nrecorded: %s\nrow:      %s", g.version, dump(recorded), dump(row))
	}
}

func TestClusterNetworkUpdateRouteFromV16(t *testing.T) {
	for v, want := range map[Version][]string{
		V1_5: {"CREATE", "DELETE"},
		V1_6: {"CREATE", "UPDATE", "DELETE"},
		V1_9: {"CREATE", "UPDATE", "DELETE"},
	} {
		rt := validationRoutes(Profile{Version: v})[0]
		if rt.kind != clusterNetworkKind || !reflect.DeepEqual(opsStrings(rt.ops), want) {
			t.Errorf("%s: %s %v, want ClusterNetwork %v", v, rt.kind, opsStrings(rt.ops), want)
		}
	}
}

func TestNewerReleasesParseAsNewest(t *testing.T) {
	for in, want := range map[string]Version{"v1.6": V1_6, "1.7.2": V1_7, "v1.8": V1_8, "v1.9.0": V1_9, "v1.10": V1_9, "v1.12.1": V1_9} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestFromController(t *testing.T) {
	r := &Request{Profile: Profile{Version: V1_9}, AdmissionRequest: &admissionv1.AdmissionRequest{}}
	r.UserInfo.Username = "x"
	if r.fromController() {
		t.Error("an empty --controller-user matched")
	}
	r.Profile.ControllerUser = "x"
	if !r.fromController() {
		t.Error("the controller user did not match")
	}
}

// TestVlanConfigNameLengthGate: v1.6 to v1.8 check the cluster network name
// length before mgmt, without printing the name; v1.9 checks mgmt first and
// prints it. Both denials come before any cache read.
func TestVlanConfigNameLengthGate(t *testing.T) {
	long := &v1beta1.VlanConfig{Spec: v1beta1.VlanConfigSpec{ClusterNetwork: "storage-net01"}}
	mgmt := &v1beta1.VlanConfig{Spec: v1beta1.VlanConfigSpec{ClusterNetwork: "mgmt"}}
	for _, c := range []struct {
		version Version
		vc      *v1beta1.VlanConfig
		want    string
	}{
		{V1_6, long, "the length of the clusterNetwork name is more than 12"},
		{V1_8, long, "the length of the clusterNetwork name is more than 12"},
		{V1_9, long, "the length of the clusterNetwork name storage-net01 is more than 12"},
		{V1_7, mgmt, "cluster network can't be mgmt"},
		{V1_9, mgmt, "users can't create vlanConfig for mgmt cluster network"},
	} {
		r := &Request{Profile: Profile{Version: c.version, ControllerUser: upstreamControllerUser}, AdmissionRequest: &admissionv1.AdmissionRequest{}}
		r.UserInfo.Username = "admin"
		err := checkVlanConfigCreateV16(context.Background(), r, c.vc)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s %s: got %v, want %q", c.version, c.vc.Spec.ClusterNetwork, err, c.want)
		}
	}
}

// TestVlanConfigMutatorSkipsMgmtFromV19: v1.9 leaves mgmt VlanConfigs alone;
// v1.8 labels them like any other.
func TestVlanConfigMutatorSkipsMgmtFromV19(t *testing.T) {
	vc := &v1beta1.VlanConfig{Spec: v1beta1.VlanConfigSpec{ClusterNetwork: "mgmt"}}
	for v, want := range map[Version]string{
		V1_8: `[{"op":"replace","path":"/metadata/labels","value":{"network.harvesterhci.io/clusternetwork":"mgmt"}}]`,
		V1_9: "",
	} {
		r := &Request{Profile: Profile{Version: v}, Store: informerstest.NewVersion(t, int(v)).Store}
		ops, err := mutateVlanConfigCreate(context.Background(), r, vc)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := encodePatch(ops)
		if string(got) != want {
			t.Errorf("%s: patch %s, want %s", v, got, want)
		}
	}
}
