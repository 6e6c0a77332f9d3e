package informers

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/tools/cache"
)

// Nodes implements Store.
func (i *Informers) Nodes(selector labels.Selector) []NodeMeta {
	objs := i.selectMeta(KindNode, "", selector)
	out := make([]NodeMeta, 0, len(objs))
	for _, m := range objs {
		out = append(out, NodeMeta{
			Name:        m.GetName(),
			Labels:      m.GetLabels(),
			Annotations: m.GetAnnotations(),
			Deleting:    m.GetDeletionTimestamp() != nil,
		})
	}
	return out
}

// NADs implements Store.
func (i *Informers) NADs(namespace string, selector labels.Selector) []NADMeta {
	objs := i.selectMeta(KindNAD, namespace, selector)
	out := make([]NADMeta, 0, len(objs))
	for _, m := range objs {
		out = append(out, nadMeta(m))
	}
	return out
}

// NAD implements Store.
func (i *Informers) NAD(namespace, name string) (NADMeta, bool) {
	ki := i.informer(KindNAD)
	if ki == nil {
		return NADMeta{}, false
	}
	m, ok := ki.get(namespace, name)
	if !ok {
		return NADMeta{}, false
	}
	return nadMeta(m), true
}

func nadMeta(m metav1.Object) NADMeta {
	return NADMeta{
		Namespace:   m.GetNamespace(),
		Name:        m.GetName(),
		Labels:      m.GetLabels(),
		Annotations: m.GetAnnotations(),
		Deleting:    m.GetDeletionTimestamp() != nil,
	}
}

// VlanStatusNames implements Store.
func (i *Informers) VlanStatusNames(labelKey, value string) []string {
	return i.names(KindVlanStatus, labelKey, value)
}

// VlanConfigNames implements Store, sorted by name.
func (i *Informers) VlanConfigNames(clusterNetwork string) []string {
	return i.names(KindVlanConfig, LabelClusterNetwork, clusterNetwork)
}

// names lists the names of the cached objects of a cluster-scoped kind whose
// label labelKey equals value.
func (i *Informers) names(kind, labelKey, value string) []string {
	objs := i.selectMeta(kind, "", labels.SelectorFromSet(labels.Set{labelKey: value}))
	out := make([]string, 0, len(objs))
	for _, m := range objs {
		out = append(out, m.GetName())
	}
	return out
}

// selectMeta returns the cached objects of kind in namespace ("" for all)
// that match selector (nil matches everything), sorted by namespace and
// name. It narrows the candidates through a label index when the selector
// pins an indexed label to one value, else through the namespace index.
func (i *Informers) selectMeta(kind, namespace string, selector labels.Selector) []metav1.Object {
	ki := i.informer(kind)
	if ki == nil {
		return nil
	}
	return selectIn(ki, namespace, selector)
}

// selectIn is selectMeta over the informer ki.
func selectIn(ki *kindInformer, namespace string, selector labels.Selector) []metav1.Object {
	if selector == nil {
		selector = labels.Everything()
	}
	indexer := ki.indexer
	var candidates []any
	if key, value, ok := ki.indexedEquality(selector); ok {
		candidates, _ = indexer.ByIndex(labelIndexName(key), value)
	} else if namespace != "" && ki.kind.Namespaced {
		candidates, _ = indexer.ByIndex(cache.NamespaceIndex, namespace)
	} else {
		candidates = indexer.List()
	}
	out := make([]metav1.Object, 0, len(candidates))
	for _, obj := range candidates {
		m, ok := obj.(metav1.Object)
		if !ok || (namespace != "" && m.GetNamespace() != namespace) {
			continue
		}
		if selector.Matches(labels.Set(m.GetLabels())) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, compareObjects)
	return out
}

// indexedEquality finds a requirement of selector that pins one of the
// kind's indexed labels to a single value.
func (ki *kindInformer) indexedEquality(selector labels.Selector) (key, value string, ok bool) {
	if len(ki.kind.LabelIndexes) == 0 {
		return "", "", false
	}
	reqs, selectable := selector.Requirements()
	if !selectable {
		return "", "", false
	}
	for _, r := range reqs {
		if !slices.Contains(ki.kind.LabelIndexes, r.Key()) {
			continue
		}
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			if vals := r.ValuesUnsorted(); len(vals) == 1 {
				return r.Key(), vals[0], true
			}
		}
	}
	return "", "", false
}

// compareObjects orders objects by namespace, then name: the deterministic
// order every Store list has.
func compareObjects(a, b metav1.Object) int {
	return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
}
