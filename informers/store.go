package informers

import (
	"context"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/lowmem/harvester-network-webhook/apis/network/v1beta1"
)

// Store is the read-only view of the cluster that admission rules decide on.
//
// Every list is returned in a deterministic order (sorted by namespace, then
// name) so that "the first one" is stable across replicas and restarts;
// upstream used informer cache order, which is random.
//
// Methods that need spec or status fields fetch full objects on demand
// through the byte-bounded LRU and may therefore fail; metadata-only and
// projection lookups are served from memory and cannot.
type Store interface {
	// ClusterNetwork returns the named ClusterNetwork. A missing object is an
	// apierrors NotFound for clusternetworks.network.harvesterhci.io, so its
	// text matches upstream's cache error.
	ClusterNetwork(ctx context.Context, name string) (*ClusterNetwork, error)

	// VlanConfigs returns the VlanConfigs labelled
	// network.harvesterhci.io/clusternetwork=<clusterNetwork>, with their spec.
	VlanConfigs(ctx context.Context, clusterNetwork string) ([]*VlanConfig, error)

	// FirstVlanConfig is the first of VlanConfigs' answer, or nil when it
	// is empty, and fetches only that one: the NAD rules read the MTU of
	// one VlanConfig of a cluster network.
	FirstVlanConfig(ctx context.Context, clusterNetwork string) (*VlanConfig, error)

	// VlanConfigNames returns the names of the VlanConfigs labelled
	// network.harvesterhci.io/clusternetwork=<clusterNetwork>, from metadata
	// alone.
	VlanConfigNames(clusterNetwork string) []string

	// VlanStatus returns the named VlanStatus, or a NotFound error for
	// vlanstatuses.network.harvesterhci.io.
	VlanStatus(ctx context.Context, name string) (*VlanStatus, error)

	// VlanStatusesNamed returns the VlanStatuses of names, in order, each
	// with its error (NotFound as VlanStatus gives it); those not in the
	// LRU are fetched together, a few GETs at a time.
	VlanStatusesNamed(ctx context.Context, names []string) ([]*VlanStatus, []error)

	// VlanStatusNames returns the names of the VlanStatuses whose label
	// labelKey equals value (for example network.harvesterhci.io/vlanconfig).
	VlanStatusNames(labelKey, value string) []string

	// NADs returns the metadata of the NetworkAttachmentDefinitions in
	// namespace ("" for all namespaces) that match selector.
	NADs(namespace string, selector labels.Selector) []NADMeta

	// Nodes returns the metadata of the Nodes that match selector.
	Nodes(selector labels.Selector) []NodeMeta

	// VMIsUsingNAD returns the VirtualMachineInstances whose
	// spec.networks[].multus.networkName is "<namespace>/<name>", followed by
	// those in namespace whose networkName is the bare "<name>". A VMI that
	// names the NAD in both forms is returned twice, as upstream's index does.
	// A non-nil nodes keeps only the VMIs running on one of them.
	VMIsUsingNAD(namespace, name string, nodes map[string]bool) []VMIRef

	// VMsUsingNAD is VMIsUsingNAD for VirtualMachines
	// (spec.template.spec.networks), watched from the v1.6 profile on.
	VMsUsingNAD(namespace, name string) []VMRef

	// NAD returns the metadata of one NetworkAttachmentDefinition.
	NAD(namespace, name string) (NADMeta, bool)

	// NADConfig returns spec.config of a NetworkAttachmentDefinition, fetched
	// on demand (exclusive storage-network NADs), or a NotFound error for
	// network-attachment-definitions.k8s.cni.cncf.io.
	NADConfig(ctx context.Context, namespace, name string) (string, error)

	// VlanStatuses returns the VlanStatuses whose label labelKey equals value,
	// with their status.
	VlanStatuses(ctx context.Context, labelKey, value string) ([]*VlanStatus, error)

	// HostNetworkConfigs returns every HostNetworkConfig with its spec
	// (v1.8 profile on).
	HostNetworkConfigs(ctx context.Context) ([]*HostNetworkConfig, error)

	// Subnets returns every kube-ovn Subnet with its spec; empty while
	// kube-ovn is not installed.
	Subnets(ctx context.Context) ([]*Subnet, error)

	// VpcExists reports whether the kube-ovn Vpc exists.
	VpcExists(name string) bool

	// KubeOVNEnabled reports whether the CRD subnets.kubeovn.io exists and is
	// not being deleted.
	KubeOVNEnabled() bool
}

// VMRef identifies a VirtualMachine.
type VMRef struct {
	Namespace string
	Name      string
}

// HostNetworkConfig holds a network.harvesterhci.io HostNetworkConfig.
type HostNetworkConfig struct {
	Name     string
	Deleting bool
	Spec     v1beta1.HostNetworkConfigSpec
}

// Subnet holds the fields of a kubeovn.io Subnet that rules read.
type Subnet struct {
	Name     string
	Provider string // spec.provider
}

// ClusterNetwork holds the fields of a network.harvesterhci.io ClusterNetwork
// that rules read.
type ClusterNetwork struct {
	Name        string
	Annotations map[string]string
	// Ready is true when status.conditions[type=ready].status is "True".
	Ready bool
}

// VlanConfig holds the fields of a network.harvesterhci.io VlanConfig that
// rules read.
type VlanConfig struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Deleting    bool
	Spec        VlanConfigSpec
}

// VlanConfigSpec is the spec of a VlanConfig.
type VlanConfigSpec = v1beta1.VlanConfigSpec

// VlanStatus holds the fields of a network.harvesterhci.io VlanStatus that
// rules read.
type VlanStatus struct {
	Name       string
	Labels     map[string]string
	VlanConfig string // status.vlanConfig
	// Ready is the status of condition "ready": "True", "False" or "" when
	// the condition is absent.
	Ready string
}

// NADMeta is the metadata of a NetworkAttachmentDefinition as cached: labels
// in full, annotations only for the keys in AnnotationAllowList.
type NADMeta struct {
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Deleting    bool
}

// NodeMeta is the metadata of a Node as cached.
type NodeMeta struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Deleting    bool
}

// VMIRef identifies a VirtualMachineInstance and the node it runs on
// (status.nodeName).
type VMIRef struct {
	Namespace string
	Name      string
	Node      string
}

// AnnotationAllowList is the set of annotation keys the rules read; every
// other annotation is dropped before an object is cached.
var AnnotationAllowList = []string{
	"network.harvesterhci.io/matched-nodes",
	"network.harvesterhci.io/uplink-mtu",
	"storage-network.settings.harvesterhci.io",
	"rwx-network.settings.harvesterhci.io",
	"ovn.kubernetes.io/tunnel_interface",
}
