// Package v19 runs the end-to-end scenario of the newest profile (Harvester
// v1.9, upstream master) against its own control plane: HostNetworkConfigs,
// mgmt VlanConfigs by the controller versus another user, NADs used by VM
// objects, and kube-ovn turned off and on while the webhook runs.
package v19

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

const controller = "system:serviceaccount:harvester-system:harvester-network-controller"

var env = harness.Suite{Users: []controlplane.User{{Name: controller, Groups: []string{"system:serviceaccounts"}}}}

func TestMain(m *testing.M) {
	os.Exit(harness.RunSuite(m, filepath.Join("..", ".."), &env, "--harvester-version", "v1.9"))
}

func apply(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := env.Client.Apply(t.Context(), []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// network is cluster networks mgmt and data and two nodes.
func network(t *testing.T) {
	apply(t, `
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
---
apiVersion: v1
kind: Node
metadata: {name: n2, labels: {kubernetes.io/hostname: n2}}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: mgmt}
status: {conditions: [{type: ready, status: "True"}]}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: data}
status: {conditions: [{type: ready, status: "True"}]}
`)
}

func TestHostNetworkConfigFollowsVlanStatuses(t *testing.T) {
	network(t)
	hnc := harness.MustObject(`
apiVersion: network.harvesterhci.io/v1beta1
kind: HostNetworkConfig
metadata: {name: hnc-data-100}
spec: {clusterNetwork: data, vlanID: 100, mode: dhcp}
`)
	_, err := env.Client.DryRunCreate(t.Context(), harness.MustObject(`
apiVersion: network.harvesterhci.io/v1beta1
kind: HostNetworkConfig
metadata: {name: hnc-long}
spec: {clusterNetwork: storage-net01, vlanID: 10, mode: dhcp}
`))
	if err := harness.WantDenied(err, "can't create hostnetworkConfig hnc-long because the length of the clusterNetwork name storage-net01 is more than 12"); err != nil {
		t.Error(err)
	}
	harness.Eventually(t, "denied without a VlanStatus", func() error {
		_, err := env.Client.DryRunCreate(t.Context(), hnc)
		return harness.WantDenied(err, "can't create hostnetworkConfig hnc-data-100 because vlan status not present for cluster network data")
	})
	apply(t, `
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanStatus
metadata: {name: data-n1-e2e, labels: {network.harvesterhci.io/clusternetwork: data, network.harvesterhci.io/vlanconfig: vc-data}}
status: {clusterNetwork: data, vlanConfig: vc-data, node: n1, conditions: [{type: ready, status: "True"}]}
`)
	harness.Eventually(t, "allowed once a ready VlanStatus exists", func() error {
		_, err := env.Client.Create(t.Context(), hnc)
		return err
	})
}

func TestMgmtVlanConfigOnlyByTheController(t *testing.T) {
	network(t)
	vc := harness.MustObject(`
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanConfig
metadata: {name: vc-mgmt}
spec: {clusterNetwork: mgmt, uplink: {nics: [eth0], linkAttributes: {mtu: 1500}}}
`)
	_, err := env.Client.DryRunCreate(t.Context(), vc)
	if err := harness.WantDenied(err, "can't create vlanConfig vc-mgmt because users can't create vlanConfig for mgmt cluster network"); err != nil {
		t.Fatal(err)
	}
	apply(t, fmt.Sprintf(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-network-controller}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: %q}]
`, controller))
	_, cfg, err := env.ControlPlane.KubeconfigFor(controller)
	if err != nil {
		t.Fatal(err)
	}
	asController, err := harness.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the controller may create it", func() error {
		_, err := asController.DryRunCreate(t.Context(), vc)
		return err
	})
}

func TestNADUsedByAVirtualMachineCannotBeDeleted(t *testing.T) {
	network(t)
	apply(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e-vm"}}`)
	nad := apply(t, `
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: vlan100, namespace: e2e-vm, labels: {network.harvesterhci.io/clusternetwork: data}}
spec: {config: '{"cniVersion":"0.3.1","name":"vlan100","type":"bridge","bridge":"data-br","promiscMode":true,"vlan":100,"ipam":{}}'}
`)[0]
	vm := apply(t, `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: web, namespace: e2e-vm}
spec: {template: {spec: {networks: [{name: nic-1, multus: {networkName: e2e-vm/vlan100}}]}}}
`)[0]
	harness.Eventually(t, "denied while a VM uses it", func() error {
		return harness.WantDenied(env.Client.DryRunDelete(t.Context(), nad),
			"can't delete nad e2e-vm/vlan100 because it's still used by VM(s) e2e-vm/web which must remove the related networks and interfaces")
	})
	if err := env.Client.Delete(t.Context(), vm); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "allowed once the VM is gone", func() error {
		return env.Client.DryRunDelete(t.Context(), nad)
	})
}

