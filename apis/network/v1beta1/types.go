// Package v1beta1 declares the network.harvesterhci.io/v1beta1 kinds as far
// as the webhook reads them.
package v1beta1

import (
	"net"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	objectmeta "github.com/lowmem/harvester-network-webhook/apis/meta/v1"
)

// ClusterNetwork is a Harvester cluster network (an uplink bridge <name>-br).
type ClusterNetwork struct {
	metav1.TypeMeta       `json:",inline"`
	objectmeta.ObjectMeta `json:"metadata,omitempty"`
	Status                ClusterNetworkStatus `json:"status,omitempty"`
}

// ClusterNetworkStatus is the status of a ClusterNetwork.
type ClusterNetworkStatus struct {
	Conditions []Condition `json:"conditions,omitempty"`
}

// Condition is a Harvester (wrangler-style) status condition.
type Condition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
}

// VlanConfig attaches the nodes its selector matches to a ClusterNetwork.
type VlanConfig struct {
	metav1.TypeMeta       `json:",inline"`
	objectmeta.ObjectMeta `json:"metadata,omitempty"`
	Spec                  VlanConfigSpec `json:"spec"`
}

// VlanConfigSpec has every field of upstream's spec, so that "spec unchanged"
// compares what upstream compares.
type VlanConfigSpec struct {
	Description    string            `json:"description,omitempty"`
	ClusterNetwork string            `json:"clusterNetwork"`
	NodeSelector   map[string]string `json:"nodeSelector,omitempty"`
	Uplink         Uplink            `json:"uplink"`
}

// Uplink is spec.uplink of a VlanConfig.
type Uplink struct {
	NICs           []string     `json:"nics,omitempty"`
	LinkAttributes *LinkAttrs   `json:"linkAttributes,omitempty"`
	BondOptions    *BondOptions `json:"bondOptions,omitempty"`
}

// LinkAttrs is spec.uplink.linkAttributes of a VlanConfig. HardwareAddr is a
// net.HardwareAddr as upstream's, so it decodes (and fails to) the same way.
type LinkAttrs struct {
	MTU          int              `json:"mtu,omitempty"`
	TxQLen       int              `json:"txQLen,omitempty"`
	HardwareAddr net.HardwareAddr `json:"hardwareAddr,omitempty"`
}

// BondOptions is spec.uplink.bondOptions of a VlanConfig.
type BondOptions struct {
	Mode   BondMode `json:"mode,omitempty"`
	Miimon int      `json:"miimon,omitempty"`
}

// BondMode is a Linux bonding mode such as active-backup.
type BondMode string

// HostNetworkConfig gives nodes an IP address on a VLAN of a cluster network
// (v1.8 and later).
type HostNetworkConfig struct {
	metav1.TypeMeta       `json:",inline"`
	objectmeta.ObjectMeta `json:"metadata,omitempty"`
	Spec                  HostNetworkConfigSpec `json:"spec"`
}

// HostNetworkConfigSpec is the spec of a HostNetworkConfig.
type HostNetworkConfigSpec struct {
	ClusterNetwork string                `json:"clusterNetwork"`
	VlanID         uint16                `json:"vlanID"`
	Underlay       bool                  `json:"underlay,omitempty"`
	Mode           string                `json:"mode,omitempty"`
	IPs            map[string]string     `json:"ips,omitempty"`
	NodeSelector   *metav1.LabelSelector `json:"nodeSelector,omitempty"`
}
