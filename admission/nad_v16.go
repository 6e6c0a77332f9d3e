package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/tidwall/sjson"
	"k8s.io/apimachinery/pkg/labels"

	utilsv17 "github.com/lowmem/harvester-network-webhook/admission/internal/utilsv17"
	cniv1 "github.com/lowmem/harvester-network-webhook/apis/cni/v1"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// The v1.6 and later (network-controller-harvester) NAD rules, spec §3.2
// and §3.5; nad.go has the v0.5.x ones and the routes.
//
// Gates (spec §1.2, the recorded corpora and upstream v1.6.1): v1.6 runs
// v0.5.x's update mutator (only on a config change, last-* labels) and
// v0.5.x's route, VLAN and bridge checks, route first; v1.7 validates the
// bridge name in the mutator, recomputes labels on every update (trunk type,
// no last-*), validates trunks and checks the route last; v1.8 puts overlay
// NADs on the nodes' cluster network instead of mgmt only, checks underlay
// HostNetworkConfigs on delete and refuses kube-ovn NADs without kube-ovn on
// create; v1.9 adds the exclusive storage-network VLAN and counts RWX NADs
// as system NADs.

// mutateNADCreateV16 sets the config's MTU to the cluster network's.
func mutateNADCreateV16(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition) ([]PatchOp, error) {
	conf, err := decodeMutatorNADConfig(r.Profile, nad.Namespace, nad.Name, nad.Spec.Config)
	if err != nil || isKubeOVN(conf) {
		return nil, err
	}
	cnName, err := mutatorClusterNetwork(r.Profile, conf.BrName)
	if err != nil {
		return nil, err
	}
	cn, err := r.clusterNetwork(ctx, cnName)
	if err != nil {
		return nil, err
	}
	target, err := targetMTU(ctx, r, cn, cnName)
	if err != nil {
		return nil, err
	}
	if equalMTUs(target, conf.MTU) {
		return nil, nil
	}
	config, err := sjson.Set(nad.Spec.Config, "mtu", target)
	if err != nil {
		return nil, fmt.Errorf("set mtu failed, error: %w", err)
	}
	return []PatchOp{replaceConfig(config)}, nil
}

// targetMTU is the MTU of a cluster network: its uplink-mtu annotation when
// present, else that of the first VlanConfig labelled vcLabel, else 1500.
func targetMTU(ctx context.Context, r *Request, cn *informers.ClusterNetwork, vcLabel string) (int, error) {
	target := defaultMTU
	if s, ok := cn.Annotations[annotationUplinkMTU]; ok {
		mtu, err := parseMTU(r.Profile, s)
		if err != nil {
			return 0, fmt.Errorf("nad's host cluster network %v has invalid MTU annotation %v/%v %w", cn.Name, annotationUplinkMTU, quote(s), err)
		}
		if mtu != 0 {
			target = mtu
		}
		return target, nil
	}
	vc, err := r.Store.FirstVlanConfig(ctx, vcLabel)
	if err != nil {
		return 0, err
	}
	if vc != nil {
		if mtu := vlanConfigMTU(&vc.Spec); isValidMTU(mtu) && mtu != 0 {
			target = mtu
		}
	}
	return target, nil
}

func mutateNADUpdateV16(ctx context.Context, r *Request, old, nad *cniv1.NetworkAttachmentDefinition) ([]PatchOp, error) {
	if nad.DeletionTimestamp != nil {
		return nil, nil
	}
	oldConf, err := decodeMutatorNADConfig(r.Profile, old.Namespace, old.Name, old.Spec.Config)
	if err != nil {
		return nil, err
	}
	newConf, err := decodeMutatorNADConfig(r.Profile, nad.Namespace, nad.Name, nad.Spec.Config)
	if err != nil {
		return nil, err
	}
	if !r.Profile.atLeast(V1_7) {
		return networkPatchesV16(ctx, r, nad, oldConf, newConf)
	}
	labels, err := networkLabels(ctx, r, nad.Labels, newConf)
	if err != nil {
		return nil, err
	}
	ops := []PatchOp{replaceLabels(labels)}
	if isKubeOVN(newConf) || nad.Annotations == nil {
		return ops, nil
	}
	annotations, changed, err := routeAnnotations(r.Profile, old, nad, oldConf, newConf)
	if err != nil || !changed {
		return ops, err
	}
	return append(ops, replaceAnnotations(annotations)), nil
}

