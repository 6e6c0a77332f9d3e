package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lowmem/harvester-network-webhook/informers"
)

// Paths served, as upstream.
const (
	ValidationPath = "/v1/webhook/validation"
	MutationPath   = "/v1/webhook/mutation"
)

// Recorder observes every answered review (metrics). Every label comes from
// a closed set: webhook is "validation" or "mutation"; kind is a kind some
// route serves, "" when the review could not be read, else "other";
// operation is CREATE, UPDATE, DELETE, CONNECT, "" or "other"; result is
// "allowed", "patched", "denied", "error", or "warned" for a denial audit
// mode turned into a warning.
type Recorder interface {
	Observe(webhook, kind, operation, result string, d time.Duration)
}

// Config wires a Server.
type Config struct {
	Profile  Profile
	Store    informers.Store
	Logger   *zap.Logger
	Recorder Recorder
	// MaxInFlight bounds the reviews decided and encoded at once; the
	// others wait for a slot, their bodies read. 0 means four per CPU.
	MaxInFlight int
	// MaxInFlightBytes bounds the bytes of the review bodies held at once,
	// from the first byte read to the answer written; a review that does
	// not fit is refused with 503. 0 means DefaultMaxInFlightBytes.
	MaxInFlightBytes int64
	// Audit denies and patches nothing: a would-be denial is allowed with
	// its text in the response's warnings, logged and counted as "warned".
	Audit bool
}

// Server answers AdmissionReviews on the validation and mutation paths.
type Server struct {
	cfg        Config
	validation []route
	mutation   []route
	// work runs at most MaxInFlight reviews at once. The work is
	// CPU-bound, so letting every connection's review run at once gains no
	// throughput, but each holds its decoded objects and its answer (a
	// VlanConfig denial naming thousands of VMs allocates half a
	// megabyte): fifty at once were the peak of the process's RSS. A
	// review is handed to a worker only once its body is read, so slow
	// clients hold none.
	work *workers
	// bytes bounds the bodies held, slot or not.
	bytes *byteBudget
	// inFlight counts the reviews being answered, from the first byte read
	// to the answer written.
	inFlight atomic.Int64
}

// NewServer builds the handler table for cfg.Profile.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	// The largest review must fit, or it could never be answered.
	cfg.MaxInFlightBytes = max(cfg.MaxInFlightBytes, maxBodyBytes+1+smallReserveBytes)
	return &Server{cfg: cfg, validation: validationRoutes(cfg.Profile), mutation: mutationRoutes(cfg.Profile),
		work: newWorkers(cfg.MaxInFlight), bytes: &byteBudget{limit: cfg.MaxInFlightBytes}}
}

// InFlight returns the reviews being answered now, their bodies being read
// included.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// Routes mounts the two webhook paths on r.
func (s *Server) Routes(r chi.Router) {
	r.Post(ValidationPath, s.serve("validation", s.validation))
	r.Post(MutationPath, s.serve("mutation", s.mutation))
}

func (s *Server) serve(webhook string, routes []route) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		deadline := reviewDeadline(req, start)
		ctx, cancel := context.WithDeadline(req.Context(), deadline)
		defer cancel()
		if err := checkContentType(req); err != nil {
			s.reject(w, webhook, http.StatusUnsupportedMediaType, err, start)
			return
		}
		body, release, status, err := s.readBody(w, req, deadline)
		if err != nil {
			s.reject(w, webhook, status, err, start)
			return
		}
		defer release()
		var a outcome
		if !s.work.do(ctx, func() { a = s.decide(ctx, webhook, routes, body) }) {
			if req.Context().Err() == nil { // else the caller is gone
				s.reject(w, webhook, http.StatusServiceUnavailable, errors.New("no in-flight slot was free before the review's deadline"), start)
			}
			return
		}
		switch {
		case a.status != 0:
			s.reject(w, webhook, a.status, a.err, start)
		case a.err != nil:
			http.Error(w, a.err.Error(), http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(a.body)
			s.observe(webhook, a.kind, a.operation, a.result, start)
		}
	}
}

// outcome is a review's outcome: the encoded AdmissionReview and its metric
// labels, or an error to answer with status (an unreadable review), or an
// encoding error without one.
type outcome struct {
	body                    []byte
	kind, operation, result string
	status                  int
	err                     error
}

// decide decodes body, decides the review and encodes the response.
func (s *Server) decide(ctx context.Context, webhook string, routes []route, body []byte) outcome {
	apiVersion, ar, err := decodeReview(body)
	if err != nil {
		return outcome{status: http.StatusBadRequest, err: err}
	}
	resp := s.admit(ctx, webhook, routes, ar)
	// The API server reads only the response.
	out, err := json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: "AdmissionReview"}, Response: resp})
	if err != nil {
		return outcome{err: fmt.Errorf("encode admission review: %w", err)}
	}
	return outcome{body: out, kind: s.kindLabel(ar.Kind.Kind), operation: operationLabel(ar.Operation), result: result(resp)}
}

