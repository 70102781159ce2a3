"""`dext-tui`: the TUI, and its headless twin for scripts, cron and tests.

Exit codes: 0 success, 1 the operation failed (one line on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from dext_tui import __version__
from dext_tui.core.domain import ALL_KINDS, ConnectionInfo, Kind, ListCounts, iso
from dext_tui.core.errors import DextError, UsageError
from dext_tui.core.text import printable

KIND_CHOICES = [k.cli_name for k in ALL_KINDS]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and the usage, exit 2, never a traceback
        self.print_usage(sys.stderr)
        self.exit(2, f"dext-tui: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dext-tui",
        description="Manage the connection between your pre-accounting workspace and accounting software.",
        epilog="Without a command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"dext-tui {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where data lives (default: DEXT_TUI_DATA_DIR or the platform's user data dir)",
    )
    parser.add_argument(
        "--workspace", metavar="NAME", help='workspace to use (created if new; default "Default")'
    )
    parser.add_argument(
        "--demo", action="store_true", help="open the Demo workspace on the bundled sample ledger"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("status", help="the connection's status")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("connect", help="connect accounting software and pull every list")
    p.add_argument("provider", choices=["beancount"], help="the accounting software")
    p.add_argument("target", metavar="PATH", help="the ledger file (beancount)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("reconnect", help="connect the same software again (a moved ledger: give its PATH)")
    p.add_argument("target", metavar="PATH", nargs="?", help="the ledger file, if it moved")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("refresh", help="pull lists from the connected software")
    p.add_argument(
        "--list",
        dest="kind",
        choices=KIND_CHOICES,
        metavar="KIND",
        help=f"only this list ({', '.join(KIND_CHOICES)})",
    )
    p.add_argument("--force", action="store_true", help="read the source even if it looks unchanged")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("lists", help="show one list")
    p.add_argument("kind", choices=KIND_CHOICES, metavar="KIND", help=", ".join(KIND_CHOICES))
    p.add_argument("--all", action="store_true", help="include archived items")
    p.add_argument("--json", action="store_true")

    sub.add_parser("workspaces", help="list workspaces")
    return parser


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _status_json(workspace: str, info: ConnectionInfo | None) -> dict[str, Any]:
    if info is None:
        return {
            "workspace": workspace,
            "status": "disconnected",
            "reason": "No accounting software is connected",
            "provider": None,
            "organisation": None,
            "target": None,
            "connected_at": None,
            "last_refreshed_at": None,
            "expires_at": None,
            "lists": {},
        }
    return {"workspace": workspace, **info.to_json()}


def _print_status(workspace: str, info: ConnectionInfo | None) -> None:
    rows: list[tuple[str, str]] = [("Workspace", workspace)]
    if info is None:
        rows += [("Status", "disconnected"), ("Reason", "No accounting software is connected")]
    else:
        rows += [
            ("Provider", info.provider_label),
            ("Organisation", info.tenant_name or ""),
            ("Ledger" if info.provider == "beancount" else "Target", info.target or ""),
            ("Status", info.status.value),
        ]
        if info.status_reason:
            rows.append(("Reason", info.status_reason))
        rows += [
            ("Connected since", _when(info.connected_at)),
            ("Last refresh", _when(info.last_refreshed_at)),
            ("Lists", ", ".join(f"{s.kind.label.lower()} {s.total}" for s in info.lists)),
        ]
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:
        print(f"{key + ':':<{width}}{printable(value)}")


def _when(value: Any) -> str:
    text = iso(value)
    return text.replace("T", " ").replace("Z", " UTC") if text else "never"


def _print_counts(counts: list[ListCounts], as_json: bool, workspace: str) -> None:
    if as_json:
        _print_json({"workspace": workspace, "lists": [c.to_json() for c in counts]})
        return
    for c in counts:
        suffix = " (source unchanged)" if c.unchanged_source else ""
        line = c.summary() if c.error else f"{c.summary()}; {c.total} items{suffix}"
        print(printable(line))


def _print_items(rows: list[Any], as_json: bool) -> None:
    if as_json:
        _print_json([r.to_json() for r in rows])
        return
    if not rows:
        print("(no items)")
        return
    code_w = min(max((len(printable(r.code)) for r in rows), default=4), 40)
    code_w = max(code_w, 4)
    print(f"{'CODE':<{code_w}}  {'STATUS':<8}  NAME")
    for r in rows:
        print(f"{printable(r.code):<{code_w}}  {r.status:<8}  {printable(r.name)}")


async def _run_command(args: argparse.Namespace) -> int:
    from dext_tui.core.service import DEFAULT_WORKSPACE, DextService

    service = DextService.open(args.data_dir)
    try:
        if args.command == "workspaces":
            for ws in service.workspaces():
                print(printable(ws.name))
            return 0
        if args.demo:
            ws = await service.ensure_demo()
        else:
            ws = service.ensure_workspace(args.workspace or DEFAULT_WORKSPACE)
        if args.command == "status":
            info = service.connection(ws)
            if args.json:
                _print_json(_status_json(ws.name, info))
            else:
                _print_status(ws.name, info)
            return 0
        if args.command in ("connect", "reconnect"):
            if args.command == "connect":
                info, counts = await service.connect(ws, args.provider, args.target)
            else:
                info, counts = await service.reconnect(ws, args.target)
            if args.json:
                _print_json({**_status_json(ws.name, info), "refresh": [c.to_json() for c in counts]})
            else:
                verb = "Connected" if args.command == "connect" else "Reconnected"
                print(printable(f"{verb} {ws.name!r} to {info.provider_label}: {info.tenant_name}"))
                _print_counts(counts, False, ws.name)
            return 0
        if args.command == "refresh":
            kinds = (Kind.parse(args.kind),) if args.kind else ALL_KINDS
            counts = await service.refresh(ws, kinds, force=args.force)
            _print_counts(counts, args.json, ws.name)
            failed = [c for c in counts if not c.ok]
            if failed:
                print(f"dext-tui: {len(failed)} list(s) failed to refresh", file=sys.stderr)
                return 1
            return 0
        if args.command == "lists":
            rows = service.items(ws, Kind.parse(args.kind), include_archived=args.all)
            _print_items(rows, args.json)
            return 0
        raise UsageError(f"unknown command {args.command!r}")
    finally:
        service.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from dext_tui.app import run_app

            return run_app(data_dir=args.data_dir, workspace=args.workspace, demo=args.demo)
        return asyncio.run(_run_command(args))
    except UsageError as exc:
        print(f"dext-tui: {printable(str(exc))}", file=sys.stderr)
        return 2
    except DextError as exc:
        print(f"dext-tui: {printable(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dext-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:
        print(f"dext-tui: {printable(str(exc))}", file=sys.stderr)
        return 1
