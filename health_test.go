package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

func TestProfilingIsOptIn(t *testing.T) {
	store := informerstest.NewStore(t)
	for _, profiling := range []bool{false, true} {
		h := healthHandler(&readiness{informers: store}, newMetrics(store), profiling)
		for path, want := range map[string]int{"/healthz": http.StatusOK, "/debug/pprof/heap": http.StatusNotFound} {
			if profiling && path == "/debug/pprof/heap" {
				want = http.StatusOK
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want {
				t.Errorf("profiling=%v: GET %s = %d, want %d", profiling, path, rec.Code, want)
			}
		}
	}
}
