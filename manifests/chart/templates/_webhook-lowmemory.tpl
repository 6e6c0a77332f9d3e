{{/*
Helpers of webhook.lowMemory, the low-memory harvester-network-webhook. The
same file is in its repository (github.com/lowmem/harvester-network-webhook,
manifests/chart), whose tests check these rules against the kinds each
release's rules watch and run the webhook under them.
*/}}

{{/*
The low-memory webhook's ClusterRole rules. list and watch on the kinds the
chosen release's rules read, and get on those whose full objects a rule
reads (informers.KindsFor: FullOnDemand); the kube-ovn CRD by name; its two
webhook configurations by name; for auto, the release detection's calls.
Nothing cluster-wide on Secrets, ConfigMaps, Leases, APIServices or CRDs.
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
# The webhook configurations, by name: watched, and written by server-side
# apply, a patch; an apply that creates one is also authorized as a create,
# which cannot be limited by name.
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations]
  resourceNames: [harvester-network-webhook]
  verbs: [list, watch, patch]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations]
  verbs: [create]
{{- if eq (toString .Values.webhook.lowMemory.harvesterVersion) "auto" }}
# Release detection at start: what this role permits, and which
# CRDs of the kinds that set release lines apart exist.
- apiGroups: [authorization.k8s.io]
  resources: [selfsubjectaccessreviews]
  verbs: [create]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  resourceNames: [hostnetworkconfigs.network.harvesterhci.io, virtualmachines.kubevirt.io]
  verbs: [get]
{{- end }}
{{- end }}

{{/*
The minor Harvester release whose kinds the low-memory webhook's ClusterRole
grants: that of webhook.lowMemory.harvesterVersion, as the binary parses it
(v1.N or v1.N.P, "v" optional); "auto" grants the newest profile's kinds,
which include every older one's, since detection may pick any release.
*/}}
{{- define "harvester-network-webhook.lowMemory.minor" -}}
{{- $v := toString .Values.webhook.lowMemory.harvesterVersion }}
{{- if eq $v "auto" }}
{{- 9 }}
{{- else if regexMatch "^v?1\\.(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*))?$" $v }}
{{- $minor := regexReplaceAll "^v?1\\.([0-9]+).*$" $v "${1}" | atoi }}
{{- if lt $minor 4 }}
{{- fail (printf "webhook.lowMemory.harvesterVersion %q: the oldest release with rules is v1.4" $v) }}
{{- end }}
{{- $minor }}
{{- else }}
{{- fail (printf "webhook.lowMemory.harvesterVersion %q: want v1.4 ... v1.9 (newer releases get the v1.9 rules) or auto" $v) }}
{{- end }}
{{- end }}

{{/*
GOMEMLIMIT in bytes: webhook.lowMemory.goMemLimitPercent of
webhook.lowMemory.resources.limits.memory, an integer quantity with a binary
or decimal suffix (96Mi, 100M, 1Gi) or none (bytes).
*/}}
{{- define "harvester-network-webhook.lowMemory.goMemLimit" -}}
{{- $lm := .Values.webhook.lowMemory }}
{{- $limit := toString (required "webhook.lowMemory.resources.limits.memory is required: GOMEMLIMIT is derived from it" $lm.resources.limits.memory) }}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 }}
{{- $number := regexFind "^[0-9]+" $limit }}
{{- $suffix := trimPrefix $number $limit }}
{{- if or (not $number) (not (hasKey $units $suffix)) }}
{{- fail (printf "webhook.lowMemory.resources.limits.memory %q: want an integer with one of the suffixes Ki, Mi, Gi, k, M, G or none" $limit) }}
{{- end }}
{{- div (mul (atoi $number) (get $units $suffix) (int $lm.goMemLimitPercent)) 100 }}
{{- end }}

{{/*
webhook.lowMemory.mode, checked: enforce or audit.
*/}}
{{- define "harvester-network-webhook.lowMemory.mode" -}}
{{- $m := toString .Values.webhook.lowMemory.mode }}
{{- if not (has $m (list "enforce" "audit")) }}
{{- fail (printf "webhook.lowMemory.mode %q: want enforce or audit" $m) }}
{{- end }}
{{- $m }}
{{- end }}
