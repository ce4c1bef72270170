"""`kubectl cg`: the App Store from a terminal, as the kubeconfig's user. Installed as
`kubectl-cg`, which kubectl runs as a plugin."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from cg_operator.appstore import actions, views
from cg_operator.appstore.kube import ConflictError, ForbiddenError, NotFoundError, Store

# Exit codes a script can tell apart.
OK, ERROR, USAGE, NOT_READY, NOT_FOUND, FORBIDDEN, CONFLICT = 0, 1, 2, 3, 4, 5, 6
EPILOG = """exit codes:
  0  done; for status and rollout status: everything Ready / the rollout Complete
  1  any other error
  2  wrong usage
  3  status: a component is not Ready; rollout status: the rollout failed or was aborted
  4  not found
  5  not allowed (Kubernetes RBAC refused the request)
  6  the object kept changing while the change was made; run it again
"""
TENANTS, COMPONENTS, INSTALLATIONS, ROLLOUTS = (
    "municipalitytenants",
    "cgcomponents",
    "componentinstallations",
    "componentrollouts",
)


class Output:
    """Where and how a command prints: -o, --no-headers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.format = args.output
        self.no_headers = args.no_headers

    def data(self, value: Any) -> bool:
        """Print `value` as JSON or YAML when asked; whether it did."""
        if self.format == "json":
            print(json.dumps(value, indent=2, sort_keys=True, default=str))
            return True
        if self.format == "yaml":
            print(yaml.safe_dump(value, sort_keys=True, default_flow_style=False), end="")
            return True
        return False

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        text = views.render_table(headers, rows, no_headers=self.no_headers)
        if text:
            print(text)


def _plain(value: Any) -> Any:
    """A view's dataclass as plain data for -o json|yaml."""
    return dataclasses.asdict(value)


def cmd_list(plural: str) -> Callable[[Store, argparse.Namespace, Output], int]:
    """catalog and tenants: the kind as the API server prints it (its printer columns)."""

    def run(store: Store, args: argparse.Namespace, out: Output) -> int:
        if out.data(store.items(plural)):
            return OK
        headers, rows = views.table_rows(store.table(plural), wide=args.output == "wide")
        if not rows:
            print(f"No {plural} found.", file=sys.stderr)
        out.table(headers, rows)
        return OK

    return run


def _status_once(store: Store, args: argparse.Namespace, out: Output) -> int:
    tenant = store.get(TENANTS, args.tenant)
    namespace = (tenant.get("status") or {}).get("namespace") or ""
    installations = store.items(INSTALLATIONS, namespace) if namespace else []
    catalogue = {c["metadata"]["name"]: c for c in store.items(COMPONENTS)}
    rows = views.tenant_components(tenant, installations, catalogue)
    if not out.data([_plain(r) for r in rows]):
        out.table(
            [
                "COMPONENT",
                "OFFERING",
                "DELIVERY",
                "VERSION",
                "READY",
                "HEALTHY",
                "UPGRADE",
                "REASON",
            ],
            [
                [
                    r.component,
                    r.offering,
                    r.delivery,
                    r.version or "-",
                    r.ready,
                    r.healthy,
                    r.upgrade or "",
                    r.reason if r.ready == "True" else f"{r.reason}: {r.message}",
                ]
                for r in rows
            ],
        )
    return OK if rows and all(r.ready == "True" for r in rows) else NOT_READY


Once = Callable[[Store, argparse.Namespace, Output], int]


def _repeated(
    store: Store,
    args: argparse.Namespace,
    out: Output,
    once: Once,
    *,
    watched: tuple[str, str],
    until: Callable[[dict[str, Any]], bool] = lambda _obj: False,
) -> int:
    """Print once; with --watch, again each time the watched object changes, until `until`."""
    code = once(store, args, out)
    if not args.watch:
        return code
    for obj in store.watch(*watched):
        print()
        code = once(store, args, out)
        if until(obj):
            break
    return code


def cmd_status(store: Store, args: argparse.Namespace, out: Output) -> int:
    """A municipality's components: version, delivery, Ready/Healthy with the reason."""
    return _repeated(store, args, out, _status_once, watched=(TENANTS, args.tenant))


