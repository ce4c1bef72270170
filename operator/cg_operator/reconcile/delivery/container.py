"""Container delivery: the component's processes in the municipality's namespace, its
embedded backing services, its data, and the binding its dependents read. Pure.

Ready means every workload is available; Healthy adds the readiness path through its Service.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from cg_operator.api.component import (
    BindingEnv,
    CGComponentSpec,
    ComponentVersion,
    ContainerSpec,
    Offering,
    OfferingType,
    PodUser,
    Proxy,
    Resources,
)
from cg_operator.api.constants import (
    ANNOTATION_CONFIG_HASH,
    ANNOTATION_ROTATED_FOR,
    LABEL_COMPONENT_ROLE,
    LABEL_INSTALLATION,
    LABEL_INSTANCE,
    LABEL_NAME,
    LABEL_VERSION,
)
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.tenant import BackingServiceMode
from cg_operator.reconcile.backing import (
    FLAVOURS,
    BackingImages,
    component_env,
    embedded_args,
    embedded_image,
    secret_data,
    server_env,
)
from cg_operator.reconcile.children import (
    binding_secret_name,
    installation_labels,
    label_value,
    with_owner,
)
from cg_operator.reconcile.configuration import (
    CREDENTIAL_KEY,
    ConfigurationPlan,
    credential_secret_name,
    plan_configuration,
    workload_credential,
)
from cg_operator.reconcile.delivery.base import (
    SERVICE_PORT,
    HealthRequest,
    InstallationPlan,
    PlanRequest,
    Readiness,
    b64,
    binding_data,
)
from cg_operator.reconcile.exposure import Route, exposure_objects, public_env, public_url
from cg_operator.reconcile.health import ContainerProbeMode, HealthTarget
from cg_operator.reconcile.pod import (
    PROXY_SUFFIX,
    exec_probes,
    generated_secret_name,
    host_settings,
    http_probes,
    missing_secrets,
    secret_env,
    service_names,
    tenant_secret_errors,
    volumes_for,
)
from cg_operator.reconcile.tenant import WORKLOAD_SERVICE_ACCOUNT
from cg_operator.reconcile.validation import FieldError
from cg_operator.render.environment import render, render_text


class Process(NamedTuple):
    """One Deployment of the component: the web process or a worker."""

    role: str
    command: list[str]
    args: list[str]
    port: int | None
    replicas: int
    probes: list[dict[str, Any]]
    resources: Resources | None


def setting_errors(container: ContainerSpec, spec: ComponentInstallationSpec) -> list[FieldError]:
    """Every key of the subscription's values must be a setting this version declares."""
    declared = {s.name for s in container.settings}
    allowed = ", ".join(sorted(declared)) or "none"
    return [
        FieldError(
            f"spec.values.{key}",
            f"not a setting {spec.component} {spec.version} takes (its settings: {allowed})",
        )
        for key in sorted(spec.values)
        if key not in declared
    ]


