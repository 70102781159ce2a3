"""Tables. Rules and settings point at `ListItem.id`, a stable local id, never at a provider's code.

The schema itself is created by `migrations.py` (explicit, versioned DDL); a test checks that these
models and the migrated schema agree column for column.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Workspace(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    created_at: datetime
    generation: int = 0  # the lists in use: 0 = its own, else the connection generation they came from


class Connection(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    provider: str
    target: str | None = None  # ledger path, or the provider's organisation URL
    tenant_id: str | None = None
    tenant_name: str | None = None
    status: str
    status_reason: str | None = None
    connected_at: datetime
    expires_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    disconnected_at: datetime | None = None
    generation: int = 1
    lock_date: str | None = None  # YYYY-MM-DD: the books' lock date, from the software


class ListItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    kind: str
    connection_id: int | None = Field(default=None, foreign_key="connection.id")
    generation: int = 0
    remote_id: str | None = None
    code: str | None = None
    name: str
    status: str = "active"
    visible: bool = True
    data: str | None = None  # JSON text
    origin: str = "remote"  # remote (from the software) | local (the workspace's own)
    created_at: datetime
    updated_at: datetime
    default_tax_code_id: int | None = Field(default=None, foreign_key="listitem.id")  # categories


class Rule(SQLModel, table=True):
    """An automation rule: costs from this supplier (customer, payment method) get these fields."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    scope: str  # supplier | customer | payment_method
    target_item_id: int = Field(foreign_key="listitem.id")
    category_id: int | None = Field(default=None, foreign_key="listitem.id")
    tax_code_id: int | None = Field(default=None, foreign_key="listitem.id")
    bank_account_id: int | None = Field(default=None, foreign_key="listitem.id")
    tracking_id: int | None = Field(default=None, foreign_key="listitem.id")
    currency_id: int | None = Field(default=None, foreign_key="listitem.id")
    description: str | None = None
    paid: bool | None = None
    auto_publish: str = "none"
    created_at: datetime
    updated_at: datetime


class CostItem(SQLModel, table=True):
    """A cost (receipt, bill) to publish through the connection. Its fields point at list items like a
    rule's do; amounts are exact decimal text, tax inclusive."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    uid: str = Field(unique=True)  # stable: the ledger's dext-id, the base of idempotency keys
    date: str | None = None  # YYYY-MM-DD
    supplier_id: int | None = Field(default=None, foreign_key="listitem.id")
    supplier_name: str | None = None  # as given, when no supplier of the lists matched
    reference: str | None = None
    description: str | None = None
    total: str | None = None
    tax: str | None = None
    currency: str | None = None
    category_id: int | None = Field(default=None, foreign_key="listitem.id")
    tax_code_id: int | None = Field(default=None, foreign_key="listitem.id")
    bank_account_id: int | None = Field(default=None, foreign_key="listitem.id")
    tracking_id: int | None = Field(default=None, foreign_key="listitem.id")
    paid: bool = False
    sources: str = "{}"  # JSON {field: where its value came from}: why this value
    state: str = "ready"  # ready | published | failed
    remote_id: str | None = None
    published_at: datetime | None = None
    published_to: int | None = Field(default=None, foreign_key="connection.id")
    error_class: str | None = None
    error_message: str | None = None
    error_at: datetime | None = None
    # The idempotency key of a send whose answer was never stored (a crash, a timeout): the software may
    # have the bill. Until a publish settles it, the item cannot be changed (a change would be a new bill).
    sending: str | None = None
    created_at: datetime
    updated_at: datetime


class CostLine(SQLModel, table=True):
    """A split of a cost item: part of its total with its own category and tax code."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="costitem.id")
    position: int
    amount: str
    tax: str | None = None
    category_id: int | None = Field(default=None, foreign_key="listitem.id")
    tax_code_id: int | None = Field(default=None, foreign_key="listitem.id")
    tracking_id: int | None = Field(default=None, foreign_key="listitem.id")
    description: str | None = None


class MergeSession(SQLModel, table=True):
    """After Change connection: the former lists (from_generation) still to merge into the new ones."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    from_generation: int
    to_generation: int
    created_at: datetime
    state: str  # open | done
    progress: str  # JSON: {kind: "pending" | "merged" | "skipped"}
    # JSON {old item id: {new item id: transactions they share}} (ids as text), from both books' history
    shared: str = "{}"
    draft: str = "{}"  # JSON: the Merge lists wizard's saved choices, not applied yet
    origin: str = "change"  # change | connect | reinstate | restore: what set the old items aside
    left_ids: str = "[]"  # JSON [item id]: former items the user left as they are (this session)
    undo: str | None = None  # JSON: how to take the last Apply back (core/merge_undo.py)


class Snapshot(SQLModel, table=True):
    """A workspace's lists, rules and settings as they were (JSON), e.g. before integrating."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    reason: str  # pre-integration | disconnect | restore (| merge, before schema 6)
    generation: int
    taken_at: datetime
    payload: str


class ListSync(SQLModel, table=True):
    connection_id: int = Field(foreign_key="connection.id", primary_key=True)
    kind: str = Field(primary_key=True)
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    added: int = 0
    changed: int = 0
    archived: int = 0
    total: int = 0
    error: str | None = None
    fingerprint: str | None = None


class ConnectionEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = Field(foreign_key="connection.id", index=True)
    at: datetime
    from_status: str | None = None
    to_status: str
    reason: str | None = None
