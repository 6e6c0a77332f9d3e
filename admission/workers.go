package admission

import (
	"context"
	"time"
)

// workers runs reviews — decoding, rules, encoding — on at most
// cap(slots) goroutines that outlive a review.
//
// net/http serves each HTTP/2 stream on a new goroutine with a small stack,
// and decoding a review's JSON grew it several times, each growth a copy of
// the whole stack: a tenth of the webhook's CPU. A worker's stack stays
// grown from one review to the next. The slots also bound the reviews
// decided at once: the work is CPU-bound, and each holds its decoded
// objects and its answer.
type workers struct {
	slots chan struct{} // one per running worker, idle or not
	jobs  chan func()   // unbuffered: a job goes to an idle worker
	// idle is how long a worker waits for its next job before it exits.
	idle time.Duration
}

// workerIdle keeps a worker through the pauses of a steady load without
// keeping goroutines around when nothing is asked for.
const workerIdle = time.Minute

func newWorkers(n int) *workers {
	return &workers{slots: make(chan struct{}, n), jobs: make(chan func()), idle: workerIdle}
}

// do runs fn on a worker and returns once it has run. It returns false
// without running fn when no worker came free before ctx ended. A panic in
// fn is raised again in the caller, where net/http deals with it as with
// any handler's.
func (w *workers) do(ctx context.Context, fn func()) bool {
	done := make(chan any, 1)
	job := func() {
		defer func() { done <- recover() }()
		fn()
	}
	select {
	case w.jobs <- job: // an idle worker first
	default:
		select {
		case w.jobs <- job:
		case w.slots <- struct{}{}:
			go w.work(job)
		case <-ctx.Done():
			return false
		}
	}
	if p := <-done; p != nil {
		panic(p)
	}
	return true
}

// work runs job, then the jobs handed to it until it has been idle for
// w.idle.
func (w *workers) work(job func()) {
	defer func() { <-w.slots }()
	idle := time.NewTimer(w.idle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(w.idle)
		select {
		case job = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}
