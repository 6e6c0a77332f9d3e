package informers

import "k8s.io/apimachinery/pkg/runtime/schema"

// Label keys the rules select on; each is an index on the kinds that carry it.
const (
	LabelClusterNetwork = "network.harvesterhci.io/clusternetwork"
	LabelVlanConfig     = "network.harvesterhci.io/vlanconfig"
)

// Resources the webhook watches.
var (
	NodesGVR           = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	NADsGVR            = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}
	ClusterNetworksGVR = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "clusternetworks"}
	VlanConfigsGVR     = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "vlanconfigs"}
	VlanStatusesGVR    = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "vlanstatuses"}
	VMIsGVR            = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachineinstances"}
)

// Kind names, as in the objects' "kind" field. The Store finds its informers
// by these names.
const (
	KindNode           = "Node"
	KindNAD            = "NetworkAttachmentDefinition"
	KindClusterNetwork = "ClusterNetwork"
	KindVlanConfig     = "VlanConfig"
	KindVlanStatus     = "VlanStatus"
	KindVMI            = "VirtualMachineInstance"
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
	// metadata informer: only namespace, name, resourceVersion,
	// status.nodeName and the multus network names found in the list at this
	// path are kept, indexed by network name.
	NetworksPath []string
}

// projected tells whether k is kept as a network-user projection.
func (k Kind) projected() bool { return len(k.NetworksPath) > 0 }

// V14Kinds returns the kinds the Harvester v1.4/v1.5 profile watches; its
// upstream ClusterRole allows exactly these. One line per kind.
func V14Kinds() []Kind {
	return []Kind{
		{Name: KindNode, GVR: NodesGVR},
		{Name: KindNAD, GVR: NADsGVR, Namespaced: true, LabelIndexes: []string{LabelClusterNetwork}},
		{Name: KindClusterNetwork, GVR: ClusterNetworksGVR, FullOnDemand: true},
		{Name: KindVlanConfig, GVR: VlanConfigsGVR, FullOnDemand: true, LabelIndexes: []string{LabelClusterNetwork}},
		{Name: KindVlanStatus, GVR: VlanStatusesGVR, FullOnDemand: true, LabelIndexes: []string{LabelClusterNetwork, LabelVlanConfig}},
		{Name: KindVMI, GVR: VMIsGVR, Namespaced: true, NetworksPath: []string{"spec", "networks"}},
	}
}
