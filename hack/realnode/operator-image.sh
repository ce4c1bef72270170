#!/usr/bin/env bash
# Builds the operator's image from the project's own Dockerfile, without Docker and without a
# registry, for the real node: Debian's buildah builds it (daemonless; --isolation chroot, so it
# needs no container runtime of its own), on a stand-in for the Dockerfile's base image, and
# writes it as an OCI archive that `ctr images import` takes.
#
# The stand-in: the registry's python:3.11-slim-bookworm cannot be pulled here, so an image of
# the same name is made from Debian bookworm's own packages (mmdebstrap: python3 3.11, pip,
# python-is-python3) plus the CA certificates this machine trusts (its egress goes through a TLS
# proxy). Debian marks its Python externally managed (PEP 668); the official image does not, so
# the stand-in drops the marker. The Dockerfile is unchanged; only its PYTHON_IMAGE argument
# names the stand-in (the digest pin cannot match a local image).
#
# Usage: hack/realnode/operator-image.sh OUT.tar [NAME]   (NAME default cg-operator.local/cg-operator:dev)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:?usage: $0 OUT.tar [NAME]}
name=${2:-cg-operator.local/cg-operator:dev}
base=docker.io/library/python:3.11-slim-bookworm
cache="${XDG_CACHE_HOME:-$HOME/.cache}/cg-operator/buildah"

log() { printf '[operator-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install buildah mmdebstrap (make realnode-deps)"
done
buildah() { command buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver overlay "$@"; }
mkdir -p "$cache"

started=$(date +%s)
if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  log "making the stand-in $base from Debian bookworm's packages"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-pip,python-is-python3,ca-certificates \
    bookworm "$cache/rootfs.tar"
  container=$(buildah from scratch)
  buildah add "$container" "$cache/rootfs.tar" / >/dev/null
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    buildah copy "$container" /usr/local/share/ca-certificates/ /usr/local/share/ca-certificates/ >/dev/null
  fi
  buildah run --isolation chroot "$container" -- sh -c \
    'rm -f /usr/lib/python3*/EXTERNALLY-MANAGED && update-ca-certificates >/dev/null'
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$container"
  buildah commit --quiet --rm "$container" "$base" >/dev/null
  rm -f "$cache/rootfs.tar"
fi
log "building $name from $repo/Dockerfile"
buildah bud --quiet --isolation chroot --pull=never --layers=false \
  --build-arg "PYTHON_IMAGE=$base" -t "$name" "$repo" >"$cache/build.log" 2>&1 \
  || { tail -30 "$cache/build.log" >&2; die "the Dockerfile did not build (log: $cache/build.log)"; }
rm -f "$out"
buildah push --quiet "$name" "oci-archive:$out:$name" >/dev/null
size=$(buildah images --format '{{.Size}}' "$name" 2>/dev/null | head -1)
log "built in $(( $(date +%s) - started ))s: $out ($(du -h "$out" | cut -f1) archive, image ${size:-?})"
