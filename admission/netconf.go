package admission

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"github.com/lowmem/harvester-network-webhook/admission/internal/utils"
)

// NetConf is the bridge CNI configuration in a NAD's spec.config. It is
// declared in package utils, as upstream's is, because its name shows in
// decode errors ("Go value of type utils.NetConf").
type NetConf = utils.NetConf

// decodeNetConf parses spec.config as the upstream validator does: an empty
// config is a zero NetConf, and the config "null" is no NetConf at all (nil),
// which checkBridgeConf denies with "config is empty".
func decodeNetConf(config string) (*NetConf, error) {
	conf := &NetConf{}
	if config == "" {
		return conf, nil
	}
	if err := json.Unmarshal([]byte(config), &conf); err != nil {
		return nil, err
	}
	return conf, nil
}

// decodeNetConfStrict parses spec.config and, like the upstream mutator,
// treats an empty config as an error ("null" is a zero NetConf here).
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

// layer3NetworkConf is the network.harvesterhci.io/route annotation as
// v0.5.x declares it (field order mode, cidr, gateway, serverIPAddr,
// connectivity, outdated), which shows in re-serialised annotations, and with
// upstream's type names, which show in decode errors.
type layer3NetworkConf = utils.Layer3NetworkConf

const (
	routeModeAuto   utils.Mode = "auto"
	routeModeManual utils.Mode = "manual"
)

// validateRoute checks the route annotation (spec §2.6, all versions).
func validateRoute(annotation string) error {
	if annotation == "" {
		return nil
	}
	var conf layer3NetworkConf
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