// reject answers a review that could not be read with an HTTP error whose
// text is bounded, whatever the request held.
func (s *Server) reject(w http.ResponseWriter, webhook string, status int, err error, start time.Time) {
	s.cfg.Logger.Warn("rejecting admission review", append([]zap.Field{zap.String("webhook", webhook), zap.Int("status", status)}, loggedError(err)...)...)
	http.Error(w, truncate(err.Error(), maxQuoted), status)
	s.observe(webhook, "", "", "error", start)
}

func (s *Server) observe(webhook, kind, op, result string, start time.Time) {
	if s.cfg.Recorder != nil {
		s.cfg.Recorder.Observe(webhook, kind, op, result, time.Since(start))
	}
}

// kindLabel keeps the metrics' kind label to the kinds routed: the request
// names any string it likes.
func (s *Server) kindLabel(kind string) string {
	for _, routes := range [][]route{s.validation, s.mutation} {
		for _, rt := range routes {
			if rt.kind == kind {
				return kind
			}
		}
	}
	return "other"
}

func operationLabel(op admissionv1.Operation) string {
	switch op {
	case admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect:
		return string(op)
	}
	return "other"
}

func result(resp *admissionv1.AdmissionResponse) string {
	switch {
	case !resp.Allowed:
		return "denied"
	case len(resp.Warnings) > 0:
		return "warned"
	case len(resp.Patch) > 0:
		return "patched"
	default:
		return "allowed"
	}
}

// checkContentType refuses a body that is not JSON; none said is JSON.
func checkContentType(req *http.Request) error {
	// What the API server sends, without parsing it.
	if ct := req.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return fmt.Errorf("content type %q is not application/json", quote(ct))
		}
	}
	return nil
}

// admissionReview is the part of an admission.k8s.io v1 or v1beta1
// review that the webhook reads: the two versions share this shape.
// Decoding only these fields, and the objects without a copy, takes half
// the time of admissionv1.AdmissionReview; the fields the API server sends
// besides (resource, user groups, options, …) are skipped, as a lenient
// decoder ignores unknown fields.
type admissionReview struct {
	APIVersion string            `json:"apiVersion"`
	Request    *admissionRequest `json:"request"`
}

// admissionRequest is the part of an AdmissionReview's request that the
// rules and the router read.
type admissionRequest struct {
	UID         types.UID                `json:"uid"`
	Kind        metav1.GroupVersionKind  `json:"kind"`
	RequestKind *metav1.GroupVersionKind `json:"requestKind"`
	Name        string                   `json:"name"`
	Namespace   string                   `json:"namespace"`
	Operation   admissionv1.Operation    `json:"operation"`
	UserInfo    struct {
		Username string `json:"username"`
	} `json:"userInfo"`
	Object    rawObject `json:"object"`
	OldObject rawObject `json:"oldObject"`
}

// rawObject is an object's JSON as it sits in the review's body, not
// copied: the body outlives the review's answer. JSON null is no object,
// as for runtime.RawExtension.
type rawObject []byte

// UnmarshalJSON implements json.Unmarshaler.
func (o *rawObject) UnmarshalJSON(b []byte) error {
	if string(b) != "null" {
		*o = b
	}
	return nil
}

// decodeReview decodes body into the request the rules see, and returns
// the review's apiVersion, which the answer repeats.
func decodeReview(body []byte) (apiVersion string, _ *admissionv1.AdmissionRequest, _ error) {
	review, ok := scanReview(body)
	if !ok {
		if err := json.Unmarshal(body, &review); err != nil {
			return "", nil, fmt.Errorf("decode admission review: %w", quoteError(err))
		}
	}
	switch review.APIVersion {
	case "admission.k8s.io/v1", "admission.k8s.io/v1beta1":
	default:
		return "", nil, fmt.Errorf("unsupported admission review apiVersion %q: want admission.k8s.io/v1 or v1beta1", quote(review.APIVersion))
	}
	r := review.Request
	if r == nil {
		return "", nil, errors.New("admission review has no request")
	}
	ar := &admissionv1.AdmissionRequest{UID: r.UID, Kind: r.Kind, RequestKind: r.RequestKind, Name: r.Name, Namespace: r.Namespace,
		Operation: r.Operation, Object: k8sruntime.RawExtension{Raw: r.Object}, OldObject: k8sruntime.RawExtension{Raw: r.OldObject}}
	ar.UserInfo.Username = r.UserInfo.Username
	return review.APIVersion, ar, nil
}

