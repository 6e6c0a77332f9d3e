package admission

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	kubeovnv1 "github.com/lowmem/harvester-network-webhook/apis/kubeovn/v1"
)

// kube-ovn Subnet rules (spec §3.8, parity README §7), v1.6 on, registered
// only while kube-ovn is installed.
//
// Reads: the provider's NAD (metadata), all Subnets (provider), Vpcs by name,
// and the VMIs using the provider's NAD.
//
// Denials (no prefix):
//   - "not a default subnet <name> as provider is <provider>"
//   - "provider is empty for cni type kube-ovn"
//   - "invalid provider length <n> for provider <provider>"
//   - "nad <name> not created in namespace <ns>, create the nad before subnet creation"
//   - "lables are empty for nad <ns>/<name>" (sic)
//   - "network type of nad is not kubeovn instead <type>"
//   - "subnet <other> is using the provider <provider> already"
//   - "vpc does not exist for subnet <name> err=vpc <vpc> not created for subnet, create vpc before subnet creation"
//   - "cannot update provider <provider> for subnet <name> as VMs are still using it"
//   - "cannot update vpc <vpc> for subnet <name> as VMs are still using it"
//   - "cannot update DHCP setting for subnet <name> as VMs are still using it, stop the VMs and update err:it's still used by VM(s) <ns/name, …> which must be stopped at first" (v1.8)

var subnetGVR = schema.GroupVersionResource{Group: "kubeovn.io", Version: "v1", Resource: "subnets"}

const subnetKind = "Subnet"

// kubeOVNDefaultProvider is the provider of kube-ovn's own subnets, and
// the suffix of the providers Harvester writes ("<nad>.<namespace>.ovn").
const kubeOVNDefaultProvider = "ovn"

// reservedSubnets are kube-ovn's default subnets; they must keep the
// provider "ovn".
var reservedSubnets = map[string]bool{"join": true, "ovn-default": true}

// subnetValidator validates Subnets. Deleting one is always allowed (once the
// old object decodes), but the route lists DELETE, as upstream registers it.
func subnetValidator() route {
	return validating(subnetGVR, subnetKind, admissionregistrationv1.ClusterScope,
		validateSubnetCreate, validateSubnetUpdate, allowSubnetDelete)
}

func allowSubnetDelete(context.Context, *Request, *kubeovnv1.Subnet) error { return nil }

func validateSubnetCreate(ctx context.Context, r *Request, s *kubeovnv1.Subnet) error {
	if reserved, err := checkReservedSubnet(s); reserved {
		return err
	}
	if err := checkSubnetNAD(r, s.Spec.Provider); err != nil {
		return err
	}
	if err := checkProviderUnused(ctx, r, s.Spec.Provider); err != nil {
		return err
	}
	return checkSubnetVpc(r, s)
}

// validateSubnetUpdate checks a spec change. As upstream, "in use" means the
// old object's status.v4usingIPs is not zero (IPv6 use does not count), and
// the NAD and VPC checks run again on every spec change. The DHCP check came
// with v1.8.
func validateSubnetUpdate(ctx context.Context, r *Request, old, s *kubeovnv1.Subnet) error {
	if s.DeletionTimestamp != nil || reflect.DeepEqual(old.Spec, s.Spec) {
		return nil
	}
	if reserved, err := checkReservedSubnet(s); reserved {
		return err
	}
	inUse := !old.Status.V4UsingIPs.IsZero()
	if inUse && s.Spec.Provider != old.Spec.Provider {
		return fmt.Errorf("cannot update provider %s for subnet %s as VMs are still using it", quote(s.Spec.Provider), quote(old.Name))
	}
	if inUse && s.Spec.Vpc != old.Spec.Vpc {
		return fmt.Errorf("cannot update vpc %s for subnet %s as VMs are still using it", quote(s.Spec.Vpc), quote(old.Name))
	}
	if err := checkSubnetNAD(r, s.Spec.Provider); err != nil {
		return err
	}
	if s.Spec.Provider != old.Spec.Provider {
		if err := checkProviderUnused(ctx, r, s.Spec.Provider); err != nil {
			return err
		}
	}
	if err := checkSubnetVpc(r, s); err != nil {
		return err
	}
	if r.Profile.atLeast(V1_8) && s.Spec.EnableDHCP != old.Spec.EnableDHCP {
		return checkDHCPChange(r, s)
	}
	return nil
}