func TestKubeOVNFollowedWithoutARestart(t *testing.T) {
	network(t)
	crd := harness.MustObject(`{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"subnets.kubeovn.io"}}`)
	subnet := harness.MustObject(`
apiVersion: kubeovn.io/v1
kind: Subnet
metadata: {name: vswitch1}
spec: {protocol: IPv4, cidrBlock: 172.20.10.0/24, gateway: 172.20.10.1, provider: ovn1.default.ovn}
`)
	ovnNAD := harness.MustObject(`
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: ovn1, namespace: default}
spec: {config: '{"cniVersion":"0.3.1","name":"ovn1","type":"kube-ovn","provider":"ovn1.default.ovn","server_socket":"/run/openvswitch/kube-ovn-daemon.sock"}'}
`)
	// Installed with the other CRDs: the Subnet validator runs.
	harness.Eventually(t, "Subnet validated while kube-ovn is installed", func() error {
		_, err := env.Client.DryRunCreate(t.Context(), subnet)
		return harness.WantDenied(err, "nad ovn1 not created in namespace default, create the nad before subnet creation")
	})
	if err := subnetRule(t, true); err != nil {
		t.Fatal(err)
	}
	stored, err := env.Client.Get(t.Context(), crd)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(t.Context(), crd); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "kube-ovn NADs refused once kube-ovn is gone", func() error {
		_, err := env.Client.DryRunCreate(t.Context(), ovnNAD)
		return harness.WantDenied(err, "can't create nad default/ovn1 because kubeovn is not yet enabled")
	})
	harness.Eventually(t, "Subnet rule removed", func() error { return subnetRule(t, false) })

	stored.SetResourceVersion("")
	stored.SetUID("")
	unstructured.RemoveNestedField(stored.Object, "status")
	harness.Eventually(t, "CRD re-created", func() error {
		_, err := env.Client.Create(t.Context(), stored)
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("still terminating: %w", err)
		}
		return err
	})
	harness.Eventually(t, "Subnet validated again", func() error {
		_, err := env.Client.DryRunCreate(t.Context(), subnet)
		return harness.WantDenied(err, "nad ovn1 not created in namespace default, create the nad before subnet creation")
	})
	harness.Eventually(t, "Subnet rule back", func() error { return subnetRule(t, true) })
}

// subnetRule checks whether the validating webhook configuration has the
// kube-ovn Subnet rule.
func subnetRule(t *testing.T, want bool) error {
	vwc, err := env.Client.Get(t.Context(), harness.MustObject(`{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration","metadata":{"name":"harvester-network-webhook"}}`))
	if err != nil {
		return err
	}
	hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	var resources []string
	for _, h := range hooks {
		rules, _, _ := unstructured.NestedSlice(h.(map[string]any), "rules")
		for _, r := range rules {
			res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
			resources = append(resources, res...)
		}
	}
	if got := slices.Contains(resources, "subnets"); got != want {
		return fmt.Errorf("rules on %v: subnets present=%v, want %v", resources, got, want)
	}
	if !slices.Contains(resources, "hostnetworkconfigs") {
		return fmt.Errorf("rules on %v lack hostnetworkconfigs", resources)
	}
	return nil
}
