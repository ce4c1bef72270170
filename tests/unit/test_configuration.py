"""Wiring components through their configuration (reconcile/configuration): the YAML each side
gets, the Job that runs it, the credentials both sides share, and the Configured verdict."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from cg_operator.api.base import Condition
from cg_operator.api.component import BindingEnv, CGComponentSpec, Configuration, Requirement
from cg_operator.api.constants import ANNOTATION_CONFIG_HASH
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.reconcile.configuration import (
    CONFIG_DIR,
    CONFIG_FILE,
    JOB_NAME_MAX,
    configured,
    credential_pairs,
    credential_secret_name,
    failed_step,
    log_tail,
    new_credential,
    plan_configuration,
    render_configuration,
    render_data,
    wired_to,
)
from cg_operator.reconcile.installation import plan_installation
from cg_operator.reconcile.installation_summary import Configured, readiness, transition_events
from cg_operator.reconcile.validation import component_errors
from cg_operator.render import environment
from tests.unit.test_planning import CATALOGUE, installation

NAMESPACE = "gm0363-amsterdam"
OZ_TO_ON = credential_secret_name("open-zaak", "open-notificaties")
ON_TO_OZ = credential_secret_name("open-notificaties", "open-zaak")
# Every credential Secret of the example catalogue exists (a tenant makes each pair its
# subscriptions' configurations read, whether or not the other side is subscribed).
BOTH = {
    credential_secret_name(client, server): f"uid-{client}-{server}"
    for client, server in credential_pairs(CATALOGUE)
}


def endpoint(component: str) -> str:
    return f"http://{component}.{NAMESPACE}.svc.cluster.local/"


def ready(component: str, host: str | None = None) -> dict[str, Any]:
    """A Ready installation of another component; with a host, exposed there."""
    return {
        "spec": {"component": component, **({"host": host} if host else {})},
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


def test_objecten_publishes_to_open_notificaties_with_the_scope_open_zaak_gives() -> None:
    """Objecten signs with the secret Open Notificaties accepts for client `objecten`, on the
    kanaal Open Notificaties carries, and Open Zaak's Autorisaties API (which Open Notificaties
    asks) gives that client the one scope it needs: not every scope, which the applicaties step
    would otherwise be the only way to give."""
    peers = {"open_notificaties": ready("open-notificaties"), "objecttypen": ready("objecttypen")}
    objecten = planned("objecten", **peers)
    on = planned("open-notificaties", open_zaak=ready("open-zaak"), objecten=ready("objecten"))
    oz = planned(
        "open-zaak", open_notificaties=ready("open-notificaties"), objecten=ready("objecten")
    )
    objecten_yaml, on_yaml, oz_yaml = rendered_yaml(objecten), rendered_yaml(on), rendered_yaml(oz)

    services = {s["identifier"]: s for s in objecten_yaml["zgw_consumers"]["services"]}
    assert set(services) == {"objecttypes-api", "notifications-api"}, "joined, not replaced"
    nrc = services["notifications-api"]
    assert nrc["api_root"] == f"{endpoint('open-notificaties')}api/v1/"
    assert (nrc["api_type"], nrc["auth_type"], nrc["client_id"]) == ("nrc", "zgw", "objecten")
    assert objecten_yaml["notifications_config"] == {
        "notifications_api_service_identifier": "notifications-api"
    }
    accepted = {c["identifier"]: c for c in on_yaml["vng_api_common_credentials"]["items"]}
    assert set(accepted) == {"open-zaak", "objecten"}
    signs_with = secret_of(objecten, nrc["secret"]["value_from"]["env"])
    checks_with = secret_of(on, accepted["objecten"]["secret"]["value_from"]["env"])
    assert signs_with == checks_with == credential_secret_name("objecten", "open-notificaties")
    kanalen = {k["naam"]: k for k in on_yaml["notifications_kanalen_config"]["items"]}
    assert kanalen["objecten"]["filters"] == ["object_type"]
    assert (
        kanalen["objecten"]["documentatie_link"] == f"{endpoint('objecten')}ref/kanalen/#/objecten"
    )
    assert "zaken" in kanalen, "Open Zaak's kanalen stay"

    # Open Zaak: an application for client objecten with no scope of its own, then the one
    # scope, by a command in the same Job after setup_configuration.
    (application,) = [
        a for a in oz_yaml["vng_api_common_applicaties"]["items"] if a["client_ids"] == ["objecten"]
    ]
    assert application["heeft_alle_autorisaties"] is False
    pod = oz.configuration.job["spec"]["template"]["spec"]
    kubernetes_validate.validate(oz.configuration.job, "1.36.0", strict=True)
    (setup,) = pod["initContainers"]
    (scope,) = pod["containers"]
    assert setup["command"][-1] == f"{CONFIG_DIR}/{CONFIG_FILE}"
    assert scope["command"][:3] == ["/app/src/manage.py", "shell", "--command"]
    script = scope["command"][3]
    assert application["uuid"] in script
    assert 'component="nrc"' in script
    assert '"notificaties.publiceren"' in script
    compile(script, "open-zaak's part for objecten", "exec")  # the shell would refuse bad Python
    assert (scope["image"], scope["env"], scope["securityContext"]) == (
        setup["image"],
        setup["env"],
        setup["securityContext"],
    )
    assert setup["name"] != scope["name"]

    # Without Objecten, Open Zaak's Job is what it was: one container, no scope command.
    alone = planned("open-zaak", open_notificaties=ready("open-notificaties"))
    assert "initContainers" not in alone.configuration.job["spec"]["template"]["spec"]
    assert "objecten" not in alone.configuration.config_map["data"][CONFIG_FILE]


def test_the_admin_logs_in_through_keycloak_with_the_client_keycloak_makes() -> None:
    """Open Zaak's admin login goes to the municipality's Keycloak: the browser to its public
    address, Open Zaak itself inside the cluster, with client `open-zaak` and the secret
    Keycloak's client carries, which sends the browser back to Open Zaak's callback."""
    kc = ready("keycloak", host="login.amsterdam.nl")
    oz = planned("open-zaak", open_notificaties=ready("open-notificaties"), keycloak=kc)
    keycloak = planned("keycloak", open_zaak=ready("open-zaak", host="zaken.amsterdam.nl"))

    oidc = rendered_yaml(oz)["oidc_db_config_admin_auth"]
    assert rendered_yaml(oz)["oidc_db_config_enable"] is True
    (provider,) = oidc["providers"]
    realm = "realms/medewerkers/protocol/openid-connect"
    assert provider["endpoint_config"] == {
        "oidc_op_authorization_endpoint": f"https://login.amsterdam.nl/{realm}/auth",
        "oidc_op_token_endpoint": f"{endpoint('keycloak')}{realm}/token",
        "oidc_op_user_endpoint": f"{endpoint('keycloak')}{realm}/userinfo",
        "oidc_op_jwks_endpoint": f"{endpoint('keycloak')}{realm}/certs",
        "oidc_op_logout_endpoint": f"https://login.amsterdam.nl/{realm}/logout",
    }
    (item,) = oidc["items"]
    assert (item["identifier"], item["oidc_rp_client_id"]) == ("admin-oidc", "open-zaak")

    realm_file = rendered_yaml(keycloak)
    assert realm_file["realm"] == "medewerkers"
    (client,) = realm_file["clients"]
    assert client["clientId"] == "open-zaak"
    assert client["redirectUris"] == ["https://zaken.amsterdam.nl/oidc/callback/"]
    signs_with = item["oidc_rp_client_secret"]["value_from"]["env"]
    assert client["secret"] == f"$(env:{signs_with})", "keycloak-config-cli fills it in the Job"
    assert secret_of(oz, signs_with) == secret_of(keycloak, signs_with)
    assert secret_of(oz, signs_with) == credential_secret_name("open-zaak", "keycloak")

    # Keycloak's Job runs keycloak-config-cli, logged in as Keycloak's bootstrap admin: the
    # password reaches it only through the kubelet's expansion of a variable defined before.
    job = keycloak.configuration.job
    kubernetes_validate.validate(job, "1.36.0", strict=True)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("adorsys/keycloak-config-cli:")
    assert container["command"][-1] == f"{CONFIG_DIR}/{CONFIG_FILE}"
    names = [e["name"] for e in container["env"]]
    login = job_env(keycloak)["KEYCLOAK_PASSWORD"]
    assert login == {"name": "KEYCLOAK_PASSWORD", "value": "$(KEYCLOAK_ADMIN_PASSWORD)"}
    assert names.index("KEYCLOAK_ADMIN_PASSWORD") < names.index("KEYCLOAK_PASSWORD")
    assert "valueFrom" in job_env(keycloak)["KEYCLOAK_ADMIN_PASSWORD"]
    assert job_env(keycloak)["IMPORT_VARSUBSTITUTION_ENABLED"]["value"] == "true"
    web = next(o for o in keycloak.children if o["kind"] == "Deployment")
    web_container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"] == web_container["securityContext"]
    assert "KEYCLOAK_PASSWORD" not in {e["name"] for e in web_container["env"]}


def test_an_admin_login_needs_keycloak_exposed_and_the_app_too() -> None:
    """A browser is sent to Keycloak and back: without a public address on either side that
    edge is not configured, and the Jobs are what they are without Keycloak."""
    without = planned("open-zaak", open_notificaties=ready("open-notificaties"))
    hidden = planned(
        "open-zaak", open_notificaties=ready("open-notificaties"), keycloak=ready("keycloak")
    )
    assert "oidc_db_config_admin_auth" not in rendered_yaml(hidden)
    assert hidden.configuration.job == without.configuration.job

    keycloak = planned("keycloak", open_zaak=ready("open-zaak"), objecten=ready("objecten", "o.nl"))
    (client,) = rendered_yaml(keycloak)["clients"]
    assert client["clientId"] == "objecten"
    assert set(rendered_yaml(keycloak)["roles"]["client"]) == {"objecten"}


@pytest.mark.parametrize(
    ("statuses", "read"),
    [
        (None, None),
        ([{"name": "app", "state": {"terminated": {"exitCode": 0}}}], None),
        ([{"name": "app", "state": {"terminated": {"exitCode": 1}}}], "app"),
        ([{"name": "app", "state": {"running": {}}}], None),
    ],
)
def test_a_failed_jobs_log_is_read_from_the_step_that_failed(
    statuses: list[dict[str, Any]] | None, read: str | None
) -> None:
    assert failed_step({"status": {"initContainerStatuses": statuses}}) == read


def test_a_part_needs_data_or_commands() -> None:
    with pytest.raises(ValueError, match="data, commands or both"):
        Configuration.model_validate({"command": ["configure"], "parts": [{"component": "peer"}]})
    Configuration.model_validate(
        {"command": ["configure"], "parts": [{"component": "peer", "commands": [["true"]]}]}
    )


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
    subscribed_not_up = {"spec": {"component": "open-zaak"}}
    on = planned(
        "open-notificaties",
        credentials={OZ_TO_ON: None, ON_TO_OZ: "uid-2"},
        open_zaak=subscribed_not_up,
    )
    assert on.configuration.job is None
    # Its ConfigMap, read only by the Job, is made with it: not written twice.
    assert "open-notificaties-configuration" not in {o["metadata"]["name"] for o in on.children}
    assert "the endpoint of open-zaak" in on.configuration.waiting
    assert OZ_TO_ON in on.configuration.waiting
    assert configured(None, on.configuration.waiting) == (
        "False",
        "WaitingForInputs",
        on.configuration.waiting,
    )


def test_only_the_known_placeholders_are_filled() -> None:
    text, waiting = render_data(
        "a: {host}\nb: {origin}\nc: '{url:x}'\nd: {env: NAME}\ne: {url:y}\nf: '{origin:x}'",
        host="zaken.amsterdam.nl",
        endpoints={"x": "http://x/"},
        origins={"x": "https://x.amsterdam.nl"},
    )
    assert yaml.safe_load(text) == {
        "a": "zaken.amsterdam.nl",
        "b": "https://zaken.amsterdam.nl",
        "c": "http://x/",
        "d": {"env": "NAME"},
        "e": None,
        "f": "https://x.amsterdam.nl",
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
    assert credential_pairs({"open-zaak": CATALOGUE["open-zaak"]}) == {
        ("open-zaak", "open-notificaties"),
        ("open-notificaties", "open-zaak"),
        ("open-formulieren", "open-zaak"),
        ("open-zaak", "keycloak"),
        ("open-archiefbeheer", "open-zaak"),
        ("open-beheer", "open-zaak"),
        ("zac", "open-zaak"),
    }
    assert credential_pairs({"objecten": CATALOGUE["objecten"]}) == {
        ("objecten", "objecttypen"),
        ("objecten", "open-notificaties"),
        ("open-formulieren", "objecten"),
        ("objecten", "keycloak"),
        ("zac", "objecten"),
        ("kiss", "objecten"),
    }
    assert credential_pairs({"keycloak": CATALOGUE["keycloak"]}) == {
        (app, "keycloak")
        for app in (
            "open-zaak",
            "open-notificaties",
            "objecten",
            "objecttypen",
            "open-formulieren",
            "zac",
            "kiss",
        )
    }
    # ZAC reads its side from its workloads' environment, not from a configuration: the pairs
    # come from its requirements, each direction as the requirement says.
    assert credential_pairs({"zac": CATALOGUE["zac"]}) == {
        ("zac", "keycloak"),
        ("zac", "open-zaak"),
        ("open-notificaties", "zac"),
        ("zac", "objecten"),
        ("zac", "open-klant"),
    }
    assert len({new_credential() for _ in range(10)}) == 10


def test_a_configuration_needs_a_command() -> None:
    with pytest.raises(ValueError, match="command"):
        Configuration.model_validate({"command": [], "data": "a: 1"})


def test_open_notificaties_without_open_zaak_has_nothing_to_configure_and_waits_for_nothing() -> (
    None
):
    """All of Open Notificaties' configuration concerns Open Zaak: without it there is no Job,
    no ConfigMap and no Configured condition, so it can be Ready on its own."""
    alone = planned("open-notificaties")
    assert alone.configuration is None
    assert not any(
        o["kind"] == "ConfigMap" and "configuration" in o["metadata"]["name"]
        for o in alone.children
    )
    with_oz = planned("open-notificaties", open_zaak=ready("open-zaak"))
    assert with_oz.configuration is not None
    assert with_oz.configuration.job is not None


def test_a_part_is_merged_into_the_data_lists_joined_mappings_merged() -> None:
    config = Configuration.model_validate(
        {
            "command": ["configure"],
            "data": "services:\n  - id: own\nflags:\n  a: 1\n",
            "parts": [
                {"component": "peer", "data": "services:\n  - id: '{url:peer}'\nflags:\n  b: 2\n"},
                {"component": "absent", "data": "never: true\n"},
            ],
        }
    )
    text, waiting = render_configuration(
        config, subscribed={"peer"}, host="", endpoints={"peer": "http://peer/"}
    )
    assert yaml.safe_load(text) == {
        "services": [{"id": "own"}, {"id": "http://peer/"}],
        "flags": {"a": 1, "b": 2},
    }
    assert waiting == []
    _, waiting = render_configuration(config, subscribed={"peer"}, host="", endpoints={})
    assert waiting == ["peer"]
    # Without a part that applies, the text is kept byte for byte (and so is its Job's name).
    assert render_configuration(config, subscribed=set(), host="", endpoints={})[0] == config.data


def _catalogue_configurations() -> list[tuple[str, Configuration]]:
    found: list[tuple[str, Configuration]] = []

    def walk(name: str, value: Any) -> None:
        if isinstance(value, Configuration):
            found.append((name, value))
        elif isinstance(value, BaseModel):
            for field in type(value).model_fields:
                walk(name, getattr(value, field))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(name, item)

    for name, spec in sorted(CATALOGUE.items()):
        walk(name, spec)
    return found


ODD_TEXT = Configuration.model_validate(
    {
        "command": ["configure"],
        "data": 'own:\n  label: "Gemeente \'s-Hertogenbosch \\U0001F3DB"\n  note: |\n    a: b\n',
        "parts": [
            {"component": "peer", "data": "own:\n  url: '{url:peer}'\n  x: \"\\u0085 \\t\"\n"}
        ],
    }
)


@pytest.mark.parametrize(
    ("component", "config"),
    [*_catalogue_configurations(), ("odd", ODD_TEXT)],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_configuration_reads_the_same_with_the_python_parser_and_emitter(
    component: str, config: Configuration, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The configuration's YAML is parsed by libyaml, as templates are, and written by it where
    it writes what PyYAML would; the text a Job runs (and so its name) must not change with the
    parser or the emitter, or an upgrade would run every municipality's configuration again."""
    names = {*CATALOGUE, "peer"}
    context: dict[str, Any] = {
        "subscribed": names,
        "host": "gm0363.example.nl",
        "endpoints": {name: f"http://{name}.gm0363-amsterdam.svc/" for name in names},
        "origins": {name: f"https://{name}.gm0363.example.nl" for name in names},
    }
    fast = render_configuration(config, **context)
    monkeypatch.setattr(environment, "_LOADER", yaml.SafeLoader)
    monkeypatch.setattr(environment, "_FAST_DUMPER", None)
    assert render_configuration(config, **context) == fast
    assert fast[0]


