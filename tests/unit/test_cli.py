"""The command line: version, help, and the run options a platform team relies on."""

from __future__ import annotations

import pytest

from cg_operator import __version__
from cg_operator.cli import build_parser, election_settings, main, shard


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"cg-operator {__version__}"


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_run_defaults_to_the_whole_cluster_with_a_liveness_probe() -> None:
    args = build_parser().parse_args(["run"])
    assert args.namespace == []
    assert args.liveness == "http://0.0.0.0:8080/healthz"


@pytest.mark.parametrize("value", ["gm0363-*", "!kube-system", "GM0363", "gm_0363"])
def test_run_refuses_a_namespace_that_is_not_a_name(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--namespace", value])
    assert "is not a namespace name" in capsys.readouterr().err


def test_run_takes_several_namespaces() -> None:
    args = build_parser().parse_args(["run", "-n", "gm0363", "--namespace", "gm0599"])
    assert args.namespace == ["gm0363", "gm0599"]


def test_a_shard_is_named_like_a_label_value_and_has_its_own_lease() -> None:
    args = build_parser().parse_args(
        ["run", "--shard", "east", "--leader-elect", "--leader-election-namespace", "cg"]
    )
    assert shard(args).name == "east"
    settings = election_settings(args)
    assert settings is not None
    assert settings.name == "cg-operator-leader-east"
    named = build_parser().parse_args(
        [
            *("run", "--shard", "east", "--leader-elect", "--leader-election-namespace", "cg"),
            *("--leader-election-id", "mine"),
        ]
    )
    chosen = election_settings(named)
    assert chosen is not None
    assert chosen.name == "mine", "a Lease named on the command line is taken as named"
    assert shard(build_parser().parse_args(["run"])).name is None
    for bad in ("East/1", "-east", "a" * 64, ""):
        with pytest.raises(SystemExit, match="--shard"):
            shard(build_parser().parse_args(["run", f"--shard={bad}"]))
