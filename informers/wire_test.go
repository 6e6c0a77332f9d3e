package informers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/rest"
)

// wireVMI is a VMI as the API server sends it, with the fields a projection
// skips (a large annotation, labels, conditions) around the ones it keeps.
func wireVMI(ns, name, rv, node string, networks ...string) string {
	nets := make([]string, len(networks))
	for i, n := range networks {
		nets[i] = fmt.Sprintf(`{"name":"nic-%d","multus":{"networkName":%q}}`, i, n)
	}
	return fmt.Sprintf(`{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":%q,"namespace":%q,`+
		`"resourceVersion":%q,"labels":{"kubevirt.io/nodeName":%q},"annotations":{"padding":%q},"managedFields":[{"manager":"x"}]},`+
		`"spec":{"domain":{"devices":{"interfaces":[{"name":"nic-0","bridge":{}}]}},"networks":[%s]},`+
		`"status":{"phase":"Running","nodeName":%q,"conditions":[{"type":"Ready","status":"True"}]}}`,
		name, ns, rv, node, strings.Repeat("x", 2048), strings.Join(nets, ","), node)
}

func TestDecodeWireList(t *testing.T) {
	p := &projector{kind: KindVMI, path: []string{"spec", "networks"}, node: []string{"status", "nodeName"}}
	pick, err := wireNetworksAt(p.path)
	if err != nil {
		t.Fatal(err)
	}
	project := func(o *wireObject) *projection {
		return p.build(o.Metadata.Namespace, o.Metadata.Name, o.Metadata.ResourceVersion, o.Status.NodeName, pick(o))
	}
	body := `{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceList","metadata":{"resourceVersion":"42","continue":"c1"},"items":[` +
		wireVMI("default", "web-01", "7", "node-1", "default/vlan100", "vlan200", "default/vlan100") + "," +
		// Shapes the schema should refuse: kept, with what can be read.
		`{"metadata":{"name":"odd-networks","namespace":"default","resourceVersion":"8"},"spec":{"networks":"vlan100"},"status":{"nodeName":5}},` +
		`{"metadata":{"name":"odd-multus","namespace":"default","resourceVersion":"9"},"spec":{"networks":[{"multus":"x"},{"multus":{"networkName":"vlan300"}},{"pod":{}}]},"status":"weird"}` +
		`]}`
	list, err := decodeWireList(strings.NewReader(body), project)
	if err != nil {
		t.Fatal(err)
	}
	if list.ResourceVersion != "42" || list.Continue != "c1" {
		t.Errorf("list metadata %+v", list.ListMeta)
	}
	want := []projection{
		{namespace: "default", name: "web-01", resourceVersion: "7", node: "node-1", qualified: []string{"default/vlan100"}, local: []string{"default/vlan200"}},
		{namespace: "default", name: "odd-networks", resourceVersion: "8"},
		{namespace: "default", name: "odd-multus", resourceVersion: "9", local: []string{"default/vlan300"}},
	}
	if len(list.Items) != len(want) {
		t.Fatalf("%d items, want %d", len(list.Items), len(want))
	}
	for i, got := range list.Items {
		if !reflect.DeepEqual(*got, want[i]) {
			t.Errorf("item %d = %+v, want %+v", i, *got, want[i])
		}
	}

	for _, bad := range []string{``, `[]`, `{"items":[{"metadata":`, `{"items":{}}`} {
		if _, err := decodeWireList(strings.NewReader(bad), project); err == nil {
			t.Errorf("decodeWireList(%q) succeeded", bad)
		}
	}
}

func TestWireNetworksPathsAreChecked(t *testing.T) {
	c := &wireClient{base: &url.URL{}}
	for _, k := range append(V18Kinds(), Kind{Name: "Odd", GVR: VMIsGVR, NetworksPath: []string{"spec", "nets"}}) {
		if !k.projected() {
			continue
		}
		_, err := c.listWatch(k, &projector{path: k.NetworksPath, node: k.NodePath})
		if (err != nil) != (k.Name == "Odd") {
			t.Errorf("%s: listWatch error %v", k.Name, err)
		}
	}
}

