"""CGComponent: a catalogue entry of the steering organisation (cluster-scoped, short `cgc`)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from cg_operator.api.base import (
    LIST_MAX,
    CalendarDate,
    DnsLabel,
    LongText,
    Model,
    Name,
    ObjectStatus,
    Quantity,
    VersionString,
    rule,
    rules,
)
from cg_operator.api.quantity import parse_quantity

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvName = Annotated[str, Field(min_length=1, max_length=128, pattern=ENV_NAME)]
HTTP_PATH = r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$"
HttpPath = Annotated[str, Field(min_length=1, max_length=256, pattern=HTTP_PATH)]
# An image reference without a digest-less `latest` tag: repository[:tag][@digest].
IMAGE = (
    r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)
HOST = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
Host = Annotated[str, Field(min_length=1, max_length=253, pattern=HOST)]
# A supplier's public host: at least two labels (no single-label cluster names such as
# `kubernetes` or `localhost`), and a wildcard stands for subdomains of a registrable domain,
# never of a whole top-level domain (`*.example.nl`, not `*.nl`).
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
PUBLIC_HOST = rf"^(\*\.)?{_LABEL}(\.{_LABEL})+$"
PublicHost = Annotated[str, Field(min_length=1, max_length=253, pattern=PUBLIC_HOST)]
# Names that resolve inside a cluster or a site, never to a supplier's hosted instance.
INTERNAL_SUFFIXES = (".svc", ".cluster.local", ".local", ".internal", ".localhost", ".svc.cluster")
INTERNAL_HOST_CEL = (
    "self.all(h, " + " && ".join(f"!h.endsWith('{suffix}')" for suffix in INTERNAL_SUFFIXES) + ")"
)


# CEL twins of the model validators below, checked by the API server at admission; the
# bad-input corpus test proves both reject the same objects.
IMAGE_PINNED_CEL = (
    "self.image.contains('@sha256:') || "
    "(self.image.split('/')[size(self.image.split('/')) - 1].contains(':') && "
    "!self.image.endsWith(':latest'))"
)


COMPONENT_SPEC_RULES = rules(
    rule(
        "self.versions.exists(v, v.version == self.defaultVersion)",
        "defaultVersion must be one of versions[].version",
        ".defaultVersion",
    ),
    rule(
        "!self.offerings.exists(o, o.type == 'Container') || "
        "self.versions.all(v, has(v.container))",
        "every version needs a container when a Container offering exists",
        ".versions",
    ),
)
OFFERING_RULES = rules(
    rule("self.type != 'SaaS' || has(self.saas)", "saas is required when type is SaaS", ".saas"),
    rule(
        "self.type != 'Container' || !has(self.saas)",
        "saas is only allowed when type is SaaS",
        ".saas",
    ),
)
CONTAINER_RULES = rules(
    rule(IMAGE_PINNED_CEL, "image must carry an explicit tag or digest (no :latest)", ".image"),
    rule(
        "!has(self.proxy) || (" + IMAGE_PINNED_CEL.replace("self.image", "self.proxy.image") + ")",
        "proxy.image must carry an explicit tag or digest (no :latest)",
        ".proxy.image",
    ),
    rule(
        "!has(self.configuration) || !has(self.configuration.image) || ("
        + IMAGE_PINNED_CEL.replace("self.image", "self.configuration.image")
        + ")",
        "configuration.image must carry an explicit tag or digest (no :latest)",
        ".configuration.image",
    ),
    rule(
        "!has(self.proxy) || !has(self.proxy.internal) || self.proxy.internal.all(l, "
        "has(self.volumes) && "
        "self.volumes.exists(v, v.name == l.volume && v.type == 'Data'))",
        "proxy.internal[].volume must name a Data volume of this container",
        ".proxy.internal",
    ),
    rule(
        "!has(self.proxy) || !has(self.proxy.public) || self.proxy.public.all(l, "
        "has(self.volumes) && self.volumes.exists(v, v.name == l.volume && v.type == 'Data'))",
        "proxy.public[].volume must name a Data volume of this container",
        ".proxy.public",
    ),
)


class Layer(StrEnum):
    """The five layers of the Common Ground model."""

    INTERACTION = "Interaction"
    PROCESS = "Process"
    INTEGRATION = "Integration"
    SERVICE = "Service"
    DATA = "Data"


class Tier(StrEnum):
    """Basis components every municipality needs; Plus components are optional extras."""

    BASIS = "Basis"
    PLUS = "Plus"


class Lifecycle(StrEnum):
    """Development status, as publiccode.yml and the Softwarecatalogus name it."""

    CONCEPT = "Concept"
    DEVELOPMENT = "Development"
    BETA = "Beta"
    STABLE = "Stable"
    DEPRECATED = "Deprecated"
    OBSOLETE = "Obsolete"


class OfferingType(StrEnum):
    """How a delivery organisation delivers a component."""

    CONTAINER = "Container"
    SAAS = "SaaS"


class BackingServiceType(StrEnum):
    """Stateful services a component needs beside it."""

    POSTGRESQL = "PostgreSQL"
    REDIS = "Redis"
    RABBITMQ = "RabbitMQ"
    ELASTICSEARCH = "Elasticsearch"
    SOLR = "Solr"


class Steward(Model):
    """Who looks after the component on behalf of the municipalities."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    """The stewarding organisation, e.g. "Dimpact" or "VNG Realisatie"."""
    url: Annotated[str, Field(max_length=512, pattern=r"^https://")] | None = None
    """Where to find the steward (https)."""


class Standard(Model):
    """An API standard or specification the component implements."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    """The standard, e.g. "Zaken API"."""
    version: Annotated[str, Field(min_length=1, max_length=32)]
    """The version implemented, e.g. "1.5.1"."""


# {origin} in a requirement's value: the dependency's public origin.
ORIGIN_PLACEHOLDER = "{origin}"


class CredentialSide(StrEnum):
    """Which side of a generated per-pair credential a workload reads."""

    CLIENT = "Client"
    """This component calls the dependency with it (`<this>-to-<dependency>-credentials`)."""
    SERVER = "Server"
    """The dependency calls this component with it (`<dependency>-to-<this>-credentials`),
    e.g. the secret Open Notificaties sends with the notifications it delivers to ZAC."""


class BindingEnv(Model):
    """One environment variable the dependent component gets while the dependency is
    subscribed: from a key of the dependency's binding Secret, a fixed value (a switch the app
    reads, such as Open Klant's NOTIFICATIONS_DISABLED=False once there is a Notificaties API to
    send to), or the credential the operator generates for the pair, for an app that reads it
    from its environment rather than from a configuration Job (ZAC's Open Zaak secret)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "(has(self.key) ? 1 : 0) + (has(self.value) ? 1 : 0) "
                "+ (has(self.credential) ? 1 : 0) == 1",
                "give exactly one of key (from the binding Secret), value (fixed) or credential "
                "(the generated per-pair secret)",
            ),
            rule(
                "!has(self.value) || "
                "!self.value.replace('{url}', '').replace('{origin}', '').contains('{')",
                "a value's placeholders are {url} and {origin} (the dependency's addresses)",
                ".value",
            ),
        )
    )

    name: EnvName
    """The variable the dependent component reads, e.g. NOTIFICATIONS_API_ROOT."""
    key: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[-._a-zA-Z0-9]+$")] | None = (
        None
    )
    """The binding Secret key it comes from: uri, host, port, username, password, ..."""
    value: Annotated[str, Field(max_length=256)] | None = None
    """A value instead (never a secret: it is in the pod spec), with the dependency's {url}
    (its endpoint inside the cluster, ending in a slash) and, for a requirement that is
    `exposed`, its {origin} (https://<its public host>), e.g. Keycloak's realm as an OIDC
    authority: "{origin}/realms/medewerkers"."""
    credential: CredentialSide | None = None
    """The generated credential of this pair instead, read through a secretKeyRef: Client when
    this component calls the dependency, Server when the dependency calls it. The other side
    reads the same Secret in its configuration (`configuration.credentials`)."""

    @model_validator(mode="after")
    def _one_source(self) -> BindingEnv:
        if self.value is not None and "{" in (
            self.value.replace("{url}", "").replace(ORIGIN_PLACEHOLDER, "")
        ):
            raise ValueError(
                "a value's placeholders are {url} and {origin} (the dependency's addresses)"
            )
        if sum(x is not None for x in (self.key, self.value, self.credential)) != 1:
            raise ValueError(
                "give exactly one of key (from the binding Secret), value (fixed) or "
                "credential (the generated per-pair secret)"
            )
        return self


