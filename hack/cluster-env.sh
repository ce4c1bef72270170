# Sourced by the cluster scripts: where the binaries, the kwok work folder and the kubeconfig are.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BIN_DIR=$("$here/bin-dir.sh")
CLUSTER_NAME=${CG_CLUSTER_NAME:-cg-operator}
export KWOK_WORKDIR="$repo/.local/kwok"
KUBECONFIG_PATH="$repo/.local/kubeconfig"