func TestResponseErrorKeepsTheAPIStatus(t *testing.T) {
	gr := schema.GroupResource{Group: "kubevirt.io", Resource: "virtualmachineinstances"}
	forbidden := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"virtualmachineinstances.kubevirt.io is forbidden","reason":"Forbidden","code":403}`
	if err := responseError(403, []byte(forbidden), gr); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "is forbidden") {
		t.Errorf("403 Status: %v", err)
	}
	if err := responseError(404, []byte("404 page not found\n"), gr); !apierrors.IsNotFound(err) {
		t.Errorf("404 text: %v", err)
	}
	if err := responseError(410, []byte(`{"kind":"Status","status":"Failure","reason":"Expired","code":410}`), gr); !apierrors.IsResourceExpired(err) {
		t.Errorf("410 Status: %v", err)
	}
}

// fakeAPI serves one projected resource: a LIST of the items it holds and
// a WATCH that sends what is pushed to it.
type fakeAPI struct {
	t      *testing.T
	path   string
	mu     sync.Mutex
	items  []string
	events chan string
	watchQ chan string // the query of each WATCH
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != f.path {
		http.Error(w, `{"kind":"Status","status":"Failure","reason":"NotFound","code":404}`, http.StatusNotFound)
		return
	}
	if r.URL.Query().Get("watch") != "true" {
		f.mu.Lock()
		defer f.mu.Unlock()
		_, _ = fmt.Fprintf(w, `{"kind":"List","metadata":{"resourceVersion":"10"},"items":[%s]}`, strings.Join(f.items, ","))
		return
	}
	f.watchQ <- r.URL.RawQuery
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-f.events:
			_, _ = fmt.Fprintln(w, ev)
			w.(http.Flusher).Flush()
		}
	}
}

func TestWireInformerListsAndWatches(t *testing.T) {
	api := &fakeAPI{t: t, path: "/prefix/apis/kubevirt.io/v1/virtualmachineinstances",
		items:  []string{wireVMI("default", "web-01", "5", "node-1", "default/vlan100")},
		events: make(chan string), watchQ: make(chan string, 10)}
	srv := httptest.NewServer(api)
	defer srv.Close()
	var vmiKind Kind
	for _, k := range V14Kinds() {
		if k.Name == KindVMI {
			vmiKind = k
		}
	}
	store, err := New(Config{
		Metadata: metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme()),
		Dynamic:  dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()),
		REST:     &rest.Config{Host: srv.URL + "/prefix"},
		Kinds:    []Kind{vmiKind},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); store.Wait() }()
	store.Start(ctx)
	syncCtx, syncCancel := context.WithTimeout(ctx, 10*time.Second)
	defer syncCancel()
	if err := store.WaitForSync(syncCtx); err != nil {
		t.Fatal(err)
	}
	if got := store.VMIsUsingNAD("default", "vlan100", nil); len(got) != 1 || got[0] != (VMIRef{Namespace: "default", Name: "web-01", Node: "node-1"}) {
		t.Fatalf("after the list: %v", got)
	}
	select {
	case q := <-api.watchQ:
		if !strings.Contains(q, "resourceVersion=10") || !strings.Contains(q, "watch=true") || strings.Contains(q, "sendInitialEvents") {
			t.Errorf("watch query %q: want a plain watch from the list's resourceVersion", q)
		}
	case <-syncCtx.Done():
		t.Fatal("no watch")
	}

	send := func(typ, obj string) {
		t.Helper()
		select {
		case api.events <- fmt.Sprintf(`{"type":%q,"object":%s}`, typ, obj):
		case <-syncCtx.Done():
			t.Fatal("watch not reading")
		}
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			select {
			case <-syncCtx.Done():
				t.Fatalf("never: %s", what)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	send("ADDED", wireVMI("other", "db-01", "11", "node-2", "default/vlan100"))
	send("BOOKMARK", `{"kind":"VirtualMachineInstance","apiVersion":"kubevirt.io/v1","metadata":{"resourceVersion":"12"}}`)
	eventually("db-01 added", func() bool { return len(store.VMIsUsingNAD("default", "vlan100", nil)) == 2 })
	send("MODIFIED", wireVMI("default", "web-01", "13", "node-1", "default/vlan200"))
	eventually("web-01 moved to vlan200", func() bool { return len(store.VMIsUsingNAD("default", "vlan200", nil)) == 1 })
	send("DELETED", wireVMI("other", "db-01", "14", "node-2", "default/vlan100"))
	eventually("db-01 deleted", func() bool { return len(store.VMIsUsingNAD("default", "vlan100", nil)) == 0 })

	// An expired resourceVersion makes the reflector list again.
	api.mu.Lock()
	api.items = []string{wireVMI("default", "relisted", "20", "node-3", "default/vlan300")}
	api.mu.Unlock()
	send("ERROR", `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version","reason":"Expired","code":410}`)
	eventually("relisted", func() bool { return len(store.VMIsUsingNAD("default", "vlan300", nil)) == 1 })
	if n := store.Counts()[KindVMI]; n != 1 {
		t.Errorf("%d VMIs cached after the relist, want 1", n)
	}
}
