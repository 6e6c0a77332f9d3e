package informers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// watchError replaces client-go's klog output for list/watch failures. A
// missing permission or CRD would otherwise leave the webhook waiting for its
// caches without a word (as upstream does): it is logged once, in words that
// say what to fix, and kept for Ready until the kind syncs. The reflector
// keeps retrying, so granting the permission or installing the CRD is enough.
func (ki *kindInformer) watchError(logger *zap.Logger, watches *watchTracker, err error) {
	if errors.Is(err, io.EOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		logger.Debug("Watch closed", zap.Error(err))
		return
	}
	watches.failed(ki.kind.GVR)
	msg := ki.kind.describeError(err)
	ki.mu.Lock()
	repeated := msg == ki.lastError
	ki.lastError = msg
	ki.mu.Unlock()
	if repeated {
		logger.Debug(msg)
		return
	}
	// Warn, not Error: zap's production config adds a stack trace to errors,
	// and this line must stay one readable line.
	logger.Warn(msg)
}

// describeError says why listing or watching k failed and what fixes it.
func (k Kind) describeError(err error) string {
	what := k.GVR.GroupVersion().String() + " " + k.GVR.Resource
	switch {
	case apierrors.IsForbidden(err):
		verbs := strings.Join(k.Verbs(), ", ")
		reason := err.Error()
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			reason = status.Status().Message // without client-go's "failed to list" prefix
		}
		if m := forbiddenUser.FindStringSubmatch(reason); m != nil {
			return fmt.Sprintf("cannot list/watch %s: forbidden for %s; grant %s", what, m[1], verbs)
		}
		return fmt.Sprintf("cannot list/watch %s: forbidden (%s); grant %s", what, reason, verbs)
	case apierrors.IsNotFound(err) && k.GVR.Group != "":
		return fmt.Sprintf("cannot list/watch %s: the CRD %s is not installed", what, k.CRDName())
	default:
		return fmt.Sprintf("cannot list/watch %s: %v", what, err)
	}
}

// forbiddenUser finds the user in the API server's Forbidden message
// (User "system:serviceaccount:ns:name" cannot list resource ...).
var forbiddenUser = regexp.MustCompile(`User "([^"]*)" cannot`)

// reportSynced waits until ki has synced and may watch, then clears its
// error, logging the recovery if there was one.
func (ki *kindInformer) reportSynced(ctx context.Context, logger *zap.Logger, notWatching func() bool) {
	began := time.Now()
	select {
	case <-ki.informer.HasSyncedChecker().Done():
	case <-ctx.Done():
		return
	}
	for notWatching() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	ki.mu.Lock()
	had := ki.lastError != ""
	ki.lastError = ""
	ki.mu.Unlock()
	if had {
		logger.Info("Cache synced after earlier list/watch failures", zap.String("kind", ki.kind.Name))
	}
	if ce := logger.Check(zap.DebugLevel, "Cache synced"); ce != nil {
		ce.Write(zap.String("kind", ki.kind.Name), zap.Int64("objects", ki.objects.Load()),
			zap.Duration("after", time.Since(began)))
	}
}

// pending is ki's entry in Ready's list: its name, and why when known.
func (ki *kindInformer) pending() string {
	ki.mu.Lock()
	defer ki.mu.Unlock()
	if ki.lastError == "" {
		return ki.kind.Name
	}
	return ki.kind.Name + " (" + ki.lastError + ")"
}

// WaitForSync blocks until every informer has synced and may watch, or ctx is done; the
// error then names the kinds that have not. With WatchKubeOVN, that includes
// the kube-ovn presence and, when kube-ovn is installed, its kinds.
func (i *Informers) WaitForSync(ctx context.Context) error {
	var checkers []cache.DoneChecker
	for _, ki := range i.kinds {
		checkers = append(checkers, ki.synced.HasSyncedChecker())
	}
	if i.ovn != nil {
		// The handler has seen the initial list, so the kube-ovn kinds
		// are started if the CRD exists; wait for those next.
		checkers = append(checkers, i.ovn.crd.informer.HasSyncedChecker(), i.ovn.registration.HasSyncedChecker())
	}
	if err := waitDone(ctx, checkers); err != nil {
		return i.notReady(err)
	}
	if i.ovn != nil {
		checkers = checkers[:0]
		for _, ki := range i.ovn.snapshot() {
			checkers = append(checkers, ki.synced.HasSyncedChecker())
		}
		if err := waitDone(ctx, checkers); err != nil {
			return i.notReady(err)
		}
	}
	// A kind whose WATCH is refused may have synced from a LIST: wait until
	// it may watch too (see watchTracker).
	for i.Ready() != nil {
		select {
		case <-ctx.Done():
			return i.notReady(context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// waitDone waits for every checker, or returns the cause of ctx.
func waitDone(ctx context.Context, checkers []cache.DoneChecker) error {
	for _, c := range checkers {
		select {
		case <-c.Done():
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// notReady is WaitForSync's error once ctx is done: Ready's, or nil if
// everything synced meanwhile.
func (i *Informers) notReady(cause error) error {
	if err := i.Ready(); err != nil {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return nil
}

// Synced reports whether every informer has completed its initial list.
func (i *Informers) Synced() bool { return i.Ready() == nil }

// Ready returns nil once every informer has synced and may watch, and none
// has been failing to list or watch for longer than the grace period, or an
// error naming the kinds that are not (for /readyz), each with why its last
// list or watch failed, if it did. The kube-ovn kinds count while they run.
func (i *Informers) Ready() error {
	var pending []string
	for _, ki := range i.kinds {
		if why := i.unready(ki); why != "" {
			pending = append(pending, why)
		}
	}
	if i.ovn != nil {
		if why := i.unready(i.ovn.crd); why != "" {
			pending = append(pending, why)
		} else if !i.ovn.registration.HasSynced() {
			pending = append(pending, i.ovn.crd.pending())
		}
		for _, ki := range i.ovn.snapshot() {
			if why := i.unready(ki); why != "" {
				pending = append(pending, why)
			}
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("informers not synced: %s", strings.Join(pending, ", "))
	}
	return nil
}

// unready says why ki is not ready, or "" if it is.
func (i *Informers) unready(ki *kindInformer) string {
	if !ki.synced.HasSynced() || !i.watches.watching(ki.kind.GVR) {
		return ki.pending()
	}
	if d := i.watches.failingFor(ki.kind.GVR); d > i.grace {
		ki.mu.Lock()
		defer ki.mu.Unlock()
		if ki.lastError == "" {
			return fmt.Sprintf("%s (no watch for %s)", ki.kind.Name, d.Round(time.Second))
		}
		return fmt.Sprintf("%s (list/watch failing for %s: %s)", ki.kind.Name, d.Round(time.Second), ki.lastError)
	}
	return ""
}
