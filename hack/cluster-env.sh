# Sourced by the cluster scripts: where the binaries, the kwok work folder and the kubeconfig are.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BIN_DIR=$("$here/bin-dir.sh")
CLUSTER_NAME=${CG_CLUSTER_NAME:-cg-operator}
export KWOK_WORKDIR="$repo/.local/kwok"
# The default cluster's kubeconfig is .local/kubeconfig; another CG_CLUSTER_NAME gets its own.
if [ "$CLUSTER_NAME" = cg-operator ]; then
  KUBECONFIG_PATH="$repo/.local/kubeconfig"
else
  KUBECONFIG_PATH="$repo/.local/kubeconfig-$CLUSTER_NAME"
fi