class Requirement(Model):
    """Another catalogue component this one needs to work."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "(has(self.exposed) && self.exposed) || !has(self.env) || "
                "self.env.all(e, !has(e.value) || !e.value.contains('{origin}'))",
                "{origin} in a value needs exposed: true (the dependency's public origin)",
                ".env",
            )
        )
    )

    component: DnsLabel
    """The required CGComponent's name."""
    optional: bool = False
    """An optional requirement is wired when subscribed but does not block the installation."""
    exposed: bool = False
    """The dependency must also be reachable from outside the cluster (a public host): this
    component sends browsers there, as KISS sends employees to Keycloak's login. Until it is,
    new workloads wait (DependencyNotExposed)."""
    env: Annotated[list[BindingEnv], Field(max_length=16)] = Field(default_factory=list)
    """How the dependency's binding reaches this component; empty: <COMPONENT>_URL from uri."""

    @model_validator(mode="after")
    def _origin_needs_exposure(self) -> Requirement:
        if not self.exposed and any(
            e.value is not None and ORIGIN_PLACEHOLDER in e.value for e in self.env
        ):
            raise ValueError(
                "{origin} in a value needs exposed: true (the dependency's public origin)"
            )
        return self


class EnvVar(Model):
    """A plain, non-secret environment variable. Secrets never go in the catalogue."""

    name: EnvName
    """The variable's name."""
    value: Annotated[str, Field(max_length=4096)]
    """Its value."""


# A location prefix: a path starting with a slash, nothing nginx would read as syntax.
LocationPath = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^/[-._a-zA-Z0-9/]*$")]


class ServedLocation(Model):
    """A path the proxy serves from a volume itself: for `internal`, only when the app says so
    (X-Accel-Redirect); for `public`, to anyone (public media such as logos)."""

    path: Annotated[str, Field(min_length=2, max_length=128, pattern=r"^/[-._a-zA-Z0-9/]*/$")]
    """The URL path, e.g. /private-media/ (the app's SENDFILE_URL, with the slashes)."""
    volume: Annotated[
        str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    ]
    """The Data volume (by name) it serves from, mounted where the app mounts it."""


