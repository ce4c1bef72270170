"""Backing services (PostgreSQL, Redis, ...): embedded single-node StatefulSets or external
Secrets, and the environment a component reads them from. Pure.

Every connection detail reaches the component through `secretKeyRef`, never inline. An external
service's Secret (named by the tenant) must hold the keys the component reads (required_keys);
an embedded one's Secret is written by the operator with every key of its flavour's connection.
A kind of service is a Flavour: data, no branch on the type anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cg_operator.api.component import PLACEHOLDER, BackingService, BackingServiceType, ServiceEnv
from cg_operator.reconcile.digests import pinned


@dataclass(frozen=True)
class ServerSetting:
    """One variable of the embedded server itself: from a key of its Secret, or a value."""

    name: str
    key: str | None = None
    value: str | None = None

    def wire(self, secret: str) -> dict[str, object]:
        """The container env entry."""
        if self.key is not None:
            return {"name": self.name, "valueFrom": _ref(secret, self.key)}
        return {"name": self.name, "value": self.value or ""}


@dataclass(frozen=True)
class Flavour:
    """How one kind of backing service runs embedded and how a component reads it: data only,
    so that a new kind of service is one more entry in FLAVOURS."""

    port: int
    uid: int
    data_path: str
    storage: str
    readiness: tuple[str, ...]
    # The image, `{version}` filled with the service's version or `default_version`; an
    # extension the component asks for may need another image (PostGIS).
    image: str
    default_version: str
    # The keys of its Secret and how each is composed from host, port, database, username and
    # password (`{name}` placeholders). An external Secret needs the keys the component
    # reads (required_keys).
    connection: tuple[tuple[str, str], ...]
    # The component's variables when its catalogue entry names none: the convention of the
    # Maykin apps (open-api-framework's DB_*, CACHE_DEFAULT, CELERY_*).
    env: tuple[tuple[str, str], ...]
    extension_images: tuple[tuple[str, str], ...] = ()
    needs_password: bool = False
    username: str = ""
    # What the embedded server reads: its own user, password, heap, single-node mode.
    server: tuple[ServerSetting, ...] = ()
    # The container's arguments when the component names a core (`{core}`).
    core_args: tuple[str, ...] = ()
    # The embedded server's requests and limits: explicit, so that a tenant quota on limits
    # admits it without LimitRange defaults.
    resources: dict[str, Any] = field(
        default_factory=lambda: {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        }
    )


_HOST_PORT = (("host", "{host}"), ("port", "{port}"))

FLAVOURS: dict[BackingServiceType, Flavour] = {
    BackingServiceType.POSTGRESQL: Flavour(
        port=5432,
        uid=999,
        data_path="/var/lib/postgresql/data",
        storage="1Gi",
        readiness=("pg_isready", "-U", "app"),
        image="postgres:{version}",
        default_version="17",
        extension_images=(("postgis", "postgis/postgis:{version}-3.5"),),
        connection=(
            *_HOST_PORT,
            ("database", "{database}"),
            ("username", "{username}"),
            ("password", "{password}"),
        ),
        env=(
            ("DB_HOST", "host"),
            ("DB_PORT", "port"),
            ("DB_NAME", "database"),
            ("DB_USER", "username"),
            ("DB_PASSWORD", "password"),
        ),
        needs_password=True,
        username="app",
        server=(
            ServerSetting("POSTGRES_DB", key="database"),
            ServerSetting("POSTGRES_USER", key="username"),
            ServerSetting("POSTGRES_PASSWORD", key="password"),
            ServerSetting("PGDATA", value="/var/lib/postgresql/data/pgdata"),
        ),
    ),
    BackingServiceType.REDIS: Flavour(
        port=6379,
        uid=999,
        data_path="/data",
        storage="256Mi",
        readiness=("redis-cli", "ping"),
        image="redis:{version}",
        default_version="7",
        # Django's cache takes host:port/db; Celery a URL. Separate databases keep them apart.
        connection=(*_HOST_PORT, ("cache", "{host}:{port}/0"), ("url", "redis://{host}:{port}/1")),
        env=(
            ("CACHE_DEFAULT", "cache"),
            ("CELERY_BROKER_URL", "url"),
            ("CELERY_RESULT_BACKEND", "url"),
        ),
    ),
    BackingServiceType.RABBITMQ: Flavour(
        port=5672,
        uid=999,
        data_path="/var/lib/rabbitmq",
        storage="512Mi",
        readiness=("rabbitmq-diagnostics", "-q", "ping"),
        image="rabbitmq:{version}",
        default_version="4",
        connection=(
            *_HOST_PORT,
            ("username", "{username}"),
            ("password", "{password}"),
            ("vhost", "/"),
            ("url", "amqp://{username}:{password}@{host}:{port}/"),
        ),
        env=(("AMQP_URL", "url"),),
        needs_password=True,
        username="app",
        server=(
            ServerSetting("RABBITMQ_DEFAULT_USER", key="username"),
            ServerSetting("RABBITMQ_DEFAULT_PASS", key="password"),
        ),
    ),
    BackingServiceType.ELASTICSEARCH: Flavour(
        port=9200,
        uid=1000,
        data_path="/usr/share/elasticsearch/data",
        storage="2Gi",
        readiness=("curl", "-fs", "http://127.0.0.1:9200/_cluster/health?local=true"),
        # Docker Hub publishes full versions only: there is no elasticsearch:8.
        image="elasticsearch:{version}",
        default_version="8.17.0",
        connection=(*_HOST_PORT, ("url", "http://{host}:{port}")),
        env=(("ELASTICSEARCH_URL", "url"),),
        server=(
            ServerSetting("discovery.type", value="single-node"),
            ServerSetting("xpack.security.enabled", value="false"),
            ServerSetting("ES_JAVA_OPTS", value="-Xms512m -Xmx512m"),
        ),
        # A 512 MB heap (ES_JAVA_OPTS) needs about twice that in the container.
        resources={
            "requests": {"cpu": "250m", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1536Mi"},
        },
    ),
    BackingServiceType.SOLR: Flavour(
        port=8983,
        uid=8983,
        data_path="/var/solr",
        storage="1Gi",
        readiness=("curl", "-fs", "http://127.0.0.1:8983/solr/admin/info/health"),
        image="solr:{version}",
        default_version="9.10.1",
        connection=(*_HOST_PORT, ("url", "http://{host}:{port}/solr")),
        env=(("SOLR_URL", "url"),),
        server=(ServerSetting("SOLR_HEAP", value="512m"),),
        # The docker-library image's solr-precreate makes the core and starts Solr.
        core_args=("solr-precreate", "{core}"),
        # SOLR_HEAP (512m) plus the JVM's own memory.
        resources={
            "requests": {"cpu": "250m", "memory": "768Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    ),
}


@dataclass(frozen=True)
class BackingImages:
    """The platform's choice of embedded images, by key `type[+extension][:version]` (e.g.
    `postgresql`, `postgresql:17`, `postgresql+postgis:17`): a mirror, or an image pinned by
    digest per version. A value may hold `{version}`. Unset keys keep the flavour's image."""

    images: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> BackingImages:
        """From `KEY=IMAGE` entries; ValueError naming the entry and what is allowed."""
        images: dict[str, str] = {}
        for entry in entries:
            key, sep, image = entry.partition("=")
            match = _IMAGE_KEY.fullmatch(key.strip().lower())
            if not sep or match is None or match["type"] not in _TYPES:
                raise ValueError(
                    f"backing image {entry!r}: expected TYPE[+EXTENSION][:VERSION]=IMAGE with "
                    f"TYPE one of {', '.join(sorted(_TYPES))}"
                )
            image = image.strip()
            if not image or any(c.isspace() for c in image):
                raise ValueError(f"backing image {entry!r}: the image is empty or has spaces")
            try:
                image.format(version="1")
            except (KeyError, IndexError, ValueError):
                raise ValueError(
                    f"backing image {entry!r}: the only placeholder allowed is {{version}}"
                ) from None
            images[match.group(0)] = image
        return cls(tuple(sorted(images.items())))

    def lookup(self, type_: BackingServiceType, extension: str | None, version: str) -> str | None:
        """The platform's image for a service, the most specific key first."""
        images = dict(self.images)
        base = type_.value.lower() + (f"+{extension}" if extension else "")
        for key in (f"{base}:{version}", base):
            if key in images:
                return images[key].format(version=version)
        return None


