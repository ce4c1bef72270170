"""What a component's pods need from its catalogue entry: the user it runs as, its writable
volumes, probes as its maintainers define them, the host names it answers to and its secret
settings. Pure: every decision here is data from the catalogue, no component is named.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cg_operator.api.component import (
    ContainerSpec,
    ExecCheck,
    GeneratedSecret,
    SecretAlphabet,
    VolumeType,
)
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.reconcile.validation import FieldError

DEFAULT_DATA_SIZE = "1Gi"
ALPHABETS = {
    SecretAlphabet.ALPHANUMERIC: string.ascii_letters + string.digits,
    SecretAlphabet.URL_SAFE: string.ascii_letters + string.digits + "-_",
    SecretAlphabet.HEX: "0123456789abcdef",
}


GENERATED_SECRET_SUFFIX = "-secrets"  # noqa: S105 - a name suffix


def generated_secret_name(component: str) -> str:
    """The Secret holding an installation's generated settings (SECRET_KEY, ...)."""
    return f"{component}{GENERATED_SECRET_SUFFIX}"


def generate(secret: GeneratedSecret) -> str:
    """A fresh value for a generated setting, from the system's CSPRNG."""
    alphabet = ALPHABETS[secret.alphabet]
    return "".join(secrets.choice(alphabet) for _ in range(secret.length))


def allowed_hosts(
    services: list[str], namespace: str, cluster_domain: str, hostnames: list[str]
) -> list[str]:
    """Every name a request may carry as Host: each Service's in-cluster names (what the
    kubelet's probes, the operator's probe and in-cluster callers use; the proxy passes the
    Host it was called with), localhost (the image's own health check; Open Zaak's
    health-check documentation asks for it) and the public names the subscription declares."""
    in_cluster = [
        name
        for service in services
        for name in (
            service,
            f"{service}.{namespace}",
            f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.{cluster_domain}",
        )
    ]
    return list(dict.fromkeys([*in_cluster, "localhost", *hostnames]))


def host_settings(
    container: ContainerSpec,
    spec: ComponentInstallationSpec,
    namespace: str,
    cluster_domain: str,
) -> dict[str, str]:
    """The derived host setting (e.g. ALLOWED_HOSTS), or nothing when the component has none."""
    if container.hosts is None:
        return {}
    public = [spec.host] if spec.host else []
    names = allowed_hosts(
        service_names(spec.component, container),
        namespace,
        cluster_domain,
        [*public, *spec.hostnames],
    )
    return {container.hosts.env: container.hosts.separator.join(names)}


PROXY_SUFFIX = "-proxy"


def service_names(component: str, container: ContainerSpec) -> list[str]:
    """The Services in front of the app: its own, and the proxy's when it has one."""
    return [component] + ([f"{component}{PROXY_SUFFIX}"] if container.proxy else [])


def http_probes(container: ContainerSpec, host: str | None) -> list[dict[str, Any]]:
    """Startup, liveness and readiness probes of the web process, on the catalogue's paths,
    sending `host` as the Host header when the component checks it."""
    port: int | str = container.probes.port or "http"
    readiness = container.probes.readiness
    liveness = container.probes.liveness or readiness
    out = []
    for kind, path, failures in (
        ("startup", container.probes.startup or liveness, 30),
        ("liveness", liveness, 3),
        ("readiness", readiness, 3),
    ):
        get: dict[str, Any] = {"path": path, "port": port}
        if host:
            get["httpHeaders"] = [{"name": "Host", "value": host}]
        out.append(
            {
                "kind": kind,
                "spec": {"httpGet": get, "periodSeconds": 10, "failureThreshold": failures},
            }
        )
    return out


def exec_probes(check: ExecCheck | None) -> list[dict[str, Any]]:
    """The liveness check a process without HTTP gets (e.g. a Celery worker)."""
    if check is None:
        return []
    return [
        {
            "kind": "liveness",
            "spec": {
                "exec": {"command": list(check.command)},
                "periodSeconds": check.period_seconds,
                "timeoutSeconds": check.timeout_seconds,
                "failureThreshold": check.failure_threshold,
            },
        }
    ]


@dataclass(frozen=True)
class Volumes:
    """The pod volumes, their mounts and the claims (data) behind the Data volumes."""

    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]
    claims: list[tuple[str, str, str]]  # (claim name, size, access mode)


def volumes_for(component: str, container: ContainerSpec) -> Volumes:
    """One claim per Data volume, shared by every process (so ReadWriteMany as soon as more
    than one pod mounts it: web replicas, workers or the proxy), and an emptyDir per Scratch
    volume."""
    pods = container.replicas + len(container.workers) + (1 if container.proxy else 0)
    access = "ReadWriteMany" if pods > 1 else "ReadWriteOnce"
    volumes, mounts, claims = [], [], []
    for volume in container.volumes:
        mounts.append({"name": volume.name, "mountPath": volume.mount_path})
        if volume.type is VolumeType.SCRATCH:
            volumes.append({"name": volume.name, "emptyDir": {}})
            continue
        claim = f"{component}-{volume.name}"
        volumes.append({"name": volume.name, "persistentVolumeClaim": {"claimName": claim}})
        claims.append((claim, volume.size or DEFAULT_DATA_SIZE, access))
    return Volumes(volumes, mounts, claims)


def secret_env(container: ContainerSpec, spec: ComponentInstallationSpec) -> list[dict[str, Any]]:
    """The secret settings as references: generated ones from <component>-secrets, the
    tenant's from the Secrets its subscription names. No value is ever inline."""
    generated = generated_secret_name(spec.component)
    out: list[dict[str, Any]] = [
        {"name": s.name, "valueFrom": {"secretKeyRef": {"name": generated, "key": s.name}}}
        for s in container.generated_secrets
    ]
    out += [
        {
            "name": value.name,
            "valueFrom": {
                "secretKeyRef": {
                    "name": value.secret_key_ref.name,
                    "key": value.secret_key_ref.key,
                }
            },
        }
        for value in spec.secret_values
    ]
    return out


def tenant_secret_errors(
    container: ContainerSpec, spec: ComponentInstallationSpec
) -> list[FieldError]:
    """Secret settings the component does not take (a typo would silently do nothing)."""
    known = {s.name for s in container.tenant_secrets}
    return [
        FieldError(
            f"spec.secretValues[{i}].name",
            f"{value.name!r} is not a secret setting of {spec.component} {spec.version}"
            + (f"; it takes: {', '.join(sorted(known))}" if known else "; it takes none"),
        )
        for i, value in enumerate(spec.secret_values)
        if value.name not in known
    ]


def missing_secrets(
    container: ContainerSpec,
    spec: ComponentInstallationSpec,
    available: Mapping[str, frozenset[str] | None],
) -> list[str]:
    """Why the secret settings cannot be filled, one sentence each; `available` maps each
    referenced Secret to its keys, or None when it does not exist."""
    problems = []
    supplied = {value.name for value in spec.secret_values}
    problems += [
        f"{s.name} is required and spec.secretValues names no Secret for it"
        + (f" ({s.description})" if s.description else "")
        for s in container.tenant_secrets
        if s.required and s.name not in supplied
    ]
    for i, value in enumerate(spec.secret_values):
        ref = value.secret_key_ref
        keys = available.get(ref.name)
        field = f"spec.secretValues[{i}].secretKeyRef"
        if keys is None:
            problems.append(f"{field}: Secret {ref.name!r} does not exist")
        elif ref.key not in keys:
            problems.append(f"{field}: Secret {ref.name!r} has no key {ref.key!r}")
    return problems
