package informers

import (
	"cmp"
	"slices"
)

// VMIsUsingNAD implements Store with two index lookups, as upstream queries
// its vm-by-network index: VMIs naming "<namespace>/<name>", then VMIs in
// namespace naming the bare "<name>". Each group is sorted by namespace and
// name.
func (i *Informers) VMIsUsingNAD(namespace, name string) []VMIRef {
	return i.networkUsers(KindVMI, namespace+"/"+name)
}

// networkUsers answers VMIsUsingNAD for any projected kind; nad is "ns/name".
func (i *Informers) networkUsers(kind, nad string) []VMIRef {
	ki := i.byName[kind]
	if ki == nil {
		return nil
	}
	indexer := ki.informer.GetIndexer()
	qualified, _ := indexer.ByIndex(indexQualifiedNetwork, nad)
	local, _ := indexer.ByIndex(indexLocalNetwork, nad)
	if len(qualified)+len(local) == 0 {
		return nil
	}
	out := make([]VMIRef, 0, len(qualified)+len(local))
	out = appendRefs(out, qualified)
	return appendRefs(out, local)
}

// appendRefs appends the projections in objs to out, the appended part
// sorted by namespace and name.
func appendRefs(out []VMIRef, objs []any) []VMIRef {
	start := len(out)
	for _, obj := range objs {
		if p, ok := obj.(*projection); ok {
			out = append(out, p.ref())
		}
	}
	slices.SortFunc(out[start:], func(a, b VMIRef) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}
