package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// AuditEvent is the part of a kube-apiserver audit event (JSON lines, level
// Metadata or more) that the tests read.
type AuditEvent struct {
	AuditID string `json:"auditID"`
	Verb    string `json:"verb"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	RequestURI     string `json:"requestURI"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// Call names the request as "verb resource.group[/subresource] [name]"
// (e.g. "get secrets harvester-network-webhook-ca"), or "verb URI" for a
// non-resource request, with the response code when it is not 2xx.
func (e AuditEvent) Call() string {
	if e.ObjectRef == nil {
		return e.Verb + " " + e.RequestURI + e.failure()
	}
	r := e.Verb + " " + e.ObjectRef.Resource
	if e.ObjectRef.APIGroup != "" {
		r += "." + e.ObjectRef.APIGroup
	}
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	if e.ObjectRef.Name != "" {
		r += " " + e.ObjectRef.Name
	}
	return r + e.failure()
}

func (e AuditEvent) failure() string {
	if e.ResponseStatus != nil && (e.ResponseStatus.Code < 200 || e.ResponseStatus.Code > 299) {
		return fmt.Sprintf(" → %d", e.ResponseStatus.Code)
	}
	return ""
}

// Forbidden tells whether the API server refused the request for lack of
// permission.
func (e AuditEvent) Forbidden() bool {
	return e.ResponseStatus != nil && e.ResponseStatus.Code == 403
}

// ReadAudit returns user's requests in the audit log at path, in order, one
// event per request: a watch is logged when its response starts and again
// when it ends, and counts once.
func ReadAudit(path, user string) ([]AuditEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []AuditEvent
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit log %s: %w", path, err)
		}
		if e.User.Username != user || seen[e.AuditID] {
			continue
		}
		seen[e.AuditID] = true
		out = append(out, e)
	}
	return out, sc.Err()
}

// AuditSummary counts requests by Call, sorted by call: "2× get secrets …".
func AuditSummary(events []AuditEvent) string {
	counts := map[string]int{}
	for _, e := range events {
		counts[e.Call()]++
	}
	if len(counts) == 0 {
		return "none"
	}
	calls := slices.Sorted(maps.Keys(counts))
	for n, call := range calls {
		calls[n] = fmt.Sprintf("%d× %s", counts[call], call)
	}
	return strings.Join(calls, "; ")
}
