package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/apis/network/v1beta1"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// HostNetworkConfig rules (spec §3.7), v1.8 on.
//
// Reads: the ClusterNetwork, all HostNetworkConfigs, VlanStatuses and
// VlanConfigs by cluster-network label, all Nodes, overlay NADs and the VMs
// using them.
//
// Denials (prefixed "can't <op> hostnetworkConfig <name> because "):
//   - "the length of the clusterNetwork name <cn> is more than 12"
//   - "host network interface name <cn>-br.<vid> length <n> is more than 15"
//   - "it refers to a none-existing cluster network <cn> or error <err>"
//   - "hostnetworkconfig <other> already exists for cluster network <cn> vlanid <vid> with underlay enabled"
//   - "hostnetworkconfig <other> already exists for cluster network <cn> with vlanID <vid>"
//   - "static IP not found for node <node>"
//   - "static IPs are not in the same subnet: <err or <nil>>"
//   - "vlan status not present for cluster network <cn>"
//   - "vs <name> status is not Ready"
//   - "vlan config not present for cluster network <cn>"
//   - "vlan config annotations is absent for matched nodes" (v1.8)
//   - "vlanconfig does not span <node>"
//   - "node selector does not match all nodes" (with the update prefix, on create too)
//   - "cannot update clusterNetwork or vlanID field,instead delete the old hostnetworkconfig and create a new one"
//   - "it's still used by VM(s) <ns/name, …> which must remove the related networks and interfaces"
//   - "underlay is enabled, disable underlay first"

var hostNetworkConfigGVR = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "hostnetworkconfigs"}

const hostNetworkConfigKind = "HostNetworkConfig"

// hostNetworkIPModeStatic is the spec.mode whose addresses spec.ips gives.
const hostNetworkIPModeStatic = "static"

func hostNetworkConfigValidator() route {
	return validating(hostNetworkConfigGVR, hostNetworkConfigKind, admissionregistrationv1.ClusterScope,
		validateHostNetworkConfigCreate, validateHostNetworkConfigUpdate, validateHostNetworkConfigDelete)
}

// hostNetworkConfigError prefixes an HNC denial. The kind exists from v1.8
// on only, so the verb is always "can't".
func hostNetworkConfigError(op, name string, err error) error {
	return fmt.Errorf("can't %s hostnetworkConfig %s because %w", op, quote(name), err)
}

func validateHostNetworkConfigCreate(ctx context.Context, r *Request, hnc *v1beta1.HostNetworkConfig) error {
	if err := checkHostNetworkConfigCreate(ctx, r, hnc); err != nil {
		return hostNetworkConfigError(opCreate, hnc.Name, err)
	}
	return checkUnderlay(ctx, r, opCreate, hnc)
}

func checkHostNetworkConfigCreate(ctx context.Context, r *Request, hnc *v1beta1.HostNetworkConfig) error {
	cn := hnc.Spec.ClusterNetwork
	if len(cn) > maxClusterNetworkName {
		return fmt.Errorf("the length of the clusterNetwork name %v is more than %d", quote(cn), maxClusterNetworkName)
	}
	if dev := hostNetworkDevice(cn, hnc.Spec.VlanID); len(dev) > maxDeviceName {
		return fmt.Errorf("host network interface name %v length %d is more than %d", quote(dev), len(dev), maxDeviceName)
	}
	if _, err := r.clusterNetwork(ctx, cn); err != nil {
		return fmt.Errorf("it refers to a none-existing cluster network %s or error %w", quote(cn), err)
	}
	if err := checkHostNetworkConfigs(ctx, r, hnc, true); err != nil {
		return err
	}
	return checkVlanStatusesReady(ctx, r, cn)
}

// validateHostNetworkConfigUpdate checks a spec change. Unlike create, it
// checks neither the ClusterNetwork nor the VlanStatuses, and the VLAN
// uniqueness check is not applied.
func validateHostNetworkConfigUpdate(ctx context.Context, r *Request, old, hnc *v1beta1.HostNetworkConfig) error {
	if reflect.DeepEqual(old.Spec, hnc.Spec) {
		return nil
	}
	if err := checkHostNetworkConfigUpdate(ctx, r, old, hnc); err != nil {
		return hostNetworkConfigError(opUpdate, hnc.Name, err)
	}
	return checkUnderlay(ctx, r, opUpdate, hnc)
}

