package dropin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// auditEvent is the part of a kube-apiserver audit event the tests read.
type auditEvent struct {
	AuditID string `json:"auditID"`
	Verb    string `json:"verb"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	RequestURI     string `json:"requestURI"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// call names a request as "verb resource.group", e.g. "get
// vlanconfigs.network.harvesterhci.io"; a watch that streams the initial
// list (client-go's WatchListClient) is marked "(list)", and a response
// other than 2xx gets its code.
func (e auditEvent) call() string {
	if e.ObjectRef == nil {
		return e.Verb + " " + e.RequestURI
	}
	r := e.Verb + " " + e.ObjectRef.Resource
	if e.ObjectRef.APIGroup != "" {
		r += "." + e.ObjectRef.APIGroup
	}
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	if e.Verb == "watch" && strings.Contains(e.RequestURI, "sendInitialEvents=true") {
		r += " (list)"
	}
	if e.ResponseStatus != nil && (e.ResponseStatus.Code < 200 || e.ResponseStatus.Code > 299) {
		r += fmt.Sprintf(" → %d", e.ResponseStatus.Code)
	}
	return r
}

// webhookCalls returns the webhook's requests so far, in order, one per
// request: a watch is logged when its response starts and again when it
// ends, and counts once.
func (c *cluster) webhookCalls(t *testing.T) []auditEvent {
	t.Helper()
	f, err := os.Open(c.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []auditEvent
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log: %v", err)
		}
		if e.User.Username != webhookUser || seen[e.AuditID] {
			continue
		}
		seen[e.AuditID] = true
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// summary counts calls by kind, sorted: "2× get secrets".
func summary(events []auditEvent) string {
	counts := map[string]int{}
	for _, e := range events {
		counts[e.call()]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lines := make([]string, len(keys))
	for n, k := range keys {
		lines[n] = fmt.Sprintf("%d× %s", counts[k], k)
	}
	if len(lines) == 0 {
		return "none"
	}
	return strings.Join(lines, "; ")
}

// detection returns the calls of the release detection: access reviews,
// CRD GETs and the Helm release's Secrets.
func detection(events []auditEvent) []auditEvent {
	var out []auditEvent
	for _, e := range events {
		if e.ObjectRef == nil {
			continue
		}
		switch r := e.ObjectRef; {
		case r.Resource == "selfsubjectaccessreviews",
			r.Resource == "customresourcedefinitions" && e.Verb == "get",
			r.Resource == "secrets" && (e.Verb == "list" || strings.HasPrefix(r.Name, "sh.helm.release.")):
			out = append(out, e)
		}
	}
	return out
}

// forbidden returns the calls the API server refused for lack of permission.
func forbidden(events []auditEvent) []string {
	var out []string
	for _, e := range events {
		if e.ResponseStatus != nil && e.ResponseStatus.Code == 403 {
			out = append(out, e.call())
		}
	}
	return out
}
