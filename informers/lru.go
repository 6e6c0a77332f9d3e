package informers

import (
	"container/list"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DefaultLRUBytes is the default budget of the full-object cache.
const DefaultLRUBytes int64 = 4 << 20

// LRUStats are counters and gauges of the full-object cache, for metrics.
type LRUStats struct {
	Hits   uint64 // served from the cache
	Misses uint64 // absent, or present at another resourceVersion
	// Evictions counts entries dropped to stay within the byte budget.
	Evictions uint64
	// Invalidations counts entries dropped because the object changed or
	// went away (informer events, resourceVersion mismatches).
	Invalidations uint64
	Bytes         int64 // estimated bytes held, entry overhead included
	Entries       int
	BudgetBytes   int64
}

// lruKey names one object.
type lruKey struct {
	resource  schema.GroupResource
	namespace string
	name      string
}

type lruEntry struct {
	key   lruKey
	rv    string // resourceVersion the value was decoded from
	value any
	size  int64
}

// lruEntryOverhead approximates what an entry costs besides its value and
// key strings: the list element, the entry, the map slot.
const lruEntryOverhead = 160

// lru is a byte-bounded least-recently-used cache of decoded objects, each
// stamped with its resourceVersion. It is safe for concurrent use.
type lru struct {
	mu     sync.Mutex
	budget int64
	bytes  int64
	order  *list.List // of *lruEntry, most recently used first
	items  map[lruKey]*list.Element
	stats  LRUStats
}

func newLRU(budget int64) *lru {
	return &lru{budget: budget, order: list.New(), items: make(map[lruKey]*list.Element)}
}

// get returns the value stored for key if it was decoded at resourceVersion
// rv. An entry at another resourceVersion is stale and is dropped.
func (c *lru) get(key lruKey, rv string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		return nil, false
	}
	e := el.Value.(*lruEntry)
	if e.rv != rv {
		c.removeLocked(el)
		c.stats.Invalidations++
		c.stats.Misses++
		return nil, false
	}
	c.order.MoveToFront(el)
	c.stats.Hits++
	return e.value, true
}

// add stores value for key at resourceVersion rv; valueSize is the estimated
// size of value. Least recently used entries are evicted to stay within the
// budget; a value larger than the whole budget is not stored.
func (c *lru) add(key lruKey, rv string, value any, valueSize int64) {
	size := valueSize + lruEntryOverhead + int64(len(key.namespace)+len(key.name)+len(rv))
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
	if size > c.budget {
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key: key, rv: rv, value: value, size: size})
	c.bytes += size
	for c.bytes > c.budget {
		c.removeLocked(c.order.Back())
		c.stats.Evictions++
	}
}

// invalidate drops the entry for key unless it is at resourceVersion keep
// (an empty keep drops it in any case).
func (c *lru) invalidate(key lruKey, keep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return
	}
	if keep != "" && el.Value.(*lruEntry).rv == keep {
		return
	}
	c.removeLocked(el)
	c.stats.Invalidations++
}

// dropResource drops every entry of resource gr.
func (c *lru) dropResource(gr schema.GroupResource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, el := range c.items {
		if key.resource == gr {
			c.removeLocked(el)
			c.stats.Invalidations++
		}
	}
}

func (c *lru) removeLocked(el *list.Element) {
	e := c.order.Remove(el).(*lruEntry)
	delete(c.items, e.key)
	c.bytes -= e.size
}

func (c *lru) snapshot() LRUStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Bytes = c.bytes
	s.Entries = len(c.items)
	s.BudgetBytes = c.budget
	return s
}
