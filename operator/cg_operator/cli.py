"""The `cg-operator` command line: `run` starts the operator, `version` prints its version."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cg_operator import __version__
from cg_operator.k8s.election import DEFAULT_LEASE_NAME, ElectionTiming
from cg_operator.reconcile.health import ContainerProbeMode

if TYPE_CHECKING:
    from cg_operator.handlers.leadership import ElectionSettings
    from cg_operator.handlers.probing import HealthConfig
    from cg_operator.reconcile.backing import BackingImages
    from cg_operator.reconcile.exposure import ExposureSettings
    from cg_operator.reconcile.shards import Shard


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="cg-operator",
        description="The App Store for Common Ground components, as a Kubernetes operator.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    page = commands.add_parser(
        "appstore",
        help="serve the App Store page: every Kubernetes call is made as the person asking",
    )
    page.add_argument(
        "--address",
        default="0.0.0.0:8090",
        metavar="HOST:PORT",
        help="where the page is served (default: %(default)s)",
    )
    page.add_argument("--kubeconfig", help="the kubeconfig naming the API server and its CA")
    page.add_argument("--context", help="the kubeconfig context")
    page.add_argument(
        "--kubeconfig-user",
        action="store_true",
        help="without a token forwarded by an authenticating proxy, act as the kubeconfig's "
        "user (for one person's local use, e.g. `make run`); never in a shared deployment",
    )
    page.add_argument(
        "--insecure-cookies",
        action="store_true",
        help="send cookies over plain HTTP too (local use without TLS)",
    )

    run = commands.add_parser("run", help="run the operator in the foreground until interrupted")
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        type=_namespace_name,
        metavar="NS",
        help="watch only these namespaces for namespaced kinds (repeatable); "
        "default: the whole cluster",
    )
    run.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        metavar="URL",
        help="where kopf serves its liveness probe (default: %(default)s); '' disables it",
    )
    run.add_argument(
        "--metrics-address",
        default="0.0.0.0:8081",
        metavar="HOST:PORT",
        help="where /metrics is served (default: %(default)s); '' disables it",
    )
    _health_arguments(run)
    _exposure_arguments(run)
    run.add_argument(
        "--backing-image",
        action="append",
        default=[],
        metavar="TYPE[+EXT][:VERSION]=IMAGE",
        help="the image an embedded backing service runs, instead of the public one: a mirror, "
        "or an image pinned by digest (repeatable; e.g. "
        "postgresql:17=registry.example/postgres@sha256:...; IMAGE may hold {version})",
    )
    _election_arguments(run)
    run.add_argument(
        "--shard",
        default=None,
        metavar="NAME",
        help="reconcile only the tenants labelled appstore.commonground.nl/shard=NAME; the shard "
        "named main also takes unlabelled tenants and writes the catalogue's and rollouts' "
        "status (default: one process for every tenant)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands.add_parser("version", help="print the version and exit")
    return parser


def _seconds(value: str) -> float:
    seconds = float(value)
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {value}")
    return seconds


_NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _namespace_name(value: str) -> str:
    """A namespace's name: the children's watches take names, not kopf's glob patterns."""
    if not _NAMESPACE_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a namespace name (lowercase letters, digits and '-', at most 63)"
        )
    return value


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return number


def _election_arguments(run: argparse.ArgumentParser) -> None:
    election = run.add_argument_group(
        "leader election", "several replicas: one reconciles, the others stand by"
    )
    election.add_argument(
        "--leader-elect",
        action="store_true",
        help="reconcile only while holding a coordination.k8s.io Lease; stand by until then",
    )
    election.add_argument(
        "--leader-election-namespace",
        default=os.environ.get("POD_NAMESPACE", ""),
        metavar="NS",
        help="the Lease's namespace (default: $POD_NAMESPACE, the chart sets it)",
    )
    election.add_argument(
        "--leader-election-id",
        default=DEFAULT_LEASE_NAME,
        metavar="NAME",
        help="the Lease's name (default: %(default)s)",
    )
    defaults = ElectionTiming()
    for flag, seconds, meaning in (
        ("--lease-duration", defaults.lease_duration, "a standby takes a lease not renewed for"),
        (
            "--renew-deadline",
            defaults.renew_deadline,
            "the leader exits when it could not renew for",
        ),
        ("--retry-period", defaults.retry_period, "renewals and a standby's tries every"),
    ):
        election.add_argument(
            flag,
            type=_positive,
            default=seconds,
            metavar="SECONDS",
            help=f"{meaning} SECONDS (default: %(default)s)",
        )


