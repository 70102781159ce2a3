"""The sandbox's small HTTP vocabulary: a parsed request, a response, and the providers' date formats."""

from __future__ import annotations

import email.utils
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

try:  # QuickBooks stamps its answers in Pacific time
    from zoneinfo import ZoneInfo

    PACIFIC: Any = ZoneInfo("America/Los_Angeles")
except Exception:  # pragma: no cover - no tz database on this machine
    PACIFIC = timezone(timedelta(hours=-8))

JSON_UTF8 = "application/json; charset=utf-8"


class DropConnection(Exception):
    """Raised by a handler to close the connection without answering (an injected network failure)."""


@dataclass
class Request:
    method: str
    host: str  # the mirrored host, e.g. "api.xero.com" ("_sandbox" for the control API)
    path: str  # the rest of the path, from its "/"
    query: dict[str, list[str]]
    headers: Message
    body: bytes = b""
    delay: float = 0.0  # an injected slow answer: seconds to wait once the call is admitted

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A query parameter (the first value), matched without regard to case as Xero does."""
        wanted = name.lower()
        for key, values in self.query.items():
            if key.lower() == wanted and values:
                return values[0]
        return default

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value.strip() if isinstance(value, str) else None

    def form(self) -> dict[str, str]:
        text = self.body.decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items() if v}

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        return json.loads(self.body.decode("utf-8"))

    def bearer(self) -> str | None:
        value = self.header("Authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = JSON_UTF8

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        *,
        content_type: str = JSON_UTF8,
    ) -> Response:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return cls(status, body, dict(headers or {}), content_type)

    @classmethod
    def text(
        cls,
        status: int,
        text: str,
        headers: dict[str, str] | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> Response:
        return cls(status, text.encode("utf-8"), dict(headers or {}), content_type)

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}), None)


# --- dates --------------------------------------------------------------------------------------


def ms(ts: float) -> int:
    """Milliseconds, rounded down (so a change is never stamped later than the moment it was made)."""
    return math.floor(ts * 1000)


def xero_ms_date(milliseconds: int) -> str:
    """Xero's .NET JSON date, e.g. `/Date(1573755038314+0000)/`."""
    return f"/Date({milliseconds}+0000)/"


def xero_day(day: str) -> str:
    """A calendar day (YYYY-MM-DD) as Xero's .NET date at midnight UTC."""
    when = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return xero_ms_date(ms(when.timestamp()))


def xero_connection_time(ts: float) -> str:
    """The identity API's timestamps: `2019-12-07T18:46:19.5165400` (UTC, 7 decimals, no zone)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def xero_expiry_text(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%m/%d/%Y %H:%M:%S")


def qbo_time(ts: float, *, fraction: bool = False) -> str:
    """QuickBooks' ISO times, in Pacific time with the offset: `2024-05-01T10:12:13-07:00`."""
    when = datetime.fromtimestamp(ts, PACIFIC)
    return when.isoformat(timespec="milliseconds" if fraction else "seconds")


def parse_http_time(value: str | None) -> float | None:
    """An `If-Modified-Since` value: ISO 8601 (with or without a zone; UTC without) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def parse_qbo_time(value: str) -> float | None:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=PACIFIC)
    return when.timestamp()


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
