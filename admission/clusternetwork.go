package admission

import (
	"context"
	"errors"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/apis/network/v1beta1"
)

// ClusterNetwork rules (spec §4.4).
//
// Reads: VlanConfigs by cluster-network label.
//
// Denials (v1.4/v1.5, prefixed "could not <op> cluster network <name> because "):
//   - "the length of the clusterNetwork value is more than 12"
//   - "it's not allowed" (deleting mgmt)
//   - "vlanconfig(s) [<names>] under this clusternetwork is/are still exist(s)"

var clusterNetworkGVR = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "clusternetworks"}

const clusterNetworkKind = "ClusterNetwork"

// clusterNetworkValidator serves CREATE and DELETE, and from v1.6 UPDATE.
func clusterNetworkValidator(p Profile) route {
	var update func(context.Context, *Request, *v1beta1.ClusterNetwork, *v1beta1.ClusterNetwork) error
	if !p.legacy() {
		update = validateClusterNetworkUpdate
	}
	return validating(clusterNetworkGVR, clusterNetworkKind, admissionregistrationv1.ClusterScope,
		validateClusterNetworkCreate, update, validateClusterNetworkDelete)
}

func validateClusterNetworkCreate(_ context.Context, r *Request, cn *v1beta1.ClusterNetwork) error {
	if !r.Profile.legacy() {
		if err := checkClusterNetworkCreate(r.Profile, cn); err != nil {
			return clusterNetworkError(r, opCreate, cn.Name, err)
		}
		return nil
	}
	if len(cn.Name) > maxClusterNetworkName {
		err := fmt.Errorf("the length of the clusterNetwork value is more than %d", maxClusterNetworkName)
		return clusterNetworkError(r, opCreate, cn.Name, err)
	}
	return nil
}

// validateClusterNetworkDelete refuses mgmt and cluster networks that still
// have VlanConfigs. As upstream, a failure to list them is returned without
// the prefix.
func validateClusterNetworkDelete(ctx context.Context, r *Request, cn *v1beta1.ClusterNetwork) error {
	if !r.Profile.legacy() {
		return validateClusterNetworkDeleteV16(r, cn)
	}
	if cn.Name == mgmtNetwork {
		return clusterNetworkError(r, opDelete, cn.Name, errors.New("it's not allowed"))
	}
	if names := r.Store.VlanConfigNames(cn.Name); len(names) > 0 {
		err := fmt.Errorf("vlanconfig(s) %v under this clusternetwork is/are still exist(s)", names)
		return clusterNetworkError(r, opDelete, cn.Name, err)
	}
	return nil
}

// ---- v1.6+ rules (spec §3.4) ----

func checkClusterNetworkCreate(p Profile, cn *v1beta1.ClusterNetwork) error {
	if len(cn.Name) > maxClusterNetworkName {
		// v1.7 reworded it to print the name.
		if !p.atLeast(V1_7) {
			return fmt.Errorf("the length of name is more than %d", maxClusterNetworkName)
		}
		return fmt.Errorf("the length of the clusterNetwork name %v is more than %d", quote(cn.Name), maxClusterNetworkName)
	}
	if _, ok := cn.Annotations[annotationUplinkMTU]; ok {
		return fmt.Errorf("annotation %s can't be added", annotationUplinkMTU)
	}
	return nil
}

// validateClusterNetworkUpdate (v1.6+) keeps the VlanConfigs' MTU equal to
// the cluster network's, and refuses changing mgmt's MTU while system NADs
// or VMIs use it. v1.7 on skip objects being deleted.
func validateClusterNetworkUpdate(ctx context.Context, r *Request, old, cn *v1beta1.ClusterNetwork) error {
	if r.Profile.atLeast(V1_7) && cn.DeletionTimestamp != nil {
		return nil
	}
	var err error
	if cn.Name == mgmtNetwork {
		err = checkMgmtMTUChange(r, old, cn)
	} else {
		err = checkVlanConfigMTUs(ctx, r, cn)
	}
	if err != nil {
		return clusterNetworkError(r, opUpdate, cn.Name, err)
	}
	return nil
}

func checkVlanConfigMTUs(ctx context.Context, r *Request, cn *v1beta1.ClusterNetwork) error {
	mtu, err := clusterNetworkMTU(r.Profile, cn.Annotations)
	if err != nil {
		return err
	}
	vcs, err := r.Store.VlanConfigs(ctx, cn.Name)
	if err != nil {
		return err
	}
	for _, vc := range vcs {
		// v1.8 on skip VlanConfigs being deleted.
		if vc.Deleting && r.Profile.atLeast(V1_8) {
			continue
		}
		if vcMTU := vlanConfigMTU(&vc.Spec); !equalMTUs(vcMTU, mtu) {
			return fmt.Errorf("clusternetwork has MTU %v, but the vlanconfigs %v has another MTU %v", mtu, vc.Name, vcMTU)
		}
	}
	return nil
}

func checkMgmtMTUChange(r *Request, old, cn *v1beta1.ClusterNetwork) error {
	oldMTU, err := clusterNetworkMTU(r.Profile, old.Annotations)
	if err != nil {
		return err
	}
	newMTU, err := clusterNetworkMTU(r.Profile, cn.Annotations)
	if err != nil {
		return err
	}
	if equalMTUs(oldMTU, newMTU) {
		return nil
	}
	nads := r.Store.NADs("", labels.SelectorFromValidatedSet(labels.Set{labelClusterNetwork: mgmtNetwork}))
	for _, nad := range nads {
		if !nad.Deleting && isSystemNAD(r.Profile, nad.Namespace, nad.Name, nad.Annotations) {
			// v1.9 words it for any system network NAD.
			what := "storage network nad"
			if r.Profile.atLeast(V1_9) {
				what = "nad"
			}
			return fmt.Errorf("the MTU can't be changed from %v to %v as %s %s is still attached", oldMTU, newMTU, what, nad.Name)
		}
	}
	before := fmt.Sprintf("the MTU can't be changed from %v to %v as following VMs must be stopped at first: ", oldMTU, newMTU)
	if text := vmisUsingNADs(r, nads, nil, before, ""); text != "" {
		return errors.New(text)
	}
	return nil
}

func validateClusterNetworkDeleteV16(r *Request, cn *v1beta1.ClusterNetwork) error {
	if cn.Name == mgmtNetwork {
		return clusterNetworkError(r, opDelete, cn.Name, errors.New("it is not allowed"))
	}
	if names := r.Store.VlanConfigNames(cn.Name); len(names) > 0 {
		return clusterNetworkError(r, opDelete, cn.Name, fmt.Errorf("vlanconfig(s) %v under this clusternetwork are still existing", names))
	}
	nads := r.Store.NADs("", labels.SelectorFromValidatedSet(labels.Set{labelClusterNetwork: cn.Name}))
	if len(nads) > 0 {
		return clusterNetworkError(r, opDelete, cn.Name, errors.New(vmList("nads(s) ", nads, nadName, " under this clusternetwork are still existing")))
	}
	return nil
}
