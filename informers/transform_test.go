package informers

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestStripMetadata(t *testing.T) {
	now := metav1.Now()
	obj := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "k8s.cni.cncf.io/v1", Kind: "NetworkAttachmentDefinition"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "vlan100", Namespace: "default", UID: "6f1c", ResourceVersion: "42", GenerateName: "vlan",
			DeletionTimestamp: &now,
			Labels:            map[string]string{LabelClusterNetwork: "data", "network.harvesterhci.io/type": "L2VlanNetwork"},
			Annotations: map[string]string{
				"storage-network.settings.harvesterhci.io":         "true",
				"network.harvesterhci.io/route":                    `{"mode":"auto"}`,
				"kubectl.kubernetes.io/last-applied-configuration": `{"big":"json"}`,
			},
			Finalizers:      []string{"wrangler.cattle.io/harvester-network-nad-controller"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "1"}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
		},
	}
	want := metav1.ObjectMeta{
		Name: "vlan100", Namespace: "default", ResourceVersion: "42", DeletionTimestamp: &now,
		Labels:      map[string]string{LabelClusterNetwork: "data", "network.harvesterhci.io/type": "L2VlanNetwork"},
		Annotations: map[string]string{"storage-network.settings.harvesterhci.io": "true"},
	}

	for round := range 2 { // the transform must be idempotent
		got, err := stripMetadata(obj)
		if err != nil {
			t.Fatal(err)
		}
		m := got.(*metav1.PartialObjectMetadata)
		if !reflect.DeepEqual(m.ObjectMeta, want) || m.TypeMeta != (metav1.TypeMeta{}) {
			t.Fatalf("round %d: stripped =\n%+v\nwant\n%+v", round, m.ObjectMeta, want)
		}
	}
}

func TestStripMetadataNoAllowedAnnotations(t *testing.T) {
	obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: "n", Annotations: map[string]string{"a": "b"}, Labels: map[string]string{},
	}}
	got, _ := stripMetadata(obj)
	if m := got.(*metav1.PartialObjectMetadata); m.Annotations != nil || m.Labels != nil {
		t.Errorf("annotations = %v, labels = %v; want nil maps", m.Annotations, m.Labels)
	}
}

func TestStripMetadataPassesOtherTypes(t *testing.T) {
	tomb := cache.DeletedFinalStateUnknown{Key: "default/x"}
	if got, err := stripMetadata(tomb); err != nil || got != any(tomb) {
		t.Errorf("stripMetadata(tombstone) = %v, %v", got, err)
	}
}
