"""Configuring a component once it runs, as its maintainers' charts do (the Maykin apps:
`manage.py setup_configuration --yaml-file`, charts/*/templates/job-config.yaml): the
catalogue's YAML rendered into a ConfigMap, a Job per version and change of inputs, and the
`Configured` verdict from that Job. Pure.

Secrets never enter the YAML: the catalogue writes `value_from: {env: NAME}` where a credential
belongs (django-setup-configuration's substitution), and the Job's NAME comes from the
credential's Secret through the kubelet. A credential is generated once per pair of components
in the tenant namespace (the tenant plans it), so both sides read the same value.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import string
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from cg_operator.api.component import (
    CGComponentSpec,
    Configuration,
    ConfigurationPart,
    CredentialSide,
)
from cg_operator.api.constants import LABEL_COMPONENT_ROLE
from cg_operator.reconcile.children import binding_secret_name
from cg_operator.render.environment import dump_yaml, load_yaml

CONFIGURED = "Configured"
CONFIGURATION_FAILED = "ConfigurationFailed"
CREDENTIAL_KEY = "secret"
CREDENTIALS_ROLE = "credentials"  # the component-role label of a credential Secret
CREDENTIAL_ALPHABET = string.ascii_letters + string.digits
CREDENTIAL_LENGTH = 40
CONFIG_DIR = "/configuration"
CONFIG_FILE = "configuration.yaml"
# A Job's name is copied into its pods' `job-name` label: at most 63 characters.
JOB_NAME_MAX = 63
JOB_SUFFIX = "-configure-"
HASH_LENGTH = 10
# Retried by the Job controller with its own exponential backoff (10 s, 20 s, 40 s, ...).
BACKOFF_LIMIT = 4
# {host}, {origin}, {url:<component>} and {origin:<component>}; a YAML flow mapping
# ({env: X}) has a space and a colon and is left alone.
PLACEHOLDER = re.compile(r"\{(host|origin|(?:url|origin):[a-z0-9]([-a-z0-9]*[a-z0-9])?)\}")
Status = Literal["True", "False", "Unknown"]


def new_credential() -> str:
    """A fresh credential secret: 40 characters from the system's CSPRNG (the ZGW JWT secrets
    and API tokens the apps take are free text)."""
    return "".join(secrets.choice(CREDENTIAL_ALPHABET) for _ in range(CREDENTIAL_LENGTH))


def credential_secret_name(client: str, server: str) -> str:
    """The Secret holding the credential `client` uses to call `server`."""
    return f"{client}-to-{server}-credentials"


def credential_pairs(components: Mapping[str, CGComponentSpec]) -> set[tuple[str, str]]:
    """Every (client, server) pair these components (a tenant's subscriptions, by name) read,
    in their configurations (any version) or in a workload's environment (a requirement's
    `credential`): what the tenant generates. A pair whose other side is not subscribed is made
    all the same: a server that accepts a client that never calls costs nothing, and its
    configuration needs the value to run at all."""
    configured = {
        (credential.client, credential.server)
        for component in components.values()
        for version in component.versions
        if version.container is not None and version.container.configuration is not None
        for credential in version.container.configuration.credentials
    }
    return configured | {
        workload_credential(name, requirement.component, env.credential)
        for name, component in components.items()
        for requirement in component.requires
        for env in requirement.env
        if env.credential is not None
    }


def workload_credential_secrets(name: str, component: CGComponentSpec) -> set[str]:
    """The credential Secrets `name`'s workloads may read (its requirements' `credential`
    variables, subscribed or not)."""
    return {
        credential_secret_name(*workload_credential(name, requirement.component, env.credential))
        for requirement in component.requires
        for env in requirement.env
        if env.credential is not None
    }


def workload_credential(component: str, dependency: str, side: CredentialSide) -> tuple[str, str]:
    """(client, server) of the credential `component`'s workloads read for `dependency`."""
    if side is CredentialSide.CLIENT:
        return component, dependency
    return dependency, component


