#!/usr/bin/env bash
# The real-pod cluster: kind (Kubernetes in Docker or Podman), built from its Go module like the
# other tools, for `make test-real` and for `make cluster-up`/`run` with CG_CLUSTER_PROVIDER=kind.
# Usage: hack/kind-cluster.sh up|down
# kind needs a container engine; without one that answers, `up` fails and says so (it never
# falls back to the simulated cluster: whoever asked for real pods must not get fake ones).
# No machine of this project has an engine: this path runs in the GitHub Actions workflow
# .github/workflows/real-components.yml, not in .ci/run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster-env.sh
source "$here/cluster-env.sh"
log() { printf '[kind-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

engine() {
  # kind uses Docker unless KIND_EXPERIMENTAL_PROVIDER says otherwise; either must answer.
  if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then return 0; fi
  if command -v podman >/dev/null && timeout 10 podman info >/dev/null 2>&1; then
    export KIND_EXPERIMENTAL_PROVIDER=podman
    return 0
  fi
  return 1
}

case "${1:-}" in
  up)
    engine || { log "ERROR: CG_CLUSTER_PROVIDER=kind needs Docker or Podman, and neither answers ('docker info', 'podman info')"; exit 1; }
    "$here/build-binaries.sh" kind
    if "$BIN_DIR/kind" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
      log "kind cluster '$CLUSTER_NAME' already runs"
      "$BIN_DIR/kind" export kubeconfig --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG_PATH"
      exit 0
    fi
    mkdir -p "$(dirname "$KUBECONFIG_PATH")"
    "$BIN_DIR/kind" create cluster --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG_PATH" --wait 300s
    log "ready; export KUBECONFIG=$KUBECONFIG_PATH"
    ;;
  down)
    if [ -x "$BIN_DIR/kind" ] && engine; then
      "$BIN_DIR/kind" delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1 || true
    fi
    rm -f "$KUBECONFIG_PATH"
    log "kind cluster '$CLUSTER_NAME' is gone"
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