class SinglePageApp(Model):
    """A browser app the proxy serves, as the Open Archiefbeheer and Open Beheer charts'
    nginx does: the paths the backend answers go to it, and every other path (a client-side
    route such as /destruction-lists/1) gets the app's index page, itself served by the
    backend."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "self.appPaths.exists(p, self.index.startsWith(p))",
                "index must lie under one of appPaths (the backend serves it)",
                ".index",
            )
        )
    )

    index: HttpPath
    """The index page, e.g. /static/frontend/index.html."""
    app_paths: Annotated[list[LocationPath], Field(min_length=1, max_length=16)] = Field(
        json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Path prefixes passed to the backend, e.g. /api/, /admin/, /static/."""

    @model_validator(mode="after")
    def _index_is_served_by_the_backend(self) -> SinglePageApp:
        if not any(self.index.startswith(p) for p in self.app_paths):
            raise ValueError("index must lie under one of appPaths (the backend serves it)")
        return self


class Proxy(Model):
    """A web server in front of the app, as the maintainers' charts run one: it serves private
    media the app authorises with X-Accel-Redirect, so large downloads never tie up the app,
    and, for a browser app, its index page on client-side routes.
    It gets its own Deployment and Service `<component>-proxy`; the app's own Service stays
    for in-cluster API callers."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "(has(self.internal) && size(self.internal) > 0) || "
                "(has(self.public) && size(self.public) > 0) || has(self.singlePageApp)",
                "a proxy serves something: internal, public or singlePageApp",
            )
        )
    )

    image: Annotated[str, Field(min_length=1, max_length=512, pattern=IMAGE)]
    """An unprivileged nginx image, e.g. nginxinc/nginx-unprivileged:stable."""
    user: PodUser
    """The image's numeric user (nginx-unprivileged: 101)."""
    port: Annotated[int, Field(ge=1024, le=65535)] = 8080
    """The port it listens on (unprivileged: above 1023)."""
    health_path: HttpPath = "/_health/"
    """A path the proxy answers itself, for its probes."""
    internal: Annotated[list[ServedLocation], Field(max_length=4)] = Field(default_factory=list)
    """The protected locations."""
    public: Annotated[list[ServedLocation], Field(max_length=4)] = Field(default_factory=list)
    """Locations served to anyone straight from a volume (Django serves no media itself)."""
    max_body_size: Annotated[str, Field(pattern=r"^[0-9]+[kKmMgG]?$")] = "100m"
    """The largest upload it passes on (nginx client_max_body_size)."""
    resources: Resources | None = None
    """Its requests and limits."""
    single_page_app: SinglePageApp | None = None
    """The browser app it serves, when the component has one."""

    @model_validator(mode="after")
    def _serves_something(self) -> Proxy:
        if not (self.internal or self.public or self.single_page_app):
            raise ValueError("a proxy serves something: internal, public or singlePageApp")
        return self


class Setting(Model):
    """A non-secret setting a municipality may give in its subscription's values."""

    name: EnvName
    """The variable, e.g. SITE_DOMAIN."""
    description: LongText = ""
    """What it does, for the municipality choosing it."""


class PodUser(Model):
    """The numeric identity the image's processes run as. Required because the kubelet refuses
    `runAsNonRoot` for an image whose USER is a name ("cannot verify user is non-root"), and the
    group owns the data volumes (fsGroup)."""

    run_as_user: Annotated[
        int,
        Field(
            ge=1,
            le=2147483647,
            json_schema_extra=rules(rule("self != 0", "runAsUser must not be 0 (root)")),
        ),
    ]
    """The image user's uid, e.g. 1000 for the Maykin images; 0 (root) is refused."""
    run_as_group: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    """Its primary gid; unset: the same as runAsUser."""
    fs_group: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    """The group that owns mounted volumes; unset: runAsGroup."""

    @property
    def group(self) -> int:
        """The effective primary group."""
        return self.run_as_user if self.run_as_group is None else self.run_as_group

    @property
    def volume_group(self) -> int:
        """The effective fsGroup."""
        return self.group if self.fs_group is None else self.fs_group


class SecretAlphabet(StrEnum):
    """The characters a generated secret is drawn from."""

    ALPHANUMERIC = "Alphanumeric"
    URL_SAFE = "UrlSafe"
    HEX = "Hex"


class GeneratedSecret(Model):
    """A secret setting the operator generates once per installation (e.g. Django's
    SECRET_KEY): kept in the Secret <component>-secrets, never changed by a later pass, a
    restart or an upgrade, kept or deleted with the data, rotated only on request."""

    name: EnvName
    """The variable the component reads it from."""
    length: Annotated[int, Field(ge=32, le=256)] = 50
    """Its length in characters (32 to 256)."""
    alphabet: SecretAlphabet = SecretAlphabet.ALPHANUMERIC
    """The characters it is drawn from."""


class TenantSecret(Model):
    """A secret setting the municipality supplies from a Secret in its own namespace (an OIDC
    client secret, an API key of a national register); the subscription names the Secret."""

    name: EnvName
    """The variable the component reads it from."""
    required: bool = True
    """Whether the component cannot start without it; a missing required one keeps the
    installation from deploying."""
    description: Annotated[str, Field(max_length=256)] = ""
    """What it is and where a municipality gets it."""


class HostSettings(Model):
    """How the component is told the host names it may answer to (Django's ALLOWED_HOSTS):
    the operator derives the value, never a person: the Service's in-cluster names plus the
    public host names the subscription declares. Probes then send the Service name as Host."""

    env: EnvName
    """The variable, e.g. ALLOWED_HOSTS."""
    separator: Annotated[str, Field(min_length=1, max_length=4)] = ","
    """Between two names."""


class VolumeType(StrEnum):
    """What a volume holds."""

    DATA = "Data"
    SCRATCH = "Scratch"


