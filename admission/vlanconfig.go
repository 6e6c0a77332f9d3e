package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"sort"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/lowmem/harvester-network-webhook/apis/network/v1beta1"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// VlanConfig rules (spec §4.3 and §4.4).
//
// Reads: Nodes by label selector (mutator); VlanConfigs by cluster-network
// label (MTU), VlanStatuses by name and by vlanconfig label, NADs by
// cluster-network label and the VMIs using them (validator).
//
// Denials (v1.4/v1.5, prefixed "could not <op> vlanConfig <name> because "):
//   - "cluster network could not be mgmt"
//   - "the MTU is different from network config <other>"
//   - "it overlaps with other vlanconfigs matching node(s) [<nodes>]"
//   - "the length of the clusterNetwork value is more than 12"
//   - "it's blocked by VM(s) <ns/name, …> which must be stopped at first"
//   - "storage network nad <name> is still attached"

var vlanConfigGVR = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "vlanconfigs"}

const vlanConfigKind = "VlanConfig"

func vlanConfigMutator() route {
	return mutating(vlanConfigGVR, vlanConfigKind, admissionregistrationv1.ClusterScope, mutateVlanConfigCreate, mutateVlanConfigUpdate)
}

func vlanConfigValidator() route {
	return validating(vlanConfigGVR, vlanConfigKind, admissionregistrationv1.ClusterScope,
		validateVlanConfigCreate, validateVlanConfigUpdate, validateVlanConfigDelete)
}

func mutateVlanConfigCreate(_ context.Context, r *Request, vc *v1beta1.VlanConfig) ([]PatchOp, error) {
	if r.Profile.atLeast(V1_9) && vc.Spec.ClusterNetwork == mgmtNetwork {
		return nil, nil
	}
	return vlanConfigPatches(r, vc, true), nil
}

// mutateVlanConfigUpdate: v0.5.x and v1.6 skip spec-unchanged updates,
// v1.7 on always re-match nodes; v1.7 on skip objects being deleted (v1.6
// and v0.5.x do not), v1.9 skips mgmt.
func mutateVlanConfigUpdate(_ context.Context, r *Request, old, vc *v1beta1.VlanConfig) ([]PatchOp, error) {
	switch {
	case r.Profile.atLeast(V1_7) && vc.DeletionTimestamp != nil:
		return nil, nil
	case r.Profile.atLeast(V1_9) && vc.Spec.ClusterNetwork == mgmtNetwork:
		return nil, nil
	case !r.Profile.atLeast(V1_7) && reflect.DeepEqual(old.Spec, vc.Spec):
		return nil, nil
	}
	return vlanConfigPatches(r, vc, old.Spec.ClusterNetwork != vc.Spec.ClusterNetwork), nil
}

