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

    @property
    def singular(self) -> str:
        """One item of the list, in a sentence: "category", "tax code"."""
        return {
            "categories": "category",
            "tax_codes": "tax code",
            "bank_accounts": "bank account",
            "tracking": "tracking option",
            "currencies": "currency",
        }.get(self.value, self.value.rstrip("s"))

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
    visible: bool = True
    default_tax_code_id: int | None = None
    rules: int = 0  # how many rules use this item (as target or in a field)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.cli_name,
            "code": self.code,
            "name": self.name,
            "status": self.status,
            "remote_id": self.remote_id,
            "origin": self.origin,
            "visible": self.visible,
            "default_tax_code_id": self.default_tax_code_id,
            "rules": self.rules,
        }


# -- rules ----------------------------------------------------------------------------------------


class RuleScope(StrEnum):
    SUPPLIER = "supplier"
    CUSTOMER = "customer"
    PAYMENT_METHOD = "payment_method"

    @property
    def target_kind(self) -> Kind:
        return {
            RuleScope.SUPPLIER: Kind.SUPPLIERS,
            RuleScope.CUSTOMER: Kind.CUSTOMERS,
            RuleScope.PAYMENT_METHOD: Kind.BANK_ACCOUNTS,
        }[self]

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def cli_name(self) -> str:
        return self.value.replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> RuleScope:
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(key)
        except ValueError:
            valid = ", ".join(s.cli_name for s in cls)
            raise ValueError(f"unknown rule scope {text!r}; choose one of: {valid}") from None


class AutoPublish(StrEnum):
    ALWAYS = "always"
    NEVER = "never"
    NONE = "none"  # not set: the workspace's default applies


# The item fields of a rule: attribute name -> the list its value comes from.
RULE_FIELDS: dict[str, Kind] = {
    "category": Kind.CATEGORIES,
    "tax_code": Kind.TAX_CODES,
    "bank_account": Kind.BANK_ACCOUNTS,
    "tracking": Kind.TRACKING,
    "currency": Kind.CURRENCIES,
}


