package informers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// The projected kinds (VMIs, VMs) are the bulk of what the webhook watches:
// 20,000 VMIs of about 5 KB are 100 MB of JSON. Through the dynamic client
// every byte is scanned five or six times (framing, the watch event, the
// kind sniff, the unstructured decode) into maps that become garbage at
// once. wireClient instead reads the API server's JSON as a stream and
// decodes each object straight into the few fields a projection keeps,
// skipping the rest without allocating: one list of 20,000 VMIs never holds
// more than one object's bytes.

// wireClient lists and watches projected kinds over the API server's HTTP
// client.
type wireClient struct {
	http    *http.Client
	base    *url.URL // server URL, with any path prefix
	watches *watchTracker
}

func newWireClient(cfg *rest.Config, watches *watchTracker) (*wireClient, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, err
	}
	return &wireClient{http: hc, base: base, watches: watches}, nil
}

// noWatchList turns client-go's streaming WatchList off for the informers
// it is given to: the API server sends a WatchList's initial events one at
// a time, which took 25-60 s for L10's 20,000 VMIs where one LIST takes 2 s.
// The LIST is decoded as a stream, so it costs no more memory.
type noWatchList struct{}

func (noWatchList) IsWatchListSemanticsUnSupported() bool { return true }

// listWatch is the ListerWatcher of projected kind k.
func (c *wireClient) listWatch(k Kind, p *projector) (cache.ListerWatcher, error) {
	pick, err := wireNetworksAt(p.path)
	if err != nil {
		return nil, err
	}
	if len(p.node) > 0 && !slices.Equal(p.node, []string{"status", "nodeName"}) {
		return nil, fmt.Errorf("node path %s cannot be decoded from the wire; supported: status.nodeName", strings.Join(p.node, "."))
	}
	prefix := "/apis/" + k.GVR.Group + "/" + k.GVR.Version
	if k.GVR.Group == "" {
		prefix = "/api/" + k.GVR.Version
	}
	r := &wireResource{client: c, gvr: k.GVR, path: path.Join(c.base.Path, prefix, k.GVR.Resource),
		project: func(o *wireObject) *projection {
			node := ""
			if len(p.node) > 0 {
				node = o.Status.NodeName
			}
			return p.build(o.Metadata.Namespace, o.Metadata.Name, o.Metadata.ResourceVersion, node, pick(o))
		}}
	lw := &cache.ListWatch{ListWithContextFunc: r.list, WatchFuncWithContext: r.watch}
	return cache.ToListWatcherWithWatchListSemantics(lw, noWatchList{}), nil
}

// wireNetworksAt returns the accessor of the networks list at path.
func wireNetworksAt(path []string) (func(*wireObject) []string, error) {
	switch {
	case slices.Equal(path, []string{"spec", "networks"}):
		return func(o *wireObject) []string { return o.Spec.Networks }, nil
	case slices.Equal(path, []string{"spec", "template", "spec", "networks"}):
		return func(o *wireObject) []string { return o.Spec.Template.Spec.Networks }, nil
	}
	return nil, fmt.Errorf("networks path %s cannot be decoded from the wire; supported: spec.networks, spec.template.spec.networks",
		strings.Join(path, "."))
}

// wireResource is one projected resource, cluster-wide.
type wireResource struct {
	client  *wireClient
	gvr     schema.GroupVersionResource
	path    string
	project func(*wireObject) *projection
}

func (r *wireResource) list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	body, err := r.get(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer func() { _ = body.Close() }()
	list, err := decodeWireList(body, r.project)
	if err != nil {
		return nil, fmt.Errorf("decode the list of %s: %w", r.gvr.GroupResource(), err)
	}
	return list, nil
}

func (r *wireResource) watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	body, err := r.get(ctx, opts)
	if err != nil {
		return r.client.watches.started(r.gvr, nil, err)
	}
	events := &wireEvents{body: body, dec: json.NewDecoder(body), project: r.project}
	return r.client.watches.started(r.gvr, watch.NewStreamWatcher(events,
		apierrors.NewClientErrorReporter(http.StatusInternalServerError, http.MethodGet, "ClientWatchDecoding")), nil)
}