// vlanConfigPatches labels the VlanConfig with its cluster network and
// records the nodes its selector matches. When no node matches, the old
// matched-nodes annotation is left as it is, as upstream does. As upstream,
// an object without labels is always labelled, even with an empty cluster
// network name.
func vlanConfigPatches(r *Request, vc *v1beta1.VlanConfig, checkLabel bool) []PatchOp {
	var ops []PatchOp
	if checkLabel && (vc.Labels == nil || vc.Labels[labelClusterNetwork] != vc.Spec.ClusterNetwork) {
		l := copyMap(vc.Labels)
		l[labelClusterNetwork] = vc.Spec.ClusterNetwork
		ops = append(ops, replaceLabels(l))
	}
	nodes := r.Store.Nodes(nodeSelector(vc.Spec.NodeSelector))
	if len(nodes) == 0 {
		return ops
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	matched, _ := json.Marshal(names) // a []string always marshals
	a := copyMap(vc.Annotations)
	a[annotationMatchedNodes] = string(matched)
	return append(ops, replaceAnnotations(a))
}

// nodeSelector matches every key of the VlanConfig's nodeSelector by equality
// and never a witness node.
func nodeSelector(set map[string]string) labels.Selector {
	noWitness, _ := labels.NewRequirement(labelWitnessNode, selection.DoesNotExist, nil) // constant, valid key
	return labels.SelectorFromValidatedSet(set).Add(*noWitness)
}

func validateVlanConfigCreate(ctx context.Context, r *Request, vc *v1beta1.VlanConfig) error {
	check := checkVlanConfigCreate
	if !r.Profile.legacy() {
		check = checkVlanConfigCreateV16
	}
	if err := check(ctx, r, vc); err != nil {
		return vlanConfigError(r, opCreate, vc.Name, err)
	}
	return nil
}

func checkVlanConfigCreate(ctx context.Context, r *Request, vc *v1beta1.VlanConfig) error {
	if vc.Spec.ClusterNetwork == mgmtNetwork {
		return errors.New("cluster network could not be mgmt")
	}
	if err := checkSameMTU(ctx, r, vc); err != nil {
		return err
	}
	nodes, err := requiredMatchedNodes(vc)
	if err != nil {
		return err
	}
	if err := checkOverlap(ctx, r, vc, nodes); err != nil {
		return err
	}
	if len(vc.Spec.ClusterNetwork) > maxClusterNetworkName {
		return fmt.Errorf("the length of the clusterNetwork value is more than %d", maxClusterNetworkName)
	}
	return nil
}

// validateVlanConfigUpdate checks the new object, then the nodes the update
// takes away from the old one. As upstream, errors about the old object's
// nodes and VMIs name the old object (the name cannot change in practice).
func validateVlanConfigUpdate(ctx context.Context, r *Request, old, vc *v1beta1.VlanConfig) error {
	if !r.Profile.legacy() {
		return validateVlanConfigUpdateV16(ctx, r, old, vc)
	}
	newNodes, skip, err := checkVlanConfigUpdate(ctx, r, old, vc)
	if err != nil {
		return vlanConfigError(r, opUpdate, vc.Name, err)
	}
	if skip {
		return nil
	}
	if err := checkNodesTakenAway(r, old, vc, newNodes); err != nil {
		return vlanConfigError(r, opUpdate, old.Name, err)
	}
	return nil
}

// checkVlanConfigUpdate validates the new object. It reports skip when the
// spec is unchanged, which upstream allows without further checks.
func checkVlanConfigUpdate(ctx context.Context, r *Request, old, vc *v1beta1.VlanConfig) (newNodes []string, skip bool, err error) {
	if vc.Spec.ClusterNetwork == mgmtNetwork {
		return nil, false, errors.New("cluster network could not be mgmt")
	}
	if reflect.DeepEqual(old.Spec, vc.Spec) {
		return nil, true, nil
	}
	if err := checkSameMTU(ctx, r, vc); err != nil {
		return nil, false, err
	}
	newNodes, err = requiredMatchedNodes(vc)
	if err != nil {
		return nil, false, err
	}
	return newNodes, false, checkOverlap(ctx, r, vc, newNodes)
}

// checkNodesTakenAway denies when a VMI runs on a node the update takes away:
// every old node when the cluster network changes, else the old nodes the new
// selector no longer matches. With a changed cluster network and no old
// matched-nodes annotation the set is nil, which means every node, as in
// v0.5.x; with an unchanged one upstream crashes computing the difference,
// and this denies instead.
func checkNodesTakenAway(r *Request, old, vc *v1beta1.VlanConfig, newNodes []string) error {
	oldNodes, present, err := matchedNodes(old)
	if err != nil {
		return err
	}
	if old.Spec.ClusterNetwork == vc.Spec.ClusterNetwork && !present {
		return fmt.Errorf("the nodes it leaves are unknown: the old object has no %s annotation", annotationMatchedNodes)
	}
	affected := toSet(oldNodes)
	if old.Spec.ClusterNetwork == vc.Spec.ClusterNetwork {
		for _, n := range newNodes {
			delete(affected, n)
		}
	}
	return checkVMIsOnNodes(r, old, affected)
}

func validateVlanConfigDelete(_ context.Context, r *Request, vc *v1beta1.VlanConfig) error {
	check := checkVlanConfigDelete
	if !r.Profile.legacy() {
		check = validateVlanConfigDeleteV16
	}
	if err := check(r, vc); err != nil {
		return vlanConfigError(r, opDelete, vc.Name, err)
	}
	return nil
}

func checkVlanConfigDelete(r *Request, vc *v1beta1.VlanConfig) error {
	nodes, _, err := matchedNodes(vc)
	if err != nil {
		return err
	}
	if err := checkVMIsOnNodes(r, vc, toSet(nodes)); err != nil {
		return err
	}
	selector := labels.SelectorFromValidatedSet(labels.Set{labelClusterNetwork: vc.Spec.ClusterNetwork})
	for _, nad := range r.Store.NADs(systemNS, selector) {
		if !nad.Deleting && nad.Annotations[annotationStorageNetwork] == "true" {
			return fmt.Errorf("storage network nad %s is still attached", nad.Name)
		}
	}
	return nil
}

// checkSameMTU compares the uplink MTU with every other VlanConfig of the
// cluster network, raw: v0.5.x treats 0 and 1500 as different.
func checkSameMTU(ctx context.Context, r *Request, vc *v1beta1.VlanConfig) error {
	others, err := r.Store.VlanConfigs(ctx, vc.Spec.ClusterNetwork)
	if err != nil {
		return err
	}
	for _, other := range others {
		if other.Name == vc.Name {
			continue
		}
		if vc.Spec.Uplink.LinkAttributes == nil {
			return fmt.Errorf("the MTU can't be compared with network config %s: this vlanConfig has no spec.uplink.linkAttributes", other.Name)
		}
		if other.Spec.Uplink.LinkAttributes == nil {
			return fmt.Errorf("the MTU can't be compared with network config %s: it has no spec.uplink.linkAttributes", other.Name)
		}
		if vc.Spec.Uplink.LinkAttributes.MTU != other.Spec.Uplink.LinkAttributes.MTU {
			return fmt.Errorf("the MTU is different from network config %s", other.Name)
		}
	}
	return nil
}

// matchedNodes parses the matched-nodes annotation the mutator wrote. It
// reports whether the annotation was present; as upstream, an empty value
// counts as absent.
func matchedNodes(vc *v1beta1.VlanConfig) ([]string, bool, error) {
	raw := vc.Annotations[annotationMatchedNodes]
	if raw == "" {
		return nil, false, nil
	}
	var nodes []string
	if err := json.Unmarshal([]byte(raw), &nodes); err != nil {
		return nil, true, quoteError(err)
	}
	return nodes, true, nil
}

// requiredMatchedNodes is matchedNodes for the checks upstream v0.5.x runs on
// a node set it assumes present; it crashes without one, this denies.
func requiredMatchedNodes(vc *v1beta1.VlanConfig) ([]string, error) {
	nodes, ok, err := matchedNodes(vc)
	if err == nil && !ok {
		err = fmt.Errorf("vlanConfig %s has no %s annotation: its node selector matches no node", vc.Name, annotationMatchedNodes)
	}
	return nodes, err
}

// checkOverlap denies when another VlanConfig of the same cluster network
// already owns one of the nodes, as the node's VlanStatus shows. The
// VlanStatuses are looked up together; the first error in node order wins,
// as if they had been looked up one by one.
func checkOverlap(ctx context.Context, r *Request, vc *v1beta1.VlanConfig, nodes []string) error {
	sorted := sortedKeys(toSet(nodes))
	names := make([]string, len(sorted))
	for n, node := range sorted {
		names[n] = vlanStatusName(vc.Spec.ClusterNetwork, node)
	}
	statuses, errs := r.Store.VlanStatusesNamed(ctx, names)
	var overlapped []string
	for n, node := range sorted {
		if apierrors.IsNotFound(errs[n]) {
			continue
		}
		if errs[n] != nil {
			return errs[n]
		}
		if statuses[n].VlanConfig != vc.Name {
			overlapped = append(overlapped, node)
		}
	}
	if len(overlapped) > 0 {
		return fmt.Errorf("it overlaps with other vlanconfigs matching node(s) %v", overlapped)
	}
	return nil
}

// checkVMIsOnNodes denies when a VMI on one of the nodes uses a NAD of the
// VlanConfig's cluster network. v0.5.x runs it only once the VlanConfig has a
// VlanStatus, and an empty node set means every node.
func checkVMIsOnNodes(r *Request, vc *v1beta1.VlanConfig, nodes map[string]bool) error {
	if len(r.Store.VlanStatusNames(labelVlanConfig, vc.Name)) == 0 {
		return nil
	}
	if len(nodes) == 0 {
		nodes = nil
	}
	selector := labels.SelectorFromValidatedSet(labels.Set{labelClusterNetwork: vc.Spec.ClusterNetwork})
	var vmis []informers.VMIRef
	for _, nad := range r.Store.NADs("", selector) {
		vmis = append(vmis, r.Store.VMIsUsingNAD(nad.Namespace, nad.Name, nodes)...)
	}
	if len(vmis) > 0 {
		return errors.New(vmList("it's blocked by VM(s) ", vmis, vmiName, " which must be stopped at first"))
	}
	return nil
}

// vlanStatusName is the controller's name for the VlanStatus of a cluster
// network on a node: "<cn>-<node>" cut to 54 bytes, plus "-" and the CRC-32
// of the uncut name, so it fits the 63-character limit.
func vlanStatusName(clusterNetwork, node string) string {
	s := clusterNetwork + "-" + node
	sum := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(s)))
	if len(s) > 54 {
		s = s[:54]
	}
	return s + "-" + sum
}

