"""The integration harness refuses a kubeconfig that points at a cluster that is not local."""

from __future__ import annotations

import pytest

from tests.support.cluster import ClusterRefusedError, check_local, is_local_server


def _kubeconfig(context: str, server: str) -> dict[str, object]:
    return {
        "current-context": context,
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": server}}],
    }


@pytest.mark.parametrize(
    "server", ["https://127.0.0.1:6443", "https://localhost:1234", "https://[::1]:6443"]
)
def test_loopback_servers_are_local(server: str) -> None:
    assert is_local_server(server)
    assert check_local(_kubeconfig("anything", server), allow_remote=False) == "anything"


def test_kind_and_kwok_contexts_are_local_even_on_another_address() -> None:
    assert check_local(_kubeconfig("kind-dev", "https://172.18.0.2:6443"), allow_remote=False)
    assert check_local(_kubeconfig("kwok-cg", "https://10.0.0.5:6443"), allow_remote=False)


def test_a_remote_cluster_is_refused_with_the_way_out() -> None:
    with pytest.raises(ClusterRefusedError, match="CG_ALLOW_REMOTE_CLUSTER=1"):
        check_local(_kubeconfig("prod", "https://k8s.gemeente.example:6443"), allow_remote=False)


def test_a_remote_cluster_is_allowed_when_asked() -> None:
    config = _kubeconfig("prod", "https://k8s.gemeente.example:6443")
    assert check_local(config, allow_remote=True) == "prod"


def test_a_kubeconfig_without_current_context_is_refused() -> None:
    with pytest.raises(ClusterRefusedError, match="no current context"):
        check_local({"contexts": [], "clusters": []}, allow_remote=False)