class Volume(Model):
    """A writable place in the component's containers."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "self.type == 'Data' || !has(self.size)",
                "size is only for Data volumes",
                ".size",
            )
        )
    )

    name: Annotated[
        str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    ]
    """A short name; a Data volume's claim is <component>-<name>."""
    mount_path: Annotated[str, Field(min_length=2, max_length=256, pattern=r"^/[-._a-zA-Z0-9/]*$")]
    """Where it is mounted (an absolute path), e.g. /app/private-media."""
    type: VolumeType = VolumeType.DATA
    """Data: a PersistentVolumeClaim shared by every process of the component (web, workers),
    kept under deletionPolicy Retain like a database; Scratch: an emptyDir per pod (/tmp)."""
    size: Quantity | None = None
    """A Data volume's size; default 1Gi."""

    @model_validator(mode="after")
    def _size_only_for_data(self) -> Volume:
        if self.type is VolumeType.SCRATCH and self.size is not None:
            raise ValueError("size is only for Data volumes")
        return self


class ExecCheck(Model):
    """A health check run inside a container (for processes without HTTP, such as Celery)."""

    command: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]],
        Field(min_length=1, max_length=16),
    ]
    """The command; exit 0 means healthy, e.g. ["maykin-common", "worker-health-check"]."""
    period_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    """How often it runs."""
    timeout_seconds: Annotated[int, Field(ge=1, le=600)] = 10
    """How long it may take."""
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 3
    """Failures in a row before the container is restarted."""


class Worker(Model):
    """An extra process of the same image, run as its own Deployment (e.g. a Celery worker)."""

    name: Annotated[
        str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    ]
    """A short name, used as the Deployment suffix: <component>-<name>."""
    command: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=16)] = Field(
        default_factory=list
    )
    """The container command; empty keeps the image's entrypoint."""
    args: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=32)] = Field(
        default_factory=list
    )
    """Arguments to the command."""
    health_check: ExecCheck | None = None
    """The liveness check its maintainers define (e.g. maykin-common's worker-health-check)."""
    resources: Resources | None = None
    """Requests and limits of this process; unset takes the container's. A beat needs far less
    than the web process, and a quota counts every process's limits."""


# The keys of a backing service's connection Secret: written by the operator for an embedded
# service, expected in a tenant's Secret for an external one (those the component uses).
CONNECTION_KEYS: dict[BackingServiceType, tuple[str, ...]] = {
    BackingServiceType.POSTGRESQL: ("host", "port", "database", "username", "password"),
    BackingServiceType.REDIS: ("host", "port", "cache", "url"),
    BackingServiceType.RABBITMQ: ("host", "port", "username", "password", "vhost", "url"),
    BackingServiceType.ELASTICSEARCH: ("host", "port", "url"),
    BackingServiceType.SOLR: ("host", "port", "url"),
}
PLACEHOLDER = r"\{([a-z]+)\}"


class ServiceEnv(Model):
    """One variable a component reads a backing service's connection from."""

    name: EnvName
    """The variable, e.g. KC_DB_URL_HOST."""
    key: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z]+$")] | None = None
    """The connection key it carries as is: host, port, database, username, password, url, ..."""
    value: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    """A value composed of connection keys in braces, e.g. redis://{host}:{port}/1."""

    @model_validator(mode="after")
    def _key_or_value(self) -> ServiceEnv:
        if (self.key is None) == (self.value is None):
            raise ValueError("each env entry needs exactly one of key and value")
        return self

    def keys_used(self) -> list[str]:
        """The connection keys this variable reads."""
        if self.key is not None:
            return [self.key]
        return re.findall(PLACEHOLDER, self.value or "")


class InitStep(Model):
    """A step the web pod runs to completion before the web process starts (e.g. database
    migrations, where the image's own start script does not run them)."""

    name: Annotated[
        str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    ]
    """A short name, used as the init container's name."""
    command: Annotated[
        list[Annotated[str, Field(max_length=256)]], Field(min_length=1, max_length=16)
    ]
    """The command, e.g. ["python", "manage.py", "migrate", "--noinput"]."""
    args: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=32)] = Field(
        default_factory=list
    )
    """Arguments to the command."""


