package e2e

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// The shared network: two nodes, cluster network e2ecn, and VlanConfig
// vc-e2e (MTU 9000) spanning both nodes.
var (
	baseOnce sync.Once
	baseErr  error
)

func baseNetwork(t *testing.T) {
	t.Helper()
	baseOnce.Do(func() {
		_, baseErr = env.Client.Apply(t.Context(), []byte(`
apiVersion: v1
kind: Node
metadata: {name: e2e-n1, labels: {e2e: "yes", kubernetes.io/hostname: e2e-n1}}
---
apiVersion: v1
kind: Node
metadata: {name: e2e-n2, labels: {e2e: "yes", kubernetes.io/hostname: e2e-n2}}
---
apiVersion: v1
kind: Node
metadata: {name: e2e-witness, labels: {e2e: "yes", node-role.harvesterhci.io/witness: "true"}}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: mgmt}
status: {conditions: [{type: ready, status: "True"}]}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: e2ecn}
status: {conditions: [{type: ready, status: "True"}]}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanConfig
metadata: {name: vc-e2e}
spec:
  clusterNetwork: e2ecn
  nodeSelector: {e2e: "yes"}
  uplink: {nics: [eth1], linkAttributes: {mtu: 9000}}
`))
	})
	if baseErr != nil {
		t.Fatalf("base network: %v", baseErr)
	}
}

func namespace(t *testing.T, name string) {
	t.Helper()
	if _, err := env.Client.Apply(t.Context(), []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+name+`"}}`)); err != nil {
		t.Fatal(err)
	}
}

func nad(namespace, name string, vlan int) *unstructured.Unstructured {
	return harness.MustObject(fmt.Sprintf(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition",
"metadata":{"name":%q,"namespace":%q},
"spec":{"config":"{\"cniVersion\":\"0.3.1\",\"name\":\"%s\",\"type\":\"bridge\",\"bridge\":\"e2ecn-br\",\"promiscMode\":true,\"vlan\":%d,\"ipam\":{}}"}}`,
		name, namespace, name, vlan))
}

func mustCreate(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := env.Client.Create(t.Context(), obj)
	if err != nil {
		t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return out
}

func TestNADWithInvalidVLANIsDeniedWithUpstreamText(t *testing.T) {
	namespace(t, "e2e-vlan")
	_, err := env.Client.Create(t.Context(), nad("e2e-vlan", "vlan5000", 5000))
	if err := harness.WantDenied(err, "could not create nad e2e-vlan/vlan5000 because VLAN ID must >=0 and <=4094"); err != nil {
		t.Fatal(err)
	}
}

func TestVlanConfigMutatorRecordsMatchedNodes(t *testing.T) {
	baseNetwork(t)
	harness.Eventually(t, "matched-nodes annotation", func() error {
		vc, err := env.Client.Get(t.Context(), harness.MustObject(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-e2e"}}`))
		if err != nil {
			return err
		}
		if got := vc.GetLabels()["network.harvesterhci.io/clusternetwork"]; got != "e2ecn" {
			return fmt.Errorf("clusternetwork label %q", got)
		}
		if got := vc.GetAnnotations()["network.harvesterhci.io/matched-nodes"]; got != `["e2e-n1","e2e-n2"]` {
			return fmt.Errorf("matched-nodes %q, want both nodes and not the witness", got)
		}
		return nil
	})
}

func TestNADMutationsAreStored(t *testing.T) {
	baseNetwork(t)
	namespace(t, "e2e-mut")
	// The mutator takes the MTU from the cluster network's VlanConfig once
	// its cache has it.
	harness.Eventually(t, "MTU patched on create", func() error {
		out, err := env.Client.DryRunCreate(t.Context(), nad("e2e-mut", "vlan10", 10))
		if err != nil {
			return err
		}
		return wantConfigMTU(out, 9000)
	})
	stored := mustCreate(t, nad("e2e-mut", "vlan10", 10))
	if err := wantConfigMTU(stored, 9000); err != nil {
		t.Fatal(err)
	}

	config, _, _ := unstructured.NestedString(stored.Object, "spec", "config")
	_ = unstructured.SetNestedField(stored.Object, strings.Replace(config, `"vlan":10`, `"vlan":20`, 1), "spec", "config")
	updated, err := env.Client.Update(t.Context(), stored)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"network.harvesterhci.io/clusternetwork": "e2ecn", "network.harvesterhci.io/type": "L2VlanNetwork",
		"network.harvesterhci.io/vlan-id": "20", "network.harvesterhci.io/last-vlan-id": "10", "network.harvesterhci.io/ready": "true",
	}
	for k, v := range want {
		if got := updated.GetLabels()[k]; got != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, got, v, updated.GetLabels())
		}
	}
}

func wantConfigMTU(obj *unstructured.Unstructured, mtu int) error {
	config, _, _ := unstructured.NestedString(obj.Object, "spec", "config")
	var conf struct {
		MTU int `json:"mtu"`
	}
	if err := json.Unmarshal([]byte(config), &conf); err != nil {
		return err
	}
	if conf.MTU != mtu {
		return fmt.Errorf("config %s, want mtu %d", config, mtu)
	}
	return nil
}

