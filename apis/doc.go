// Package apis holds the few fields of the Harvester, CNI and KubeVirt API
// types that the admission rules read, declared locally so that the webhook
// depends on none of those projects.
//
// Package names and type names follow upstream's (v1.NetworkAttachmentDefinitionSpec,
// v1beta1.VlanConfigSpec, …) because encoding/json prints them in decode
// errors, and those errors reach users verbatim as admission denials.
package apis