_TYPES = frozenset(t.value.lower() for t in BackingServiceType)
_IMAGE_KEY = re.compile(r"(?P<type>[a-z]+)(\+(?P<extension>[a-z0-9_]+))?(:(?P<version>[\w.-]+))?")


def embedded_image(service: BackingService, platform: BackingImages | None = None) -> str:
    """The embedded image for a service and the extensions the component needs: the
    platform's choice when it made one (--backing-image), else the flavour's, by its recorded
    digest where there is one (reconcile/digests)."""
    flavour = FLAVOURS[service.type]
    version = service.version or flavour.default_version
    extension, template = next(
        ((ext, image) for ext, image in flavour.extension_images if ext in service.extensions),
        (None, flavour.image),
    )
    chosen = (platform or BackingImages()).lookup(service.type, extension, version)
    return chosen or pinned(template.format(version=version))


def embedded_args(service: BackingService) -> list[str]:
    """The embedded server's arguments (a Solr core to create first)."""
    if not service.core:
        return []
    return [arg.format(core=service.core) for arg in FLAVOURS[service.type].core_args]


def secret_data(
    service: BackingServiceType, host: str, database: str, password: str | None
) -> dict[str, str]:
    """The connection details an embedded service's Secret holds (plain text, before base64)."""
    flavour = FLAVOURS[service]
    parts = {
        "host": host,
        "port": str(flavour.port),
        "database": database,
        "username": flavour.username,
        "password": password or "",
    }
    return {key: template.format(**parts) for key, template in flavour.connection}


