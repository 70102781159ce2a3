"""The sandbox behind the HTTP server: routes a request to its provider, applies injected faults, keeps
the call log, and owns the seeded data, the tokens and the clock. Thread-safe (one lock for the data;
the rate limiter and the call log have their own)."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from dext_tui.sandbox import control, quickbooks, xero
from dext_tui.sandbox._http import DropConnection, Request, Response, qbo_time
from dext_tui.sandbox.identity import token_payload
from dext_tui.sandbox.options import SEED_OPTIONS, SandboxOptions
from dext_tui.sandbox.seed import QboCompany, XeroOrg, new_uuid, seed_quickbooks, seed_xero
from dext_tui.sandbox.state import (
    QBO,
    XERO,
    CallLog,
    Fault,
    Grant,
    RateLimiter,
    TokenStore,
    make_fault,
)

Handler = Callable[["Engine", Request], Response]

ROUTES: dict[str, Handler] = {
    "login.xero.com": xero.login,
    "identity.xero.com": xero.identity_host,
    "api.xero.com": xero.api,
    "appcenter.intuit.com": quickbooks.appcenter,
    "oauth.platform.intuit.com": quickbooks.oauth,
    "developer.api.intuit.com": quickbooks.revocation,
    "quickbooks.api.intuit.com": quickbooks.api,
    "sandbox-quickbooks.api.intuit.com": quickbooks.api,
}
API_HOSTS = frozenset({"api.xero.com", "quickbooks.api.intuit.com", "sandbox-quickbooks.api.intuit.com"})
XERO_HOSTS = frozenset({"login.xero.com", "identity.xero.com", "api.xero.com"})

DEFAULT_SCOPES = {
    XERO: [
        "openid",
        "profile",
        "email",
        "accounting.settings.read",
        "accounting.contacts.read",
        "accounting.transactions",
        "offline_access",
    ],
    QBO: ["com.intuit.quickbooks.accounting"],
}


class Engine:
    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.lock = threading.RLock()
        self.limiter = RateLimiter()
        self.calls = CallLog()
        self.clock_offset = 0.0
        self.faults: list[Fault] = []
        self._fault_seq = 0
        self.xero_connect: list[str] | None = None  # tenants the next Xero authorisation connects
        self.base_url = ""  # set by the server once it listens
        self._seed()

    def _seed(self) -> None:
        self.xero_orgs: list[XeroOrg] = seed_xero(self.options)
        self.org_by_id: dict[str, XeroOrg] = {o.tenant_id: o for o in self.xero_orgs}
        self.qbo: QboCompany = seed_quickbooks(self.options)
        self.tokens = TokenStore()
        # (client id, tenant id) -> the connection (Xero's /connections): the user's, across authorisations
        self.xero_connections: dict[tuple[str, str], dict[str, Any]] = {}
        self.ids = random.Random(f"ids:{self.options.seed}")
        self.user_id = new_uuid(random.Random(f"user:{self.options.seed}"))
        self.change_round = 0

    # --- time and ids -------------------------------------------------------------------------

    def now(self) -> float:
        """The sandbox's clock: the real time plus whatever `advance_clock` added."""
        return time.time() + self.clock_offset

    def new_id(self) -> str:
        return new_uuid(self.ids)

    # --- routing ------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.host == "_sandbox":
            return control.handle(self, req)
        if req.host == "" and req.path == "/":
            return Response.json(200, self.describe())
        mirrored = f"/{req.host}{req.path}"
        handler = ROUTES.get(req.host.lower())
        if handler is None:
            response = Response.json(
                404, {"error": f"{req.host!r} is not a host the sandbox mirrors", "hosts": sorted(ROUTES)}
            )
            self.calls.record(req.method, mirrored, response.status)
            return response
        req.host = req.host.lower()
        is_api = req.host in API_HOSTS
        fault = self.take_fault(mirrored, is_api)
        if fault is not None and fault.kind == "disconnect":
            self.calls.record(req.method, mirrored, 0)
            raise DropConnection
        if fault is not None and fault.kind == "status":
            response = self.fault_response(fault, req.host)
        else:
            if fault is not None and fault.kind == "slow":
                if is_api:
                    req.delay = fault.seconds  # slept once admitted, so it counts as a call in progress
                else:
                    time.sleep(fault.seconds)
            response = handler(self, req)
            if fault is not None and fault.kind == "malformed" and response.body:
                response.body = response.body[: max(1, len(response.body) // 2)]
            elif fault is not None and fault.kind == "wrong_shape":
                response.body = _wrong_shape(response.body)
        self.calls.record(req.method, mirrored, response.status)
        return response

    def fault_response(self, fault: Fault, host: str) -> Response:
        status = fault.status
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        headers: dict[str, str] = {}
        if status == 429:
            headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 60)
            if host in XERO_HOSTS:
                headers["X-Rate-Limit-Problem"] = "minute"
        elif fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if host in ("identity.xero.com", "oauth.platform.intuit.com", "developer.api.intuit.com"):
            error = (
                "invalid_grant"
                if status == 400
                else ("temporarily_unavailable" if status == 503 else "server_error")
            )
            return Response.json(status, {"error": error}, headers)
        if host in XERO_HOSTS:
            return Response.json(
                status,
                {
                    "Type": None,
                    "Title": phrase,
                    "Status": status,
                    "Detail": "Injected by the sandbox",
                    "Instance": str(uuid.uuid4()),
                    "Extensions": {},
                },
                headers,
            )
        return Response.json(
            status,
            {
                "Fault": {
                    "Error": [{"Message": phrase, "Detail": "Injected by the sandbox", "code": str(status)}],
                    "type": "SystemFault",
                },
                "time": qbo_time(self.now(), fraction=True),
            },
            headers,
        )

    # --- authorisations -----------------------------------------------------------------------

    def xero_tenants_to_connect(self) -> list[str]:
        if self.xero_connect is None:
            return [o.tenant_id for o in self.xero_orgs]
        return list(self.xero_connect)

    def new_grant(self, provider: str, client_id: str, scopes: list[str], tenants: list[str]) -> Grant:
        """Called under the lock, when a code is exchanged (or tokens are issued by the control API)."""
        now = self.now()
        grant = Grant(
            id=self.new_id(),
            provider=provider,
            client_id=client_id,
            scopes=list(scopes),
            tenants=list(tenants),
            auth_event_id=self.new_id(),
            user_id=self.user_id,
            created=now,
        )
        self.tokens.grants.append(grant)
        if provider == XERO:
            for tenant in tenants:
                key = (client_id, tenant)
                old = self.xero_connections.get(key)
                self.xero_connections[key] = {
                    "id": old["id"] if old else self.new_id(),
                    "authEventId": grant.auth_event_id,
                    "tenantId": tenant,
                    "tenantName": self.org_by_id[tenant].name,
                    "created": old["created"] if old else now,
                    "updated": now,
                }
        return grant

    def revoke_grant(self, grant: Grant) -> None:
        self.tokens.revoke_grant(grant)
        if grant.provider == XERO:
            for key, conn in list(self.xero_connections.items()):
                if key[0] == grant.client_id and conn["authEventId"] == grant.auth_event_id:
                    del self.xero_connections[key]

    # --- controls (also the Python API of `Sandbox`) ------------------------------------------

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                "sandbox": "dext-tui",
                "url": self.base_url,
                "env": f"export DEXT_TUI_SANDBOX_URL={self.base_url}",
                "xero": {
                    "tenants": [
                        {
                            "tenantId": o.tenant_id,
                            "tenantName": o.name,
                            "contacts": len(o.contacts),
                            "accounts": len(o.accounts),
                            "invoices": len(o.invoices),
                        }
                        for o in self.xero_orgs
                    ],
                    "connect_next": self.xero_tenants_to_connect(),
                    "connections": len(self.xero_connections),
                },
                "quickbooks": {
                    "realmId": self.qbo.realm_id,
                    "companyName": self.qbo.name,
                    "counts": {kind: len(items) for kind, items in sorted(self.qbo.entities.items())},
                },
                "options": self.options.to_json(),
                "clock_offset_seconds": self.clock_offset,
                "faults": [f.to_json() for f in self.faults],
                "calls_total": self.calls.total,
                "controls": control.CONTROLS,
            }

    def set_options(self, changes: dict[str, Any]) -> dict[str, Any]:
        reseed = sorted(set(changes) & SEED_OPTIONS)
        if reseed:
            raise ValueError(f"{', '.join(reseed)}: seeded data; use the reset control with these options")
        with self.lock:
            trial = SandboxOptions(**self.options.to_json())
            trial.update(changes)  # all or nothing
            self.options.update(changes)
            return self.options.to_json()

    def reset(self, options: dict[str, Any] | None = None) -> None:
        with self.lock:
            if options:
                trial = SandboxOptions(**self.options.to_json())
                trial.update(options)
                self.options.update(options)
            self.faults.clear()
            self.clock_offset = 0.0
            self.xero_connect = None
            self._seed()
        self.limiter.reset()
        self.calls.reset()

    def advance_clock(self, seconds: float) -> float:
        with self.lock:
            self.clock_offset += float(seconds)
            return self.clock_offset

    def revoke_all_tokens(self) -> int:
        with self.lock:
            count = self.tokens.revoke_all()
            self.xero_connections.clear()
            return count

    def expire_tokens(self, *, refresh: bool = False) -> int:
        with self.lock:
            return self.tokens.expire(self.now(), refresh=refresh)

    def issue_tokens(
        self,
        provider: str,
        *,
        client_id: str = "sandbox-client",
        scopes: list[str] | None = None,
        tenants: list[str] | None = None,
    ) -> dict[str, Any]:
        """Tokens without the browser round trip (benchmarks, quick trials): the token endpoint's answer,
        plus `tenants` (Xero) or `realmId` (QuickBooks)."""
        if provider not in (XERO, QBO):
            raise ValueError("provider must be 'xero' or 'quickbooks'")
        with self.lock:
            if provider == XERO:
                chosen = self.resolve_tenants(tenants) if tenants else self.xero_tenants_to_connect()
            else:
                chosen = [self.qbo.realm_id]
            grant = self.new_grant(provider, client_id, scopes or DEFAULT_SCOPES[provider], chosen)
            now = self.now()
            issued = self.tokens.issue(grant, now, self.options)
        payload = token_payload(self, grant, issued, now)
        if provider == XERO:
            payload["tenants"] = chosen
        else:
            payload["realmId"] = self.qbo.realm_id
        return payload

    def resolve_tenants(self, wanted: list[str]) -> list[str]:
        """Tenant ids from ids or names. Raises ValueError for one the sandbox does not have."""
        out = []
        for item in wanted:
            match = [
                o.tenant_id for o in self.xero_orgs if item.lower() in (o.tenant_id.lower(), o.name.lower())
            ]
            if not match:
                raise ValueError(f"no Xero organisation {item!r}")
            out.append(match[0])
        return out

    def set_xero_connect(self, tenants: list[str] | None) -> list[str]:
        with self.lock:
            self.xero_connect = None if tenants is None else self.resolve_tenants(tenants)
            return self.xero_tenants_to_connect()

    def add_fault(self, spec: dict[str, Any]) -> Fault:
        with self.lock:
            self._fault_seq += 1
            fault = make_fault(self._fault_seq, spec)
            self.faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, mirrored_path: str, is_api: bool) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(mirrored_path, is_api):
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def apply_changes(self, spec: dict[str, Any]) -> dict[str, Any]:
        provider = spec.get("provider", XERO)
        with self.lock:
            self.change_round += 1
            if provider == XERO:
                return xero.apply_changes(self, spec)
            if provider == QBO:
                return quickbooks.apply_changes(self, spec)
        raise ValueError("provider must be 'xero' or 'quickbooks'")


def _wrong_shape(body: bytes) -> bytes:
    """The same answer with its first list replaced by a string (or `[]` when it has no list)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body

    def swap(node: Any) -> bool:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, list):
                    node[key] = "unexpected"
                    return True
                if swap(value):
                    return True
        return False

    if isinstance(payload, list) or not swap(payload):
        payload = {"unexpected": True} if isinstance(payload, list) else []
    return json.dumps(payload).encode("utf-8")