def test_objecten_reads_objecttypen_with_the_token_objecttypen_accepts() -> None:
    """objects-api 3.6.0 and objecttypes-api 3.4.x docker/setup_configuration/data.yaml: an
    `api_key` service with `Authorization: Token <token>` on one side, a TokenAuth with the
    same token on the other."""
    pair = credential_secret_name("objecten", "objecttypen")
    versions = {**BOTH, pair: "uid-9"}
    objecten = planned("objecten", versions, objecttypen=ready("objecttypen"))
    objecttypen = planned("objecttypen", versions, objecten=ready("objecten"))
    (service,) = rendered_yaml(objecten)["zgw_consumers"]["services"]
    assert service["api_root"] == f"{endpoint('objecttypen')}api/v2/"
    assert (service["auth_type"], service["header_key"]) == ("api_key", "Authorization")
    header = job_env(objecten)[service["header_value"]["value_from"]["env"]]
    (token,) = rendered_yaml(objecttypen)["tokenauth"]["items"]
    accepted = job_env(objecttypen)[token["token"]["value_from"]["env"]]
    assert accepted["valueFrom"]["secretKeyRef"] == {"name": pair, "key": "secret"}
    # "Token " and the same secret, expanded by the kubelet from a variable defined before it.
    raw = header["value"].removeprefix("Token $(").removesuffix(")")
    env = list(job_env(objecten))
    assert header["value"] == f"Token $({raw})"
    assert env.index(raw) < env.index(header["name"])
    assert job_env(objecten)[raw]["valueFrom"]["secretKeyRef"] == {"name": pair, "key": "secret"}
    # Objecttypen without Objecten makes no token.
    assert planned("objecttypen", versions).configuration is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"data": "url: '{url:stranger}'"}, ".data", "not a required dependency"),
        ({"data": "- a\n- b"}, ".data", "must be a YAML mapping"),
        ({"data": "a: [1"}, ".data", "not valid YAML"),
        (
            {"parts": [{"component": "open-zaak", "data": "a: '{url:stranger}'"}]},
            ".parts[0].data",
            "not a required dependency",
        ),
        ({"data": "a: '{origin:open-zaak}'"}, ".data", "only in a part for open-zaak"),
        (
            {"parts": [{"component": "open-zaak", "data": "a: '{origin:keycloak}'"}]},
            ".parts[0].data",
            "only in a part for keycloak",
        ),
    ],
)
def test_a_configuration_that_could_never_run_is_refused_naming_the_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    spec = CATALOGUE["open-notificaties"].model_dump(by_alias=True, exclude_none=True)
    spec["versions"][0]["container"]["configuration"] = {
        "command": ["configure"],
        **change,
    }
    errors = component_errors("open-notificaties", CGComponentSpec.model_validate(spec), CATALOGUE)
    assert [(e.field, message in e.message) for e in errors] == [
        (f"spec.versions[0].container.configuration{field}", True)
    ]