def render_data(
    template: str,
    *,
    host: str,
    endpoints: Mapping[str, str | None],
    origins: Mapping[str, str] | None = None,
) -> tuple[str, list[str]]:
    """(the YAML with its placeholders filled, the components whose endpoint it waits for).
    `origins`: the public origin of each other exposed installation ({origin:<component>};
    a part naming one that is not exposed is left out before this, see applicable_parts)."""
    waiting: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "host":
            return host
        if name == "origin":
            return f"https://{host}" if host else ""
        if name.startswith("origin:"):
            return (origins or {}).get(name.removeprefix("origin:"), "")
        component = name.removeprefix("url:")
        endpoint = endpoints.get(component)
        if not endpoint:
            waiting.append(component)
            return ""
        return endpoint

    return PLACEHOLDER.sub(fill, template), waiting


def applicable_parts(
    config: Configuration, *, subscribed: Collection[str], origins: Mapping[str, str]
) -> list[ConfigurationPart]:
    """The parts that apply: for a subscribed component, and, where a part names the public
    origin of its component ({origin:<component>}: a browser is sent there, as to Keycloak's
    login), only while that component is exposed. Without a public address there is nothing a
    browser could use, so that edge is not configured rather than configured to fail."""
    return [
        part
        for part in config.parts
        if part.component in subscribed
        and all(name in origins for name in _named_components(part.data, "origin:"))
    ]


def render_configuration(
    config: Configuration,
    *,
    subscribed: Collection[str],
    host: str,
    endpoints: Mapping[str, str | None],
    origins: Mapping[str, str] | None = None,
) -> tuple[str, list[str]]:
    """(the YAML this installation runs, the components whose endpoint it waits for): `data`
    with the applicable parts merged in, placeholders filled; "" when there is nothing to run.
    Without parts the text is kept as written (and so is its Job)."""
    origins = origins or {}
    text, waiting = render_data(config.data, host=host, endpoints=endpoints)
    parts = applicable_parts(config, subscribed=subscribed, origins=origins)
    if not parts:
        return (text if text.strip() else ""), waiting
    merged: Any = load_yaml(text) or {}
    for part in parts:
        part_text, part_waiting = render_data(
            part.data, host=host, endpoints=endpoints, origins=origins
        )
        merged = merge_yaml(merged, load_yaml(part_text) or {})
        waiting += part_waiting
    return dump_yaml(merged), waiting


def part_commands(
    config: Configuration, *, subscribed: Collection[str], origins: Mapping[str, str] | None = None
) -> list[list[str]]:
    """The commands the applicable parts run after the configuration's own, in the
    catalogue's order."""
    return [
        list(command)
        for part in applicable_parts(config, subscribed=subscribed, origins=origins or {})
        for command in part.commands
    ]


