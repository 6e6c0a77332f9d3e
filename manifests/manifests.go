package manifests

import "embed"

// FS holds crds/ and examples/, with paths rooted at those directories
// (for example "crds/kubeovn/kubeovn.io_subnets.yaml").
//
//go:embed crds examples
var FS embed.FS
