#!/usr/bin/env bash
# Prints the kubeconfig that `make run` and `make test` use: $KUBECONFIG when it names an existing
# cluster, else the local control plane's (started by hack/cluster-up.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${KUBECONFIG:-}" ]; then
  echo "$KUBECONFIG"
else
  # shellcheck source=hack/cluster-env.sh
  source "$here/cluster-env.sh"
  echo "$KUBECONFIG_PATH"
fi
