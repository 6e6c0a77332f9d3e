// Package utils declares the types the rules decode NAD configs and route
// annotations into. It is named utils, and its types are named as upstream
// names them, because encoding/json prints the Go type in its errors and those
// errors reach users verbatim, e.g.
// "json: cannot unmarshal array into Go value of type utils.NetConf" or
// "… into Go struct field Layer3NetworkConf.mode of type utils.Mode".
package utils

import cnitypes "github.com/lowmem/harvester-network-webhook/apis/cni/types"

// NetConf is the bridge CNI configuration in a NAD's spec.config, with the
// fields upstream decodes (spec §2.5).
type NetConf struct {
	cnitypes.NetConf
	BrName       string `json:"bridge"`
	IsGW         bool   `json:"isGateway"`
	IsDefaultGW  bool   `json:"isDefaultGateway"`
	ForceAddress bool   `json:"forceAddress"`
	IPMasq       bool   `json:"ipMasq"`
	MTU          int    `json:"mtu"`
	HairpinMode  bool   `json:"hairpinMode"`
	PromiscMode  bool   `json:"promiscMode"`
	Vlan         int    `json:"vlan"`
}

// Mode is the mode of a route annotation: "", "auto" or "manual".
type Mode string

// Connectivity is the connectivity the controller reports for a route.
type Connectivity string

// Layer3NetworkConf is the network.harvesterhci.io/route annotation as
// v0.5.x, and still v1.8, declare it. The field order and omitempty tags
// decide the bytes of re-serialised annotations.
type Layer3NetworkConf struct {
	Mode         Mode         `json:"mode,omitempty"`
	CIDR         string       `json:"cidr,omitempty"`
	Gateway      string       `json:"gateway,omitempty"`
	ServerIPAddr string       `json:"serverIPAddr,omitempty"`
	Connectivity Connectivity `json:"connectivity,omitempty"`
	Outdated     bool         `json:"outdated,omitempty"`
}