def cmd_fleet(store: Store, args: argparse.Namespace, out: Output) -> int:
    """One component across the municipalities: versions by ring."""
    entry = store.get(COMPONENTS, args.component)
    result = views.fleet(
        args.component,
        entry,
        views.tenant_rings(store.summaries(TENANTS)),
        store.summaries(INSTALLATIONS, "", f"{views.COMPONENT_FIELD}={args.component}"),
    )
    if out.data(_plain(result)):
        return OK
    out.table(
        ["RING", *result.versions, "TENANTS"],
        [
            [r.ring, *(str(r.versions.get(v, 0)) for v in result.versions), str(len(r.tenants))]
            for r in result.rings
        ],
    )
    if not out.no_headers:
        print(
            f"\n{result.ready}/{result.total} Ready; {result.upgrades} behind the recommended "
            f"version {(entry.get('spec') or {}).get('defaultVersion', '-')}"
        )
    return OK


def _rollout_once(store: Store, args: argparse.Namespace, out: Output) -> int:
    view = views.rollout_view(store.get(ROLLOUTS, args.name))
    if not out.data(_plain(view)):
        if not out.no_headers:
            print(f"{view.name}: {view.component} -> {view.version}   {view.phase}: {view.message}")
        out.table(
            ["WAVE", "TENANTS", "UPDATED", "READY", "FAILED", "COMPLETED"],
            [
                [
                    w["name"] + (" *" if w["name"] == view.current_wave else ""),
                    str(w.get("tenants", 0)),
                    str(w.get("updated", 0)),
                    str(w.get("ready", 0)),
                    str(w.get("failed", 0)),
                    str(w.get("completedAt") or ""),
                ]
                for w in view.waves
            ],
        )
        if view.tenants:
            print()
            out.table(
                ["TENANT", "WAVE", "FROM", "TO", "STATE", "REASON"],
                [
                    [
                        t["name"],
                        t.get("wave", ""),
                        t.get("from", ""),
                        t.get("to", ""),
                        t.get("state", ""),
                        t.get("reason", ""),
                    ]
                    for t in view.tenants
                ],
            )
    done = views.rollout_done(view)
    return OK if done else NOT_READY


def cmd_rollout_status(store: Store, args: argparse.Namespace, out: Output) -> int:
    """Waves and tenants; with --watch, until the rollout completes or fails."""
    return _repeated(
        store,
        args,
        out,
        _rollout_once,
        watched=(ROLLOUTS, args.name),
        until=lambda rollout: views.rollout_done(views.rollout_view(rollout)) is not None,
    )


def _change(
    store: Store,
    plural: str,
    name: str,
    decide: Callable[[dict[str, Any]], actions.Patch],
) -> int:
    """Make the change, print what it did."""
    try:
        print(store.change(plural, name, decide))
    except ConflictError as error:
        print(f"error: {error}; run the command again", file=sys.stderr)
        return CONFLICT
    return OK


def cmd_rollout_action(store: Store, args: argparse.Namespace, out: Output) -> int:
    """approve (for one tenant), approve-wave, pause, resume, abort."""
    if args.action == "approve":
        if not args.tenant:
            print("error: approve needs --tenant TENANT", file=sys.stderr)
            return USAGE
        rollout = store.get(ROLLOUTS, args.name)
        return _change(
            store, TENANTS, args.tenant, lambda t: actions.approve_for_tenant(t, rollout)
        )
    if args.action == "approve-wave":

        def decide(rollout: dict[str, Any]) -> actions.Patch:
            wave = args.wave or (rollout.get("status") or {}).get("currentWave")
            if not wave:
                raise actions.ActionError(f"rollout {args.name} has no current wave: name one")
            return actions.approve_wave(rollout, wave)

        return _change(store, ROLLOUTS, args.name, decide)
    flag, value = {
        "pause": ("paused", True),
        "resume": ("paused", False),
        "abort": ("abort", True),
    }[args.action]
    return _change(store, ROLLOUTS, args.name, lambda r: actions.set_rollout_flag(r, flag, value))