def test_the_example_catalogue_has_no_configuration_errors() -> None:
    for name, spec in CATALOGUE.items():
        assert component_errors(name, spec, CATALOGUE) == [], name


def test_an_optional_requirement_makes_no_cycle() -> None:
    spec = CATALOGUE["open-notificaties"].model_dump(by_alias=True, exclude_none=True)
    spec["requires"] = [{"component": "open-zaak", "optional": True}]
    assert (
        component_errors("open-notificaties", CGComponentSpec.model_validate(spec), CATALOGUE) == []
    )
    spec["requires"] = [{"component": "open-zaak"}]
    (cycle,) = component_errors(
        "open-notificaties", CGComponentSpec.model_validate(spec), CATALOGUE
    )
    assert "cycle" in cycle.message


def test_parts_and_bindings_wake_the_installation_like_requirements() -> None:
    assert "open-zaak" in wired_to(CATALOGUE["open-notificaties"])
    assert "objecten" in wired_to(CATALOGUE["objecttypen"])
    assert "objecttypen" in wired_to(CATALOGUE["objecten"])


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
        subscribed={"brp"},
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


def test_open_formulieren_registers_with_the_apis_that_accept_it() -> None:
    """open-forms 3.3.9 (django-setup-configuration 0.8.2, no value_from: the chart's envsubst)
    against open-zaak 1.30.0's credentials and applicaties, objects-api 3.6.0's and
    objecttypes-api 3.4.x's tokenauth: each secret is the one the other side accepts."""
    pairs = {
        server: credential_secret_name("open-formulieren", server)
        for server in ("open-zaak", "objecten", "objecttypen")
    }
    versions = BOTH
    peers = {
        "open_zaak": ready("open-zaak"),
        "objecten": ready("objecten"),
        "objecttypen": ready("objecttypen"),
    }
    forms = planned("open-formulieren", versions, **peers)
    forms_yaml = rendered_yaml(forms)
    services = {s["identifier"]: s for s in forms_yaml["zgw_consumers"]["services"]}
    for identifier, path, api_type in (
        ("zaken-api", "zaken/api/v1/", "zrc"),
        ("documenten-api", "documenten/api/v1/", "drc"),
        ("catalogi-api", "catalogi/api/v1/", "ztc"),
    ):
        service = services[identifier]
        assert service["api_root"] == f"{endpoint('open-zaak')}{path}"
        assert (service["api_type"], service["auth_type"]) == (api_type, "zgw")
        assert service["client_id"] == "open-formulieren"
    assert services["objecten-api"]["api_root"] == f"{endpoint('objecten')}api/v2/"
    assert services["objecttypen-api"]["api_root"] == f"{endpoint('objecttypen')}api/v2/"
    (group,) = forms_yaml["zgw_api"]["groups"]
    assert {group[k] for k in group if k.endswith("_service_identifier")} <= set(services)
    (objects,) = forms_yaml["objects_api"]["groups"]
    assert objects["objects_service_identifier"] == "objecten-api"
    assert objects["objecttypes_service_identifier"] == "objecttypen-api"

    # The YAML carries ${NAME}; the command substitutes the Job's environment into a copy.
    command = forms.configuration.job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    assert command[2].startswith('envsubst < "$0" > /tmp/configuration.yaml && exec ')
    assert command[-1] == f"{CONFIG_DIR}/{CONFIG_FILE}"
    env = job_env(forms)

    def forms_secret(value: str) -> tuple[str, str]:
        """The Secret behind `${NAME}`, and what precedes the secret in NAME's value."""
        name = value.removeprefix("${").removesuffix("}")
        entry = env[name]
        if "valueFrom" in entry:
            return entry["valueFrom"]["secretKeyRef"]["name"], ""
        prefix, _, raw = entry["value"].partition("$(")
        return env[raw.removesuffix(")")]["valueFrom"]["secretKeyRef"]["name"], prefix

    assert forms_secret(services["zaken-api"]["secret"]) == (pairs["open-zaak"], "")
    assert forms_secret(services["objecten-api"]["header_value"]) == (pairs["objecten"], "Token ")
    assert forms_secret(services["objecttypen-api"]["header_value"]) == (
        pairs["objecttypen"],
        "Token ",
    )

    # Each server accepts that secret while the municipality runs Open Formulieren.
    oz = planned("open-zaak", versions, open_notificaties=ready("open-notificaties"))
    oz_with = planned(
        "open-zaak",
        versions,
        open_notificaties=ready("open-notificaties"),
        open_formulieren=ready("open-formulieren"),
    )
    known = {
        c["identifier"]: c for c in rendered_yaml(oz_with)["vng_api_common_credentials"]["items"]
    }
    assert (
        secret_of(oz_with, known["open-formulieren"]["secret"]["value_from"]["env"])
        == pairs["open-zaak"]
    )
    applicaties = rendered_yaml(oz_with)["vng_api_common_applicaties"]["items"]
    (for_forms,) = [a for a in applicaties if a["client_ids"] == ["open-formulieren"]]
    assert for_forms["heeft_alle_autorisaties"] is True
    assert "open-formulieren" not in str(rendered_yaml(oz)), "only while it is subscribed"
    for server in ("objecten", "objecttypen"):
        with_forms = planned(server, versions, **peers, open_formulieren=ready("open-formulieren"))
        tokens = {t["identifier"]: t for t in rendered_yaml(with_forms)["tokenauth"]["items"]}
        token_env = tokens["open-formulieren"]["token"]["value_from"]["env"]
        assert secret_of(with_forms, token_env) == pairs[server]
        # Objecten: a superuser token (forms register into object types chosen later).
        assert tokens["open-formulieren"].get("is_superuser") is (server == "objecten" or None)


