// Package manifests holds the YAML this project applies to a cluster, and
// embeds it so that tests and tools need no file paths:
//
//   - crds/: permissive CustomResourceDefinitions for every kind the webhook
//     reads or admits; crds/kubeovn/ only for kube-ovn runs.
//   - examples/: demo objects, applied in file-name order; examples/denied/
//     holds an object the webhook rejects.
package manifests
