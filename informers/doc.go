// Package informers is the webhook's read-only view of the cluster: the
// Store that admission rules decide on, kept small on purpose.
//
// Memory invariants (design.md §3):
//
//   - Listed and looked-up kinds are watched as PartialObjectMetadata
//     (metadata list and watch), cluster-wide, without resync. A transform runs
//     before anything is stored: it drops managedFields, ownerReferences,
//     finalizers, uid and every annotation not in AnnotationAllowList, and
//     interns label keys and values. Labels stay.
//   - VirtualMachineInstances and VirtualMachines are kept only as a
//     projection (namespace, name, resourceVersion, the VMI's node, multus
//     network names), built by a transform from each watch event; no full VMI
//     or VM is retained. The projections are kept in slices sorted by
//     namespace and name, one per NAD naming them, so "who uses NAD
//     ns/name" is a map lookup that returns the users in order.
//   - Spec and status come from full objects fetched on demand (a consistent
//     GET) into a byte-bounded LRU of small decoded structs. An entry is
//     served only while the metadata informer reports the resourceVersion it
//     was fetched at, and is dropped on update and delete events. Concurrent
//     misses of one object share a GET; the misses of one lookup are fetched
//     a few at a time; a caller stops waiting at its context's deadline (the
//     review's) with an error naming the object, while the GET, bounded on
//     its own, goes on to fill the LRU.
//   - Nothing else is cached: no CRDs, APIServices, discovery or Secrets.
//     kube-ovn presence is the metadata of one CRD, subnets.kubeovn.io,
//     watched by a metadata.name field selector; the kube-ovn informers
//     (Subnets, Vpcs) run only while it exists, and their caches are
//     dropped when it goes.
//   - Which kinds are watched follows the Harvester release (KindsFor): a
//     kind the profile does not watch is never listed, and Store methods
//     over it return empty results.
//
// Lists stream (client-go WatchList, on by default) where the server supports
// it. Everything the Store returns is shared with the caches and must be
// treated as read-only.
package informers
