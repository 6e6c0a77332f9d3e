package typed

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// call is one request the fake API server got.
type call struct{ method, path, query, body string }

// newSecrets returns a Secret client of namespace ns against a server that
// records each call and answers with a Secret (a list, or a watch event,
// as asked).
func newSecrets(t *testing.T, ns string) (*Client[*corev1.Secret, *corev1.SecretList], func() []call) {
	var mu sync.Mutex
	var calls []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, call{r.Method, r.URL.Path, r.URL.RawQuery, string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		secret := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "answer", "namespace": ns}}
		switch {
		case r.URL.Query().Get("watch") == "true":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "ADDED", "object": secret})
		case r.Method == http.MethodGet && !strings.Contains(r.URL.Path, "/secrets/"):
			_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "v1", "kind": "SecretList", "metadata": map[string]any{}, "items": []any{secret}})
		default:
			_ = json.NewEncoder(w).Encode(secret)
		}
	}))
	t.Cleanup(srv.Close)
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	gv := corev1.SchemeGroupVersion
	rc, err := rest.RESTClientFor(&rest.Config{Host: srv.URL, APIPath: "/api", ContentConfig: rest.ContentConfig{
		GroupVersion: &gv, NegotiatedSerializer: serializer.NewCodecFactory(scheme).WithoutConversion()}})
	if err != nil {
		t.Fatal(err)
	}
	c := New("secrets", rc, runtime.NewParameterCodec(scheme), ns,
		func() *corev1.Secret { return &corev1.Secret{} }, func() *corev1.SecretList { return &corev1.SecretList{} })
	return c, func() []call { mu.Lock(); defer mu.Unlock(); return append([]call(nil), calls...) }
}

func TestEachVerbIsTheRequestItNames(t *testing.T) {
	c, calls := newSecrets(t, "ns")
	ctx := t.Context()
	mine := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "ns"}}
	check := func(what string, got *corev1.Secret, err error) {
		t.Helper()
		if err != nil || got.Name != "answer" {
			t.Errorf("%s: %v, %v", what, got, err)
		}
	}
	got, err := c.Get(ctx, "mine", metav1.GetOptions{ResourceVersion: "5"})
	check("get", got, err)
	got, err = c.Create(ctx, mine, metav1.CreateOptions{FieldManager: "m"})
	check("create", got, err)
	got, err = c.Update(ctx, mine, metav1.UpdateOptions{})
	check("update", got, err)
	got, err = c.Patch(ctx, "mine", types.ApplyPatchType, []byte(`{"a":1}`), metav1.PatchOptions{FieldManager: "m"})
	check("patch", got, err)
	list, err := c.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=mine"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "answer" {
		t.Errorf("list: %v, %v", list, err)
	}
	w, err := c.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=mine"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-w.ResultChan(); ev.Object.(*corev1.Secret).Name != "answer" {
		t.Errorf("watch event %v", ev)
	}
	w.Stop()

	want := []call{
		{"GET", "/api/v1/namespaces/ns/secrets/mine", "resourceVersion=5", ""},
		{"POST", "/api/v1/namespaces/ns/secrets", "fieldManager=m", `"name":"mine"`},
		{"PUT", "/api/v1/namespaces/ns/secrets/mine", "", `"name":"mine"`},
		{"PATCH", "/api/v1/namespaces/ns/secrets/mine", "fieldManager=m", `{"a":1}`},
		{"GET", "/api/v1/namespaces/ns/secrets", "fieldSelector=metadata.name%3Dmine", ""},
		{"GET", "/api/v1/namespaces/ns/secrets", "fieldSelector=metadata.name%3Dmine&watch=true", ""},
	}
	got2 := calls()
	if len(got2) != len(want) {
		t.Fatalf("calls %+v, want %d", got2, len(want))
	}
	for i, w := range want {
		g := got2[i]
		if g.method != w.method || g.path != w.path || g.query != w.query || !strings.Contains(g.body, w.body) {
			t.Errorf("call %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestAClusterScopedResourceHasNoNamespace(t *testing.T) {
	c, calls := newSecrets(t, "")
	if _, err := c.Get(t.Context(), "x", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := calls()[0].path; got != "/api/v1/secrets/x" {
		t.Errorf("path %s", got)
	}
}
