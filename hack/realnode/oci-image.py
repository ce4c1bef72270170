"""Pack a root filesystem folder into an OCI image archive (oci-layout, one layer) that
`ctr images import` takes, named by the io.containerd.image.name annotation: the real node
pulls nothing from a registry, so its images are packed here.

Usage: oci-image.py ROOTFS NAME OUT.tar [--user UID] [--cmd ARG ...] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import tarfile
import time
from pathlib import Path


def _blob(out: tarfile.TarFile, data: bytes, media_type: str) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size, info.mtime = len(data), 0
    out.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _layer(rootfs: Path) -> tuple[bytes, str]:
    """The folder as a gzipped tar (owners as they are on disk), and its uncompressed digest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for path in sorted(rootfs.rglob("*")):
            layer.add(path, arcname=str(path.relative_to(rootfs)), recursive=False)
    plain = raw.getvalue()
    return gzip.compress(plain, compresslevel=1, mtime=0), hashlib.sha256(plain).hexdigest()


def pack(rootfs: Path, name: str, out_path: Path, config: dict[str, object]) -> None:
    layer, diff_id = _layer(rootfs)
    image_config = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(0)),
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
    }
    with tarfile.open(out_path, "w") as out:
        layer_desc = _blob(out, layer, "application/vnd.oci.image.layer.v1.tar+gzip")
        config_desc = _blob(
            out, json.dumps(image_config).encode(), "application/vnd.oci.image.config.v1+json"
        )
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [layer_desc],
        }
        manifest_desc = _blob(
            out, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json"
        )
        manifest_desc["annotations"] = {
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
        }
        index = {"schemaVersion": 2, "manifests": [manifest_desc]}
        for file_name, data in (
            ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
            ("index.json", json.dumps(index).encode()),
        ):
            info = tarfile.TarInfo(file_name)
            info.size, info.mtime = len(data), 0
            out.addfile(info, io.BytesIO(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rootfs", type=Path)
    parser.add_argument("name")
    parser.add_argument("out", type=Path)
    parser.add_argument("--user", default="")
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--cmd", nargs="*", default=[])
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()
    config: dict[str, object] = {"WorkingDir": args.workdir, "Env": args.env, "Cmd": args.cmd}
    if args.user:
        config["User"] = args.user
    pack(args.rootfs, args.name, args.out, config)


if __name__ == "__main__":
    main()
