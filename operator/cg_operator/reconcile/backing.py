"""Backing services (PostgreSQL, Redis, ...): embedded single-node StatefulSets or external
Secrets, and the environment a component reads them from. Pure.

Every connection detail reaches the component through `secretKeyRef`, never inline. An external
service's Secret (named by the tenant) must hold the keys listed in `keys`; an embedded one's
Secret is written by the operator with those keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cg_operator.api.component import PLACEHOLDER, BackingService, BackingServiceType, ServiceEnv


@dataclass(frozen=True)
class Flavour:
    """How one kind of backing service runs embedded and how a component reads it."""

    port: int
    uid: int
    data_path: str
    storage: str
    readiness: tuple[str, ...]
    # The component's variables when its catalogue entry names none: the convention of the
    # Maykin apps (open-api-framework's DB_*, CACHE_DEFAULT, CELERY_*).
    env: tuple[tuple[str, str], ...]
    # Keys an external Secret must have.
    keys: tuple[str, ...]
    needs_password: bool = False
    # The embedded server's requests and limits: explicit, so that a tenant quota on limits
    # admits it without LimitRange defaults.
    resources: dict[str, Any] = field(
        default_factory=lambda: {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        }
    )


def embedded_image(service: BackingService) -> str:
    """The embedded image for a service and the extensions the component needs."""
    major = service.version
    match service.type:
        case BackingServiceType.POSTGRESQL if "postgis" in service.extensions:
            return f"postgis/postgis:{major or '17'}-3.5"
        case BackingServiceType.POSTGRESQL:
            return f"postgres:{major or '17'}"
        case BackingServiceType.REDIS:
            return f"redis:{major or '7'}"
        case BackingServiceType.RABBITMQ:
            return f"rabbitmq:{major or '4'}"
        case BackingServiceType.ELASTICSEARCH:
            # Docker Hub publishes full versions only: there is no elasticsearch:8.
            return f"elasticsearch:{major or '8.17.0'}"
        case BackingServiceType.SOLR:
            return f"solr:{major or '9.10.1'}"
    raise ValueError(service.type)  # pragma: no cover - exhaustive


FLAVOURS: dict[BackingServiceType, Flavour] = {
    BackingServiceType.POSTGRESQL: Flavour(
        port=5432,
        uid=999,
        data_path="/var/lib/postgresql/data",
        storage="1Gi",
        readiness=("pg_isready", "-U", "app"),
        env=(
            ("DB_HOST", "host"),
            ("DB_PORT", "port"),
            ("DB_NAME", "database"),
            ("DB_USER", "username"),
            ("DB_PASSWORD", "password"),
        ),
        keys=("host", "port", "database", "username", "password"),
        needs_password=True,
    ),
    BackingServiceType.REDIS: Flavour(
        port=6379,
        uid=999,
        data_path="/data",
        storage="256Mi",
        readiness=("redis-cli", "ping"),
        env=(
            ("CACHE_DEFAULT", "cache"),
            ("CELERY_BROKER_URL", "url"),
            ("CELERY_RESULT_BACKEND", "url"),
        ),
        keys=("host", "port", "cache", "url"),
    ),
    BackingServiceType.RABBITMQ: Flavour(
        port=5672,
        uid=999,
        data_path="/var/lib/rabbitmq",
        storage="512Mi",
        readiness=("rabbitmq-diagnostics", "-q", "ping"),
        env=(("AMQP_URL", "url"),),
        keys=("host", "port", "username", "password", "url"),
        needs_password=True,
    ),
    BackingServiceType.ELASTICSEARCH: Flavour(
        port=9200,
        uid=1000,
        data_path="/usr/share/elasticsearch/data",
        storage="2Gi",
        readiness=("curl", "-fs", "http://127.0.0.1:9200/_cluster/health?local=true"),
        env=(("ELASTICSEARCH_URL", "url"),),
        keys=("host", "port", "url"),
        # A 512 MB heap (ES_JAVA_OPTS below) needs about twice that in the container.
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
        env=(("SOLR_URL", "url"),),
        keys=("host", "port", "url"),
        # SOLR_HEAP (512m, below) plus the JVM's own memory.
        resources={
            "requests": {"cpu": "250m", "memory": "768Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    ),
}


def secret_data(
    service: BackingServiceType, host: str, database: str, password: str | None
) -> dict[str, str]:
    """The connection details an embedded service's Secret holds (plain text, before base64)."""
    port = str(FLAVOURS[service].port)
    match service:
        case BackingServiceType.POSTGRESQL:
            return {
                "host": host,
                "port": port,
                "database": database,
                "username": "app",
                "password": password or "",
            }
        case BackingServiceType.REDIS:
            return {
                "host": host,
                "port": port,
                "cache": f"{host}:{port}/0",
                "url": f"redis://{host}:{port}/1",
            }
        case BackingServiceType.RABBITMQ:
            return {
                "host": host,
                "port": port,
                "username": "app",
                "password": password or "",
                "vhost": "/",
                "url": f"amqp://app:{password}@{host}:{port}/",
            }
        case _:
            scheme_path = "/solr" if service is BackingServiceType.SOLR else ""
            return {"host": host, "port": port, "url": f"http://{host}:{port}{scheme_path}"}


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

    def ref(key: str) -> dict[str, object]:
        return {"secretKeyRef": {"name": secret, "key": key}}

    match service:
        case BackingServiceType.POSTGRESQL:
            return [
                {"name": "POSTGRES_DB", "valueFrom": ref("database")},
                {"name": "POSTGRES_USER", "valueFrom": ref("username")},
                {"name": "POSTGRES_PASSWORD", "valueFrom": ref("password")},
                {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
            ]
        case BackingServiceType.RABBITMQ:
            return [
                {"name": "RABBITMQ_DEFAULT_USER", "valueFrom": ref("username")},
                {"name": "RABBITMQ_DEFAULT_PASS", "valueFrom": ref("password")},
            ]
        case BackingServiceType.ELASTICSEARCH:
            return [
                {"name": "discovery.type", "value": "single-node"},
                {"name": "xpack.security.enabled", "value": "false"},
                {"name": "ES_JAVA_OPTS", "value": "-Xms512m -Xmx512m"},
            ]
        case BackingServiceType.SOLR:
            return [{"name": "SOLR_HEAP", "value": "512m"}]
        case _:
            return []
