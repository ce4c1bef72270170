#!/usr/bin/env bash
# Removes the real node (hack/realnode-up.sh) and everything it left on the host, also after a
# failed or interrupted run: its pods while the kubelet still runs, the kubelet, containerd's
# tasks, containerd and its shims, every mount under .local/realnode (deepest first), the
# kubepods and k8s.io cgroups, the host paths the kubelet and containerd hard-code, the Node.
# Exits non-zero when something is left behind.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster-env.sh
source "$here/cluster-env.sh"

W="$repo/.local/realnode"
NODE=127.0.0.1
log() { printf '[realnode-down %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=10s "$@"; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if alive "$W/kubelet.pid" && kubectl get node "$NODE" >/dev/null 2>&1; then
  log "deleting the node's pods"
  kubectl delete pods -A --field-selector "spec.nodeName=$NODE" --grace-period=5 --timeout=30s \
    >/dev/null 2>&1 || true
fi
if alive "$W/kubelet.pid"; then
  log "stopping the kubelet"
  kill "$(cat "$W/kubelet.pid")" 2>/dev/null
  for _ in $(seq 50); do alive "$W/kubelet.pid" || break; sleep 0.1; done
  alive "$W/kubelet.pid" && kill -9 "$(cat "$W/kubelet.pid")" 2>/dev/null
fi
if alive "$W/containerd.pid"; then
  ctr() { "$BIN_DIR/ctr" --address "$W/containerd/containerd.sock" -n k8s.io "$@"; }
  for task in $(ctr tasks ls -q 2>/dev/null); do
    ctr tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    ctr tasks rm -f "$task" >/dev/null 2>&1 || true
  done
  log "stopping containerd"
  kill "$(cat "$W/containerd.pid")" 2>/dev/null
  for _ in $(seq 50); do alive "$W/containerd.pid" || break; sleep 0.1; done
  alive "$W/containerd.pid" && kill -9 "$(cat "$W/containerd.pid")" 2>/dev/null
fi
# The shims outlive containerd by design: find them by our socket in their command line.
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $W/" 2>/dev/null); do
  kill -9 "$pid" 2>/dev/null || true
done
# Containers' processes left in the kubepods cgroups (a shim killed first leaves them).
for procs in $(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io -name cgroup.procs 2>/dev/null); do
  while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$procs"
done
if [ -d "$W" ]; then
  findmnt -rn -o TARGET | grep -F "$W/" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2- \
    | while read -r target; do umount -l "$target" 2>/dev/null || true; done
fi
for dir in $(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io -depth -type d 2>/dev/null); do
  rmdir "$dir" 2>/dev/null || true
done
# The hard-coded host paths this node created (realnode-up listed the ones absent before it).
if [ -f "$W/host-paths-created" ]; then
  while read -r path; do
    case "$path" in /var/lib/kubelet|/var/log/containers|/run/containerd) rm -rf "$path" ;; esac
  done <"$W/host-paths-created"
fi
rm -rf "$W"
kubectl delete node "$NODE" --ignore-not-found >/dev/null 2>&1 || true

left=()
pgrep -f "$W/" >/dev/null 2>&1 && left+=("processes: $(pgrep -f "$W/" | tr '\n' ' ')")
findmnt -rn -o TARGET | grep -qF "$W" && left+=("mounts under $W")
[ -n "$(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io -maxdepth 0 2>/dev/null)" ] && left+=("cgroups kubepods/k8s.io")
[ -e "$W" ] && left+=("$W")
if [ "${#left[@]}" -gt 0 ]; then
  log "LEFT BEHIND: ${left[*]}"; exit 1
fi
log "gone: no process, mount, cgroup or folder left"
