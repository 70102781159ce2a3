"""`dext-tui`: the TUI, and its headless twin for scripts, cron and tests.

Exit codes: 0 success, 1 the operation failed (one line on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dext_tui import __version__
from dext_tui.core.cloud_auth import CLOUD_PROVIDERS
from dext_tui.core.costs import CostState
from dext_tui.core.domain import (
    ALL_KINDS,
    RULE_FIELDS,
    TARGET_LABELS,
    AutoPublish,
    ConnectionInfo,
    DisconnectChoice,
    Kind,
    ListCounts,
    RuleInfo,
    RuleScope,
    RuleSpec,
    iso,
)
from dext_tui.core.errors import DextError, UsageError
from dext_tui.core.publishing import ErrorClass
from dext_tui.core.text import printable

PROVIDERS = ["beancount", *CLOUD_PROVIDERS]
KIND_CHOICES = [k.cli_name for k in ALL_KINDS]
SCOPE_CHOICES = [s.cli_name for s in RuleScope]
TIMELINE_SHOWN = 50  # status --json: the latest timeline events


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and the usage, exit 2, never a traceback
        self.print_usage(sys.stderr)
        self.exit(2, f"dext-tui: error: {message}\n")


def _login_options(p: argparse.ArgumentParser) -> None:
    """Logging in to cloud books from a terminal: print the URL, then hand back where the browser landed."""
    p.add_argument(
        "--print-url",
        action="store_true",
        help="xero/quickbooks: print the login URL and keep the pending login (step 1)",
    )
    p.add_argument(
        "--redirect-url",
        metavar="URL",
        help="xero/quickbooks: the URL the browser landed on after logging in (step 2)",
    )
    p.add_argument("--tenant", metavar="NAME", help="xero: the organisation, when the login opens several")
    p.add_argument("--json", action="store_true")


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
    p.add_argument("provider", choices=PROVIDERS, help="the accounting software")
    p.add_argument("target", metavar="PATH", nargs="?", help="the ledger file (beancount)")
    _login_options(p)

    p = sub.add_parser("reconnect", help="connect the same software again (a moved ledger: give its PATH)")
    p.add_argument("target", metavar="PATH", nargs="?", help="the ledger file, if it moved")
    _login_options(p)

    p = sub.add_parser(
        "change", help="move to other books: disconnect the current software, connect PROVIDER, merge lists"
    )
    p.add_argument("provider", choices=PROVIDERS, help="the accounting software")
    p.add_argument("target", metavar="PATH", nargs="?", help="the ledger file (beancount)")
    _login_options(p)

    p = sub.add_parser("merge", help="after change: merge the former lists into the new ones")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--plan", action="store_true", help="each former item and its suggestion")
    what.add_argument("--apply", metavar="MAPPING.json", help='{"KIND": {"OLD_ID": NEW_ID or null}}')
    what.add_argument("--accept-suggestions", action="store_true", help="apply every sure enough suggestion")
    what.add_argument("--skip", metavar="KIND", help="leave this list's former items as they are")
    what.add_argument("--undo", action="store_true", help="undo the last merge")
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.9,
        metavar="X",
        help="for --accept-suggestions (default 0.9)",
    )
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

    p = sub.add_parser("lists", help="show one list, or import one from CSV (lists import KIND FILE)")
    p.add_argument(
        "kind", metavar="KIND", help=f"{', '.join(KIND_CHOICES)}; or 'import' followed by KIND and FILE.csv"
    )
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--all", action="store_true", help="include archived items")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("rules", help="automation rules: list, add, remove")
    rules = p.add_subparsers(dest="rules_command", metavar="ACTION", parser_class=_Parser, required=True)
    r = rules.add_parser("list", help="every rule of the workspace")
    r.add_argument("--json", action="store_true")
    r = rules.add_parser(
        "add",
        help="add a rule: supplier NAME | customer NAME | payment-method CODE, then the fields it sets",
    )
    r.add_argument("scope", choices=SCOPE_CHOICES, help="what the rule is for")
    r.add_argument(
        "target", metavar="NAME_OR_CODE", help="the supplier or customer (name or code), or bank account"
    )
    r.add_argument("--category", metavar="CODE", help="a category's code (or name)")
    r.add_argument("--tax-code", metavar="CODE", help="a tax code's code (or name)")
    r.add_argument("--bank-account", metavar="CODE", help="the bank account paid from (payment method)")
    r.add_argument("--tracking", metavar="CODE", help="a tracking option's code (or name)")
    r.add_argument("--currency", metavar="CODE", help="a currency's code, e.g. GBP")
    r.add_argument("--description", metavar="TEXT", help="the description costs get")
    paid = r.add_mutually_exclusive_group()
    paid.add_argument("--paid", dest="paid", action="store_const", const=True, help="costs are marked paid")
    paid.add_argument(
        "--unpaid", dest="paid", action="store_const", const=False, help="costs are marked unpaid"
    )
    r.add_argument(
        "--auto-publish", choices=[a.value for a in AutoPublish], default="none", help="default: none"
    )
    r.add_argument("--json", action="store_true")
    r = rules.add_parser("remove", help="remove a rule by its id")
    r.add_argument("rule_id", metavar="ID", type=int)

    p = sub.add_parser("items", help="the costs inbox: import, list, show")
    items = p.add_subparsers(dest="items_command", metavar="ACTION", required=True)
    i = items.add_parser("import", help="add cost items from a CSV file (rules fill the rest)")
    i.add_argument("file", metavar="FILE.csv")
    i.add_argument(
        "--no-publish", action="store_true", help="do not publish what a rule says to publish at once"
    )
    i.add_argument("--json", action="store_true")
    i = items.add_parser("list", help="the cost items, newest first")
    i.add_argument("--state", choices=[s.value for s in CostState], help="only items in this state")
    i.add_argument("--supplier", metavar="NAME", help="only this supplier's items (its code or name)")
    i.add_argument("--error-class", metavar="CLASS", help="only items failed with this error class")
    i.add_argument("--json", action="store_true")
    i = items.add_parser("show", help="one cost item: every field and why it has its value")
    i.add_argument("item_id", metavar="ID", type=int)
    i.add_argument("--json", action="store_true")

    p = sub.add_parser("publish", help="publish cost items to the connected software")
    p.add_argument("ids", metavar="ID", type=int, nargs="*", help="the items to publish")
    p.add_argument("--all-ready", action="store_true", help="every item ready to publish")
    p.add_argument("--all", action="store_true", help="every item not published yet: ready and failed")
    p.add_argument("--check", action="store_true", help="only the pre-flight check: publish nothing")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("disconnect", help="disconnect the software: --keep, --reinstate or --merge-later")
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--keep",
        dest="choice",
        action="store_const",
        const="keep",
        help="keep the current lists as your own; rules and settings stay",
    )
    choice.add_argument(
        "--reinstate",
        dest="choice",
        action="store_const",
        const="reinstate",
        help="reinstate the lists, rules and settings from before integrating",
    )
    choice.add_argument(
        "--merge-later",
        dest="choice",
        action="store_const",
        const="merge-later",
        help="keep the lists but REMOVE every rule and manual setting (needs --yes)",
    )
    p.add_argument("--yes", action="store_true", help="confirm --merge-later")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "attention", help="rules, settings and costs pointing at items nobody can see, and what fixes each"
    )
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("snapshots", help="safety copies of lists and rules; snapshots restore ID")
    p.add_argument("action", nargs="?", choices=("restore",), help="restore: bring a safety copy back")
    p.add_argument("snapshot_id", nargs="?", type=int, metavar="ID", help="the safety copy to restore")
    p.add_argument("--json", action="store_true")

    sub.add_parser("workspaces", help="list workspaces")

    p = sub.add_parser(
        "sandbox",
        help="serve local Xero- and QuickBooks-compatible servers (dext-tui sandbox --help)",
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
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
            (TARGET_LABELS.get(info.provider, "Target"), info.target or ""),
            ("Status", info.status.value),
        ]
        if info.status_reason:
            rows.append(("Reason", info.status_reason))
        rows += [
            ("Connected since", _when(info.connected_at)),
            ("Last refresh", _when(info.last_refreshed_at)),
            ("Expires", _when(info.expires_at) if info.expires_at else "never"),
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


def _logs_in(args: argparse.Namespace) -> bool:
    return bool(args.print_url or args.redirect_url or args.tenant)


async def _log_in(
    service: Any, ws: Any, provider: str, args: argparse.Namespace
) -> tuple[ConnectionInfo, list[ListCounts]] | None:
    """Step 1 (--print-url) prints the login URL; step 2 (--redirect-url, and --tenant when the login
    opens several organisations) completes it and connects. None after step 1."""
    auth = service.authorisations
    command = f"dext-tui {args.command}" + (f" {provider}" if args.command != "reconnect" else "")
    if args.print_url:
        url = auth.begin(provider, ws.id)
        if args.json:
            _print_json({"workspace": ws.name, "provider": provider, "url": url})
        else:
            print(url)
            print(
                f"Open that URL in a browser, log in and allow access; then give the address the browser"
                f" lands on: {command} --redirect-url 'URL'",
                file=sys.stderr,
            )
        return None
    if args.redirect_url:
        organisations = await auth.complete(provider, ws.id, args.redirect_url)
        if len(organisations) > 1 and not args.tenant:
            names = ", ".join(repr(o.name) for o in organisations)
            raise DextError(
                f"that login opens several organisations ({names}); choose one: {command} --tenant NAME"
            )
    return await service.connect_authorised(ws, provider, args.tenant, how=args.command)


def _check_usage(args: argparse.Namespace) -> None:
    if args.command in ("connect", "reconnect", "change"):
        provider = getattr(args, "provider", None)
        cloud = provider in CLOUD_PROVIDERS or (args.command == "reconnect" and _logs_in(args))
        if cloud:
            if args.target:
                raise UsageError(f"{provider or 'a cloud connection'} takes no PATH; log in with --print-url")
            if args.print_url and (args.redirect_url or args.tenant):
                raise UsageError(
                    "--print-url is step 1 on its own; --redirect-url URL [--tenant NAME] is step 2"
                )
            if not _logs_in(args):
                raise UsageError(
                    f"log in first: dext-tui {args.command} {provider} --print-url, then --redirect-url URL"
                )
        else:
            if _logs_in(args):
                raise UsageError("--print-url, --redirect-url and --tenant are for xero and quickbooks")
            if args.command != "reconnect" and not args.target:
                raise UsageError(
                    f"{args.command} beancount needs the ledger file: dext-tui {args.command} beancount PATH"
                )
    if args.command == "snapshots" and (args.action == "restore") != (args.snapshot_id is not None):
        raise UsageError("snapshots restore takes the id of a safety copy: dext-tui snapshots restore ID")
    if args.command == "publish" and [bool(args.ids), args.all_ready, args.all].count(True) != 1:
        raise UsageError("publish takes item ids, --all-ready or --all (one of them)")
    if args.command == "items" and args.items_command == "list" and args.error_class:
        try:
            ErrorClass.parse(args.error_class)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.command == "lists":
        if args.kind == "import":
            if len(args.rest) != 2:
                raise UsageError("usage: dext-tui lists import KIND FILE.csv")
            _parse_kind(args.rest[0])
        else:
            _parse_kind(args.kind)
            if args.rest:
                raise UsageError(f"unexpected {' '.join(args.rest)!r} after the list name")


def _parse_kind(text: str) -> Kind:
    try:
        return Kind.parse(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _rules_command(service: Any, ws: Any, args: argparse.Namespace) -> int:
    if args.rules_command == "list":
        rules = service.rules(ws)
        if args.json:
            _print_json([r.to_json() for r in rules])
        else:
            _print_rules(rules)
        return 0
    if args.rules_command == "remove":
        service.remove_rule(ws, args.rule_id)
        print(f"Removed rule {args.rule_id}")
        return 0
    scope = RuleScope.parse(args.scope)
    problems: list[str] = []
    ids: dict[str, int | None] = {}

    def resolve(kind: Kind, text: str | None) -> int | None:
        if text is None:
            return None
        try:
            return service.find_item(ws, kind, text).id
        except DextError as exc:
            problems.append(str(exc))
            return None

    target = resolve(scope.target_kind, args.target)
    for name, kind in RULE_FIELDS.items():
        ids[f"{name}_id"] = resolve(kind, getattr(args, name))
    if problems or target is None:
        raise DextError("; ".join(problems) + "; no rule was added")
    spec = RuleSpec(
        scope,
        target,
        description=args.description,
        paid=args.paid,
        auto_publish=AutoPublish(args.auto_publish),
        **ids,
    )
    rule = service.add_rule(ws, spec)
    if args.json:
        _print_json(rule.to_json())
    else:
        print(rule.id)
    return 0


async def _items_command(service: Any, ws: Any, args: argparse.Namespace) -> int:
    inbox = service.costs
    if args.items_command == "import":
        report = inbox.import_csv(ws, Path(args.file))
        published = None
        if report.auto_publish and not args.no_publish and service.connection(ws) is not None:
            published = await inbox.publish(ws, report.auto_publish)
        if args.json:
            _print_json(
                {
                    "workspace": ws.name,
                    **report.to_json(),
                    "publish": published.to_json() if published else None,
                }
            )
        else:
            print(report.summary())
            if published is not None:
                print(f"Published at once (auto-publish rules): {published.summary()}")
                _print_outcomes(published, only_failed=True)
        return 1 if published is not None and published.failed else 0
    if args.items_command == "show":
        detail = inbox.detail(ws, args.item_id)
        if args.json:
            _print_json(detail.to_json())
        else:
            _print_detail(detail)
        return 0
    supplier = service.find_item(ws, Kind.SUPPLIERS, args.supplier).id if args.supplier else None
    error_class = None
    if args.error_class:
        try:
            error_class = ErrorClass.parse(args.error_class)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    rows = inbox.rows(
        ws, state=CostState(args.state) if args.state else None, supplier_id=supplier, error_class=error_class
    )
    if args.json:
        _print_json([r.to_json() for r in rows])
        return 0
    if not rows:
        print("No cost items.")
    for r in rows:
        state = r.state.value if r.error_class is None else f"failed: {r.error_class.value}"
        amount = f"{r.total or '':>10} {r.currency or '':<3}"
        print(
            printable(
                f"{r.id:>6}  {r.date or '':<10}  {r.supplier[:28]:<28}  {(r.reference or '')[:14]:<14}"
                f"  {amount}  {state}"
            )
        )
    return 0


def _print_detail(detail: Any) -> None:
    def line(label: str, value: Any, name: str | None = None) -> None:
        why = detail.why.get(name) if name else None
        text = f"{label + ':':<16}{'' if value is None else value}"
        print(printable(text + (f"   ({why})" if why else "")))

    def ref(r: Any) -> str | None:
        return r.label if r else None

    line("Item", f"{detail.id} ({detail.state.value})")
    line("Date", detail.date, "date")
    line("Supplier", detail.supplier_label + ("" if detail.supplier else " (new)"), "supplier")
    line("Reference", detail.reference, "reference")
    line(
        "Total",
        f"{detail.total if detail.total is not None else ''} {detail.currency or ''}".strip(),
        "total",
    )
    line("Tax", detail.tax, "tax")
    line("Category", ref(detail.category), "category")
    line("Tax code", ref(detail.tax_code), "tax_code")
    line("Payment method", ref(detail.bank_account), "bank_account")
    line("Tracking", ref(detail.tracking), "tracking")
    line("Description", detail.description, "description")
    line("Paid", "yes" if detail.paid else "no", "paid")
    for ln in detail.lines:
        line(f"Line {ln.position}", f"{ln.amount} {ref(ln.category) or ''} {ref(ln.tax_code) or ''}".strip())
    if detail.remote_id:
        line("Published as", detail.remote_id)
    if detail.error_class is not None:
        line("Error", f"{detail.error_class.label}: {detail.error_message}")
        line("Remedy", detail.error_class.remedy)
    if detail.interrupted and detail.remote_id is None:
        line("Interrupted", "it was on its way to the software: publish it again before changing it")


def _print_outcomes(report: Any, *, only_failed: bool = False) -> None:
    for o in report.outcomes:
        if o.ok and not only_failed:
            what = "published before, skipped" if o.skipped else f"published as {o.remote_id}"
            print(printable(f"{o.id:>6}  {what}" + (" (already in the books)" if o.already else "")))
        elif not o.ok:
            assert o.error_class is not None
            print(printable(f"{o.id:>6}  failed: {o.error_class.value}: {o.message}"))
            print(printable(f"        {o.error_class.remedy}"))


async def _publish_command(service: Any, ws: Any, args: argparse.Namespace) -> int:
    inbox = service.costs
    ids = inbox.ready_ids(ws, failed=args.all) if args.all_ready or args.all else list(args.ids)
    if not ids:
        if args.json:
            nothing = {"published": 0, "failed": 0, "expired": None}
            _print_json({"checked": 0, "items": []} if args.check else {**nothing, "items": []})
        else:
            print("Nothing to publish.")
        return 0
    if args.check:
        problems = inbox.preflight(ws, ids)
        if args.json:
            _print_json(
                {
                    "checked": len(ids),
                    "items": [
                        {
                            "id": i,
                            "ok": i not in problems,
                            "problems": [p.to_json() for p in problems.get(i, [])],
                        }
                        for i in ids
                    ],
                }
            )
        else:
            for i in ids:
                found = problems.get(i, [])
                if not found:
                    print(f"{i:>6}  ready")
                for p in found:
                    print(printable(f"{i:>6}  {p.error_class.value}: {p.message}"))
            print(f"{len(ids) - len(problems)} of {len(ids)} would publish.")
        return 1 if problems else 0
    report = await inbox.publish(ws, ids)
    if args.json:
        _print_json(report.to_json())
    else:
        _print_outcomes(report)
        print(report.summary())
    return 1 if report.failed else 0


def _merge_command(service: Any, ws: Any, args: argparse.Namespace) -> int:
    if args.plan:
        plan = service.merge_plan(ws)
        if args.json:
            _print_json(plan.to_json())
        else:
            _print_plan(plan)
        return 0
    if args.skip:
        kind = _parse_kind(args.skip)
        service.merge_skip(ws, kind)
        message = f"Skipped {kind.label.lower()}: its former items stay, with their rules"
    elif args.undo:
        message = service.merge_undo(ws)
    elif args.accept_suggestions:
        if not 0 <= args.min_confidence <= 1:
            raise UsageError("--min-confidence is between 0 and 1")
        message = service.merge_accept(ws, args.min_confidence)
    else:
        message = service.merge_apply(ws, _read_mapping(Path(args.apply)))
    if args.json:
        _print_json({"workspace": ws.name, "message": message})
    else:
        print(printable(message))
    return 0


def _read_mapping(path: Path) -> dict[Kind, dict[int, int | None]]:
    """`{"suppliers": {"12": 345, "13": null}}` -> {Kind: {old id: new id or None}}; bad files: errors."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DextError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DextError(f"{path} is not a JSON mapping file: {exc}") from None
    if not isinstance(data, dict):
        raise DextError(f'{path}: expected an object such as {{"suppliers": {{"12": 345}}}}')
    mapping: dict[Kind, dict[int, int | None]] = {}
    for kind_text, pairs in data.items():
        try:
            kind = Kind.parse(kind_text)
        except ValueError as exc:
            raise DextError(f"{path}: {exc}") from None
        if not isinstance(pairs, dict):
            raise DextError(f"{path}: {kind_text} must map former item ids to new item ids (or null)")
        out: dict[int, int | None] = {}
        for old, new in pairs.items():
            if not str(old).isdigit() or not (
                new is None or (isinstance(new, int) and not isinstance(new, bool))
            ):
                raise DextError(
                    f"{path}: {kind_text}: {old!r} -> {new!r} is not an item id -> item id or null"
                )
            out[int(old)] = new
        mapping[kind] = out
    return mapping


