"""The digests of the embedded images, so that what runs is what was recorded, not whatever a
tag points to on the day a pod starts. Pure data.

Each digest is the image index (all platforms) that docker-library's own record of the official
images, github.com/docker-library/repo-info (repos/<image>/remote/<tag>.md), gives for the tag,
at the commit named beside it. An image without a recorded digest runs by its tag: PostGIS
(postgis/postgis is not one of docker-library's official images) and Elasticsearch versions
that record no longer lists. A platform pins those, or moves the pins on, with
`--backing-image TYPE[:VERSION]=IMAGE@sha256:...` (Helm `backingImages`), which wins over these.
"""

from __future__ import annotations

from typing import Final

RECORDED: Final[dict[str, str]] = {
    # repos/postgres/remote/17.md @0b63eec (PostgreSQL 17.11, built 2026-09-19)
    "postgres:17": "sha256:f4c66b820c6f974249089d3d16d86a3698eae11e8746eb6644b2271031e91232",
    # repos/redis/remote/7.md @0ae7309 (Redis 7.4.11, built 2026-09-19)
    "redis:7": "sha256:c6eabf748fc7a61dbb5a705c78bcf3d6377b1127a97d0ce965c11c44ba46896f",
    # repos/rabbitmq/remote/4.md @0a35052 (RabbitMQ 4.3.2, built 2026-07-06)
    "rabbitmq:4": "sha256:345dd3c11d67892c7b452fb2237d94f577acb2aa0569c3fd5c9841eb0c1b57fb",
    # repos/solr/remote/9.10.1.md @05607a4 (built 2026-08-21)
    "solr:9.10.1": "sha256:1f055b0260d3efb177b12d6a46e9ef510fb4d2616473a91f8f4d099384aa176a",
    # repos/elasticsearch/remote/8.19.20.md @3931c6a (built 2026-08-18)
    "elasticsearch:8.19.20": (
        "sha256:7c6a3d514563848873ae3e0e2e36502382842ebae38134a59e91214e8fcdabf3"
    ),
}


def pinned(image: str) -> str:
    """The image by its recorded digest (`name:tag@sha256:...`), or as it is when none is
    recorded for it or it already names one."""
    digest = RECORDED.get(image)
    return f"{image}@{digest}" if digest and "@" not in image else image
