{{/*
The low-memory webhook's ClusterRole rules. list and watch on the kinds the
chosen release's rules read, and get on those whose full objects a rule
reads (informers.KindsFor: FullOnDemand); the kube-ovn CRD by name; its two
webhook configurations by name; for auto, the release detection's calls.
Nothing cluster-wide on Secrets, ConfigMaps, Leases, APIServices or CRDs.
e2e/chart checks these rules against informers.KindsFor for every release.
*/}}
{{- define "harvester-network-webhook.lowMemory.clusterRules" -}}
{{- $minor := include "harvester-network-webhook.lowMemory.minor" . | atoi -}}
- apiGroups: [""]
  resources: [nodes]
  verbs: [list, watch]
- apiGroups: [k8s.cni.cncf.io]
  resources: [network-attachment-definitions]
  verbs: [get, list, watch]
- apiGroups: [network.harvesterhci.io]
  resources: [clusternetworks, vlanconfigs, vlanstatuses{{ if ge $minor 8 }}, hostnetworkconfigs{{ end }}]
  verbs: [get, list, watch]
- apiGroups: [kubevirt.io]
  resources: [virtualmachineinstances{{ if ge $minor 6 }}, virtualmachines{{ end }}]
  verbs: [list, watch]
{{- if ge $minor 6 }}
# kube-ovn's kinds are watched while its CRD, watched by name, exists.
- apiGroups: [kubeovn.io]
  resources: [subnets]
  verbs: [get, list, watch]
- apiGroups: [kubeovn.io]
  resources: [vpcs]
  verbs: [list, watch]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  resourceNames: [subnets.kubeovn.io]
  verbs: [list, watch]
{{- end }}
# create cannot be limited by name.
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations]
  resourceNames: [harvester-network-webhook]
  verbs: [get, update]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations]
  verbs: [create]
{{- if eq (toString .Values.webhook.lowMemory.harvesterVersion) "auto" }}
# Release detection at start: what this role permits, which CRDs exist.
- apiGroups: [authorization.k8s.io]
  resources: [selfsubjectaccessreviews]
  verbs: [create]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  resourceNames: [hostnetworkconfigs.network.harvesterhci.io, virtualmachines.kubevirt.io]
  verbs: [get]
{{- end }}
{{- end }}
