package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profiler saves the webhook's pprof profiles into dir (our binary started
// with --profiling true); a nil profiler saves nothing.
type profiler struct {
	dir string
	wh  process
}

func newProfiler(dir string, wh process) (*profiler, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &profiler{dir: dir, wh: wh}, nil
}

// heap saves the heap profile after a forced GC, so its in-use figures are
// what is live.
func (p *profiler) heap(ctx context.Context, name string) {
	if p != nil {
		p.save(ctx, "heap?gc=1", "heap-"+name+".pb.gz")
	}
}

// cpu starts a CPU profile of d in the background; the returned func waits
// for it to be saved.
func (p *profiler) cpu(ctx context.Context, name string, d time.Duration) (wait func()) {
	if p == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.save(ctx, fmt.Sprintf("profile?seconds=%d", max(1, int(d.Seconds())-1)), "cpu-"+name+".pb.gz")
	}()
	return func() { <-done }
}

// save fetches /debug/pprof/<query> into file; a failure is logged, not
// fatal: the figures matter more than the profile.
func (p *profiler) save(ctx context.Context, query, file string) {
	err := func() error {
		base := p.wh.HealthURL()
		if base == "" {
			return fmt.Errorf("the webhook has no health port")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/pprof/"+query, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d (is the binary started with --profiling true?)", resp.StatusCode)
		}
		f, err := os.Create(filepath.Join(p.dir, file))
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			_ = f.Close()
			return err
		}
		return f.Close()
	}()
	if err != nil {
		logf("profile %s not saved: %v", file, err)
	}
}