class ContainerDelivery:
    """The component runs in the municipality's namespace."""

    type = OfferingType.CONTAINER
    has_workloads = True

    def plan(self, request: PlanRequest) -> InstallationPlan:
        """Deployments, Service, config, embedded services, data and the binding Secret.
        Nothing is planned while the subscription's secret references are invalid."""
        spec, version = request.spec, request.version
        container = version.container
        assert container is not None
        name, namespace = spec.component, request.namespace
        binding = binding_secret_name(name)
        errors = [*setting_errors(container, spec), *tenant_secret_errors(container, spec)]
        if errors:
            return InstallationPlan(self.type, [], [], request.dependencies, "", binding, errors)
        host = f"{name}.{namespace}.svc.{request.cluster_domain}"
        endpoint = f"http://{host}/"
        labels = installation_labels(spec.tenant, request.installation["metadata"]["name"])
        data, servers, service_env = _backing_services(
            request.installation,
            spec=spec,
            version=version,
            labels=labels,
            passwords=request.passwords,
            cluster_domain=request.cluster_domain,
            images=request.backing_images,
        )
        env = [
            *dependency_env(name, request.component, request.installations),
            *service_env,
            *secret_env(container, spec),
        ]
        data += _container_data(
            request.installation,
            spec=spec,
            container=container,
            labels=labels,
            generated=request.generated,
            rotation=request.rotation,
        )
        route, public, url, unrouted = _exposure(request, container, labels)
        children = servers + _container_children(
            request.installation,
            spec=spec,
            offering=request.offering,
            container=container,
            labels=labels,
            env=env,
            endpoint=endpoint,
            host=host,
            config_extra=host_settings(container, spec, namespace, request.cluster_domain) | public,
            credentials={
                secret: request.credential_versions.get(secret)
                for secret in workload_credentials(name, request.component, request.installations)
            },
        )
        configuration = _configuration(request, container, children, labels)
        if configuration is not None and configuration.job is not None:
            # Only its Job reads the ConfigMap: written while the Job still waits for a peer's
            # endpoint or a credential, it was written again once they came. A Job that has
            # to wait again is removed, and this ConfigMap with it.
            children.append(with_owner([configuration.config_map], request.installation)[0])
        return InstallationPlan(
            self.type,
            children + with_owner(route, request.installation),
            data,
            request.dependencies,
            endpoint,
            binding,
            missing=missing_secrets(container, spec, request.secret_keys or {}),
            url=url,
            unrouted=unrouted,
            configuration=configuration,
        )

    def readiness(self, plan: InstallationPlan, workloads: tuple[bool, str]) -> Readiness:
        """Ready when every Deployment and StatefulSet is available."""
        available, message = workloads
        return Readiness(available, "Available" if available else "Progressing", message)

    def health_target(self, request: HealthRequest) -> tuple[HealthTarget | None, str]:
        """The readiness path through the Service: directly, or through the API server's proxy
        when the operator runs outside the cluster."""
        if request.mode is ContainerProbeMode.OFF:
            return None, (
                "the operator runs outside the cluster and cannot reach Services "
                "(--container-probe=proxy probes through the API server)"
            )
        found = request.component.version(request.version)
        if found is None or found.container is None:
            return None, "no container definition for this version"
        probes = found.container.probes
        if probes.port is not None and probes.port != found.container.port:
            return None, f"the readiness port {probes.port} is not exposed by the Service"
        path, service, namespace = probes.readiness, request.service, request.namespace
        port = request.service_port
        if request.mode is ContainerProbeMode.PROXY:
            url = f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}"
            return HealthTarget(url, self.type, None, service, namespace, port, path), ""
        url = f"http://{service}.{namespace}.svc.{request.cluster_domain}:{port}{path}"
        return HealthTarget(url, self.type), ""


def _configuration(
    request: PlanRequest,
    container: ContainerSpec,
    children: list[dict[str, Any]],
    labels: dict[str, str],
) -> ConfigurationPlan | None:
    """The configuration ConfigMap and Job, from the web Deployment's pod template."""
    if container.configuration is None:
        return None
    name = request.spec.component
    web = next(o for o in children if o["kind"] == "Deployment" and o["metadata"]["name"] == name)
    plan = plan_configuration(
        container.configuration,
        component=name,
        namespace=request.namespace,
        labels=labels,
        pod_template=web["spec"]["template"],
        host=request.spec.host or "",
        endpoints={
            component: (live.get("status") or {}).get("endpoint")
            for component, live in request.installations.items()
            if live is not None
        },
        subscribed=request.installations.keys(),
        credential_versions=request.credential_versions,
        origins={
            component: f"https://{host}"
            for component, live in request.installations.items()
            if live is not None and (host := (live.get("spec") or {}).get("host"))
        },
    )
    if plan is None or plan.job is None:
        return plan
    return ConfigurationPlan(
        plan.config_map, with_owner([plan.job], request.installation)[0], plan.waiting
    )


def _exposure(
    request: PlanRequest, container: ContainerSpec, labels: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, str], str, str]:
    """(the route objects, the settings derived from the public address, the public URL, why
    it is not routed): nothing when the subscription has no public host."""
    exposure, host = request.component.exposure, request.spec.host
    if exposure is None or not host:
        return [], {}, "", ""
    settings = request.exposure
    # The proxy, when there is one, is what users reach (as the charts' ingress does).
    service = service_names(request.spec.component, container)[-1]
    objects, unrouted = exposure_objects(
        component=request.spec.component,
        namespace=request.namespace,
        labels=labels,
        host=host,
        exposure=exposure,
        route=Route(service, SERVICE_PORT),
        settings=settings,
    )
    return objects, public_env(exposure, host, settings), public_url(host, settings), unrouted