# Put before a secret value in its variable, e.g. "Token " for an Authorization header: printable
# text without `$`, so the kubelet's $(VAR) expansion is the only one that happens.
ValuePrefix = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[ -#%-~]+$")]


class Credential(Model):
    """A credential the operator generates for one component calling another inside the
    municipality (an API client id and secret): one Secret per pair in the tenant namespace,
    the same on both sides, kept across passes and upgrades, replaced only when that Secret is
    deleted. The client id is the calling component's name."""

    env: EnvName
    """The variable the configuration reads the secret from (its YAML says
    `value_from: {env: <env>}`)."""
    client: DnsLabel
    """The component that calls, e.g. open-zaak calling Open Notificaties."""
    server: DnsLabel
    """The component that is called and must accept the client."""
    prefix: ValuePrefix | None = None
    """Text the variable's value starts with before the secret, where the app takes the whole
    header (e.g. "Token " for a zgw-consumers `api_key` service's header_value)."""


class BindingValue(Model):
    """A value of another subscribed component's binding Secret (`<component>-binding`: uri,
    and for a SaaS offering the supplier's credentials), given to the configuration as an
    environment variable: how a SaaS dependency is wired."""

    env: EnvName
    """The variable the configuration reads it from (`value_from: {env: <env>}`)."""
    component: DnsLabel
    """The component whose binding it is."""
    key: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[-._a-zA-Z0-9]+$")]
    """The binding Secret's key: uri, username, password, token, ..."""
    prefix: ValuePrefix | None = None
    """Text the variable's value starts with before the binding's value (e.g. "Token ")."""


# One argument of a configuration command; long enough for a short script (`manage.py shell
# --command ...`), which the catalogue keeps readable beside its sources.
CommandArg = Annotated[str, Field(min_length=1, max_length=4096)]
Command = Annotated[list[CommandArg], Field(min_length=1, max_length=16)]


class ConfigurationPart(Model):
    """Configuration for the edge to one other component, used only while the municipality
    subscribes to it (Open Notificaties' kanalen and Autorisaties API come from Open Zaak;
    without Open Zaak there is nothing of it to configure)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "(has(self.data) && self.data != '') || "
                "(has(self.commands) && size(self.commands) > 0)",
                "a part needs data, commands or both",
            )
        )
    )

    component: DnsLabel
    """The other component; the part applies while its installation exists in the namespace."""
    data: Annotated[str, Field(max_length=65536)] = ""
    """YAML merged into the configuration's: mappings merge key by key, lists are joined, a
    scalar here replaces one there. The same placeholders as `data`, and {origin:<component>}
    for this part's component: its public origin; such a part applies only while that
    component is exposed (a browser is sent there, as to Keycloak's login)."""
    commands: Annotated[list[Command], Field(max_length=4)] = Field(default_factory=list)
    """Commands run in the same Job after the configuration's command, in order, with its image,
    settings and credentials, for what the app's own configuration has no step for (Open Zaak's
    applicaties step cannot give an application a scope). Each must be safe to run again: every
    new Job runs it again. No placeholders: what a command needs, it reads from the app."""

    @model_validator(mode="after")
    def _something_to_do(self) -> ConfigurationPart:
        if not self.data and not self.commands:
            raise ValueError("a part needs data, commands or both")
        return self


class Configuration(Model):
    """How the component is configured once it runs, as its maintainers' charts do it (the
    Maykin apps: `manage.py setup_configuration --yaml-file`, the charts' job-config.yaml): a
    Job per version and change of inputs, run when the workloads are available and before the
    installation is Ready. The YAML is a template; placeholders: {host} and {origin} (the
    public host and https://host, empty when not exposed), {url:<component>} (the endpoint of
    another subscribed component). Secrets never appear in it: a value the app must not see
    in a ConfigMap is `value_from: {env: NAME}` (django-setup-configuration >= 0.4), NAME
    being a credential's env."""

    command: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]],
        Field(min_length=1, max_length=16),
    ]
    """The command, given the YAML's path as its last argument."""
    image: Annotated[str, Field(min_length=1, max_length=512, pattern=IMAGE)] | None = None
    """The image the Job runs instead of the component's own, where its maintainers configure
    it with a tool of its own (Keycloak's clients: keycloak-config-cli, as Dimpact's PodiumD
    chart does). It gets the same settings, credentials and user."""
    env: Annotated[list[EnvVar], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Variables only the Job gets, after the component's own and its credentials, for a tool
    that names things differently; `$(NAME)` takes the value of one of those (the kubelet
    expands it), so a generated password is passed on without entering the catalogue."""
    data: Annotated[str, Field(max_length=65536)] = ""
    """The configuration YAML (a template, see above) every installation runs; may be empty
    when all of it belongs to `parts`. With nothing to run, there is no Job and no
    Configured condition."""
    parts: Annotated[list[ConfigurationPart], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["component"],
        },
    )
    """Configuration per other component, added while the municipality subscribes to it."""
    credentials: Annotated[list[Credential], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["env"]},
    )
    """The generated credentials it reads, each as an environment variable."""
    bindings: Annotated[list[BindingValue], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["env"]},
    )
    """Values from other components' bindings (a SaaS dependency's URL and credentials)."""
    deadline_seconds: Annotated[int, Field(ge=1, le=86400)] = 900
    """How long the configuration may take, retries included, before it counts as failed."""


def _connection_keys_cel() -> str:
    """The CEL twin of BackingService._known_keys for `key` entries. A composed `value`'s
    placeholders are checked by the operator (InvalidSpec): a regex over every value of every
    version would exceed the API server's CEL cost budget."""
    choices = " : ".join(
        f"self.type == '{t.value}' ? [{', '.join(repr(k) for k in ks)}]"
        for t, ks in CONNECTION_KEYS.items()
    )
    return f"!has(self.env) || self.env.all(e, !has(e.key) || e.key in ({choices} : []))"


