#!/usr/bin/env bash
# Measures the local control plane: cluster start time (median of N cold starts) and the time
# for a 2-replica Deployment to become Available. Prints a small table; changes nothing else.
# Usage: hack/measure-control-plane.sh [N]   (default 5; the cluster is left running)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster-env.sh
source "$here/cluster-env.sh"
runs=${1:-5}
kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

starts=()
for i in $(seq "$runs"); do
  "$here/cluster-down.sh" 2>/dev/null
  t0=$(ms); "$here/cluster-up.sh" 2>/dev/null; t1=$(ms)
  starts+=($(( t1 - t0 )))
  echo "start $i: $(( t1 - t0 )) ms" >&2
done
median=$(printf '%s\n' "${starts[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

kubectl create namespace measure >/dev/null
t0=$(ms)
kubectl -n measure create deployment smoke --image=registry.invalid/web:1 --replicas=2 >/dev/null
kubectl -n measure wait --for=condition=Available deployment/smoke --timeout=120s >/dev/null
t1=$(ms)
kubectl delete namespace measure --wait=false >/dev/null

size=$(du -sh "$BIN_DIR" | cut -f1)
printf '| measure | value |\n|---|---|\n'
printf '| cluster start, median of %s | %s ms (all: %s) |\n' "$runs" "$median" "${starts[*]}"
printf '| 2-replica Deployment Available | %s ms |\n' "$(( t1 - t0 ))"
printf '| binaries on disk (%s) | %s |\n' "$BIN_DIR" "$size"
