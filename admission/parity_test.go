package admission

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/go-chi/chi/v5"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// parityCase is one recorded upstream exchange (see testdata/parity/README).
type parityCase struct {
	Name           string            `json:"name"`
	Profile        string            `json:"profile"`
	Rule           string            `json:"rule"`
	Objects        []json.RawMessage `json:"objects"`
	Webhook        string            `json:"webhook"`
	Request        json.RawMessage   `json:"request"`
	Requires       []string          `json:"requires"`
	Response       *parityResponse   `json:"response"`
	UpstreamFailed *string           `json:"upstreamFailed"`
}

type parityResponse struct {
	Allowed   bool            `json:"allowed"`
	Status    *parityStatus   `json:"status"`
	PatchType *string         `json:"patchType"`
	Patch     json.RawMessage `json:"patch"`
}

type parityStatus struct {
	Code    int32  `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// parityDirs are the recorded corpora, one per recorded release.
var parityDirs = []string{"v1.4", "v1.6", "v1.7", "v1.8", "v1.9"}

// upstreamControllerUser is upstream master's --controller-user default.
const upstreamControllerUser = "system:serviceaccount:harvester-system:harvester-network-controller"

// TestParity replays every recorded upstream case through the HTTP handler,
// over the real informer code, and compares the answers exactly. Each case
// runs with its own profile.
// PARITY_DIR replays another corpus directory of the same format.
func TestParity(t *testing.T) {
	dirs := []string{os.Getenv("PARITY_DIR")}
	if dirs[0] == "" {
		dirs = nil
		for _, d := range parityDirs {
			dirs = append(dirs, filepath.Join("testdata", "parity", d))
		}
	}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no parity cases (*.json) in %s", dir)
		}
		sort.Strings(files)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			for _, file := range files {
				c := loadParityCase(t, file)
				t.Run(c.Name, func(t *testing.T) { replayParityCase(t, c) })
			}
		})
	}
}

func loadParityCase(t *testing.T, file string) *parityCase {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := &parityCase{}
	if err := json.Unmarshal(b, c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

func replayParityCase(t *testing.T, c *parityCase) {
	version, err := ParseVersion(c.Profile)
	if err != nil {
		t.Fatalf("case %s: %v", c.Name, err)
	}
	actual := parityAnswer(t, c, version, len(c.Requires) > 0)
	if c.UpstreamFailed != nil {
		// Upstream crashed; we must deny, with a message that says why.
		if actual.Allowed || actual.Status == nil || actual.Status.Message == "" {
			t.Errorf("case %s (upstream failed: %s): want a denial with a message, got %s", c.Name, *c.UpstreamFailed, dump(actual))
		}
		return
	}
	if !reflect.DeepEqual(normalize(t, c.Response), normalize(t, actual)) {
		t.Errorf("case %s (%s)\nexpected: %s\nactual:   %s", c.Name, c.Rule, dump(c.Response), dump(actual))
	}
}

// parityAnswer replays c's request, over c's objects, with the rules of
// version; kubeOVN seeds the CRD subnets.kubeovn.io.
func parityAnswer(t *testing.T, c *parityCase, version Version, kubeOVN bool) *parityResponse {
	t.Helper()
	objs := make([]*unstructured.Unstructured, len(c.Objects))
	for i, raw := range c.Objects {
		objs[i] = &unstructured.Unstructured{}
		if err := objs[i].UnmarshalJSON(raw); err != nil {
			t.Fatalf("case %s: object %d: %v", c.Name, i, err)
		}
	}
	for _, r := range c.Requires {
		if r != "kubeovn" {
			t.Fatalf("case %s: unknown requirement %q", c.Name, r)
		}
	}
	if kubeOVN {
		objs = append(objs, informerstest.KubeOVNCRD())
	}
	profile := Profile{Version: version}
	if version >= V1_9 {
		profile.ControllerUser = upstreamControllerUser
	}
	store := informerstest.NewVersion(t, int(version), objs...).Store
	srv := NewServer(Config{Profile: profile, Store: store})
	router := chi.NewRouter()
	srv.Routes(router)

	req := httptest.NewRequest(http.MethodPost, "/v1/webhook/"+c.Webhook, bytes.NewReader(c.Request))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("case %s: HTTP %d: %s", c.Name, rec.Code, rec.Body.String())
	}
	var got admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Response == nil {
		t.Fatalf("case %s: undecodable answer %q: %v", c.Name, rec.Body.String(), err)
	}
	var sent admissionv1.AdmissionReview
	_ = json.Unmarshal(c.Request, &sent)
	if got.Response.UID != sent.Request.UID {
		t.Errorf("case %s: response uid %q, want the request's %q", c.Name, got.Response.UID, sent.Request.UID)
	}
	return toParityResponse(got.Response)
}

func toParityResponse(r *admissionv1.AdmissionResponse) *parityResponse {
	p := &parityResponse{Allowed: r.Allowed}
	if r.Result != nil {
		p.Status = &parityStatus{Code: r.Result.Code, Reason: string(r.Result.Reason), Message: r.Result.Message}
	}
	if r.PatchType != nil {
		pt := string(*r.PatchType)
		p.PatchType = &pt
	}
	if r.Patch != nil {
		p.Patch = r.Patch
	}
	return p
}

// normalize decodes the patch so that whitespace and key order don't count,
// while op order and every value still do.
func normalize(t *testing.T, r *parityResponse) map[string]any {
	var patch any
	if len(r.Patch) > 0 && string(r.Patch) != "null" {
		if err := json.Unmarshal(r.Patch, &patch); err != nil {
			t.Fatalf("undecodable patch %s: %v", r.Patch, err)
		}
	}
	return map[string]any{"allowed": r.Allowed, "status": r.Status, "patchType": r.PatchType, "patch": patch}
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