def test_open_archiefbeheer_reads_open_zaak_as_the_client_open_zaak_accepts() -> None:
    """open-archiefbeheer 2.0.0 takes the first service of each ZGW type and its health check
    wants all four; each is client `open-archiefbeheer` with the secret Open Zaak accepts for
    it, and Open Zaak knows that client only while the municipality runs Open Archiefbeheer."""
    oab = planned("open-archiefbeheer", open_zaak=ready("open-zaak"))
    oz = planned(
        "open-zaak",
        open_notificaties=ready("open-notificaties"),
        open_archiefbeheer=ready("open-archiefbeheer"),
    )
    oab_yaml, oz_yaml = rendered_yaml(oab), rendered_yaml(oz)
    services = oab_yaml["zgw_consumers"]["services"]
    zgw = [s for s in services if s["auth_type"] == "zgw"]
    assert sorted(s["api_type"] for s in zgw) == ["brc", "drc", "zrc", "ztc"]
    pair = credential_secret_name("open-archiefbeheer", "open-zaak")
    for service in zgw:
        assert service["api_root"].startswith(endpoint("open-zaak"))
        assert service["client_id"] == "open-archiefbeheer"
        assert secret_of(oab, service["secret"]["value_from"]["env"]) == pair
    selectielijst = oab_yaml["api_configuration"]["selectielijst_service_identifier"]
    assert selectielijst in {s["identifier"] for s in services}

    accepted = {c["identifier"]: c for c in oz_yaml["vng_api_common_credentials"]["items"]}
    assert secret_of(oz, accepted["open-archiefbeheer"]["secret"]["value_from"]["env"]) == pair
    (application,) = [
        a
        for a in oz_yaml["vng_api_common_applicaties"]["items"]
        if a["client_ids"] == ["open-archiefbeheer"]
    ]
    assert application["heeft_alle_autorisaties"] is True

    alone = planned("open-zaak", open_notificaties=ready("open-notificaties"))
    assert "open-archiefbeheer" not in alone.configuration.config_map["data"][CONFIG_FILE]


