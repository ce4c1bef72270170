"""The four kinds: names, scope, spec/status models and the columns `kubectl get` shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from cg_operator.api.base import DNS_LABEL
from cg_operator.api.component import CGComponentSpec, CGComponentStatus
from cg_operator.api.constants import GROUP, VERSION
from cg_operator.api.installation import ComponentInstallationSpec, ComponentInstallationStatus
from cg_operator.api.rollout import ComponentRolloutSpec, ComponentRolloutStatus
from cg_operator.api.tenant import MunicipalityTenantSpec, MunicipalityTenantStatus

CATEGORY = "cg"
DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


@dataclass(frozen=True)
class PrinterColumn:
    """One additionalPrinterColumn."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0


READY = PrinterColumn(
    "Ready", '.status.conditions[?(@.type=="Ready")].status', description="Ready condition"
)
REASON = PrinterColumn(
    "Reason",
    '.status.conditions[?(@.type=="Ready")].reason',
    description="Why it is (not) Ready",
    priority=1,
)
AGE = PrinterColumn("Age", ".metadata.creationTimestamp", type="date")


@dataclass(frozen=True)
class Kind:
    """Everything needed to generate one CustomResourceDefinition."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    # The module that registers this kind's kopf event handler, and
    # the kwarg name of the kopf index that holds every stored object of the kind ("" when
    # the kind is indexed as a child, by namespace). The operator's registries derive from
    # these: the handler modules it loads, the start-up gate's indexes, the queue's kinds.
    handler_module: str
    index: str = ""
    columns: tuple[PrinterColumn, ...] = field(default_factory=tuple)
    # Fields the API server can select on (`--field-selector spec.component=open-zaak`): the
    # App Store and `kubectl cg` ask for one component's installations instead of all of them.
    selectable_fields: tuple[str, ...] = ()
    # What metadata.name must be, checked at admission: every name here becomes a label value
    # (at most 63 characters) or the name of a namespace, Service or Deployment.
    name_rule: tuple[str, str] = (
        "size(self.metadata.name) <= 63 && self.metadata.name.matches('" + DNS_LABEL + "')",
        "metadata.name must be a DNS label of at most 63 characters: it becomes a label value",
    )

    @property
    def singular(self) -> str:
        """Lower-case kind."""
        return self.kind.lower()

    @property
    def group_version(self) -> str:
        """apiVersion of the kind."""
        return f"{GROUP}/{VERSION}"


COMPONENT = Kind(
    kind="CGComponent",
    plural="cgcomponents",
    short_names=("cgc",),
    namespaced=False,
    spec=CGComponentSpec,
    status=CGComponentStatus,
    description="A Common Ground component in the catalogue: versions, offerings, dependencies.",
    handler_module="cg_operator.handlers.component",
    # A component's name is its Service's name: an RFC 1035 label, starting with a letter.
    name_rule=(
        "size(self.metadata.name) <= 63 && self.metadata.name.matches('" + DNS_1035_LABEL + "')",
        "metadata.name must be at most 63 lower-case letters, digits and '-', starting with a "
        "letter: it names the component's Service",
    ),
    index="catalogue_index",
    columns=(
        PrinterColumn("Display Name", ".spec.displayName"),
        PrinterColumn("Layer", ".spec.layer"),
        PrinterColumn("Lifecycle", ".spec.lifecycle"),
        PrinterColumn("Default", ".spec.defaultVersion", description="Default version"),
        PrinterColumn("Tenants", ".status.tenants", type="integer"),
        READY,
        REASON,
        AGE,
    ),
)
TENANT = Kind(
    kind="MunicipalityTenant",
    plural="municipalitytenants",
    short_names=("mt",),
    namespaced=False,
    spec=MunicipalityTenantSpec,
    status=MunicipalityTenantStatus,
    description="A municipality on the platform: namespace, limits, policies, subscriptions.",
    handler_module="cg_operator.handlers.tenant",
    index="tenant_index",
    columns=(
        PrinterColumn("Code", ".spec.municipality.code"),
        PrinterColumn("Municipality", ".spec.municipality.name"),
        PrinterColumn("Ring", ".spec.ring"),
        PrinterColumn("Namespace", ".status.namespace"),
        PrinterColumn("Components", ".status.componentsReady", description="Ready / subscribed"),
        READY,
        PrinterColumn("Healthy", '.status.conditions[?(@.type=="Healthy")].status'),
        REASON,
        PrinterColumn(
            "Shard", ".status.shard", priority=1, description="The operator shard writing it"
        ),
        AGE,
    ),
)
INSTALLATION = Kind(
    kind="ComponentInstallation",
    plural="componentinstallations",
    short_names=("cgi",),
    namespaced=True,
    spec=ComponentInstallationSpec,
    status=ComponentInstallationStatus,
    description="One component for one municipality, delivered as containers or a SaaS binding.",
    # Its event fans out to dependents, tenant and rollouts: it lives with those triggers.
    handler_module="cg_operator.handlers.triggers",
    columns=(
        PrinterColumn("Component", ".spec.component"),
        PrinterColumn("Offering", ".spec.offering"),
        PrinterColumn("Delivery", ".status.delivery"),
        PrinterColumn("Version", ".status.observedVersion", description="Running version"),
        READY,
        PrinterColumn("Healthy", '.status.conditions[?(@.type=="Healthy")].status'),
        REASON,
        PrinterColumn("Endpoint", ".status.endpoint", priority=1),
        # The fleet views read their rows from these columns (appstore/rows.py): the tenant
        # links an installation to its ring.
        PrinterColumn("Tenant", ".spec.tenant", priority=1),
        AGE,
    ),
    selectable_fields=(".spec.component", ".spec.tenant"),
)
ROLLOUT = Kind(
    kind="ComponentRollout",
    plural="componentrollouts",
    short_names=("cgr",),
    namespaced=False,
    spec=ComponentRolloutSpec,
    status=ComponentRolloutStatus,
    description="Moves a component to a version across tenants in waves, gated on health.",
    handler_module="cg_operator.handlers.rollout",
    index="rollout_index",
    columns=(
        PrinterColumn("Component", ".spec.component"),
        PrinterColumn("Version", ".spec.version"),
        PrinterColumn("Wave", ".status.currentWave"),
        PrinterColumn("Progress", ".status.progress"),
        READY,
        REASON,
        AGE,
    ),
)

ALL_KINDS: tuple[Kind, ...] = (COMPONENT, TENANT, INSTALLATION, ROLLOUT)
BY_PLURAL: dict[str, Kind] = {k.plural: k for k in ALL_KINDS}