def shard(args: argparse.Namespace) -> Shard:
    """This process's shard from parsed arguments; a name no label can hold exits naming it."""
    from cg_operator.api.rollout import LABEL_VALUE  # noqa: PLC0415 - see main()
    from cg_operator.reconcile.shards import Shard  # noqa: PLC0415

    name = args.shard
    if name is not None and not (0 < len(name) <= 63 and re.fullmatch(LABEL_VALUE, name)):
        raise SystemExit(
            f"cg-operator run: --shard {args.shard!r}: a shard is named like a label value: up "
            "to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return Shard(args.shard)


def election_settings(args: argparse.Namespace) -> ElectionSettings | None:
    """The leader election settings from parsed arguments (None without --leader-elect); bad
    durations and a missing namespace exit naming the flag. Each shard has its own Lease (the
    default name with the shard's appended)."""
    from cg_operator.handlers.leadership import ElectionSettings  # noqa: PLC0415 - see main()

    if not args.leader_elect:
        return None
    if not args.leader_election_namespace:
        raise SystemExit(
            "cg-operator run: --leader-elect needs --leader-election-namespace "
            "(or $POD_NAMESPACE): the namespace of the Lease"
        )
    timing = ElectionTiming(args.lease_duration, args.renew_deadline, args.retry_period)
    problem = timing.problem()
    if problem is not None:
        raise SystemExit(
            f"cg-operator run: --lease-duration, --renew-deadline, --retry-period: {problem}"
        )
    name = args.leader_election_id
    if args.shard and name == DEFAULT_LEASE_NAME:
        name = f"{name}-{args.shard}"[:253]
    return ElectionSettings(namespace=args.leader_election_namespace, name=name, timing=timing)


def _health_arguments(run: argparse.ArgumentParser) -> None:
    health = run.add_argument_group("health probes")
    health.add_argument(
        "--probe-interval",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how often each installation is probed (default: %(default)s); 0 disables probes",
    )
    health.add_argument(
        "--probe-timeout",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="how long a probe may take (default: %(default)s)",
    )
    health.add_argument(
        "--probe-concurrency",
        type=_positive,
        default=16,
        metavar="N",
        help="probes in flight at most (default: %(default)s)",
    )
    health.add_argument(
        "--probe-status-refresh",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="status.lastProbe is written when the outcome changes and at least this often "
        "(default: %(default)s)",
    )
    health.add_argument(
        "--probe-allow-cidr",
        action="append",
        default=[],
        metavar="CIDR",
        help="let SaaS probes reach this private/loopback network (repeatable); metadata "
        "addresses stay refused",
    )
    health.add_argument(
        "--probe-ca-file", default=None, metavar="PATH", help="extra CA certificates to trust"
    )
    health.add_argument(
        "--container-probe",
        choices=[m.value for m in ContainerProbeMode],
        default=ContainerProbeMode.AUTO.value,
        help="how Container installations are probed: auto (direct in the cluster, off outside "
        "it), direct, proxy (through the API server), off (default: %(default)s)",
    )
    health.add_argument(
        "--cluster-domain",
        default="cluster.local",
        metavar="DOMAIN",
        help="the cluster's DNS domain (default: %(default)s)",
    )


def _exposure_arguments(run: argparse.ArgumentParser) -> None:
    exposure = run.add_argument_group("exposure (how users reach exposed components)")
    exposure.add_argument(
        "--exposure",
        choices=["none", "ingress", "httproute"],
        default="ingress",
        help="route public traffic with an Ingress or a Gateway API HTTPRoute per exposed "
        "installation, or not at all (default: %(default)s)",
    )
    exposure.add_argument(
        "--ingress-class", default=None, metavar="NAME", help="the Ingresses' ingressClassName"
    )
    tls = exposure.add_mutually_exclusive_group()
    tls.add_argument(
        "--tls-cluster-issuer",
        default=None,
        metavar="NAME",
        help="a cert-manager ClusterIssuer that issues each Ingress's certificate",
    )
    tls.add_argument(
        "--tls-secret",
        default=None,
        metavar="NAME",
        help="a TLS Secret (e.g. a wildcard certificate) each tenant namespace holds",
    )
    exposure.add_argument(
        "--gateway",
        default=None,
        metavar="NS/NAME[/LISTENER]",
        help="the Gateway HTTPRoutes attach to (required with --exposure httproute)",
    )
    exposure.add_argument(
        "--gateway-http",
        action="store_true",
        help="the Gateway's listener serves plain http (default: https)",
    )
    exposure.add_argument(
        "--public-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="a domain any tenant may put hosts under, besides its own (repeatable)",
    )
    exposure.add_argument(
        "--ingress-namespace",
        action="append",
        default=[],
        metavar="NS",
        help="the ingress controller's or gateway's namespace, admitted to exposed "
        "components only (repeatable)",
    )


def exposure_settings(args: argparse.Namespace) -> ExposureSettings:
    """The exposure settings from parsed arguments; an incomplete choice exits naming it."""
    from cg_operator.reconcile.exposure import (  # noqa: PLC0415 - see main()
        ExposureMode,
        ExposureSettings,
        GatewayRef,
    )

    mode = ExposureMode(args.exposure)
    gateway = None
    try:
        if args.gateway:
            gateway = GatewayRef.parse(args.gateway)
    except ValueError as error:
        raise SystemExit(f"cg-operator run: {error}") from None
    if mode is ExposureMode.HTTPROUTE and gateway is None:
        raise SystemExit("cg-operator run: --exposure httproute needs --gateway NS/NAME")
    return ExposureSettings(
        mode=mode,
        ingress_class=args.ingress_class,
        cluster_issuer=args.tls_cluster_issuer,
        tls_secret=args.tls_secret,
        gateway=gateway,
        gateway_https=not args.gateway_http,
        extra_domains=tuple(d.lower().rstrip(".") for d in args.public_domain),
        ingress_namespaces=tuple(args.ingress_namespace),
    )


def backing_images(args: argparse.Namespace) -> BackingImages:
    """The platform's embedded images from parsed arguments; a bad entry exits naming it."""
    from cg_operator.reconcile.backing import BackingImages  # noqa: PLC0415 - see main()

    try:
        return BackingImages.parse(args.backing_image)
    except ValueError as error:
        raise SystemExit(f"cg-operator run: {error}") from None


def health_config(args: argparse.Namespace) -> HealthConfig:
    """The health settings from parsed arguments; a bad CIDR exits with its name."""
    from cg_operator.handlers.probing import HealthConfig  # noqa: PLC0415 - see main()
    from cg_operator.health.guard import ProbePolicy  # noqa: PLC0415
    from cg_operator.health.prober import ProberSettings  # noqa: PLC0415

    try:
        policy = ProbePolicy.parse(args.probe_allow_cidr)
    except ValueError as error:
        raise SystemExit(f"cg-operator run: {error}") from None
    return HealthConfig(
        prober=ProberSettings(
            interval=args.probe_interval,
            timeout=args.probe_timeout,
            concurrency=args.probe_concurrency,
            refresh=args.probe_status_refresh,
            policy=policy,
            ca_file=args.probe_ca_file,
        ),
        container_mode=ContainerProbeMode(args.container_probe),
        cluster_domain=args.cluster_domain,
    )


def serve_page(args: argparse.Namespace) -> int:
    """`cg-operator appstore`: the page, in the foreground."""
    from cg_operator.appstore.web import PageSettings, serve  # noqa: PLC0415

    host, _, port = args.address.rpartition(":")
    serve(
        PageSettings(
            kubeconfig=args.kubeconfig,
            context=args.context,
            kubeconfig_user=args.kubeconfig_user,
            secure_cookies=not args.insecure_cookies,
        ),
        host or "0.0.0.0",  # noqa: S104 (a pod's page listens on every address)
        int(port),
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cg-operator` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"cg-operator {__version__}")
        return 0
    if args.command == "appstore":
        return serve_page(args)
    # Imported here so that `cg-operator version` and `--help` work without a cluster or kopf's
    # start-up cost.
    from cg_operator.handlers.runner import run_operator  # noqa: PLC0415

    run_operator(
        namespaces=tuple(args.namespace),
        liveness_endpoint=args.liveness or None,
        verbose=args.verbose,
        metrics_address=args.metrics_address or None,
        health=health_config(args),
        exposure=exposure_settings(args),
        backing_images=backing_images(args),
        election=election_settings(args),
        shard=shard(args),
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
