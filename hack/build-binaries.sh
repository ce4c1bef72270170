#!/usr/bin/env bash
# Builds the tools the tests run (helm, prometheus, promtool; the Gateway API CRDs) and the local control plane
# (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, kwokctl) from
# their Go modules into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/cg-operator/bin/<kubernetes version>/
# Usage: hack/build-binaries.sh [all|tools|cluster|kind|realnode]   (default all; `tools` is what the chart
# and monitoring tests need, a few minutes cold; `cluster` is the control plane, most of the time;
# `kind` only for the real-pod tier, which needs a container engine)
# Nothing is downloaded but Go modules; nothing is written into the repository.
# A binary whose stamp matches its pinned version is left alone, so a warm run takes a second.
# A cold build (empty Go module and build caches) took 12.5 minutes on 2 cores, most of it
# kube-apiserver; the binaries take about 520 MB. A warm GOCACHE makes a rebuild a few minutes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/versions.env
source "$here/versions.env"

bin_dir=$("$here/bin-dir.sh")
work_root="${XDG_CACHE_HOME:-$HOME/.cache}/cg-operator/build"
mkdir -p "$bin_dir" "$work_root"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not on PATH; install Go >= 1.26 (https://go.dev/doc/install)."
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "$go_minor" -ge 26 ] || die "Go $(go env GOVERSION) is too old: Kubernetes ${KUBERNETES_VERSION} needs Go >= 1.26."
go list -m -versions "k8s.io/kubernetes" >/dev/null 2>&1 \
  || die "the Go module proxy ($(go env GOPROXY)) does not answer: cannot fetch k8s.io/kubernetes."

# quiet DIR CMD...: run CMD in DIR; its chatter (module downloads) goes to a log shown on failure.
quiet() {
  local dir=$1; shift
  if ! (cd "$dir" && "$@") >"$dir/last-command.log" 2>&1; then
    tail -n 40 "$dir/last-command.log" >&2
    die "'$*' failed in $dir (full log: $dir/last-command.log)"
  fi
}

