package admission

import "encoding/json"

// PatchOp is one RFC 6902 operation. Upstream's mutators only ever replace
// whole maps or the whole config string, so that is all this package emits.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

func replaceLabels(labels map[string]string) PatchOp {
	return PatchOp{Op: "replace", Path: "/metadata/labels", Value: labels}
}

func replaceAnnotations(annotations map[string]string) PatchOp {
	return PatchOp{Op: "replace", Path: "/metadata/annotations", Value: annotations}
}

func replaceConfig(config string) PatchOp {
	return PatchOp{Op: "replace", Path: "/spec/config", Value: config}
}

// copyMap returns a copy of m that is never nil, so a patch always carries an
// object even when the original map was absent.
func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m)+2)
	for k, v := range m {
		c[k] = v
	}
	return c
}

func encodePatch(ops []PatchOp) ([]byte, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	return json.Marshal(ops)
}