// networkPatchesV16 is the v1.6 update mutator: v0.5.x's (only on a config
// change, last-* labels, the route outdated on a bridge or VLAN change, for
// kube-ovn NADs too), with the overlay labels for kube-ovn.
func networkPatchesV16(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition, oldConf, newConf *nadConf) ([]PatchOp, error) {
	if reflect.DeepEqual(oldConf, newConf) {
		return nil, nil
	}
	var labels map[string]string
	var err error
	if isKubeOVN(newConf) {
		labels, err = overlayLabels(r, nad.Labels)
	} else {
		labels, err = legacyNetworkLabels(ctx, r, nad.Labels, legacyNetConf(oldConf), legacyNetConf(newConf))
	}
	if err != nil {
		return nil, err
	}
	changed := oldConf.BrName != newConf.BrName || oldConf.Vlan != newConf.Vlan
	return withOutdatedRoute([]PatchOp{replaceLabels(labels)}, nad.Annotations, changed, newConf.Vlan)
}

// legacyNetConf is the part of a config the v0.5.x label rules read.
func legacyNetConf(conf *nadConf) *NetConf {
	return &NetConf{NetConf: conf.NetConf, BrName: conf.BrName, MTU: conf.MTU, Vlan: conf.Vlan}
}

// overlayLabels labels a kube-ovn NAD: overlay type, ready, and its cluster
// network. v1.8 takes that from the nodes' tunnel interface (mgmt when none
// has one); before, the label stays as it is and defaults to mgmt. v1.7 on
// drop the vlan-id label.
func overlayLabels(r *Request, current map[string]string) (map[string]string, error) {
	labels := copyMap(current)
	labels[labelType] = typeOverlay
	labels[labelReady] = "true"
	switch {
	case r.Profile.atLeast(V1_8):
		cn, err := overlayClusterNetwork(r)
		if err != nil {
			return nil, fmt.Errorf("failed to get cluster network from node annotation, error: %w", err)
		}
		labels[labelClusterNetwork] = cn
	case labels[labelClusterNetwork] == "":
		labels[labelClusterNetwork] = mgmtNetwork
	}
	if r.Profile.atLeast(V1_7) {
		delete(labels, labelVlanID)
	}
	return labels, nil
}

// overlayClusterNetwork reads the first active node with a tunnel
// interface annotation "<cn>-br…"; mgmt when no node has one.
func overlayClusterNetwork(r *Request) (string, error) {
	for _, n := range r.Store.Nodes(labels.Everything()) {
		v := n.Annotations[annotationTunnelInterface]
		if n.Deleting || v == "" {
			continue
		}
		i := strings.Index(v, bridgeSuffix)
		if i < 0 {
			return "", fmt.Errorf("failed to get bridge name from node %s annotation, error: invalid interface format: %s", n.Name, quote(v))
		}
		return v[:i], nil
	}
	return mgmtNetwork, nil
}

// networkLabels is the v1.7+ label set, recomputed on every update.
func networkLabels(ctx context.Context, r *Request, current map[string]string, conf *nadConf) (map[string]string, error) {
	if isKubeOVN(conf) {
		return overlayLabels(r, current)
	}
	labels := copyMap(current)
	delete(labels, labelVlanID)
	if !isBridgeType(conf) {
		return nil, fmt.Errorf("cannot determin the network type from netconf type %v", quote(conf.Type))
	}
	cnName, err := clusterNetworkFromBridge(conf.BrName)
	if err != nil {
		return nil, err
	}
	labels[labelClusterNetwork] = cnName
	switch {
	case conf.Vlan != 0:
		labels[labelType] = typeL2Vlan
		labels[labelVlanID] = strconv.Itoa(conf.Vlan)
	case len(conf.VlanTrunk) > 0:
		labels[labelType] = typeL2VlanTrunk
	default:
		labels[labelType] = typeUntagged
	}
	cn, err := r.clusterNetwork(ctx, cnName)
	if err != nil {
		return nil, err
	}
	labels[labelReady] = strconv.FormatBool(cn.Ready)
	return labels, nil
}

