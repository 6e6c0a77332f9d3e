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

// fromController reports whether the network controller sent the request.
func (r *Request) fromController() bool {
	return r.Profile.ControllerUser != "" && r.UserInfo.Username == r.Profile.ControllerUser
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
	ops   []admissionregistrationv1.OperationType
	admit func(ctx context.Context, r *Request) ([]PatchOp, error)
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
	rt := route{gvr: gvr, kind: kind, scope: scope}
	rt.ops = operations(create != nil, update != nil, false)
	rt.admit = func(ctx context.Context, r *Request) ([]PatchOp, error) {
		return dispatch(ctx, r, create, update, nil)
	}
	return rt
}

// validating builds a route for a validator of T.
func validating[T any](gvr schema.GroupVersionResource, kind string, scope admissionregistrationv1.ScopeType,
	create func(context.Context, *Request, *T) error,
	update func(ctx context.Context, r *Request, old, obj *T) error,
	del func(context.Context, *Request, *T) error,
) route {
	rt := route{gvr: gvr, kind: kind, scope: scope}
	rt.ops = operations(create != nil, update != nil, del != nil)
	var c func(context.Context, *Request, *T) ([]PatchOp, error)
	var u func(context.Context, *Request, *T, *T) ([]PatchOp, error)
	var d func(context.Context, *Request, *T) ([]PatchOp, error)
	if create != nil {
		c = func(ctx context.Context, r *Request, obj *T) ([]PatchOp, error) { return nil, create(ctx, r, obj) }
	}
	if update != nil {
		u = func(ctx context.Context, r *Request, old, obj *T) ([]PatchOp, error) {
			return nil, update(ctx, r, old, obj)
		}
	}
	if del != nil {
		d = func(ctx context.Context, r *Request, old *T) ([]PatchOp, error) { return nil, del(ctx, r, old) }
	}
	rt.admit = func(ctx context.Context, r *Request) ([]PatchOp, error) {
		return dispatch(ctx, r, c, u, d)
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

// dispatch decodes the objects the operation carries (CREATE and CONNECT:
// object; UPDATE: oldObject and object; DELETE: oldObject) and calls the
// operation's function, if any.
func dispatch[T any](ctx context.Context, r *Request,
	create func(context.Context, *Request, *T) ([]PatchOp, error),
	update func(context.Context, *Request, *T, *T) ([]PatchOp, error),
	del func(context.Context, *Request, *T) ([]PatchOp, error),
) ([]PatchOp, error) {
	switch r.Operation {
	case admissionv1.Create, admissionv1.Connect:
		obj, err := decodeObject[T](r.Object.Raw, "object")
		if err != nil || create == nil || r.Operation == admissionv1.Connect {
			return nil, err
		}
		return create(ctx, r, obj)
	case admissionv1.Update:
		old, err := decodeObject[T](r.OldObject.Raw, "oldObject")
		if err != nil {
			return nil, err
		}
		obj, err := decodeObject[T](r.Object.Raw, "object")
		if err != nil || update == nil {
			return nil, err
		}
		return update(ctx, r, old, obj)
	case admissionv1.Delete:
		old, err := decodeObject[T](r.OldObject.Raw, "oldObject")
		if err != nil || del == nil {
			return nil, err
		}
		return del(ctx, r, old)
	default:
		return nil, fmt.Errorf("unknown operation %q", r.Operation)
	}
}

var errNoObject = errors.New("is missing from the admission request")

func decodeObject[T any](raw []byte, field string) (*T, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("request.%s %w", field, errNoObject)
	}
	obj := new(T)
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, err
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
	return fmt.Errorf("no route match found for %s %s %s", req.Operation, requestGVK(req), name)
}
