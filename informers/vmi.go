package informers

import (
	"cmp"
	"slices"
	"strings"
)

// VMIsUsingNAD implements Store with two index lookups, as upstream queries
// its vm-by-network index: VMIs naming "<namespace>/<name>", then VMIs in
// namespace naming the bare "<name>". Each group is sorted by namespace and
// name. The node filter runs before the sort: a VlanConfig update asks about
// a few nodes of a cluster network that thousands of VMIs use.
func (i *Informers) VMIsUsingNAD(namespace, name string, nodes map[string]bool) []VMIRef {
	var keep func(*projection) bool
	if nodes != nil {
		keep = func(p *projection) bool { return nodes[p.node] }
	}
	return networkUsers(i, KindVMI, namespace+"/"+name, keep, func(p *projection) VMIRef {
		return VMIRef{Namespace: p.namespace, Name: p.name, Node: p.node}
	})
}

// VMsUsingNAD implements Store as VMIsUsingNAD does, over the VirtualMachine
// projections; nil when the profile does not watch VirtualMachines.
func (i *Informers) VMsUsingNAD(namespace, name string) []VMRef {
	return networkUsers(i, KindVM, namespace+"/"+name, nil, func(p *projection) VMRef {
		return VMRef{Namespace: p.namespace, Name: p.name}
	})
}

// networkUsers answers "who uses NAD nad" ("ns/name") for a projected kind:
// the qualified group, then the local one, each sorted by namespace and
// name, converted by ref; keep, if not nil, selects the projections.
func networkUsers[T any](i *Informers, kind, nad string, keep func(*projection) bool, ref func(*projection) T) []T {
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
	out = appendSorted(out, qualified, keep, ref)
	out = appendSorted(out, local, keep, ref)
	if len(out) == 0 {
		return nil
	}
	return out
}

// appendSorted appends the projections in objs that keep selects (all if
// keep is nil), sorted by namespace and name and converted by ref, to out. The assertions happen once, not in
// every comparison: a NAD with a thousand users is sorted on every lookup.
func appendSorted[T any](out []T, objs []any, keep func(*projection) bool, ref func(*projection) T) []T {
	ps := make([]*projection, 0, len(objs))
	for _, obj := range objs {
		if p, ok := obj.(*projection); ok && (keep == nil || keep(p)) {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *projection) int {
		return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.name, b.name))
	})
	for _, p := range ps {
		out = append(out, ref(p))
	}
	return out
}
