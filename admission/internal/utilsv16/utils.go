// Package utils declares the NAD config as the v1.6 rules decode it. Like
// ../utils it is named utils, and its type is named as upstream names it,
// because encoding/json prints the Go type in decode errors that reach users
// verbatim ("json: cannot unmarshal array into Go value of type utils.NetConf").
package utils

import cnitypes "github.com/lowmem/harvester-network-webhook/apis/cni/types"

// NetConf is the CNI configuration in a NAD's spec.config as v1.6 decodes
// it: the v0.5.x fields plus provider (kube-ovn). It has no vlanTrunk
// (v1.7), so v1.6 neither decodes a trunk nor sees it change.
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
	Provider     string `json:"provider"`
}