# up_to_date NAME VERSION: the binary exists and was built from VERSION.
up_to_date() { [ -x "$bin_dir/$1" ] && [ "$(cat "$bin_dir/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$bin_dir/.$1.version"; }

# build_kubernetes [NAME...]: the control plane's binaries (default), or the NAMEs given (kubelet
# for the real node), from the same wrapper module.
build_kubernetes() {
  local names=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=()
  [ "$#" -eq 0 ] || names=("$@")
  for n in "${names[@]}"; do up_to_date "$n" "$KUBERNETES_VERSION" || missing+=("$n"); done
  [ "${#missing[@]}" -gt 0 ] || { log "kubernetes ${KUBERNETES_VERSION}: cached"; return; }

  local ver=${KUBERNETES_VERSION#v} major minor staging_ver work gomod
  major=${ver%%.*}; minor=$(echo "$ver" | cut -d. -f2)
  staging_ver="v0.${minor}.$(echo "$ver" | cut -d. -f3)"
  work="$work_root/kubernetes-${KUBERNETES_VERSION}"
  mkdir -p "$work"
  log "kubernetes ${KUBERNETES_VERSION}: resolving the staging modules (replace k8s.io/* => ${staging_ver})"
  gomod=$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@${KUBERNETES_VERSION}"
  {
    echo "module cg-operator.local/kubernetes-binaries"
    echo
    echo "go 1.26.0"
    echo
    echo "godebug default=go1.26"
    echo
    echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
    echo
    # Every staging module (upstream maps each to ./staging/src/k8s.io/<m>; a dependency's replace
    # directives do not count) is replaced by its tagged release k8s.io/<m> v0.X.Y.
    grep -E '^\s+k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" \
      | awk -v v="$staging_ver" '{print "replace " $1 " => " $1 " " v}'
  } >"$work/go.mod"
  log "kubernetes: $(grep -c '^replace' "$work/go.mod") staging modules replaced"
  local packages=() n
  for n in "${missing[@]}"; do packages+=("k8s.io/kubernetes/cmd/$n@${KUBERNETES_VERSION}"); done
  quiet "$work" go get "${packages[@]}"

  local build_date ldflags="" pkg
  build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION} -X ${pkg}.gitMajor=${major}"
    ldflags+=" -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${build_date}"
  done
  for n in "${missing[@]}"; do
    log "kubernetes: building $n (several minutes each on 2 cores)"
    quiet "$work" go build -trimpath -ldflags "-s -w ${ldflags}" -o "$bin_dir/$n.tmp" "k8s.io/kubernetes/cmd/$n"
    mv "$bin_dir/$n.tmp" "$bin_dir/$n"; stamp "$n" "$KUBERNETES_VERSION"
  done
}

# build_simple NAME MODULE VERSION PACKAGE: a wrapper module that requires MODULE@VERSION and
# builds PACKAGE; a separate module per tool keeps each at the dependency versions it was tested with.
build_simple() { build_tagged "$1" "$2" "$3" "$4" "" "${5:-}"; }

build_prometheus() {
  # Release v3.XY.Z is the module version v0.3XY.Z; the web UI's assets are not in the module,
  # which the tests never open (they use the HTTP API).
  local release="v3.${PROMETHEUS_VERSION#v0.3}" flags="" pkg=github.com/prometheus/common/version
  release=${release/v3.0/v3.}
  flags="-X ${pkg}.Version=${release#v} -X ${pkg}.Branch=HEAD -X ${pkg}.Revision=${PROMETHEUS_VERSION}"
  build_simple prometheus github.com/prometheus/prometheus "$PROMETHEUS_VERSION" \
    github.com/prometheus/prometheus/cmd/prometheus "$flags"
  build_simple promtool github.com/prometheus/prometheus "$PROMETHEUS_VERSION" \
    github.com/prometheus/prometheus/cmd/promtool "$flags"
}

# The Gateway API's standard CRDs (the integration tests install them for the HTTPRoute
# exposure mode), copied from the module's config/crd/standard: YAML, nothing to build.
fetch_gateway_api() {
  local name=gateway-api-crds dir
  if [ -d "$bin_dir/$name" ] && [ "$(cat "$bin_dir/.$name.version" 2>/dev/null)" = "$GATEWAY_API_VERSION" ]; then
    log "$name ${GATEWAY_API_VERSION}: cached"; return
  fi
  dir=$(go mod download -json "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$dir/config/crd/standard" ] || die "could not download sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}"
  rm -rf "${bin_dir:?}/$name" && mkdir -p "$bin_dir/$name"
  for kind in gatewayclasses gateways httproutes referencegrants; do
    cp "$dir/config/crd/standard/gateway.networking.k8s.io_${kind}.yaml" "$bin_dir/$name/"
  done
  chmod u+w "$bin_dir/$name"/*.yaml
  stamp "$name" "$GATEWAY_API_VERSION"
  log "$name ${GATEWAY_API_VERSION}: copied"
}

build_tools() {
  build_simple helm helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
    "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  build_prometheus
  fetch_gateway_api
}

# The real node (make realnode-up): the kubelet, containerd and its runc shim, runc, and a pause
# binary for the sandbox image. runc needs cgo and libseccomp (Debian libseccomp-dev): containerd
# applies the RuntimeDefault seccomp profile to every sandbox, which a runc without seccomp
# refuses ("seccomp: config provided but seccomp not supported").
build_realnode() {
  build_kubernetes kubelet
  local cd_flags="-X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION}"
  for n in containerd containerd-shim-runc-v2 ctr; do
    build_tagged "$n" github.com/containerd/containerd/v2 "$CONTAINERD_VERSION" \
      "github.com/containerd/containerd/v2/cmd/$n" no_btrfs "$cd_flags"
  done
  pkg-config --exists libseccomp 2>/dev/null \
    || die "runc needs libseccomp's headers: apt-get install libseccomp-dev pkg-config (make realnode-deps)"
  CGO_ENABLED=1 build_tagged runc github.com/opencontainers/runc "$RUNC_VERSION" \
    github.com/opencontainers/runc seccomp "-X main.version=${RUNC_VERSION#v}"
  build_pause
}

# build_tagged NAME MODULE VERSION PACKAGE TAGS [LDFLAGS]: build_simple with Go build tags.
build_tagged() {
  local name=$1 module=$2 version=$3 pkg=$4 tags=$5 ldflags=${6:-} work
  up_to_date "$name" "$version" && { log "$name ${version}: cached"; return; }
  work="$work_root/${name}-${version}"
  mkdir -p "$work"
  printf 'module cg-operator.local/%s-binary\n\ngo 1.26.0\n' "$name" >"$work/go.mod"
  log "$name ${version}: building from ${module}${tags:+ (tags: ${tags})}"
  quiet "$work" go get "${pkg}@${version}"
  quiet "$work" go build -trimpath -tags "$tags" -ldflags "-s -w ${ldflags}" -o "$bin_dir/$name.tmp" "$pkg"
  mv "$bin_dir/$name.tmp" "$bin_dir/$name"; stamp "$name" "$version"
}

# The sandbox's pause process: waits for a signal and reaps children, as the pause image does.
# Our own few lines (hack/realnode/pause.go), built static.
build_pause() {
  local src="$here/realnode/pause.go" version
  version=$(sha256sum "$src" | cut -c1-16)
  up_to_date pause "$version" && { log "pause: cached"; return; }
  local work="$work_root/pause"
  mkdir -p "$work" && cp "$src" "$work/main.go"
  printf 'module cg-operator.local/pause\n\ngo 1.26.0\n' >"$work/go.mod"
  quiet "$work" go build -trimpath -ldflags "-s -w" -o "$bin_dir/pause.tmp" .
  mv "$bin_dir/pause.tmp" "$bin_dir/pause"; stamp pause "$version"
}

build_cluster() {
  build_simple etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
  build_simple kwok sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
  build_simple kwokctl sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwokctl \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
  build_kubernetes
}

started=$(date +%s)
log "binaries go to $bin_dir"
case "${1:-all}" in
  tools) build_tools ;;
  cluster) build_cluster ;;
  kind) build_simple kind sigs.k8s.io/kind "$KIND_VERSION" sigs.k8s.io/kind ;;
  realnode) build_realnode ;;
  all) build_tools; build_cluster; build_realnode ;;
  *) die "usage: $0 [all|tools|cluster|kind|realnode]" ;;
esac
log "done in $(( $(date +%s) - started ))s; $(du -sh "$bin_dir" | cut -f1) in $bin_dir"