func toSet(items []string) map[string]bool {
	set := make(map[string]bool, len(items))
	for _, i := range items {
		set[i] = true
	}
	return set
}

func sortedKeys(set map[string]bool) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- v1.6+ (network-controller-harvester) VlanConfig rules, spec §3.3, §3.6 ----

// mgmtDenied is the refusal of a VlanConfig on mgmt: v1.9 lets the
// controller do it and words it per operation; v1.6 to v1.8 refuse everyone.
func mgmtDenied(r *Request, vc *v1beta1.VlanConfig, op string) error {
	if vc.Spec.ClusterNetwork != mgmtNetwork {
		return nil
	}
	if !r.Profile.atLeast(V1_9) {
		return fmt.Errorf("cluster network can't be %s", mgmtNetwork)
	}
	if r.fromController() {
		return nil
	}
	return fmt.Errorf("users can't %s vlanConfig for mgmt cluster network", op)
}

// checkClusterNetworkNameLength: v1.6 to v1.8 check the length before mgmt
// and do not print the name; v1.9 checks it after mgmt and prints it.
func checkClusterNetworkNameLength(r *Request, cn string) error {
	if len(cn) <= maxClusterNetworkName {
		return nil
	}
	if r.Profile.atLeast(V1_9) {
		return fmt.Errorf("the length of the clusterNetwork name %v is more than %d", quote(cn), maxClusterNetworkName)
	}
	return fmt.Errorf("the length of the clusterNetwork name is more than %d", maxClusterNetworkName)
}

