{{/* Names and labels shared by every template. */}}

{{- define "klp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "klp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The speaker's objects are named "<fullname>-speaker"; keep room for the suffix. */}}
{{- define "klp.speakerFullname" -}}
{{- printf "%s-speaker" (include "klp.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "klp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "klp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include "klp.selectorLabels" (list . "controller") */}}
{{- define "klp.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "klp.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "klp.controllerServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "klp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "klp.speakerLivenessSecretName" -}}
{{- default (printf "%s-liveness" (include "klp.speakerFullname" .)) .Values.speaker.livenessSecret.name -}}
{{- end -}}

{{- define "klp.speakerServiceAccountName" -}}
{{- if .Values.speaker.serviceAccount.create -}}
{{- default (include "klp.speakerFullname" .) .Values.speaker.serviceAccount.name -}}
{{- else -}}
{{- required "speaker.serviceAccount.name is required when speaker.serviceAccount.create is false" .Values.speaker.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "klp.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where the controller reads its configuration file (the ConfigMap is mounted there). */}}
{{- define "klp.configDir" -}}/etc/kube-lb-provisioner{{- end -}}

{{/*
Checks the values the JSON schema cannot express across fields, with messages that say what to do.
The controller checks the same rules at start-up (src/config/schema.ts); failing here fails the install.
*/}}
{{- define "klp.validate" -}}
{{- $enabled := list -}}
{{- $defaults := list -}}
{{- $classes := dict -}}
{{- range $name := list "aws" "gcp" "metal" -}}
{{- $p := index $.Values.providers $name | default dict -}}
{{- if $p.enabled -}}
{{- $enabled = append $enabled $name -}}
{{- if or $p.default (not $p.loadBalancerClass) -}}{{- $defaults = append $defaults $name -}}{{- end -}}
{{- with $p.loadBalancerClass -}}
{{- if hasKey $classes . -}}
{{- fail (printf "providers.%s.loadBalancerClass %q is also the class of providers.%s: give each provider its own class" $name . (get $classes .)) -}}
{{- end -}}
{{- $_ := set $classes . $name -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (or (has "aws" $enabled) (has "gcp" $enabled)) (not .Values.clusterName) -}}
{{- fail (printf "clusterName is required with the %s provider: set it to this cluster's name, unique in the account or project (--set clusterName=...)" (ternary "aws" "gcp" (has "aws" $enabled))) -}}
{{- end -}}
{{- include "klp.rejectPlaceholders" . -}}
{{- if not $enabled -}}
{{- fail "no provider is enabled: set providers.aws.enabled, providers.gcp.enabled or providers.metal.enabled to true (see values-aws.yaml, values-gcp.yaml, values-metal.yaml)" -}}
{{- end -}}
{{- if and (gt (int .Values.controller.replicas) 1) (not .Values.controller.leaderElection.enabled) -}}
{{- fail (printf "controller.replicas is %d but controller.leaderElection.enabled is false: the replicas would all act on the same Services. Enable leader election or set controller.replicas to 1" (int .Values.controller.replicas)) -}}
{{- end -}}
{{- if gt (len $defaults) 1 -}}
{{- fail (printf "at most one provider may serve Services that name no class, but providers %s all do (default: true, or an empty loadBalancerClass); keep it to one of them" (join " and " $defaults)) -}}
{{- end -}}
{{- if and .Values.providers.metal.enabled (le (int .Values.speaker.leaseLapseMs) (int .Values.speaker.leaseRenewIntervalMs)) -}}
{{- fail (printf "speaker.leaseLapseMs (%d) must be longer than speaker.leaseRenewIntervalMs (%d), or live speakers look dead between renewals" (int .Values.speaker.leaseLapseMs) (int .Values.speaker.leaseRenewIntervalMs)) -}}
{{- end -}}
{{- end -}}

{{/*
Values copied from old example files or documentation: refused with what to set instead, so that
an install never tags resources for a made-up cluster, VPC, account or project. The schema refuses
the same values; this also holds under --skip-schema-validation.
*/}}
{{- define "klp.rejectPlaceholders" -}}
{{- if has .Values.clusterName (list "my-cluster" "my-eks-cluster" "my-gke-cluster" "my-metal-cluster") -}}
{{- fail (printf "clusterName %q is an example's placeholder: set this cluster's own name" .Values.clusterName) -}}
{{- end -}}
{{- $aws := .Values.providers.aws | default dict -}}
{{- if eq ($aws.vpcId | default "") "vpc-0123456789abcdef0" -}}
{{- fail "providers.aws.vpcId vpc-0123456789abcdef0 is an example's placeholder: set your VPC's id, or leave it unset" -}}
{{- end -}}
{{- if regexMatch ":iam::(111122223333|123456789012):" ($aws.iamRoleArn | default "") -}}
{{- fail (printf "providers.aws.iamRoleArn %s is in a documentation account: set a role of your own account, or leave it unset" $aws.iamRoleArn) -}}
{{- end -}}
{{- $gcp := .Values.providers.gcp | default dict -}}
{{- if has ($gcp.project | default "") (list "my-project" "my-gcp-project" "project-id") -}}
{{- fail (printf "providers.gcp.project %q is an example's placeholder: set your project id" $gcp.project) -}}
{{- end -}}
{{- if regexMatch "@(my-project|my-gcp-project|project-id)\\.iam\\.gserviceaccount\\.com$" ($gcp.serviceAccount | default "") -}}
{{- fail (printf "providers.gcp.serviceAccount %s is an example's placeholder: set a service account of your project, or leave it unset" $gcp.serviceAccount) -}}
{{- end -}}
{{- end -}}

{{/*
The controller's configuration file. Its keys are exactly those of controllerConfigSchema in
src/config/schema.ts (test/chart checks this with a strict parse). Provider entries pass through the
provider's values minus the chart-only keys (enabled, iamRoleArn, serviceAccount), dropping empty
optional strings.
*/}}
{{- define "klp.config" -}}
{{- $c := .Values.controller -}}
{{- $providers := list -}}
{{- range $name := list "aws" "gcp" "metal" -}}
{{- $p := index $.Values.providers $name | default dict -}}
{{- if $p.enabled -}}
{{- $entry := dict "type" $name -}}
{{- range $key, $value := omit $p "enabled" "iamRoleArn" "serviceAccount" -}}
{{- if not (and (kindIs "string" $value) (eq $value "")) -}}
{{- $_ := set $entry $key $value -}}
{{- end -}}
{{- end -}}
{{- $providers = append $providers $entry -}}
{{- end -}}
{{- end -}}
{{- $config := dict
  "workers" $c.workers
  "resyncPeriodSeconds" $c.resyncPeriodSeconds
  "backoff" $c.backoff
  "leaderElection" (dict
    "enabled" $c.leaderElection.enabled
    "namespace" .Release.Namespace
    "leaseName" (include "klp.fullname" .)
    "leaseDurationSeconds" $c.leaderElection.leaseDurationSeconds
    "renewDeadlineSeconds" $c.leaderElection.renewDeadlineSeconds
    "retryPeriodSeconds" $c.leaderElection.retryPeriodSeconds)
  "metricsAddress" (printf "0.0.0.0:%d" (int $c.metricsPort))
  "logLevel" $c.logLevel
  "providers" $providers
-}}
{{- /* Unset: the controller's own default ("kubernetes"), which it allows only without aws and gcp. */ -}}
{{- with .Values.clusterName -}}{{- $_ := set $config "clusterName" . -}}{{- end -}}
{{- toYaml $config -}}
{{- end -}}
