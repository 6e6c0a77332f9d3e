package informers

import (
	"slices"
	"unique"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stripMetadata is the transform of every metadata informer. It runs on each
// object before it is stored, mutating it in place, and is idempotent because
// the reflector may pass already-transformed objects through it again
// (WatchList Replace). Objects of other types (tombstones) pass unchanged.
func stripMetadata(obj any) (any, error) {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		// Nothing reads the type; the reflector checked it before this runs.
		m.TypeMeta = metav1.TypeMeta{}
		stripObjectMeta(&m.ObjectMeta)
	}
	return obj, nil
}

// stripObjectMeta keeps name, namespace, resourceVersion, labels, allowed
// annotations and the deletion timestamp: what the rules read and what the
// cache needs for keys and freshness checks.
func stripObjectMeta(m *metav1.ObjectMeta) {
	m.ManagedFields = nil
	m.OwnerReferences = nil
	m.Finalizers = nil
	m.UID = ""
	m.GenerateName = ""
	m.DeletionGracePeriodSeconds = nil
	m.Namespace = intern(m.Namespace)
	m.Labels = internMap(m.Labels, nil)
	m.Annotations = internMap(m.Annotations, allowedAnnotation)
}

// allowedAnnotation reports whether key is in AnnotationAllowList.
func allowedAnnotation(key string) bool {
	return slices.Contains(AnnotationAllowList, key)
}

// internMap returns a copy of m with the entries keep accepts (all if keep is
// nil), keys and values interned, or nil when nothing is left. Label keys and
// most values (roles, zones, network names) repeat across objects, so
// interning stores each once.
func internMap(m map[string]string, keep func(string) bool) map[string]string {
	n := 0
	for k := range m {
		if keep == nil || keep(k) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make(map[string]string, n)
	for k, v := range m {
		if keep == nil || keep(k) {
			out[intern(k)] = intern(v)
		}
	}
	return out
}

// intern returns the canonical copy of s. The unique package clones the
// string on first sight, so the result never pins a decode buffer.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}
