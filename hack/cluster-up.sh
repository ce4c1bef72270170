#!/usr/bin/env bash
# Starts the local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
# and the kwok controller as plain processes (`kwokctl --runtime binary`) on 127.0.0.1, with
# fake nodes. Every binary comes from hack/build-binaries.sh; nothing is downloaded.
# kwokctl writes the kubeconfig into .local/kubeconfig in the repository (git-ignored), never
# into ~/.kube/config.
# Idempotent: when the cluster already answers, it returns at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=hack/cluster-env.sh
source "$here/cluster-env.sh"
# CG_CLUSTER_PROVIDER=kind asks for real pods (Docker or Podman): hack/kind-cluster.sh.
if [ "${CG_CLUSTER_PROVIDER:-kwok}" = kind ]; then exec "$here/kind-cluster.sh" up; fi

log() { printf '[cluster-up %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -f "$KUBECONFIG_PATH" ] && "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" \
     get --raw /readyz >/dev/null 2>&1; then
  log "cluster '$CLUSTER_NAME' already runs ($KUBECONFIG_PATH)"
  exit 0
fi

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl; do
  [ -x "$BIN_DIR/$b" ] || { log "ERROR: $BIN_DIR/$b is missing: run 'make binaries' first"; exit 1; }
done

# A cluster whose processes died (a reboot, a killed session) is removed before a fresh start.
if [ -d "$KWOK_WORKDIR/clusters/$CLUSTER_NAME" ]; then
  log "removing the stale cluster '$CLUSTER_NAME'"
  "$here/cluster-down.sh"
fi

mkdir -p "$KWOK_WORKDIR"
config="$KWOK_WORKDIR/kwokctl.yaml"
# The API server records who wrote what (metadata only: never a request or response body, so no
# Secret data), so tests can attribute a write to the operator's identity rather than to the
# controller-manager tidying up after an earlier test. Reads are not recorded.
audit_policy="$KWOK_WORKDIR/audit-policy.yaml"
cat >"$audit_policy" <<YAML
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
YAML
# Every binary is a local path: kwokctl downloads only http(s) values, and all its defaults are.
cat >"$config" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeApiserverBinary: $BIN_DIR/kube-apiserver
  kubeControllerManagerBinary: $BIN_DIR/kube-controller-manager
  kubeSchedulerBinary: $BIN_DIR/kube-scheduler
  kubectlBinary: $BIN_DIR/kubectl
  kwokControllerBinary: $BIN_DIR/kwok
  etcdBinary: $BIN_DIR/etcd
  kubeAuditPolicy: $audit_policy
componentsPatches:
- name: etcd
  extraArgs:
  # Test data is throwaway: skipping fsync keeps etcd fast on slow disks.
  - key: unsafe-no-fsync
    value: "true"
- name: kube-apiserver
  extraArgs:
  # Without a default route kube-apiserver cannot pick an address to advertise.
  - key: advertise-address
    value: 127.0.0.1
  # kube-apiserver's default service range is a /24: 254 ClusterIPs, full at about 20 tenants.
  # A /16 holds a Service per installation of all 342 municipalities (about 3,900).
  - key: service-cluster-ip-range
    value: ${CG_SERVICE_CIDR:-10.0.0.0/16}
  # For logs and exec on the real node (make realnode-up): the kubelet there accepts only
  # clients with a certificate of the cluster's CA.
  - key: kubelet-client-certificate
    value: $KWOK_WORKDIR/clusters/$CLUSTER_NAME/pki/admin.crt
  - key: kubelet-client-key
    value: $KWOK_WORKDIR/clusters/$CLUSTER_NAME/pki/admin.key
- name: kwok-controller
  extraArgs:
  # kwok fakes only the nodes its \`scale node\` made (it annotates them so); a real kubelet's
  # node (make realnode-up) and its pods are left to that kubelet.
  - key: manage-all-nodes
    value: "false"
  - key: manage-nodes-with-annotation-selector
    value: kwok.x-k8s.io/node=fake
YAML

started=$(date +%s%N)
log "starting cluster '$CLUSTER_NAME' (binaries from $BIN_DIR)"
PATH="$BIN_DIR:$PATH" "$BIN_DIR/kwokctl" create cluster \
  --name "$CLUSTER_NAME" --config "$config" --kubeconfig "$KUBECONFIG_PATH" --wait 2m >&2
# Fake nodes: kwok marks their pods Running and Ready without running anything. Each takes 250
# pods (its /24 pod CIDR); the examples need about 150, so a few nodes leave room.
"$BIN_DIR/kwokctl" scale node --name "$CLUSTER_NAME" --replicas "${CG_KWOK_NODES:-4}" \
  --param '.allocatable.pods=250' --param '.allocatable.cpu=64' \
  --param '.allocatable.memory="512Gi"' >&2
# kwok runs no storage provisioner: a default StorageClass with pre-made PersistentVolumes lets
# the controller-manager bind the claims of embedded databases, as on a statically provisioned
# cluster (nothing is ever mounted: kwok runs no containers).
{
  cat <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-static
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
YAML
  for i in $(seq -w 1 "${CG_LOCAL_VOLUMES:-400}"); do
    printf -- '---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: local-pv-%s\n' "$i"
    printf 'spec:\n  capacity: {storage: 20Gi}\n  accessModes: [ReadWriteOnce, ReadWriteMany]\n'
    printf '  storageClassName: local-static\n  hostPath: {path: /tmp/local-pv-%s}\n' "$i"
  done
} | "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" apply --server-side -f - >/dev/null
log "ready in $(( ($(date +%s%N) - started) / 1000000 )) ms; export KUBECONFIG=$KUBECONFIG_PATH"