// routeAnnotations is the v1.7+ route handling: a VLAN change marks an auto
// route outdated (or drops the route for VLAN 0); a mode change with the
// same VLAN sets outdated to whether the new mode is auto.
func routeAnnotations(p Profile, old, nad *cniv1.NetworkAttachmentDefinition, oldConf, newConf *nadConf) (map[string]string, bool, error) {
	annotations := copyMap(nad.Annotations)
	raw := annotations[annotationRoute]
	if oldConf.Vlan != newConf.Vlan {
		if raw == "" {
			return annotations, true, nil
		}
		if newConf.Vlan == 0 {
			delete(annotations, annotationRoute)
			return annotations, true, nil
		}
		var conf routeV19
		if err := json.Unmarshal([]byte(raw), &conf); err != nil {
			return nil, false, fmt.Errorf("unmarshal %s failed, error: %w", quote(raw), quoteError(err))
		}
		conf.Outdated = conf.Mode == utilsv17.Mode(routeModeAuto)
		b, err := json.Marshal(inReleaseOrder(p, conf))
		if err != nil {
			return nil, false, err
		}
		annotations[annotationRoute] = string(b)
		return annotations, true, nil
	}
	oldRaw := old.Annotations[annotationRoute]
	if raw == "" || oldRaw == "" {
		return nil, false, nil
	}
	var newRoute, oldRoute routeV19
	if err := json.Unmarshal([]byte(raw), &newRoute); err != nil {
		return nil, false, fmt.Errorf("unmarshal new nad route %s failed, error: %w", quote(fmt.Sprint(inReleaseOrder(p, newRoute))), quoteError(err))
	}
	if err := json.Unmarshal([]byte(oldRaw), &oldRoute); err != nil {
		return nil, false, fmt.Errorf("unmarshal old nad route %s failed, error: %w", quote(fmt.Sprint(inReleaseOrder(p, oldRoute))), quoteError(err))
	}
	if newRoute.Mode == oldRoute.Mode {
		return nil, false, nil
	}
	newRoute.Outdated = newRoute.Mode == utilsv17.Mode(routeModeAuto)
	b, err := json.Marshal(inReleaseOrder(p, newRoute))
	if err != nil {
		return nil, false, err
	}
	annotations[annotationRoute] = string(b)
	return annotations, true, nil
}

func validateNADCreateV16(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition) error {
	if err := checkRouteFirst(r.Profile, nad); err != nil {
		return err
	}
	conf, err := decodeNADConfig(r.Profile, nad.Namespace, nad.Name, nad.Spec.Config)
	if err != nil {
		return err
	}
	if err := checkExclusiveStorageVlan(ctx, r, nad, conf); err != nil {
		return err
	}
	if isKubeOVN(conf) && r.Profile.atLeast(V1_8) && !r.Store.KubeOVNEnabled() {
		return errors.New("kubeovn is not yet enabled")
	}
	if err := checkNADConfigV16(ctx, r, nad, conf); err != nil {
		return err
	}
	return validateRoute(nad.Annotations[annotationRoute])
}

// checkRouteFirst checks the route annotation before anything else, as v1.6
// does; v1.7 moved that check after the config checks. Checking a valid
// annotation twice changes nothing.
func checkRouteFirst(p Profile, nad *cniv1.NetworkAttachmentDefinition) error {
	if p.atLeast(V1_7) {
		return nil
	}
	return validateRoute(nad.Annotations[annotationRoute])
}

// exclusiveVlan selects the storage network NADs with an exclusive VLAN;
// every NAD create asks, and a selector is immutable.
var exclusiveVlan = labels.SelectorFromValidatedSet(labels.Set{labelExclusiveVlan: "true"})

// checkExclusiveStorageVlan (v1.9) refuses a NAD whose VLAN, or trunk, holds
// the VLAN of the first storage network with an exclusive VLAN.
func checkExclusiveStorageVlan(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition, conf *nadConf) error {
	if !r.Profile.atLeast(V1_9) || isKubeOVN(conf) || isSystemNAD(r.Profile, nad.Namespace, nad.Name, nad.Annotations) {
		return nil
	}
	sns := r.Store.NADs("", exclusiveVlan)
	if len(sns) == 0 {
		return nil
	}
	sn := sns[0]
	raw, err := r.Store.NADConfig(ctx, sn.Namespace, sn.Name)
	if err != nil {
		return fmt.Errorf("failed to decode storage network nad %s/%s config, err %w", sn.Namespace, sn.Name, err)
	}
	snConf, err := decodeNADConfig(r.Profile, sn.Namespace, sn.Name, raw)
	if err != nil {
		return fmt.Errorf("failed to decode storage network nad %s/%s config, err %w", sn.Namespace, sn.Name, err)
	}
	snVID, myVID := accessVlan(snConf), accessVlan(conf)
	overlap := snVID == myVID
	for _, item := range conf.VlanTrunk {
		overlap = overlap || trunkContains(item, snVID)
	}
	if overlap {
		return fmt.Errorf("vlan %d is exclusively reserved for storage network", snVID)
	}
	return nil
}

