// Package certs keeps the webhook's serving certificate in two
// kubernetes.io/tls Secrets, <service>-ca and <service>-tls, laid out as
// upstream's rancher/dynamiclistener lays them out. An existing CA is reused
// byte for byte, so switching between upstream's image and this one leaves
// every caBundle unchanged.
//
// The package reads and writes only those two Secrets, by name, in one
// namespace: it never lists or watches Secrets. Whether a stored CA or leaf
// is usable is decided by pure functions of the parsed certificate and the
// time; the API calls stay in ensure.go.
package certs
