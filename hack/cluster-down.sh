#!/usr/bin/env bash
# Stops and removes the local control plane. Fine to run when nothing runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster-env.sh
source "$here/cluster-env.sh"
# CG_CLUSTER_PROVIDER=kind asks for real pods (Docker or Podman): hack/kind-cluster.sh.
if [ "${CG_CLUSTER_PROVIDER:-kwok}" = kind ]; then exec "$here/kind-cluster.sh" down; fi
cluster_dir="$KWOK_WORKDIR/clusters/$CLUSTER_NAME"
# A real node joined to this cluster goes first (its kubelet would outlive the control plane).
if [ "$CLUSTER_NAME" = cg-operator ] && [ -d "$repo/.local/realnode" ]; then
  "$here/realnode-down.sh" || true
fi

# Note the processes first: kwokctl removes the pid files, and kube-apiserver can hang on
# shutdown once etcd is gone, so whatever still runs 10 s later is killed.
pids=()
for pidfile in "$cluster_dir"/pids/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && pids+=("$pid")
done
if [ -d "$cluster_dir" ] && [ -x "$BIN_DIR/kwokctl" ]; then
  "$BIN_DIR/kwokctl" delete cluster --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG_PATH" \
    >/dev/null 2>&1 || true
fi
if [ "${#pids[@]}" -gt 0 ]; then
  kill "${pids[@]}" 2>/dev/null || true
  alive=("${pids[@]}")
  for _ in $(seq 100); do
    still=()
    for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
    alive=("${still[@]+"${still[@]}"}")
    [ "${#alive[@]}" -eq 0 ] && break
    sleep 0.1
  done
  [ "${#alive[@]}" -eq 0 ] || kill -9 "${alive[@]}" 2>/dev/null || true
fi
rm -rf "$cluster_dir" "$KUBECONFIG_PATH"
echo "[cluster-down] cluster '$CLUSTER_NAME' is gone" >&2