// get sends GET with opts as query parameters and returns the body of a 200
// answer; any other answer becomes the API error it carries.
func (r *wireResource) get(ctx context.Context, opts metav1.ListOptions) (io.ReadCloser, error) {
	query, err := metav1.ParameterCodec.EncodeParameters(&opts, metav1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	u := *r.client.base
	u.Path, u.RawQuery = r.path, query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, responseError(resp.StatusCode, b, r.gvr.GroupResource())
}

// responseError is the error of a non-200 answer: the Status it carries, as
// client-go's typed clients return it, else a generic error of its code.
func responseError(code int, body []byte, gr schema.GroupResource) error {
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Status != "" {
		return &apierrors.StatusError{ErrStatus: st}
	}
	return apierrors.NewGenericServerResponse(code, http.MethodGet, gr, "", strings.TrimSpace(string(body)), 0, true)
}

// projectionList is a decoded list: its items are already projections.
type projectionList struct {
	metav1.ListMeta
	Items []*projection
}

func (l *projectionList) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (l *projectionList) DeepCopyObject() runtime.Object {
	c := &projectionList{ListMeta: *l.DeepCopy(), Items: make([]*projection, len(l.Items))}
	for i, p := range l.Items {
		c.Items[i], _ = p.DeepCopyObject().(*projection)
	}
	return c
}

// decodeWireList decodes a list answer one item at a time.
func decodeWireList(r io.Reader, project func(*wireObject) *projection) (*projectionList, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	list := &projectionList{}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch key {
		case "metadata":
			err = dec.Decode(&list.ListMeta)
		case "items":
			err = decodeItems(dec, func(o *wireObject) { list.Items = append(list.Items, project(o)) })
		default:
			err = dec.Decode(&json.RawMessage{})
		}
		if err != nil {
			return nil, fmt.Errorf("%v: %w", key, err)
		}
	}
	return list, expectDelim(dec, '}')
}

func decodeItems(dec *json.Decoder, each func(*wireObject)) error {
	if t, err := dec.Token(); err != nil {
		return err
	} else if t == nil {
		return nil // "items": null
	} else if t != json.Delim('[') {
		return fmt.Errorf("want a list, got %v", t)
	}
	for dec.More() {
		var o wireObject
		if err := dec.Decode(&o); err != nil && !isTypeError(err) {
			return err
		}
		each(&o)
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("want %v, got %v", d, t)
	}
	return nil
}

// wireEvents decodes a watch stream: one JSON event after another.
type wireEvents struct {
	body    io.ReadCloser
	dec     *json.Decoder
	project func(*wireObject) *projection
}

func (e *wireEvents) Decode() (watch.EventType, runtime.Object, error) {
	var ev struct {
		Type   watch.EventType `json:"type"`
		Object wireObject      `json:"object"`
	}
	if err := e.dec.Decode(&ev); err != nil && !isTypeError(err) {
		return "", nil, err
	}
	switch ev.Type {
	case watch.Added, watch.Modified, watch.Deleted, watch.Bookmark:
		return ev.Type, e.project(&ev.Object), nil
	case watch.Error:
		o := &ev.Object
		return ev.Type, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: o.Kind, APIVersion: o.APIVersion},
			Status: o.Status.Phase, Message: o.Message, Reason: o.Reason, Details: o.Details, Code: o.Code}, nil
	}
	return "", nil, fmt.Errorf("got invalid watch event type: %v", ev.Type)
}

func (e *wireEvents) Close() { _ = e.body.Close() }

// wireObject is what is decoded of a VMI or VM: the projection's fields and,
// for a watch's ERROR event, a metav1.Status's. Everything else is skipped.
type wireObject struct {
	Kind       string   `json:"kind"`
	APIVersion string   `json:"apiVersion"`
	Metadata   wireMeta `json:"metadata"`
	Spec       struct {
		Networks wireNetworks `json:"networks"` // VMI
		Template struct {
			Spec struct {
				Networks wireNetworks `json:"networks"`
			} `json:"spec"`
		} `json:"template"` // VM
	} `json:"spec"`
	Status wireStatus `json:"status"`

	// metav1.Status
	Message string                `json:"message"`
	Reason  metav1.StatusReason   `json:"reason"`
	Details *metav1.StatusDetails `json:"details"`
	Code    int32                 `json:"code"`
}

type wireMeta struct {
	Name            string `json:"name"`
	Namespace       string `json:"namespace"`
	ResourceVersion string `json:"resourceVersion"`
}

// wireStatus is a VMI's status object, of which only nodeName is kept, or
// a metav1.Status's status string ("Failure").
type wireStatus struct {
	NodeName string
	Phase    string
}

func (s *wireStatus) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &s.Phase)
	}
	var v struct {
		NodeName lenientString `json:"nodeName"`
	}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
	}
	s.NodeName = string(v.NodeName)
	return nil
}

// wireNetworks is the multus networkNames of a networks list. A list the
// API server's schema should have refused (not a list, entries without
// multus) yields what can be read, as the unstructured projection does,
// rather than failing the whole list.
type wireNetworks []string

func (n *wireNetworks) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '[' {
		return nil
	}
	var list []struct {
		Multus struct {
			NetworkName lenientString `json:"networkName"`
		} `json:"multus"`
	}
	if err := json.Unmarshal(b, &list); err != nil && !isTypeError(err) {
		return err
	}
	for _, e := range list {
		if e.Multus.NetworkName != "" {
			*n = append(*n, string(e.Multus.NetworkName))
		}
	}
	return nil
}

// isTypeError tells a value of an unexpected JSON type, after which
// encoding/json has still decoded everything else: the object is kept with
// what could be read, as the unstructured projection would.
func isTypeError(err error) bool {
	var typeErr *json.UnmarshalTypeError
	return errors.As(err, &typeErr)
}

// lenientString is a JSON string; any other value reads as "".
type lenientString string

func (s *lenientString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = lenientString(v)
	}
	return nil
}
