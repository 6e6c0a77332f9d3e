package admission

import (
	"fmt"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// subnet is a kube-ovn Subnet with the given spec and status.v4usingIPs;
// deleting adds a finalizer and a deletionTimestamp.
func subnet(name, spec string, v4Using int, deleting bool) string {
	extra := ""
	if deleting {
		extra = `,"finalizers":["parity.test/hold"],"deletionTimestamp":"2026-11-27T06:00:00Z"`
	}
	return fmt.Sprintf(`{"apiVersion":"kubeovn.io/v1","kind":"Subnet","metadata":{"name":%q%s},"spec":%s,"status":{"v4availableIPs":250,"v4usingIPs":%d,"v6availableIPs":0,"v6usingIPs":0}}`,
		name, extra, spec, v4Using)
}

func vpc(name string) string {
	return fmt.Sprintf(`{"apiVersion":"kubeovn.io/v1","kind":"Vpc","metadata":{"name":%q},"spec":{}}`, name)
}

// subnetSpec is the spec of a 172.20.10.0/24 Subnet; extra is appended to it.
func subnetSpec(provider, vpc, extra string) string {
	return fmt.Sprintf(`{"protocol":"IPv4","cidrBlock":"172.20.10.0/24","gateway":"172.20.10.1","excludeIps":["172.20.10.1"],"provider":%q,"vpc":%q%s}`,
		provider, vpc, extra)
}

func overlayNADIn(ns, name string) string {
	return nad(ns, name, `{"network.harvesterhci.io/type":"OverlayNetwork","network.harvesterhci.io/ready":"true","network.harvesterhci.io/clusternetwork":"mgmt"}`, "{}",
		fmt.Sprintf(`{"cniVersion":"0.3.1","name":%q,"type":"kube-ovn","provider":"%s.%s.ovn"}`, name, name, ns))
}

var (
	ovnDefaultSpec = `{"protocol":"IPv4","cidrBlock":"10.54.0.0/16","gateway":"10.54.0.1","excludeIps":["10.54.0.1"],"provider":"ovn","vpc":"ovn-cluster","default":true,"gatewayType":"distributed","natOutgoing":true}`
	joinSpec       = `{"protocol":"IPv4","cidrBlock":"100.64.0.0/16","gateway":"100.64.0.1","excludeIps":["100.64.0.1"],"provider":"ovn","vpc":"ovn-cluster","gatewayType":"distributed"}`

	// kubeOVNCluster is kube-ovn's defaults, vpc-1 and the overlay NAD
	// default/ovn1.
	kubeOVNCluster = []string{
		node01, clusterNetwork("mgmt"), vpc("ovn-cluster"), vpc("vpc-1"),
		subnet("ovn-default", ovnDefaultSpec, 0, false), subnet("join", joinSpec, 0, false),
		overlayNADIn("default", "ovn1"),
	}
)

func TestSubnetCreateRules(t *testing.T) {
	for _, c := range []validationCase{
		{
			name:    "a Subnet on an overlay NAD without VPC is allowed (kubeovn-subnet-create-valid-no-vpc)",
			objects: kubeOVNCluster,
			object:  subnet("vswitch1", `{"protocol":"IPv4","cidrBlock":"172.20.10.0/24","provider":"ovn1.default.ovn"}`, 0, false),
		},
		{
			name:    "a Subnet in an existing VPC is allowed",
			objects: kubeOVNCluster,
			object:  subnet("vswitch1", subnetSpec("ovn1.default.ovn", "vpc-1", ""), 0, false),
		},
		{
			name:   "ovn-default with provider ovn is allowed with no other check (kubeovn-subnet-create-reserved-ovn-default)",
			object: subnet("ovn-default", ovnDefaultSpec, 0, false),
		},
		{
			name:    "a reserved Subnet with another provider is denied (kubeovn-subnet-create-reserved-wrong-provider)",
			objects: kubeOVNCluster,
			object:  subnet("ovn-default", subnetSpec("ovn1.default.ovn", "ovn-cluster", ""), 0, false),
			denied:  "not a default subnet ovn-default as provider is ovn1.default.ovn",
		},
		{
			name:    "a reserved Subnet without provider is denied (kubeovn-subnet-create-reserved-empty-provider)",
			objects: kubeOVNCluster,
			object:  subnet("join", `{"protocol":"IPv4","cidrBlock":"100.64.0.0/16","vpc":"ovn-cluster"}`, 0, false),
			denied:  "not a default subnet join as provider is ",
		},
		{
			name:    "provider ovn on another Subnet is a provider of one part (kubeovn-subnet-create-provider-ovn-not-reserved)",
			objects: kubeOVNCluster,
			object:  subnet("vswitch1", subnetSpec("ovn", "ovn-cluster", ""), 0, false),
			denied:  "invalid provider length 1 for provider ovn",
		},
		{
			name:    "an empty provider is denied",
			objects: kubeOVNCluster,
			object:  subnet("vswitch1", `{"cidrBlock":"172.20.10.0/24"}`, 0, false),
			denied:  "provider is empty for cni type kube-ovn",
		},
		{
			name:    "a provider of two parts is denied",
			objects: kubeOVNCluster,
			object:  subnet("vswitch1", subnetSpec("ovn1.default", "", ""), 0, false),
			denied:  "invalid provider length 2 for provider ovn1.default",
		},
		{
			name:    "the provider suffix is not checked (kubeovn-subnet-create-provider-suffix-unchecked)",
			objects: kubeOVNCluster,
			object:  subnet("vswitch1", subnetSpec("ovn1.default.kubeovn", "vpc-1", ""), 0, false),
		},
		{
			name:    "a missing NAD is denied (kubeovn-subnet-create-nad-missing)",
			objects: kubeOVNCluster,
			object:  subnet("vswitch9", subnetSpec("ovn9.default.ovn", "vpc-1", ""), 0, false),
			denied:  "nad ovn9 not created in namespace default, create the nad before subnet creation",
		},
		{
			name: "a NAD without labels is denied (kubeovn-subnet-create-nad-no-labels)",
			objects: []string{vpc("vpc-1"), nad("default", "ovn1", "{}", "{}",
				`{"cniVersion":"0.3.1","name":"ovn1","type":"kube-ovn","provider":"ovn1.default.ovn"}`)},
			object: subnet("vswitch1", subnetSpec("ovn1.default.ovn", "vpc-1", ""), 0, false),
			denied: "lables are empty for nad default/ovn1",
		},
		{
			name: "a NAD without type label is denied (kubeovn-subnet-create-nad-no-type-label)",
			objects: []string{vpc("vpc-1"), nad("default", "ovn1", `{"network.harvesterhci.io/clusternetwork":"mgmt"}`, "{}",
				`{"cniVersion":"0.3.1","name":"ovn1","type":"kube-ovn","provider":"ovn1.default.ovn"}`)},
			object: subnet("vswitch1", subnetSpec("ovn1.default.ovn", "vpc-1", ""), 0, false),
			denied: "network type of nad is not kubeovn instead ",
		},
		{
			name: "only the NAD type label is checked, not its config",
			objects: []string{vpc("vpc-1"), nad("default", "br1", `{"network.harvesterhci.io/type":"OverlayNetwork"}`, "{}",
				`{"type":"bridge","bridge":"data-br","vlan":100}`)},
			object: subnet("vswitch1", subnetSpec("br1.default.ovn", "vpc-1", ""), 0, false),
		},
		{
			name:    "a provider another Subnet has is denied",
			objects: with(kubeOVNCluster, subnet("vswitch1", subnetSpec("ovn1.default.ovn", "vpc-1", ""), 0, false)),
			object:  subnet("vswitch2", subnetSpec("ovn1.default.ovn", "vpc-1", ""), 0, false),
			denied:  "subnet vswitch1 is using the provider ovn1.default.ovn already",
		},
		{
			name: "a NAD of the same name in another namespace is another provider (kubeovn-subnet-create-provider-same-name-other-ns)",
			objects: with(kubeOVNCluster, subnet("vswitch1", subnetSpec("ovn1.default.ovn", "vpc-1", ""), 0, false),
				overlayNADIn("vm-ns", "ovn1")),
			object: subnet("vswitch2", subnetSpec("ovn1.vm-ns.ovn", "vpc-1", ""), 0, false),
		},
		{
			name:    "a missing VPC is denied (kubeovn-subnet-create-vpc-missing)",
			objects: kubeOVNCluster,
			object:  subnet("vswitch1", subnetSpec("ovn1.default.ovn", "vpc-9", ""), 0, false),
			denied:  "vpc does not exist for subnet vswitch1 err=vpc vpc-9 not created for subnet, create vpc before subnet creation",
		},
		{
			name:    "an undecodable Subnet is denied with the json error (kubeovn-subnet-decode-error)",
			objects: kubeOVNCluster,
			object:  `{"apiVersion":"kubeovn.io/v1","kind":"Subnet","metadata":{"name":"vswitch1"},"spec":{"cidrBlock":"172.20.10.0/24","provider":12,"vpc":"vpc-1"}}`,
			denied:  "json: cannot unmarshal number into Go struct field SubnetSpec.spec.provider of type string",
		},
	} {
		c.kubeOVN = true
		c.op = admissionv1.Create
		t.Run(c.name, c.run)
	}
}

func TestSubnetUpdateDeleteRules(t *testing.T) {
	vswitch := func(spec string, v4Using int) string { return subnet("vswitch1", spec, v4Using, false) }
	ovn1 := subnetSpec("ovn1.default.ovn", "vpc-1", "")
	ovn2 := subnetSpec("ovn2.default.ovn", "vpc-1", "")
	cluster := with(kubeOVNCluster, overlayNADIn("default", "ovn2"), vpc("vpc-2"), vswitch(ovn1, 3))
	for _, c := range []validationCase{
		{
			name:      "an unchanged spec is allowed without checks (kubeovn-subnet-update-skip-unchanged)",
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 0), object: vswitch(ovn1, 3),
		},
		{
			name:      "a Subnet being deleted is allowed without checks (kubeovn-subnet-update-skip-deleting)",
			objects:   kubeOVNCluster,
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 3), object: subnet("vswitch1", subnetSpec("ovn9.default.ovn", "vpc-1", ""), 3, true),
		},
		{
			name:      "a reserved Subnet moved to another provider is denied (kubeovn-subnet-update-reserved-wrong-provider)",
			objects:   kubeOVNCluster,
			op:        admissionv1.Update,
			oldObject: subnet("ovn-default", ovnDefaultSpec, 0, false),
			object:    subnet("ovn-default", strings.Replace(ovnDefaultSpec, `"provider":"ovn"`, `"provider":"ovn1.default.ovn"`, 1), 0, false),
			denied:    "not a default subnet ovn-default as provider is ovn1.default.ovn",
		},
		{
			name:      "a reserved Subnet may change its VPC even in use",
			objects:   kubeOVNCluster,
			op:        admissionv1.Update,
			oldObject: subnet("ovn-default", ovnDefaultSpec, 5, false),
			object:    subnet("ovn-default", strings.Replace(ovnDefaultSpec, `"vpc":"ovn-cluster"`, `"vpc":"vpc-9"`, 1), 5, false),
		},
		{
			name:      "a provider change while IPv4 addresses are in use is denied (kubeovn-subnet-update-provider-in-use)",
			objects:   cluster,
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 3), object: vswitch(ovn2, 3),
			denied: "cannot update provider ovn2.default.ovn for subnet vswitch1 as VMs are still using it",
		},
		{
			name:      "a provider change of an unused Subnet is allowed (kubeovn-subnet-update-provider-change)",
			objects:   cluster,
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 0), object: vswitch(ovn2, 0),
		},
		{
			name:      "IPv6 use does not count",
			objects:   cluster,
			op:        admissionv1.Update,
			oldObject: strings.Replace(vswitch(ovn1, 0), `"v6usingIPs":0`, `"v6usingIPs":4`, 1), object: vswitch(ovn2, 0),
		},
		{
			name:      "a VPC change in use is denied (kubeovn-subnet-update-vpc-in-use)",
			objects:   cluster,
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 3), object: vswitch(subnetSpec("ovn1.default.ovn", "vpc-2", ""), 3),
			denied: "cannot update vpc vpc-2 for subnet vswitch1 as VMs are still using it",
		},
		{
			name:      "the provider is checked before the VPC (kubeovn-subnet-update-order-provider-before-vpc)",
			objects:   cluster,
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 3), object: vswitch(subnetSpec("ovn2.default.ovn", "vpc-2", ""), 3),
			denied: "cannot update provider ovn2.default.ovn for subnet vswitch1 as VMs are still using it",
		},
		{
			name:      "a provider on a bridge NAD is denied (kubeovn-subnet-update-nad-bridge)",
			objects:   with(kubeOVNCluster, nad("default", "vlan100", dataLabels, "{}", vlan100Config), vswitch(ovn1, 0)),
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 0), object: vswitch(subnetSpec("vlan100.default.ovn", "vpc-1", ""), 0),
			denied: "network type of nad is not kubeovn instead L2VlanNetwork",
		},
		{
			name:      "a provider another Subnet has is denied (kubeovn-subnet-update-provider-taken)",
			objects:   with(cluster, subnet("vswitch2", ovn2, 0, false)),
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 0), object: vswitch(ovn2, 0),
			denied: "subnet vswitch2 is using the provider ovn2.default.ovn already",
		},
		{
			name:      "an unchanged provider is not checked for uniqueness (kubeovn-subnet-update-provider-unchanged-not-unique-checked)",
			objects:   with(cluster, subnet("vswitch2", ovn1, 0, false)),
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 0), object: vswitch(subnetSpec("ovn1.default.ovn", "vpc-1", `,"excludeIps":["172.20.10.1","172.20.10.2"]`), 0),
		},
		{
			name:      "the NAD is checked again on any spec change",
			objects:   []string{vpc("vpc-1"), vswitch(ovn1, 0)},
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 0), object: vswitch(strings.Replace(ovn1, "172.20.10.0/24", "172.20.11.0/24", 1), 0),
			denied: "nad ovn1 not created in namespace default, create the nad before subnet creation",
		},
		{
			name:      "the VPC is checked again on any spec change",
			objects:   []string{overlayNADIn("default", "ovn1"), vswitch(ovn1, 0)},
			op:        admissionv1.Update,
			oldObject: vswitch(ovn1, 0), object: vswitch(strings.Replace(ovn1, "172.20.10.0/24", "172.20.11.0/24", 1), 0),
			denied: "vpc does not exist for subnet vswitch1 err=vpc vpc-1 not created for subnet, create vpc before subnet creation",
		},
		{
			name: "a DHCP change while a VMI uses the NAD is denied (kubeovn-subnet-update-dhcp-vmi)",
			objects: with(kubeOVNCluster, vswitch(subnetSpec("ovn1.default.ovn", "vpc-1", `,"enableDHCP":true`), 1),
				vmi("ovn-vm", "harv-node-01", "default/ovn1")),
			op:        admissionv1.Update,
			oldObject: vswitch(subnetSpec("ovn1.default.ovn", "vpc-1", `,"enableDHCP":true`), 1),
			object:    vswitch(subnetSpec("ovn1.default.ovn", "vpc-1", `,"enableDHCP":false`), 1),
			denied:    "cannot update DHCP setting for subnet vswitch1 as VMs are still using it, stop the VMs and update err:it's still used by VM(s) default/ovn-vm which must be stopped at first",
		},
		{
			name: "a DHCP change with only a stopped VM is allowed",
			objects: with(kubeOVNCluster, vswitch(subnetSpec("ovn1.default.ovn", "vpc-1", ""), 0),
				vm("default", "ovn-vm", "default/ovn1")),
			op:        admissionv1.Update,
			oldObject: vswitch(subnetSpec("ovn1.default.ovn", "vpc-1", ""), 0),
			object:    vswitch(subnetSpec("ovn1.default.ovn", "vpc-1", `,"enableDHCP":true`), 0),
		},
		{
			name:      "deleting a Subnet in use is allowed (kubeovn-subnet-delete-in-use-allowed)",
			objects:   with(kubeOVNCluster, vswitch(ovn1, 3), vmi("ovn-vm", "harv-node-01", "default/ovn1")),
			op:        admissionv1.Delete,
			oldObject: vswitch(ovn1, 3),
		},
	} {
		c.kubeOVN = true
		t.Run(c.name, c.run)
	}
}

