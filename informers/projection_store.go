package informers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
)

// projectionStore is the cache of a projected kind (VMIs, VMs): every
// projection in one slice sorted by namespace and name and, per network, the
// projections that name it, sorted likewise. "Who uses NAD ns/name" is then
// one map lookup and a walk over a slice that is already in the Store's
// order.
//
// It takes the place of a cache.Indexer, which keeps a key string and a map
// entry per object and, per index value, a set of keys: here an object
// costs a pointer in each list it is in. An insert or a delete moves the
// pointers after it (microseconds for 20,000); the frequent updates, of
// status, keep the object's place. One lock covers every list, and the
// controller (newProjectedInformer) applies each change to all of them at
// once, so a reader never sees one list changed and another not yet.
type projectionStore struct {
	count *atomic.Int64 // the kind's object count, kept for Counts

	mu       sync.RWMutex
	all      []*projection            // every object
	networks map[string]*networkUsers // by NAD "ns/name"
}

// networkUsers are the projections that name one NAD, each list sorted by
// namespace and name (compareProjections).
type networkUsers struct {
	qualified []*projection // naming it "ns/name"
	local     []*projection // naming it by its bare name, from its namespace
}

func newProjectionStore(count *atomic.Int64) *projectionStore {
	return &projectionStore{count: count, networks: make(map[string]*networkUsers)}
}

// newProjectedInformer returns the controller that lists and watches
// through lw (objects of example's type) into s: its queue projects every
// object (transform) and its Process applies the changes to s in order. A
// relist arrives as one ReplacedAll delta (client-go's atomic FIFO) and
// replaces the contents of s at once, so the objects missing from the new
// list leave every list.
func newProjectedInformer(s *projectionStore, lw cache.ListerWatcher, example runtime.Object, transform cache.TransformFunc,
	onWatchError func(error),
) cache.Controller {
	fifo := cache.NewRealFIFOWithOptions(cache.RealFIFOOptions{
		KeyFunction:  cache.MetaNamespaceKeyFunc,
		Transformer:  transform,
		AtomicEvents: true,
	})
	return cache.New(&cache.Config{
		Queue:         fifo,
		ListerWatcher: lw,
		ObjectType:    example,
		Process:       s.process,
		WatchErrorHandlerWithContext: func(_ context.Context, _ *cache.Reflector, err error) {
			onWatchError(err)
		},
	})
}

// process applies deltas, in order, to s.
func (s *projectionStore) process(obj any, _ bool) error {
	deltas, ok := obj.(cache.Deltas)
	if !ok {
		return fmt.Errorf("projection store: got %T, want cache.Deltas", obj)
	}
	for _, d := range deltas {
		var err error
		switch d.Type {
		case cache.Added, cache.Updated, cache.Replaced, cache.Sync:
			err = s.put(d.Object)
		case cache.Deleted:
			err = s.delete(d.Object)
		case cache.ReplacedAll:
			info, ok := d.Object.(cache.ReplacedAllInfo)
			if !ok {
				return fmt.Errorf("projection store: ReplacedAll delta holds %T", d.Object)
			}
			err = s.replace(info.Objects)
		}
		// SyncAll (a resync) changes nothing; bookmarks are not asked for.
		if err != nil {
			return err
		}
	}
	return nil
}

