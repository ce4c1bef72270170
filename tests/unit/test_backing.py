"""Backing-service flavours are data: every kind of service writes the keys its components read,
composes them consistently, and picks the image and arguments from the catalogue's wishes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cg_operator.api.component import (
    CONNECTION_KEYS,
    BackingService,
    BackingServiceType,
    ServiceEnv,
)
from cg_operator.reconcile.backing import (
    FLAVOURS,
    BackingImages,
    component_env,
    embedded_args,
    embedded_image,
    required_keys,
    secret_data,
    server_env,
)
from cg_operator.reconcile.digests import RECORDED, pinned

HOST = "open-zaak-postgresql.gm0363-amsterdam.svc.cluster.local"


@pytest.mark.parametrize("kind", list(BackingServiceType))
def test_every_service_kind_has_a_flavour_whose_secret_holds_what_components_read(
    kind: BackingServiceType,
) -> None:
    service = BackingService(type=kind)
    written = secret_data(kind, HOST, "open_zaak", "s3cret")
    assert set(required_keys(service)) <= set(written)
    assert written["host"] == HOST
    assert written["port"] == str(FLAVOURS[kind].port)


def test_composed_connection_values_carry_the_generated_password() -> None:
    rabbit = secret_data(BackingServiceType.RABBITMQ, "mq", "x", "pw")
    assert rabbit["url"] == "amqp://app:pw@mq:5672/"
    redis = secret_data(BackingServiceType.REDIS, "cache", "x", None)
    # Django's cache and Celery use separate databases.
    assert (redis["cache"], redis["url"]) == ("cache:6379/0", "redis://cache:6379/1")
    assert secret_data(BackingServiceType.SOLR, "s", "x", None)["url"] == "http://s:8983/solr"


@pytest.mark.parametrize(
    ("service", "image"),
    [
        (
            BackingService(type=BackingServiceType.POSTGRESQL),
            f"postgres:17@{RECORDED['postgres:17']}",
        ),
        (BackingService(type=BackingServiceType.POSTGRESQL, version="16"), "postgres:16"),
        (
            BackingService(type=BackingServiceType.POSTGRESQL, extensions=["postgis"]),
            "postgis/postgis:17-3.5",
        ),
        (BackingService(type=BackingServiceType.ELASTICSEARCH), "elasticsearch:8.17.0"),
        (BackingService(type=BackingServiceType.SOLR), f"solr:9.10.1@{RECORDED['solr:9.10.1']}"),
    ],
)
def test_the_embedded_image_follows_version_and_extensions(
    service: BackingService, image: str
) -> None:
    assert embedded_image(service) == image


def test_every_recorded_digest_is_a_whole_sha256_of_an_image_the_flavours_run() -> None:
    # A digest that cannot be an image index would stop every embedded service of its kind.
    for image, digest in RECORDED.items():
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image
        assert ":" in image, image
        assert "@" not in image, image
    # Recorded for what the example catalogue runs, and for nothing else.
    catalogue = [
        yaml.safe_load(path.read_text())
        for path in (Path(__file__).parents[2] / "examples" / "catalog").glob("*.yaml")
    ]
    runs = {
        embedded_image(BackingService.model_validate(service)).split("@")[0]
        for entry in catalogue
        for version in entry["spec"]["versions"]
        for service in (version.get("container") or {}).get("backingServices") or []
    }
    assert set(RECORDED) <= runs
    assert {"postgres:17", "redis:7", "rabbitmq:4", "solr:9.10.1"} <= set(RECORDED)


def test_a_recorded_digest_never_overrides_the_platforms_choice() -> None:
    mirror = BackingImages.parse(["postgresql=mirror.example/postgres:{version}"])
    service = BackingService(type=BackingServiceType.POSTGRESQL)
    assert embedded_image(service, mirror) == "mirror.example/postgres:17"
    assert pinned("postgres:17@sha256:" + "b" * 64) == "postgres:17@sha256:" + "b" * 64
    assert pinned("postgres:16") == "postgres:16"  # no digest recorded: by its tag


PINNED = "registry.gemeenten.example/postgres@sha256:" + "a" * 64
PLATFORM = BackingImages.parse(
    [
        f"postgresql:17={PINNED}",
        "postgresql=registry.gemeenten.example/postgres:{version}",
        "postgresql+postgis:17=registry.gemeenten.example/postgis@sha256:" + "b" * 64,
        "Redis=registry.gemeenten.example/redis:7.4.2",
    ]
)


@pytest.mark.parametrize(
    ("service", "image"),
    [
        # A digest pinned for one version wins over the mirror's template.
        (BackingService(type=BackingServiceType.POSTGRESQL), PINNED),
        (
            BackingService(type=BackingServiceType.POSTGRESQL, version="16"),
            "registry.gemeenten.example/postgres:16",
        ),
        (
            BackingService(type=BackingServiceType.POSTGRESQL, extensions=["postgis"]),
            "registry.gemeenten.example/postgis@sha256:" + "b" * 64,
        ),
        # A PostGIS version the platform pinned nothing for keeps the public PostGIS image,
        # never the plain postgres mirror (which lacks the extension).
        (
            BackingService(
                type=BackingServiceType.POSTGRESQL, version="16", extensions=["postgis"]
            ),
            "postgis/postgis:16-3.5",
        ),
        (BackingService(type=BackingServiceType.REDIS), "registry.gemeenten.example/redis:7.4.2"),
        (BackingService(type=BackingServiceType.SOLR), f"solr:9.10.1@{RECORDED['solr:9.10.1']}"),
    ],
)
def test_the_platform_chooses_mirrors_and_digests_for_embedded_images(
    service: BackingService, image: str
) -> None:
    assert embedded_image(service, PLATFORM) == image


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("postgres:17=registry/pg", "TYPE one of elasticsearch, postgresql, rabbitmq"),
        ("postgresql", "expected TYPE[+EXTENSION][:VERSION]=IMAGE"),
        ("postgresql=", "the image is empty"),
        ("postgresql=registry/pg:{major}", "the only placeholder allowed is {version}"),
    ],
)
def test_a_backing_image_entry_the_operator_cannot_use_is_refused_naming_it(
    entry: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        BackingImages.parse([entry])
    assert repr(entry) in str(refused.value)


def test_only_a_named_solr_core_gets_creation_arguments() -> None:
    solr = BackingService(type=BackingServiceType.SOLR, core="zac")
    assert embedded_args(solr) == ["solr-precreate", "zac"]
    assert embedded_args(BackingService(type=BackingServiceType.SOLR)) == []


def test_the_embedded_server_reads_its_credentials_from_its_secret_never_inline() -> None:
    env = {e["name"]: e for e in server_env(BackingServiceType.POSTGRESQL, "oz-postgresql")}
    assert env["POSTGRES_PASSWORD"] == {
        "name": "POSTGRES_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "oz-postgresql", "key": "password"}},
    }
    assert "value" not in env["POSTGRES_USER"]


def test_a_composed_variable_is_expanded_by_the_kubelet_from_secret_helpers() -> None:
    service = BackingService(
        type=BackingServiceType.POSTGRESQL,
        env=[ServiceEnv(name="SPRING_DATASOURCE_URL", value="jdbc:postgresql://{host}:{port}/x")],
    )
    env = component_env(service, "gzac-postgresql")
    assert env[-1] == {
        "name": "SPRING_DATASOURCE_URL",
        "value": "jdbc:postgresql://$(CG_POSTGRESQL_HOST):$(CG_POSTGRESQL_PORT)/x",
    }
    assert {e["name"] for e in env[:-1]} == {"CG_POSTGRESQL_HOST", "CG_POSTGRESQL_PORT"}


@pytest.mark.parametrize("kind", list(BackingServiceType))
def test_the_keys_admission_accepts_are_the_keys_the_operator_writes(
    kind: BackingServiceType,
) -> None:
    # api/ states the keys for the schema; the flavour writes them: the two must agree.
    assert tuple(key for key, _ in FLAVOURS[kind].connection) == CONNECTION_KEYS[kind]
