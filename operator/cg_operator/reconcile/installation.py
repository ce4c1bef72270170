"""Plan a ComponentInstallation: containers or a SaaS binding, wired to its dependencies. Pure.

(installation, catalogue entry, observed dependencies, secrets read by the caller) -> the
desired children, what is data (kept on removal unless deletionPolicy is Delete), and status.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from cg_operator.api.component import (
    CGComponentSpec,
    ComponentVersion,
    ContainerSpec,
    Offering,
    OfferingType,
)
from cg_operator.api.conditions import READY
from cg_operator.api.constants import (
    ANNOTATION_CONFIG_HASH,
    ANNOTATION_ROTATED_FOR,
    LABEL_COMPONENT_ROLE,
    LABEL_INSTANCE,
    LABEL_NAME,
    LABEL_VERSION,
)
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.tenant import BackingServiceMode, slugify
from cg_operator.reconcile.backing import (
    FLAVOURS,
    component_env,
    embedded_args,
    embedded_image,
    secret_data,
    server_env,
)
from cg_operator.reconcile.children import installation_labels, with_owner
from cg_operator.reconcile.pod import (
    exec_probes,
    generated_secret_name,
    host_settings,
    http_probes,
    missing_secrets,
    secret_env,
    tenant_secret_errors,
    volumes_for,
)
from cg_operator.reconcile.tenant import WORKLOAD_SERVICE_ACCOUNT
from cg_operator.reconcile.validation import FieldError
from cg_operator.render.environment import render

SERVICE_PORT = 80
BINDING_KEYS = ("type", "provider", "uri", "host", "port")
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet"})
# (role, command, args, port, replicas, probes) of one Deployment.
Process = tuple[str, list[str], list[str], int | None, int, list[dict[str, Any]]]


@dataclass(frozen=True)
class Dependencies:
    """What the installation waits for: (ready, reason, message)."""

    ready: bool
    reason: str = "AllDependenciesReady"
    message: str = "every required component is Ready"


@dataclass(frozen=True)
class InstallationPlan:
    """The desired state of one installation."""

    delivery: OfferingType
    children: list[dict[str, Any]]
    # Children that hold data: created without an owner (so garbage collection never takes
    # them) and deleted only under deletionPolicy Delete.
    data: list[dict[str, Any]]
    dependencies: Dependencies
    endpoint: str
    binding_secret: str
    errors: list[FieldError] = field(default_factory=list)
    # References to things that do not exist yet (a tenant's Secret or key): nothing new is
    # deployed until they do. One sentence each.
    missing: list[str] = field(default_factory=list)


def b64(value: str) -> str:
    """Secret data encoding."""
    return base64.b64encode(value.encode()).decode()


def binding_data(
    component: str, offering: Offering, uri: str, host: str, port: int
) -> dict[str, str]:
    """The servicebinding.io connection keys of a binding Secret (base64)."""
    return {
        "type": b64(component),
        "provider": b64(offering.delivery_organisation.name),
        "uri": b64(uri),
        "host": b64(host),
        "port": b64(str(port)),
    }


def env_key(component: str) -> str:
    """open-zaak -> OPEN_ZAAK."""
    return component.upper().replace("-", "_")


def check_dependencies(
    component: CGComponentSpec, installations: Mapping[str, Mapping[str, Any] | None]
) -> Dependencies:
    """Every non-optional requirement must be subscribed (an installation exists) and Ready."""
    missing, not_ready = [], []
    for requirement in component.requires:
        if requirement.optional:
            continue
        live = installations.get(requirement.component)
        if live is None:
            missing.append(requirement.component)
        elif not _ready(live):
            not_ready.append(requirement.component)
    if missing:
        return Dependencies(
            False,
            "MissingDependency",
            f"requires {', '.join(missing)}, which this municipality does not subscribe to",
        )
    if not_ready:
        return Dependencies(
            False, "DependencyNotReady", f"waiting for {', '.join(not_ready)} to become Ready"
        )
    return Dependencies(True)


def _ready(live: Mapping[str, Any]) -> bool:
    for condition in (live.get("status") or {}).get("conditions") or []:
        if condition.get("type") == READY:
            return bool(condition.get("status") == "True")
    return False


def dependency_env(
    component: CGComponentSpec, installations: Mapping[str, Mapping[str, Any] | None]
) -> list[dict[str, Any]]:
    """Env vars from each dependency's binding Secret (optional ones only when subscribed)."""
    out: list[dict[str, Any]] = []
    for requirement in component.requires:
        if installations.get(requirement.component) is None:
            continue
        secret = f"{requirement.component}-binding"
        pairs = [(e.name, e.key) for e in requirement.env] or [
            (f"{env_key(requirement.component)}_URL", "uri")
        ]
        out += [
            {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for name, key in pairs
        ]
    return out


def endpoint_for(
    offering: Offering, spec: ComponentInstallationSpec
) -> tuple[str, FieldError | None]:
    """The SaaS endpoint with the municipality filled in, checked against the allowed hosts."""
    assert offering.saas is not None
    code = spec.municipality.code
    url = (
        offering.saas.endpoint_template.replace("{CODE}", code)
        .replace("{code}", code.lower())
        .replace("{slug}", slugify(spec.municipality.name))
    )
    host = urlparse(url).hostname or ""
    if not offering.saas.allows(host):
        return url, FieldError(
            "spec.offering",
            f"endpoint host {host!r} of offering {offering.name!r} is not in its allowedHosts "
            f"({', '.join(offering.saas.allowed_hosts)})",
        )
    return url, None


def plan_installation(
    installation: Mapping[str, Any],
    spec: ComponentInstallationSpec,
    component: CGComponentSpec,
    installations: Mapping[str, Mapping[str, Any] | None],
    *,
    passwords: Mapping[str, str],
    credentials: Mapping[str, str] | None,
    generated: Mapping[str, str] | None = None,
    secret_keys: Mapping[str, frozenset[str] | None] | None = None,
    rotation: str | None = None,
    cluster_domain: str = "cluster.local",
) -> InstallationPlan:
    """The desired children of one installation. `passwords`: data Secret name -> password
    (existing or freshly generated by the caller); `credentials`: the SaaS credentials Secret's
    data (base64), or None; `generated`: the generated settings (existing or fresh) by name;
    `secret_keys`: the keys of each Secret the subscription's secretValues name (None: absent);
    `rotation`: the rotate-secrets request the generated settings were made for."""
    offering = component.offering(spec.offering)
    version = component.version(spec.version)
    errors = []
    if offering is None:
        errors.append(
            FieldError("spec.offering", f"no offering {spec.offering!r} in the catalogue")
        )
    if version is None:
        errors.append(FieldError("spec.version", f"no version {spec.version!r} in the catalogue"))
    dependencies = check_dependencies(component, installations)
    name = spec.component
    namespace = installation["metadata"]["namespace"]
    binding = f"{name}-binding"
    if errors or offering is None or version is None:
        return InstallationPlan(OfferingType.CONTAINER, [], [], dependencies, "", binding, errors)
    if offering.type is OfferingType.SAAS:
        return _plan_saas(installation, spec, offering, dependencies, credentials)
    assert version.container is not None
    secret_errors = tenant_secret_errors(version.container, spec)
    if secret_errors:
        return InstallationPlan(
            OfferingType.CONTAINER, [], [], dependencies, "", binding, secret_errors
        )
    host = f"{name}.{namespace}.svc.{cluster_domain}"
    endpoint = f"http://{host}/"
    labels = installation_labels(spec.tenant, installation["metadata"]["name"])
    data, service_env = _backing_services(
        installation,
        spec=spec,
        version=version,
        labels=labels,
        passwords=passwords,
        cluster_domain=cluster_domain,
    )
    env = [
        *dependency_env(component, installations),
        *service_env,
        *secret_env(version.container, spec),
    ]
    data += _container_data(
        installation,
        spec=spec,
        container=version.container,
        labels=labels,
        generated=generated,
        rotation=rotation,
    )
    children = _container_children(
        installation,
        spec=spec,
        offering=offering,
        container=version.container,
        labels=labels,
        env=env,
        endpoint=endpoint,
        host=host,
        config_extra=host_settings(version.container, spec, namespace, cluster_domain),
    )
    return InstallationPlan(
        OfferingType.CONTAINER,
        children,
        data,
        dependencies,
        endpoint,
        binding,
        missing=missing_secrets(version.container, spec, secret_keys or {}),
    )


def _plan_saas(
    installation: Mapping[str, Any],
    spec: ComponentInstallationSpec,
    offering: Offering,
    dependencies: Dependencies,
    credentials: Mapping[str, str] | None,
) -> InstallationPlan:
    assert offering.saas is not None
    name = spec.component
    namespace = installation["metadata"]["namespace"]
    endpoint, error = endpoint_for(offering, spec)
    binding = f"{name}-binding"
    if error is not None:
        return InstallationPlan(OfferingType.SAAS, [], [], dependencies, endpoint, binding, [error])
    parsed = urlparse(endpoint)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    labels = installation_labels(spec.tenant, installation["metadata"]["name"])
    data = {
        # Credentials first, so that they can never override the connection keys.
        **{k: v for k, v in (credentials or {}).items() if k not in BINDING_KEYS},
        **binding_data(name, offering, endpoint, host, port),
    }
    secret = render(
        "secret.yaml.j2",
        name=binding,
        namespace=namespace,
        labels=labels,
        secret_type="servicebinding.io/" + name,
        data=data,
    )[0]
    service = render(
        "service.yaml.j2", name=name, namespace=namespace, labels=labels, external_name=host
    )[0]
    return InstallationPlan(
        OfferingType.SAAS,
        with_owner([service, secret], installation),
        [],
        dependencies,
        endpoint,
        binding,
    )


def _backing_services(
    installation: Mapping[str, Any],
    *,
    spec: ComponentInstallationSpec,
    version: ComponentVersion,
    labels: dict[str, str],
    passwords: Mapping[str, str],
    cluster_domain: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(data Secrets of embedded services and their StatefulSets/Services, the component's env)."""
    assert version.container is not None
    name = spec.component
    namespace = installation["metadata"]["namespace"]
    data_objects: list[dict[str, Any]] = []
    owned: list[dict[str, Any]] = []
    env: list[dict[str, Any]] = []
    bindings = spec.backing_services
    for service in version.container.backing_services:
        flavour = FLAVOURS[service.type]
        key = service.type.value.lower()
        chosen = getattr(bindings, key, None) if bindings else None
        if chosen is not None and chosen.mode is BackingServiceMode.EXTERNAL:
            env += component_env(service, chosen.secret_ref.name)
            continue
        server = f"{name}-{key}"
        host = f"{server}.{namespace}.svc.{cluster_domain}"
        password = passwords.get(server) if flavour.needs_password else None
        secret_values = secret_data(service.type, host, name.replace("-", "_"), password)
        server_labels = {
            **labels,
            LABEL_NAME: key,
            LABEL_INSTANCE: server,
            LABEL_COMPONENT_ROLE: "backing-service",
        }
        data_objects += render(
            "secret.yaml.j2",
            name=server,
            namespace=namespace,
            labels=server_labels,
            secret_type="Opaque",  # noqa: S106 - a Secret type, not a password
            data={k: b64(v) for k, v in secret_values.items()},
        )
        selector = {LABEL_INSTANCE: server}
        owned += render(
            "statefulset.yaml.j2",
            name=server,
            namespace=namespace,
            labels=server_labels,
            selector=selector,
            service_account=WORKLOAD_SERVICE_ACCOUNT,
            uid=flavour.uid,
            container_name=key,
            image=embedded_image(service),
            args=embedded_args(service),
            port_name=key[:15],
            port=flavour.port,
            env=server_env(service.type, server),
            resources=flavour.resources,
            readiness_command=list(flavour.readiness),
            data_path=flavour.data_path,
            storage=flavour.storage,
        )
        owned += render(
            "service.yaml.j2",
            name=server,
            namespace=namespace,
            labels=server_labels,
            external_name="",
            selector=selector,
            port_name=key[:15],
            port=flavour.port,
            target_port=key[:15],
        )
        env += component_env(service, server)
    return data_objects + with_owner(owned, installation), env


def _container_data(
    installation: Mapping[str, Any],
    *,
    spec: ComponentInstallationSpec,
    container: ContainerSpec,
    labels: dict[str, str],
    generated: Mapping[str, str] | None,
    rotation: str | None,
) -> list[dict[str, Any]]:
    """What a container installation keeps like a database: the claims of its Data volumes
    and the Secret with its generated settings."""
    namespace = installation["metadata"]["namespace"]
    out = []
    for claim, size, access in volumes_for(spec.component, container).claims:
        out += render(
            "pvc.yaml.j2",
            name=claim,
            namespace=namespace,
            labels=labels,
            size=size,
            access_mode=access,
        )
    if container.generated_secrets:
        values = generated or {}
        out += render(
            "secret.yaml.j2",
            name=generated_secret_name(spec.component),
            namespace=namespace,
            labels=labels,
            secret_type="Opaque",  # noqa: S106 - a Secret type, not a password
            data={s.name: b64(values.get(s.name, "")) for s in container.generated_secrets},
            annotations={ANNOTATION_ROTATED_FOR: rotation} if rotation else {},
        )
    return out


def _resources(container: ContainerSpec) -> dict[str, Any]:
    if container.resources is None:
        return {}
    return container.resources.wire()


def _container_children(
    installation: Mapping[str, Any],
    *,
    spec: ComponentInstallationSpec,
    offering: Offering,
    container: ContainerSpec,
    labels: dict[str, str],
    env: list[dict[str, Any]],
    endpoint: str,
    host: str,
    config_extra: Mapping[str, str],
) -> list[dict[str, Any]]:
    name = spec.component
    namespace = installation["metadata"]["namespace"]
    # What the operator derives (allowed hosts) wins over what a person typed.
    config = {e.name: e.value for e in container.env} | dict(spec.values) | dict(config_extra)
    config_name = f"{name}-config"
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    app_labels = {**labels, LABEL_NAME: name, LABEL_VERSION: spec.version[:63]}
    # The Service's short name is among the allowed hosts; probes send it as Host.
    probes = http_probes(container, name if container.hosts else None)
    volumes = volumes_for(name, container)
    objects = render(
        "configmap.yaml.j2",
        name=config_name,
        namespace=namespace,
        labels=labels,
        data=config,
    )
    processes: list[Process] = [
        ("web", container.command, container.args, container.port, container.replicas, probes)
    ]
    processes += [
        (w.name, w.command, w.args, None, 1, exec_probes(w.health_check)) for w in container.workers
    ]
    for role, command, args, port, replicas, process_probes in processes:
        deployment = name if role == "web" else f"{name}-{role}"
        selector = {LABEL_INSTANCE: deployment}
        objects += render(
            "deployment.yaml.j2",
            name=deployment,
            namespace=namespace,
            labels={**app_labels, LABEL_INSTANCE: deployment, LABEL_COMPONENT_ROLE: role},
            selector=selector,
            replicas=replicas,
            pod_annotations={ANNOTATION_CONFIG_HASH: config_hash},
            service_account=WORKLOAD_SERVICE_ACCOUNT,
            container_name=role,
            image=container.image,
            command=list(command),
            args=list(args),
            port=port,
            env=env,
            config_map=config_name,
            resources=_resources(container),
            probes=process_probes,
            user=container.user,
            read_only_root_filesystem=container.read_only_root_filesystem,
            volumes=volumes.volumes,
            volume_mounts=volumes.mounts,
            init=[s.wire() for s in container.init] if role == "web" else [],
        )
        if role == "web" and replicas > 1:
            objects += render(
                "pdb.yaml.j2",
                name=deployment,
                namespace=namespace,
                labels=labels,
                selector=selector,
            )
    objects += render(
        "service.yaml.j2",
        name=name,
        namespace=namespace,
        labels=labels,
        external_name="",
        selector={LABEL_INSTANCE: name},
        port_name="http",
        port=SERVICE_PORT,
        target_port="http",
    )
    objects += render(
        "secret.yaml.j2",
        name=f"{name}-binding",
        namespace=namespace,
        labels=labels,
        secret_type="servicebinding.io/" + name,
        data=binding_data(name, offering, endpoint, host, SERVICE_PORT),
    )
    return with_owner(objects, installation)