def _values(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise actions.ActionError(f"--set {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def cmd_subscribe(store: Store, args: argparse.Namespace, out: Output) -> int:
    component = store.get(COMPONENTS, args.component)
    values = _values(args.set)
    return _change(
        store,
        TENANTS,
        args.tenant,
        lambda t: actions.subscribe(
            t, component, offering=args.offering, version=args.version, values=values
        ),
    )


def cmd_unsubscribe(store: Store, args: argparse.Namespace, out: Output) -> int:
    tenant = store.get(TENANTS, args.tenant)
    preview = actions.unsubscribe(tenant, args.component)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"{preview.summary}.\nerror: confirm with --yes", file=sys.stderr)
            return USAGE
        answer = input(f"{preview.summary}.\nUnsubscribe? [y/N] ")
        if answer.strip().lower() not in ("y", "yes", "j", "ja"):
            print("nothing changed")
            return OK
    return _change(store, TENANTS, args.tenant, lambda t: actions.unsubscribe(t, args.component))


def _common(suppress: bool) -> argparse.ArgumentParser:
    """The kubectl flags, accepted before and after the command (after it, an unset flag must
    not hide one given before: SUPPRESS)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--kubeconfig",
        default=default(None),
        help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    common.add_argument("--context", default=default(None), help="the kubeconfig context")
    common.add_argument(
        "-o",
        "--output",
        choices=["table", "wide", "json", "yaml"],
        default=default("table"),
        help="output format (default: table)",
    )
    common.add_argument(
        "--no-headers",
        action="store_true",
        default=default(False),
        help="print tables without headers",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common(suppress=True)
    parser = argparse.ArgumentParser(
        prog="kubectl cg",
        description="The App Store for Common Ground components: the catalogue, municipalities, "
        "fleets and rollouts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(suppress=False)],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, run: Callable[..., int], help: str, example: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=help,
            parents=[common],
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(run=run)
        return sub

    add("catalog", cmd_list(COMPONENTS), "list the catalogue's components", "kubectl cg catalog")
    add("tenants", cmd_list(TENANTS), "list the municipalities", "kubectl cg tenants -o wide")
    status = add(
        "status",
        cmd_status,
        "a municipality's components, versions and why they are not Ready",
        "kubectl cg status gm0363-amsterdam",
    )
    status.add_argument("tenant", metavar="TENANT")
    status.add_argument("-w", "--watch", action="store_true", help="print again on every change")
    fleet = add(
        "fleet",
        cmd_fleet,
        "one component across the municipalities: versions by ring",
        "kubectl cg fleet open-zaak",
    )
    fleet.add_argument("component", metavar="COMPONENT")

    rollout = add(
        "rollout",
        cmd_rollout_action,
        "follow and steer a rollout",
        "kubectl cg rollout approve-wave open-zaak-1-30 --wave vroege-volgers",
    )
    rollout.add_argument(
        "action",
        choices=["status", "approve", "approve-wave", "pause", "resume", "abort"],
        metavar="ACTION",
        help="status | approve (--tenant T) | approve-wave [--wave W] | pause | resume | abort",
    )
    rollout.add_argument("name", metavar="NAME")
    rollout.add_argument("--tenant", help="approve: the municipality that approves")
    rollout.add_argument("--wave", help="approve-wave: the wave (default: the current one)")
    rollout.add_argument("-w", "--watch", action="store_true", help="status: until it ends")

    subscribe = add(
        "subscribe",
        cmd_subscribe,
        "subscribe a municipality to a component",
        "kubectl cg subscribe gm0363-amsterdam objecten --offering container",
    )
    subscribe.add_argument("tenant", metavar="TENANT")
    subscribe.add_argument("component", metavar="COMPONENT")
    subscribe.add_argument("--offering", help="the offering (default: the only one)")
    subscribe.add_argument("--version", help="pin a version (default: follow the catalogue)")
    subscribe.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a value (repeatable)"
    )
    unsubscribe = add(
        "unsubscribe",
        cmd_unsubscribe,
        "unsubscribe a municipality from a component (its deletionPolicy decides what data stays)",
        "kubectl cg unsubscribe gm0363-amsterdam objecten --yes",
    )
    unsubscribe.add_argument("tenant", metavar="TENANT")
    unsubscribe.add_argument("component", metavar="COMPONENT")
    unsubscribe.add_argument("-y", "--yes", action="store_true", help="do not ask to confirm")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "rollout" and args.action == "status":
        args.run = cmd_rollout_status
    try:
        store = Store.as_kubeconfig_user(args.kubeconfig, args.context)
        return int(args.run(store, args, Output(args)))
    except actions.ActionError as error:
        print(f"error: {error}", file=sys.stderr)
        return ERROR
    except NotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return NOT_FOUND
    except ForbiddenError as error:
        print(f"error: not allowed: {error}", file=sys.stderr)
        return FORBIDDEN
    except KeyboardInterrupt:
        return ERROR


if __name__ == "__main__":
    sys.exit(main())