def env_mapping(service: BackingService) -> list[ServiceEnv]:
    """The variables a component reads the service from: its catalogue entry's, else the
    common convention."""
    if service.env:
        return list(service.env)
    return [ServiceEnv(name=name, key=key) for name, key in FLAVOURS[service.type].env]


def required_keys(service: BackingService) -> list[str]:
    """The connection keys an external Secret must hold for this component."""
    return sorted({key for entry in env_mapping(service) for key in entry.keys_used()})


def component_env(service: BackingService, secret: str) -> list[dict[str, object]]:
    """The component's environment for one service, every value from the given Secret: a key
    as is, or a value composed of keys through helper variables (CG_<SERVICE>_<KEY>) that the
    kubelet expands ($(VAR)), so that no connection detail is ever written inline."""
    prefix = f"CG_{service.type.value.upper()}_"
    helpers: dict[str, dict[str, object]] = {}
    out: list[dict[str, object]] = []
    for entry in env_mapping(service):
        if entry.key is not None:
            out.append({"name": entry.name, "valueFrom": _ref(secret, entry.key)})
            continue
        for key in entry.keys_used():
            helpers.setdefault(key, {"name": prefix + key.upper(), "valueFrom": _ref(secret, key)})
        # Literal "$(" is escaped as "$$(" so that only the helpers are expanded.
        literal = (entry.value or "").replace("$(", "$$(")
        out.append(
            {
                "name": entry.name,
                "value": re.sub(PLACEHOLDER, lambda m: f"$({prefix}{m.group(1).upper()})", literal),
            }
        )
    return [*helpers.values(), *out]


def _ref(secret: str, key: str) -> dict[str, object]:
    return {"secretKeyRef": {"name": secret, "key": key}}


def server_env(service: BackingServiceType, secret: str) -> list[dict[str, object]]:
    """What the embedded server itself needs (its password, database, user) from its Secret."""
    return [setting.wire(secret) for setting in FLAVOURS[service].server]
