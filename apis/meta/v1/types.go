// Package v1 declares the metadata of the objects in admission reviews as
// k8s.io/apimachinery's meta/v1 does, field for field: the same names, JSON
// and decode errors (its package and type names are the ones encoding/json
// prints, as for the other apis packages). Only its decoding is cheaper:
// timestamps in the API server's own form are parsed without a second JSON
// decode, and managed fields, which no rule reads, are not copied.
package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ObjectMeta is metav1.ObjectMeta with Time and ManagedFieldsEntry of this
// package.
type ObjectMeta struct {
	Name                       string                  `json:"name,omitempty"`
	GenerateName               string                  `json:"generateName,omitempty"`
	Namespace                  string                  `json:"namespace,omitempty"`
	SelfLink                   string                  `json:"selfLink,omitempty"`
	UID                        types.UID               `json:"uid,omitempty"`
	ResourceVersion            string                  `json:"resourceVersion,omitempty"`
	Generation                 int64                   `json:"generation,omitempty"`
	CreationTimestamp          Time                    `json:"creationTimestamp,omitempty,omitzero"`
	DeletionTimestamp          *Time                   `json:"deletionTimestamp,omitempty"`
	DeletionGracePeriodSeconds *int64                  `json:"deletionGracePeriodSeconds,omitempty"`
	Labels                     map[string]string       `json:"labels,omitempty"`
	Annotations                map[string]string       `json:"annotations,omitempty"`
	OwnerReferences            []metav1.OwnerReference `json:"ownerReferences,omitempty"`
	Finalizers                 []string                `json:"finalizers,omitempty"`
	ManagedFields              []ManagedFieldsEntry    `json:"managedFields,omitempty"`
}

// ManagedFieldsEntry is metav1.ManagedFieldsEntry with Time and FieldsV1 of
// this package.
type ManagedFieldsEntry struct {
	Manager     string                            `json:"manager,omitempty"`
	Operation   metav1.ManagedFieldsOperationType `json:"operation,omitempty"`
	APIVersion  string                            `json:"apiVersion,omitempty"`
	Time        *Time                             `json:"time,omitempty"`
	FieldsType  string                            `json:"fieldsType,omitempty"`
	FieldsV1    *FieldsV1                         `json:"fieldsV1,omitempty"`
	Subresource string                            `json:"subresource,omitempty"`
}

// FieldsV1 accepts any JSON value, as metav1.FieldsV1 does, and keeps none
// of it: metav1's copies the bytes of a set of fields no rule reads.
type FieldsV1 struct{}

// UnmarshalJSON implements json.Unmarshaler.
func (*FieldsV1) UnmarshalJSON([]byte) error { return nil }

// Time is metav1.Time, decoded without metav1's second JSON decode of the
// string when it is in the form the API server writes
// ("2006-01-02T15:04:05Z"); any other value decodes as metav1.Time decodes
// it, with its errors.
type Time struct {
	metav1.Time
}

// apiServerForm is the length of a quoted RFC 3339 time in UTC to the
// second, the only form the API server writes.
const apiServerForm = len(`"2006-01-02T15:04:05Z"`)

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if !plainString(b, apiServerForm) {
		return t.Time.UnmarshalJSON(b)
	}
	// metav1 would unquote b to these very bytes, then parse them so.
	pt, err := time.Parse(time.RFC3339, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	t.Time.Time = pt.Local()
	return nil
}

// plainString reports whether b is a JSON string of n bytes, quotes
// included, of printable ASCII without escapes: its value is its inner
// bytes.
func plainString(b []byte, n int) bool {
	if len(b) != n || b[0] != '"' || b[n-1] != '"' {
		return false
	}
	for _, c := range b[1 : n-1] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