def merge_yaml(base: Any, extra: Any) -> Any:
    """Mappings merge key by key, lists are joined (a part adds its services, credentials and
    applications to the ones before it), anything else in `extra` replaces what `base` has."""
    if isinstance(base, dict) and isinstance(extra, dict):
        merged = dict(base)
        for key, value in extra.items():
            merged[key] = merge_yaml(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(extra, list):
        return [*base, *extra]
    return extra


def configuration_errors(
    config: Configuration, required: Collection[str], field: str
) -> list[tuple[str, str]]:
    """(field, message) for a configuration that could never run as written: YAML that is not
    a mapping, or a {url:X} it could wait for forever. `required`: the component's
    non-optional requirements, the only ones `data` may name; a part may also name its own."""
    errors: list[tuple[str, str]] = []
    texts = [(f"{field}.data", config.data, None)] + [
        (f"{field}.parts[{i}].data", part.data, part.component)
        for i, part in enumerate(config.parts)
    ]
    for where, text, own in texts:
        for name in sorted(_named_components(text, "origin:") - {own}):
            errors.append(
                (
                    where,
                    f"{{origin:{name}}} is allowed only in a part for {name} (the part applies "
                    f"while {name} is exposed); the component's own public origin is {{origin}}",
                )
            )
        for name in sorted(_named_components(text)):
            if name != own and name not in required:
                errors.append(
                    (
                        where,
                        f"{{url:{name}}} names {name}, which is not a required dependency: the "
                        f"configuration would wait for it forever where it is not subscribed; "
                        f"add it to spec.requires or move it to a part for {name}",
                    )
                )
        try:
            # Placeholders stand for plain text (a host, a URL) wherever they are written.
            loaded = load_yaml(PLACEHOLDER.sub("x", text))
        except yaml.YAMLError as error:
            errors.append((where, f"not valid YAML: {str(error).splitlines()[0]}"))
            continue
        if loaded is not None and not isinstance(loaded, dict):
            errors.append((where, "must be a YAML mapping (setup_configuration's step keys)"))
    return errors


def _named_components(text: str, kind: str = "url:") -> set[str]:
    """The components a template names in placeholders of one kind ({url:X} or {origin:X})."""
    names = (m.group(1) for m in PLACEHOLDER.finditer(text))
    return {name.removeprefix(kind) for name in names if name.startswith(kind)}


def wired_to(spec: CGComponentSpec) -> set[str]:
    """The components whose installation changes concern this one's: what it requires, and
    what any version's configuration has a part for or reads a binding of."""
    wired = {r.component for r in spec.requires}
    for version in spec.versions:
        config = version.container.configuration if version.container else None
        if config is not None:
            wired |= {p.component for p in config.parts}
            wired |= {b.component for b in config.bindings}
    return wired


@dataclass(frozen=True)
class ConfigurationPlan:
    """What configuring an installation takes: the ConfigMap (applied with the rest), the Job
    (applied once the workloads are available), and why the Job cannot be made yet."""

    config_map: dict[str, Any]
    job: dict[str, Any] | None
    waiting: str = ""


def job_name(component: str, digest: str) -> str:
    """<component>-configure-<hash of the inputs>, within a label value's 63 characters."""
    room = JOB_NAME_MAX - len(JOB_SUFFIX) - HASH_LENGTH
    return f"{component[:room].rstrip('-')}{JOB_SUFFIX}{digest[:HASH_LENGTH]}"


def plan_configuration(
    config: Configuration,
    *,
    component: str,
    namespace: str,
    labels: Mapping[str, str],
    pod_template: Mapping[str, Any],
    host: str,
    endpoints: Mapping[str, str | None],
    subscribed: Collection[str],
    credential_versions: Mapping[str, str | None],
    origins: Mapping[str, str] | None = None,
) -> ConfigurationPlan | None:
    """The configuration of one installation. `pod_template` is the web Deployment's: the Job
    runs the same image with the same settings, user and volumes. `credential_versions`:
    Secret name -> a version of its content, or None while it does not exist, for the
    credential Secrets (their uid: one made anew, i.e. rotated, makes a new Job on both sides)
    and the bindings it reads (a digest of their data: new SaaS credentials, a new Job).
    None when nothing applies (only parts, none of whose components is subscribed)."""
    text, waiting_for = render_configuration(
        config, subscribed=subscribed, host=host, endpoints=endpoints, origins=origins
    )
    afterwards = part_commands(config, subscribed=subscribed, origins=origins)
    if not text and not afterwards:
        return None
    name = f"{component}-configuration"
    role = {**labels, LABEL_COMPONENT_ROLE: "configuration"}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": role},
        "data": {CONFIG_FILE: text},
    }
    secrets = {c.env: credential_secret_name(c.client, c.server) for c in config.credentials}
    bound = {b.env: (binding_secret_name(b.component), b.key) for b in config.bindings}
    sources = {
        **{c.env: (secrets[c.env], CREDENTIAL_KEY, c.prefix) for c in config.credentials},
        **{b.env: (*bound[b.env], b.prefix) for b in config.bindings},
    }
    unbound = sorted({b.component for b in config.bindings if not endpoints.get(b.component)})
    waiting_for = sorted({*waiting_for, *unbound})
    absent = sorted({s for s in secrets.values() if not credential_versions.get(s)})
    if waiting_for or absent:
        why = [f"the endpoint of {c}" for c in waiting_for] + [f"the Secret {s}" for s in absent]
        return ConfigurationPlan(config_map, None, f"waiting for {', '.join(why)}")
    spec = copy.deepcopy(dict(pod_template["spec"]))
    container = spec["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        container.pop(probe, None)
    container.pop("ports", None)
    container.pop("args", None)
    if config.image is not None:
        container["image"] = config.image
    container["env"] = [
        *container.get("env", []),
        *(e for env, source in sorted(sources.items()) for e in secret_env(env, *source)),
        *({"name": e.name, "value": e.value} for e in config.env),
    ]
    container["volumeMounts"] = [
        *container.get("volumeMounts", []),
        {"name": "configuration", "mountPath": CONFIG_DIR, "readOnly": True},
    ]
    # One container per command, in order: all but the last as init containers, which the
    # kubelet runs one after the other, each only once the one before it succeeded.
    steps = ([[*config.command, f"{CONFIG_DIR}/{CONFIG_FILE}"]] if text else []) + afterwards
    containers = [
        {**container, "name": container["name"] if i == 0 else f"after-{i}", "command": step}
        for i, step in enumerate(steps)
    ]
    spec.pop("initContainers", None)
    if len(containers) > 1:
        spec["initContainers"] = containers[:-1]
    spec["containers"] = containers[-1:]
    spec["restartPolicy"] = "Never"
    spec["volumes"] = [
        *spec.get("volumes", []),
        {"name": "configuration", "configMap": {"name": name}},
    ]
    template = {"metadata": {"labels": role}, "spec": spec}
    # Everything the Job's pods get, and which credential Secrets: a change of any is a new
    # Job (a Job's pod template cannot be changed).
    digest = hashlib.sha256(
        json.dumps(
            [
                text,
                template,
                sorted(
                    (s, credential_versions.get(s))
                    for s in {*secrets.values(), *(s for s, _key in bound.values())}
                ),
            ],
            sort_keys=True,
        ).encode()
    ).hexdigest()
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(component, digest), "namespace": namespace, "labels": role},
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": config.deadline_seconds,
            "template": template,
        },
    }
    return ConfigurationPlan(config_map, job)