def test_open_beheer_edits_case_types_in_open_zaak_and_names_objecttypen_when_it_runs() -> None:
    """open-beheer 0.9.0 reads Catalogi as the client Open Zaak accepts; its api_configuration
    names the Selectielijst and Objecttypen services and fails without either, so it comes only
    with Objecttypen, whose token Objecttypen accepts."""
    alone = planned("open-beheer", open_zaak=ready("open-zaak"))
    assert "api_configuration" not in rendered_yaml(alone)
    beheer = planned("open-beheer", open_zaak=ready("open-zaak"), objecttypen=ready("objecttypen"))
    beheer_yaml = rendered_yaml(beheer)
    services = {s["identifier"]: s for s in beheer_yaml["zgw_consumers"]["services"]}
    catalogi = services["open-zaak-catalogi"]
    assert (catalogi["api_type"], catalogi["client_id"]) == ("ztc", "open-beheer")
    names = beheer_yaml["api_configuration"]
    assert {names["selectielijst_service_identifier"], names["objecttypen_service_identifier"]} <= (
        set(services)
    )
    to_oz = credential_secret_name("open-beheer", "open-zaak")
    assert secret_of(beheer, catalogi["secret"]["value_from"]["env"]) == to_oz

    oz = planned(
        "open-zaak", open_notificaties=ready("open-notificaties"), open_beheer=ready("open-beheer")
    )
    credentials = rendered_yaml(oz)["vng_api_common_credentials"]["items"]
    accepted = {c["identifier"]: c for c in credentials}
    assert secret_of(oz, accepted["open-beheer"]["secret"]["value_from"]["env"]) == to_oz

    objecttypen = planned("objecttypen", open_beheer=ready("open-beheer"))
    (token,) = rendered_yaml(objecttypen)["tokenauth"]["items"]
    to_objecttypen = credential_secret_name("open-beheer", "objecttypen")
    header = services["objecttypen"]["header_value"]["value_from"]["env"]
    assert job_env(beheer)[header]["value"] == f"Token $(CG_SECRET_{header})"
    assert secret_of(beheer, f"CG_SECRET_{header}") == to_objecttypen
    assert secret_of(objecttypen, token["token"]["value_from"]["env"]) == to_objecttypen