func TestSubnetValidatorRoute(t *testing.T) {
	rt := subnetValidator()
	if got := opsStrings(rt.ops); strings.Join(got, ",") != "CREATE,UPDATE,DELETE" {
		t.Errorf("operations %v", got)
	}
	if rt.gvr != subnetGVR || rt.kind != "Subnet" || rt.scope != "Cluster" {
		t.Errorf("route %v %s %s", rt.gvr, rt.kind, rt.scope)
	}
}

func TestParseKubeOVNProvider(t *testing.T) {
	for _, c := range []struct {
		provider, name, namespace, err string
	}{
		{provider: "ovn1.default.ovn", name: "ovn1", namespace: "default"},
		{provider: "ovn1.default.kubeovn.extra", name: "ovn1", namespace: "default"},
		{provider: "..ovn"},
		{provider: "", err: "provider is empty for cni type kube-ovn"},
		{provider: "ovn", err: "invalid provider length 1 for provider ovn"},
		{provider: "a.b", err: "invalid provider length 2 for provider a.b"},
	} {
		name, ns, err := parseKubeOVNProvider(c.provider)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if name != c.name || ns != c.namespace || gotErr != c.err {
			t.Errorf("parseKubeOVNProvider(%q) = %q, %q, %q; want %q, %q, %q", c.provider, name, ns, gotErr, c.name, c.namespace, c.err)
		}
	}
}
