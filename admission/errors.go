package admission

import (
	"fmt"
	"strings"
)

// Upstream prefixes every handler error with the operation and the object,
// e.g. "could not create nad default/vlan100 because …".
const (
	opCreate = "create"
	opUpdate = "update"
	opDelete = "delete"
)

// cannot is the verb of the prefix: v0.5.x (v1.4, v1.5) says "could not";
// the network-controller-harvester line (v1.6 on) says "can't", as the
// pre-v0.5 master already did.
func (r *Request) cannot() string {
	if r.Profile.legacy() {
		return "could not"
	}
	return "can't"
}

func nadError(r *Request, op, namespace, name string, err error) error {
	return fmt.Errorf("%s %s nad %s/%s because %w", r.cannot(), op, namespace, name, err)
}

func clusterNetworkError(r *Request, op, name string, err error) error {
	return fmt.Errorf("%s %s cluster network %s because %w", r.cannot(), op, name, err)
}

func vlanConfigError(r *Request, op, name string, err error) error {
	return fmt.Errorf("%s %s vlanConfig %s because %w", r.cannot(), op, name, err)
}

// joinVMs prints VMIs as upstream does: "ns/name, ns/name".
func joinVMs(refs []string) string { return strings.Join(refs, ", ") }
