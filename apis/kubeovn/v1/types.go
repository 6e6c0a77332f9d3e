// Package v1 declares the kubeovn.io/v1 Subnet as far as the webhook reads
// it.
//
// The spec keeps every field of kube-ovn's SubnetSpec, with kube-ovn's JSON
// names and Go types: upstream skips an update whose decoded spec is
// unchanged (reflect.DeepEqual), so a field missing here would hide a change,
// and a field of another type would change decode errors ("… into Go struct
// field SubnetSpec.spec.provider of type string").
package v1

import (
	"fmt"
	"math/big"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	objectmeta "github.com/lowmem/harvester-network-webhook/apis/meta/v1"
)

// Subnet is a kube-ovn logical switch (cluster scoped).
type Subnet struct {
	metav1.TypeMeta       `json:",inline"`
	objectmeta.ObjectMeta `json:"metadata"`

	Spec   SubnetSpec   `json:"spec"`
	Status SubnetStatus `json:"status"`
}

// SubnetSpec is the spec of a Subnet. The webhook reads Provider, Vpc and
// EnableDHCP; the other fields only take part in the "spec unchanged"
// comparison.
type SubnetSpec struct {
	Default    bool     `json:"default"`
	Vpc        string   `json:"vpc,omitempty"`
	Protocol   string   `json:"protocol,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
	CIDRBlock  string   `json:"cidrBlock,omitempty"`
	Gateway    string   `json:"gateway,omitempty"`
	ExcludeIps []string `json:"excludeIps,omitempty"`
	// Provider is "ovn" for the default network, else
	// "<nad name>.<nad namespace>.<suffix>".
	Provider string `json:"provider,omitempty"`

	GatewayType          string                 `json:"gatewayType,omitempty"`
	GatewayNode          string                 `json:"gatewayNode"`
	GatewayNodeSelectors []metav1.LabelSelector `json:"gatewayNodeSelectors,omitempty"`
	NatOutgoing          bool                   `json:"natOutgoing"`

	ExternalEgressGateway string `json:"externalEgressGateway,omitempty"`
	PolicyRoutingPriority uint32 `json:"policyRoutingPriority,omitempty"`
	PolicyRoutingTableID  uint32 `json:"policyRoutingTableID,omitempty"`
	Mtu                   uint32 `json:"mtu,omitempty"`

	Private      bool     `json:"private"`
	AllowSubnets []string `json:"allowSubnets,omitempty"`

	Vlan string   `json:"vlan,omitempty"`
	Vips []string `json:"vips,omitempty"`

	LogicalGateway         bool `json:"logicalGateway,omitempty"`
	DisableGatewayCheck    bool `json:"disableGatewayCheck,omitempty"`
	DisableInterConnection bool `json:"disableInterConnection,omitempty"`

	EnableDHCP    bool   `json:"enableDHCP,omitempty"`
	DHCPv4Options string `json:"dhcpV4Options,omitempty"`
	DHCPv6Options string `json:"dhcpV6Options,omitempty"`

	EnableIPv6RA  bool   `json:"enableIPv6RA,omitempty"`
	IPv6RAConfigs string `json:"ipv6RAConfigs,omitempty"`

	Acls           []ACL `json:"acls,omitempty"`
	AllowEWTraffic bool  `json:"allowEWTraffic,omitempty"`

	NatOutgoingPolicyRules []NatOutgoingPolicyRule `json:"natOutgoingPolicyRules,omitempty"`

	U2OInterconnectionIP    string      `json:"u2oInterconnectionIP,omitempty"`
	U2OInterconnection      bool        `json:"u2oInterconnection,omitempty"`
	U2OFeatures             U2OFeatures `json:"u2oFeatures,omitempty"`
	EnableLb                *bool       `json:"enableLb,omitempty"`
	EnableEcmp              bool        `json:"enableEcmp,omitempty"`
	EnableMulticastSnoop    bool        `json:"enableMulticastSnoop,omitempty"`
	EnableExternalLBAddress bool        `json:"enableExternalLBAddress,omitempty"`

	RouteTable         string                 `json:"routeTable,omitempty"`
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`
	NodeNetwork        string                 `json:"nodeNetwork,omitempty"`
}

// U2OFeatures tunes underlay-to-overlay interconnection.
type U2OFeatures struct {
	OverlayOnlyRouting bool `json:"overlayOnlyRouting,omitempty"`
}

// ACL is an OVN ACL rule of a Subnet.
type ACL struct {
	Direction string `json:"direction,omitempty"`
	Priority  int    `json:"priority,omitempty"`
	Match     string `json:"match,omitempty"`
	Action    string `json:"action,omitempty"`
}

// NatOutgoingPolicyRule selects traffic for NAT.
type NatOutgoingPolicyRule struct {
	Match  NatOutGoingPolicyMatch `json:"match"`
	Action string                 `json:"action"`
}

// NatOutGoingPolicyMatch is the match of a NatOutgoingPolicyRule.
type NatOutGoingPolicyMatch struct {
	SrcIPs string `json:"srcIPs,omitempty"`
	DstIPs string `json:"dstIPs,omitempty"`
}

// SubnetStatus holds the status fields the webhook reads.
type SubnetStatus struct {
	// V4UsingIPs counts the IPv4 addresses in use; non-zero means the subnet
	// is in use.
	V4UsingIPs BigInt `json:"v4usingIPs"`
}

// BigInt is an arbitrarily large integer written as a bare JSON number, as
// kube-ovn writes its IP counters.
type BigInt struct {
	big.Int
}

// UnmarshalJSON accepts a JSON number in decimal notation, or null.
func (b *BigInt) UnmarshalJSON(p []byte) error {
	if string(p) == "null" {
		return nil
	}
	var z big.Int
	if _, ok := z.SetString(string(p), 10); !ok {
		return fmt.Errorf("invalid big integer: %q", p)
	}
	b.Int = z
	return nil
}

// IsZero reports whether b is 0.
func (b *BigInt) IsZero() bool { return b.Sign() == 0 }
