"""What every connector offers the core."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from dext_tui.core.domain import Kind, RemoteItem
from dext_tui.core.history import HistoryRecord
from dext_tui.core.publishing import Bill, OutcomeFn, PublishOutcome


@dataclass(frozen=True)
class FetchResult:
    """Every requested list, fetched in one go, and a fingerprint of the source they came from."""

    lists: dict[Kind, list[RemoteItem]]
    tenant_name: str | None
    tenant_id: str | None = None  # what identifies the organisation (None: the source cannot tell)
    fingerprint: str | None = None  # None: the source cannot tell whether it changed
    warnings: list[str] = field(default_factory=list)
    # The source's transactions as history records (`core.history`), when asked for and when the source
    # can tell; None otherwise.
    history: list[HistoryRecord] | None = None
    # Lists fetched incrementally (`fetch(since=...)`): they hold only what changed since then, so an
    # item missing from them has not gone. Every other list is whole.
    partial: frozenset[Kind] = frozenset()
    # The books' lock date: nothing dated on or before it may be published (Xero's period / end of year
    # lock date, QuickBooks' book close date). None: no lock date, or the source has none.
    lock_date: date | None = None


class Connector(Protocol):
    provider: str
    target: str  # what it connects to, normalised (an absolute ledger path, an organisation URL)

    def check_source(self) -> None:
        """Raise ConnectionExpired when the source is gone or refuses us; cheap, no parsing."""

    def unchanged_since(self, fingerprint: str | None) -> bool:
        """True when the source is known not to have changed since `fingerprint` was taken."""

    async def fetch(
        self,
        kinds: tuple[Kind, ...],
        *,
        isolate: bool = False,
        history: bool = False,
        since: str | None = None,
    ) -> FetchResult:
        """Fetch the given lists. `isolate` runs CPU-heavy work in another process (keeps a UI fluid).
        `history` asks for the source's history records too (`FetchResult.history`), read in the same
        pass; a source that keeps none leaves it None. `since` is the fingerprint of the last refresh:
        a source that can fetch only what changed since (Xero's If-Modified-Since) does, and names
        those lists in `FetchResult.partial`; others ignore it."""

    async def history(self, *, isolate: bool = False) -> list[HistoryRecord] | None:
        """The source's transactions as history records (`core.history`), for Merge lists to tell which
        items of other books are the same as these. Optional: a connector that cannot read history (a
        cloud package without a transactions API) returns None, and callers do without. Raises like
        `fetch` (ConnectionExpired, InvalidData, ...)."""

    async def publish(
        self, bills: Sequence[Bill], *, on_outcome: OutcomeFn | None = None
    ) -> list[PublishOutcome]:
        """Publish each bill; one outcome per bill, in the bills' order. Each outcome is also handed to
        `on_outcome` as soon as it is known, so the caller can record it at once (a crash then loses at
        most the bills in flight, and those are safe to send again: see `Bill.idempotency_key`).
        A bill the books already hold (same uid / idempotency key) is an ok outcome with `already=True`.
        Raises ConnectionExpired when the software refuses the authorisation: outcomes already handed
        out stand, the bills not yet answered were not published. Other failures are per-bill outcomes
        with an `ErrorClass` and the software's own message."""
