package manifests

import (
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

type wantCRD struct {
	group, version, kind, plural string
	scope                        apiextensionsv1.ResourceScope
	shortNames                   []string
	status                       bool // has the status subresource
}

const (
	cluster    = apiextensionsv1.ClusterScoped
	namespaced = apiextensionsv1.NamespaceScoped
)

// wantCRDs is every CRD file, by path. Status subresources follow upstream:
// ClusterNetwork, VlanStatus and VMI take their status with the create.
var wantCRDs = map[string]wantCRD{
	"crds/network.harvesterhci.io_clusternetworks.yaml":    {"network.harvesterhci.io", "v1beta1", "ClusterNetwork", "clusternetworks", cluster, []string{"cn"}, false},
	"crds/network.harvesterhci.io_vlanconfigs.yaml":        {"network.harvesterhci.io", "v1beta1", "VlanConfig", "vlanconfigs", cluster, []string{"vc"}, false},
	"crds/network.harvesterhci.io_vlanstatuses.yaml":       {"network.harvesterhci.io", "v1beta1", "VlanStatus", "vlanstatuses", cluster, []string{"vs"}, false},
	"crds/network.harvesterhci.io_linkmonitors.yaml":       {"network.harvesterhci.io", "v1beta1", "LinkMonitor", "linkmonitors", cluster, []string{"lm"}, true},
	"crds/network.harvesterhci.io_hostnetworkconfigs.yaml": {"network.harvesterhci.io", "v1beta1", "HostNetworkConfig", "hostnetworkconfigs", cluster, []string{"hnc"}, true},
	"crds/k8s.cni.cncf.io_network-attachment-definitions.yaml": {
		"k8s.cni.cncf.io", "v1", "NetworkAttachmentDefinition", "network-attachment-definitions", namespaced, []string{"net-attach-def"}, false,
	},
	"crds/kubevirt.io_virtualmachineinstances.yaml": {"kubevirt.io", "v1", "VirtualMachineInstance", "virtualmachineinstances", namespaced, []string{"vmi", "vmis"}, false},
	"crds/kubevirt.io_virtualmachines.yaml":         {"kubevirt.io", "v1", "VirtualMachine", "virtualmachines", namespaced, []string{"vm", "vms"}, true},
	"crds/kubeovn/kubeovn.io_subnets.yaml":          {"kubeovn.io", "v1", "Subnet", "subnets", cluster, nil, true},
	"crds/kubeovn/kubeovn.io_vpcs.yaml":             {"kubeovn.io", "v1", "Vpc", "vpcs", cluster, nil, true},
}

// loadCRDs decodes every file under crds/ strictly, so a misspelt field
// fails here rather than being dropped by the API server.
func loadCRDs(t *testing.T) map[string]*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, file := range yamlFiles(t, "crds") {
		docs := documents(t, file)
		if len(docs) != 1 {
			t.Fatalf("%s: %d documents, want one CRD per file", file, len(docs))
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(docs[0], crd); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		crds[file] = crd
	}
	return crds
}

func TestCRDFilesAreExactlyTheExpectedOnes(t *testing.T) {
	var got, want []string
	for file := range loadCRDs(t) {
		got = append(got, file)
	}
	for file := range wantCRDs {
		want = append(want, file)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("CRD files = %v, want %v", got, want)
	}
}

func TestCRDs(t *testing.T) {
	for file, crd := range loadCRDs(t) {
		want, ok := wantCRDs[file]
		if !ok {
			continue // reported by TestCRDFilesAreExactlyTheExpectedOnes
		}
		t.Run(file, func(t *testing.T) {
			if crd.APIVersion != "apiextensions.k8s.io/v1" || crd.Kind != "CustomResourceDefinition" {
				t.Errorf("apiVersion/kind = %s/%s", crd.APIVersion, crd.Kind)
			}
			if crd.Name != want.plural+"."+want.group || crd.Spec.Group != want.group {
				t.Errorf("name %q, group %q; want %s.%s", crd.Name, crd.Spec.Group, want.plural, want.group)
			}
			n := crd.Spec.Names
			if n.Kind != want.kind || n.ListKind != want.kind+"List" || n.Plural != want.plural || n.Singular == "" {
				t.Errorf("names = %+v, want kind %s, plural %s", n, want.kind, want.plural)
			}
			if !slices.Equal(n.ShortNames, want.shortNames) {
				t.Errorf("shortNames = %v, want %v", n.ShortNames, want.shortNames)
			}
			if crd.Spec.Scope != want.scope {
				t.Errorf("scope = %s, want %s", crd.Spec.Scope, want.scope)
			}
			if len(crd.Spec.Versions) != 1 {
				t.Fatalf("%d versions, want 1", len(crd.Spec.Versions))
			}
			checkVersion(t, crd.Spec.Versions[0], want)
		})
	}
}

func checkVersion(t *testing.T, v apiextensionsv1.CustomResourceDefinitionVersion, want wantCRD) {
	t.Helper()
	if v.Name != want.version || !v.Served || !v.Storage {
		t.Errorf("version %s served=%v storage=%v, want %s served and stored", v.Name, v.Served, v.Storage, want.version)
	}
	if hasStatus := v.Subresources != nil && v.Subresources.Status != nil; hasStatus != want.status {
		t.Errorf("status subresource = %v, want %v", hasStatus, want.status)
	}
	for _, c := range v.AdditionalPrinterColumns {
		if !strings.HasPrefix(c.JSONPath, ".") || c.Name == "" || c.Type == "" {
			t.Errorf("printer column %+v: want a name, a type and a JSONPath starting with '.'", c)
		}
	}
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		t.Fatal("no openAPIV3Schema")
	}
	root := v.Schema.OpenAPIV3Schema
	if root.Type != "object" {
		t.Errorf("root schema type %q, want object", root.Type)
	}
	wantProps := []string{"apiVersion", "kind", "metadata", "spec"}
	if want.status {
		wantProps = append(wantProps, "status")
	}
	for _, p := range wantProps {
		if _, ok := root.Properties[p]; !ok {
			t.Errorf("schema lacks property %q", p)
		}
	}
	// Structural: every object below the root either lists its fields or
	// keeps unknown ones; otherwise the API server prunes them all.
	for name, p := range root.Properties {
		open := p.XPreserveUnknownFields != nil && *p.XPreserveUnknownFields
		if p.Type == "object" && name != "metadata" && len(p.Properties) == 0 && !open {
			t.Errorf("property %q is an object with no fields and no x-kubernetes-preserve-unknown-fields", name)
		}
	}
}

// servedKind is what examples need to know about a CRD.
type servedKind struct {
	file       string
	namespaced bool
}

// servedKinds maps each group/version/kind the CRD files serve to its CRD,
// read from the files themselves.
func servedKinds(t *testing.T) map[schema.GroupVersionKind]servedKind {
	t.Helper()
	kinds := map[schema.GroupVersionKind]servedKind{}
	for file, crd := range loadCRDs(t) {
		for _, v := range crd.Spec.Versions {
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			kinds[gvk] = servedKind{file: file, namespaced: crd.Spec.Scope == namespaced}
		}
	}
	return kinds
}
