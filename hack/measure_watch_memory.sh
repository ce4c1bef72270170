#!/usr/bin/env bash
# Measures what ConfigMaps labelled managed-by=cg-operator in a namespace no tenant owns cost the
# operator: its RSS when idle and after 80 such ConfigMaps of 0.9 MB each, once with glibc's
# adaptive mmap threshold and once with the image's fixed MALLOC_MMAP_THRESHOLD_ (Dockerfile).
# Both rows come from the same run, on the running local cluster (whatever is applied there).
# Usage: hack/measure_watch_memory.sh [COUNT]   (default 80)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=hack/cluster-env.sh
source "$here/cluster-env.sh"
count=${1:-80}
kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

port=$("$repo/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
configmap_events() {
  curl -fsS "http://127.0.0.1:$port/metrics" |
    awk -F' ' '/^cg_watch_events_total\{resource="configmaps"\}/ {printf "%d", $2; found=1} END {if (!found) print 0}'
}
rss_mib() { awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

measure() {  # $1: label; the rest: env(1) options and assignments for the operator
  local label=$1 ns pid log="$work/operator.log"
  shift
  env "$@" KUBECONFIG="$KUBECONFIG_PATH" "$repo/.venv/bin/python" -m cg_operator run \
    --metrics-address "127.0.0.1:$port" >"$log" 2>&1 &
  pid=$!
  until grep -q "work queue idle" "$log"; do
    kill -0 "$pid" || { cat "$log" >&2; exit 1; }
    sleep 1
  done
  local idle seen
  idle=$(rss_mib "$pid")
  seen=$(configmap_events)
  ns="strangers-$RANDOM"
  kubectl create namespace "$ns" >/dev/null
  "$repo/.venv/bin/python" - "$ns" "$count" <<'PY' | kubectl create -f - >/dev/null
import json, sys
ns, count = sys.argv[1], int(sys.argv[2])
labels = {"app.kubernetes.io/managed-by": "cg-operator"}
items = [
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": {"name": f"stranger-{i}", "namespace": ns, "labels": labels},
     "data": {"blob": "x" * 900_000}}
    for i in range(count)
]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
  until [ "$(configmap_events)" -ge $((seen + count)) ]; do sleep 1; done
  # kopf keeps each object's last event until its per-object worker idles out (5 s): read the
  # RSS once it has settled (two readings 3 s apart within 1 MiB).
  local before after
  after=$(rss_mib "$pid")
  while before=$after; sleep 3; after=$(rss_mib "$pid"); [ $((before - after)) -gt 1 ]; do :; done
  printf '| %s | %s MiB | %s MiB |\n' "$label" "$idle" "$after"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  kubectl delete namespace "$ns" --timeout=120s >/dev/null
}

printf '| allocator | idle | after %s x 0.9 MB outside tenant namespaces |\n|---|---|---|\n' "$count"
measure "glibc adaptive threshold" -u MALLOC_MMAP_THRESHOLD_
measure "MALLOC_MMAP_THRESHOLD_=131072 (the image)" MALLOC_MMAP_THRESHOLD_=131072
