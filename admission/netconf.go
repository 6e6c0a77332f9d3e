package admission

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/lowmem/harvester-network-webhook/admission/internal/utils"
	utilsv16 "github.com/lowmem/harvester-network-webhook/admission/internal/utilsv16"
	utilsv17 "github.com/lowmem/harvester-network-webhook/admission/internal/utilsv17"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// VlanConfigSpec is the spec of a VlanConfig.
type VlanConfigSpec = informers.VlanConfigSpec

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
		return nil, quoteError(err)
	}
	return conf, nil
}

// decodeNetConfStrict parses spec.config and, like the upstream mutator,
// treats an empty config as an error ("null" is a zero NetConf here).
func decodeNetConfStrict(config string) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal([]byte(config), conf); err != nil {
		return nil, quoteError(err)
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
// v0.5.x to v1.8 declare it (field order mode, cidr, gateway, serverIPAddr,
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
		return fmt.Errorf("unmarshal %s faield, error: %w", quote(annotation), quoteError(err))
	}
	switch conf.Mode {
	case "", routeModeAuto:
		return nil
	case routeModeManual:
	default:
		return fmt.Errorf("unknown mode %s", quote(string(conf.Mode)))
	}
	if _, ipNet, err := net.ParseCIDR(conf.CIDR); err != nil || isZeroMask(ipNet.Mask) {
		return fmt.Errorf("the CIDR %s is invalid", quote(conf.CIDR))
	}
	if net.ParseIP(conf.Gateway) == nil {
		return fmt.Errorf("the gateway %s is invalid", quote(conf.Gateway))
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

// ---- v1.6+ (network-controller-harvester) helpers ----

// nadConf is the NAD config as the v1.6+ rules use it.
type nadConf = utilsv17.NetConf

// routeV19 is the route annotation as v1.9 declares it; its field order
// differs from v0.5.x's (mode, serverIPAddr, cidr, gateway, …).
type routeV19 = utilsv17.Layer3NetworkConf

// inReleaseOrder is a route as the release declares it: up to v1.8 in
// v0.5.x's field order (mode, cidr, gateway, serverIPAddr, …), which shows
// when the route is printed or re-serialised.
func inReleaseOrder(p Profile, route routeV19) any {
	if p.atLeast(V1_9) {
		return route
	}
	return layer3NetworkConf{Mode: utils.Mode(route.Mode), CIDR: route.CIDR, Gateway: route.Gateway,
		ServerIPAddr: route.ServerIPAddr, Connectivity: utils.Connectivity(route.Connectivity), Outdated: route.Outdated}
}

// decodeNADConfig parses spec.config as the v1.6+ validators (and the v1.7+
// NAD mutator) do: an empty config is a zero NetConf. v1.7 reworded the
// error, which names the NAD since; v1.6 says "unmarshal config <config>
// failed: <err>".
func decodeNADConfig(p Profile, namespace, name, config string) (*nadConf, error) {
	if config == "" {
		return &nadConf{}, nil
	}
	conf, err := unmarshalNADConfig(p, config)
	switch {
	case err == nil:
		return conf, nil
	case p.atLeast(V1_7):
		return nil, fmt.Errorf("failed to unmarshal nad %v/%v config %s %w", quote(namespace), quote(name), quote(config), err)
	}
	return nil, fmt.Errorf("unmarshal config %s failed: %w", quote(config), err)
}

// decodeMutatorNADConfig parses spec.config for the NAD mutator, which in
// v1.6 decodes as v0.5.x's does: an empty config is an error, and errors
// are json's own. v1.7 on, as the validator.
func decodeMutatorNADConfig(p Profile, namespace, name, config string) (*nadConf, error) {
	if p.atLeast(V1_7) {
		return decodeNADConfig(p, namespace, name, config)
	}
	return unmarshalNADConfig(p, config)
}

// unmarshalNADConfig decodes a config into the release's NetConf; v1.6's
// has no vlanTrunk, so there a trunk neither fails to decode nor counts as
// a change.
func unmarshalNADConfig(p Profile, config string) (*nadConf, error) {
	if p.atLeast(V1_7) {
		conf := &nadConf{}
		if err := json.Unmarshal([]byte(config), conf); err != nil {
			return nil, quoteError(err)
		}
		return conf, nil
	}
	var c utilsv16.NetConf
	if err := json.Unmarshal([]byte(config), &c); err != nil {
		return nil, quoteError(err)
	}
	return &nadConf{NetConf: c.NetConf, BrName: c.BrName, IsGW: c.IsGW, IsDefaultGW: c.IsDefaultGW,
		ForceAddress: c.ForceAddress, IPMasq: c.IPMasq, MTU: c.MTU, HairpinMode: c.HairpinMode,
		PromiscMode: c.PromiscMode, Vlan: c.Vlan, Provider: c.Provider}, nil
}

func isKubeOVN(conf *nadConf) bool { return conf.Type == cniKubeOVN }

func isBridgeType(conf *nadConf) bool { return conf.Type == "" || conf.Type == cniBridge }

// clusterNetworkFromBridge is the v1.7+ derivation of the cluster network
// from a bridge name, which validates the name.
func clusterNetworkFromBridge(bridge string) (string, error) {
	switch {
	case len(bridge) <= len(bridgeSuffix):
		return "", fmt.Errorf("the length of bridge name %v is less than %v", bridge, len(bridgeSuffix))
	case len(bridge) > maxDeviceName:
		return "", fmt.Errorf("the length of the bridge name %v can't be more than %v", quote(bridge), maxDeviceName)
	case !strings.HasSuffix(bridge, bridgeSuffix):
		return "", fmt.Errorf("the bridge name %v does not include suffix %v", quote(bridge), bridgeSuffix)
	}
	return bridge[:len(bridge)-len(bridgeSuffix)], nil
}

// mutatorClusterNetwork is the NAD mutator's derivation: v1.6 slices the
// bridge name unchecked (a name shorter than the suffix crashes upstream;
// this denies), v1.7 on validates it.
func mutatorClusterNetwork(p Profile, bridge string) (string, error) {
	if p.atLeast(V1_7) {
		return clusterNetworkFromBridge(bridge)
	}
	return clusterNetworkOfBridge(bridge)
}

// validatorClusterNetwork is the NAD validator's derivation: v1.6 checks
// the bridge name as v0.5.x does (the length, then the suffix, in its own
// words), v1.7 on as clusterNetworkFromBridge.
func validatorClusterNetwork(p Profile, bridge string) (string, error) {
	switch {
	case p.atLeast(V1_7):
		return clusterNetworkFromBridge(bridge)
	case len(bridge) > maxDeviceName:
		return "", fmt.Errorf("the length of the brName can't be more than %d", maxDeviceName)
	case !hasBridgeSuffix(bridge):
		return "", fmt.Errorf("the suffix of the brName should be %s", bridgeSuffix)
	}
	return bridge[:len(bridge)-len(bridgeSuffix)], nil
}

func isValidMTU(mtu int) bool { return mtu == 0 || (mtu >= minMTU && mtu <= maxMTU) }

// equalMTUs treats 0 as the default 1500.
func equalMTUs(a, b int) bool {
	return a == b || (a == 0 && b == defaultMTU) || (a == defaultMTU && b == 0)
}

// parseMTU parses an uplink-mtu annotation value. v1.8 reworded both
// errors ("annotation <v> value is not …" before).
func parseMTU(p Profile, s string) (int, error) {
	mtu, err := strconv.Atoi(s)
	err = quoteError(err) // strconv quotes s whole
	s = quote(s)
	switch {
	case err != nil && p.atLeast(V1_8):
		return 0, fmt.Errorf("value %v is not an integer: %w", s, err)
	case err != nil:
		return 0, fmt.Errorf("annotation %v value is not an integer, error %w", s, err)
	case isValidMTU(mtu):
		return mtu, nil
	case p.atLeast(V1_8):
		return 0, fmt.Errorf("value %v is not in range [0, %d..%d]", s, minMTU, maxMTU)
	}
	return 0, fmt.Errorf("annotation %v value is not in range [0, %d..%d]", s, minMTU, maxMTU)
}

// clusterNetworkMTU parses the uplink-mtu annotation; absent means 1500.
func clusterNetworkMTU(p Profile, annotations map[string]string) (int, error) {
	s, ok := annotations[annotationUplinkMTU]
	if !ok {
		return defaultMTU, nil
	}
	return parseMTU(p, s)
}

func vlanConfigMTU(spec *VlanConfigSpec) int {
	if spec.Uplink.LinkAttributes == nil {
		return 0
	}
	return spec.Uplink.LinkAttributes.MTU
}

// isSystemNAD is spec §2.8: the storage network NAD, and from v1.9 the RWX
// network NAD, by annotation or name prefix, in harvester-system.
func isSystemNAD(p Profile, namespace, name string, annotations map[string]string) bool {
	if namespace != systemNS {
		return false
	}
	if annotations[annotationStorageNetwork] == "true" || strings.HasPrefix(name, storageNetworkPrefix) {
		return true
	}
	return p.atLeast(V1_9) && (annotations[annotationRWXNetwork] == "true" || strings.HasPrefix(name, rwxNetworkPrefix))
}

// checkProvider validates a kube-ovn provider "<name>.<namespace>.<…>".
func checkProvider(provider, name, namespace string) error {
	if provider == "" {
		return fmt.Errorf("provider is empty for cni type %s", cniKubeOVN)
	}
	parts := strings.Split(provider, ".")
	if len(parts) < 3 {
		return fmt.Errorf("invalid provider length %d for provider %s", len(parts), quote(provider))
	}
	if parts[0] != name || parts[1] != namespace {
		return fmt.Errorf("invalid provider name %s %s for nad %s %s", quote(parts[0]), quote(parts[1]), quote(name), quote(namespace))
	}
	return nil
}

// checkTrunkItem validates one vlanTrunk item (v1.7+).
func checkTrunkItem(item *utilsv17.VlanTrunk) error {
	if item == nil {
		return nil
	}
	switch {
	case item.MinID != nil && item.MaxID != nil:
		if *item.MinID < 1 || *item.MinID > maxVlanID {
			return fmt.Errorf("incorrect trunk minID parameter %v", *item.MinID)
		}
		if *item.MaxID < 1 || *item.MaxID > maxVlanID {
			return fmt.Errorf("incorrect trunk maxID parameter %v", *item.MaxID)
		}
		if *item.MaxID < *item.MinID {
			return fmt.Errorf("minID %v is greater than maxID %v in trunk parameter", *item.MinID, *item.MaxID)
		}
	case item.MinID != nil:
		return errors.New("minID and maxID should be configured simultaneously, maxID is missing")
	case item.MaxID != nil:
		return errors.New("minID and maxID should be configured simultaneously, minID is missing")
	}
	if item.ID != nil && (*item.ID < 1 || *item.ID > maxVlanID) {
		return fmt.Errorf("incorrect trunk id parameter %v", *item.ID)
	}
	if item.MinID == nil && item.MaxID == nil && item.ID == nil {
		return errors.New("all fields in this VlanTrunk are empty")
	}
	return nil
}

// trunkContains reports whether a trunk item covers vid.
func trunkContains(item *utilsv17.VlanTrunk, vid int) bool {
	if item == nil {
		return false
	}
	if item.MinID != nil && item.MaxID != nil && *item.MinID <= vid && vid <= *item.MaxID {
		return true
	}
	return item.ID != nil && *item.ID == vid
}