func checkHostNetworkConfigUpdate(ctx context.Context, r *Request, old, hnc *v1beta1.HostNetworkConfig) error {
	if old.Spec.ClusterNetwork != hnc.Spec.ClusterNetwork || old.Spec.VlanID != hnc.Spec.VlanID {
		return errors.New("cannot update clusterNetwork or vlanID field,instead delete the old hostnetworkconfig and create a new one")
	}
	if old.Spec.Underlay && !hnc.Spec.Underlay {
		if err := checkOverlayNADsUnused(r); err != nil {
			return err
		}
	}
	return checkHostNetworkConfigs(ctx, r, hnc, false)
}

func validateHostNetworkConfigDelete(_ context.Context, _ *Request, hnc *v1beta1.HostNetworkConfig) error {
	if hnc.Spec.Underlay {
		return hostNetworkConfigError(opDelete, hnc.Name, errors.New("underlay is enabled, disable underlay first"))
	}
	return nil
}

// checkUnderlay runs the checks of an underlay HNC: its cluster network's
// VlanConfigs span every node, and its node selector matches every node.
// Upstream reports the selector check with the update prefix on create too.
func checkUnderlay(ctx context.Context, r *Request, op string, hnc *v1beta1.HostNetworkConfig) error {
	if !hnc.Spec.Underlay {
		return nil
	}
	if err := checkVlanConfigsSpanNodes(ctx, r, hnc.Spec.ClusterNetwork); err != nil {
		return hostNetworkConfigError(op, hnc.Name, err)
	}
	if err := checkSelectorMatchesAllNodes(r, hnc.Spec.NodeSelector); err != nil {
		return hostNetworkConfigError(opUpdate, hnc.Name, err)
	}
	return nil
}

// hostNetworkDevice is the VLAN interface an HNC creates: "<cn>-br.<vid>".
func hostNetworkDevice(clusterNetwork string, vid uint16) string {
	return fmt.Sprintf("%s%s.%d", clusterNetwork, bridgeSuffix, vid)
}

// checkHostNetworkConfigs compares hnc with the HNCs that are not being
// deleted: there is at most one underlay, and (on create) one HNC per VLAN of
// a cluster network. As upstream, hnc itself is not skipped, so on update an
// underlay HNC conflicts with itself. Then static addresses are checked.
func checkHostNetworkConfigs(ctx context.Context, r *Request, hnc *v1beta1.HostNetworkConfig, create bool) error {
	hncs, err := r.Store.HostNetworkConfigs(ctx)
	if err != nil {
		return err
	}
	for _, other := range hncs {
		if other.Deleting {
			continue
		}
		if other.Spec.Underlay && hnc.Spec.Underlay {
			return fmt.Errorf("hostnetworkconfig %s already exists for cluster network %s vlanid %d with underlay enabled",
				other.Name, hnc.Spec.ClusterNetwork, other.Spec.VlanID)
		}
		if create && other.Spec.ClusterNetwork == hnc.Spec.ClusterNetwork && other.Spec.VlanID == hnc.Spec.VlanID {
			return fmt.Errorf("hostnetworkconfig %s already exists for cluster network %s with vlanID %d",
				other.Name, other.Spec.ClusterNetwork, other.Spec.VlanID)
		}
	}
	if hnc.Spec.Mode == hostNetworkIPModeStatic {
		return checkStaticIPs(r, &hnc.Spec)
	}
	return nil
}

// checkStaticIPs requires an address for every node the HNC applies to, all
// in one subnet. Without a selector that is every node, witness and deleting
// ones included; with one, the matching nodes that are not being deleted.
func checkStaticIPs(r *Request, spec *v1beta1.HostNetworkConfigSpec) error {
	nodes := r.Store.Nodes(labels.Everything())
	var selector labels.Selector
	if spec.NodeSelector != nil {
		var err error
		if selector, err = metav1.LabelSelectorAsSelector(spec.NodeSelector); err != nil {
			return err
		}
	}
	cidrs := make([]string, 0, len(spec.IPs))
	for _, n := range nodes {
		if selector != nil && !nodeMatches(n, selector) {
			continue
		}
		cidr, ok := spec.IPs[n.Name]
		if !ok {
			return fmt.Errorf("static IP not found for node %s", n.Name)
		}
		cidrs = append(cidrs, cidr)
	}
	if same, err := sameSubnet(cidrs); !same {
		return fmt.Errorf("static IPs are not in the same subnet: %v", err) //nolint:errorlint // upstream prints %v, "<nil>" included
	}
	return nil
}

