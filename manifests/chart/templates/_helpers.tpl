{{/* The chart's name, for the common labels. */}}
{{- define "harvester-network-controller.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* helm.sh/chart: name and version. */}}
{{- define "harvester-network-controller.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of the ServiceAccount and the bindings. */}}
{{- define "harvester-network-controller.labels" -}}
helm.sh/chart: {{ include "harvester-network-controller.chart" . }}
app.kubernetes.io/name: {{ include "harvester-network-controller.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: network
{{- end }}

{{/* Labels of the webhook's Deployment. */}}
{{- define "harvester-network-webhook.labels" -}}
helm.sh/chart: {{ include "harvester-network-controller.chart" . }}
{{ include "harvester-network-webhook.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: network-webhook
{{- end }}

{{/* The webhook's pods, for the Deployment and the Service. */}}
{{- define "harvester-network-webhook.selectorLabels" -}}
app.kubernetes.io/name: harvester-network-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
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
