package admission

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"

	cnitypes "github.com/lowmem/harvester-network-webhook/apis/cni/types"
)

// NetConf is the bridge CNI configuration in a NAD's spec.config, with the
// fields upstream decodes. Its type name shows in decode errors.
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

// decodeNetConf parses spec.config; an empty config is a zero NetConf, as in
// the upstream validators.
func decodeNetConf(config string) (*NetConf, error) {
	conf := &NetConf{}
	if config == "" {
		return conf, nil
	}
	if err := json.Unmarshal([]byte(config), conf); err != nil {
		return nil, err
	}
	return conf, nil
}

// decodeNetConfStrict parses spec.config and, like the upstream mutator,
// treats an empty config as an error.
func decodeNetConfStrict(config string) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal([]byte(config), conf); err != nil {
		return nil, err
	}
	return conf, nil
}

// clusterNetworkOfBridge strips the bridge suffix. Upstream v0.5.x slices
// without checking and crashes on names shorter than the suffix; this denies
// with upstream's later wording instead.
func clusterNetworkOfBridge(bridge string) (string, error) {
	if len(bridge) < len(bridgeSuffix) {
		return "", fmt.Errorf("the length of bridge name %v is less than %v", bridge, len(bridgeSuffix))
	}
	return bridge[:len(bridge)-len(bridgeSuffix)], nil
}

// Layer3NetworkConf is the network.harvesterhci.io/route annotation. The
// field order and omitempty tags decide the bytes of re-serialised annotations.
type Layer3NetworkConf struct {
	Mode         string `json:"mode,omitempty"`
	ServerIPAddr string `json:"serverIPAddr,omitempty"`
	CIDR         string `json:"cidr,omitempty"`
	Gateway      string `json:"gateway,omitempty"`
	Connectivity string `json:"connectivity,omitempty"`
	Outdated     bool   `json:"outdated,omitempty"`
}

// legacyLayer3NetworkConf is the route annotation as v0.5.x declared it: the
// same fields in another order, which shows in re-serialised annotations.
type legacyLayer3NetworkConf struct {
	Mode         string `json:"mode,omitempty"`
	CIDR         string `json:"cidr,omitempty"`
	Gateway      string `json:"gateway,omitempty"`
	ServerIPAddr string `json:"serverIPAddr,omitempty"`
	Connectivity string `json:"connectivity,omitempty"`
	Outdated     bool   `json:"outdated,omitempty"`
}

const (
	routeModeAuto   = "auto"
	routeModeManual = "manual"
)

// validateRoute checks the route annotation (spec §2.6, all versions).
func validateRoute(annotation string) error {
	if annotation == "" {
		return nil
	}
	var conf Layer3NetworkConf
	if err := json.Unmarshal([]byte(annotation), &conf); err != nil {
		return fmt.Errorf("unmarshal %s faield, error: %w", annotation, err)
	}
	switch conf.Mode {
	case "", routeModeAuto:
		return nil
	case routeModeManual:
	default:
		return fmt.Errorf("unknown mode %s", conf.Mode)
	}
	if _, ipNet, err := net.ParseCIDR(conf.CIDR); err != nil || isZeroMask(ipNet.Mask) {
		return fmt.Errorf("the CIDR %s is invalid", conf.CIDR)
	}
	if net.ParseIP(conf.Gateway) == nil {
		return fmt.Errorf("the gateway %s is invalid", conf.Gateway)
	}
	return nil
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

// hasBridgeSuffix reports whether a bridge name is a valid "<cn>-br" name.
func hasBridgeSuffix(bridge string) bool {
	return len(bridge) > len(bridgeSuffix) && strings.HasSuffix(bridge, bridgeSuffix)
}
