package admission

import (
	"context"
	"sync"
)

// lookupConcurrency bounds the Store lookups one rule runs at once. A
// lookup may be an on-demand GET; a few of them overlap instead of queueing
// behind each other, and one review does not take the client's whole burst.
const lookupConcurrency = 4

// lookupAll calls get for every name, at most lookupConcurrency at a time,
// and returns the values and errors in names' order, for the rule to read
// as if it had looked them up one by one.
func lookupAll[T any](ctx context.Context, names []string, get func(context.Context, string) (T, error)) ([]T, []error) {
	values, errs := make([]T, len(names)), make([]error, len(names))
	if len(names) == 1 {
		values[0], errs[0] = get(ctx, names[0])
		return values, errs
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, lookupConcurrency)
	for n, name := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			values[n], errs[n] = get(ctx, name)
		})
	}
	wg.Wait()
	return values, errs
}