def secret_env(env: str, secret: str, key: str, prefix: str | None) -> list[dict[str, Any]]:
    """The Job's variable `env` from a Secret's key; with a prefix, the value comes in a
    variable of its own and `env` is the prefix and $(that variable), which the kubelet
    expands (a variable may refer to one defined before it), so no secret enters the spec."""
    source = {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
    if prefix is None:
        return [{"name": env, **source}]
    raw = f"CG_SECRET_{env}"
    return [{"name": raw, **source}, {"name": env, "value": f"{prefix}$({raw})"}]


def configured(job: Mapping[str, Any] | None, waiting: str) -> tuple[Status, str, str]:
    """The Configured condition (status, reason, message) from the live Job, or why there is
    none yet."""
    if job is None:
        if waiting:
            return "False", "WaitingForInputs", waiting
        return "False", "Pending", "the configuration runs once the workloads are available"
    name = job["metadata"]["name"]
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return "True", CONFIGURED, f"the configuration Job {name} succeeded"
        if condition.get("type") == "Failed":
            detail = condition.get("message") or condition.get("reason") or "failed"
            return "False", CONFIGURATION_FAILED, f"the configuration Job {name} failed: {detail}"
    return "False", "Configuring", f"the configuration Job {name} is running"


def failed_step(pod: Mapping[str, Any]) -> str | None:
    """The container whose log says why a configuration pod failed: the init container that
    exited non-zero (a Job runs its commands one per container, all but the last as init
    containers, and stops at the first that fails), or None for the pod's own container."""
    for status in (pod.get("status") or {}).get("initContainerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated") or {}
        if terminated.get("exitCode", 0) != 0:
            return str(status["name"])
    return None


def log_tail(text: str, secrets: Iterable[str], *, lines: int = 8, limit: int = 1024) -> str:
    """The last lines of a failed Job's log for a condition message: every known secret value
    replaced, cut to `limit` characters."""
    for value in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, "***")
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return tail[-limit:]
