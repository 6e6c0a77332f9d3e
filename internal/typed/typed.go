// Package typed is a client of one resource of a typed API group: the few
// verbs the webhook calls on Secrets and webhook configurations.
//
// client-go's generic typed client (gentype) would do, but it imports
// client-go's testing package, and through it server-side apply's
// structured merge, kube-openapi, gnostic and YAML: 56 packages the webhook
// never runs, in its binary and its start-up.
package typed

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// Object is what a Client reads and writes.
type Object interface {
	runtime.Object
	GetName() string
}

// Client is one resource's client: T its object, L its list.
type Client[T Object, L runtime.Object] struct {
	rest      rest.Interface
	resource  string
	namespace string // "" for a cluster-scoped resource
	params    runtime.ParameterCodec
	newObject func() T
	newList   func() L
}

// New returns the client of resource in namespace ("" if cluster-scoped)
// through c, whose serializer decodes T and L.
func New[T Object, L runtime.Object](resource string, c rest.Interface, params runtime.ParameterCodec, namespace string,
	newObject func() T, newList func() L) *Client[T, L] {
	return &Client[T, L]{rest: c, resource: resource, namespace: namespace, params: params, newObject: newObject, newList: newList}
}

func (c *Client[T, L]) request(r *rest.Request) *rest.Request {
	return r.NamespaceIfScoped(c.namespace, c.namespace != "").Resource(c.resource)
}

// Get reads the object name.
func (c *Client[T, L]) Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error) {
	out := c.newObject()
	err := c.request(c.rest.Get()).Name(name).VersionedParams(&opts, c.params).Do(ctx).Into(out)
	return out, err
}

// List lists the objects opts selects.
func (c *Client[T, L]) List(ctx context.Context, opts metav1.ListOptions) (L, error) {
	out := c.newList()
	err := c.request(c.rest.Get()).VersionedParams(&opts, c.params).Do(ctx).Into(out)
	return out, err
}

// Watch watches the objects opts selects.
func (c *Client[T, L]) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	opts.Watch = true
	return c.request(c.rest.Get()).VersionedParams(&opts, c.params).Timeout(timeout).Watch(ctx)
}

// Create creates obj.
func (c *Client[T, L]) Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error) {
	out := c.newObject()
	err := c.request(c.rest.Post()).VersionedParams(&opts, c.params).Body(obj).Do(ctx).Into(out)
	return out, err
}

// Update replaces obj, which names itself.
func (c *Client[T, L]) Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error) {
	out := c.newObject()
	err := c.request(c.rest.Put()).Name(obj.GetName()).VersionedParams(&opts, c.params).Body(obj).Do(ctx).Into(out)
	return out, err
}

// Patch patches the object name with data, of type pt.
func (c *Client[T, L]) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions,
	subresources ...string) (T, error) {
	out := c.newObject()
	err := c.request(c.rest.Patch(pt)).Name(name).SubResource(subresources...).VersionedParams(&opts, c.params).
		Body(data).Do(ctx).Into(out)
	return out, err
}
