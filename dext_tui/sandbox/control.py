"""The control API under `/_sandbox/` (JSON in, JSON out). See the package docstring for each control."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dext_tui.sandbox import quickbooks_bills, xero
from dext_tui.sandbox._http import Request, Response

if TYPE_CHECKING:
    from dext_tui.sandbox.engine import Engine

CONTROLS = [
    "GET    /_sandbox/                  what is seeded, options, faults, call total",
    "GET    /_sandbox/options           the options",
    "POST   /_sandbox/options           change options: {name: value, ...}",
    'POST   /_sandbox/reset             back to the seeded state: {"options": {...}} optional',
    "POST   /_sandbox/tokens/revoke     revoke every authorisation (401s, invalid_grant)",
    'POST   /_sandbox/tokens/expire     expire access tokens now: {"refresh": true} also refresh tokens',
    'POST   /_sandbox/tokens/issue      tokens without the browser: {"provider": "xero"|"quickbooks"}',
    'POST   /_sandbox/clock             move the sandbox clock: {"advance_seconds": N}',
    'POST   /_sandbox/xero/connect      tenants the next Xero authorisation connects: {"tenants": [...]}',
    'POST   /_sandbox/xero/lockdate     lock dates: {"date": "YYYY-MM-DD"|null, "end_of_year"?, "tenant"?}',
    "GET    /_sandbox/xero/invoices     the invoices and bills written (status, payments), all organisations",
    'POST   /_sandbox/xero/account      archive/restore: {"code", "status": "ARCHIVED"|"ACTIVE", "tenant"?}',
    'POST   /_sandbox/quickbooks/lockdate  the book close date: {"date": "YYYY-MM-DD"|null}',
    'POST   /_sandbox/quickbooks/multicurrency  multicurrency on or off: {"enabled": true|false}',
    "GET    /_sandbox/quickbooks/bills  the bills created (Balance) and the bill payments",
    "GET    /_sandbox/faults            the faults waiting",
    'POST   /_sandbox/faults            add a fault: {"kind", "count", "status", "seconds", "path"}',
    "DELETE /_sandbox/faults            clear the faults",
    'POST   /_sandbox/changes           change seeded lists: {"provider", "contacts": {"add": 2}, ...}',
    "GET    /_sandbox/calls             calls per path and status, the latest calls",
    "DELETE /_sandbox/calls             reset the call log",
]


def _error(status: int, message: str) -> Response:
    return Response.json(status, {"error": message})


def handle(engine: Engine, req: Request) -> Response:
    path = req.path.rstrip("/").lower() or "/"
    method = req.method
    try:
        body: Any = req.json() if req.body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return _error(400, "the body must be JSON")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    try:
        return _route(engine, method, path, body)
    except ValueError as exc:
        return _error(400, str(exc))


def _route(engine: Engine, method: str, path: str, body: dict[str, Any]) -> Response:
    if path == "/" and method == "GET":
        return Response.json(200, engine.describe())
    if path == "/options":
        if method == "GET":
            return Response.json(200, {"options": engine.options.to_json()})
        if method == "POST":
            return Response.json(200, {"options": engine.set_options(body)})
    if path == "/reset" and method == "POST":
        options = body.get("options")
        if options is not None and not isinstance(options, dict):
            raise ValueError("options must be an object")
        engine.reset(options)
        return Response.json(200, engine.describe())
    if path == "/tokens/revoke" and method == "POST":
        return Response.json(200, {"revoked": engine.revoke_all_tokens()})
    if path == "/tokens/expire" and method == "POST":
        refresh = body.get("refresh", False)
        if not isinstance(refresh, bool):
            raise ValueError("refresh takes true or false")
        return Response.json(200, {"expired": engine.expire_tokens(refresh=refresh)})
    if path == "/tokens/issue" and method == "POST":
        scopes = body.get("scope")
        tenants = body.get("tenants")
        if scopes is not None and not isinstance(scopes, str):
            raise ValueError("scope is a space-separated text")
        if tenants is not None and not (
            isinstance(tenants, list) and all(isinstance(t, str) for t in tenants)
        ):
            raise ValueError("tenants is a list of tenant ids or names")
        payload = engine.issue_tokens(
            str(body.get("provider", "")),
            client_id=str(body.get("client_id") or "sandbox-client"),
            scopes=scopes.split() if scopes else None,
            tenants=tenants,
        )
        return Response.json(200, payload, {"Cache-Control": "no-store"})
    if path == "/clock" and method == "POST":
        seconds = body.get("advance_seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError("advance_seconds takes a number")
        offset = engine.advance_clock(seconds)
        return Response.json(200, {"offset_seconds": offset, "now": engine.now()})
    if path == "/xero/connect" and method == "POST":
        tenants = body.get("tenants")
        if tenants is not None and not (
            isinstance(tenants, list) and all(isinstance(t, str) for t in tenants)
        ):
            raise ValueError("tenants is a list of tenant ids or names, or null for all")
        return Response.json(200, {"connect_next": engine.set_xero_connect(tenants)})
    if path == "/xero/lockdate" and method == "POST":
        return Response.json(200, xero.set_lock_date(engine, body))
    if path == "/xero/account" and method == "POST":
        return Response.json(200, xero.set_account_status(engine, body))
    if path == "/xero/invoices" and method == "GET":
        return Response.json(200, xero.published_invoices(engine))
    if path == "/quickbooks/lockdate" and method == "POST":
        return Response.json(200, quickbooks_bills.set_lock_date(engine, body.get("date")))
    if path == "/quickbooks/multicurrency" and method == "POST":
        return Response.json(200, quickbooks_bills.set_multicurrency(engine, body.get("enabled")))
    if path == "/quickbooks/bills" and method == "GET":
        return Response.json(200, quickbooks_bills.list_bills(engine))
    if path == "/faults":
        if method == "GET":
            return Response.json(200, {"faults": [f.to_json() for f in engine.faults]})
        if method == "POST":
            specs = body.get("faults", [body]) if "faults" in body else [body]
            if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
                raise ValueError("faults is a list of objects")
            added = [engine.add_fault(spec).to_json() for spec in specs]
            return Response.json(200, {"added": added, "faults": [f.to_json() for f in engine.faults]})
        if method == "DELETE":
            engine.clear_faults()
            return Response.json(200, {"faults": []})
    if path == "/changes" and method == "POST":
        return Response.json(200, engine.apply_changes(body))
    if path == "/calls":
        if method == "GET":
            return Response.json(200, engine.calls.snapshot())
        if method == "DELETE":
            engine.calls.reset()
            return Response.json(200, engine.calls.snapshot())
    if path == "/calls/reset" and method == "POST":
        engine.calls.reset()
        return Response.json(200, engine.calls.snapshot())
    return Response.json(404, {"error": f"no control {method} /_sandbox{path}", "controls": CONTROLS})