def _print_plan(plan: Any) -> None:
    for kind, state in plan.states.items():
        rows = plan.lists.get(kind, [])
        print(f"{kind.label} ({state}{f', {len(rows)} former items' if rows else ''})")
        for row in rows:
            old = printable(row.old.label)
            if row.suggestion is None:
                print(f"  {old}  ->  (no suggestion)")
            else:
                new = printable(row.suggestion.label)
                print(f"  {old}  ->  {new}  [{row.confidence:.0%}: {printable(row.reason)}]")


def _print_attention(report: Any) -> None:
    print(printable(report.summary()))
    for title, entries in (("Rules", report.rules), ("Settings", report.settings), ("Costs", report.costs)):
        if not entries:
            continue
        print(f"{title}:")
        for e in entries:
            if e.where == "rule":
                where = f"rule {e.owner} {e.field.replace('_', ' ')}"
            elif e.where == "setting":
                where = f"item {e.owner} {e.field.replace('_', ' ')}"
            else:
                where = f"cost {e.owner}{f' line {e.line}' if e.line else ''} {e.field.replace('_', ' ')}"
            print(printable(f"  {where}: {e.item.kind.singular} {e.item.label!r} is {e.problem}"))
            print(printable(f"      fix: {e.fix}"))


def _print_rules(rules: list[RuleInfo]) -> None:
    if not rules:
        print("(no rules)")
        return
    for r in rules:
        parts = [f"{name.replace('_', ' ')} {ref.label}" for name, ref in r.fields().items() if ref]
        if r.description:
            parts.append(f"description {r.description!r}")
        if r.paid is not None:
            parts.append("paid" if r.paid else "unpaid")
        if r.auto_publish != AutoPublish.NONE:
            parts.append(f"auto-publish {r.auto_publish.value}")
        line = f"{r.id:>5}  {r.scope.label} {r.target.label}: {', '.join(parts) or '(no fields set)'}"
        print(printable(line))


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
            latest = info.id if info else service.latest_connection_id(ws)
            events = service.events(latest)[-TIMELINE_SHOWN:] if latest else []
            if args.json:
                _print_json({**_status_json(ws.name, info), "timeline": [e.to_json() for e in events]})
            else:
                _print_status(ws.name, info)
                if events:
                    print("Timeline:")
                    for e in events[-5:]:
                        print(printable(f"  {_when(e.at)}  {e.to_status:<12}  {e.reason or ''}"))
            return 0
        if args.command in ("connect", "reconnect", "change"):
            provider = getattr(args, "provider", None)
            if args.command == "reconnect" and _logs_in(args):
                current = service.connection(ws)
                if current is None:
                    raise DextError(
                        f"workspace {ws.name!r} has no connection to reconnect; connect one instead"
                    )
                provider = current.provider
            if provider in CLOUD_PROVIDERS:
                result = await _log_in(service, ws, provider, args)
                if result is None:
                    return 0
                info, counts = result
            elif args.command == "connect":
                info, counts = await service.connect(ws, args.provider, args.target)
            elif args.command == "change":
                info, counts = await service.change_connection(ws, args.provider, args.target)
            else:
                info, counts = await service.reconnect(ws, args.target)
            if args.json:
                _print_json({**_status_json(ws.name, info), "refresh": [c.to_json() for c in counts]})
            else:
                verb = {"connect": "Connected", "change": "Changed"}.get(args.command, "Reconnected")
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
            if args.kind == "import":
                kind = _parse_kind(args.rest[0])
                report = service.import_items(ws, kind, Path(args.rest[1]))
                if args.json:
                    _print_json({"workspace": ws.name, **report.to_json()})
                else:
                    print(report.summary())
                return 0
            rows = service.items(ws, _parse_kind(args.kind), include_archived=args.all)
            _print_items(rows, args.json)
            return 0
        if args.command == "merge":
            return _merge_command(service, ws, args)
        if args.command == "attention":
            report = service.attention(ws)
            if args.json:
                _print_json(report.to_json())
            else:
                _print_attention(report)
            return 0
        if args.command == "snapshots":
            if args.action == "restore":
                message = service.restore_snapshot(ws, args.snapshot_id)
                if args.json:
                    _print_json({"workspace": ws.name, "restored": args.snapshot_id, "message": message})
                else:
                    print(printable(message))
                return 0
            copies = service.snapshots(ws)
            if args.json:
                _print_json({"workspace": ws.name, "snapshots": [c.to_json() for c in copies]})
            elif not copies:
                print("(no safety copies yet: one is taken on connecting, disconnecting and restoring)")
            else:
                for c in copies:
                    print(
                        printable(
                            f"{c.id:>5}  {_when(c.taken_at)}  {c.what}: {c.items:,} items, {c.rules:,} rules,"
                            f" {c.settings:,} settings"
                        )
                    )
            return 0
        if args.command == "rules":
            return _rules_command(service, ws, args)
        if args.command == "items":
            return await _items_command(service, ws, args)
        if args.command == "publish":
            return await _publish_command(service, ws, args)
        if args.command == "disconnect":
            choice = DisconnectChoice(args.choice)
            preview = service.disconnect_preview(ws)
            if choice == DisconnectChoice.MERGE_LATER and not args.yes:
                raise UsageError(f"disconnect --merge-later: {preview.describe(choice)} Add --yes to go on.")
            message = service.disconnect(ws, choice)
            if args.json:
                _print_json(
                    {
                        "workspace": ws.name,
                        "choice": choice.value,
                        "before": preview.to_json(),
                        "message": message,
                    }
                )
            else:
                print(printable(message))
            return 0
        raise UsageError(f"unknown command {args.command!r}")
    finally:
        service.close()


def _after_command(argv: list[str], command: str) -> list[str]:
    """The arguments after the command word (global options, some with a value, come before it)."""
    i = 0
    while i < len(argv) and argv[i] != command:
        arg = argv[i]  # argparse also takes an unambiguous prefix: --data DIR
        takes_value = arg[:4] in ("--da", "--wo") and any(
            o.startswith(arg) for o in ("--data-dir", "--workspace")
        )
        i += 2 if takes_value else 1
    return argv[i + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "sandbox":  # the sandbox has options of its own
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command is None:
            from dext_tui.app import run_app

            return run_app(data_dir=args.data_dir, workspace=args.workspace, demo=args.demo)
        if args.command == "sandbox":  # a server of its own: no store, no workspace
            from dext_tui.sandbox import run_sandbox

            return run_sandbox(_after_command(list(sys.argv[1:] if argv is None else argv), "sandbox"))
        _check_usage(args)  # before anything is opened or created
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
