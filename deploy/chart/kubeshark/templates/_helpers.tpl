{{/* The release's base name: the release name, with "-kubeshark" added
     unless it already says kubeshark. */}}
{{- define "kubeshark.fullname" -}}
{{- if contains "kubeshark" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-kubeshark" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects carry the namespace too: two releases of the
     same name in two namespaces must not share a ClusterRole. */}}
{{- define "kubeshark.clusterName" -}}
{{- printf "%s-%s" (include "kubeshark.fullname" .) .Release.Namespace | trunc 56 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubeshark.selectorLabels" -}}
app.kubernetes.io/name: kubeshark
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Every object carries these; `kubeshark clean` finds what is left of a
     release by instance, part-of and release-namespace (cluster-scoped
     objects' names do not say which namespace's release made them). */}}
{{- define "kubeshark.labels" -}}
{{ include "kubeshark.selectorLabels" . }}
app.kubernetes.io/part-of: kubeshark
kubeshark.io/release-namespace: {{ .Release.Namespace }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "kubeshark.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The label selector of the worker pods, for the hub's discovery. */}}
{{- define "kubeshark.workerSelector" -}}
app.kubernetes.io/name=kubeshark,app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/component=worker
{{- end -}}
