#!/usr/bin/env bash
# Joins one real node to the local control plane (make cluster-up): a kubelet with containerd and
# runc, as the Kubernetes node it is named 127.0.0.1, tainted cg-operator.dev/realnode=NoSchedule
# so that only pods that tolerate it land there (kwok leaves it alone: it manages only the nodes
# its `scale node` annotated). Only hostNetwork pods run (there is no pod network here: a bridge
# CNI would change the host's interfaces), and nothing is ever pulled: every registry resolves to
# 127.0.0.1:1 and the images are packed locally (hack/realnode/oci-image.py, then `ctr import`).
# Everything lives under .local/realnode; hack/realnode-down.sh removes it, also after a failed
# or interrupted run. Needs root (mounts, cgroups), the binaries of `hack/build-binaries.sh
# realnode`, and Debian's containernetworking-plugins (the loopback plugin).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster-env.sh
source "$here/cluster-env.sh"

W="$repo/.local/realnode"
NODE=127.0.0.1
TAINT=cg-operator.dev/realnode
PAUSE_IMAGE=cg-operator.local/pause:1
CNI_BIN=${CG_CNI_BIN:-/usr/lib/cni}
HOST_PATHS="/var/lib/kubelet /var/log/containers /run/containerd"

log() { printf '[realnode-up %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

[ "$(id -u)" = 0 ] || die "the real node needs root (mounts, cgroups); run it as root"
for b in kubelet containerd containerd-shim-runc-v2 ctr runc pause; do
  [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing: run hack/build-binaries.sh realnode"
done
[ -x "$CNI_BIN/loopback" ] || die "no CNI loopback plugin in $CNI_BIN: apt-get install containernetworking-plugins"
kubectl get --raw /readyz >/dev/null 2>&1 || die "no control plane at $KUBECONFIG_PATH: make cluster-up first"
if [ -f "$W/kubelet.pid" ] && kill -0 "$(cat "$W/kubelet.pid")" 2>/dev/null; then
  log "already running"; exit 0
fi
"$here/realnode-down.sh" >/dev/null 2>&1 || true

started=$(date +%s%N)
mkdir -p "$W"/{containerd/certs.d/_default,cni/net.d,kubelet/root,kubelet/pki,logs,pods,images}
# Paths outside our folder that the kubelet and containerd hard-code: teardown removes those
# this run creates, never one that was there before.
for path in $HOST_PATHS; do [ -e "$path" ] || echo "$path"; done >"$W/host-paths-created"
pki="$KWOK_WORKDIR/clusters/$CLUSTER_NAME/pki"
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')

# The node's identity: a client certificate of the cluster's CA in group system:nodes, so the
# Node authorizer and NodeRestriction apply to it as to any kubelet.
openssl req -new -newkey rsa:2048 -nodes -keyout "$W/kubelet/node.key" -subj "/O=system:nodes/CN=system:node:$NODE" \
  -out "$W/kubelet/node.csr" 2>/dev/null
openssl x509 -req -in "$W/kubelet/node.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 2 -out "$W/kubelet/node.crt" 2>/dev/null
cat >"$W/kubelet/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$server", certificate-authority: "$pki/ca.crt"}}]
users: [{name: node, user: {client-certificate: "$W/kubelet/node.crt", client-key: "$W/kubelet/node.key"}}]
contexts: [{name: node, context: {cluster: local, user: node}}]
current-context: node
YAML

# No pull can leave the machine: every registry is a closed port.
cat >"$W/containerd/certs.d/_default/hosts.toml" <<'TOML'
server = "http://127.0.0.1:1"
[host."http://127.0.0.1:1"]
  capabilities = ["pull", "resolve"]
TOML
cat >"$W/cni/net.d/10-loopback.conflist" <<'JSON'
{"cniVersion": "1.0.0", "name": "loopback-only", "plugins": [{"type": "loopback"}]}
JSON
# restrict_oom_score_adj: this host withholds CAP_SYS_RESOURCE, so runc must not lower the
# sandbox's oom_score_adj. netns_mounts_under_state_dir keeps the network namespaces' mounts under
# our folder, where teardown finds them.
cat >"$W/containerd/config.toml" <<TOML
version = 4
root = "$W/containerd/root"
state = "$W/containerd/state"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$PAUSE_IMAGE"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$W/containerd/certs.d"
[plugins.'io.containerd.cri.v1.runtime']
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$BIN_DIR/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$CNI_BIN"]
    conf_dir = "$W/cni/net.d"
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
TOML
log "starting containerd"
# --address sets both the gRPC and the ttrpc socket (config version 4 moved them into server
# plugins); a relative path is refused by ctr.
PATH="$BIN_DIR:$PATH" setsid "$BIN_DIR/containerd" --config "$W/containerd/config.toml" \
  --address "$W/containerd/containerd.sock" \
  >"$W/logs/containerd.log" 2>&1 </dev/null &
echo $! >"$W/containerd.pid"
for _ in $(seq 100); do [ -S "$W/containerd/containerd.sock" ] && break; sleep 0.1; done
[ -S "$W/containerd/containerd.sock" ] || die "containerd did not start: $(tail -5 "$W/logs/containerd.log")"

# The sandbox image: our pause binary alone.
ctr() { "$BIN_DIR/ctr" --address "$W/containerd/containerd.sock" -n k8s.io "$@"; }
rm -rf "$W/images/pause" && mkdir -p "$W/images/pause"
cp "$BIN_DIR/pause" "$W/images/pause/pause"
python3 "$here/realnode/oci-image.py" "$W/images/pause" "$PAUSE_IMAGE" "$W/images/pause.tar" --cmd /pause --user 65535
ctr images import --local "$W/images/pause.tar" >/dev/null

# cgroup v1 here (both Kubernetes and containerd deprecate it; failCgroupV1: false keeps 1.36
# starting). No eviction, no image GC (imported images cannot be pulled again), no iptables
# chains on the host, nothing read from the host's resolv.conf.
cat >"$W/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: ${CG_REALNODE_PORT:-10250}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${CG_REALNODE_HEALTHZ_PORT:-10248}
containerRuntimeEndpoint: unix://$W/containerd/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
registerWithTaints: [{key: $TAINT, value: "true", effect: NoSchedule}]
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
enforceNodeAllocatable: []
resolvConf: ""
localStorageCapacityIsolation: false
makeIPTablesUtilChains: false
podLogsDir: $W/pods
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
YAML
log "starting the kubelet as node $NODE"
setsid "$BIN_DIR/kubelet" --config "$W/kubelet/config.yaml" --kubeconfig "$W/kubelet/kubeconfig" \
  --hostname-override "$NODE" --root-dir "$W/kubelet/root" --cert-dir "$W/kubelet/pki" \
  --node-labels "$TAINT=true" >"$W/logs/kubelet.log" 2>&1 </dev/null &
echo $! >"$W/kubelet.pid"
for _ in $(seq 300); do kubectl get node "$NODE" >/dev/null 2>&1 && break; sleep 0.2; done
if ! kubectl wait --for=condition=Ready "node/$NODE" --timeout=90s >/dev/null 2>&1; then
  die "node $NODE not Ready: $(grep -E ' E[0-9]{4} ' "$W/logs/kubelet.log" | tail -5)"
fi
log "node $NODE Ready in $(( ($(date +%s%N) - started) / 1000000 )) ms (logs in $W/logs)"
