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
	return networkUsers(i, KindVMI, namespace+"/"+name, func(p *projection) VMIRef {
		return VMIRef{Namespace: p.namespace, Name: p.name, Node: p.node}
	})
}

// VMsUsingNAD implements Store as VMIsUsingNAD does, over the VirtualMachine
// projections; nil when the profile does not watch VirtualMachines.
func (i *Informers) VMsUsingNAD(namespace, name string) []VMRef {
	return networkUsers(i, KindVM, namespace+"/"+name, func(p *projection) VMRef {
		return VMRef{Namespace: p.namespace, Name: p.name}
	})
}

// networkUsers answers "who uses NAD nad" ("ns/name") for a projected kind:
// the qualified group, then the local one, each sorted by namespace and
// name, converted by ref.
func networkUsers[T any](i *Informers, kind, nad string, ref func(*projection) T) []T {
	ki := i.informer(kind)
	if ki == nil {
		return nil
	}
	indexer := ki.informer.GetIndexer()
	qualified, _ := indexer.ByIndex(indexQualifiedNetwork, nad)
	local, _ := indexer.ByIndex(indexLocalNetwork, nad)
	if len(qualified)+len(local) == 0 {
		return nil
	}
	out := make([]T, 0, len(qualified)+len(local))
	out = appendSorted(out, qualified, ref)
	return appendSorted(out, local, ref)
}

// appendSorted appends the projections in objs, sorted by namespace and
// name and converted by ref, to out.
func appendSorted[T any](out []T, objs []any, ref func(*projection) T) []T {
	slices.SortFunc(objs, func(a, b any) int {
		pa, _ := a.(*projection)
		pb, _ := b.(*projection)
		if pa == nil || pb == nil {
			return 0
		}
		return cmp.Or(cmp.Compare(pa.namespace, pb.namespace), cmp.Compare(pa.name, pb.name))
	})
	for _, obj := range objs {
		if p, ok := obj.(*projection); ok {
			out = append(out, ref(p))
		}
	}
	return out
}
