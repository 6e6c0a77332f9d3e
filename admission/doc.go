// Package admission answers Harvester network AdmissionReviews exactly as the
// upstream harvester-network-webhook does: the same routing, the same rules in
// the same order, the same denial texts and the same JSON patches.
//
// Rules are pure functions of the request and an informers.Store; they do no
// I/O of their own and never log. The HTTP edge (review.go) decodes, routes,
// encodes, recovers and logs; it reads a review's body before the review
// takes an in-flight slot, within the review's deadline, and bounds the
// bytes held (inflight.go). Where upstream crashes (a nil dereference or a
// bad slice), the rules deny with a clear message instead. No answer grows
// with the bytes a request chooses: denials quote at most 1 KiB of any
// value from it (errors.go).
package admission
