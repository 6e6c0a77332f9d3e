package informers

import "k8s.io/apimachinery/pkg/runtime/schema"

// Label keys the rules select on; each is an index on the kinds that carry it.
const (
	LabelClusterNetwork = "network.harvesterhci.io/clusternetwork"
	LabelVlanConfig     = "network.harvesterhci.io/vlanconfig"
	// LabelExclusiveVlan marks the storage network NAD whose VLAN no other
	// NAD may use (v1.9); every NAD create looks it up.
	LabelExclusiveVlan = "storage-network.settings.harvesterhci.io/exclusivevlan"
)

// Resources the webhook watches.
var (
	NodesGVR              = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	NADsGVR               = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}
	ClusterNetworksGVR    = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "clusternetworks"}
	VlanConfigsGVR        = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "vlanconfigs"}
	VlanStatusesGVR       = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "vlanstatuses"}
	VMIsGVR               = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachineinstances"}
	VMsGVR                = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}
	HostNetworkConfigsGVR = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "hostnetworkconfigs"}
	SubnetsGVR            = schema.GroupVersionResource{Group: "kubeovn.io", Version: "v1", Resource: "subnets"}
	VpcsGVR               = schema.GroupVersionResource{Group: "kubeovn.io", Version: "v1", Resource: "vpcs"}
	// CRDsGVR is watched only for the one object named KubeOVNCRDName.
	CRDsGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// KubeOVNCRDName is the CustomResourceDefinition whose presence means
// kube-ovn is installed.
const KubeOVNCRDName = "subnets.kubeovn.io"

// Kind names, as in the objects' "kind" field. The Store finds its informers
// by these names.
const (
	KindNode              = "Node"
	KindNAD               = "NetworkAttachmentDefinition"
	KindClusterNetwork    = "ClusterNetwork"
	KindVlanConfig        = "VlanConfig"
	KindVlanStatus        = "VlanStatus"
	KindVMI               = "VirtualMachineInstance"
	KindVM                = "VirtualMachine"
	KindHostNetworkConfig = "HostNetworkConfig"
	KindSubnet            = "Subnet"
	KindVpc               = "Vpc"
	// KindCRD is the kube-ovn presence watch (Config.WatchKubeOVN); it is
	// not a Kind of any profile's list.
	KindCRD = "CustomResourceDefinition"
)

// Kind describes one watched resource. Watches are always cluster-wide.
type Kind struct {
	// Name is the object kind, e.g. "VlanConfig".
	Name string
	GVR  schema.GroupVersionResource
	// Namespaced tells whether objects live in namespaces.
	Namespaced bool
	// LabelIndexes are label keys whose values are indexed, so that
	// "objects labelled key=value" is a lookup, not a scan.
	LabelIndexes []string
	// FullOnDemand marks kinds whose spec/status the Store reads: those are
	// fetched into the LRU, and metadata events evict their entries.
	FullOnDemand bool
	// NetworksPath, when set, makes the kind a projection instead of a
	// metadata informer: only namespace, name, resourceVersion, the node
	// (NodePath) and the multus network names found in the list at this path
	// are kept, indexed by network name.
	NetworksPath []string
	// NodePath, for a projected kind, is where the node name is read
	// (status.nodeName for VMIs); empty keeps no node.
	NodePath []string
	// KubeOVN marks kinds that are watched only while kube-ovn is installed
	// (KubeOVNEnabled); they need Config.WatchKubeOVN.
	KubeOVN bool
}

// projected tells whether k is kept as a network-user projection.
func (k Kind) projected() bool { return len(k.NetworksPath) > 0 }

// Verbs are the cluster-wide permissions watching k takes: list and watch,
// and get for kinds whose full objects are fetched one by one.
func (k Kind) Verbs() []string {
	if k.FullOnDemand {
		return []string{"get", "list", "watch"}
	}
	return []string{"list", "watch"}
}

// CRDName is the name of the CustomResourceDefinition that serves k, e.g.
// "vlanconfigs.network.harvesterhci.io"; "" for built-in kinds.
func (k Kind) CRDName() string {
	if k.GVR.Group == "" {
		return ""
	}
	return k.GVR.GroupResource().String()
}

// V14Kinds returns the kinds the Harvester v1.4/v1.5 profile watches; its
// upstream ClusterRole allows exactly these. One line per kind.
func V14Kinds() []Kind {
	return []Kind{
		{Name: KindNode, GVR: NodesGVR},
		{Name: KindNAD, GVR: NADsGVR, Namespaced: true, FullOnDemand: true, LabelIndexes: []string{LabelClusterNetwork, LabelExclusiveVlan}},
		{Name: KindClusterNetwork, GVR: ClusterNetworksGVR, FullOnDemand: true},
		{Name: KindVlanConfig, GVR: VlanConfigsGVR, FullOnDemand: true, LabelIndexes: []string{LabelClusterNetwork}},
		{Name: KindVlanStatus, GVR: VlanStatusesGVR, FullOnDemand: true, LabelIndexes: []string{LabelClusterNetwork, LabelVlanConfig}},
		{Name: KindVMI, GVR: VMIsGVR, Namespaced: true, NetworksPath: []string{"spec", "networks"}, NodePath: []string{"status", "nodeName"}},
	}
}

// V16Kinds returns the kinds of the Harvester v1.6/v1.7 profile: V14Kinds,
// VirtualMachines, and the kube-ovn Subnets and Vpcs, which run only while
// kube-ovn is installed (Config.WatchKubeOVN must be set).
func V16Kinds() []Kind {
	return append(V14Kinds(),
		Kind{Name: KindVM, GVR: VMsGVR, Namespaced: true, NetworksPath: []string{"spec", "template", "spec", "networks"}},
		Kind{Name: KindSubnet, GVR: SubnetsGVR, FullOnDemand: true, KubeOVN: true},
		Kind{Name: KindVpc, GVR: VpcsGVR, KubeOVN: true},
	)
}

// V18Kinds returns the kinds of the Harvester v1.8-and-later profile:
// V16Kinds and HostNetworkConfigs.
func V18Kinds() []Kind {
	return append(V16Kinds(),
		Kind{Name: KindHostNetworkConfig, GVR: HostNetworkConfigsGVR, FullOnDemand: true},
	)
}

// KindsFor returns the watched kinds of Harvester v1.<minor> and whether the
// kube-ovn presence is watched (Config.Kinds and Config.WatchKubeOVN).
// Releases before v1.4 get the v1.4 profile.
func KindsFor(minor int) (kinds []Kind, watchKubeOVN bool) {
	switch {
	case minor >= 8:
		return V18Kinds(), true
	case minor >= 6:
		return V16Kinds(), true
	default:
		return V14Kinds(), false
	}
}
