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
