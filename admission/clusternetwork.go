package admission

import (
	"context"
	"errors"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
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

func clusterNetworkValidator() route {
	return validating(clusterNetworkGVR, clusterNetworkKind, admissionregistrationv1.ClusterScope,
		validateClusterNetworkCreate, nil, validateClusterNetworkDelete)
}

func validateClusterNetworkCreate(_ context.Context, r *Request, cn *v1beta1.ClusterNetwork) error {
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
	if cn.Name == mgmtNetwork {
		return clusterNetworkError(r, opDelete, cn.Name, errors.New("it's not allowed"))
	}
	vcs, err := r.Store.VlanConfigs(ctx, cn.Name)
	if err != nil {
		return err
	}
	if len(vcs) > 0 {
		names := make([]string, len(vcs))
		for i, vc := range vcs {
			names[i] = vc.Name
		}
		err := fmt.Errorf("vlanconfig(s) %v under this clusternetwork is/are still exist(s)", names)
		return clusterNetworkError(r, opDelete, cn.Name, err)
	}
	return nil
}
