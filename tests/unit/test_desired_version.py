"""Which version a subscription runs: the catalogue's default moves only Auto tenants and never
backwards; Pin and Approve tenants stay on what they run until a pin or an approved rollout
moves them (changing defaultVersion or deleting a finished rollout does not)."""

from __future__ import annotations

import pytest

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.tenant import UpgradePolicy
from cg_operator.reconcile.tenant import desired_version, is_older


def entry(default: str, *versions: str) -> CGComponentSpec:
    return CGComponentSpec.model_validate(
        {
            "displayName": "Open Zaak",
            "layer": "Service",
            "lifecycle": "Stable",
            "defaultVersion": default,
            "versions": [{"version": v} for v in versions],
            "offerings": [
                {
                    "name": "saas",
                    "type": "SaaS",
                    "deliveryOrganisation": {"name": "X"},
                    "saas": {
                        "endpointTemplate": "https://{slug}.zaken.example.nl/",
                        "allowedHosts": ["*.zaken.example.nl"],
                    },
                }
            ],
        }
    )


NEWER_DEFAULT = {"open-zaak": entry("1.30.0", "1.29.1", "1.30.0")}
OLDER_DEFAULT = {"open-zaak": entry("1.29.1", "1.29.1", "1.30.0")}


def version(
    catalogue: dict[str, CGComponentSpec],
    policy: UpgradePolicy,
    current: str | None,
    *,
    pin: str | None = None,
    rollouts: dict[str, str] | None = None,
) -> str:
    return desired_version(
        pin, "open-zaak", catalogue, rollouts or {}, policy=policy, current=current
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (UpgradePolicy.AUTO, "1.30.0"),
        (UpgradePolicy.APPROVE, "1.29.1"),
        (UpgradePolicy.PIN, "1.29.1"),
    ],
)
def test_a_new_default_moves_only_auto_tenants(policy: UpgradePolicy, expected: str) -> None:
    assert version(NEWER_DEFAULT, policy, "1.29.1") == expected


@pytest.mark.parametrize("policy", list(UpgradePolicy))
def test_an_older_default_never_downgrades_a_running_subscription(policy: UpgradePolicy) -> None:
    # E.g. a finished rollout to 1.30.0 was deleted: its tenants keep 1.30.0.
    assert version(OLDER_DEFAULT, policy, "1.30.0") == "1.30.0"


@pytest.mark.parametrize("policy", list(UpgradePolicy))
def test_a_new_subscription_starts_on_the_default(policy: UpgradePolicy) -> None:
    assert version(NEWER_DEFAULT, policy, None) == "1.30.0"


def test_a_pin_and_a_rollout_decide_before_the_default() -> None:
    assert version(NEWER_DEFAULT, UpgradePolicy.PIN, "1.29.1", pin="1.30.0") == "1.30.0"
    rollouts = {"open-zaak": "1.30.0"}
    assert version(NEWER_DEFAULT, UpgradePolicy.APPROVE, "1.29.1", rollouts=rollouts) == "1.30.0"


def test_a_running_version_gone_from_the_catalogue_falls_back_to_the_default() -> None:
    assert version(NEWER_DEFAULT, UpgradePolicy.PIN, "1.28.0") == "1.30.0"


def test_versions_compare_by_number_then_by_catalogue_order() -> None:
    assert is_older("1.9.0", "1.10.0", NEWER_DEFAULT["open-zaak"])
    assert not is_older("1.10.0", "1.9.0", NEWER_DEFAULT["open-zaak"])
    kiss = entry("release-1.1.x", "release-1.0.x", "release-1.1.x")
    assert is_older("release-1.0.x", "release-1.1.x", kiss)
    assert not is_older("release-1.1.x", "release-1.0.x", kiss)
