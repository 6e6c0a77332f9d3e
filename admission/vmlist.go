package admission

import (
	"cmp"
	"iter"
	"strings"

	"github.com/lowmem/harvester-network-webhook/informers"
)

// Denials that name the VMs using a network list them as upstream does:
// "ns/name, ns/name". At the L10 load one names hundreds of VMs and looks at
// thousands, so the lists are taken as the Store sorts them, merged where
// several NADs are involved, and written straight into the denial's text.

// vmList returns before, the "namespace/name" of each VM separated by ", "
// as upstream prints them, and after: one string built in one buffer of the
// exact size.
func vmList[T any](before string, vms []T, name func(*T) (namespace, name string), after string) string {
	size := len(before) + len(after) + 2*max(len(vms)-1, 0)
	for i := range vms {
		ns, n := name(&vms[i])
		size += len(ns) + 1 + len(n)
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(before)
	for i := range vms {
		ns, n := name(&vms[i])
		writeVM(&b, i == 0, ns, n)
	}
	b.WriteString(after)
	return b.String()
}

func writeVM(b *strings.Builder, first bool, namespace, name string) {
	if !first {
		b.WriteString(", ")
	}
	b.WriteString(namespace)
	b.WriteByte('/')
	b.WriteString(name)
}

// vmiName, vmName and nadName are vmList's view of a VMI, a VM and a NAD.
func vmiName(v *informers.VMIRef) (namespace, name string) { return v.Namespace, v.Name }

func vmName(v *informers.VMRef) (namespace, name string) { return v.Namespace, v.Name }

func nadName(n *informers.NADMeta) (namespace, name string) { return n.Namespace, n.Name }

// vmisUsingNADs is vmList of the VMIs using any of nads, each once, in the
// order of their "ns/name" (compareVMIs), or "" when none does; a nil node
// set means every node, else only VMIs on them. The lists are merged
// straight into the text, in a buffer sized for them all.
func vmisUsingNADs(r *Request, nads []informers.NADMeta, nodes map[string]bool, before, after string) string {
	lists := make([][]informers.VMIRef, 0, len(nads))
	size := len(before) + len(after)
	for _, nad := range nads {
		if vmis := r.Store.VMIsUsingNAD(nad.Namespace, nad.Name, nodes); len(vmis) > 0 {
			lists = append(lists, vmis)
			for _, v := range vmis {
				size += len(v.Namespace) + 1 + len(v.Name) + len(", ")
			}
		}
	}
	if len(lists) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(before)
	first := true
	for v := range mergeVMIs(lists) {
		writeVM(&b, first, v.Namespace, v.Name)
		first = false
	}
	b.WriteString(after)
	return b.String()
}

// mergeVMIs merges lists into one sequence in compareVMIs order, each VMI
// once. The Store gives each list as two sorted runs (VMIs naming the NAD
// "ns/name", then by its bare name); every list is cut where its order
// descends, so any order is merged right. The runs are merged through a
// min-heap of their first VMIs: n log(runs) comparisons, no strings built.
func mergeVMIs(lists [][]informers.VMIRef) iter.Seq[informers.VMIRef] {
	return func(yield func(informers.VMIRef) bool) {
		var runs [][]informers.VMIRef
		for _, l := range lists {
			for len(l) > 0 {
				n := 1
				for n < len(l) && compareVMIs(l[n-1], l[n]) <= 0 {
					n++
				}
				runs = append(runs, l[:n])
				l = l[n:]
			}
		}
		for i := len(runs)/2 - 1; i >= 0; i-- {
			siftDown(runs, i)
		}
		var last *informers.VMIRef
		for len(runs) > 0 {
			v := &runs[0][0]
			if last == nil || compareVMIs(*last, *v) != 0 {
				if !yield(*v) {
					return
				}
				last = v
			}
			if runs[0] = runs[0][1:]; len(runs[0]) == 0 {
				n := len(runs) - 1
				runs[0] = runs[n]
				runs = runs[:n]
			}
			siftDown(runs, 0)
		}
	}
}

// siftDown moves runs[i] down the min-heap runs, ordered by first VMI.
func siftDown(runs [][]informers.VMIRef, i int) {
	for {
		least := i
		for _, c := range [...]int{2*i + 1, 2*i + 2} {
			if c < len(runs) && compareVMIs(runs[c][0], runs[least][0]) < 0 {
				least = c
			}
		}
		if least == i {
			return
		}
		runs[i], runs[least] = runs[least], runs[i]
		i = least
	}
}

// compareVMIs orders VMIs as their "namespace/name" strings sort, which is
// the order upstream's denials have. Where one namespace is a prefix of the
// other, that differs from namespace-then-name order: "a-b/x" sorts before
// "a/x". Namespaces never hold "/", so the byte after the shared prefix
// decides.
func compareVMIs(a, b informers.VMIRef) int {
	if a.Namespace == b.Namespace {
		return strings.Compare(a.Name, b.Name)
	}
	n := min(len(a.Namespace), len(b.Namespace))
	if c := strings.Compare(a.Namespace[:n], b.Namespace[:n]); c != 0 {
		return c
	}
	if len(a.Namespace) < len(b.Namespace) {
		return cmp.Compare('/', b.Namespace[n])
	}
	return cmp.Compare(a.Namespace[n], '/')
}