// sameSubnet reports whether every CIDR has the network address and prefix
// length of the first one; a CIDR that does not parse gives false and the
// parse error.
func sameSubnet(cidrs []string) (bool, error) {
	if len(cidrs) == 0 {
		return true, nil
	}
	_, first, err := net.ParseCIDR(cidrs[0])
	if err != nil {
		return false, err
	}
	firstOnes, _ := first.Mask.Size()
	for _, c := range cidrs[1:] {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return false, err
		}
		if ones, _ := n.Mask.Size(); ones != firstOnes || !n.IP.Equal(first.IP) {
			return false, nil
		}
	}
	return true, nil
}

// nodeMatches is the HNC's node matching: a node being deleted never
// matches. Witness nodes get no special treatment.
func nodeMatches(n informers.NodeMeta, selector labels.Selector) bool {
	return !n.Deleting && selector.Matches(labels.Set(n.Labels))
}

// checkVlanStatusesReady requires the cluster network to have VlanStatuses,
// none of them explicitly not ready. mgmt is not checked.
func checkVlanStatusesReady(ctx context.Context, r *Request, clusterNetwork string) error {
	if clusterNetwork == mgmtNetwork {
		return nil
	}
	if _, err := r.clusterNetwork(ctx, clusterNetwork); err != nil {
		return fmt.Errorf("cluster network %s not found because %v", clusterNetwork, err) //nolint:errorlint // upstream text, printed with %v
	}
	statuses, err := r.Store.VlanStatuses(ctx, labelClusterNetwork, clusterNetwork)
	if err != nil {
		return err
	}
	if len(statuses) == 0 {
		return fmt.Errorf("vlan status not present for cluster network %s", clusterNetwork)
	}
	for _, vs := range statuses {
		if vs.Ready == "False" {
			return fmt.Errorf("vs %s status is not Ready", vs.Name)
		}
	}
	return nil
}

// checkVlanConfigsSpanNodes requires the VlanConfigs of the cluster network
// to cover, together, every node that is neither being deleted nor a witness.
// mgmt spans every node by definition.
func checkVlanConfigsSpanNodes(ctx context.Context, r *Request, clusterNetwork string) error {
	if clusterNetwork == mgmtNetwork {
		return nil
	}
	vcs, err := r.Store.VlanConfigs(ctx, clusterNetwork)
	if err != nil {
		return err
	}
	if len(vcs) == 0 {
		return fmt.Errorf("vlan config not present for cluster network %s", clusterNetwork)
	}
	spanned := make(map[string]bool)
	for _, vc := range vcs {
		nodes, err := spannedNodes(r.Profile.Version, vc)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			spanned[n] = true
		}
	}
	for _, n := range r.Store.Nodes(labels.Everything()) {
		if _, witness := n.Labels[labelWitnessNode]; n.Deleting || witness {
			continue
		}
		if !spanned[n.Name] {
			return fmt.Errorf("vlanconfig does not span %s", n.Name)
		}
	}
	return nil
}

// spannedNodes parses a VlanConfig's matched-nodes annotation for the span
// check. v1.9 skips a VlanConfig whose annotation is absent, "" or "[]" (it
// matches no node yet); v1.8 denies on an absent or empty one.
func spannedNodes(v Version, vc *informers.VlanConfig) ([]string, error) {
	raw := vc.Annotations[annotationMatchedNodes]
	if v <= V1_8 {
		if raw == "" {
			return nil, errors.New("vlan config annotations is absent for matched nodes")
		}
	} else if raw == "" || raw == "[]" {
		return nil, nil
	}
	var nodes []string
	if err := json.Unmarshal([]byte(raw), &nodes); err != nil {
		return nil, err
	}
	return nodes, nil
}

// checkSelectorMatchesAllNodes requires an underlay HNC to apply to every
// node: no selector, or one matching every node, none being deleted.
func checkSelectorMatchesAllNodes(r *Request, nodeSelector *metav1.LabelSelector) error {
	if nodeSelector == nil {
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(nodeSelector)
	if err != nil {
		return err
	}
	for _, n := range r.Store.Nodes(labels.Everything()) {
		if !nodeMatches(n, selector) {
			return errors.New("node selector does not match all nodes")
		}
	}
	return nil
}

// checkOverlayNADsUnused denies while a VirtualMachine (running or not) uses
// an overlay (kube-ovn) NAD of any namespace: they depend on the underlay.
func checkOverlayNADsUnused(r *Request) error {
	overlay := labels.SelectorFromValidatedSet(labels.Set{labelType: typeOverlay})
	for _, nad := range r.Store.NADs("", overlay) {
		vms := r.Store.VMsUsingNAD(nad.Namespace, nad.Name)
		if len(vms) == 0 {
			continue
		}
		return errors.New(vmList("it's still used by VM(s) ", vms, vmName, " which must remove the related networks and interfaces"))
	}
	return nil
}
