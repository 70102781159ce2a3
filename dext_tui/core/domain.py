"""Plain domain types shared by the store, the connectors, the CLI and the screens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple


class Kind(StrEnum):
    CATEGORIES = "categories"
    SUPPLIERS = "suppliers"
    CUSTOMERS = "customers"
    TAX_CODES = "tax_codes"
    BANK_ACCOUNTS = "bank_accounts"
    TRACKING = "tracking"
    CURRENCIES = "currencies"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]

    @property
    def cli_name(self) -> str:
        return self.value.replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> Kind:
        """Accept `tax-codes`, `tax_codes` or `Tax codes`; raise ValueError naming the valid kinds."""
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(key)
        except ValueError:
            valid = ", ".join(k.cli_name for k in cls)
            raise ValueError(f"unknown list {text!r}; choose one of: {valid}") from None


KIND_LABELS: dict[Kind, str] = {
    Kind.CATEGORIES: "Categories",
    Kind.SUPPLIERS: "Suppliers",
    Kind.CUSTOMERS: "Customers",
    Kind.TAX_CODES: "Tax codes",
    Kind.BANK_ACCOUNTS: "Bank accounts",
    Kind.TRACKING: "Tracking",
    Kind.CURRENCIES: "Currencies",
}

ALL_KINDS: tuple[Kind, ...] = tuple(Kind)

DEFAULT_WORKSPACE = "Default"
DEMO_WORKSPACE = "Demo"


MAX_WORKSPACE_NAME = 100


def normalise_workspace_name(name: str) -> str:
    return " ".join(name.split())


def workspace_name_problem(name: str) -> str | None:
    """Why `name` (normalised) cannot name a workspace, or None when it can."""
    if not name:
        return "a workspace name cannot be empty"
    if len(name) > MAX_WORKSPACE_NAME:
        return f"a workspace name is at most {MAX_WORKSPACE_NAME} characters"
    return None


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    EXPIRED = "expired"
    DISCONNECTED = "disconnected"


class ItemStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


def utcnow() -> datetime:
    """Aware UTC 'now', to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def as_utc(value: datetime | None) -> datetime | None:
    """Values read back from SQLite may be naive UTC: make them aware."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """Stable ISO-8601 text for JSON output: `2026-11-25T16:53:14Z`."""
    value = as_utc(value)
    return None if value is None else value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


class RemoteItem(NamedTuple):
    """One list item as the accounting software reports it (a tuple: 100,000 of them are cheap)."""

    remote_id: str
    code: str | None
    name: str
    status: ItemStatus = ItemStatus.ACTIVE
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One stored list item, as the CLI and the screens see it."""

    id: int
    kind: Kind
    code: str | None
    name: str
    status: str
    remote_id: str | None
    origin: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.cli_name,
            "code": self.code,
            "name": self.name,
            "status": self.status,
            "remote_id": self.remote_id,
            "origin": self.origin,
        }


@dataclass(frozen=True, slots=True)
class ListCounts:
    """What a refresh did to one list."""

    kind: Kind
    added: int = 0
    changed: int = 0
    archived: int = 0
    restored: int = 0
    total: int = 0
    unchanged_source: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        """`Suppliers: 3 added, 1 archived` (or `no changes`)."""
        if self.error:
            return f"{self.kind.label}: failed ({self.error})"
        parts = [
            f"{n} {word}"
            for n, word in (
                (self.added, "added"),
                (self.changed, "changed"),
                (self.archived, "archived"),
                (self.restored, "restored"),
            )
            if n
        ]
        return f"{self.kind.label}: {', '.join(parts) if parts else 'no changes'}"

    def to_json(self) -> dict[str, Any]:
        return {
            "list": self.kind.cli_name,
            "added": self.added,
            "changed": self.changed,
            "archived": self.archived,
            "restored": self.restored,
            "total": self.total,
            "unchanged_source": self.unchanged_source,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ListSyncInfo:
    kind: Kind
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    total: int
    error: str | None


@dataclass(frozen=True, slots=True)
class ConnectionEventInfo:
    """One entry of a connection's timeline."""

    at: datetime
    from_status: str | None
    to_status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """The workspace's current connection, as the Integration page shows it."""

    id: int
    workspace: str
    provider: str
    target: str | None
    tenant_name: str | None
    status: ConnectionStatus
    status_reason: str | None
    connected_at: datetime | None
    last_refreshed_at: datetime | None
    expires_at: datetime | None
    generation: int
    lists: tuple[ListSyncInfo, ...] = field(default=())

    @property
    def provider_label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, self.provider)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "target": self.target,
            "organisation": self.tenant_name,
            "status": self.status.value,
            "reason": self.status_reason,
            "connected_at": iso(self.connected_at),
            "last_refreshed_at": iso(self.last_refreshed_at),
            "expires_at": iso(self.expires_at),
            "lists": {
                s.kind.cli_name: {
                    "items": s.total,
                    "last_success_at": iso(s.last_success_at),
                    "error": s.error,
                }
                for s in self.lists
            },
        }


@dataclass(frozen=True, slots=True)
class RefreshEvent:
    """Progress of a refresh: `reading` (all lists), then per list `applying` and `done` or `failed`."""

    state: str
    kind: Kind | None = None
    counts: ListCounts | None = None
    message: str | None = None


ProgressFn = Callable[[RefreshEvent], None]

PROVIDER_LABELS = {"beancount": "Beancount", "xero": "Xero", "quickbooks": "QuickBooks Online"}
