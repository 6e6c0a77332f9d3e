package informers

import "slices"

// VMIsUsingNAD implements Store, as upstream queries its vm-by-network
// index: VMIs naming "<namespace>/<name>", then VMIs in namespace naming the
// bare "<name>", each group already sorted by namespace and name in the
// projection store. A VlanConfig update asks about a few nodes of a cluster
// network that thousands of VMIs use: only those on the nodes are copied.
func (i *Informers) VMIsUsingNAD(namespace, name string, nodes map[string]bool) []VMIRef {
	return usersOf(i, KindVMI, namespace+"/"+name, onNodes(nodes), func(p *projection) VMIRef {
		return VMIRef{Namespace: p.namespace, Name: p.name, Node: p.node}
	})
}

// VMsUsingNAD implements Store as VMIsUsingNAD does, over the VirtualMachine
// projections; nil when the profile does not watch VirtualMachines.
func (i *Informers) VMsUsingNAD(namespace, name string) []VMRef {
	return usersOf(i, KindVM, namespace+"/"+name, nil, func(p *projection) VMRef {
		return VMRef{Namespace: p.namespace, Name: p.name}
	})
}

// usersOf answers "who uses NAD nad" ("ns/name") for a projected kind
// (selectUsers), or nil.
func usersOf[T any](i *Informers, kind, nad string, keep func(*projection) bool, ref func(*projection) T) []T {
	ki := i.informer(kind)
	if ki == nil || ki.projections == nil {
		return nil
	}
	return selectUsers(ki.projections, nad, keep, ref)
}

// maxListedNodes is the most nodes onNodes compares one by one.
const maxListedNodes = 8

// onNodes returns the filter of the projections on nodes, or nil for
// nil nodes. It runs on every user of every NAD of a cluster network: for
// the few nodes an update takes away, comparing with each (mostly just
// the lengths) costs less than hashing the node name.
func onNodes(nodes map[string]bool) func(*projection) bool {
	if nodes == nil {
		return nil
	}
	if len(nodes) > maxListedNodes {
		return func(p *projection) bool { return nodes[p.node] }
	}
	listed := make([]string, 0, len(nodes))
	for n, on := range nodes {
		if on {
			listed = append(listed, n)
		}
	}
	return func(p *projection) bool { return slices.Contains(listed, p.node) }
}
