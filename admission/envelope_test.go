package admission

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// scanAgrees checks scanReview against encoding/json on body: when it
// reads body, json.Unmarshal must read body the same; when body is not
// valid JSON, it must decline.
func scanAgrees(t *testing.T, body []byte) (scanned bool) {
	t.Helper()
	got, ok := scanReview(body)
	if !ok {
		return false
	}
	if !json.Valid(body) {
		t.Fatalf("scanReview read invalid JSON %q", body)
	}
	var want admissionReview
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("scanReview read %q, which json.Unmarshal refuses: %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("scanReview read %q as\n%+v %+v\nwant\n%+v %+v", body, got, got.Request, want, want.Request)
	}
	return true
}

// Every recorded request is read by the scanner, as sent and indented: it
// is the API server's shape, which the fast path exists for.
func TestScanReviewReadsEveryRecordedRequest(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "parity", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no parity cases: %v", err)
	}
	for _, file := range files {
		c := loadParityCase(t, file)
		var indented bytes.Buffer
		if err := json.Indent(&indented, c.Request, "", "\t"); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		for _, body := range [][]byte{c.Request, indented.Bytes()} {
			if !scanAgrees(t, body) {
				t.Errorf("%s: scanReview declined the recorded request %.200s", c.Name, body)
			}
		}
	}
}

func TestScanReview(t *testing.T) {
	const req = `"uid":"u","kind":{"group":"k8s.cni.cncf.io","version":"v1","kind":"NetworkAttachmentDefinition"},"operation":"CREATE"`
	for _, c := range []struct {
		name    string
		body    string
		scanned bool
	}{
		{"minimal", `{"apiVersion":"admission.k8s.io/v1","request":{` + req + `}}`, true},
		{"white space everywhere", " {\n\t\"apiVersion\" : \"admission.k8s.io/v1\" ,\r\n \"request\" : { " + req + " } } \n", true},
		{"objects kept as their bytes", `{"apiVersion":"v","request":{` + req + `,"object":{"a":[1,-2.5e+3,true,false,null,"\u00e9\n"],"b":{}},"oldObject":null}}`, true},
		{"requestKind null", `{"apiVersion":"v","request":{"requestKind":null}}`, true},
		{"unknown fields skipped", `{"kind":"AdmissionReview","apiVersion":"v","request":{"resource":{"group":""},"userInfo":{"username":"u","groups":["a","b"],"extra":{"x":["y"]}},"dryRun":false,"options":null}}`, true},
		{"escaped key inside an object", `{"apiVersion":"v","request":{"object":{"a\"b":1}}}`, true},
		{"UTF-8 in a kept string", `{"apiVersion":"v","request":{"name":"é"}}`, true},
		{"empty request", `{"apiVersion":"v","request":{}}`, true},

		{"no request", `{"apiVersion":"v"}`, false},
		{"request null", `{"apiVersion":"v","request":null}`, false},
		{"key matching case-insensitively", `{"APIVERSION":"v","request":{}}`, false},
		{"nested key matching case-insensitively", `{"apiVersion":"v","request":{"Name":"n"}}`, false},
		{"Kelvin sign folding to kind", `{"apiVersion":"v","request":{"` + "\u212a" + `ind":{}}}`, false},
		{"field given twice", `{"apiVersion":"a","apiVersion":"b","request":{}}`, false},
		{"request given twice", `{"apiVersion":"v","request":{"name":"a"},"request":{"uid":"u"}}`, false},
		{"escape in a kept string", `{"apiVersion":"v","request":{"name":"a\u0062"}}`, false},
		{"escape in a key", `{"api\u0056ersion":"v","request":{}}`, false},
		{"invalid UTF-8 in a kept string", "{\"apiVersion\":\"v\",\"request\":{\"name\":\"\xff\"}}", false},
		{"a number for a string", `{"apiVersion":1,"request":{}}`, false},
		{"null for a string", `{"apiVersion":null,"request":{}}`, false},
		{"trailing data", `{"apiVersion":"v","request":{}}x`, false},
		{"two values", `{"apiVersion":"v","request":{}} {}`, false},
		{"trailing comma", `{"apiVersion":"v","request":{},}`, false},
		{"leading zero", `{"apiVersion":"v","request":{"object":01}}`, false},
		{"bare minus", `{"apiVersion":"v","request":{"object":-}}`, false},
		{"fraction without digits", `{"apiVersion":"v","request":{"object":1.}}`, false},
		{"exponent without digits", `{"apiVersion":"v","request":{"object":1e+}}`, false},
		{"bad escape", `{"apiVersion":"v","request":{"object":"\x"}}`, false},
		{"short unicode escape", `{"apiVersion":"v","request":{"object":"\u12"}}`, false},
		{"control character in a string", "{\"apiVersion\":\"v\",\"request\":{\"object\":\"a\tb\"}}", false},
		{"truncated literal", `{"apiVersion":"v","request":{"object":tru}}`, false},
		{"literal run on", `{"apiVersion":"v","request":{"object":truex}}`, false},
		{"unterminated", `{"apiVersion":"v","request":{"object":[1,2`, false},
		{"array at the top", `[]`, false},
		{"empty", ``, false},
		{"too deep", `{"apiVersion":"v","request":{"object":` + strings.Repeat("[", maxScanDepth) + strings.Repeat("]", maxScanDepth) + `}}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := scanAgrees(t, []byte(c.body)); got != c.scanned {
				t.Errorf("scanned %v, want %v", got, c.scanned)
			}
		})
	}
}

// FuzzScanReview holds the scanner to encoding/json on arbitrary bodies,
// seeded with every recorded request.
func FuzzScanReview(f *testing.F) {
	for _, c := range loadCorpusSeeds(f).cases {
		f.Add([]byte(c.Request))
	}
	f.Add([]byte(`{"apiVersion":"v","request":{"requestKind":null,"object":{"a":[1,-2.5e+3,true,false,null,"\u00e9"]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		scanAgrees(t, body)
	})
}
