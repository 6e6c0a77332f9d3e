// Package utils declares the types the v1.7+ rules (network-controller-harvester,
// up to master) decode NAD configs and route annotations into. Like
// ../utils it is named utils, and its types are named as upstream names
// them, because encoding/json prints the Go type in decode errors that reach
// users verbatim ("… into Go struct field NetConf.vlanTrunk of type
// []*utils.VlanTrunk").
package utils

import cnitypes "github.com/lowmem/harvester-network-webhook/apis/cni/types"

// NetConf is the CNI configuration in a NAD's spec.config as the v1.7+
// rules decode it: v1.6's fields plus vlanTrunk.
type NetConf struct {
	cnitypes.NetConf
	BrName       string       `json:"bridge"`
	IsGW         bool         `json:"isGateway"`
	IsDefaultGW  bool         `json:"isDefaultGateway"`
	ForceAddress bool         `json:"forceAddress"`
	IPMasq       bool         `json:"ipMasq"`
	MTU          int          `json:"mtu"`
	HairpinMode  bool         `json:"hairpinMode"`
	PromiscMode  bool         `json:"promiscMode"`
	Vlan         int          `json:"vlan"`
	Provider     string       `json:"provider"`
	VlanTrunk    []*VlanTrunk `json:"vlanTrunk,omitempty"`
}

// VlanTrunk is one item of a bridge's vlanTrunk: a range or a single id.
type VlanTrunk struct {
	MinID *int `json:"minID,omitempty"`
	MaxID *int `json:"maxID,omitempty"`
	ID    *int `json:"id,omitempty"`
}

// Mode is the mode of a route annotation: "", "auto" or "manual".
type Mode string

// Connectivity is the connectivity the controller reports for a route.
type Connectivity string

// Layer3NetworkConf is the network.harvesterhci.io/route annotation as v1.9
// declares it. The field order (mode, serverIPAddr, cidr, gateway,
// connectivity, outdated) and the omitempty tags decide the bytes of
// re-serialised annotations.
type Layer3NetworkConf struct {
	Mode         Mode         `json:"mode,omitempty"`
	ServerIPAddr string       `json:"serverIPAddr,omitempty"`
	CIDR         string       `json:"cidr,omitempty"`
	Gateway      string       `json:"gateway,omitempty"`
	Connectivity Connectivity `json:"connectivity,omitempty"`
	Outdated     bool         `json:"outdated,omitempty"`
}