// accessVlan is the access VLAN of a config, 0 for a trunk.
func accessVlan(conf *nadConf) int {
	if len(conf.VlanTrunk) > 0 {
		return 0
	}
	return conf.Vlan
}

// checkNADConfigV16 checks a kube-ovn NAD's cluster network and provider,
// or a bridge's VLAN, trunk, bridge name, cluster network label, cluster
// network and MTU.
func checkNADConfigV16(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition, conf *nadConf) error {
	if isKubeOVN(conf) {
		// Up to v1.7 overlay NADs belong to mgmt; v1.8 puts them on the
		// cluster network of the nodes' tunnel interface.
		if l := nad.Labels[labelClusterNetwork]; !r.Profile.atLeast(V1_8) && l != "" && l != mgmtNetwork {
			return errors.New("nad with kubeovn type can only be part of mgmt cluster")
		}
		return checkProvider(conf.Provider, nad.Name, nad.Namespace)
	}
	if conf.Vlan < 0 || conf.Vlan > maxVlanID {
		// v1.7 reworded it.
		if !r.Profile.atLeast(V1_7) {
			return errors.New("VLAN ID must >=0 and <=4094")
		}
		return fmt.Errorf("vlan %v is out of range [0 .. %d]", conf.Vlan, maxVlanID)
	}
	// A v1.6 config has no trunk to check (its NetConf has no vlanTrunk).
	if conf.Vlan != 0 && len(conf.VlanTrunk) > 0 {
		return errors.New("vlan can only be 0 when vlanTrunk is set")
	}
	for _, item := range conf.VlanTrunk {
		if err := checkTrunkItem(item); err != nil {
			return err
		}
	}
	cnName, err := validatorClusterNetwork(r.Profile, conf.BrName)
	if err != nil {
		return err
	}
	label := nad.Labels[labelClusterNetwork]
	if label != "" && label != cnName {
		return fmt.Errorf("the nad label %s does not match bridge name %s", quote(label), quote(cnName))
	}
	cn, err := r.clusterNetwork(ctx, cnName)
	if err != nil {
		return fmt.Errorf("nad refers to a none-existing cluster network %s or error %w", quote(cnName), err)
	}
	// Quirk: the VlanConfigs are selected by the NAD's label, not by cnName.
	target, err := targetMTU(ctx, r, cn, label)
	if err != nil {
		return err
	}
	if !equalMTUs(target, conf.MTU) {
		return fmt.Errorf("nad MTU %v does not match cluster network MTU %v", conf.MTU, target)
	}
	return nil
}

func validateNADUpdateV16(ctx context.Context, r *Request, old, nad *cniv1.NetworkAttachmentDefinition) error {
	if nad.DeletionTimestamp != nil {
		return nil
	}
	if err := checkRouteFirst(r.Profile, nad); err != nil {
		return err
	}
	newConf, err := decodeNADConfig(r.Profile, nad.Namespace, nad.Name, nad.Spec.Config)
	if err != nil {
		return err
	}
	oldConf, err := decodeNADConfig(r.Profile, old.Namespace, old.Name, old.Spec.Config)
	if err != nil {
		return err
	}
	if err := validateRoute(nad.Annotations[annotationRoute]); err != nil {
		return err
	}
	if reflect.DeepEqual(oldConf, newConf) {
		return nil
	}
	if err := checkExclusiveStorageVlan(ctx, r, nad, newConf); err != nil {
		return err
	}
	if oldConf.Type != newConf.Type {
		return fmt.Errorf("nad cannot be updated from network type %s to network type %s", quote(oldConf.Type), quote(newConf.Type))
	}
	if oldConf.BrName != newConf.BrName {
		return fmt.Errorf("nad bridge name can't be changed from %v to %v", quote(oldConf.BrName), quote(newConf.BrName))
	}
	if err := checkNADConfigV16(ctx, r, nad, newConf); err != nil {
		return err
	}
	if err := checkNADNotInUse(r, nad.Namespace, nad.Name); err != nil {
		return err
	}
	if isSystemNAD(r.Profile, nad.Namespace, nad.Name, nad.Annotations) {
		// v1.9 reworded it when RWX network NADs became system NADs.
		if r.Profile.atLeast(V1_9) {
			return errors.New("system network nad's params can't be changed")
		}
		return errors.New("it is used by storagenetwork")
	}
	return nil
}