def env_key(component: str) -> str:
    """open-zaak -> OPEN_ZAAK."""
    return component.upper().replace("-", "_")


def dependency_env(
    name: str, component: CGComponentSpec, installations: Mapping[str, Mapping[str, Any] | None]
) -> list[dict[str, Any]]:
    """Env vars from each dependency's binding Secret, fixed values and the pair's generated
    credential (optional dependencies only when subscribed)."""
    return [env for env, _credential in _dependency_sources(name, component, installations)]


def workload_credentials(
    name: str, component: CGComponentSpec, installations: Mapping[str, Mapping[str, Any] | None]
) -> list[str]:
    """The generated credential Secrets the workloads' env reads."""
    return sorted(
        {secret for _env, secret in _dependency_sources(name, component, installations) if secret}
    )


def _dependency_sources(
    name: str, component: CGComponentSpec, installations: Mapping[str, Mapping[str, Any] | None]
) -> Iterator[tuple[dict[str, Any], str | None]]:
    """(env var, the credential Secret it reads or None) per requirement's variable."""
    for requirement in component.requires:
        dependency = requirement.component
        if installations.get(dependency) is None:
            continue
        default = [BindingEnv(name=f"{env_key(dependency)}_URL", key="uri")]
        live = installations[dependency] or {}
        for env in requirement.env or default:
            if env.value is not None:
                value = dependency_value(env.value, live)
                if value is not None:
                    yield {"name": env.name, "value": value}, None
            elif env.credential is not None:
                client, server = workload_credential(name, dependency, env.credential)
                secret = credential_secret_name(client, server)
                yield _secret_env(env.name, secret, CREDENTIAL_KEY), secret
            else:
                yield _secret_env(env.name, binding_secret_name(dependency), str(env.key)), None


