"""The sandbox's moving parts: authorisations and tokens, rate limits, injected faults, the call log."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from dext_tui.sandbox.options import SandboxOptions

XERO = "xero"
QBO = "quickbooks"
CODE_SECONDS = 300  # an authorisation code must be exchanged within 5 minutes


def digest(token: str) -> str:
    """Tokens are kept by their hash only: the sandbox never holds (or logs) one in clear."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())


@dataclass
class Grant:
    """One completed authorisation: what its tokens may reach."""

    id: str
    provider: str
    client_id: str
    scopes: list[str]
    tenants: list[str]  # Xero: connected tenant ids; QuickBooks: [realmId]
    auth_event_id: str
    user_id: str
    created: float
    revoked: bool = False


@dataclass
class TokenRecord:
    grant: Grant
    kind: str  # "access" | "refresh"
    expires_at: float
    used: bool = False  # a refresh token, once exchanged (rotation)


@dataclass
class PendingCode:
    provider: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    code_challenge: str | None
    challenge_method: str
    tenants: list[str]
    expires_at: float
    used: bool = False


class TokenStore:
    """Codes, grants and tokens. Every method is called under the sandbox lock."""

    def __init__(self) -> None:
        self.codes: dict[str, PendingCode] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.grants: list[Grant] = []

    def new_code(self, pending: PendingCode) -> str:
        code = secrets.token_urlsafe(32)
        self.codes[digest(code)] = pending
        return code

    def take_code(self, code: str) -> PendingCode | None:
        return self.codes.get(digest(code))

    def issue(self, grant: Grant, now: float, options: SandboxOptions) -> dict[str, str | int]:
        """New access and refresh tokens for `grant`; returns the clear tokens and their lifetimes."""
        access_seconds = options.access_seconds(grant.provider)
        refresh_seconds = options.refresh_seconds(grant.provider)
        if grant.provider == XERO:
            access = fake_jwt(
                {
                    "nbf": int(now),
                    "exp": int(now + access_seconds),
                    "iss": "https://identity.xero.com",
                    "aud": "https://identity.xero.com/resources",
                    "client_id": grant.client_id,
                    "sub": grant.user_id,
                    "auth_time": int(grant.created),
                    "xero_userid": grant.user_id,
                    "global_session_id": grant.auth_event_id.replace("-", ""),
                    "sid": grant.id.replace("-", ""),
                    "jti": secrets.token_hex(16),
                    "authentication_event_id": grant.auth_event_id,
                    "scope": grant.scopes,
                }
            )
            refresh = secrets.token_hex(32)
        else:
            access = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(180)
            refresh = "AB11" + str(int(now + refresh_seconds)) + secrets.token_urlsafe(30)
        self.tokens[digest(access)] = TokenRecord(grant, "access", now + access_seconds)
        out: dict[str, str | int] = {"access_token": access, "expires_in": access_seconds}
        if grant.provider == QBO or "offline_access" in grant.scopes:
            self.tokens[digest(refresh)] = TokenRecord(grant, "refresh", now + refresh_seconds)
            out["refresh_token"] = refresh
            out["refresh_expires_in"] = int(refresh_seconds)
        return out

    def lookup(self, token: str) -> TokenRecord | None:
        return self.tokens.get(digest(token))

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True

    def revoke_all(self) -> int:
        live = [g for g in self.grants if not g.revoked]
        for grant in live:
            self.revoke_grant(grant)
        for pending in self.codes.values():
            pending.used = True
        return len(live)

    def expire(self, now: float, *, refresh: bool) -> int:
        count = 0
        for record in self.tokens.values():
            if (record.kind == "access" or refresh) and record.expires_at > now:
                record.expires_at = now - 1
                count += 1
        return count


def fake_jwt(payload: dict[str, Any]) -> str:
    """A token shaped like Xero's (a JWT whose payload can be read); its signature is not a real one."""
    header = {"alg": "RS256", "kid": "1CAF8E66772D6DC028D6726FD0261581570EFC19", "typ": "JWT"}
    parts = [b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, payload)]
    return ".".join([*parts, b64url(secrets.token_bytes(64))])


# --- rate limits ---------------------------------------------------------------------------------


