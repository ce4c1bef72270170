#!/usr/bin/env bash
# Applies examples/tenant-secrets/: the credentials example municipalities supply to their
# components (placeholder values). Each Secret lives in a tenant namespace, which exists only
# once the operator has claimed it, so this waits for each namespace (at most 5 minutes) first.
# Usage: hack/apply-tenant-secrets.sh   (KUBECONFIG and kubectl as `make run` sets them)
set -euo pipefail
cd "$(dirname "$0")/.."
for file in examples/tenant-secrets/*.yaml; do
  for namespace in $(sed -n 's/^  namespace: *//p' "$file" | sort -u); do
    kubectl wait --for=create "namespace/$namespace" --timeout=300s >/dev/null
  done
  kubectl apply --server-side -f "$file"
done
