package admission

import "fmt"

// maxQuoted bounds what a denial or an error quotes of a value the request
// chose (a NAD config, an annotation, a name): such values can be megabytes,
// and no answer may grow with them. Upstream quotes them whole; every value
// of the recorded cases is far shorter.
const maxQuoted = 1024

// quote returns s, or its first maxQuoted bytes followed by how long it
// was.
func quote(s string) string { return cut(s, maxQuoted) }

// cut returns s, or its first n bytes (on a rune boundary) followed by how
// long it was.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s (cut: %d bytes in all)", truncate(s, n), len(s))
}

// quotedError is an error whose text is cut as quote cuts a value: decode
// errors quote the input (encoding/json an out-of-range number literal,
// strconv the whole string).
type quotedError struct{ err error }

func (e quotedError) Error() string { return quote(e.err.Error()) }
func (e quotedError) Unwrap() error { return e.err }

// quoteError bounds err's text; nil stays nil.
func quoteError(err error) error {
	if err == nil {
		return nil
	}
	return quotedError{err}
}

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
	return fmt.Errorf("%s %s nad %s/%s because %w", r.cannot(), op, quote(namespace), quote(name), err)
}

func clusterNetworkError(r *Request, op, name string, err error) error {
	return fmt.Errorf("%s %s cluster network %s because %w", r.cannot(), op, quote(name), err)
}

func vlanConfigError(r *Request, op, name string, err error) error {
	return fmt.Errorf("%s %s vlanConfig %s because %w", r.cannot(), op, quote(name), err)
}