// checkReservedSubnet reports whether s is one of kube-ovn's default subnets,
// which skip every other check, and denies one whose provider is not "ovn".
func checkReservedSubnet(s *kubeovnv1.Subnet) (bool, error) {
	if !reservedSubnets[s.Name] {
		return false, nil
	}
	if s.Spec.Provider != kubeOVNDefaultProvider {
		return true, fmt.Errorf("not a default subnet %s as provider is %s", s.Name, quote(s.Spec.Provider))
	}
	return true, nil
}

// parseKubeOVNProvider splits a kube-ovn provider "<nad name>.<nad
// namespace>.<suffix>" into the NAD it names. Like upstream, it needs at
// least three dot-separated parts and checks neither the suffix nor any
// further part ("ovn1.default.kubeovn" names default/ovn1). Shared by the
// Subnet and the NAD validators.
func parseKubeOVNProvider(provider string) (name, namespace string, err error) {
	if provider == "" {
		return "", "", fmt.Errorf("provider is empty for cni type %s", cniKubeOVN)
	}
	parts := strings.Split(provider, ".")
	if len(parts) < 3 {
		return "", "", fmt.Errorf("invalid provider length %d for provider %s", len(parts), quote(provider))
	}
	return parts[0], parts[1], nil
}

// checkSubnetNAD requires the provider's NAD to exist and be labelled as an
// overlay network. Only the type label is read, not the config.
func checkSubnetNAD(r *Request, provider string) error {
	name, namespace, err := parseKubeOVNProvider(provider)
	if err != nil {
		return err
	}
	nad, ok := r.Store.NAD(namespace, name)
	if !ok {
		return fmt.Errorf("nad %s not created in namespace %s, create the nad before subnet creation", quote(name), quote(namespace))
	}
	// Upstream tests for a nil map; the API server never stores an empty one.
	if len(nad.Labels) == 0 {
		return fmt.Errorf("lables are empty for nad %s/%s", namespace, name)
	}
	if t := nad.Labels[labelType]; t != typeOverlay {
		return fmt.Errorf("network type of nad is not kubeovn instead %s", t)
	}
	return nil
}

// checkProviderUnused denies a provider another Subnet already has. The
// Subnet itself is not skipped: on create it is not stored yet, and on update
// the check runs only when the provider changes.
func checkProviderUnused(ctx context.Context, r *Request, provider string) error {
	subnets, err := r.Store.Subnets(ctx)
	if err != nil {
		return fmt.Errorf("failed to retrieve subnets err=%v", err) //nolint:errorlint // upstream text, printed with %v
	}
	for _, other := range subnets {
		if other.Provider == provider {
			return fmt.Errorf("subnet %s is using the provider %s already", other.Name, quote(provider))
		}
	}
	return nil
}

// checkSubnetVpc requires the VPC named in spec.vpc, if any, to exist.
func checkSubnetVpc(r *Request, s *kubeovnv1.Subnet) error {
	if s.Spec.Vpc == "" || r.Store.VpcExists(s.Spec.Vpc) {
		return nil
	}
	err := fmt.Errorf("vpc %s not created for subnet, create vpc before subnet creation", quote(s.Spec.Vpc))
	return fmt.Errorf("vpc does not exist for subnet %s err=%v", quote(s.Name), err) //nolint:errorlint // upstream text, printed with %v
}

// checkDHCPChange denies switching DHCP while a VMI (on any node) uses the
// provider's NAD: the VMs' interface binding would change under them. VMIs
// that name the NAD in both forms are listed twice, as upstream does.
func checkDHCPChange(r *Request, s *kubeovnv1.Subnet) error {
	name, namespace, err := parseKubeOVNProvider(s.Spec.Provider)
	if err != nil {
		return err
	}
	if _, ok := r.Store.NAD(namespace, name); !ok {
		err := apierrors.NewNotFound(schema.GroupResource{Group: "k8s.cni.cncf.io", Resource: "network-attachment-definitions"}, quote(name))
		return fmt.Errorf("failed to get nad %s in namespace %s for subnet %s err=%v", quote(name), quote(namespace), quote(s.Name), err) //nolint:errorlint // upstream text, printed with %v
	}
	vmis := r.Store.VMIsUsingNAD(namespace, name, nil)
	if len(vmis) == 0 {
		return nil
	}
	err = errors.New(vmList("it's still used by VM(s) ", vmis, vmiName, " which must be stopped at first"))
	return fmt.Errorf("cannot update DHCP setting for subnet %s as VMs are still using it, stop the VMs and update err:%w", quote(s.Name), err)
}
