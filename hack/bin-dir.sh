#!/usr/bin/env bash
# Prints the cache folder that holds the Go-built binaries for the pinned Kubernetes version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/versions.env
source "$here/versions.env"
echo "${XDG_CACHE_HOME:-$HOME/.cache}/cg-operator/bin/${KUBERNETES_VERSION}"
