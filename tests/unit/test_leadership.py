"""Leader election as a user configures and observes it: the command line's choices, a standby
that answers its probes, and candidates that are told apart."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from cg_operator.cli import build_parser, election_settings
from cg_operator.handlers import leadership
from cg_operator.handlers.leadership import ElectionSettings
from cg_operator.k8s.election import ElectionTiming


def _settings(*argv: str) -> ElectionSettings | None:
    return election_settings(build_parser().parse_args(["run", *argv]))


def test_without_the_flag_there_is_no_election() -> None:
    assert _settings() is None


def test_the_lease_namespace_comes_from_the_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "cg-system")
    assert _settings("--leader-elect") == ElectionSettings(namespace="cg-system")
    named = _settings("--leader-elect", "--leader-election-namespace", "ops")
    assert named is not None
    assert named.namespace == "ops"


def test_an_election_without_a_namespace_is_refused_naming_the_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    with pytest.raises(SystemExit, match="--leader-election-namespace"):
        _settings("--leader-elect")


@pytest.mark.parametrize(
    "durations",
    [("10", "10", "2"), ("10", "2", "2"), ("5", "7", "1")],
    ids=["renew deadline = lease", "deadline under 1.2 x retry", "lease under deadline"],
)
def test_durations_the_client_would_refuse_are_refused_naming_the_flags(
    durations: tuple[str, str, str],
) -> None:
    lease, renew, retry = durations
    with pytest.raises(SystemExit, match="--lease-duration, --renew-deadline, --retry-period"):
        _settings(
            *("--leader-elect", "--leader-election-namespace", "ops"),
            *("--lease-duration", lease, "--renew-deadline", renew, "--retry-period", retry),
        )


def test_the_default_timing_takes_over_within_twenty_seconds() -> None:
    timing = ElectionTiming()
    assert timing.problem() is None
    # A killed leader's lease is taken at most one lease duration and two tries later; start-up
    # and the first passes (about 3 s, measured by the faults tier) must fit in what is left.
    assert timing.lease_duration + 2 * timing.retry_period <= 20 - 3


def test_candidates_are_told_apart_even_in_one_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "cg-operator-7d9f-abcde")
    first, second = leadership.identity(), leadership.identity()
    assert first.startswith("cg-operator-7d9f-abcde_")
    assert first != second  # a restarted container is a new candidate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_standby_answers_its_liveness_path_and_frees_the_port() -> None:
    port = _free_port()
    server = leadership._standby_server(f"http://127.0.0.1:{port}/healthz")
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
            assert answer.read() == b'{"standby": true}'
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
    # kopf binds the same address once this process leads.
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_without_a_liveness_endpoint_a_standby_serves_nothing() -> None:
    assert leadership._standby_server(None) is None