// put stores the projection obj, in place of the object's earlier one.
func (s *projectionStore) put(obj any) error {
	p, ok := obj.(*projection)
	if !ok {
		return fmt.Errorf("projection store: got %T, want a projection", obj)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := slices.BinarySearchFunc(s.all, p, compareProjections)
	if !found {
		s.all = slices.Insert(s.all, i, p)
		s.count.Add(1)
		s.link(p)
		return nil
	}
	old := s.all[i]
	s.all[i] = p
	if slices.Equal(old.qualified, p.qualified) && slices.Equal(old.local, p.local) {
		// The usual update (status, a new node): the same lists, at the
		// same places, as the order does not depend on the node.
		s.swap(p)
		return nil
	}
	s.unlink(old)
	s.link(p)
	return nil
}

// delete removes the object of obj, a projection or a tombstone.
func (s *projectionStore) delete(obj any) error {
	var key cache.ObjectName
	switch o := obj.(type) {
	case *projection:
		key = cache.NewObjectName(o.namespace, o.name)
	case cache.DeletedFinalStateUnknown:
		var err error
		if key, err = cache.ParseObjectName(o.Key); err != nil {
			return fmt.Errorf("projection store: %w", err)
		}
	default:
		return fmt.Errorf("projection store: cannot delete a %T", obj)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := s.find(key)
	if !found {
		return nil
	}
	old := s.all[i]
	s.all = shrink(slices.Delete(s.all, i, i+1))
	s.count.Add(-1)
	s.unlink(old)
	return nil
}

// replace makes objs, projections, the whole contents of s. The new lists
// are built before the lock is taken: readers wait only for the swap.
func (s *projectionStore) replace(objs []any) error {
	all := make([]*projection, 0, len(objs))
	for _, obj := range objs {
		p, ok := obj.(*projection)
		if !ok {
			return fmt.Errorf("projection store: got %T, want a projection", obj)
		}
		all = append(all, p)
	}
	// Stable, so that of an object listed twice the later copy is kept.
	slices.SortStableFunc(all, compareProjections)
	unique := all[:0]
	for _, p := range all {
		if n := len(unique); n > 0 && compareProjections(unique[n-1], p) == 0 {
			unique[n-1] = p
			continue
		}
		unique = append(unique, p)
	}
	clear(all[len(unique):])
	next := newProjectionStore(s.count)
	next.all = unique
	for _, p := range unique {
		// In order, so every list is sorted as it grows.
		for _, n := range p.qualified {
			u := next.users(n)
			u.qualified = append(u.qualified, p)
		}
		for _, n := range p.local {
			u := next.users(n)
			u.local = append(u.local, p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all, s.networks = next.all, next.networks
	s.count.Store(int64(len(s.all)))
	return nil
}

// link adds p to the lists of its networks. s.mu is held.
func (s *projectionStore) link(p *projection) {
	for _, n := range p.qualified {
		u := s.users(n)
		u.qualified = insertSorted(u.qualified, p)
	}
	for _, n := range p.local {
		u := s.users(n)
		u.local = insertSorted(u.local, p)
	}
}

// unlink removes p from the lists of its networks, and drops the networks
// nobody names any more. s.mu is held.
func (s *projectionStore) unlink(p *projection) {
	for _, n := range p.qualified {
		if u := s.networks[n]; u != nil {
			u.qualified = removeSorted(u.qualified, p)
			s.dropIfUnused(n, u)
		}
	}
	for _, n := range p.local {
		if u := s.networks[n]; u != nil {
			u.local = removeSorted(u.local, p)
			s.dropIfUnused(n, u)
		}
	}
}

// swap puts p in place of the earlier projection of its object in the
// lists of its networks, which the earlier one named too. s.mu is held.
func (s *projectionStore) swap(p *projection) {
	for _, n := range p.qualified {
		if u := s.networks[n]; u != nil {
			replaceSorted(u.qualified, p)
		}
	}
	for _, n := range p.local {
		if u := s.networks[n]; u != nil {
			replaceSorted(u.local, p)
		}
	}
}

// users returns the users of network n, adding it if new. s.mu is held.
func (s *projectionStore) users(n string) *networkUsers {
	u := s.networks[n]
	if u == nil {
		u = &networkUsers{}
		s.networks[n] = u
	}
	return u
}

func (s *projectionStore) dropIfUnused(n string, u *networkUsers) {
	if len(u.qualified) == 0 && len(u.local) == 0 {
		delete(s.networks, n)
	}
}

// find returns the index of key in s.all, or where it would be. s.mu is
// held.
func (s *projectionStore) find(key cache.ObjectName) (int, bool) {
	return slices.BinarySearchFunc(s.all, key, func(p *projection, k cache.ObjectName) int {
		return cmp.Or(strings.Compare(p.namespace, k.Namespace), strings.Compare(p.name, k.Name))
	})
}

// get returns the projection of namespace/name.
func (s *projectionStore) get(namespace, name string) (*projection, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i, found := s.find(cache.NewObjectName(namespace, name)); found {
		return s.all[i], true
	}
	return nil, false
}

// selectUsers returns, converted by ref, the users of NAD nad ("ns/name")
// that keep selects (all if keep is nil): those naming it "ns/name", then
// those naming it by its bare name, each group in namespace and name order.
// It returns nil when there are none.
func selectUsers[T any](s *projectionStore, nad string, keep func(*projection) bool, ref func(*projection) T) []T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.networks[nad]
	if u == nil {
		return nil
	}
	n := len(u.qualified) + len(u.local)
	if keep != nil {
		// Counted first: a VlanConfig update's denial lists hundreds of
		// users per NAD, and a slice grown by append allocated twice the
		// bytes of the result.
		n = 0
		for _, group := range [...][]*projection{u.qualified, u.local} {
			for _, p := range group {
				if keep(p) {
					n++
				}
			}
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]T, 0, n)
	for _, group := range [...][]*projection{u.qualified, u.local} {
		for _, p := range group {
			if keep == nil || keep(p) {
				out = append(out, ref(p))
			}
		}
	}
	return out
}

// compareProjections orders projections by namespace, then name: the order
// of every Store list.
func compareProjections(a, b *projection) int {
	return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.name, b.name))
}

// insertSorted inserts p into list at its place; list does not hold p's
// object.
func insertSorted(list []*projection, p *projection) []*projection {
	i, _ := slices.BinarySearchFunc(list, p, compareProjections)
	return slices.Insert(list, i, p)
}

// removeSorted removes p's object from list.
func removeSorted(list []*projection, p *projection) []*projection {
	if i, found := slices.BinarySearchFunc(list, p, compareProjections); found {
		return shrink(slices.Delete(list, i, i+1))
	}
	return list
}

// replaceSorted puts p in place of the projection of its object in list.
func replaceSorted(list []*projection, p *projection) {
	if i, found := slices.BinarySearchFunc(list, p, compareProjections); found {
		list[i] = p
	}
}

// shrink moves list to a smaller array once it uses a quarter of its
// capacity, so that a NAD that had many users does not keep their room; an
// empty list keeps none.
func shrink(list []*projection) []*projection {
	switch {
	case len(list) == 0:
		return nil
	case cap(list) > 64 && len(list) < cap(list)/4:
		return slices.Clone(list)
	}
	return list
}