// admit routes the request and turns the rule's answer into a response.
// Log fields are built only when the level is enabled: most answers are
// allowed, and those are logged at debug.
func (s *Server) admit(ctx context.Context, webhook string, routes []route, ar *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	ops, err := s.run(ctx, routes, ar)
	if err == nil {
		var patch []byte
		if patch, err = encodePatch(ops); err == nil {
			if ce := s.cfg.Logger.Check(zap.DebugLevel, "allowed"); ce != nil {
				ce.Write(append(requestFields(webhook, ar), zap.Int("patchOps", len(ops)), zap.Bool("audit", s.cfg.Audit))...)
			}
			if s.cfg.Audit {
				patch = nil // nothing is patched in audit mode
			}
			return allowed(ar, patch)
		}
	}
	if s.cfg.Audit {
		if ce := s.cfg.Logger.Check(zap.InfoLevel, "would deny (audit mode)"); ce != nil {
			ce.Write(append(requestFields(webhook, ar), loggedError(err)...)...)
		}
		return audited(ar, err)
	}
	if ce := s.cfg.Logger.Check(zap.InfoLevel, "denied"); ce != nil {
		ce.Write(append(requestFields(webhook, ar), loggedError(err)...)...)
	}
	return denied(ar, err)
}

func requestFields(webhook string, ar *admissionv1.AdmissionRequest) []zap.Field {
	return []zap.Field{zap.String("webhook", webhook), zap.String("uid", string(ar.UID)),
		zap.String("kind", ar.Kind.Kind), zap.String("namespace", ar.Namespace), zap.String("name", ar.Name),
		zap.String("operation", string(ar.Operation)), zap.String("user", ar.UserInfo.Username)}
}

// maxLoggedError bounds the denial text in the log. The answer keeps all of
// it, but a VlanConfig denial can name thousands of VMs (20 KB and more),
// and writing that for every retry would flood the log.
const maxLoggedError = 1024

// loggedError is err's text for the log, cut at maxLoggedError bytes (on a
// rune boundary) with its full length when cut.
func loggedError(err error) []zap.Field {
	msg := err.Error()
	if len(msg) <= maxLoggedError {
		return []zap.Field{zap.String("error", msg)}
	}
	return []zap.Field{zap.String("error", truncate(msg, maxLoggedError)), zap.Int("errorBytes", len(msg))}
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// run calls the matching route, turning a panic into an error: upstream's
// crashes close the connection, this answers with a denial instead.
func (s *Server) run(ctx context.Context, routes []route, ar *admissionv1.AdmissionRequest) (ops []PatchOp, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("admission rule panicked", zap.Any("panic", p), zap.Stack("stack"))
			ops, err = nil, fmt.Errorf("internal error: the webhook failed to evaluate this request: %v", p)
		}
	}()
	gvk := requestGVK(ar)
	gk := schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}
	kubeOVN := s.cfg.Store != nil && s.cfg.Store.KubeOVNEnabled()
	for i := range routes {
		if routes[i].kubeOVN && !kubeOVN {
			continue
		}
		if routes[i].matches(gk) {
			r := &Request{AdmissionRequest: ar, Profile: s.cfg.Profile, Store: s.cfg.Store}
			return routes[i].admit(ctx, r)
		}
	}
	return nil, noRoute(ar)
}

func allowed(ar *admissionv1.AdmissionRequest, patch []byte) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: ar.UID, Allowed: true}
	if patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType, resp.Patch = &pt, patch
	}
	return resp
}

// maxWarning bounds the would-be denial quoted in an audit warning; the API
// server passes warnings to the client, which prints them.
const maxWarning = 1024

// audited allows what err would have denied, saying so in a warning.
func audited(ar *admissionv1.AdmissionRequest, err error) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{UID: ar.UID, Allowed: true,
		Warnings: []string{Name + " (audit mode) would deny: " + truncate(err.Error(), maxWarning)}}
}

// maxDenialBytes bounds a denial's text as a last resort. The values a
// request chooses are quoted at most maxQuoted bytes each where a rule
// quotes them on purpose, but a review sent straight to the webhook can put
// megabytes in any field (a name, a kind). Lists of thousands of VMs fit.
const maxDenialBytes = 256 << 10

// denied encodes a rule error as upstream's router does: a 500 InternalError
// status whose message is "Internal error occurred: <err>", with one cause.
// Upstream's cause repeats the text; here it repeats at most maxQuoted
// bytes of it, so that a long denial is not sent twice.
func denied(ar *admissionv1.AdmissionRequest, err error) *admissionv1.AdmissionResponse {
	text := cut(err.Error(), maxDenialBytes)
	return &admissionv1.AdmissionResponse{UID: ar.UID, Allowed: false, Result: &metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusInternalServerError,
		Reason:  metav1.StatusReasonInternalError,
		Message: "Internal error occurred: " + text,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Message: quote(text)}}},
	}}
}
