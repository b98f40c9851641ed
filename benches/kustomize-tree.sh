#!/usr/bin/env bash
# Writes a synthetic Kustomize overlay into DIR (its kustomization.yaml at
# the top, the base in DIR/base): a base of OBJECTS resources
# (Deployments, Services, ConfigMaps and ServiceAccounts in 50-object files)
# and an overlay with a namespace, a name prefix, labels, annotations,
# images, replicas, three ConfigMap/Secret generators referenced by every
# Deployment, a strategic-merge patch matched by label selector and a JSON
# 6902 patch matched by name regex.
# Usage: benches/kustomize-tree.sh DIR [OBJECTS]   (default 2000)
set -euo pipefail
dir="$1"
objects="${2:-2000}"
per_file=50
mkdir -p "$dir/base"
for ((f = 0; f < objects / per_file; f++)); do
  for ((i = 0; i < per_file; i += 4)); do
    n=$((f * per_file + i))
    cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-$n
  labels: {app.kubernetes.io/name: app-$n, tier: $([ $((n % 8)) = 0 ] && echo backend || echo frontend)}
spec:
  replicas: 2
  selector: {matchLabels: {app.kubernetes.io/name: app-$n}}
  template:
    metadata: {labels: {app.kubernetes.io/name: app-$n}}
    spec:
      serviceAccountName: sa-$n
      containers:
        - name: app
          image: registry.example.com/app:1.0.0
          ports: [{containerPort: 8080, name: http}]
          envFrom: [{configMapRef: {name: settings}}, {secretRef: {name: creds}}]
          env: [{name: MODE, value: production}, {name: INDEX, value: "$n"}]
          volumeMounts: [{name: config, mountPath: /etc/app}]
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: "1", memory: 128Mi}}
      volumes: [{name: config, configMap: {name: cfg-$n}}]
---
apiVersion: v1
kind: Service
metadata: {name: app-$n}
spec:
  selector: {app.kubernetes.io/name: app-$n}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg-$n}
data: {app.yaml: "index: $n\nlevel: info\n"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa-$n}
YAML
  done > "$dir/base/f$(printf %03d "$f").yaml"
done
{
  echo "resources:"
  for f in "$dir"/base/f*.yaml; do echo "- $(basename "$f")"; done
  echo "configMapGenerator:"
  echo "- name: settings"
  echo "  literals: [LEVEL=info, REGION=eu-west-1]"
} > "$dir/base/kustomization.yaml"
cat > "$dir/kustomization.yaml" <<'YAML'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: bench
namePrefix: prod-
resources:
- base
labels:
- pairs: {env: prod}
  includeSelectors: false
  includeTemplates: true
commonAnnotations:
  owner: platform
images:
- name: registry.example.com/app
  newTag: "2.0.0"
configMapGenerator:
- name: settings
  behavior: merge
  literals: [LEVEL=warn]
- name: features
  literals: [beta=on]
secretGenerator:
- name: creds
  literals: [password=hunter2]
patches:
- target: {kind: Deployment, labelSelector: tier=backend}
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: any}
    spec:
      template:
        spec:
          containers:
          - name: app
            resources: {limits: {memory: 512Mi}}
            env: [{name: MODE, value: backend}]
- target: {kind: Service, name: "app-1.*"}
  patch: |-
    - op: add
      path: /spec/type
      value: NodePort
YAML
