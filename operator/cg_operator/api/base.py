"""Shared building blocks of the API models: the model base, validation rules, conditions."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Limits that keep the API server's CEL cost estimates bounded and objects small.
NAME_MAX = 63
SHORT_TEXT_MAX = 256
LONG_TEXT_MAX = 4096
LIST_MAX = 64

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DnsLabel = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=DNS_LABEL)]
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DnsSubdomain = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
ShortText = Annotated[str, Field(max_length=SHORT_TEXT_MAX)]
# One line of text people read (names, settings): no control characters, CR/LF, NUL or
# terminal escapes, which would forge log lines or rewrite a terminal. Tab is allowed.
ONE_LINE = r"^[^\x00-\x08\x0a-\x1f\x7f]*$"
Name = Annotated[str, Field(min_length=1, max_length=128, pattern=ONE_LINE)]
LongText = Annotated[str, Field(max_length=LONG_TEXT_MAX)]
# A Kubernetes resource quantity without a sign: negative quotas and requests make no sense.
QUANTITY = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][0-9]+|[numkMGTPE]|[KMGTPE]i)?$"
Quantity = Annotated[str, Field(max_length=32, pattern=QUANTITY)]
DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
Duration = Annotated[str, Field(max_length=32, pattern=DURATION)]
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._+-]*$"


def _not_latest(version: str) -> str:
    if version.lower() == "latest":
        raise ValueError("'latest' is not a version: name the exact version")
    return version


# `latest` names no version: it moves under the operator and cannot be rolled out or back.
VersionString = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=VERSION_PATTERN,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.lowerAscii() != 'latest'",
                    "message": "'latest' is not a version: name the exact version",
                }
            ]
        },
    ),
    AfterValidator(_not_latest),
]


def _real_date(text: str) -> str:
    date.fromisoformat(text)  # 2026-02-30 raises
    return text


# A calendar date (YYYY-MM-DD) that exists: the API server checks `format: date` too.
CalendarDate = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"}),
    AfterValidator(_real_date),
]


def _above_zero(text: str) -> str:
    if not re.search(r"[1-9]", text):
        raise ValueError("must be longer than zero")
    return text


# A duration that must be longer than zero (a deadline of 0s fails every update at once).
PositiveDuration = Annotated[
    str,
    Field(
        max_length=32,
        pattern=DURATION,
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self.matches('[1-9]')", "message": "must be longer than zero"}
            ]
        },
    ),
    AfterValidator(_above_zero),
]


def rule(expression: str, message: str, field_path: str | None = None) -> dict[str, str]:
    """One `x-kubernetes-validations` entry: a CEL rule the API server checks at admission."""
    entry = {"rule": expression, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def rules(*entries: dict[str, str]) -> dict[str, Any]:
    """json_schema_extra for a model or field carrying CEL rules."""
    return {"x-kubernetes-validations": list(entries)}


def immutable(field: str) -> dict[str, str]:
    """A transition rule that refuses any change to a field once it is set."""
    return rule("self == oldSelf", f"{field} is immutable: it cannot be changed once set")


class Model(BaseModel):
    """Base of every API model: camelCase on the wire, docstrings as descriptions."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        extra="ignore",
        frozen=True,
    )

    def wire(self) -> dict[str, Any]:
        """The object as the API server stores it: camelCase keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(Model):
    """One observation of the object's state, per the Kubernetes API conventions."""

    type: Annotated[str, Field(max_length=NAME_MAX)]
    """The aspect observed: Ready, Reconciling, Stalled, DependenciesReady, Healthy, ..."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Annotated[str, Field(max_length=128)]
    """A CamelCase word for programs: why the condition has this status."""
    message: Annotated[str, Field(max_length=LONG_TEXT_MAX)] = ""
    """A sentence for people: what is going on and, when it is bad, what to do."""
    last_transition_time: datetime
    """When status last changed."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The metadata.generation this condition was computed from."""


class ObjectStatus(Model):
    """Status fields every kind has."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The metadata.generation the operator last acted on."""
    conditions: Annotated[list[Condition], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Reconciling and Stalled (kstatus), plus conditions particular to the kind."""


class LocalSecretReference(Model):
    """A Secret in the same namespace as the object that uses it."""

    name: DnsSubdomain
    """The Secret's name."""


class LocalSecretKeyReference(Model):
    """One key of a Secret in the same namespace as the object that uses it. A namespace cannot
    be named: a tenant reads only its own Secrets."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "!has(self.__namespace__)",
                "a Secret is read only from the tenant's own namespace: namespace is not allowed",
                ".namespace",
            )
        )
    )

    name: DnsSubdomain
    """The Secret's name."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    """The key within it."""
    namespace: Annotated[str, Field(max_length=NAME_MAX)] | None = None
    """Not allowed (declared only so that admission refuses it instead of dropping it)."""

    def model_post_init(self, _context: Any) -> None:
        """The same rule as the CEL one, for objects that reach the operator another way."""
        if self.namespace is not None:
            raise ValueError(
                "a Secret is read only from the tenant's own namespace: namespace is not allowed"
            )
