package admission

// Label and annotation keys shared with the Harvester network controller
// (spec §2.4). They are API: other components read what the mutators write.
const (
	labelClusterNetwork     = "network.harvesterhci.io/clusternetwork"
	labelType               = "network.harvesterhci.io/type"
	labelVlanID             = "network.harvesterhci.io/vlan-id"
	labelReady              = "network.harvesterhci.io/ready"
	labelVlanConfig         = "network.harvesterhci.io/vlanconfig"
	labelLastVlanID         = "network.harvesterhci.io/last-vlan-id"
	labelLastClusterNetwork = "network.harvesterhci.io/last-clusternetwork"
	labelLastType           = "network.harvesterhci.io/last-type"
	labelWitnessNode        = "node-role.harvesterhci.io/witness"

	annotationRoute          = "network.harvesterhci.io/route"
	annotationMatchedNodes   = "network.harvesterhci.io/matched-nodes"
	annotationStorageNetwork = "storage-network.settings.harvesterhci.io"

	typeL2Vlan    = "L2VlanNetwork"
	typeUntagged  = "UntaggedNetwork"
	mgmtNetwork   = "mgmt"
	systemNS      = "harvester-system"
	bridgeSuffix  = "-br"
	maxDeviceName = 15
	// maxClusterNetworkName leaves room for the bridge suffix in a device name.
	maxClusterNetworkName = maxDeviceName - len(bridgeSuffix)
)

// Keys and values the v1.6+ rules add (spec §2.4, §2.5).
const (
	typeL2VlanTrunk = "L2VlanTrunkNetwork"
	typeOverlay     = "OverlayNetwork"

	annotationUplinkMTU       = "network.harvesterhci.io/uplink-mtu"
	annotationRWXNetwork      = "rwx-network.settings.harvesterhci.io"
	annotationTunnelInterface = "ovn.kubernetes.io/tunnel_interface"
	labelExclusiveVlan        = "storage-network.settings.harvesterhci.io/exclusivevlan"

	storageNetworkPrefix = "storagenetwork-"
	rwxNetworkPrefix     = "rwx-network-"

	cniBridge  = "bridge"
	cniKubeOVN = "kube-ovn"

	defaultMTU = 1500
	minMTU     = 576
	maxMTU     = 9000
	maxVlanID  = 4094
)
