"""A pass that starts before the echo of the last status write compares with what was written,
not with the older status kopf's index still holds."""

from __future__ import annotations

from typing import Any

from cg_operator.handlers.own_status import OwnStatus

KEY = ("gm0363-amsterdam", "open-zaak")


def _object(version: str, ready: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "open-zaak", "resourceVersion": version},
        "spec": {"version": "1.30.0"},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def _ready(obj: dict[str, Any]) -> str:
    return str(obj["status"]["conditions"][0]["status"])


def test_the_index_still_showing_the_replaced_version_reads_as_what_was_written() -> None:
    own = OwnStatus()
    stale = _object("10", "False")
    own.wrote(KEY, "10", _object("11", "True"))
    fresh = own.fresh(KEY, stale)
    assert _ready(fresh) == "True"
    assert fresh["spec"] == stale["spec"]  # only the status is ours
    assert _ready(stale) == "False"  # the index's copy is left alone


def test_the_echo_or_anyone_elses_later_change_is_read_as_it_is() -> None:
    own = OwnStatus()
    own.wrote(KEY, "10", _object("11", "True"))
    assert _ready(own.fresh(KEY, _object("11", "True"))) == "True"
    changed_since = _object("12", "Unknown")  # e.g. status reset by hand after our write
    assert _ready(own.fresh(KEY, changed_since)) == "Unknown"


def test_nothing_written_or_forgotten_means_the_index_as_it_is() -> None:
    own = OwnStatus()
    assert _ready(own.fresh(KEY, _object("10", "False"))) == "False"
    own.wrote(KEY, "10", _object("11", "True"))
    own.forget(KEY)
    assert _ready(own.fresh(KEY, _object("10", "False"))) == "False"
    own.wrote(KEY, None, _object("11", "True"))  # no version to tell staleness by
    assert _ready(own.fresh(KEY, _object("10", "False"))) == "False"