class BackingService(Model):
    """A stateful service the component needs, provided per tenant (embedded or external)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule("!has(self.core) || self.type == 'Solr'", "core is only for Solr", ".core"),
            rule(
                _connection_keys_cel(),
                "env key must be a connection key of the service type (PostgreSQL: host, port, "
                "database, username, password; Redis: host, port, cache, url; RabbitMQ: host, "
                "port, username, password, vhost, url; Elasticsearch and Solr: host, port, url)",
                ".env",
            ),
        )
    )

    type: BackingServiceType
    """Which service."""
    extensions: Annotated[
        list[Annotated[str, Field(max_length=32, pattern=r"^[a-z0-9_]+$")]], Field(max_length=8)
    ] = Field(default_factory=list)
    """Extensions the component needs, e.g. postgis for PostgreSQL."""
    version: Annotated[str, Field(max_length=32)] | None = None
    """The service's version the component is tested with: a major for PostgreSQL, Redis and
    RabbitMQ ("17"); a full version for Elasticsearch and Solr, whose images have no major
    tags ("8.17.0")."""
    core: (
        Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")] | None
    ) = None
    """Solr only: a core the component needs at start (e.g. ZAC's `zac`), created by the
    embedded Solr (solr-precreate) when it starts; an external Solr must have it."""
    env: Annotated[list[ServiceEnv], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            **rules(
                rule(
                    "self.all(e, has(e.key) != has(e.value))",
                    "each env entry needs exactly one of key and value",
                )
            ),
        },
    )
    """How the connection reaches the component, when not the common convention (DB_HOST,
    CACHE_DEFAULT, ...; see the operator's documentation): each variable from one key of the
    service's connection Secret, or composed of several ("jdbc:postgresql://{host}:{port}/
    {database}"). An external Secret must hold the keys used."""

    @model_validator(mode="after")
    def _core_only_for_solr(self) -> BackingService:
        if self.core is not None and self.type is not BackingServiceType.SOLR:
            raise ValueError("core is only for Solr")
        return self

    @model_validator(mode="after")
    def _known_keys(self) -> BackingService:
        allowed = CONNECTION_KEYS[self.type]
        for entry in self.env:
            used = entry.keys_used()
            unknown = sorted(set(used) - set(allowed))
            if unknown:
                raise ValueError(
                    f"env {entry.name}: unknown {self.type.value} connection key(s) "
                    f"{', '.join(unknown)}; allowed: {', '.join(allowed)}"
                )
        return self


class ResourceList(Model):
    """CPU and memory for one container."""

    cpu: Quantity | None = None
    """CPU, e.g. 250m."""
    memory: Quantity | None = None
    """Memory, e.g. 512Mi."""


def _request_within_limit(kind: str) -> str:
    return (
        f"!has(self.requests) || !has(self.limits) || !has(self.requests.{kind}) || "
        f"!has(self.limits.{kind}) || "
        f"quantity(self.requests.{kind}).compareTo(quantity(self.limits.{kind})) <= 0"
    )


class Resources(Model):
    """Requests and limits for the component's containers."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(_request_within_limit("cpu"), "requests.cpu must not exceed limits.cpu"),
            rule(_request_within_limit("memory"), "requests.memory must not exceed limits.memory"),
        )
    )

    requests: ResourceList | None = None
    """What the scheduler reserves."""
    limits: ResourceList | None = None
    """The most a container may use."""

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        """The same rules as the CEL ones."""
        for kind in ("cpu", "memory"):
            asked = getattr(self.requests, kind, None) if self.requests else None
            most = getattr(self.limits, kind, None) if self.limits else None
            if asked and most:
                left, right = parse_quantity(asked), parse_quantity(most)
                if left is not None and right is not None and left > right:
                    raise ValueError(f"requests.{kind} must not exceed limits.{kind}")
        return self


class Probes(Model):
    """HTTP health paths on the component's port; readiness also feeds the operator's health."""

    startup: HttpPath | None = None
    """Startup probe path; unset uses liveness."""
    liveness: HttpPath | None = None
    """Liveness probe path; unset uses readiness."""
    readiness: HttpPath
    """Readiness probe path, e.g. /_healthz/readyz/."""
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    """The port the probes use when it is not the HTTP port (e.g. WildFly's 9990)."""


class ContainerSpec(Model):
    """How to run one version of the component as containers."""

    model_config = ConfigDict(json_schema_extra=CONTAINER_RULES)

    image: Annotated[str, Field(min_length=1, max_length=512, pattern=IMAGE)]
    """Image reference with an explicit tag or digest, e.g. openzaak/open-zaak:1.30.0."""
    port: Annotated[int, Field(ge=1, le=65535)]
    """The HTTP port the web process listens on."""
    command: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=16)] = Field(
        default_factory=list
    )
    """The web process's command; empty keeps the image's entrypoint."""
    args: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=32)] = Field(
        default_factory=list
    )
    """Arguments to the web process's command; empty keeps the image's."""
    init: Annotated[list[InitStep], Field(max_length=4)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Steps run before the web process, in order (init containers of the same image)."""
    probes: Probes
    """Health paths for the kubelet's probes and the operator's health check."""
    replicas: Annotated[int, Field(ge=0, le=50)] = 1
    """Web replicas by default; a PodDisruptionBudget is added when above 1."""
    workers: Annotated[list[Worker], Field(max_length=8)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Extra processes of the same image (Celery workers, beat, ...)."""
    env: Annotated[list[EnvVar], Field(max_length=LIST_MAX)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Plain settings every installation gets. They win over a subscription's values."""
    settings: Annotated[list[Setting], Field(max_length=LIST_MAX)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The settings a subscription's values may give; any other key is refused."""
    backing_services: Annotated[list[BackingService], Field(max_length=8)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Stateful services it needs (PostgreSQL with PostGIS, Redis, ...)."""
    resources: Resources | None = None
    """Requests and limits per container."""
    user: PodUser
    """The numeric user, group and volume group the image runs as."""
    read_only_root_filesystem: bool = False
    """Run with a read-only root filesystem (where the maintainers' chart allows it); every
    place the process writes must then be a volume."""
    volumes: Annotated[list[Volume], Field(max_length=8)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Writable places: media shared by web and workers (Data), /tmp (Scratch)."""
    generated_secrets: Annotated[list[GeneratedSecret], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Secrets the operator generates once per installation (SECRET_KEY, ...)."""
    tenant_secrets: Annotated[list[TenantSecret], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Secrets the municipality supplies (subscription secretValues)."""
    hosts: HostSettings | None = None
    """How the component learns its allowed host names (e.g. ALLOWED_HOSTS)."""
    proxy: Proxy | None = None
    """A web server in front, serving private media (see Proxy)."""
    configuration: Configuration | None = None
    """Configuration run once it is up (connections to other components, API clients)."""

    @model_validator(mode="after")
    def _image_has_tag_or_digest(self) -> ContainerSpec:
        if not _image_is_pinned(self.image):
            raise ValueError("image must carry an explicit tag or digest (no implicit :latest)")
        if self.proxy is not None and not _image_is_pinned(self.proxy.image):
            raise ValueError("proxy.image must carry an explicit tag or digest")
        configured_by = self.configuration.image if self.configuration else None
        if configured_by is not None and not _image_is_pinned(configured_by):
            raise ValueError("configuration.image must carry an explicit tag or digest")
        return self

    @model_validator(mode="after")
    def _proxy_serves_data_volumes(self) -> ContainerSpec:
        data = {v.name for v in self.volumes if v.type is VolumeType.DATA}
        served = [*self.proxy.internal, *self.proxy.public] if self.proxy else []
        for location in served:
            if location.volume not in data:
                raise ValueError(
                    f"proxy: {location.volume!r} is not a Data volume of this container"
                )
        return self


def _image_is_pinned(image: str) -> bool:
    last = image.rsplit("/", 1)[-1]
    return "@sha256:" in image or (":" in last and not last.endswith(":latest"))


class ComponentVersion(Model):
    """One published version of the component."""

    version: VersionString
    """The version, e.g. 1.30.0."""
    container: ContainerSpec | None = None
    """How to run it as containers; required when a Container offering exists."""
    end_of_support: CalendarDate | None = None
    """The last day the version is supported (YYYY-MM-DD)."""
    deprecated: bool = False
    """Deprecated versions stay installable but new subscriptions get a warning."""


class SaaSAuthType(StrEnum):
    """How a municipality authenticates to the supplier's hosted instance."""

    NONE = "None"
    API_KEY = "APIKey"
    BASIC = "Basic"
    OAUTH2_CLIENT_CREDENTIALS = "OAuth2ClientCredentials"
    MUTUAL_TLS = "MutualTLS"


class SaaSAuth(Model):
    """The credentials a subscription has to reference (never inline)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "self.type != 'OAuth2ClientCredentials' || has(self.tokenUrl)",
                "tokenUrl is required for OAuth2ClientCredentials",
                ".tokenUrl",
            )
        )
    )

    type: SaaSAuthType = SaaSAuthType.NONE
    """The scheme; anything but None needs the subscription's credentialsSecretRef."""
    token_url: Annotated[str, Field(max_length=512, pattern=r"^https://")] | None = None
    """OAuth2 token endpoint (https), for OAuth2ClientCredentials."""

    @model_validator(mode="after")
    def _token_url_for_oauth2(self) -> SaaSAuth:
        """The same rule as the CEL one."""
        if self.type is SaaSAuthType.OAUTH2_CLIENT_CREDENTIALS and self.token_url is None:
            raise ValueError("tokenUrl is required for OAuth2ClientCredentials")
        return self


class SaaSSpec(Model):
    """A supplier-hosted instance per municipality."""

    endpoint_template: Annotated[
        # No user:password@ in the authority: credentials belong in credentialsSecretRef.
        str, Field(min_length=1, max_length=512, pattern=r"^https?://[^\s/@]+(/[^\s]*)?$")
    ]
    """The API root per municipality; {code} (gm0363), {CODE} (GM0363) and {slug} (amsterdam)
    are filled in, e.g. https://{slug}.openzaak.example.nl/."""
    allowed_hosts: Annotated[
        list[PublicHost],
        Field(
            min_length=1,
            max_length=16,
            json_schema_extra=rules(
                rule(
                    INTERNAL_HOST_CEL,
                    "cluster-internal names are not allowed ("
                    + ", ".join(INTERNAL_SUFFIXES)
                    + "): a SaaS binding must point at the supplier",
                )
            ),
        ),
    ]
    """Public hosts the endpoint may resolve to (a leading *. allows subdomains of a
    registrable domain); the SSRF guard. Cluster-internal names are refused."""
    health_path: HttpPath = "/"
    """Path below the endpoint that answers 2xx when the service is healthy."""
    auth: SaaSAuth = Field(default_factory=SaaSAuth)
    """How municipalities authenticate."""
    version: VersionString | None = None
    """The version the supplier runs, when it publishes one."""

    def allows(self, host: str) -> bool:
        """Whether `host` is allowed: exact match, or a subdomain (one or more labels deep) of
        a `*.` pattern."""
        return host_allowed(host, self.allowed_hosts)

    @model_validator(mode="after")
    def _no_internal_hosts(self) -> SaaSSpec:
        """The same rule as the CEL one on allowedHosts."""
        internal = [h for h in self.allowed_hosts if h.endswith(INTERNAL_SUFFIXES)]
        if internal:
            raise ValueError(f"allowedHosts: cluster-internal names are not allowed: {internal}")
        return self


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Exact match, or a subdomain of a `*.` pattern (one or more labels deep)."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        pattern = entry.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


class DeliveryOrganisation(Model):
    """The supplier (leverancier) or delivery organisation behind an offering."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    """Its name."""
    url: Annotated[str, Field(max_length=512, pattern=r"^https://")] | None = None
    """Its website (https)."""


class Offering(Model):
    """A way to get the component: containers in the tenant namespace or a SaaS binding."""

    model_config = ConfigDict(json_schema_extra=OFFERING_RULES)

    name: DnsLabel
    """Unique within the component; subscriptions name it."""
    type: OfferingType
    """Container or SaaS."""
    delivery_organisation: DeliveryOrganisation
    """Who delivers and supports this offering."""
    saas: SaaSSpec | None = None
    """The hosted instance; required for SaaS, forbidden for Container."""

    @model_validator(mode="after")
    def _saas_matches_type(self) -> Offering:
        if self.type is OfferingType.SAAS and self.saas is None:
            raise ValueError("saas is required when type is SaaS")
        if self.type is OfferingType.CONTAINER and self.saas is not None:
            raise ValueError("saas is only allowed when type is SaaS")
        return self


# What a component learns its public address from: the host, http/https, the origin
# (scheme://host) and Python's True/False for "served over https".
EXPOSURE_PLACEHOLDERS = ("host", "scheme", "origin", "https")


class PublicSetting(Model):
    """A variable the component reads its public address from (SITE_DOMAIN, BASE_URL,
    CSRF_TRUSTED_ORIGINS, IS_HTTPS, ...), composed of {host}, {scheme}, {origin} and
    {https} (True or False)."""

    name: EnvName
    """The variable, e.g. SITE_DOMAIN."""
    value: Annotated[str, Field(min_length=1, max_length=512)]
    """Its value, e.g. {host} or {origin}/."""

    @model_validator(mode="after")
    def _known_placeholders(self) -> PublicSetting:
        unknown = set(re.findall(PLACEHOLDER, self.value)) - set(EXPOSURE_PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"exposure.env {self.name}: unknown placeholders {sorted(unknown)} "
                f"(allowed: {', '.join(EXPOSURE_PLACEHOLDERS)})"
            )
        return self


class Exposure(Model):
    """How municipalities' users reach the component from outside the cluster, as the
    maintainers' charts expose it (their ingress): the host alias, the paths routed and the
    settings the app derives links and host checks from. Only for Container delivery; a
    component's proxy, when it has one, is what the route points at."""

    alias: DnsLabel
    """The default host's first label: zaken -> zaken.<the tenant's domain>."""
    paths: Annotated[list[LocationPath], Field(min_length=1, max_length=8)] = Field(
        default_factory=lambda: ["/"], json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Path prefixes routed to it."""
    env: Annotated[list[PublicSetting], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Settings derived from the public address (they win over the catalogue's env)."""


class CGComponentSpec(Model):
    """A catalogue entry: what the component is, its versions and how it can be delivered."""

    model_config = ConfigDict(json_schema_extra=COMPONENT_SPEC_RULES)

    display_name: Name
    """The name people know it by, e.g. "Open Zaak"."""
    description: LongText = ""
    """What it does, in a few sentences."""
    layer: Layer
    """Its layer in the Common Ground 5-layer model."""
    tier: Tier = Tier.PLUS
    """Basis or Plus."""
    lifecycle: Lifecycle
    """Development status; Obsolete components cannot be newly subscribed."""
    steward: Steward | None = None
    """Who stewards it."""
    standards: Annotated[list[Standard], Field(max_length=32)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """API standards it implements."""
    requires: Annotated[list[Requirement], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["component"],
        },
    )
    """Other catalogue components it needs; installations wait for them."""
    exposure: Exposure | None = None
    """How it is reached from outside the cluster; unset: in-cluster only."""
    default_version: VersionString
    """The version new and unpinned subscriptions get; must be one of versions."""
    versions: Annotated[list[ComponentVersion], Field(min_length=1, max_length=32)] = Field(
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["version"],
        }
    )
    """Published versions."""
    offerings: Annotated[list[Offering], Field(min_length=1, max_length=16)] = Field(
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
    )
    """Ways to get it."""

    def version(self, version: str) -> ComponentVersion | None:
        """The catalogue entry for a version, or None."""
        return next((v for v in self.versions if v.version == version), None)

    def offering(self, name: str) -> Offering | None:
        """The offering with this name, or None."""
        return next((o for o in self.offerings if o.name == name), None)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> CGComponentSpec:
        if self.version(self.default_version) is None:
            raise ValueError(f"defaultVersion {self.default_version!r} is not one of versions")
        if any(o.type is OfferingType.CONTAINER for o in self.offerings):
            missing = [v.version for v in self.versions if v.container is None]
            if missing:
                raise ValueError(
                    f"versions {missing} have no container, but a Container offering exists"
                )
        return self


# Rings one version's adoption is broken down into; more rings than this are counted together
# under OTHER_RING (a platform has a handful: koploper, vroege-volger, volger).
RING_LIMIT = 16
# The ring of an installation without the ring label (written by hand), and of the rings
# beyond RING_LIMIT.
OTHER_RING = ""


class RingAdoption(Model):
    """How many tenants of one ring run one version, and how many of them are Ready."""

    ring: Annotated[str, Field(max_length=63)]
    """The tenants' ring (the installation's ring label); "" for installations without one
    and for rings beyond the first 16."""
    tenants: Annotated[int, Field(ge=0)] = 0
    """Installations in that ring that run the version."""
    ready: Annotated[int, Field(ge=0)] = 0
    """Of those, the Ready ones."""


class VersionAdoption(Model):
    """How many tenants run one version, and how many of them are Ready, in all and by ring."""

    version: VersionString
    """The version."""
    tenants: Annotated[int, Field(ge=0)] = 0
    """Installations that run it (observed)."""
    ready: Annotated[int, Field(ge=0)] = 0
    """Of those, the Ready ones."""
    rings: Annotated[list[RingAdoption], Field(max_length=RING_LIMIT)] = Field(default_factory=list)
    """The same counts by the tenants' ring (the App Store's fleet view reads these)."""


class CGComponentStatus(ObjectStatus):
    """Observed state of a catalogue entry."""

    adoption: Annotated[list[VersionAdoption], Field(max_length=32)] = Field(default_factory=list)
    """Installations per version across all tenants."""
    tenants: Annotated[int, Field(ge=0)] | None = None
    """Tenants that subscribe to the component."""