def dependency_value(template: str, live: Mapping[str, Any]) -> str | None:
    """A requirement's value with the dependency's {url} and {origin} filled in, or None
    while one of them is not known yet (its endpoint not reported, or no public host)."""
    known = {
        "{url}": (live.get("status") or {}).get("endpoint") or "",
        "{origin}": f"https://{host}" if (host := (live.get("spec") or {}).get("host")) else "",
    }
    for placeholder, value in known.items():
        if placeholder in template:
            if not value:
                return None
            template = template.replace(placeholder, value)
    return template


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _backing_services(
    installation: Mapping[str, Any],
    *,
    spec: ComponentInstallationSpec,
    version: ComponentVersion,
    labels: dict[str, str],
    passwords: Mapping[str, str],
    cluster_domain: str,
    images: BackingImages,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(the data Secrets of embedded services, their StatefulSets, Services and policies, the
    component's env)."""
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
            image=embedded_image(service, images),
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
            "networkpolicy-backing.yaml.j2",
            name=server,
            namespace=namespace,
            labels=server_labels,
            selector=selector,
            clients={LABEL_INSTALLATION: installation["metadata"]["name"]},
            role_label=LABEL_COMPONENT_ROLE,
            port_name=key[:15],
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
    return data_objects, with_owner(owned, installation), env


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


def _proxy_children(
    *,
    spec: ComponentInstallationSpec,
    container: ContainerSpec,
    proxy: Proxy,
    namespace: str,
    labels: dict[str, str],
    app_labels: dict[str, str],
    upstream: str,
) -> list[dict[str, Any]]:
    """The web server in front: its configuration, Deployment and Service `<component>-proxy`.
    It mounts the Data volumes it serves read-only, in the app's places and with the app's
    fsGroup (a different one would re-own the app's files on every mount)."""
    name = f"{spec.component}{PROXY_SUFFIX}"
    mounts = {v.name: v.mount_path for v in container.volumes}
    served = sorted({location.volume for location in [*proxy.internal, *proxy.public]})
    config = render_text(
        "proxy.conf.j2",
        port=proxy.port,
        health_path=proxy.health_path,
        internal=[{"path": i.path, "mount": mounts[i.volume]} for i in proxy.internal],
        public=[{"path": p.path, "mount": mounts[p.volume]} for p in proxy.public],
        max_body_size=proxy.max_body_size,
        upstream=upstream,
        spa=proxy.single_page_app,
    )
    user = PodUser(
        run_as_user=proxy.user.run_as_user,
        run_as_group=proxy.user.group,
        fs_group=container.user.volume_group,
    )
    volumes = [
        {"name": "config", "configMap": {"name": name}},
        # nginx-unprivileged keeps its pid and temporary files in /tmp.
        {"name": "tmp", "emptyDir": {}},
        *(
            {"name": v, "persistentVolumeClaim": {"claimName": f"{spec.component}-{v}"}}
            for v in served
        ),
    ]
    volume_mounts = [
        {"name": "config", "mountPath": "/etc/nginx/conf.d", "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a mount path
        *({"name": v, "mountPath": mounts[v], "readOnly": True} for v in served),
    ]
    probe = {"httpGet": {"path": proxy.health_path, "port": "http"}, "periodSeconds": 10}
    selector = {LABEL_INSTANCE: name}
    config_hash = hashlib.sha256(config.encode()).hexdigest()[:16]
    out = render(
        "configmap.yaml.j2",
        name=name,
        namespace=namespace,
        labels=labels,
        data={"default.conf": config},
    )
    out += render(
        "deployment.yaml.j2",
        name=name,
        namespace=namespace,
        labels={**app_labels, LABEL_INSTANCE: name, LABEL_COMPONENT_ROLE: "proxy"},
        selector=selector,
        replicas=1,
        pod_annotations={ANNOTATION_CONFIG_HASH: config_hash},
        service_account=WORKLOAD_SERVICE_ACCOUNT,
        container_name="proxy",
        image=proxy.image,
        command=[],
        args=[],
        port=proxy.port,
        env=[],
        config_map=None,
        resources=_resources(proxy.resources),
        probes=[
            {"kind": "liveness", "spec": {**probe, "failureThreshold": 3}},
            {"kind": "readiness", "spec": {**probe, "failureThreshold": 3}},
        ],
        user=user,
        # As the maintainers' chart runs it: the image's entrypoint edits its own config.
        read_only_root_filesystem=False,
        volumes=volumes,
        volume_mounts=volume_mounts,
        init=[],
    )
    out += render(
        "service.yaml.j2",
        name=name,
        namespace=namespace,
        labels=labels,
        external_name="",
        selector=selector,
        port_name="http",
        port=SERVICE_PORT,
        target_port="http",
    )
    return out


def _resources(resources: Resources | None) -> dict[str, Any]:
    return resources.wire() if resources is not None else {}


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
    credentials: Mapping[str, str | None],
) -> list[dict[str, Any]]:
    """The ConfigMap, Deployments and Service. `credentials`: the generated credential
    Secrets the env reads -> their uid, in the pods' config hash, so a credential made anew
    (rotated) restarts the pods on the new value."""
    name = spec.component
    namespace = installation["metadata"]["namespace"]
    # The catalogue's settings win over a subscription's values, and what the operator derives
    # (allowed hosts) over both: a tenant editor never overrides how the image is run.
    config = dict(spec.values) | {e.name: e.value for e in container.env} | dict(config_extra)
    config_name = f"{name}-config"
    hashed = [config, credentials] if credentials else config
    config_hash = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:16]
    app_labels = {**labels, LABEL_NAME: name, LABEL_VERSION: label_value(spec.version)}
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
    processes = [
        Process(
            "web",
            container.command,
            container.args,
            container.port,
            container.replicas,
            probes,
            container.resources,
        )
    ]
    processes += [
        Process(
            w.name,
            w.command,
            w.args,
            None,
            1,
            exec_probes(w.health_check),
            w.resources or container.resources,
        )
        for w in container.workers
    ]
    for role, command, args, port, replicas, process_probes, resources in processes:
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
            resources=_resources(resources),
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
    if container.proxy is not None:
        objects += _proxy_children(
            spec=spec,
            container=container,
            proxy=container.proxy,
            namespace=namespace,
            labels=labels,
            app_labels=app_labels,
            upstream=f"{host}:{SERVICE_PORT}",
        )
    objects += render(
        "secret.yaml.j2",
        name=binding_secret_name(name),
        namespace=namespace,
        labels=labels,
        secret_type="servicebinding.io/" + name,
        data=binding_data(name, offering, endpoint, host, SERVICE_PORT),
    )
    return with_owner(objects, installation)
