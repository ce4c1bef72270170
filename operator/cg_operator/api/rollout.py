"""ComponentRollout: move a component to a version across tenants in waves (`cgr`)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from cg_operator.api.base import (
    NAME_MAX,
    DnsLabel,
    Duration,
    Model,
    ObjectStatus,
    PositiveDuration,
    VersionString,
    immutable,
    rule,
    rules,
)

# No backslashes: the same expression goes into a CEL string literal.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LabelKey = Annotated[str, Field(min_length=1, max_length=317, pattern=LABEL_KEY)]
LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]
PERCENT = r"^([1-9][0-9]?|100)%$"


class FailurePolicy(StrEnum):
    """What a rollout does when an installation fails in a wave."""

    PAUSE = "Pause"
    ROLLBACK = "Rollback"


class SelectorRequirement(Model):
    """A label selector requirement, as in metav1.LabelSelector."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) "
                ": (!has(self.values) || size(self.values) == 0)",
                "values must be non-empty for In and NotIn and empty for Exists and DoesNotExist",
                ".values",
            )
        )
    )

    key: LabelKey
    """The label key, e.g. appstore.commonground.nl/ring."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How the key relates to the values."""
    values: Annotated[list[LabelValue], Field(max_length=64)] = Field(default_factory=list)
    """Values for In and NotIn."""

    @model_validator(mode="after")
    def _values_match_operator(self) -> SelectorRequirement:
        if (self.operator in ("In", "NotIn")) != bool(self.values):
            raise ValueError(
                "values must be non-empty for In and NotIn and empty for Exists and DoesNotExist"
            )
        return self


class TenantSelector(Model):
    """Selects MunicipalityTenants by label; an empty selector matches every tenant."""

    match_labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=16)] = Field(
        default_factory=dict,
        json_schema_extra=rules(
            rule(
                "self.all(k, k.matches('" + LABEL_KEY + "'))",
                "matchLabels keys must be label keys such as appstore.commonground.nl/ring",
            )
        ),
    )
    """Labels a tenant must have, e.g. {appstore.commonground.nl/ring: koploper}."""
    match_expressions: Annotated[list[SelectorRequirement], Field(max_length=16)] = Field(
        default_factory=list
    )
    """Set-based requirements."""


class Wave(Model):
    """A group of tenants updated together, after the previous wave baked."""

    name: DnsLabel
    """The wave's name, e.g. koplopers."""
    tenant_selector: TenantSelector
    """Which tenants belong to it (a tenant is in the first wave that selects it)."""
    max_parallel: Annotated[
        int | str,
        Field(
            json_schema_extra={
                "x-kubernetes-int-or-string": True,
                # Bounds the CEL cost estimate of the percentage match.
                "maxLength": 4,
                **rules(
                    rule(
                        "type(self) == int ? self >= 1 : self.matches('" + PERCENT + "')",
                        "maxParallel must be a number >= 1 or a percentage from 1% to 100%",
                    )
                ),
            }
        ),
    ] = 1
    """At most this many tenants of the wave updating at once: a number or a percentage."""
    bake_time: Duration = "10m"
    """How long every tenant of the wave must stay Ready and Healthy before the next starts."""
    require_approval: bool = False
    """The wave waits until its name is in spec.approvedWaves."""

    @model_validator(mode="after")
    def _max_parallel_valid(self) -> Wave:
        value = self.max_parallel
        if isinstance(value, int):
            if value < 1:
                raise ValueError("maxParallel must be a number >= 1 or a percentage")
        elif not re.match(PERCENT, value):
            raise ValueError("maxParallel must be a number >= 1 or a percentage from 1% to 100%")
        return self


class ComponentRolloutSpec(Model):
    """Move one component to one version across tenants, wave by wave."""

    component: Annotated[DnsLabel, Field(json_schema_extra=rules(immutable("component")))]
    """The CGComponent; immutable."""
    version: Annotated[VersionString, Field(json_schema_extra=rules(immutable("version")))]
    """The target version; must be in the catalogue; immutable (start a new rollout instead)."""
    waves: Annotated[list[Wave], Field(min_length=1, max_length=16)] = Field(
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
    )
    """The waves, in order."""
    failure_policy: FailurePolicy = FailurePolicy.PAUSE
    """Pause stops and reports; Rollback returns the tenants moved by this rollout."""
    progress_deadline: PositiveDuration = "15m"
    """How long an installation may take to become Ready and Healthy before it counts as failed."""
    paused: bool = False
    """No wave starts while paused; updates already under way finish."""
    approved_waves: Annotated[list[DnsLabel], Field(max_length=16)] = Field(
        default_factory=list, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Waves with requireApproval that may start."""
    abort: bool = False
    """Stop for good and return every tenant this rollout moved to its previous version."""


class TenantProgress(Model):
    """One tenant's part in the rollout."""

    name: Annotated[str, Field(max_length=NAME_MAX)]
    """The MunicipalityTenant."""
    wave: Annotated[str, Field(max_length=NAME_MAX)] = ""
    """Its wave, empty when no wave selects it."""
    from_version: Annotated[str, Field(max_length=64, alias="from")] = ""
    """The version it ran before."""
    to_version: Annotated[str, Field(max_length=64, alias="to")] = ""
    """The version it moves to."""
    state: Annotated[str, Field(max_length=32)] = "Pending"
    """Pending, WaitingForApproval, Updating, Baking, Done, Failed, RolledBack or Skipped."""
    reason: Annotated[str, Field(max_length=512)] = ""
    """Why it is in that state."""
    started_at: datetime | None = None
    """When the rollout moved it to the target version."""


class WaveProgress(Model):
    """One wave's progress."""

    name: Annotated[str, Field(max_length=NAME_MAX)]
    """The wave."""
    tenants: Annotated[int, Field(ge=0)] = 0
    """Tenants in the wave."""
    updated: Annotated[int, Field(ge=0)] = 0
    """Tenants that run the target version."""
    ready: Annotated[int, Field(ge=0)] = 0
    """Of those, Ready and Healthy."""
    failed: Annotated[int, Field(ge=0)] = 0
    """Tenants that failed."""
    started_at: datetime | None = None
    """When the wave started."""
    healthy_since: datetime | None = None
    """Since when every tenant of the wave runs the target version Ready and Healthy (the bake
    time counts from here; any tenant falling out resets it)."""
    completed_at: datetime | None = None
    """When its bake time ended with every tenant healthy."""


class ComponentRolloutStatus(ObjectStatus):
    """Observed progress of a rollout."""

    current_wave: Annotated[str, Field(max_length=NAME_MAX)] | None = None
    """The wave under way."""
    progress: Annotated[str, Field(max_length=16)] | None = None
    """Tenants on the target version out of all selected, e.g. 5/12."""
    waves: Annotated[list[WaveProgress], Field(max_length=16)] = Field(default_factory=list)
    """Per wave."""
    tenants: Annotated[list[TenantProgress], Field(max_length=400)] = Field(default_factory=list)
    """Per tenant, including pinned and unmatched ones (state Skipped)."""
