{{/*
Helpers shared by the templates. The chart keeps to a few of Helm's
functions (include, default, quote, trunc, trimSuffix, replace, contains,
printf, nindent, b64enc, randAlphaNum, lookup), because its test renders it
without helm and implements exactly those:
testing/workspace/tests/helm_chart.rs.
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "barrow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: RELEASE-NAME, or RELEASE alone when it
already contains NAME. 63 characters at most, the DNS label limit.
*/}}
{{- define "barrow.fullname" -}}
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

{{/*
The scheduler's Deployment and Service: the Service's name is the host
workers connect to, so it must be a DNS label too.
*/}}
{{- define "barrow.schedulerName" -}}
{{- printf "%s-scheduler" (include "barrow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "barrow.workerName" -}}
{{- printf "%s-worker" (include "barrow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret holding the token: the chart's own, or existingSecret. */}}
{{- define "barrow.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else }}
{{- printf "%s-token" (include "barrow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The scheduler's address as workers give it to `barrow worker`. */}}
{{- define "barrow.schedulerAddress" -}}
{{- printf "tcp://%s.%s.svc:%v" (include "barrow.schedulerName" .) .Release.Namespace .Values.scheduler.port }}
{{- end }}

{{- define "barrow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "barrow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "barrow.labels" -}}
helm.sh/chart: {{ include "barrow.chart" . }}
{{ include "barrow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The labels selectors match on; each template adds
app.kubernetes.io/component (scheduler or worker) after them.
*/}}
{{- define "barrow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "barrow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The token's variable, read by `barrow scheduler` and `barrow worker` as
distributed.security.token.
*/}}
{{- define "barrow.tokenEnv" -}}
- name: BARROW_DISTRIBUTED__SECURITY__TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "barrow.secretName" . }}
      key: token
{{- end }}

{{/*
A container's resources from a map with optional requests and limits, each
with optional cpu and memory (written out rather than with toYaml, which
the test's renderer does not have).
*/}}
{{- define "barrow.resources" -}}
{{- with .requests -}}
requests:
  {{- with .cpu }}
  cpu: {{ . | quote }}
  {{- end }}
  {{- with .memory }}
  memory: {{ . | quote }}
  {{- end }}
{{- end }}
{{- with .limits }}
limits:
  {{- with .cpu }}
  cpu: {{ . | quote }}
  {{- end }}
  {{- with .memory }}
  memory: {{ . | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Pod and container security: the image's user barrow (uid 10001, numeric so
that runAsNonRoot can check it), nothing written outside the /tmp volume.
*/}}
{{- define "barrow.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "barrow.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
{{- end }}
