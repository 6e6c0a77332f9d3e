package informers

import (
	"slices"
	"strings"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// projection is all that is kept of a network user (a VMI): a 112-byte
// struct plus name and resourceVersion, the other strings interned; about
// 170 bytes per VMI in the projection store, its lists included
// (BenchmarkCachedBytesPerObject). It implements metav1.Object and
// runtime.Object only so that the reflector and its queue can key and hand
// it around (projection_meta.go).
type projection struct {
	namespace       string
	name            string
	resourceVersion string
	node            string   // at Kind.NodePath, e.g. status.nodeName
	qualified       []string // distinct networkNames written "ns/name"
	local           []string // distinct bare networkNames, as "<namespace>/name"
}

// projector builds projections for one kind.
type projector struct {
	kind   string
	path   []string // to the networks list, e.g. spec.networks
	node   []string // to the node name, e.g. status.nodeName; nil for none
	logger *zap.Logger
}

// transform is the informer transform of a projected kind. The full decoded
// object becomes garbage as soon as it returns. It is idempotent, and lets
// other types (tombstones) through.
func (p *projector) transform(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return p.project(u), nil
	}
	return obj, nil
}

func (p *projector) project(u *unstructured.Unstructured) *projection {
	node := ""
	if len(p.node) > 0 {
		node, _ = nested(u.Object, p.node...).(string)
	}
	var networks []string
	if raw := nested(u.Object, p.path...); raw != nil {
		list, ok := raw.([]any)
		if !ok {
			// Malformed objects are kept without networks rather than failing
			// the informer; the API server's schema makes this unlikely.
			p.logger.Debug("Networks field is not a list", zap.String("kind", p.kind),
				zap.String("namespace", u.GetNamespace()), zap.String("name", u.GetName()),
				zap.String("path", strings.Join(p.path, ".")))
		}
		for _, n := range list {
			if name, ok := nested(n, "multus", "networkName").(string); ok && name != "" {
				networks = append(networks, name)
			}
		}
	}
	return p.build(u.GetNamespace(), u.GetName(), u.GetResourceVersion(), node, networks)
}

// build makes the projection of one object from its identity, node and the
// multus networkNames of its interfaces.
func (p *projector) build(namespace, name, resourceVersion, node string, networks []string) *projection {
	pr := &projection{
		namespace: intern(namespace),
		// Cloned so that the projection never pins the decoded object.
		name:            strings.Clone(name),
		resourceVersion: strings.Clone(resourceVersion),
	}
	if node != "" {
		pr.node = intern(node)
	}
	for _, n := range networks {
		if strings.Contains(n, "/") {
			pr.qualified = appendDistinct(pr.qualified, n)
		} else {
			pr.local = appendDistinct(pr.local, pr.namespace+"/"+n)
		}
	}
	pr.qualified = slices.Clip(pr.qualified)
	pr.local = slices.Clip(pr.local)
	return pr
}

// appendDistinct appends the interned s to list unless it is there already:
// two interfaces on one network index the object once, as upstream's index
// (a set per value) does.
func appendDistinct(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, intern(s))
}

// nested walks maps along path and returns what it finds, or nil when a step
// is missing or not a map.
func nested(v any, path ...string) any {
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}
