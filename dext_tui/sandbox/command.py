"""`dext-tui sandbox`: run the sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from dext_tui.sandbox.options import SandboxOptions
from dext_tui.sandbox.server import Sandbox

DEFAULT_PORT = 8765


COUNTS: dict[str, tuple[str, str]] = {
    "--contacts": ("contacts", "Xero contacts in each organisation (default {})"),
    "--accounts": ("accounts", "Xero accounts in each organisation (default: the UK chart, about 60)"),
    "--vendors": ("vendors", "QuickBooks vendors (default {})"),
    "--customers": ("customers", "QuickBooks customers (default {})"),
    "--minute-limit": ("xero_minute_limit", "Xero calls a minute per organisation (default {})"),
    "--concurrent-limit": ("xero_concurrent_limit", "Xero calls in progress per organisation (default {})"),
    "--day-limit": ("xero_day_limit", "Xero calls a day per organisation (default {})"),
}


def build_parser(prog: str = "dext-tui sandbox") -> argparse.ArgumentParser:
    defaults = SandboxOptions()
    p = argparse.ArgumentParser(
        prog=prog,
        description="Local stand-ins for Xero and QuickBooks Online on 127.0.0.1, for trying the app and "
        "for tests. Controls: GET /_sandbox/ (see the README).",
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        metavar="N",
        help=f"seed for the organisations' data (default {defaults.seed})",
    )
    # Counts and limits: "--name": (the SandboxOptions field, help with {} for the default).
    for option, (field_name, help_text) in COUNTS.items():
        p.add_argument(
            option,
            type=int,
            default=getattr(defaults, field_name),
            metavar="N",
            help=help_text.format(getattr(defaults, field_name)),
        )
    p.add_argument(
        "--access-token-seconds",
        type=int,
        metavar="S",
        help="access token lifetime (default: Xero 1800, QuickBooks 3600)",
    )
    p.add_argument(
        "--refresh-token-days",
        type=float,
        metavar="D",
        help="refresh token lifetime (default: Xero 60, QuickBooks 101)",
    )
    p.add_argument(
        "--rate-limit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="enforce the providers' rate limits (default: on)",
    )
    p.add_argument("--quiet", action="store_true", help="do not print a line per request")
    return p


def options_from(args: argparse.Namespace) -> SandboxOptions:
    counts = {field: getattr(args, option[2:].replace("-", "_")) for option, (field, _) in COUNTS.items()}
    for option, (field, _) in COUNTS.items():
        if counts[field] < 0:
            raise ValueError(f"{option} cannot be negative")
    if args.access_token_seconds is not None and args.access_token_seconds < 1:
        raise ValueError("--access-token-seconds must be at least 1")
    if args.refresh_token_days is not None and args.refresh_token_days <= 0:
        raise ValueError("--refresh-token-days must be more than 0")
    return SandboxOptions(
        seed=args.seed,
        access_token_seconds=args.access_token_seconds,
        refresh_token_days=args.refresh_token_days,
        rate_limit=args.rate_limit,
        log_requests=not args.quiet,
        **counts,
    )


def run_sandbox(argv: Sequence[str], *, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until `stop` is set). Exit codes: 0 stopped, 1 cannot listen, 2 usage."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        options = options_from(args)
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"dext-tui sandbox: error: {exc}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print("dext-tui sandbox: error: --port must be between 0 and 65535", file=sys.stderr)
        return 2
    print("dext-tui sandbox: seeding…", file=sys.stderr, flush=True)
    sandbox = Sandbox(args.port, options)
    try:
        sandbox.start()
    except OSError as exc:
        print(
            f"dext-tui sandbox: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    previous = None
    try:
        info = sandbox.describe()
        orgs = ", ".join(f"{t['tenantName']} ({t['contacts']} contacts)" for t in info["xero"]["tenants"])
        qbo = info["quickbooks"]
        print(f"Sandbox for Xero and QuickBooks Online at {sandbox.url}")
        print(f"  Xero organisations: {orgs}")
        print(f"  QuickBooks company: {qbo['companyName']} (realmId {qbo['realmId']})")
        limits = "on" if options.rate_limit else "off"
        print(f"  rate limits {limits}; controls at {sandbox.url}/_sandbox/")
        print("Point dext-tui at it (in the shell that runs the app):")
        print(f"export DEXT_TUI_SANDBOX_URL={sandbox.url}")
        print("Ctrl-C stops it.", flush=True)
        stopper = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():  # a `kill` stops it cleanly too
            previous = signal.signal(signal.SIGTERM, lambda *_: stopper.set())
        stopper.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        sandbox.stop()
    return 0


def main() -> None:  # python -m dext_tui.sandbox
    sys.exit(run_sandbox(sys.argv[1:]))
