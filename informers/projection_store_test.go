package informers

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

var testProjector = &projector{kind: KindVMI, logger: zap.NewNop()}

// users lists the users of nad in s as "ns/name@node".
func users(s *projectionStore, nad string) []string {
	return selectUsers(s, nad, nil, func(p *projection) string { return p.namespace + "/" + p.name + "@" + p.node })
}

// A projected kind's controller applies watch events to the lists by
// network, and a relist after a watch gap replaces them: objects deleted
// during the gap leave every list, and networks nobody names go.
func TestProjectedInformerFollowsWatchAndRelist(t *testing.T) {
	build := testProjector.build
	lists := make(chan runtime.Object, 2)
	watches := make(chan watch.Interface, 2)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, _ metav1.ListOptions) (runtime.Object, error) {
			select {
			case l := <-lists:
				return l, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		WatchFuncWithContext: func(ctx context.Context, _ metav1.ListOptions) (watch.Interface, error) {
			select {
			case w := <-watches:
				return w, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	}
	var count atomic.Int64
	s := newProjectionStore(&count)
	ctrl := newProjectedInformer(s, cache.ToListWatcherWithWatchListSemantics(lw, noWatchList{}), &projection{},
		testProjector.transform, func(error) {})

	lists <- &projectionList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}, Items: []*projection{
		build("ns1", "b", "2", "n1", []string{"ns1/vlan1"}),
		build("ns1", "a", "1", "n1", []string{"ns1/vlan1"}),
		build("ns2", "c", "3", "n1", []string{"vlan1"}),
	}}
	w := watch.NewFakeWithChanSize(10, false)
	watches <- w
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctrl.RunWithContext(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	if !cache.WaitForCacheSync(ctx.Done(), ctrl.HasSynced) {
		t.Fatal("not synced")
	}
	wantUsers(t, s, "after the list", map[string][]string{
		"ns1/vlan1": {"ns1/a@n1", "ns1/b@n1"},
		"ns2/vlan1": {"ns2/c@n1"},
	})

	a := build("ns1", "a", "12", "n2", []string{"ns1/vlan1"})
	w.Add(build("ns0", "d", "11", "n1", []string{"ns1/vlan1"}))
	w.Modify(a)
	w.Modify(build("ns1", "b", "13", "n1", []string{"ns1/vlan2"}))
	w.Delete(build("ns2", "c", "14", "n1", []string{"vlan1"}))
	eventually(t, func() bool { _, ok := s.get("ns2", "c"); return !ok })
	wantUsers(t, s, "after the watch events", map[string][]string{
		"ns1/vlan1": {"ns0/d@n1", "ns1/a@n2"},
		"ns1/vlan2": {"ns1/b@n1"},
		"ns2/vlan1": nil,
	})
	if p, _ := s.get("ns1", "a"); p != a {
		t.Errorf("a's projection is %+v, want the one of its update", p)
	}

	// b and d are deleted while no watch runs; e is created.
	lists <- &projectionList{ListMeta: metav1.ListMeta{ResourceVersion: "20"}, Items: []*projection{
		a, build("ns1", "e", "15", "n3", []string{"ns1/vlan1"}),
	}}
	watches <- watch.NewFakeWithChanSize(10, false)
	w.Error(&apierrors.NewResourceExpired("too old resource version").ErrStatus)
	eventually(t, func() bool { _, ok := s.get("ns1", "e"); return ok })
	wantUsers(t, s, "after the relist", map[string][]string{
		"ns1/vlan1": {"ns1/a@n2", "ns1/e@n3"},
		"ns1/vlan2": nil,
	})
	for _, name := range []string{"b", "d"} {
		if _, ok := s.get("ns1", name); ok {
			t.Errorf("%s is still cached after the relist", name)
		}
	}
	if len(s.networks) != 1 || count.Load() != 2 {
		t.Errorf("after the relist: networks %v, count %d; want only ns1/vlan1, 2", slices.Collect(maps.Keys(s.networks)), count.Load())
	}
}

func wantUsers(t *testing.T, s *projectionStore, when string, want map[string][]string) {
	t.Helper()
	for nad, w := range want {
		if got := users(s, nad); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: users of %s = %q, want %q", when, nad, got, w)
		}
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
	}
}

