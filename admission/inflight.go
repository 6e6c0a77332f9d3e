package admission

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBodyBytes bounds a review: the most a real API server sends. It
// accepts request bodies up to 3 MiB (its MaxRequestBodyBytes), and an
// UPDATE's review carries the new object and the stored old one, each
// within that, plus the envelope (user info, options). An object that
// JSON re-encoding grew past 3 MiB is over etcd's 1.5 MiB limit, and the
// write fails anyway.
const maxBodyBytes = 2*(3<<20) + 256<<10

// DefaultMaxInFlightBytes is the default byte bound of the reviews held at
// once. A review costs a few times its body while it is decoded, decided
// and answered, so this bounds the transient heap to some tens of MiB,
// whatever the clients send; it lets two reviews of the largest size in at
// once, and thousands of ordinary ones.
const DefaultMaxInFlightBytes = 16 << 20

// Reviews of at most smallReviewBytes (every ordinary review is a few KiB)
// may use the last smallReserveBytes of the byte bound, which larger ones
// leave free: a flood of large reviews does not refuse the small ones.
const (
	smallReviewBytes  = 64 << 10
	smallReserveBytes = 2 << 20
)

// firstReadBytes is the first buffer of a body. The buffer grows with what
// arrives, never with what the Content-Length header claims, so a client
// that announces megabytes and sends nothing holds this much.
const firstReadBytes = 16 << 10

// Bodies of at most pooledBodyBytes, every ordinary review (a NAD create is
// 1–3 KiB), are read into buffers reused from one review to the next: a
// fresh one was a tenth and more of the bytes a review allocated, and so
// of the garbage collector's work.
const pooledBodyBytes = 8 << 10

var bodyPool = sync.Pool{New: func() any {
	b := make([]byte, 0, pooledBodyBytes)
	return &b
}}

// The review's deadline: the API server appends ?timeout= (the webhook's
// timeoutSeconds, 10 s by default, 30 s at most) to every call, and gives
// up then. The answer must be on its way back a little before that.
const (
	defaultReviewTimeout = 8 * time.Second
	maxReviewTimeout     = 30 * time.Second
	maxDeadlineMargin    = time.Second
)

// reviewDeadline is when the review must be answered: ?timeout= less a
// margin (a tenth, at most a second), else defaultReviewTimeout.
func reviewDeadline(req *http.Request, start time.Time) time.Time {
	d, err := time.ParseDuration(queryValue(req.URL.RawQuery, "timeout"))
	if err != nil || d <= 0 {
		return start.Add(defaultReviewTimeout)
	}
	d = min(d, maxReviewTimeout)
	return start.Add(d - min(d/10, maxDeadlineMargin))
}

// queryValue is url.Values.Get of the query, without building the map of
// every parameter.
func queryValue(query, key string) string {
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			if k, _ = url.QueryUnescape(k); k == "" {
				continue
			}
		}
		if k != key || strings.Contains(pair, ";") {
			continue
		}
		if v, err := url.QueryUnescape(v); err == nil {
			return v
		}
	}
	return ""
}

// byteBudget counts the bytes of the review bodies held now, from the first
// byte read until the answer is written. It never waits: over the bound a
// review is refused at once. Waiting would stall the connection, since with
// HTTP/2 every stream of a connection shares one flow-control window, and a
// body that is not read keeps the others' bytes from arriving.
type byteBudget struct {
	mu    sync.Mutex
	used  int64
	limit int64
}

// take reserves n bytes for a review whose body is small or not; it
// reports false, reserving nothing, when that would pass the bound.
func (b *byteBudget) take(n int64, small bool) bool {
	limit := b.limit
	if !small {
		limit -= min(smallReserveBytes, b.limit/4)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > limit {
		return false
	}
	b.used += n
	return true
}

func (b *byteBudget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// inUse returns the bytes reserved now.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// errBusy refuses a review that does not fit the byte bound.
var errBusy = errors.New("the webhook holds too many large admission reviews at once; retry")

// readBody reads the request body before the review takes an in-flight
// slot, within the deadline, reserving its bytes in the budget as they
// arrive. On success the caller must call release once the answer is
// written, and keep nothing of body after: its buffer may be reused. The
// error comes with the HTTP status to answer.
func (s *Server) readBody(w http.ResponseWriter, req *http.Request, deadline time.Time) (body []byte, release func(), status int, err error) {
	if req.ContentLength > maxBodyBytes {
		return nil, nil, http.StatusRequestEntityTooLarge, errTooLarge(req.ContentLength)
	}
	// A slow client is cut off at the review's deadline. Test recorders
	// cannot set deadlines; servers can, over HTTP/1 and HTTP/2.
	_ = http.NewResponseController(w).SetReadDeadline(deadline)
	small := req.ContentLength >= 0 && req.ContentLength <= smallReviewBytes
	var held int64
	var pooled *[]byte
	release = func() {
		s.bytes.give(held)
		if pooled != nil {
			bodyPool.Put(pooled)
		}
	}
	grow := func(size int64) bool {
		if !s.bytes.take(size-held, small) {
			return false
		}
		held = size
		return true
	}
	size := int64(firstReadBytes)
	if req.ContentLength >= 0 {
		size = min(size, req.ContentLength+1) // +1 sees the end without growing
	}
	if !grow(size) {
		return nil, nil, http.StatusServiceUnavailable, errBusy
	}
	if req.ContentLength >= 0 && size <= pooledBodyBytes {
		pooled = bodyPool.Get().(*[]byte)
		body = (*pooled)[:0:size]
	} else {
		body = make([]byte, 0, size)
	}
	r := http.MaxBytesReader(w, req.Body, maxBodyBytes)
	for {
		if len(body) == cap(body) {
			next := min(2*int64(cap(body)), maxBodyBytes+1)
			if req.ContentLength >= 0 {
				next = min(next, req.ContentLength+1)
			}
			if !grow(next) {
				release()
				return nil, nil, http.StatusServiceUnavailable, errBusy
			}
			body = append(make([]byte, 0, next), body...)
		}
		n, err := r.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if errors.Is(err, io.EOF) {
			return body, release, 0, nil
		}
		if err != nil {
			release()
			status, err := readError(err)
			return nil, nil, status, err
		}
	}
}

// readError maps a failed body read to the answer.
func readError(err error) (int, error) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, errTooLarge(-1)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return http.StatusRequestTimeout, errors.New("the admission review's body did not arrive before the review's deadline")
	}
	return http.StatusBadRequest, fmt.Errorf("read admission review: %w", err)
}

func errTooLarge(n int64) error {
	size := "larger than"
	if n >= 0 {
		size = strconv.FormatInt(n, 10) + " bytes, more than"
	}
	return fmt.Errorf("admission review is %s %d bytes, the most an API server sends (two objects of its 3 MiB request limit and the review around them)",
		size, maxBodyBytes)
}