// validateNADDeleteV16 returns its errors prefixed itself: some upstream
// errors on delete carry the update prefix, and the kube-ovn ones none.
func validateNADDeleteV16(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition) error {
	conf, err := decodeNADConfig(r.Profile, nad.Namespace, nad.Name, nad.Spec.Config)
	if err != nil {
		return nadError(r, opUpdate, nad.Namespace, nad.Name, err)
	}
	if isKubeOVN(conf) {
		return checkSubnetsUsingNAD(ctx, r, nad)
	}
	if err := checkNADNotInUse(r, nad.Namespace, nad.Name); err != nil {
		return nadError(r, opDelete, nad.Namespace, nad.Name, err)
	}
	if vms := r.Store.VMsUsingNAD(nad.Namespace, nad.Name); len(vms) > 0 {
		return nadError(r, opDelete, nad.Namespace, nad.Name, vmsInUseError(vms))
	}
	if r.Profile.atLeast(V1_8) {
		if err := checkUnderlayUse(ctx, r, nad, conf); err != nil {
			return nadError(r, opDelete, nad.Namespace, nad.Name, err)
		}
	}
	return nil
}

// checkSubnetsUsingNAD is the kube-ovn NAD delete check. Without kube-ovn,
// v1.6 and v1.7 refuse the delete and v1.8 on allow it.
func checkSubnetsUsingNAD(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition) error {
	if !r.Store.KubeOVNEnabled() {
		switch {
		case r.Profile.atLeast(V1_8):
			return nil
		case r.Profile.atLeast(V1_7):
			return errors.New("operation is not permitted as kubeovn is not yet enabled")
		default:
			return errors.New("operation not permitted as kubeovn is not yet enabled")
		}
	}
	subnets, err := r.Store.Subnets(ctx)
	if err != nil {
		return fmt.Errorf("failed to retrieve subnets err=%v", err) //nolint:errorlint // upstream text, printed with %v
	}
	provider := nad.Name + "." + nad.Namespace + ".ovn"
	for _, s := range subnets {
		if s.Provider == provider {
			return fmt.Errorf("subnet %s is still using the nad %s %s", s.Name, nad.Name, nad.Namespace)
		}
	}
	return nil
}

func vmsInUseError(vms []informers.VMRef) error {
	return errors.New(vmList("it's still used by VM(s) ", vms, vmName, " which must remove the related networks and interfaces"))
}

// checkUnderlayUse (v1.8+) refuses deleting the access-mode NAD whose VLAN
// an underlay HostNetworkConfig of its cluster network uses while VMs use
// overlay NADs.
func checkUnderlayUse(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition, conf *nadConf) error {
	vid := accessVlan(conf)
	if vid == 0 {
		return nil
	}
	cn := nad.Labels[labelClusterNetwork]
	hncs, err := r.Store.HostNetworkConfigs(ctx)
	if err != nil {
		return err
	}
	for _, hnc := range hncs {
		if hnc.Deleting || !hnc.Spec.Underlay || hnc.Spec.ClusterNetwork != cn || int(hnc.Spec.VlanID) != vid {
			continue
		}
		for _, other := range r.Store.NADs("", labels.Everything()) {
			if other.Labels[labelType] != typeOverlay {
				continue
			}
			if vms := r.Store.VMsUsingNAD(other.Namespace, other.Name); len(vms) > 0 {
				return fmt.Errorf("hostnetworkconfig %s is using nad %s vid %d as underlay on cluster network %s, %w",
					hnc.Name, nad.Name, vid, cn, vmsInUseError(vms))
			}
		}
	}
	return nil
}
