// Package admission answers Harvester network AdmissionReviews exactly as the
// upstream harvester-network-webhook does: the same routing, the same rules in
// the same order, the same denial texts and the same JSON patches.
//
// Rules are pure functions of the request and an informers.Store; they do no
// I/O of their own and never log. The HTTP edge (review.go) decodes, routes,
// encodes, recovers and logs. Where upstream crashes (a nil dereference or a
// bad slice), the rules deny with a clear message instead.
package admission
