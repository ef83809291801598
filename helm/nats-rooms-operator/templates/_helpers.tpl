{{/* Chart name, or nameOverride. */}}
{{- define "nro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every object name: fullnameOverride, the release name if it holds the chart name, or <release>-<chart>. */}}
{{- define "nro.fullname" -}}
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

{{- define "nro.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object (the selector labels come on top). */}}
{{- define "nro.commonLabels" -}}
helm.sh/chart: {{ include "nro.chart" . }}
app.kubernetes.io/part-of: nats-rooms-operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the operator's objects. */}}
{{- define "nro.labels" -}}
{{ include "nro.commonLabels" . }}
{{ include "nro.selectorLabels" . }}
{{- end }}

{{/* Labels of the bundled NATS objects. */}}
{{- define "nro.natsLabels" -}}
{{ include "nro.commonLabels" . }}
{{ include "nro.natsSelectorLabels" . }}
{{- end }}

{{/* Selector labels of the operator pods. */}}
{{- define "nro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Selector labels of the bundled NATS server pods (the official NATS chart's scheme: name, instance, component). */}}
{{- define "nro.natsSelectorLabels" -}}
app.kubernetes.io/name: nats
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: nats
{{- end }}

{{- define "nro.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nro.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Namespace of the NATS servers and of the auth Secret. */}}
{{- define "nro.natsNamespace" -}}
{{- default .Release.Namespace .Values.nats.namespace }}
{{- end }}

{{- define "nro.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.leaseNamespace }}
{{- end }}

{{/* Label selector of the NATS server pods, as the operator's --nats-selector. */}}
{{- define "nro.natsSelector" -}}
{{- if .Values.nats.selector }}
{{- .Values.nats.selector }}
{{- else if .Values.nats.bundled }}
{{- $pairs := list }}
{{- range $k, $v := (include "nro.natsSelectorLabels" . | fromYaml) }}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," $pairs }}
{{- else }}
{{- print "app.kubernetes.io/name=nats,app.kubernetes.io/component=nats" }}
{{- end }}
{{- end }}

{{/* NATS URL for the credentials Secrets. */}}
{{- define "nro.clientUrl" -}}
{{- if .Values.clientUrl }}
{{- .Values.clientUrl }}
{{- else if .Values.nats.bundled }}
{{- printf "nats://%s.%s.svc:4222" .Values.nats.name (include "nro.natsNamespace" .) }}
{{- else }}
{{- printf "nats://nats.%s.svc:4222" (include "nro.natsNamespace" .) }}
{{- end }}
{{- end }}

{{/* --subject-roots: ns=subject[,ns=subject...] from the subjectRoots map (sorted, so renders are stable). */}}
{{- define "nro.subjectRoots" -}}
{{- $pairs := list }}
{{- range $ns := keys .Values.subjectRoots | sortAlpha }}
{{- range $subject := get $.Values.subjectRoots $ns }}
{{- $pairs = append $pairs (printf "%s=%s" $ns $subject) }}
{{- end }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{- define "nro.namespaceBudgets" -}}
{{- $pairs := list }}
{{- range $ns := keys .Values.namespaceBudgets | sortAlpha }}
{{- $b := get $.Values.namespaceBudgets $ns }}
{{- $fields := list }}
{{- range $what := list "members" "rooms" "bytes" }}
{{- $fields = append $fields (ternary (printf "%d" (int64 (get $b $what))) "" (hasKey $b $what)) }}
{{- end }}
{{- $pairs = append $pairs (printf "%s=%s" $ns (join "/" $fields)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{- define "nro.jetstreamLimits" -}}
{{- $pairs := list }}
{{- range $ns := keys .Values.jetstreamLimits | sortAlpha }}
{{- $l := get $.Values.jetstreamLimits $ns }}
{{- $fields := list }}
{{- range $what := list "memory" "file" "streams" "consumers" }}
{{- $fields = append $fields (ternary (printf "%d" (int64 (get $l $what))) "" (hasKey $l $what)) }}
{{- end }}
{{- $pairs = append $pairs (printf "%s=%s" $ns (join "/" $fields)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{- define "nro.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The rules the operator needs in every namespace whose Members it serves: read Rooms and Members, write
their status (server-side apply is a PATCH), keep the credentials Secrets of Members without spec.nkey
(<member>-nats-credentials: create, patch the non-secret keys, delete orphans; list/watch them by
label), and record Events on Rooms and Members.
*/}}
{{- define "nro.memberNamespaceRules" -}}
- apiGroups: ["natsrooms.io"]
  resources: ["rooms", "members"]
  verbs: ["list", "watch"]
# The stream finalizer of Rooms with deletionPolicy Delete (a JSON patch of metadata.finalizers only).
- apiGroups: ["natsrooms.io"]
  resources: ["rooms"]
  verbs: ["patch"]
- apiGroups: ["natsrooms.io"]
  resources: ["rooms/status", "members/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{/* nats.conf of the bundled NATS. Input: dict ctx, namespace, name, headless, sidecar, replicas. */}}
{{- define "nro.natsConf" -}}
# nats.conf of the bundled NATS (nats-rooms-operator chart). Authorization is not here: it comes from
# the Secret the operator writes, mounted at /etc/nats-auth and included at the end.
server_name: $POD_NAME
port: 4222
http_port: 8222
{{- if .sidecar }}
pid_file: "/var/run/nats/nats.pid"
{{- end }}
cluster {
  name: {{ .ctx.Values.nats.clusterName | quote }}
  port: 6222
  routes: [
    {{- range $i := until .replicas }}
    "nats://{{ $.name }}-{{ $i }}.{{ $.headless }}.{{ $.namespace }}.svc:6222"
    {{- end }}
  ]
}
{{- with .ctx.Values.nats.jetstream }}
{{- if .enabled }}
jetstream {
  store_dir: "/data/jetstream"
  max_memory_store: {{ .maxMemoryStore }}
  max_file_store: {{ .maxFileStore }}
}
{{- end }}
{{- end }}
include "../nats-auth/{{ .ctx.Values.nats.authSecretKey }}"
{{- end }}
