package informers

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// The informer machinery keys objects through metav1.Object and may deep-copy
// them as runtime.Object. A projection implements both with its identifying fields;
// every other field reads as zero and setting it is a no-op. This costs a
// page of methods instead of embedding a 232-byte ObjectMeta in each of
// possibly tens of thousands of projections.

var (
	_ metav1.Object  = (*projection)(nil)
	_ runtime.Object = (*projection)(nil)
)

func (p *projection) GetNamespace() string              { return p.namespace }
func (p *projection) SetNamespace(ns string)            { p.namespace = ns }
func (p *projection) GetName() string                   { return p.name }
func (p *projection) SetName(name string)               { p.name = name }
func (p *projection) GetResourceVersion() string        { return p.resourceVersion }
func (p *projection) SetResourceVersion(rv string)      { p.resourceVersion = rv }
func (p *projection) GetGenerateName() string           { return "" }
func (p *projection) SetGenerateName(string)            {}
func (p *projection) GetUID() types.UID                 { return "" }
func (p *projection) SetUID(types.UID)                  {}
func (p *projection) GetGeneration() int64              { return 0 }
func (p *projection) SetGeneration(int64)               {}
func (p *projection) GetSelfLink() string               { return "" }
func (p *projection) SetSelfLink(string)                {}
func (p *projection) GetCreationTimestamp() metav1.Time { return metav1.Time{} }
func (p *projection) SetCreationTimestamp(metav1.Time)  {}
func (p *projection) GetDeletionTimestamp() *metav1.Time {
	return nil
}
func (p *projection) SetDeletionTimestamp(*metav1.Time)             {}
func (p *projection) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (p *projection) SetDeletionGracePeriodSeconds(*int64)          {}
func (p *projection) GetLabels() map[string]string                  { return nil }
func (p *projection) SetLabels(map[string]string)                   {}
func (p *projection) GetAnnotations() map[string]string             { return nil }
func (p *projection) SetAnnotations(map[string]string)              {}
func (p *projection) GetFinalizers() []string                       { return nil }
func (p *projection) SetFinalizers([]string)                        {}
func (p *projection) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (p *projection) SetOwnerReferences([]metav1.OwnerReference)    {}
func (p *projection) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (p *projection) SetManagedFields([]metav1.ManagedFieldsEntry)  {}

// GetObjectKind reports no type: projections never go on the wire.
func (p *projection) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject copies the projection. The strings are immutable, so only
// the slices need copying.
func (p *projection) DeepCopyObject() runtime.Object {
	c := *p
	c.qualified = slices.Clone(p.qualified)
	c.local = slices.Clone(p.local)
	return &c
}
