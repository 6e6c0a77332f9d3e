package manifests

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// coreKinds are the built-in kinds the examples may create.
var coreKinds = map[schema.GroupVersionKind]servedKind{
	{Version: "v1", Kind: "Node"}:      {namespaced: false},
	{Version: "v1", Kind: "Namespace"}: {namespaced: false},
}

var orderedName = regexp.MustCompile(`^examples/[0-9]{2}-[a-z0-9-]+\.yaml$`)

// TestExamplesApplyInOrder replays `make run`: files in name order, each
// object's kind served without kube-ovn, its scope right, and everything it
// refers to (namespace, cluster network, NAD, node) created by an earlier
// object, since the webhook denies dangling references.
func TestExamplesApplyInOrder(t *testing.T) {
	kinds := servedKinds(t)
	created := map[string]bool{}
	for _, file := range yamlFiles(t, "examples") {
		if path.Dir(file) != "examples" {
			continue
		}
		if !orderedName.MatchString(file) {
			t.Errorf("%s: want a NN- prefix, lower-case name", file)
		}
		for _, obj := range decodeObjects(t, file, kinds) {
			for _, ref := range references(t, obj) {
				if !created[ref] {
					t.Errorf("%s: %s refers to %s, which no earlier example creates", file, key(obj), ref)
				}
			}
			if created[key(obj)] {
				t.Errorf("%s: %s is created twice", file, key(obj))
			}
			created[key(obj)] = true
		}
	}
	for _, want := range []string{"Node/node-1", "Node/node-2", "ClusterNetwork/mgmt", "ClusterNetwork/data",
		"VlanConfig/vc-data", "Namespace/demo", "NetworkAttachmentDefinition/demo/vlan100", "VirtualMachineInstance/demo/vm1"} {
		if !created[want] {
			t.Errorf("no example creates %s", want)
		}
	}
}

func TestDeniedExampleIsAnOutOfRangeVLAN(t *testing.T) {
	files := yamlFiles(t, "examples/denied")
	if len(files) != 1 {
		t.Fatalf("examples/denied holds %v, want one file", files)
	}
	objs := decodeObjects(t, files[0], servedKinds(t))
	if len(objs) != 1 || objs[0].GetKind() != "NetworkAttachmentDefinition" || objs[0].GetNamespace() != "demo" {
		t.Fatalf("want one NAD in namespace demo, got %d objects", len(objs))
	}
	if vlan := nadConfig(t, objs[0])["vlan"]; vlan != 5000.0 {
		t.Errorf("vlan = %v, want 5000", vlan)
	}
}

// decodeObjects reads every object in file and checks it is a kind the
// cluster serves (without kube-ovn) at the right scope.
func decodeObjects(t *testing.T, file string, kinds map[schema.GroupVersionKind]servedKind) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range documents(t, file) {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		gvk := obj.GroupVersionKind()
		served, ok := kinds[gvk]
		if core, isCore := coreKinds[gvk]; isCore {
			served, ok = core, true
		}
		switch {
		case !ok:
			t.Errorf("%s: %v is served by no CRD here", file, gvk)
		case strings.HasPrefix(served.file, "crds/kubeovn/"):
			t.Errorf("%s: %v needs the kube-ovn CRDs, which the demo does not install", file, gvk)
		case obj.GetName() == "":
			t.Errorf("%s: a %s without a name", file, gvk.Kind)
		case served.namespaced != (obj.GetNamespace() != ""):
			t.Errorf("%s: %s namespaced=%v but has namespace %q", file, key(obj), served.namespaced, obj.GetNamespace())
		}
		objs = append(objs, obj)
	}
	return objs
}

// references lists the objects obj needs to exist first, as key() strings.
func references(t *testing.T, obj *unstructured.Unstructured) []string {
	t.Helper()
	var refs []string
	if ns := obj.GetNamespace(); ns != "" {
		refs = append(refs, "Namespace/"+ns)
	}
	str := func(fields ...string) string {
		s, _, _ := unstructured.NestedString(obj.Object, fields...)
		return s
	}
	switch obj.GetKind() {
	case "VlanConfig":
		refs = append(refs, "ClusterNetwork/"+str("spec", "clusterNetwork"))
	case "NetworkAttachmentDefinition":
		bridge, _ := nadConfig(t, obj)["bridge"].(string)
		refs = append(refs, "ClusterNetwork/"+strings.TrimSuffix(bridge, "-br"))
	case "VirtualMachineInstance":
		refs = append(refs, "Node/"+str("status", "nodeName"))
		networks, _, _ := unstructured.NestedSlice(obj.Object, "spec", "networks")
		for _, n := range networks {
			name, _, _ := unstructured.NestedString(n.(map[string]any), "multus", "networkName")
			if name != "" {
				refs = append(refs, "NetworkAttachmentDefinition/"+name)
			}
		}
	}
	return refs
}

func nadConfig(t *testing.T, nad *unstructured.Unstructured) map[string]any {
	t.Helper()
	raw, _, _ := unstructured.NestedString(nad.Object, "spec", "config")
	var conf map[string]any
	if err := json.Unmarshal([]byte(raw), &conf); err != nil {
		t.Fatalf("%s: spec.config is not JSON: %v", key(nad), err)
	}
	return conf
}

func key(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s/%s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return obj.GetKind() + "/" + obj.GetName()
}