@dataclass(frozen=True, slots=True)
class ItemRef:
    """A list item as a rule shows it."""

    id: int
    code: str | None
    name: str
    status: str = "active"

    @property
    def label(self) -> str:
        return f"{self.code} · {self.name}" if self.code and self.code != self.name else self.name

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code, "name": self.name}


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule says, by item ids (the service checks every id belongs to the right list)."""

    scope: RuleScope
    target_id: int
    category_id: int | None = None
    tax_code_id: int | None = None
    bank_account_id: int | None = None
    tracking_id: int | None = None
    currency_id: int | None = None
    description: str | None = None
    paid: bool | None = None
    auto_publish: AutoPublish = AutoPublish.NONE

    def field_ids(self) -> dict[str, int | None]:
        return {name: getattr(self, f"{name}_id") for name in RULE_FIELDS}


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: int
    scope: RuleScope
    target: ItemRef
    category: ItemRef | None = None
    tax_code: ItemRef | None = None
    bank_account: ItemRef | None = None
    tracking: ItemRef | None = None
    currency: ItemRef | None = None
    description: str | None = None
    paid: bool | None = None
    auto_publish: AutoPublish = AutoPublish.NONE

    def spec(self) -> RuleSpec:
        ids = {f"{name}_id": (ref.id if ref else None) for name, ref in self.fields().items()}
        return RuleSpec(
            self.scope,
            self.target.id,
            description=self.description,
            paid=self.paid,
            auto_publish=self.auto_publish,
            **ids,
        )

    def fields(self) -> dict[str, ItemRef | None]:
        return {name: getattr(self, name) for name in RULE_FIELDS}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "scope": self.scope.cli_name, "target": self.target.to_json()}
        for name, ref in self.fields().items():
            out[name] = ref.to_json() if ref else None
        out["description"] = self.description
        out["paid"] = self.paid
        out["auto_publish"] = self.auto_publish.value
        return out


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

    def to_json(self) -> dict[str, Any]:
        return {"at": iso(self.at), "from": self.from_status, "to": self.to_status, "reason": self.reason}


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
    recent: tuple[ConnectionEventInfo, ...] = field(default=())  # the latest timeline events, newest first
    to_merge: tuple[Kind, ...] = field(default=())  # after Change connection: lists still to merge

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
class MergeRow:
    """One former item in the Merge lists plan, with the new item suggested for it."""

    old: ItemRef
    suggestion: ItemRef | None
    confidence: float
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old.to_json(),
            "suggestion": self.suggestion.to_json() if self.suggestion else None,
            "confidence": self.confidence,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MergePlan:
    """After Change connection: per list still to merge, each former item and its suggestion."""

    lists: dict[Kind, list[MergeRow]]
    states: dict[Kind, str]  # pending | left | skipped | merged, for every list that had former items
    # what set the old items aside: change (of connection) | connect (own lists) | reinstate | restore
    origin: str = "change"

    def to_json(self) -> dict[str, Any]:
        return {
            "lists": {k.cli_name: [r.to_json() for r in rows] for k, rows in self.lists.items()},
            "states": {k.cli_name: state for k, state in self.states.items()},
        }


@dataclass(slots=True)
class MergeDraft:
    """The Merge lists wizard's unsaved work, kept in the store so that quitting half-way resumes there.

    `choices[kind][old_id]` is the new item chosen for a former item, or None when the user left it as a
    former item; an item without an entry is undecided (its suggestion, if any, is only shown).
    `skipped` lists skipped as a whole; `step` is where the user was ("intro", a kind's value, "summary").
    """

    step: str = "intro"
    choices: dict[Kind, dict[int, int | None]] = field(default_factory=dict)
    skipped: set[Kind] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "choices": {k.value: {str(o): n for o, n in c.items()} for k, c in self.choices.items() if c},
            "skipped": sorted(k.value for k in self.skipped),
        }

    @classmethod
    def from_json(cls, data: Any) -> MergeDraft:
        """Lenient: a draft is only a convenience, so anything unreadable in it is dropped."""
        draft = cls()
        if not isinstance(data, dict):
            return draft
        if isinstance(data.get("step"), str):
            draft.step = data["step"]
        kinds = {k.value: k for k in Kind}
        for kind_value, pairs in (data.get("choices") or {}).items():
            if kind_value in kinds and isinstance(pairs, dict):
                draft.choices[kinds[kind_value]] = {
                    int(o): n
                    for o, n in pairs.items()
                    if str(o).isdigit() and (n is None or (isinstance(n, int) and not isinstance(n, bool)))
                }
        draft.skipped = {kinds[k] for k in data.get("skipped") or [] if k in kinds}
        return draft


class DisconnectChoice(StrEnum):
    KEEP = "keep"  # keep the current lists (now the workspace's own); rules and settings stay
    REINSTATE = "reinstate"  # restore the lists, rules and settings from before integrating
    MERGE_LATER = "merge-later"  # keep the lists; remove every rule and manual setting


@dataclass(frozen=True, slots=True)
class DisconnectPreview:
    """What each Disconnect choice would touch, shown before the user confirms."""

    provider_label: str
    tenant_name: str | None
    items: int  # in the current lists
    rules: int
    settings: int  # items with a manual setting (hidden, a default tax code)
    snapshot_taken_at: datetime | None  # the pre-integration snapshot, if there is one
    snapshot_items: int = 0
    snapshot_rules: int = 0
    snapshot_id: int | None = None
    to_merge: int = 0  # old items Merge lists still offers (they still hold rules, settings or costs)

    def _merge_note(self, choice: DisconnectChoice) -> str:
        if not self.to_merge:
            return ""
        onto = "the reinstated lists" if choice == DisconnectChoice.REINSTATE else "the kept lists"
        return (
            f" The merge still to do ({self.to_merge:,} former items) is carried: Merge lists keeps"
            f" offering them, to map onto {onto}."
        )

    def describe(self, choice: DisconnectChoice) -> str:
        if choice == DisconnectChoice.KEEP:
            return (
                f"Keeps the {self.items:,} items of the current lists as your own, and all {self.rules:,}"
                f" rules and {self.settings:,} item settings." + self._merge_note(choice)
            )
        if choice == DisconnectChoice.REINSTATE:
            if self.snapshot_taken_at is None:
                return "Not available: no lists were recorded from before integrating."
            return (
                f"Restores the {self.snapshot_items:,} items and {self.snapshot_rules:,} rules you had"
                f" when this integration began ({self.snapshot_taken_at:%Y-%m-%d %H:%M}); the current"
                f" {self.items:,} items and {self.rules:,} rules are set aside, kept as a safety copy"
                " (dext-tui snapshots restores it)." + self._merge_note(choice)
            )
        return (
            f"Keeps the {self.items:,} items, but REMOVES all {self.rules:,} rules and the manual settings"
            f" of {self.settings:,} items (a safety copy is kept: dext-tui snapshots)."
            + self._merge_note(choice)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider_label,
            "organisation": self.tenant_name,
            "items": self.items,
            "rules": self.rules,
            "settings": self.settings,
            "to_merge": self.to_merge,
            "pre_integration": None
            if self.snapshot_taken_at is None
            else {
                "id": self.snapshot_id,
                "taken_at": iso(self.snapshot_taken_at),
                "items": self.snapshot_items,
                "rules": self.snapshot_rules,
            },
        }


@dataclass(frozen=True, slots=True)
class WorkspaceOverview:
    """Beside the connection: lists to merge and what needs attention (with or without a connection)."""

    to_merge: tuple[Kind, ...] = ()  # lists with old items still undecided
    can_merge: bool = False  # Merge lists has old items on offer (undecided, left or skipped)
    attention: int = 0  # references to items nobody can see or use (Needs attention)
    attention_items: frozenset[int] = frozenset()  # the items they point at (list pages mark them)
    can_undo: bool = False  # Undo last merge can be done (connected or not)


@dataclass(frozen=True, slots=True)
class RefreshEvent:
    """Progress of a refresh: `reading` (all lists), then per list `applying` and `done` or `failed`."""

    state: str
    kind: Kind | None = None
    counts: ListCounts | None = None
    message: str | None = None


ProgressFn = Callable[[RefreshEvent], None]

PROVIDER_LABELS = {"beancount": "Beancount", "xero": "Xero", "quickbooks": "QuickBooks Online"}
TARGET_LABELS = {"beancount": "Ledger", "xero": "Tenant ID", "quickbooks": "Company ID"}  # what `target` is