// Random puts, deletes and replaces leave the store as a map of the objects
// would, sorted and filtered on each read, while readers run beside the
// writer (go test -race).
func TestProjectionStoreMatchesModel(t *testing.T) {
	// "a" and "a-b": one namespace is a prefix of another.
	namespaces := []string{"a", "a-b", "b"}
	networks := []string{"a/n1", "a/n2", "b/n1", "n1", "n2"}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(rv int) *projection {
		var nets []string
		for _, n := range networks {
			if rng.IntN(3) == 0 {
				nets = append(nets, n)
			}
		}
		return testProjector.build(namespaces[rng.IntN(len(namespaces))], fmt.Sprintf("vm-%d", rng.IntN(12)),
			fmt.Sprint(rv), fmt.Sprintf("node-%d", rng.IntN(3)), nets)
	}
	var count atomic.Int64
	s := newProjectionStore(&count)
	model := map[cache.ObjectName]*projection{}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, nad := range []string{"a/n1", "a-b/n1", "b/n2"} {
					got := selectUsers(s, nad, func(p *projection) bool { return p.node != "node-0" }, func(p *projection) *projection { return p })
					if !isSortedGroups(got) {
						t.Errorf("users of %s out of order", nad)
					}
				}
			}
		})
	}
	for rv := range 3000 {
		switch op := rng.IntN(10); {
		case op < 6:
			p := random(rv)
			mustDo(t, s.process(cache.Deltas{{Type: cache.Updated, Object: p}}, false))
			model[cache.NewObjectName(p.namespace, p.name)] = p
		case op < 9:
			p := random(rv)
			obj := any(p)
			if op == 8 {
				obj = cache.DeletedFinalStateUnknown{Key: p.namespace + "/" + p.name, Obj: p}
			}
			mustDo(t, s.process(cache.Deltas{{Type: cache.Deleted, Object: obj}}, false))
			delete(model, cache.NewObjectName(p.namespace, p.name))
		default:
			var objs []any
			clear(model)
			for range rng.IntN(20) {
				p := random(rv)
				objs = append(objs, p)
				model[cache.NewObjectName(p.namespace, p.name)] = p
			}
			mustDo(t, s.process(cache.Deltas{{Type: cache.ReplacedAll, Object: cache.ReplacedAllInfo{Objects: objs}}}, false))
		}
		checkModel(t, s, model, namespaces, networks)
		if t.Failed() {
			break
		}
	}
	close(stop)
	readers.Wait()
	if count.Load() != int64(len(model)) {
		t.Errorf("count %d, want %d", count.Load(), len(model))
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkModel compares s with the straightforward answers over model.
func checkModel(t *testing.T, s *projectionStore, model map[cache.ObjectName]*projection, namespaces, networks []string) {
	t.Helper()
	for key, p := range model {
		if got, ok := s.get(key.Namespace, key.Name); !ok || got != p {
			t.Fatalf("get(%s) = %v, %v; want %v", key, got, ok, p)
		}
	}
	if len(s.all) != len(model) {
		t.Fatalf("%d objects, want %d", len(s.all), len(model))
	}
	for _, ns := range namespaces {
		for _, n := range networks {
			nad := n
			if !strings.Contains(n, "/") {
				nad = ns + "/" + n
			}
			var qualified, local []*projection
			for _, p := range model {
				if slices.Contains(p.qualified, nad) {
					qualified = append(qualified, p)
				}
				if slices.Contains(p.local, nad) {
					local = append(local, p)
				}
			}
			slices.SortFunc(qualified, compareProjections)
			slices.SortFunc(local, compareProjections)
			want := append(qualified, local...)
			got := selectUsers(s, nad, nil, func(p *projection) *projection { return p })
			if len(want) == 0 {
				want = nil
				if _, ok := s.networks[nad]; ok {
					t.Fatalf("network %s is kept without users", nad)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("users of %s = %v, want %v", nad, got, want)
			}
		}
	}
}

// isSortedGroups tells whether ps is at most two sorted runs (qualified,
// then local).
func isSortedGroups(ps []*projection) bool {
	descents := 0
	for i := 1; i < len(ps); i++ {
		if compareProjections(ps[i-1], ps[i]) > 0 {
			descents++
		}
	}
	return descents <= 1
}