def test_open_klant_publishes_to_open_notificaties_once_it_is_subscribed() -> None:
    """Open Klant sends nothing by default (NOTIFICATIONS_DISABLED defaults to True in 2.18.0):
    with Open Notificaties subscribed it gets the switch, a ZGW client whose secret Open
    Notificaties accepts, its three kanalen there, and from Open Zaak's Autorisaties API the
    one scope to publish, as Objecten does."""

    def web_env(plan: Any) -> dict[str, Any]:
        web = next(o for o in plan.children if o["kind"] == "Deployment")
        return {e["name"]: e for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}

    alone = planned("open-klant")
    assert "NOTIFICATIONS_DISABLED" not in web_env(alone)
    assert alone.configuration is None, "nothing to wire without Open Notificaties"

    klant = planned("open-klant", open_notificaties=ready("open-notificaties"))
    assert web_env(klant)["NOTIFICATIONS_DISABLED"] == {
        "name": "NOTIFICATIONS_DISABLED",
        "value": "False",
    }
    klant_yaml = rendered_yaml(klant)
    (service,) = klant_yaml["zgw_consumers"]["services"]
    assert (service["api_type"], service["auth_type"], service["client_id"]) == (
        "nrc",
        "zgw",
        "open-klant",
    )
    assert service["api_root"] == f"{endpoint('open-notificaties')}api/v1/"
    assert klant_yaml["notifications_config"] == {
        "notifications_api_service_identifier": service["identifier"]
    }

    on = planned("open-notificaties", open_zaak=ready("open-zaak"), open_klant=ready("open-klant"))
    on_yaml = rendered_yaml(on)
    accepted = {c["identifier"]: c for c in on_yaml["vng_api_common_credentials"]["items"]}
    pair = credential_secret_name("open-klant", "open-notificaties")
    assert secret_of(klant, service["secret"]["value_from"]["env"]) == pair
    assert secret_of(on, accepted["open-klant"]["secret"]["value_from"]["env"]) == pair
    kanalen = {k["naam"]: k["filters"] for k in on_yaml["notifications_kanalen_config"]["items"]}
    assert kanalen["partijen"] == ["nummer", "interne_notitie", "soort_partij"]
    assert {"internetaken", "klantcontacten", "zaken"} <= set(kanalen)

    oz = planned(
        "open-zaak", open_notificaties=ready("open-notificaties"), open_klant=ready("open-klant")
    )
    (application,) = [
        a
        for a in rendered_yaml(oz)["vng_api_common_applicaties"]["items"]
        if a["client_ids"] == ["open-klant"]
    ]
    assert application["heeft_alle_autorisaties"] is False
    (scope,) = oz.configuration.job["spec"]["template"]["spec"]["containers"]
    assert application["uuid"] in scope["command"][3]
    assert '"notificaties.publiceren"' in scope["command"][3]
    compile(scope["command"][3], "open-zaak's part for open-klant", "exec")


