package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/tidwall/sjson"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	cniv1 "github.com/lowmem/harvester-network-webhook/apis/cni/v1"
)

// NetworkAttachmentDefinition rules (spec §4.2 and §4.4).
//
// Reads: the NAD under review; the first VlanConfig by cluster-network label (its
// MTU); the ClusterNetwork's ready condition; VMIs using the NAD.
//
// Denials (v1.4/v1.5, each prefixed "could not <op> nad <ns>/<name> because "):
//   - "VLAN ID must >=0 and <=4094"
//   - "the length of the brName could not be more than 15"
//   - "the suffix of the brName should be -br"
//   - "unmarshal config <config> failed: <err>"
//   - "config is empty" (the config "null")
//   - "it's still used by VM(s) <ns/name, …> which must be stopped at first"
//   - route annotation errors (netconf.go)

var nadGVR = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}

const nadKind = "NetworkAttachmentDefinition"

func nadMutator() route {
	return mutating(nadGVR, nadKind, admissionregistrationv1.NamespacedScope, mutateNADCreate, mutateNADUpdate)
}

func nadValidator() route {
	return validating(nadGVR, nadKind, admissionregistrationv1.NamespacedScope, validateNADCreate, validateNADUpdate, validateNADDelete)
}

// mutateNADCreate sets the config's MTU to that of the cluster network's
// first VlanConfig.
func mutateNADCreate(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition) ([]PatchOp, error) {
	patch := patchMTU
	if !r.Profile.legacy() {
		patch = mutateNADCreateV16
	}
	ops, err := patch(ctx, r, nad)
	if err != nil {
		return nil, nadError(r, opCreate, nad.Namespace, nad.Name, err)
	}
	return ops, nil
}

func patchMTU(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition) ([]PatchOp, error) {
	conf, err := decodeNetConfStrict(nad.Spec.Config)
	if err != nil {
		return nil, err
	}
	cn, err := clusterNetworkOfBridge(conf.BrName)
	if err != nil {
		return nil, err
	}
	first, err := r.Store.FirstVlanConfig(ctx, cn)
	if err != nil || first == nil {
		return nil, err
	}
	if first.Spec.Uplink.LinkAttributes == nil {
		return nil, fmt.Errorf("vlanconfig %s has no spec.uplink.linkAttributes, so the MTU of cluster network %s is unknown", first.Name, cn)
	}
	mtu := first.Spec.Uplink.LinkAttributes.MTU
	if mtu == 0 || mtu == conf.MTU {
		return nil, nil
	}
	config, err := sjson.Set(nad.Spec.Config, "mtu", mtu)
	if err != nil {
		return nil, fmt.Errorf("set mtu failed, error: %w", err)
	}
	return []PatchOp{replaceConfig(config)}, nil
}

// mutateNADUpdate rewrites the network labels, and marks an auto route
// outdated, when the parsed config changed.
func mutateNADUpdate(ctx context.Context, r *Request, old, nad *cniv1.NetworkAttachmentDefinition) ([]PatchOp, error) {
	if nad.DeletionTimestamp != nil {
		return nil, nil
	}
	patch := networkPatches
	if !r.Profile.legacy() {
		patch = mutateNADUpdateV16
	}
	ops, err := patch(ctx, r, old, nad)
	if err != nil {
		return nil, nadError(r, opUpdate, nad.Namespace, nad.Name, err)
	}
	return ops, nil
}

// networkPatches decodes the old config, then the new one: when both are
// invalid, the old one's error is the answer, as upstream.
func networkPatches(ctx context.Context, r *Request, old, nad *cniv1.NetworkAttachmentDefinition) ([]PatchOp, error) {
	oldConf, err := decodeNetConfStrict(old.Spec.Config)
	if err != nil {
		return nil, err
	}
	newConf, err := decodeNetConfStrict(nad.Spec.Config)
	if err != nil {
		return nil, err
	}
	if reflect.DeepEqual(oldConf, newConf) {
		return nil, nil
	}
	labels, err := legacyNetworkLabels(ctx, r, nad.Labels, oldConf, newConf)
	if err != nil {
		return nil, err
	}
	changed := oldConf.BrName != newConf.BrName || oldConf.Vlan != newConf.Vlan
	return withOutdatedRoute([]PatchOp{replaceLabels(labels)}, nad.Annotations, changed, newConf.Vlan)
}

// withOutdatedRoute appends the route annotation op after a bridge or VLAN
// change: VLAN 0 drops the route, an auto route is marked outdated, any
// other is left alone.
func withOutdatedRoute(ops []PatchOp, current map[string]string, changed bool, vlan int) ([]PatchOp, error) {
	if !changed {
		return ops, nil
	}
	annotations := copyMap(current)
	if vlan == 0 {
		delete(annotations, annotationRoute)
		return append(ops, replaceAnnotations(annotations)), nil
	}
	route, ok, err := outdatedAutoRoute(annotations[annotationRoute])
	if err != nil || !ok {
		return ops, err
	}
	annotations[annotationRoute] = route
	return append(ops, replaceAnnotations(annotations)), nil
}

