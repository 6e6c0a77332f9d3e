package dropin

import (
	"strings"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// summary counts calls by kind, sorted: "2× get secrets …".
func summary(events []harness.AuditEvent) string { return harness.AuditSummary(events) }

// detection returns the calls of the release detection: access reviews,
// CRD GETs and the Helm release's Secrets.
func detection(events []harness.AuditEvent) []harness.AuditEvent {
	var out []harness.AuditEvent
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
func forbidden(events []harness.AuditEvent) []string {
	var out []string
	for _, e := range events {
		if e.Forbidden() {
			out = append(out, e.Call())
		}
	}
	return out
}
