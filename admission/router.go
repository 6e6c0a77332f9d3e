package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/informers"
)

// Request is one admission request as the rules see it.
type Request struct {
	*admissionv1.AdmissionRequest
	Profile Profile
	Store   informers.Store
}

// route handles one kind on one webhook path. Like upstream's router it
// matches on group and kind only; version, resource and operation are not
// matched, and an operation without a function is allowed.
type route struct {
	gvr   schema.GroupVersionResource
	kind  string
	scope admissionregistrationv1.ScopeType
	// ops lists the operations the route implements, in the order upstream
	// registers them; they become the webhook configuration's rule.
	ops []admissionregistrationv1.OperationType
	// kubeOVN routes are served, and registered, only while kube-ovn is
	// installed (the CRD subnets.kubeovn.io exists).
	kubeOVN bool
	admit   func(ctx context.Context, r *Request) ([]PatchOp, error)
}

func (rt *route) matches(gk schema.GroupKind) bool {
	return rt.kind == gk.Kind && rt.gvr.Group == gk.Group
}

// mutating builds a route for a mutator of T. Decode errors are returned
// unprefixed, as upstream's framework returns them.
func mutating[T any](gvr schema.GroupVersionResource, kind string, scope admissionregistrationv1.ScopeType,
	create func(context.Context, *Request, *T) ([]PatchOp, error),
	update func(ctx context.Context, r *Request, old, obj *T) ([]PatchOp, error),
) route {
	rt := route{gvr: gvr, kind: kind, scope: scope, ops: operations(create != nil, update != nil, false)}
	rt.admit = func(ctx context.Context, r *Request) ([]PatchOp, error) {
		old, obj, err := decodeObjects[T](r)
		switch {
		case err != nil:
			return nil, err
		case r.Operation == admissionv1.Create && create != nil:
			return create(ctx, r, obj)
		case r.Operation == admissionv1.Update && update != nil:
			return update(ctx, r, old, obj)
		}
		return nil, nil
	}
	return rt
}

// validating builds a route for a validator of T.
func validating[T any](gvr schema.GroupVersionResource, kind string, scope admissionregistrationv1.ScopeType,
	create func(context.Context, *Request, *T) error,
	update func(ctx context.Context, r *Request, old, obj *T) error,
	del func(context.Context, *Request, *T) error,
) route {
	rt := route{gvr: gvr, kind: kind, scope: scope, ops: operations(create != nil, update != nil, del != nil)}
	rt.admit = func(ctx context.Context, r *Request) ([]PatchOp, error) {
		old, obj, err := decodeObjects[T](r)
		switch {
		case err != nil:
		case r.Operation == admissionv1.Create && create != nil:
			err = create(ctx, r, obj)
		case r.Operation == admissionv1.Update && update != nil:
			err = update(ctx, r, old, obj)
		case r.Operation == admissionv1.Delete && del != nil:
			err = del(ctx, r, old)
		}
		return nil, err
	}
	return rt
}

func operations(create, update, del bool) []admissionregistrationv1.OperationType {
	var ops []admissionregistrationv1.OperationType
	if create {
		ops = append(ops, admissionregistrationv1.Create)
	}
	if update {
		ops = append(ops, admissionregistrationv1.Update)
	}
	if del {
		ops = append(ops, admissionregistrationv1.Delete)
	}
	return ops
}

// decodeObjects decodes the objects the operation carries: object for
// CREATE and CONNECT, oldObject then object for UPDATE, oldObject for DELETE.
// Like upstream, any other operation has its object decoded, then is refused.
func decodeObjects[T any](r *Request) (old, obj *T, err error) {
	switch r.Operation {
	case admissionv1.Create, admissionv1.Connect:
		obj, err = decodeObject[T](r.Object.Raw, "object")
	case admissionv1.Update:
		if old, err = decodeObject[T](r.OldObject.Raw, "oldObject"); err == nil {
			obj, err = decodeObject[T](r.Object.Raw, "object")
		}
	case admissionv1.Delete:
		old, err = decodeObject[T](r.OldObject.Raw, "oldObject")
	default:
		if _, err = decodeObject[T](r.Object.Raw, "object"); err == nil {
			err = fmt.Errorf("unsupported operation %s", quote(string(r.Operation)))
		}
	}
	return old, obj, err
}

var errNoObject = errors.New("is missing from the admission request")

func decodeObject[T any](raw []byte, field string) (*T, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("request.%s %w", field, errNoObject)
	}
	obj := new(T)
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, quoteError(err)
	}
	return obj, nil
}

// requestGVK is the kind the router matches on: requestKind when the API
// server sent it, else kind.
func requestGVK(req *admissionv1.AdmissionRequest) schema.GroupVersionKind {
	k := req.Kind
	if req.RequestKind != nil {
		k = *req.RequestKind
	}
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// noRoute is upstream's error for a kind no handler serves, e.g.
// "no route match found for CREATE /v1, Kind=ConfigMap default/cm".
func noRoute(req *admissionv1.AdmissionRequest) error {
	name := req.Name
	if req.Namespace != "" {
		name = req.Namespace + "/" + req.Name
	}
	return fmt.Errorf("no route match found for %s %s %s", quote(string(req.Operation)), quote(requestGVK(req).String()), quote(name))
}

// clusterNetwork looks up a ClusterNetwork by a name the request chose: the
// NotFound error quotes the name, so its text is cut as quote cuts.
func (r *Request) clusterNetwork(ctx context.Context, name string) (*informers.ClusterNetwork, error) {
	cn, err := r.Store.ClusterNetwork(ctx, name)
	return cn, quoteError(err)
}