// legacyNetworkLabels is the v0.5.x label set, which also records the
// previous VLAN, type and cluster network in last-* labels.
func legacyNetworkLabels(ctx context.Context, r *Request, current map[string]string, oldConf, newConf *NetConf) (map[string]string, error) {
	labels := copyMap(current)
	if oldConf.Vlan != 0 && newConf.Vlan == 0 {
		labels[labelLastType] = typeL2Vlan
	}
	if newConf.Vlan != 0 {
		labels[labelType] = typeL2Vlan
		labels[labelVlanID] = strconv.Itoa(newConf.Vlan)
	} else {
		labels[labelType] = typeUntagged
		delete(labels, labelVlanID)
	}
	if oldConf.Vlan != 0 && oldConf.Vlan != newConf.Vlan {
		labels[labelLastVlanID] = strconv.Itoa(oldConf.Vlan)
	}
	cn, err := clusterNetworkOfBridge(newConf.BrName)
	if err != nil {
		return nil, err
	}
	labels[labelClusterNetwork] = cn
	if oldConf.BrName != newConf.BrName {
		oldCN, err := clusterNetworkOfBridge(oldConf.BrName)
		if err != nil {
			return nil, fmt.Errorf("the previous cluster network is unknown: %w", err)
		}
		labels[labelLastClusterNetwork] = oldCN
	}
	network, err := r.clusterNetwork(ctx, cn)
	if err != nil {
		return nil, err
	}
	labels[labelReady] = strconv.FormatBool(network.Ready)
	return labels, nil
}

// outdatedAutoRoute marks an auto-mode route annotation outdated. It reports
// false when the annotation is not in auto mode and so stays as it is.
func outdatedAutoRoute(annotation string) (string, bool, error) {
	var conf layer3NetworkConf
	if annotation != "" {
		if err := json.Unmarshal([]byte(annotation), &conf); err != nil {
			return "", false, fmt.Errorf("unmarshal %s failed, error: %w", quote(annotation), quoteError(err))
		}
	}
	if conf.Mode != routeModeAuto {
		return "", false, nil
	}
	conf.Outdated = true
	b, err := json.Marshal(conf)
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

func validateNADCreate(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition) error {
	if !r.Profile.legacy() {
		if err := validateNADCreateV16(ctx, r, nad); err != nil {
			return nadError(r, opCreate, nad.Namespace, nad.Name, err)
		}
		return nil
	}
	if err := validateNADConfig(nad); err != nil {
		return nadError(r, opCreate, nad.Namespace, nad.Name, err)
	}
	return nil
}

// validateNADConfig checks the route annotation, then the VLAN, then the
// bridge name: the first failing check wins.
func validateNADConfig(nad *cniv1.NetworkAttachmentDefinition) error {
	if err := validateRoute(nad.Annotations[annotationRoute]); err != nil {
		return err
	}
	conf, err := decodeNetConf(nad.Spec.Config)
	if err != nil {
		return fmt.Errorf("unmarshal config %s failed: %w", quote(nad.Spec.Config), quoteError(err))
	}
	return checkBridgeConf(conf)
}

func checkBridgeConf(conf *NetConf) error {
	if conf == nil {
		return errors.New("config is empty")
	}
	if conf.Vlan < 0 || conf.Vlan > 4094 {
		return errors.New("VLAN ID must >=0 and <=4094")
	}
	if len(conf.BrName) > maxDeviceName {
		return fmt.Errorf("the length of the brName could not be more than %d", maxDeviceName)
	}
	if !hasBridgeSuffix(conf.BrName) {
		return errors.New("the suffix of the brName should be -br")
	}
	return nil
}

func validateNADUpdate(ctx context.Context, r *Request, old, nad *cniv1.NetworkAttachmentDefinition) error {
	if nad.DeletionTimestamp != nil {
		return nil
	}
	check := func() error { return checkNADUpdate(r, old, nad) }
	if !r.Profile.legacy() {
		check = func() error { return validateNADUpdateV16(ctx, r, old, nad) }
	}
	if err := check(); err != nil {
		return nadError(r, opUpdate, nad.Namespace, nad.Name, err)
	}
	return nil
}

func checkNADUpdate(r *Request, old, nad *cniv1.NetworkAttachmentDefinition) error {
	if err := validateRoute(nad.Annotations[annotationRoute]); err != nil {
		return err
	}
	newConf, err := decodeNetConf(nad.Spec.Config)
	if err != nil {
		return fmt.Errorf("unmarshal config %s failed: %w", quote(nad.Spec.Config), quoteError(err))
	}
	oldConf, err := decodeNetConf(old.Spec.Config)
	if err != nil {
		return fmt.Errorf("unmarshal config %s failed: %w", quote(old.Spec.Config), quoteError(err))
	}
	if reflect.DeepEqual(oldConf, newConf) {
		return nil
	}
	if err := checkBridgeConf(newConf); err != nil {
		return err
	}
	return checkNADNotInUse(r, nad.Namespace, nad.Name)
}

func validateNADDelete(ctx context.Context, r *Request, nad *cniv1.NetworkAttachmentDefinition) error {
	if !r.Profile.legacy() {
		return validateNADDeleteV16(ctx, r, nad)
	}
	if err := checkNADNotInUse(r, nad.Namespace, nad.Name); err != nil {
		return nadError(r, opDelete, nad.Namespace, nad.Name, err)
	}
	return nil
}

func checkNADNotInUse(r *Request, namespace, name string) error {
	if vmis := r.Store.VMIsUsingNAD(namespace, name, nil); len(vmis) > 0 {
		return errors.New(vmList("it's still used by VM(s) ", vmis, vmiName, " which must be stopped at first"))
	}
	return nil
}