func checkVlanConfigCreateV16(ctx context.Context, r *Request, vc *v1beta1.VlanConfig) error {
	first, second := mgmtDenied(r, vc, opCreate), checkClusterNetworkNameLength(r, vc.Spec.ClusterNetwork)
	if !r.Profile.atLeast(V1_9) {
		first, second = second, first
	}
	if first != nil {
		return first
	}
	if second != nil {
		return second
	}
	if err := checkClusterNetworkExists(ctx, r, vc.Spec.ClusterNetwork); err != nil {
		return err
	}
	if err := checkMTUV16(ctx, r, vc); err != nil {
		return err
	}
	nodes, _, err := matchedNodes(vc)
	if err != nil {
		return err
	}
	return checkOverlap(ctx, r, vc, nodes)
}

func checkClusterNetworkExists(ctx context.Context, r *Request, name string) error {
	if _, err := r.clusterNetwork(ctx, name); err != nil {
		return fmt.Errorf("it refers to a none-existing cluster network %s or error %w", quote(name), err)
	}
	return nil
}

// checkMTUV16 requires a valid MTU equal (0 meaning 1500) to that of every
// other VlanConfig of the cluster network; v1.8 on ignore those being
// deleted. mgmt is not checked.
func checkMTUV16(ctx context.Context, r *Request, vc *v1beta1.VlanConfig) error {
	if vc.Spec.ClusterNetwork == mgmtNetwork {
		return nil
	}
	mtu := vlanConfigMTU(&vc.Spec)
	if !isValidMTU(mtu) {
		return fmt.Errorf("the MTU %v is out of range [0, %d..%d]", mtu, minMTU, maxMTU)
	}
	others, err := r.Store.VlanConfigs(ctx, vc.Spec.ClusterNetwork)
	if err != nil {
		return err
	}
	for _, other := range others {
		if other.Name == vc.Name || (other.Deleting && r.Profile.atLeast(V1_8)) {
			continue
		}
		if otherMTU := vlanConfigMTU(&other.Spec); !equalMTUs(mtu, otherMTU) {
			return fmt.Errorf("the vlanconfig %s MTU %v is different with another vlanconfig %s MTU %v, all vlanconfigs on one clusternetwork need to have same MTU",
				vc.Name, mtu, other.Name, otherMTU)
		}
	}
	return nil
}

