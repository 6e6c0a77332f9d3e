// Package informers is the webhook's read-only view of the cluster: the
// Store that admission rules decide on, kept small on purpose.
//
// Memory invariants (design.md §3):
//
//   - Listed and looked-up kinds are watched as PartialObjectMetadata
//     (metadatainformer), cluster-wide, without resync. A transform runs
//     before anything is stored: it drops managedFields, ownerReferences,
//     finalizers, uid and every annotation not in AnnotationAllowList, and
//     interns label keys and values. Labels stay.
//   - VirtualMachineInstances are kept only as a projection (namespace, name,
//     resourceVersion, node, multus network names), built by a transform from
//     each watch event; no full VMI is retained. "Who uses NAD ns/name" is an
//     index lookup.
//   - Spec and status come from full objects fetched on demand (a consistent
//     GET) into a byte-bounded LRU of small decoded structs. An entry is
//     served only while the metadata informer reports the resourceVersion it
//     was fetched at, and is dropped on update and delete events.
//   - Nothing else is cached: no CRDs, APIServices, discovery or Secrets.
//
// Lists stream (client-go WatchList, on by default) where the server supports
// it. Everything the Store returns is shared with the caches and must be
// treated as read-only.
package informers
