{{/*
Names, labels and the image reference shared by every template.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "cg-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every resource name: fullnameOverride, else <release>-<chart> (just the
release name when it already contains the chart name). */}}
{{- define "cg-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "cg-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select the operator pod. */}}
{{- define "cg-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cg-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object of the release. managed-by is Helm: the operator watches only
objects labelled managed-by=cg-operator, so it never touches its own release. */}}
{{- define "cg-operator.labels" -}}
helm.sh/chart: {{ include "cg-operator.chart" . }}
{{ include "cg-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: cg-appstore
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{/* The leader election Lease, in the release namespace: (list root shard), one per shard. */}}
{{- define "cg-operator.leaseName" -}}
{{- $root := index . 0 }}{{- $shard := index . 1 }}
{{- $base := printf "%s-leader" (include "cg-operator.fullname" $root) | trunc 63 | trimSuffix "-" }}
{{- if $shard }}{{ printf "%s-%s" $base $shard }}{{ else }}{{ $base }}{{ end }}
{{- end }}

{{- define "cg-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cg-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, with @digest when a digest is set. */}}
{{- define "cg-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The release labels plus extra ones (a dict); on a clash the release labels win, so no
value can break a selector. Call with (list $ $extra). */}}
{{- define "cg-operator.labelsWith" -}}
{{- $root := index . 0 }}
{{- $extra := index . 1 | default dict }}
{{- toYaml (merge (dict) (include "cg-operator.labels" $root | fromYaml) $extra) }}
{{- end }}

{{/* RBAC subjects from values entries {kind: User|Group|ServiceAccount, name, namespace}. */}}
{{- define "cg-operator.subjects" -}}
{{- range . }}
- kind: {{ .kind }}
  name: {{ .name | quote }}
  {{- if eq .kind "ServiceAccount" }}
  namespace: {{ .namespace }}
  {{- else }}
  apiGroup: rbac.authorization.k8s.io
  {{- end }}
{{- end }}
{{- end }}

{{/* A container's resources from values {requests, limits}, leaving out empty quantities
(an empty limit means none). */}}
{{- define "cg-operator.resources" -}}
{{- $requests := dict }}
{{- $limits := dict }}
{{- range $key, $value := (.requests | default dict) }}
{{- if ne (toString $value) "" }}{{- $_ := set $requests $key $value }}{{- end }}
{{- end }}
{{- range $key, $value := (.limits | default dict) }}
{{- if ne (toString $value) "" }}{{- $_ := set $limits $key $value }}{{- end }}
{{- end }}
{{- if or $requests $limits }}
resources:
  {{- with $requests }}
  requests:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $limits }}
  limits:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The pod's network for the operator and the page alike: the node's own (hostNetwork) where the
node has no pod network. Lines of a pod spec, or nothing.
*/}}
{{- define "cg-operator.podNetwork" -}}
{{- if .Values.podNetwork.hostNetwork -}}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end -}}
{{- end -}}

{{/*
The API server's address where the kubernetes Service cannot be reached (no kube-proxy): env
entries of a container, or nothing.
*/}}
{{- define "cg-operator.apiServerEnv" -}}
{{- with .Values.podNetwork.apiServer -}}
{{- if .host -}}
- name: KUBERNETES_SERVICE_HOST
  value: {{ .host | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ .port | toString | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Where the chart's pods may run (nodeSelector, tolerations, affinity). Lines of a pod spec, or
nothing.
*/}}
{{- define "cg-operator.placement" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