func TestNADInUseFollowsVMIs(t *testing.T) {
	baseNetwork(t)
	namespace(t, "e2e-use")
	net := mustCreate(t, nad("e2e-use", "vlan30", 30))
	vmi := mustCreate(t, harness.MustObject(`
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: vm1, namespace: e2e-use}
spec:
  networks: [{name: nic-1, multus: {networkName: e2e-use/vlan30}}]
status: {nodeName: e2e-n1}
`))
	harness.Eventually(t, "delete denied while the VMI runs", func() error {
		return harness.WantDenied(env.Client.DryRunDelete(t.Context(), net),
			"could not delete nad e2e-use/vlan30 because it's still used by VM(s) e2e-use/vm1 which must be stopped at first")
	})
	if err := env.Client.Delete(t.Context(), vmi); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "delete allowed once the VMI is gone", func() error {
		return env.Client.DryRunDelete(t.Context(), net)
	})
	if err := env.Client.Delete(t.Context(), net); err != nil {
		t.Fatal(err)
	}
}

func TestVlanConfigOverlapFollowsVlanStatuses(t *testing.T) {
	baseNetwork(t)
	vs := mustCreate(t, harness.MustObject(fmt.Sprintf(`
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanStatus
metadata: {name: %s, labels: {network.harvesterhci.io/vlanconfig: vc-other}}
status: {clusterNetwork: e2ecn, vlanConfig: vc-other, node: e2e-n1}
`, vlanStatusName("e2ecn", "e2e-n1"))))
	vc := harness.MustObject(`
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanConfig
metadata: {name: vc-e2e-b}
spec:
  clusterNetwork: e2ecn
  nodeSelector: {kubernetes.io/hostname: e2e-n1}
  uplink: {nics: [eth2], linkAttributes: {mtu: 9000}}
`)
	harness.Eventually(t, "overlap denied", func() error {
		_, err := env.Client.DryRunCreate(t.Context(), vc)
		return harness.WantDenied(err, "could not create vlanConfig vc-e2e-b because it overlaps with other vlanconfigs matching node(s) [e2e-n1]")
	})
	if err := env.Client.Delete(t.Context(), vs); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "allowed once the VlanStatus is gone", func() error {
		_, err := env.Client.DryRunCreate(t.Context(), vc)
		return err
	})
}

// vlanStatusName is the network controller's VlanStatus name for a node.
func vlanStatusName(cn, node string) string {
	s := cn + "-" + node
	return fmt.Sprintf("%s-%08x", s, crc32.ChecksumIEEE([]byte(s)))
}

func TestVlanConfigWithoutMatchingNodesIsDeniedCleanly(t *testing.T) {
	baseNetwork(t)
	// Upstream v0.5.x crashes on this one (no matched-nodes annotation).
	_, err := env.Client.DryRunCreate(t.Context(), harness.MustObject(`
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanConfig
metadata: {name: vc-nowhere}
spec:
  clusterNetwork: e2ecn
  nodeSelector: {kubernetes.io/hostname: no-such-node}
  uplink: {nics: [eth3], linkAttributes: {mtu: 9000}}
`))
	if err := harness.WantDenied(err, "could not create vlanConfig vc-nowhere because vlanConfig vc-nowhere has no network.harvesterhci.io/matched-nodes annotation"); err != nil {
		t.Fatal(err)
	}
}

func TestClusterNetworkRules(t *testing.T) {
	baseNetwork(t)
	_, err := env.Client.DryRunCreate(t.Context(), harness.MustObject(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":"thirteen-char"}}`))
	if err := harness.WantDenied(err, "could not create cluster network thirteen-char because the length of the clusterNetwork value is more than 12"); err != nil {
		t.Error(err)
	}
	mgmt := harness.MustObject(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":"mgmt"}}`)
	if err := harness.WantDenied(env.Client.DryRunDelete(t.Context(), mgmt), "could not delete cluster network mgmt because it's not allowed"); err != nil {
		t.Error(err)
	}
	cn := harness.MustObject(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":"e2ecn"}}`)
	harness.Eventually(t, "cluster network with a VlanConfig", func() error {
		return harness.WantDenied(env.Client.DryRunDelete(t.Context(), cn),
			"could not delete cluster network e2ecn because vlanconfig(s) [vc-e2e] under this clusternetwork is/are still exist(s)")
	})
}

func TestWebhookConfigurationsAreRegistered(t *testing.T) {
	vwc, err := env.Client.Get(t.Context(), harness.MustObject(`{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration","metadata":{"name":"harvester-network-webhook"}}`))
	if err != nil {
		t.Fatal(err)
	}
	hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	if len(hooks) != 1 {
		t.Fatalf("webhooks %v", hooks)
	}
	hook := hooks[0].(map[string]any)
	url, _, _ := unstructured.NestedString(hook, "clientConfig", "url")
	ca, _, _ := unstructured.NestedString(hook, "clientConfig", "caBundle")
	if hook["name"] != "validator.harvester-system.harvester-network-webhook" || url != env.Webhook.URL+"/v1/webhook/validation" || ca == "" {
		t.Errorf("validating webhook %v", hook)
	}
	if hook["failurePolicy"] != "Fail" || hook["sideEffects"] != "None" {
		t.Errorf("policies %v", hook)
	}
}