// validateVlanConfigUpdateV16 prefixes its own errors: those about the
// nodes the update takes away name the old object, as upstream.
func validateVlanConfigUpdateV16(ctx context.Context, r *Request, old, vc *v1beta1.VlanConfig) error {
	// v1.7 on skip objects being deleted, so metadata updates run every
	// check; v1.6 refuses mgmt, then skips spec-unchanged updates.
	if r.Profile.atLeast(V1_7) && vc.DeletionTimestamp != nil {
		return nil
	}
	if err := mgmtDenied(r, vc, opUpdate); err != nil {
		return vlanConfigError(r, opUpdate, vc.Name, err)
	}
	if !r.Profile.atLeast(V1_7) && reflect.DeepEqual(old.Spec, vc.Spec) {
		return nil
	}
	newNodes, err := checkVlanConfigUpdateV16(ctx, r, vc)
	if err != nil {
		return vlanConfigError(r, opUpdate, vc.Name, err)
	}
	oldNodes, _, err := matchedNodes(old)
	if err != nil {
		return vlanConfigError(r, opUpdate, old.Name, err)
	}
	affected := toSet(oldNodes)
	if old.Spec.ClusterNetwork == vc.Spec.ClusterNetwork && reflect.DeepEqual(old.Spec.Uplink, vc.Spec.Uplink) {
		for _, n := range newNodes {
			delete(affected, n)
		}
	}
	if err := checkAffectedNodes(r, old, affected); err != nil {
		return vlanConfigError(r, opUpdate, old.Name, err)
	}
	return nil
}

// checkVlanConfigUpdateV16 validates the new object and returns its nodes.
func checkVlanConfigUpdateV16(ctx context.Context, r *Request, vc *v1beta1.VlanConfig) ([]string, error) {
	if r.Profile.atLeast(V1_9) {
		if l := vc.Labels[labelClusterNetwork]; l == "" || l != vc.Spec.ClusterNetwork {
			return nil, fmt.Errorf("cluster network label %s is invalid and must not be updated by user", quote(l))
		}
	}
	if err := checkClusterNetworkExists(ctx, r, vc.Spec.ClusterNetwork); err != nil {
		return nil, err
	}
	if err := checkMTUV16(ctx, r, vc); err != nil {
		return nil, err
	}
	newNodes, _, err := matchedNodes(vc)
	if err != nil {
		return nil, err
	}
	return newNodes, checkOverlap(ctx, r, vc, newNodes)
}

// checkAffectedNodes refuses taking nodes away from a VlanConfig while VMIs
// there use its cluster network's NADs, or while a system NAD is attached.
// Messages name the old object.
func checkAffectedNodes(r *Request, vc *v1beta1.VlanConfig, affected map[string]bool) error {
	if len(affected) == 0 {
		return nil
	}
	selector := labels.SelectorFromValidatedSet(labels.Set{labelClusterNetwork: vc.Spec.ClusterNetwork})
	if text := vmisUsingNADs(r, r.Store.NADs("", selector), affected, "it is blocked by VM(s) ", " which must be stopped at first"); text != "" {
		return errors.New(text)
	}
	for _, nad := range r.Store.NADs(systemNS, selector) {
		if !nad.Deleting && isSystemNAD(r.Profile, nad.Namespace, nad.Name, nad.Annotations) {
			what := "storage"
			if r.Profile.atLeast(V1_9) {
				what = "system"
			}
			return fmt.Errorf("the %s network nad %s is still attached", what, nad.Name)
		}
	}
	return nil
}

func validateVlanConfigDeleteV16(r *Request, vc *v1beta1.VlanConfig) error {
	if vc.Spec.ClusterNetwork == mgmtNetwork && r.Profile.atLeast(V1_9) && !r.fromController() {
		return errors.New("users can't delete vlanConfig for mgmt cluster network")
	}
	nodes, _, err := matchedNodes(vc)
	if err != nil {
		return err
	}
	return checkAffectedNodes(r, vc, toSet(nodes))
}
