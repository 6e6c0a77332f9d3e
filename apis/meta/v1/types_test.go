package v1

import (
	"encoding/json"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// decodeBoth decodes doc as {"metadata": ...} into this package's
// ObjectMeta and metav1's, and returns both results as text: what a rule
// can see of them, or the error.
func decodeBoth(doc string) (ours, theirs string) {
	var o struct {
		ObjectMeta `json:"metadata"`
	}
	var m struct {
		metav1.ObjectMeta `json:"metadata"`
	}
	errO, errM := json.Unmarshal([]byte(doc), &o), json.Unmarshal([]byte(doc), &m)
	if errO != nil || errM != nil {
		return fmt.Sprint(errO), fmt.Sprint(errM)
	}
	del := func(t *metav1.Time) string {
		if t == nil {
			return "nil"
		}
		return t.UTC().String()
	}
	var oDel *metav1.Time
	if o.DeletionTimestamp != nil {
		oDel = &o.DeletionTimestamp.Time
	}
	ours = fmt.Sprint(o.Name, o.Namespace, o.UID, o.ResourceVersion, o.Generation, o.Labels, o.Annotations, o.OwnerReferences,
		o.Finalizers, o.CreationTimestamp.UTC(), del(oDel), len(o.ManagedFields))
	theirs = fmt.Sprint(m.Name, m.Namespace, m.UID, m.ResourceVersion, m.Generation, m.Labels, m.Annotations, m.OwnerReferences,
		m.Finalizers, m.CreationTimestamp.UTC(), del(m.DeletionTimestamp), len(m.ManagedFields))
	return ours, theirs
}

func TestObjectMetaDecodesAsMetav1(t *testing.T) {
	for _, doc := range []string{
		`{"metadata":{"name":"n","namespace":"ns","uid":"u","resourceVersion":"7","generation":3,"labels":{"a":"b"},"annotations":{"c":"d"},` +
			`"creationTimestamp":"2026-11-20T08:15:30Z","deletionTimestamp":"2026-11-27T06:00:00Z","finalizers":["f"],` +
			`"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"p","uid":"x"}],` +
			`"managedFields":[{"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2026-11-20T08:15:30Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{}}}]}}`,
		`{"metadata":{"creationTimestamp":null,"deletionTimestamp":null}}`,
		`{"metadata":{"creationTimestamp":"2026-11-20T08:15:30+02:00"}}`,       // another offset: metav1's path
		`{"metadata":{"creationTimestamp":"2026-11-20T08:15:30.5Z"}}`,          // fractions
		`{"metadata":{"creationTimestamp":"2026-02-30T08:15:30Z"}}`,            // day out of range
		`{"metadata":{"creationTimestamp":"2026-11-20 08:15:30Z"}}`,            // 20 bytes, not RFC 3339
		`{"metadata":{"creationTimestamp":"2026-11-20T08:15:3\u0030Z"}}`,       // an escape
		`{"metadata":{"creationTimestamp":"garbage"}}`,                         //
		`{"metadata":{"creationTimestamp":5}}`,                                 // not a string
		`{"metadata":{"deletionTimestamp":{}}}`,                                //
		`{"metadata":{"generation":"3"}}`,                                      // wrong type
		`{"metadata":{"labels":{"a":1}}}`,                                      //
		`{"metadata":{"managedFields":[{"time":true}]}}`,                       //
		`{"metadata":{"managedFields":[{"fieldsV1":"anything","time":null}]}}`, //
		`{"metadata":{"managedFields":{}}}`,                                    //
		`{"metadata":[]}`,                                                      //
	} {
		ours, theirs := decodeBoth(doc)
		if ours != theirs {
			t.Errorf("%s:\nours   %s\nmetav1 %s", doc, ours, theirs)
		}
	}
}

func FuzzTimeDecodesAsMetav1(f *testing.F) {
	for _, s := range []string{`"2026-11-20T08:15:30Z"`, `"2026-13-20T08:15:30Z"`, `null`, `"x"`, `"2026-11-20T08:15:30\u005a"`, "\"2026-11-20T08:15:3\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return // the decoder validates the document before any UnmarshalJSON
		}
		var ours Time
		var theirs metav1.Time
		errO, errM := ours.UnmarshalJSON([]byte(s)), theirs.UnmarshalJSON([]byte(s))
		if fmt.Sprint(errO) != fmt.Sprint(errM) || !ours.Equal(&theirs) {
			t.Errorf("%q: ours %v, %v; metav1 %v, %v", s, ours, errO, theirs, errM)
		}
	})
}
