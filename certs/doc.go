// Package certs keeps the webhook's serving certificate in two
// kubernetes.io/tls Secrets, <service>-ca and <service>-tls, laid out as
// upstream's rancher/dynamiclistener lays them out: the CA Secret's tls.crt
// starts with the signing CA (the certificate dynamiclistener reads) and
// tls.key is that CA's key. An existing CA is reused byte for byte, so
// switching between upstream's image and this one leaves every caBundle
// unchanged.
//
// A Keeper gets, lists and watches only those two Secrets, each by name (a
// field selector on metadata.name), in one namespace. It writes them only by
// create-if-absent or by an update at the resourceVersion it read; after a
// lost race it reads again and judges the winner's Secret, so replicas
// converge on one CA and one leaf. It decides on its informers' caches, but
// it writes only after a live read. Whether a stored CA or leaf is usable is
// decided by pure functions of the parsed certificates and the time
// (decide.go).
//
// Renewal: a certificate is replaced when less than RenewFraction of its
// configured validity is left. A leaf in that window is kept if its CA
// cannot give a better one, because that CA is then due for rotation.
//
// CA rotation follows an order that every replica applies alike:
//  1. A CA in its renewal window, or unusable, is replaced by a new CA at
//     the head of tls.crt. The previous CAs that are still in date follow
//     it, and AnnotationCAPublished records the time. CABundle, and through
//     the registrar every webhook configuration, now trusts both CAs.
//  2. For PropagationDelay after that time, the leaf in service is kept
//     whichever CA in the bundle signed it.
//  3. After the delay the leaf must come from the new CA. The first replica
//     to notice issues one; the others take it up from the Secret.
//  4. A previous CA leaves the bundle when it expires. No leaf it signed can
//     outlive it, since a leaf's NotAfter is capped at its CA's.
//
// Keeping previous CAs until they expire needs no coordination. A stricter
// rule, dropping a CA once its leaves are replaced, would need proof that no
// replica still serves one, and a replica whose watch lags might. The cost
// is a few hundred bytes of caBundle. With the default validities a CA
// rotates about three years before it expires, so two CAs share the bundle
// for at most those three years. To stop trusting an old CA sooner, remove it
// from tls.crt by hand. The Keeper puts a previous CA back only when it
// recreates a deleted or corrupted CA Secret.
//
// Repair: a deleted or corrupted Secret is recreated, with one warning that
// names the Secret and what was wrong. A lost CA Secret is recreated with a
// new CA, followed by the CAs of the bundle in service, so the leaf in
// service stays trusted until its replacement. A lost serving Secret gets a
// new leaf. While a new CA is still propagating, it gets back the leaf in
// service instead.
package certs
