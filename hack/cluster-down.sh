#!/usr/bin/env bash
# Stops and removes the local control plane. Fine to run when nothing runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster-env.sh
source "$here/cluster-env.sh"
if [ -d "$KWOK_WORKDIR/clusters/$CLUSTER_NAME" ] && [ -x "$BIN_DIR/kwokctl" ]; then
  "$BIN_DIR/kwokctl" delete cluster --name "$CLUSTER_NAME" --kubeconfig "" >&2 || true
fi
rm -rf "$KWOK_WORKDIR/clusters/$CLUSTER_NAME" "$KUBECONFIG_PATH"
echo "[cluster-down] cluster '$CLUSTER_NAME' is gone" >&2