@dataclass
class Admission:
    ok: bool
    problem: str = ""  # minute | day | appminute | concurrent
    retry_after: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """Per-tenant call windows and calls in progress, with their own lock (independent of the data)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute: dict[str, deque[float]] = {}
        self._day: dict[str, deque[float]] = {}
        self._app: dict[str, deque[float]] = {}
        self._in_flight: Counter[str] = Counter()

    def reset(self) -> None:
        with self._lock:
            self._minute.clear()
            self._day.clear()
            self._app.clear()
            self._in_flight.clear()

    def admit(self, provider: str, key: str, options: SandboxOptions) -> Admission:
        """Count a call against `key`'s limits; a refused call is not counted. An admitted call must be
        `release`d when answered."""
        now = time.monotonic()
        if provider == XERO:
            minute_limit, concurrent = options.xero_minute_limit, options.xero_concurrent_limit
            day_limit, app_limit = options.xero_day_limit, options.xero_app_minute_limit
        else:
            minute_limit, concurrent = options.qbo_minute_limit, options.qbo_concurrent_limit
            day_limit, app_limit = 0, 0
        with self._lock:
            minute = _trim(self._minute.setdefault(key, deque()), now - 60)
            day = _trim(self._day.setdefault(key, deque()), now - 86400)
            app = _trim(self._app.setdefault(provider, deque()), now - 60)
            if options.rate_limit:
                if concurrent and self._in_flight[key] >= concurrent:
                    return Admission(False, "concurrent", 1.0)
                if day_limit and len(day) >= day_limit:
                    return Admission(False, "day", day[0] + 86400 - now)
                if app_limit and len(app) >= app_limit:
                    return Admission(False, "appminute", app[0] + 60 - now)
                if minute_limit and len(minute) >= minute_limit:
                    return Admission(False, "minute", minute[0] + 60 - now)
            minute.append(now)
            day.append(now)
            app.append(now)
            self._in_flight[key] += 1
            headers = {}
            if provider == XERO:
                headers = {
                    "X-DayLimit-Remaining": str(max(0, day_limit - len(day))),
                    "X-MinLimit-Remaining": str(max(0, minute_limit - len(minute))),
                    "X-AppMinLimit-Remaining": str(max(0, app_limit - len(app))),
                }
            return Admission(True, headers=headers)

    def release(self, key: str) -> None:
        with self._lock:
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]

    def in_flight(self) -> dict[str, int]:
        with self._lock:
            return dict(self._in_flight)


def _trim(window: deque[float], before: float) -> deque[float]:
    while window and window[0] <= before:
        window.popleft()
    return window


# --- injected faults -------------------------------------------------------------------------------

FAULT_KINDS = ("status", "slow", "malformed", "wrong_shape", "disconnect")


@dataclass
class Fault:
    id: int
    kind: str
    count: int  # calls left to affect; -1 = until cleared
    status: int = 503
    seconds: float = 0.0
    path: str = ""  # a part of "/HOST/PATH" the call must contain; "" = the API calls (not identity)
    retry_after: int | None = None

    def matches(self, mirrored_path: str, is_api: bool) -> bool:
        if self.path:
            return self.path.lower() in mirrored_path.lower()
        return is_api

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "count": self.count,
            "status": self.status,
            "seconds": self.seconds,
            "path": self.path,
            "retry_after": self.retry_after,
        }


def make_fault(fault_id: int, spec: dict[str, Any]) -> Fault:
    """A fault from its JSON description. Raises ValueError on a bad one."""
    kind = spec.get("kind", "status")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    count = spec.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count == 0 or count < -1:
        raise ValueError("count must be a positive whole number (or -1: until cleared)")
    status = spec.get("status", 503)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError("status must be an HTTP status")
    seconds = spec.get("seconds", 2.0 if kind == "slow" else 0.0)
    if not isinstance(seconds, int | float) or seconds < 0 or seconds > 600:
        raise ValueError("seconds must be between 0 and 600")
    path = spec.get("path", "") or ""
    if not isinstance(path, str):
        raise ValueError("path must be text")
    retry = spec.get("retry_after")
    if retry is not None and (not isinstance(retry, int) or retry < 0):
        raise ValueError("retry_after must be a whole number of seconds")
    return Fault(fault_id, kind, count, status, float(seconds), path, retry)


class CallLog:
    """How many calls each path had, and the latest calls (method, path without its query, status)."""

    RECENT = 500

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_path: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=self.RECENT)
        self.total = 0

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            key = f"{method} {path}"
            self.by_path[key] += 1
            self.by_status[status] += 1
            self.total += 1
            self.recent.append({"method": method, "path": path, "status": status})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_path": dict(sorted(self.by_path.items())),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "recent": list(self.recent),
            }

    def reset(self) -> None:
        with self._lock:
            self.by_path.clear()
            self.by_status.clear()
            self.recent.clear()
            self.total = 0