@pytest.mark.parametrize(
    "env",
    [
        {"name": "X"},
        {"name": "X", "key": "uri", "value": "False"},
        {"name": "X", "key": "uri", "credential": "Client"},
        {"name": "X", "value": "a", "credential": "Server"},
    ],
)
def test_a_requirements_variable_has_exactly_one_source(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one of key"):
        BindingEnv.model_validate(env)


def web_env(plan: Any, component: str) -> dict[str, dict[str, Any]]:
    web = next(
        o for o in plan.children if o["kind"] == "Deployment" and o["metadata"]["name"] == component
    )
    return {e["name"]: e for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}


def config_hash(plan: Any, component: str) -> str:
    web = next(
        o for o in plan.children if o["kind"] == "Deployment" and o["metadata"]["name"] == component
    )
    return str(web["spec"]["template"]["metadata"]["annotations"][ANNOTATION_CONFIG_HASH])


def zac_settings(plan: Any) -> dict[str, str]:
    config = next(
        o
        for o in plan.children
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "zac-config"
    )
    return dict(config["data"])


def reads(env: dict[str, Any]) -> str:
    return str(env["valueFrom"]["secretKeyRef"]["name"])


ZAC_PEERS = {
    "keycloak": ready("keycloak", host="login.amsterdam.nl"),
    "open_zaak": ready("open-zaak"),
    "open_notificaties": ready("open-notificaties"),
    "objecten": ready("objecten"),
    "open_klant": ready("open-klant"),
}


def test_zac_calls_each_component_with_the_credential_that_component_accepts() -> None:
    """ZAC reads its credentials from its environment (it has no configuration step), and
    each component it calls is configured, in its own Job, with the same generated Secret:
    nothing for a person to copy between five admin screens."""
    zac = planned("zac", **ZAC_PEERS)
    env = web_env(zac, "zac")
    zac_host = ready("zac", host="zac.amsterdam.nl")

    # Open Zaak knows client `zac` by the secret ZAC signs its JWTs with, and lets it do
    # everything, as ZAC's own development setup registers it.
    oz = planned("open-zaak", open_notificaties=ready("open-notificaties"), zac=zac_host)
    oz_yaml = rendered_yaml(oz)
    (known,) = [
        c for c in oz_yaml["vng_api_common_credentials"]["items"] if c["identifier"] == "zac"
    ]
    settings = zac_settings(zac)
    assert settings["ZGW_API_CLIENTID"] == known["identifier"]
    assert reads(env["ZGW_API_SECRET"]) == secret_of(oz, known["secret"]["value_from"]["env"])
    assert reads(env["ZGW_API_SECRET"]) == credential_secret_name("zac", "open-zaak")
    (application,) = [
        a for a in oz_yaml["vng_api_common_applicaties"]["items"] if a["client_ids"] == ["zac"]
    ]
    assert application["heeft_alle_autorisaties"] is True

    # Objecten and Open Klant accept ZAC's tokens.
    for component, variable in (
        ("objecten", "OBJECTS_API_TOKEN"),
        ("open-klant", "KLANTINTERACTIES_API_TOKEN"),
    ):
        peers = {"zac": zac_host, "open_notificaties": ready("open-notificaties")}
        if component == "objecten":
            peers["objecttypen"] = ready("objecttypen")
        side = planned(component, **peers)
        (token,) = [
            t for t in rendered_yaml(side)["tokenauth"]["items"] if t["identifier"] == "zac"
        ]
        assert reads(env[variable]) == secret_of(side, token["token"]["value_from"]["env"])
        assert reads(env[variable]) == credential_secret_name("zac", component)

    # Open Notificaties delivers to ZAC's endpoint with the secret ZAC compares the header to,
    # on kanalen it carries itself.
    on = planned(
        "open-notificaties",
        open_zaak=ready("open-zaak"),
        objecten=ready("objecten"),
        zac=ready("zac"),
    )
    on_yaml = rendered_yaml(on)
    (subscription,) = on_yaml["notifications_abonnementen_config"]["items"]
    assert subscription["callback_url"] == f"{endpoint('zac')}rest/notificaties"
    assert subscription["auth_type"] == "api_key"
    assert reads(env["OPEN_NOTIFICATIONS_API_SECRET_KEY"]) == secret_of(
        on, subscription["auth"]["value_from"]["env"]
    )
    assert reads(env["OPEN_NOTIFICATIONS_API_SECRET_KEY"]) == credential_secret_name(
        "open-notificaties", "zac"
    )
    carried = {k["naam"] for k in on_yaml["notifications_kanalen_config"]["items"]}
    assert {k["naam"] for k in subscription["kanalen"]} <= carried

    # Keycloak: the login client returning to ZAC's public URL and the service account ZAC
    # lists employees with, both with ZAC's one secret; the realm ZAC is told is the one made.
    keycloak = planned("keycloak", zac=zac_host)
    realm = rendered_yaml(keycloak)
    assert env["AUTH_REALM"] == {"name": "AUTH_REALM", "value": realm["realm"]}
    clients = {c["clientId"]: c for c in realm["clients"]}
    assert {settings["AUTH_RESOURCE"], settings["KEYCLOAK_ADMIN_CLIENT_ID"]} == set(clients)
    assert clients["zac"]["redirectUris"] == ["https://zac.amsterdam.nl/*"]
    assert clients["zac-admin-client"]["serviceAccountsEnabled"] is True
    for client in ("zac", "zac-admin-client"):
        variable = clients[client]["secret"].removeprefix("$(env:").removesuffix(")")
        assert secret_of(keycloak, variable) == reads(env["AUTH_SECRET"])
    assert reads(env["KEYCLOAK_ADMIN_CLIENT_SECRET"]) == reads(env["AUTH_SECRET"])
    (account,) = realm["users"]
    assert account["clientRoles"]["realm-management"] == ["view-users"]
    # Without ZAC's public address there is nothing a browser could come back to.
    assert "users" not in rendered_yaml(planned("keycloak", zac=ready("zac")))


def test_a_credential_made_anew_restarts_the_workloads_that_read_it() -> None:
    """Deleting a credential Secret rotates it: the other side's Job runs again with the new
    value, and ZAC's pods, which read it at start, are replaced so they use it too. A
    component whose workloads read no credential is not restarted by any of it."""
    before = planned("zac", **ZAC_PEERS)
    rotated = dict(BOTH) | {credential_secret_name("zac", "open-zaak"): "uid-new"}
    after = planned("zac", rotated, **ZAC_PEERS)
    assert config_hash(after, "zac") != config_hash(before, "zac")
    assert config_hash(planned("zac", dict(BOTH), **ZAC_PEERS), "zac") == config_hash(before, "zac")

    on = planned("open-notificaties", open_zaak=ready("open-zaak"))
    assert config_hash(
        planned("open-notificaties", rotated, open_zaak=ready("open-zaak")), "open-notificaties"
    ) == config_hash(on, "open-notificaties")


def test_a_credential_variable_comes_only_with_its_component() -> None:
    """A pod never names the Secret of a pair whose other side is not subscribed (the tenant
    makes it all the same, but the variable would promise a component that is not there)."""
    peers = {k: v for k, v in ZAC_PEERS.items() if k != "open_klant"}
    env = web_env(planned("zac", **peers), "zac")
    assert "KLANTINTERACTIES_API_TOKEN" not in env
    assert reads(env["OBJECTS_API_TOKEN"]) == credential_secret_name("zac", "objecten")


KISS_PEERS = {
    "keycloak": ready("keycloak", host="login.amsterdam.nl"),
    "objecten": ready("objecten"),
    "open_klant": ready("open-klant"),
}


def test_kiss_logs_in_at_keycloaks_public_realm_and_calls_with_tokens_the_others_accept() -> None:
    """KISS's OIDC authority is the realm's public https issuer (ASP.NET fetches its discovery
    document and refuses http), Open Klant's register is its klantinteracties root, and the
    tokens KISS sends are the ones Objecten, Open Klant and Keycloak's client were given."""
    kiss = planned("kiss", **KISS_PEERS)
    assert kiss.dependencies.ready
    env = web_env(kiss, "kiss")
    assert env["OIDC_AUTHORITY"]["value"] == "https://login.amsterdam.nl/realms/medewerkers"
    assert env["OIDC_CLIENT_ID"]["value"] == "kiss"
    base = env["REGISTERS__0__KLANTINTERACTIE_BASE_URL"]["value"]
    assert base == f"{endpoint('open-klant')}klantinteracties"

    kiss_host = ready("kiss", host="kiss.amsterdam.nl")
    keycloak = planned("keycloak", kiss=kiss_host)
    realm = rendered_yaml(keycloak)
    assert env["OIDC_AUTHORITY"]["value"].endswith(f"/realms/{realm['realm']}")
    (client,) = realm["clients"]
    assert client["clientId"] == env["OIDC_CLIENT_ID"]["value"]
    assert client["redirectUris"] == ["https://kiss.amsterdam.nl/*"]
    variable = client["secret"].removeprefix("$(env:").removesuffix(")")
    assert secret_of(keycloak, variable) == reads(env["OIDC_CLIENT_SECRET"])
    # The roles KISS's policies require reach it in the claim ASP.NET maps to roles.
    assert {r["name"] for r in realm["roles"]["client"]["kiss"]} == {
        "Klantcontactmedewerker",
        "Redacteur",
    }
    (mapper,) = client["protocolMappers"]
    assert mapper["config"]["claim.name"] == "roles"
    assert mapper["config"]["id.token.claim"] == "true"

    for component, variables in (
        ("objecten", ("AFDELINGEN_TOKEN", "GROEPEN_TOKEN", "VAC_OBJECTEN_TOKEN")),
        ("open-klant", ("REGISTERS__0__KLANTINTERACTIE_TOKEN",)),
    ):
        peers = {"kiss": kiss_host, "objecttypen": ready("objecttypen")}
        side = planned(component, **peers)
        (token,) = [
            t for t in rendered_yaml(side)["tokenauth"]["items"] if t["identifier"] == "kiss"
        ]
        accepted = secret_of(side, token["token"]["value_from"]["env"])
        assert accepted == credential_secret_name("kiss", component)
        for variable in variables:
            assert reads(env[variable]) == accepted, variable


def test_kiss_waits_for_keycloak_to_be_reachable_by_its_users() -> None:
    """An OIDC authority inside the cluster would fail every KISS request; until Keycloak has a
    public host KISS deploys nothing new and says what it waits for."""
    hidden = dict(KISS_PEERS) | {"keycloak": ready("keycloak")}
    kiss = planned("kiss", **hidden)
    assert not kiss.dependencies.ready
    assert kiss.dependencies.reason == "DependencyNotExposed"
    assert "keycloak" in kiss.dependencies.message
    assert "OIDC_AUTHORITY" not in web_env(kiss, "kiss")


def test_signalen_checks_tokens_with_the_realms_keys_inside_the_cluster() -> None:
    signalen = planned("signalen", keycloak=ready("keycloak"))
    env = web_env(signalen, "signalen")
    certs = "realms/medewerkers/protocol/openid-connect/certs"
    assert env["JWKS_URL"]["value"] == f"{endpoint('keycloak')}{certs}"
    # Without Keycloak the municipality names its own provider (a setting).
    assert "JWKS_URL" not in web_env(planned("signalen"), "signalen")


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        (
            {"component": "keycloak", "env": [{"name": "A", "value": "{origin}/realms/x"}]},
            "needs exposed: true",
        ),
        (
            {"component": "keycloak", "env": [{"name": "A", "value": "{URL}realms/x"}]},
            "placeholders are {url} and {origin}",
        ),
    ],
)
def test_a_requirements_value_names_only_addresses_it_can_have(
    requirement: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Requirement.model_validate(requirement)
