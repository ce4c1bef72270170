"""Wiring components through their configuration (reconcile/configuration): the YAML each side
gets, the Job that runs it, the credentials both sides share, and the Configured verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cg_operator.api.base import Condition
from cg_operator.api.component import Configuration
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.reconcile.configuration import (
    CONFIG_DIR,
    CONFIG_FILE,
    JOB_NAME_MAX,
    configured,
    credential_pairs,
    credential_secret_name,
    log_tail,
    new_credential,
    plan_configuration,
    render_data,
)
from cg_operator.reconcile.installation import plan_installation
from cg_operator.reconcile.installation_summary import Configured, readiness, transition_events
from tests.unit.test_planning import CATALOGUE, installation

NAMESPACE = "gm0363-amsterdam"
OZ_TO_ON = credential_secret_name("open-zaak", "open-notificaties")
ON_TO_OZ = credential_secret_name("open-notificaties", "open-zaak")
BOTH = {OZ_TO_ON: "uid-1", ON_TO_OZ: "uid-2"}


def endpoint(component: str) -> str:
    return f"http://{component}.{NAMESPACE}.svc.cluster.local/"


def ready(component: str) -> dict[str, Any]:
    return {
        "spec": {"component": component},
        "status": {
            "endpoint": endpoint(component),
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def planned(component: str, credentials: dict[str, str | None] | None = None, **peers: Any) -> Any:
    live = installation(component)
    spec = ComponentInstallationSpec.model_validate(live["spec"])
    installed = {name.replace("_", "-"): body for name, body in peers.items()}
    return plan_installation(
        live,
        spec,
        CATALOGUE[component],
        installed,
        passwords={},
        credentials=None,
        credential_versions=BOTH if credentials is None else credentials,
    )


def rendered_yaml(plan: Any) -> dict[str, Any]:
    return dict(yaml.safe_load(plan.configuration.config_map["data"][CONFIG_FILE]))


def job_env(plan: Any) -> dict[str, dict[str, Any]]:
    container = plan.configuration.job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container["env"]}


def secret_of(plan: Any, env: str) -> str:
    return str(job_env(plan)[env]["valueFrom"]["secretKeyRef"]["name"])


def test_open_zaak_publishes_to_open_notificaties_with_the_credential_it_accepts() -> None:
    """The setup_configuration YAML of the pair, checked against the keys of the apps' own
    docker/setup_configuration/data.yaml (open-zaak 1.30.0, open-notificaties 1.15.0)."""
    oz = planned("open-zaak", open_notificaties=ready("open-notificaties"))
    on = planned("open-notificaties", open_zaak=ready("open-zaak"))
    oz_yaml, on_yaml = rendered_yaml(oz), rendered_yaml(on)

    (service,) = oz_yaml["zgw_consumers"]["services"]
    assert service["api_root"] == f"{endpoint('open-notificaties')}api/v1/"
    assert (service["api_type"], service["auth_type"], service["client_id"]) == (
        "nrc",
        "zgw",
        "open-zaak",
    )
    assert (
        oz_yaml["notifications_config"]["notifications_api_service_identifier"]
        == (service["identifier"])
    )
    # Open Notificaties accepts client open-zaak with the value Open Zaak signs with.
    (accepted,) = on_yaml["vng_api_common_credentials"]["items"]
    assert accepted["identifier"] == "open-zaak"
    signs_with = service["secret"]["value_from"]["env"]
    checks_with = accepted["secret"]["value_from"]["env"]
    assert secret_of(oz, signs_with) == secret_of(on, checks_with) == OZ_TO_ON

    # And the reverse: Open Notificaties reads Open Zaak's Autorisaties API as its own client.
    (autorisaties,) = on_yaml["zgw_consumers"]["services"]
    assert autorisaties["api_root"] == f"{endpoint('open-zaak')}autorisaties/api/v1/"
    assert (autorisaties["api_type"], autorisaties["client_id"]) == ("ac", "open-notificaties")
    assert (
        on_yaml["autorisaties_api"]["authorizations_api_service_identifier"] == "autorisaties-api"
    )
    (known,) = oz_yaml["vng_api_common_credentials"]["items"]
    assert known["identifier"] == "open-notificaties"
    assert secret_of(on, autorisaties["secret"]["value_from"]["env"]) == ON_TO_OZ
    assert secret_of(oz, known["secret"]["value_from"]["env"]) == ON_TO_OZ
    clients = {c for a in oz_yaml["vng_api_common_applicaties"]["items"] for c in a["client_ids"]}
    assert clients == {"open-notificaties", "open-zaak"}
    assert {k["naam"] for k in on_yaml["notifications_kanalen_config"]["items"]} >= {
        "zaken",
        "documenten",
        "besluiten",
        "autorisaties",
    }


def test_credentials_reach_the_job_only_as_secret_references() -> None:
    oz = planned("open-zaak", open_notificaties=ready("open-notificaties"))
    text = oz.configuration.config_map["data"][CONFIG_FILE]
    env = job_env(oz)
    for name in ("OPEN_ZAAK_TO_OPEN_NOTIFICATIES", "OPEN_NOTIFICATIES_TO_OPEN_ZAAK"):
        assert f"value_from: {{env: {name}}}" in text
        assert set(env[name]) == {"name", "valueFrom"}
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] == "secret"


def test_the_job_runs_the_web_pod_with_the_configuration_mounted() -> None:
    oz = planned("open-zaak", open_notificaties=ready("open-notificaties"))
    job = oz.configuration.job
    kubernetes_validate.validate(job, "1.36.0", strict=True)
    web = next(
        o for o in oz.children if o["kind"] == "Deployment" and o["metadata"]["name"] == "open-zaak"
    )
    web_pod = web["spec"]["template"]["spec"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == web_pod["containers"][0]["image"]
    assert pod["securityContext"] == web_pod["securityContext"]
    assert container["command"] == [
        "/app/src/manage.py",
        "setup_configuration",
        "--yaml-file",
        f"{CONFIG_DIR}/{CONFIG_FILE}",
    ]
    assert pod["restartPolicy"] == "Never"
    assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(container)
    assert {"name": "configuration", "configMap": {"name": "open-zaak-configuration"}} in pod[
        "volumes"
    ]
    # Not one of the web Service's endpoints: its pods carry no instance label.
    assert "app.kubernetes.io/instance" not in job["spec"]["template"]["metadata"]["labels"]
    assert job["spec"]["backoffLimit"] > 0
    assert len(job["metadata"]["name"]) <= JOB_NAME_MAX


def test_a_new_job_for_a_new_version_new_inputs_or_a_rotated_credential_and_not_otherwise() -> None:
    def name(**kwargs: Any) -> str:
        peers = {"open_notificaties": ready("open-notificaties")}
        return str(planned("open-zaak", **kwargs, **peers).configuration.job["metadata"]["name"])

    first = name()
    assert name() == first
    assert name(credentials={**BOTH, OZ_TO_ON: "uid-3"}) != first
    upgraded = installation("open-zaak", version="1.30.0")
    spec = ComponentInstallationSpec.model_validate(upgraded["spec"])
    plan = plan_installation(
        upgraded,
        spec,
        CATALOGUE["open-zaak"],
        {"open-notificaties": ready("open-notificaties")},
        passwords={},
        credentials=None,
        credential_versions=BOTH,
    )
    assert plan.configuration.job["metadata"]["name"] != first


def test_the_job_waits_for_its_peers_endpoint_and_credentials() -> None:
    on = planned("open-notificaties", credentials={OZ_TO_ON: None, ON_TO_OZ: "uid-2"})
    assert on.configuration.job is None
    assert "the endpoint of open-zaak" in on.configuration.waiting
    assert OZ_TO_ON in on.configuration.waiting
    assert configured(None, on.configuration.waiting) == (
        "False",
        "WaitingForInputs",
        on.configuration.waiting,
    )


def test_only_the_known_placeholders_are_filled() -> None:
    text, waiting = render_data(
        "a: {host}\nb: {origin}\nc: '{url:x}'\nd: {env: NAME}\ne: {url:y}",
        host="zaken.amsterdam.nl",
        endpoints={"x": "http://x/"},
    )
    assert yaml.safe_load(text) == {
        "a": "zaken.amsterdam.nl",
        "b": "https://zaken.amsterdam.nl",
        "c": "http://x/",
        "d": {"env": "NAME"},
        "e": None,
    }
    assert waiting == ["y"]


def job_with(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "oz-configure-1"}, "status": {"conditions": list(conditions)}}


@pytest.mark.parametrize(
    ("job", "status", "reason"),
    [
        (None, "False", "Pending"),
        (job_with(), "False", "Configuring"),
        (job_with({"type": "Complete", "status": "True"}), "True", "Configured"),
        (
            job_with({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}),
            "False",
            "ConfigurationFailed",
        ),
    ],
)
def test_configured_follows_the_job(job: dict[str, Any] | None, status: str, reason: str) -> None:
    assert configured(job, "")[:2] == (status, reason)


def test_a_failed_jobs_log_tail_never_shows_a_secret() -> None:
    secret = new_credential()
    log = "\n".join(f"line {i}" for i in range(20)) + f"\nInvalid secret {secret} for open-zaak\n"
    tail = log_tail(log, [secret, "ab"])
    assert secret not in tail
    assert tail.endswith("Invalid secret *** for open-zaak")
    assert len(tail.splitlines()) == 8


def test_ready_waits_for_the_configuration_and_says_why() -> None:
    oz = planned("open-zaak", open_notificaties=ready("open-notificaties"))
    running = Configured("False", "Configuring", "the configuration Job x is running")
    verdict = readiness(oz, wrote=False, workloads=(True, "ok"), configured=running)
    assert (verdict.ready, verdict.reason) == (False, "Configuring")
    failed = Configured("False", "ConfigurationFailed", "the configuration Job x failed")
    assert not readiness(oz, wrote=False, workloads=(True, "ok"), configured=failed).ready
    done = Configured("True", "Configured", "the configuration Job x succeeded")
    assert readiness(oz, wrote=False, workloads=(True, "ok"), configured=done).ready


def test_a_failure_and_a_success_are_each_one_event() -> None:
    oz = planned("open-zaak", open_notificaties=ready("open-notificaties"))

    def events(before: str, after: str) -> list[str]:
        was = {"conditions": [{"type": "Configured", "status": "False", "reason": before}]}
        now = Condition(
            type="Configured",
            status="True" if after == "Configured" else "False",
            reason=after,
            message="m",
            lastTransitionTime=datetime.now(UTC),
        )
        found = transition_events(was, [now], component="open-zaak", version="1.29.1", plan=oz)
        return [e.reason for e in found]

    assert events("Configuring", "ConfigurationFailed") == ["ConfigurationFailed"]
    assert events("ConfigurationFailed", "ConfigurationFailed") == []
    assert events("Configuring", "Configured") == ["Configured"]


def test_a_tenant_generates_every_credential_its_subscriptions_read() -> None:
    assert credential_pairs([CATALOGUE["open-zaak"]]) == {
        ("open-zaak", "open-notificaties"),
        ("open-notificaties", "open-zaak"),
    }
    assert credential_pairs([CATALOGUE["objecten"]]) == set()
    assert len({new_credential() for _ in range(10)}) == 10


def test_a_configuration_needs_a_command_and_data() -> None:
    with pytest.raises(ValueError, match="command"):
        Configuration.model_validate({"command": [], "data": "a: 1"})


POD = {"spec": {"containers": [{"name": "web", "image": "registry.example/app:1", "env": []}]}}
WITH_SAAS = Configuration.model_validate(
    {
        "command": ["/app/configure", "--file"],
        "data": "register:\n  url: '{url:brp}'\n  token:\n    value_from: {env: BRP_TOKEN}\n",
        "bindings": [{"env": "BRP_TOKEN", "component": "brp", "key": "token"}],
    }
)


def plan_with_saas(endpoint: str | None, version: str | None) -> Any:
    return plan_configuration(
        WITH_SAAS,
        component="app",
        namespace=NAMESPACE,
        labels={},
        pod_template=POD,
        host="",
        endpoints={"brp": endpoint},
        credential_versions={"brp-binding": version},
    )


def test_a_saas_dependency_is_wired_from_its_binding() -> None:
    plan = plan_with_saas("https://brp.supplier.example/gm0363/", "v1")
    data = yaml.safe_load(plan.config_map["data"][CONFIG_FILE])
    assert data["register"]["url"] == "https://brp.supplier.example/gm0363/"
    env = {e["name"]: e for e in plan.job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BRP_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "brp-binding", "key": "token"}
    # New credentials in the binding: configured again.
    assert (
        plan_with_saas("https://brp.supplier.example/gm0363/", "v2").job["metadata"]["name"]
        != plan.job["metadata"]["name"]
    )
    waiting = plan_with_saas(None, None)
    assert waiting.job is None
    assert "the endpoint of brp" in waiting.waiting
