"""The services every front end uses (the TUI and the CLI twin): workspaces, connect, refresh, lists.

Blocking store work runs in threads (`asyncio.to_thread`); connector work is async. Callers get plain
dataclasses from `core.domain`, never ORM objects.

Reads are plain SQL on `store.read()`. Writes go through sqlmodel sessions (`store.write()`), and the ORM
is imported inside the methods that write: loading it costs about half a second, which neither the TUI's
first screen nor `dext-tui status` should pay.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dext_tui.config import load_config
from dext_tui.connectors.base import Connector, FetchResult
from dext_tui.core import merge_undo, merging
from dext_tui.core.attention import Attention, current_generation, needs_attention
from dext_tui.core.cloud_auth import CLOUD_PROVIDERS, Authorisations, quickbooks_api_base, token_key
from dext_tui.core.domain import (
    ALL_KINDS,
    DEFAULT_WORKSPACE,
    DEMO_WORKSPACE,
    PROVIDER_LABELS,
    RULE_FIELDS,
    ConnectionEventInfo,
    ConnectionInfo,
    ConnectionStatus,
    DisconnectChoice,
    DisconnectPreview,
    ItemRef,
    ItemRow,
    ItemStatus,
    Kind,
    ListCounts,
    MergeDraft,
    MergePlan,
    MergeRow,
    ProgressFn,
    RefreshEvent,
    RuleInfo,
    RuleScope,
    RuleSpec,
    WorkspaceOverview,
    normalise_workspace_name,
    utcnow,
    workspace_name_problem,
)
from dext_tui.core.errors import ConnectionExpired, DextError, NotConnected, NotFound, UsageError
from dext_tui.core.history import HistoryRecord, SharedCounts, shared_counts
from dext_tui.core.lists import (
    apply_remote_list,
    db_time,
    insert_own_items,
    query_item_tuples,
    query_items,
    record_list_error,
    rule_counts,
)
from dext_tui.core.merge import suggest
from dext_tui.core.merging import COST_COLUMNS, COST_LINE_COLUMNS
from dext_tui.core.own_lists import ImportReport, OwnItem, check_item_text, default_items, read_csv
from dext_tui.core.rules import count_current_items, count_rules, count_settings, query_rule, query_rules
from dext_tui.core.snapshots import (
    SnapshotInfo,
    find_snapshot,
    latest_pre_integration,
    list_snapshots,
    restore_payload,
    take_snapshot,
)
from dext_tui.core.text import printable
from dext_tui.paths import AppPaths, app_paths, ensure_private_dir
from dext_tui.store.engine import Store, open_store, raw
from dext_tui.store.queries import connection_info, parse_time

if TYPE_CHECKING:
    from sqlmodel import Session

    from dext_tui.core.inbox import CostInbox
    from dext_tui.store.models import Connection, Workspace

PROVIDERS = ("beancount", *CLOUD_PROVIDERS)


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    id: int
    name: str


def _noop(_event: RefreshEvent) -> None:
    pass


_CHOICE_TEXT = {
    DisconnectChoice.KEEP: "kept the current lists",
    DisconnectChoice.REINSTATE: "reinstated the lists from before integrating",
    DisconnectChoice.MERGE_LATER: "kept the lists; removed rules and settings to merge later",
}


def _shared_items(
    db: sqlite3.Connection,
    workspace_id: int,
    from_generation: int,
    to_generation: int,
    by_remote: SharedCounts,
) -> dict[str, dict[str, int]]:
    """`shared_counts` (by the connectors' remote ids, per list) as the store keeps it: {old item id:
    {new item id: transactions}}, ids as text (JSON keys). Remote ids that name no item of the generation
    (an account no list shows) are left out."""
    if not by_remote:
        return {}

    def item_ids(generation: int) -> dict[tuple[str, str], int]:
        rows = db.execute(
            "SELECT id, kind, remote_id FROM listitem WHERE workspace_id = ? AND generation = ?"
            " AND remote_id IS NOT NULL",
            (workspace_id, generation),
        )
        return {(kind, remote_id): item_id for item_id, kind, remote_id in rows}

    old_ids, new_ids = item_ids(from_generation), item_ids(to_generation)
    out: dict[str, dict[str, int]] = {}
    for kind, rows in by_remote.items():
        for old_remote, targets in rows.items():
            old_id = old_ids.get((kind, old_remote))
            if old_id is None:
                continue
            row = {
                str(new_ids[kind, new_remote]): count
                for new_remote, count in targets.items()
                if (kind, new_remote) in new_ids
            }
            if row:
                out[str(old_id)] = row
    return out


def _tell_waits(connector: Connector, progress: ProgressFn) -> None:
    """A cloud connector says when the provider makes it wait (a rate limit): the progress shows why."""
    if hasattr(connector, "on_wait"):
        connector.on_wait = lambda text: progress(RefreshEvent("waiting", message=text))


def _move_to(s: Session, conn: Connection, status: ConnectionStatus, reason: str, at: datetime) -> None:
    """A connection's status changes, and its timeline says when and why (in the caller's transaction)."""
    from dext_tui.store.models import ConnectionEvent

    s.add(
        ConnectionEvent(
            connection_id=conn.id, at=at, from_status=conn.status, to_status=status.value, reason=reason
        )
    )
    conn.status, conn.status_reason = status.value, None
    if status == ConnectionStatus.DISCONNECTED:
        conn.disconnected_at = at
    s.add(conn)


def _rule_columns(spec: RuleSpec) -> dict[str, Any]:
    return {
        "scope": spec.scope.value,
        "target_item_id": spec.target_id,
        **{f"{name}_id": item_id for name, item_id in spec.field_ids().items()},
        "description": spec.description or None,
        "paid": spec.paid,
        "auto_publish": spec.auto_publish.value,
    }


def _insert_event(
    db: sqlite3.Connection,
    connection_id: int,
    at: datetime,
    from_status: str | None,
    to_status: str,
    reason: str | None,
) -> None:
    db.execute(
        "INSERT INTO connectionevent (connection_id, at, from_status, to_status, reason)"
        " VALUES (?, ?, ?, ?, ?)",
        (connection_id, db_time(at), from_status, str(to_status), reason),
    )


def _insert_refresh_event(
    db: sqlite3.Connection, connection_id: int, at: datetime, counts: list[ListCounts]
) -> None:
    """A timeline entry for a refresh: `Refreshed: Suppliers 3 added` (or what failed)."""
    what = "Refreshed" if len(counts) > 1 else f"Reloaded {counts[0].kind.label}"
    failed = [c for c in counts if not c.ok]
    changed = [c for c in counts if c.ok and (c.added or c.changed or c.archived or c.restored)]
    if failed:
        detail = "failed: " + "; ".join(c.summary() for c in failed)
    elif changed:
        detail = "; ".join(c.summary() for c in changed)
    elif counts and all(c.unchanged_source for c in counts):
        detail = "the source had not changed"
    else:
        detail = "no changes"
    connected = ConnectionStatus.CONNECTED.value
    _insert_event(db, connection_id, at, connected, connected, f"{what}: {detail}")


class DextService:
    def __init__(self, paths: AppPaths, store: Store) -> None:
        self.paths = paths
        self.store = store
        self.config = load_config(paths.data_dir)

    @classmethod
    def open(cls, data_dir: str | Path | None = None, *, set_up: bool = True) -> DextService:
        """Open the store in the data dir, creating or migrating it. With `set_up=False` it must exist
        at the current schema, else `NeedsSetUp`: then opening takes milliseconds and never blocks."""
        paths = app_paths(data_dir)
        return cls(paths, open_store(paths.db_path, set_up=set_up))

    def close(self) -> None:
        self.store.close()

    # -- workspaces -------------------------------------------------------------------------------

    def workspaces(self) -> list[WorkspaceRef]:
        with self.store.read() as db:
            return [WorkspaceRef(*r) for r in db.execute("SELECT id, name FROM workspace ORDER BY name")]

    def find_workspace(self, name: str) -> WorkspaceRef | None:
        with self.store.read() as db:
            row = db.execute("SELECT id, name FROM workspace WHERE name = ?", (name,)).fetchone()
        return WorkspaceRef(*row) if row else None

    def ensure_workspace(self, name: str = DEFAULT_WORKSPACE) -> WorkspaceRef:
        name = normalise_workspace_name(name)
        problem = workspace_name_problem(name)
        if problem:
            raise UsageError(problem)
        found = self.find_workspace(name)
        if found is not None:
            return found
        from sqlmodel import select

        from dext_tui.store.models import Workspace

        with self.store.write() as s:
            ws = s.exec(select(Workspace).where(Workspace.name == name)).first()
            if ws is None:
                ws = Workspace(name=name, created_at=utcnow())
                s.add(ws)
                s.flush()
                assert ws.id is not None
                # A new workspace starts with a sensible chart of categories and tax codes of its own.
                for kind, items in default_items().items():
                    insert_own_items(raw(s), ws.id, 0, kind, items)
            return WorkspaceRef(ws.id, ws.name)

    # -- connection -------------------------------------------------------------------------------

    def connection(self, ws: WorkspaceRef) -> ConnectionInfo | None:
        """The workspace's connection (connected or expired), or None when nothing is connected."""
        with self.store.read() as db:
            return connection_info(db, ws.id, ws.name)

    def _expiry(self, now: datetime) -> datetime | None:
        days = self.config.connection_expiry_days
        return now + timedelta(days=days) if days else None

    def connector(self, provider: str, target: str | None) -> Connector:
        if provider == "beancount":
            from dext_tui.connectors.beancount_ledger import BeancountConnector

            if not target:
                raise UsageError("connect beancount needs the ledger file: dext-tui connect beancount PATH")
            return BeancountConnector(target, cache_dir=self.paths.cache_dir)
        if provider in CLOUD_PROVIDERS:
            if not target:
                raise UsageError(f"a {PROVIDER_LABELS[provider]} connection needs its organisation")
            auth = self.authorisations
            client, store, key = auth.client(provider), auth.token_store(), token_key(provider, target)
            if provider == "xero":
                from dext_tui.connectors.xero import XeroConnector

                return XeroConnector(target, None, key, store, client)
            from dext_tui.connectors.quickbooks import QuickBooksConnector

            base = quickbooks_api_base(self.config.as_dict())
            return QuickBooksConnector(target, None, key, store, client, api_base=base)
        raise UsageError(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")

    @property
    def costs(self) -> CostInbox:
        """The costs inbox: cost items, the pre-flight check, publishing."""
        from dext_tui.core.inbox import CostInbox

        return CostInbox(self)

    @property
    def authorisations(self) -> Authorisations:
        """Logging in to cloud books: pending authorisations and the token store (owner-only files)."""
        return Authorisations(self.paths.data_dir, self.config.as_dict())

    async def connect_authorised(
        self,
        ws: WorkspaceRef,
        provider: str,
        organisation: str | None,
        *,
        how: str = "connect",
        progress: ProgressFn = _noop,
        isolate: bool = False,
    ) -> tuple[ConnectionInfo, list[ListCounts]]:
        """Connect (`how`: connect, reconnect, change) the organisation of a completed authorisation
        (`organisation`: its name or id; None when the login opened just one). Its tokens move to the
        token store first; the pending authorisation is spent once the connection is made."""
        auth = self.authorisations
        chosen = auth.choose(provider, ws.id, organisation)
        current = await asyncio.to_thread(self.connection, ws)
        # Refused before the tokens move: a refusal leaves no tokens behind, nor replaces another's.
        moving = current is not None and (current.provider, current.target) != (provider, chosen.id)
        if how == "reconnect" and moving:
            assert current is not None
            other = PROVIDER_LABELS.get(provider, provider)
            raise DextError(
                f"that is another organisation ({other}: {chosen.name!r}, not {current.tenant_name!r});"
                " use Change connection to move to other books"
            )
        if how != "connect" and current is None:
            raise NotConnected(f"workspace {ws.name!r} has no connection to {how}; connect one instead")
        if how == "connect" and current is not None:
            raise DextError(
                f"workspace {ws.name!r} is already connected to {current.provider_label}"
                f" ({current.tenant_name}); disconnect it or change the connection instead"
            )
        auth.take(provider, ws.id, chosen)
        try:
            if how == "reconnect":
                result = await self.reconnect(ws, chosen.id, progress=progress, isolate=isolate)
            elif how == "change":
                result = await self.change_connection(
                    ws, provider, chosen.id, progress=progress, isolate=isolate
                )
            else:
                result = await self.connect(ws, provider, chosen.id, progress=progress, isolate=isolate)
        except BaseException:
            # Nothing connected: no tokens left behind (the pending login keeps them for a retry).
            await asyncio.to_thread(self._release_tokens, provider, chosen.id)
            raise
        auth.finish(provider, ws.id)
        return result

    def _set_status(self, connection_id: int, status: ConnectionStatus, reason: str | None) -> None:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT status, status_reason FROM connection WHERE id = ?", (connection_id,)
            ).fetchone()
            if row is None or (row[0] == status and row[1] == reason):
                return
            _insert_event(db, connection_id, utcnow(), row[0], status, reason)
            db.execute(
                "UPDATE connection SET status = ?, status_reason = ? WHERE id = ?",
                (status.value, reason, connection_id),
            )

    def mark_expired(self, connection_id: int, reason: str) -> None:
        self._set_status(connection_id, ConnectionStatus.EXPIRED, reason)

    async def connect(
        self,
        ws: WorkspaceRef,
        provider: str,
        target: str | None,
        *,
        progress: ProgressFn = _noop,
        isolate: bool = False,
    ) -> tuple[ConnectionInfo, list[ListCounts]]:
        """Connect the workspace and pull every list, all in one transaction."""
        current = await asyncio.to_thread(self.connection, ws)
        if current is not None:
            raise DextError(
                f"workspace {ws.name!r} is already connected to {current.provider_label}"
                f" ({current.tenant_name}); disconnect it or change the connection instead"
            )
        connector = self.connector(provider, target)
        _tell_waits(connector, progress)
        progress(RefreshEvent("reading"))
        result = await connector.fetch(ALL_KINDS, isolate=isolate)
        target_text = connector.target
        loop = asyncio.get_running_loop()

        def write() -> list[ListCounts]:

            from dext_tui.store.models import Workspace

            now = utcnow()
            with self.store.write() as s:
                workspace = s.get(Workspace, ws.id)
                assert workspace is not None
                # The workspace's own lists as they are now are the ones "from before integrating":
                # Disconnect › Reinstate brings back this record (the latest connect's, whatever lists the
                # workspace had then: its first ones, or a former connection's kept as its own).
                label = PROVIDER_LABELS.get(provider, provider)
                own = workspace.generation
                take_snapshot(
                    raw(s), ws.id, "pre-integration", own, db_time(now),
                    f"Your own lists before connecting to {label}: {result.tenant_name}",
                )  # fmt: skip
                reason = f"Connected to {label}: {result.tenant_name}"
                conn = self._add_connection(s, workspace, provider, target_text, result, now, reason)
                counts = self._apply_all(s, ws, conn, result, loop, progress)
                # Rules, settings and costs on the own items set aside: Merge lists maps them onto the
                # software's lists (Needs attention says so until it is done).
                merging.open_session(
                    raw(s), ws.id, from_generation=own, origin="connect", at=db_time(now),
                    action=f"Connecting to {label}",
                )  # fmt: skip
                return counts

        counts = await asyncio.to_thread(write)
        info = await asyncio.to_thread(self.connection, ws)
        assert info is not None
        return info, counts

    def _add_connection(
        self,
        s: Session,
        workspace: Workspace,
        provider: str,
        target: str,
        result: FetchResult,
        now: datetime,
        reason: str,
    ) -> Connection:
        """A new connection of the workspace, with the next generation of lists, made current."""
        from dext_tui.store.models import Connection, ConnectionEvent

        last = (
            raw(s)
            .execute("SELECT max(generation) FROM connection WHERE workspace_id = ?", (workspace.id,))
            .fetchone()[0]
        )
        conn = Connection(
            workspace_id=workspace.id,
            provider=provider,
            target=target,
            tenant_id=result.tenant_id,
            tenant_name=result.tenant_name,
            status=ConnectionStatus.CONNECTED.value,
            connected_at=now,
            last_refreshed_at=now,
            expires_at=self._expiry(now),
            generation=1 + max(last or 0, workspace.generation),
            lock_date=result.lock_date.isoformat() if result.lock_date else None,
        )
        s.add(conn)
        workspace.generation = conn.generation
        s.add(workspace)
        s.flush()
        s.add(
            ConnectionEvent(
                connection_id=conn.id,
                at=now,
                from_status=None,
                to_status=ConnectionStatus.CONNECTED.value,
                reason=reason,
            )
        )
        return conn

    def _apply_all(
        self,
        s: Session,
        ws: WorkspaceRef,
        conn: Connection,
        result: FetchResult,
        loop: asyncio.AbstractEventLoop,
        progress: ProgressFn,
    ) -> list[ListCounts]:
        counts = []
        for kind, items in result.lists.items():
            loop.call_soon_threadsafe(progress, RefreshEvent("applying", kind))
            c = apply_remote_list(
                raw(s),
                workspace_id=ws.id,
                connection_id=conn.id,
                generation=conn.generation,
                kind=kind,
                items=items,
                fingerprint=result.fingerprint,
            )
            counts.append(c)
            loop.call_soon_threadsafe(progress, RefreshEvent("done", kind, c))
        return counts

    async def refresh(
        self,
        ws: WorkspaceRef,
        kinds: Sequence[Kind] = ALL_KINDS,
        *,
        progress: ProgressFn = _noop,
        isolate: bool = False,
        force: bool = False,
    ) -> list[ListCounts]:
        """Pull the given lists; each list is applied in its own transaction."""
        kinds = tuple(dict.fromkeys(kinds))
        info = await asyncio.to_thread(self.connection, ws)
        if info is None:
            raise NotConnected(
                f"workspace {ws.name!r} has no connection; connect one first"
                " (dext-tui connect beancount PATH)"
            )
        if info.status == ConnectionStatus.EXPIRED:
            reason = info.status_reason or "Connection is expired"
            await asyncio.to_thread(self.mark_expired, info.id, reason)  # into the timeline, if new
            raise ConnectionExpired(f"{reason}; reconnect first")
        connector = self.connector(info.provider, info.target)
        _tell_waits(connector, progress)
        try:
            connector.check_source()
        except ConnectionExpired as exc:
            await asyncio.to_thread(self.mark_expired, info.id, str(exc))
            raise

        fingerprints = await asyncio.to_thread(self._fingerprints, info.id, kinds)
        since = None  # the last refresh of these lists, when they all had the same one
        if not force and len(set(fingerprints.values())) == 1 and len(fingerprints) == len(kinds):
            since = next(iter(fingerprints.values()))
            if connector.unchanged_since(since):
                counts = await asyncio.to_thread(self._touch_unchanged, info.id, kinds)
                for c in counts:
                    progress(RefreshEvent("done", c.kind, c))
                return counts

        progress(RefreshEvent("reading"))
        try:
            result = await connector.fetch(kinds, isolate=isolate, since=since)
        except ConnectionExpired as exc:
            await asyncio.to_thread(self.mark_expired, info.id, str(exc))
            raise
        loop = asyncio.get_running_loop()

        def write_one(kind: Kind) -> ListCounts:
            loop.call_soon_threadsafe(progress, RefreshEvent("applying", kind))
            try:
                with self.store.transaction() as db:
                    c = apply_remote_list(
                        db,
                        workspace_id=ws.id,
                        connection_id=info.id,
                        generation=info.generation,
                        kind=kind,
                        items=result.lists[kind],
                        fingerprint=result.fingerprint,
                        partial=kind in result.partial,
                    )
            except Exception as exc:
                message = f"could not save the list: {exc.__class__.__name__}: {exc}"
                try:
                    with self.store.transaction() as db:
                        record_list_error(db, info.id, kind, message)
                except Exception:
                    pass
                c = ListCounts(kind, error=message)
                loop.call_soon_threadsafe(progress, RefreshEvent("failed", kind, c, message))
                return c
            loop.call_soon_threadsafe(progress, RefreshEvent("done", kind, c))
            return c

        counts = []
        for kind in kinds:
            counts.append(await asyncio.to_thread(write_one, kind))
        whole = set(kinds) == set(ALL_KINDS)  # the lock date comes with a whole refresh
        await asyncio.to_thread(
            self._mark_refreshed, info.id, result.tenant_name, counts, result.lock_date if whole else ...
        )
        return counts

    def _fingerprints(self, connection_id: int, kinds: Sequence[Kind]) -> dict[Kind, str]:
        wanted = {k.value for k in kinds}
        with self.store.read() as db:
            rows = db.execute(
                "SELECT kind, fingerprint FROM listsync"
                " WHERE connection_id = ? AND fingerprint IS NOT NULL AND error IS NULL",
                (connection_id,),
            ).fetchall()
        return {Kind(kind): fingerprint for kind, fingerprint in rows if kind in wanted}

    def _touch_unchanged(self, connection_id: int, kinds: Sequence[Kind]) -> list[ListCounts]:
        now = utcnow()
        stamp = db_time(now)
        with self.store.transaction() as db:
            totals = dict(
                db.execute("SELECT kind, total FROM listsync WHERE connection_id = ?", (connection_id,))
            )
            db.executemany(
                "UPDATE listsync SET last_attempt_at = ?, last_success_at = ?, added = 0, changed = 0,"
                " archived = 0 WHERE connection_id = ? AND kind = ?",
                [(stamp, stamp, connection_id, kind.value) for kind in kinds],
            )
            out = [ListCounts(kind, total=totals[kind.value], unchanged_source=True) for kind in kinds]
            db.execute("UPDATE connection SET last_refreshed_at = ? WHERE id = ?", (stamp, connection_id))
            _insert_refresh_event(db, connection_id, now, out)
            return out

    def _tenant_id(self, connection_id: int) -> str | None:
        with self.store.read() as db:
            row = db.execute("SELECT tenant_id FROM connection WHERE id = ?", (connection_id,)).fetchone()
        return row[0] if row else None

    def _mark_refreshed(
        self, connection_id: int, tenant_name: str | None, counts: list[ListCounts], lock_date: Any = ...
    ) -> None:
        now = utcnow()
        with self.store.transaction() as db:
            if all(c.ok for c in counts):
                db.execute(
                    "UPDATE connection SET last_refreshed_at = ?, tenant_name = COALESCE(?, tenant_name)"
                    " WHERE id = ?",
                    (db_time(now), tenant_name or None, connection_id),
                )
            if lock_date is not ...:
                db.execute(
                    "UPDATE connection SET lock_date = ? WHERE id = ?",
                    (lock_date.isoformat() if lock_date else None, connection_id),
                )
            _insert_refresh_event(db, connection_id, now, counts)

    async def reconnect(
        self,
        ws: WorkspaceRef,
        target: str | None = None,
        *,
        progress: ProgressFn = _noop,
        isolate: bool = False,
    ) -> tuple[ConnectionInfo, list[ListCounts]]:
        """Connect the same provider and organisation again (for Beancount: the same or a moved ledger).

        Rules, settings and list item ids are untouched; the lists are pulled again in one transaction.
        """
        info = await asyncio.to_thread(self.connection, ws)
        if info is None:
            raise NotConnected(f"workspace {ws.name!r} has no connection to reconnect; connect one instead")
        new_target = target or info.target
        connector = self.connector(info.provider, new_target)
        _tell_waits(connector, progress)
        progress(RefreshEvent("reading"))
        result = await connector.fetch(ALL_KINDS, isolate=isolate)
        tenant_id = await asyncio.to_thread(self._tenant_id, info.id)
        if tenant_id is not None and result.tenant_id != tenant_id:
            raise DextError(
                f"that is another organisation ({result.tenant_name!r}, not {info.tenant_name!r});"
                " use Change connection to move to other books"
            )
        loop = asyncio.get_running_loop()
        target_text = connector.target

        def write() -> list[ListCounts]:
            from dext_tui.store.models import Connection

            now = utcnow()
            with self.store.write() as s:
                conn = s.get(Connection, info.id)
                assert conn is not None
                moved = f" to {target_text}" if target_text != conn.target else ""
                _move_to(s, conn, ConnectionStatus.CONNECTED, f"Reconnected{moved}", now)
                conn.target, conn.last_refreshed_at = target_text, now
                conn.lock_date = result.lock_date.isoformat() if result.lock_date else None
                conn.expires_at = self._expiry(now)  # reconnecting renews the authorisation
                s.add(conn)
                return self._apply_all(s, ws, conn, result, loop, progress)

        counts = await asyncio.to_thread(write)
        new_info = await asyncio.to_thread(self.connection, ws)
        assert new_info is not None
        return new_info, counts

    # -- lists ------------------------------------------------------------------------------------

    def items(
        self, ws: WorkspaceRef, kind: Kind, *, include_archived: bool = False, include_hidden: bool = True
    ) -> list[ItemRow]:
        with self.store.read() as db:
            return query_items(
                db, ws.id, kind, include_archived=include_archived, include_hidden=include_hidden
            )

    def item_tuples(self, ws: WorkspaceRef, kind: Kind) -> list[tuple[int, str | None, str, str, int]]:
        """`(id, code, name, status, visible)` for every current item, archived and hidden included:
        what a list view or a picker needs."""
        with self.store.read() as db:
            return query_item_tuples(db, ws.id, kind)

    def list_totals(self, ws: WorkspaceRef) -> dict[Kind, int]:
        """Active items in each of the workspace's current lists."""
        with self.store.read() as db:
            rows = db.execute(
                "SELECT kind, count(*) FROM listitem WHERE workspace_id = ? AND status = 'active'"
                " AND generation = (SELECT generation FROM workspace WHERE id = ?) GROUP BY kind",
                (ws.id, ws.id),
            ).fetchall()
        return {Kind(kind): n for kind, n in rows}

    def rule_counts(self, ws: WorkspaceRef) -> dict[int, int]:
        """How many rules use each item (items no rule uses are left out)."""
        with self.store.read() as db:
            return rule_counts(db, ws.id)

    def latest_connection_id(self, ws: WorkspaceRef) -> int | None:
        """The workspace's latest connection, live or disconnected (its timeline is still worth showing)."""
        with self.store.read() as db:
            row = db.execute(
                "SELECT id FROM connection WHERE workspace_id = ? ORDER BY id DESC LIMIT 1", (ws.id,)
            ).fetchone()
        return row[0] if row else None

    def events(self, connection_id: int) -> list[ConnectionEventInfo]:
        """The connection's timeline, oldest first."""
        with self.store.read() as db:
            rows = db.execute(
                "SELECT at, from_status, to_status, reason FROM connectionevent"
                " WHERE connection_id = ? ORDER BY id",
                (connection_id,),
            ).fetchall()
        return [ConnectionEventInfo(parse_time(r[0]), r[1], r[2], r[3]) for r in rows]

    # -- rules ------------------------------------------------------------------------------------

    def rules(self, ws: WorkspaceRef) -> list[RuleInfo]:
        with self.store.read() as db:
            return query_rules(db, ws.id)

    def rule(self, ws: WorkspaceRef, rule_id: int) -> RuleInfo:
        with self.store.read() as db:
            found = query_rule(db, ws.id, rule_id)
        if found is None:
            raise NotFound(f"no rule {rule_id} in workspace {ws.name!r}")
        return found

    def find_item(self, ws: WorkspaceRef, kind: Kind, text: str) -> ItemRow:
        """The current item of `kind` whose code is `text`, else whose name is `text` (any case)."""
        wanted = text.strip().casefold()
        if text.strip().isascii():  # SQLite's NOCASE folds ASCII: let the index find the few candidates
            with self.store.read() as db:
                items = query_items(db, ws.id, kind, include_archived=True, code_or_name=text.strip())
        else:
            items = self.items(ws, kind, include_archived=True)
        by_code = [i for i in items if i.code and i.code.casefold() == wanted]
        matches = by_code or [i for i in items if i.name.casefold() == wanted]
        active = [i for i in matches if i.status == ItemStatus.ACTIVE] or matches
        if not active:
            raise NotFound(f"no {kind.singular} {text!r} in the {kind.label.lower()} list")
        if len(active) > 1:
            raise NotFound(
                f"{len(active)} {kind.label.lower()} match {text!r}; give the code instead"
                f" ({', '.join(printable(i.code or i.name) for i in active[:5])})"
            )
        return active[0]

    def _check_rule(
        self, db: sqlite3.Connection, ws: WorkspaceRef, spec: RuleSpec, old: RuleInfo | None
    ) -> None:
        """Every item the rule names exists in this workspace, in the right list, and (if newly chosen)
        is a current, active item."""
        wanted = {"target": (spec.target_id, spec.scope.target_kind)} | {
            name: (item_id, RULE_FIELDS[name]) for name, item_id in spec.field_ids().items() if item_id
        }
        generation = db.execute("SELECT generation FROM workspace WHERE id = ?", (ws.id,)).fetchone()[0]
        before = ({"target": old.target.id} | {n: r.id for n, r in old.fields().items() if r}) if old else {}
        problems = []
        for name, (item_id, kind) in wanted.items():
            row = db.execute(
                "SELECT kind, generation, status FROM listitem WHERE id = ? AND workspace_id = ?",
                (item_id, ws.id),
            ).fetchone()
            label = "target" if name == "target" else name.replace("_", " ")
            if row is None or row[0] != kind.value:
                problems.append(
                    f"the {label} must be one of the {kind.label.lower()} (item {item_id} is not)"
                )
            elif before.get(name) != item_id and (row[1] != generation or row[2] != ItemStatus.ACTIVE):
                problems.append(f"the {label} (item {item_id}) is archived or from a former list")
        if spec.description is not None and len(spec.description) > 500:
            problems.append("the description is longer than 500 characters")
        if problems:
            raise DextError("; ".join(problems))

    def add_rule(self, ws: WorkspaceRef, spec: RuleSpec) -> RuleInfo:
        from dext_tui.store.models import Rule

        with self.store.write() as s:
            self._check_rule(raw(s), ws, spec, None)
            self._refuse_duplicate_rule(raw(s), ws, spec, None)
            now = utcnow()
            rule = Rule(workspace_id=ws.id, created_at=now, updated_at=now, **_rule_columns(spec))
            s.add(rule)
            s.flush()
            assert rule.id is not None
            rule_id = rule.id
        return self.rule(ws, rule_id)

    def update_rule(self, ws: WorkspaceRef, rule_id: int, spec: RuleSpec) -> RuleInfo:
        from dext_tui.store.models import Rule

        old = self.rule(ws, rule_id)
        with self.store.write() as s:
            rule = s.get(Rule, rule_id)
            if rule is None or rule.workspace_id != ws.id:
                raise NotFound(f"no rule {rule_id} in workspace {ws.name!r}")
            self._check_rule(raw(s), ws, spec, old)
            self._refuse_duplicate_rule(raw(s), ws, spec, rule_id)
            for key, value in _rule_columns(spec).items():
                setattr(rule, key, value)
            rule.updated_at = utcnow()
            s.add(rule)
        return self.rule(ws, rule_id)

    def _refuse_duplicate_rule(
        self, db: sqlite3.Connection, ws: WorkspaceRef, spec: RuleSpec, rule_id: int | None
    ) -> None:
        row = db.execute(
            "SELECT r.id, t.name FROM rule r JOIN listitem t ON t.id = r.target_item_id"
            " WHERE r.workspace_id = ? AND r.scope = ? AND r.target_item_id = ? AND r.id IS NOT ?",
            (ws.id, spec.scope.value, spec.target_id, rule_id),
        ).fetchone()
        if row:
            raise DextError(
                f"{spec.scope.label.lower()} {row[1]!r} already has a rule (rule {row[0]}); change that one"
            )

    def remove_rule(self, ws: WorkspaceRef, rule_id: int) -> None:
        from dext_tui.store.models import Rule

        with self.store.write() as s:
            rule = s.get(Rule, rule_id)
            if rule is None or rule.workspace_id != ws.id:
                raise NotFound(f"no rule {rule_id} in workspace {ws.name!r}")
            s.delete(rule)

    # -- items: own lists and manual settings -----------------------------------------------------

    def _item(self, db: sqlite3.Connection, ws: WorkspaceRef, item_id: int) -> tuple[Any, ...]:
        row = db.execute(
            "SELECT i.id, i.kind, i.origin, i.generation = w.generation, i.name, i.status FROM listitem i"
            " JOIN workspace w ON w.id = i.workspace_id WHERE i.id = ? AND i.workspace_id = ?",
            (item_id, ws.id),
        ).fetchone()
        if row is None:
            raise NotFound(f"no list item {item_id} in workspace {ws.name!r}")
        return row

    def _refuse_while_connected(self, db: sqlite3.Connection, ws: WorkspaceRef, what: str) -> None:
        info = connection_info(db, ws.id, ws.name)
        if info is not None:
            raise DextError(
                f"{what}: while connected to {info.provider_label}, the lists come from it"
                " (only hiding items and a category's default tax code can be changed here)"
            )

    def add_item(self, ws: WorkspaceRef, kind: Kind, name: str, code: str | None = None) -> ItemRow:
        """Add an item to one of the workspace's own lists (only when nothing is connected)."""
        name, code = name.strip(), (code or "").strip() or None
        problem = check_item_text(name, code)
        if problem:
            raise UsageError(problem)
        with self.store.transaction() as db:
            self._refuse_while_connected(db, ws, "cannot add items")
            generation = db.execute("SELECT generation FROM workspace WHERE id = ?", (ws.id,)).fetchone()[0]
            self._refuse_same_code(db, ws, kind, generation, code, None)
            report = insert_own_items(db, ws.id, generation, kind, [OwnItem(code, name)])
            if not report.added:
                raise DextError(f"{kind.label} already has {name!r}")
            item_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        return next(i for i in self.items(ws, kind, include_archived=True) if i.id == item_id)

    def _refuse_same_code(
        self,
        db: sqlite3.Connection,
        ws: WorkspaceRef,
        kind: Kind,
        generation: int,
        code: str | None,
        item_id: int | None,
    ) -> None:
        if code is None:
            return
        row = db.execute(
            "SELECT name FROM listitem WHERE workspace_id = ? AND generation = ? AND kind = ?"
            " AND code = ? COLLATE NOCASE AND id IS NOT ?",
            (ws.id, generation, kind.value, code, item_id),
        ).fetchone()
        if row:
            raise DextError(f"code {code!r} is already used by {row[0]!r} in {kind.label.lower()}")

    def update_item(self, ws: WorkspaceRef, item_id: int, name: str, code: str | None) -> None:
        name, code = name.strip(), (code or "").strip() or None
        problem = check_item_text(name, code)
        if problem:
            raise UsageError(problem)
        with self.store.transaction() as db:
            row = self._item(db, ws, item_id)
            self._refuse_while_connected(db, ws, "cannot rename items")
            if not row[3]:
                raise DextError(f"{row[4]!r} is in a former list; it cannot be changed")
            generation = db.execute("SELECT generation FROM workspace WHERE id = ?", (ws.id,)).fetchone()[0]
            self._refuse_same_code(db, ws, Kind(row[1]), generation, code, item_id)
            db.execute(
                "UPDATE listitem SET name = ?, code = ?, updated_at = ? WHERE id = ?",
                (name, code, db_time(utcnow()), item_id),
            )

    def delete_item(self, ws: WorkspaceRef, item_id: int) -> None:
        """Delete an item of an own list that no rule uses (a used one can be hidden instead)."""
        with self.store.transaction() as db:
            row = self._item(db, ws, item_id)
            self._refuse_while_connected(db, ws, "cannot delete items")
            used = rule_counts(db, ws.id).get(item_id, 0)
            if used:
                raise DextError(
                    f"{row[4]!r} is used by {used} rule{'s' if used > 1 else ''}; hide it instead,"
                    " or change those rules first"
                )
            in_use = db.execute(
                "SELECT count(*) FROM listitem WHERE default_tax_code_id = ?", (item_id,)
            ).fetchone()[0]
            if in_use:
                raise DextError(f"{row[4]!r} is the default tax code of {in_use} categories; hide it instead")
            costs = db.execute(
                "SELECT count(*) FROM costitem WHERE "
                + " OR ".join(f"{c} = ?" for c in COST_COLUMNS)
                + " OR id IN (SELECT item_id FROM costline WHERE "
                + " OR ".join(f"{c} = ?" for c in COST_LINE_COLUMNS)
                + ")",
                (item_id,) * (len(COST_COLUMNS) + len(COST_LINE_COLUMNS)),
            ).fetchone()[0]
            if costs:
                raise DextError(
                    f"{row[4]!r} is used by {costs} cost item{'s' if costs > 1 else ''}; hide it instead"
                )
            db.execute("DELETE FROM listitem WHERE id = ?", (item_id,))

    def set_visible(self, ws: WorkspaceRef, item_id: int, visible: bool) -> None:
        """A manual setting: hidden items are not offered in pickers. Allowed while connected."""
        with self.store.transaction() as db:
            self._item(db, ws, item_id)
            db.execute(
                "UPDATE listitem SET visible = ?, updated_at = ? WHERE id = ?",
                (visible, db_time(utcnow()), item_id),
            )

    def set_default_tax_code(self, ws: WorkspaceRef, category_id: int, tax_code_id: int | None) -> None:
        """A manual setting on a category: the tax code its costs get unless a rule says otherwise."""
        with self.store.transaction() as db:
            category = self._item(db, ws, category_id)
            if category[1] != Kind.CATEGORIES:
                raise UsageError(f"{category[4]!r} is not a category")
            if tax_code_id is not None:
                tax = self._item(db, ws, tax_code_id)
                if tax[1] != Kind.TAX_CODES or not tax[3] or tax[5] != ItemStatus.ACTIVE:
                    raise UsageError(f"{tax[4]!r} is not one of the current, active tax codes")
            db.execute(
                "UPDATE listitem SET default_tax_code_id = ?, updated_at = ? WHERE id = ?",
                (tax_code_id, db_time(utcnow()), category_id),
            )

    def import_items(self, ws: WorkspaceRef, kind: Kind, path: Path) -> ImportReport:
        """Add or update own items from a CSV file: all of it, or (any bad row) nothing."""
        items = read_csv(path, kind)
        with self.store.transaction() as db:
            self._refuse_while_connected(db, ws, "cannot import lists")
            generation = db.execute("SELECT generation FROM workspace WHERE id = ?", (ws.id,)).fetchone()[0]
            return insert_own_items(db, ws.id, generation, kind, items)

    # -- disconnect -------------------------------------------------------------------------------

    def disconnect_preview(self, ws: WorkspaceRef) -> DisconnectPreview:
        with self.store.read() as db:
            info = connection_info(db, ws.id, ws.name)
            if info is None:
                raise NotConnected(f"workspace {ws.name!r} has no connection to disconnect")
            snap = latest_pre_integration(db, ws.id)
            on_offer = merging.offer(db, ws.id)
            return DisconnectPreview(
                provider_label=info.provider_label,
                tenant_name=info.tenant_name,
                items=count_current_items(db, ws.id),
                rules=count_rules(db, ws.id),
                settings=count_settings(db, ws.id),
                snapshot_taken_at=snap.info.taken_at if snap else None,
                snapshot_items=snap.info.items if snap else 0,
                snapshot_rules=snap.info.rules if snap else 0,
                snapshot_id=snap.info.id if snap else None,
                to_merge=on_offer.count,
            )

    def disconnect(self, ws: WorkspaceRef, choice: DisconnectChoice) -> str:
        """Disconnect in one transaction; returns what happened, in a sentence. A cloud connection's
        tokens are deleted afterwards, unless another workspace still uses that organisation."""
        before = self.connection(ws)
        message = self._disconnect(ws, choice)
        if before is not None:
            self._release_tokens(before.provider, before.target)
        return message

    def _release_tokens(self, provider: str, target: str | None) -> None:
        if provider not in CLOUD_PROVIDERS or not target:
            return
        with self.store.read() as db:
            used = db.execute(
                "SELECT 1 FROM connection WHERE provider = ? AND target = ? AND status != 'disconnected'",
                (provider, target),
            ).fetchone()
        if used is None:
            self.authorisations.forget(provider, target)

    def _disconnect(self, ws: WorkspaceRef, choice: DisconnectChoice) -> str:
        from dext_tui.store.models import Connection

        preview = self.disconnect_preview(ws)
        if choice == DisconnectChoice.REINSTATE and preview.snapshot_taken_at is None:
            raise DextError(
                "there are no lists from before integrating to reinstate (this workspace was connected"
                " before dext-tui recorded them); keep the current lists or merge later instead"
            )
        now = utcnow()
        stamp = db_time(now)
        with self.store.write() as s:
            db = raw(s)
            info = connection_info(db, ws.id, ws.name)
            if info is None:
                raise NotConnected(f"workspace {ws.name!r} has no connection to disconnect")
            generation = current_generation(db, ws.id)
            # As things were just before, whatever the choice: a safety copy (dext-tui snapshots).
            take_snapshot(
                db, ws.id, "disconnect", generation, stamp,
                f"Before disconnecting from {info.provider_label}: {info.tenant_name}"
                f" ({_CHOICE_TEXT[choice]})",
            )  # fmt: skip
            conn = s.get(Connection, info.id)
            assert conn is not None
            _move_to(s, conn, ConnectionStatus.DISCONNECTED, f"Disconnected ({_CHOICE_TEXT[choice]})", now)
            s.flush()
            action = f"Disconnect ({_CHOICE_TEXT[choice]})"
            if choice == DisconnectChoice.REINSTATE:
                snap = latest_pre_integration(db, ws.id)
                assert snap is not None
                items, rules = restore_payload(db, ws.id, snap.payload)
                # The connection's lists are set aside: costs (and anything else) still on them are on
                # offer in Merge lists, onto the reinstated lists; the safety copy brings them back whole.
                merging.open_session(
                    db, ws.id, from_generation=generation, origin="reinstate", at=stamp, action=action
                )
                s.expire_all()  # the workspace row changed under the ORM
                return (
                    f"Disconnected from {preview.provider_label}; reinstated the {items:,} items and"
                    f" {rules:,} rules you had on {snap.info.taken_at:%Y-%m-%d %H:%M}, before integrating."
                    f" The lists set aside are kept as safety copy {self._latest_snapshot_id(db, ws)}"
                    " (dext-tui snapshots)."
                )
            # A merge still pending is carried: its old items stay on offer, to merge into the kept lists.
            merging.block_undo(db, ws.id, action, stamp)
            db.execute(  # the current lists become the workspace's own
                "UPDATE listitem SET origin = 'local', updated_at = ?"
                " WHERE workspace_id = ? AND generation = ?",
                (stamp, ws.id, generation),
            )
            if choice == DisconnectChoice.MERGE_LATER:
                db.execute("DELETE FROM rule WHERE workspace_id = ?", (ws.id,))
                db.execute(  # the settings of the current lists, as the preview counted them (those of
                    # items set aside stay with them: Merge lists moves them, later)
                    "UPDATE listitem SET visible = 1, default_tax_code_id = NULL, updated_at = ?"
                    " WHERE workspace_id = ? AND generation = ?"
                    " AND (NOT visible OR default_tax_code_id IS NOT NULL)",
                    (stamp, ws.id, generation),
                )
                return (
                    f"Disconnected from {preview.provider_label}; kept {preview.items:,} items, removed"
                    f" {preview.rules:,} rules and the settings of {preview.settings:,} items."
                )
            return (
                f"Disconnected from {preview.provider_label}; kept {preview.items:,} items as your own,"
                f" with {preview.rules:,} rules and {preview.settings:,} item settings."
            )

    @staticmethod
    def _latest_snapshot_id(db: sqlite3.Connection, ws: WorkspaceRef) -> int:
        return db.execute("SELECT max(id) FROM snapshot WHERE workspace_id = ?", (ws.id,)).fetchone()[0]

    # -- change connection and merge lists --------------------------------------------------------

    async def change_connection(
        self,
        ws: WorkspaceRef,
        provider: str,
        target: str | None,
        *,
        progress: ProgressFn = _noop,
        isolate: bool = False,
    ) -> tuple[ConnectionInfo, list[ListCounts]]:
        """Move the workspace to other books: the new lists are read first (a bad ledger changes
        nothing), then in one transaction the former connection is disconnected, its items stay as the
        former generation (rules keep pointing at them), the new lists come in, and a merge is opened.

        Both books' history is read too (the new books' in the same pass as their lists): the
        transactions they share tell Merge lists which new item each former one became. The former
        books are read at their connection's target; when they cannot be (gone, a provider without
        history), the change goes ahead without that evidence."""
        current = await asyncio.to_thread(self.connection, ws)
        if current is None:
            raise NotConnected(f"workspace {ws.name!r} has no connection to change; connect one instead")
        connector = self.connector(provider, target)
        _tell_waits(connector, progress)
        progress(RefreshEvent("reading"))
        # With `isolate` both books are parsed at once, each in a process of its own; in-process, one
        # after the other (threads would only share the GIL), the former once the new ones are known good.
        former_read = asyncio.ensure_future(self._former_history(current, isolate=True)) if isolate else None
        try:
            result = await connector.fetch(ALL_KINDS, isolate=isolate, history=True)
            if result.tenant_id is not None and result.tenant_id == await asyncio.to_thread(
                self._tenant_id, current.id
            ):
                raise DextError(
                    f"those are the same books ({result.tenant_name!r}); use Reconnect to connect them again"
                )
            if former_read is not None:
                former_history = await former_read
            else:
                former_history = await self._former_history(current, isolate=False)
        except BaseException:
            if former_read is not None and not former_read.done():
                former_read.cancel()  # stops its loader process
                await asyncio.wait([former_read])
            raise
        shared_by_remote: SharedCounts = {}
        if former_history and result.history:
            shared_by_remote = await asyncio.to_thread(shared_counts, former_history, result.history)
        del former_history  # the records can be big; only the counts are needed from here
        loop = asyncio.get_running_loop()
        target_text = connector.target
        label = PROVIDER_LABELS.get(provider, provider)

        def write() -> list[ListCounts]:
            from dext_tui.store.models import Connection, Workspace

            now = utcnow()
            with self.store.write() as s:
                db = raw(s)
                workspace = s.get(Workspace, ws.id)
                old = s.get(Connection, current.id)
                assert workspace is not None and old is not None
                reason = f"Changed connection to {label}: {result.tenant_name}"
                _move_to(s, old, ConnectionStatus.DISCONNECTED, reason, now)
                from_generation = workspace.generation
                reason = (
                    f"Connected to {label}: {result.tenant_name}"
                    f" (changed from {current.provider_label}: {current.tenant_name})"
                )
                conn = self._add_connection(s, workspace, provider, target_text, result, now, reason)
                counts = self._apply_all(s, ws, conn, result, loop, progress)
                # The new items have their ids now: the shared history can name them.
                shared = json.dumps(
                    _shared_items(db, ws.id, from_generation, conn.generation, shared_by_remote),
                    separators=(",", ":"),
                )
                merging.open_session(
                    db, ws.id, from_generation=from_generation, origin="change", at=db_time(now),
                    action=f"Change connection to {label}", shared=shared,
                )  # fmt: skip
                return counts

        counts = await asyncio.to_thread(write)
        await asyncio.to_thread(self._release_tokens, current.provider, current.target)
        info = await asyncio.to_thread(self.connection, ws)
        assert info is not None
        return info, counts

    async def _former_history(self, current: ConnectionInfo, *, isolate: bool) -> list[HistoryRecord] | None:
        """The history of the books `current` connects to, or None when it cannot be had: the ledger is
        gone or broken, the provider keeps none. Never raises (but for cancellation): it is evidence for
        Merge lists, and a change of books must not fail for want of it."""
        try:
            connector = self.connector(current.provider, current.target)
            read = getattr(connector, "history", None)
            return None if read is None else await read(isolate=isolate)
        except asyncio.CancelledError:
            raise
        except Exception:
            return None

    def overview(self, ws: WorkspaceRef) -> WorkspaceOverview:
        """What the Integration page says beside the connection: lists to merge, whether Merge lists has
        anything on offer (also with nothing connected), what needs attention, and whether the last merge
        can be undone."""
        with self.store.read() as db:
            pending, available = merging.merge_status(db, ws.id)
            report = needs_attention(db, ws.id)
            undo = merging.undo_available(db, ws.id)
        return WorkspaceOverview(pending, available, report.total, frozenset(report.item_ids()), undo)

    def merge_offer(self, ws: WorkspaceRef) -> merging.Offer:
        """The old items Merge lists offers, per list, and each list's state (pending, left, skipped)."""
        with self.store.read() as db:
            return merging.offer(db, ws.id)

    def _nothing_to_merge(self, db: sqlite3.Connection, ws: WorkspaceRef) -> str:
        done = db.execute(
            "SELECT 1 FROM mergesession WHERE workspace_id = ? AND (origin = 'change' OR undo IS NOT NULL)",
            (ws.id,),
        ).fetchone()
        if done:
            undo = merging.undo_available(db, ws.id)
            return "every list has been merged: no former item holds a rule, a setting or a cost any more" + (
                " (merge --undo takes the last merge back)" if undo else ""
            )
        return f"workspace {ws.name!r} has no lists to merge (they come with Change connection)"

    def merge_plan(self, ws: WorkspaceRef) -> MergePlan:
        """Each old item on offer, per list, with the new item suggested for it."""
        with self.store.read() as db:
            session = merging.latest_session(db, ws.id)
            on_offer = merging.offer(db, ws.id, session)
            if not on_offer.available:
                raise DextError(self._nothing_to_merge(db, ws))
            shared = merging.shared_history(db, session.id) if session else {}
            lists: dict[Kind, list[MergeRow]] = {}
            for kind, ids in on_offer.items.items():
                where = "id IN (SELECT value FROM json_each(?))"
                old = merging.merge_items(db, kind, where, (json.dumps(ids),))
                new = merging.new_items(db, ws.id, kind)
                names = {i.id: i for i in new}
                suggestions = suggest(old, new, shared)
                rows = []
                for item in old:
                    got = suggestions.get(item.id)
                    target = names[got.new_id] if got else None
                    rows.append(
                        MergeRow(
                            ItemRef(item.id, item.code, item.name),
                            ItemRef(target.id, target.code, target.name) if target else None,
                            got.confidence if got else 0.0,
                            got.reason if got else None,
                        )
                    )
                lists[kind] = rows
            return MergePlan(lists, dict(on_offer.states), session.origin if session else "later")

    def merge_apply(
        self,
        ws: WorkspaceRef,
        mapping: Mapping[Kind, Mapping[int, int | None]],
        *,
        skip: Sequence[Kind] = (),
    ) -> str:
        """Re-point rules, item settings and unpublished costs from old items to the new items they map to,
        in one transaction, recording exactly what changed for undo. Mapped old items retire; items left
        (mapped to None) stay on offer while anything holds them. Lists in `skip` are skipped in the same
        transaction (the wizard's Apply). Every id is checked first: a bad one names itself and nothing
        changes."""
        stamp = db_time(utcnow())
        try:
            with self.store.transaction() as db:
                mapped, moved, left = merging.apply(db, ws.id, mapping, skip, stamp)
        except merging.NothingOnOffer:
            with self.store.read() as db:
                raise DextError(self._nothing_to_merge(db, ws)) from None
        kinds = ", ".join(k.label.lower() for k in mapping)
        tail = f"; {left:,} former items still to merge" if left else ""
        skipped = f"Skipped {', '.join(k.label.lower() for k in skip)}." if skip else ""
        if not mapping:
            return skipped
        merged = f"Merged {kinds}: {mapped:,} items mapped, {moved:,} rule fields re-pointed{tail}."
        return f"{merged} {skipped}".strip()

    def merge_accept(self, ws: WorkspaceRef, min_confidence: float = 0.9) -> str:
        """Apply every suggestion at or above `min_confidence`, in the lists still to merge."""
        plan = self.merge_plan(ws)
        mapping = {
            kind: {r.old.id: r.suggestion.id for r in rows if r.suggestion and r.confidence >= min_confidence}
            for kind, rows in plan.lists.items()
            if plan.states.get(kind) == "pending"
        }
        if not any(mapping.values()):
            raise DextError(f"no suggestion is {min_confidence:.0%} sure or more; nothing was merged")
        return self.merge_apply(ws, {k: v for k, v in mapping.items() if v})

    def merge_skip(self, ws: WorkspaceRef, kind: Kind) -> None:
        """Leave a list's old items as they are for now (their rules keep pointing at them, and Merge lists
        keeps offering them)."""
        with self.store.transaction() as db:
            if not merging.offer(db, ws.id).items.get(kind):
                raise DextError(f"{kind.label.lower()} has nothing left to merge")
            session = merging.ensure_session(db, ws.id, db_time(utcnow()))
            session.progress[kind.value] = "skipped"
            session.save(db)

    def _merge_undo_record(self, db: sqlite3.Connection, ws: WorkspaceRef) -> tuple[int, dict[str, Any]]:
        session = merging.latest_session(db, ws.id)
        if session is None or not session.undo:
            raise DextError("there is nothing to undo: no merge since the last change of lists")
        return session.id, session.undo

    def merge_undo_preview(self, ws: WorkspaceRef) -> str:
        """What Undo last merge would put back, or why it cannot (DextError)."""
        with self.store.read() as db:
            _, record = self._merge_undo_record(db, ws)
            refusal = merge_undo.refusal(db, record)
            if refusal:
                raise DextError(refusal)
            return merge_undo.describe(record)

    def merge_undo(self, ws: WorkspaceRef) -> str:
        """Put back exactly what the last merge changed: rules, item settings, cost items and the why of
        their fields, the merge's progress, left items and saved choices. Refused, naming it, when a later
        action touched any of those rows."""
        with self.store.transaction() as db:
            session_id, record = self._merge_undo_record(db, ws)
            refusal = merge_undo.refusal(db, record)
            if refusal:
                raise DextError(refusal)
            rules, costs, items = merge_undo.undo(db, record)
            before = record["session"]
            db.execute(
                "UPDATE mergesession SET progress = ?, left_ids = ?, draft = ?, undo = NULL, state = 'open'"
                " WHERE id = ?",
                (json.dumps(before["progress"]), json.dumps(before["left"]), before["draft"], session_id),
            )
        return (
            f"Undid the last merge: {rules:,} rules, {costs:,} cost items and {items:,} list items are as"
            " they were before it."
        )

    def merge_undo_available(self, ws: WorkspaceRef) -> bool:
        with self.store.read() as db:
            return merging.undo_available(db, ws.id)

    def merge_weights(self, ws: WorkspaceRef) -> dict[int, tuple[int, int, int]]:
        """For each old item on offer that anything leans on: (rule fields that point at it, manual settings
        and fields of unpublished costs that follow it)."""
        with self.store.read() as db:
            ids = {i for ids in merging.offer(db, ws.id).items.values() for i in ids}
            return merging.weights(db, ws.id, ids)

    def merge_draft(self, ws: WorkspaceRef) -> MergeDraft:
        """Where the Merge lists wizard was left (an empty draft when it never was)."""
        with self.store.read() as db:
            row = db.execute(
                "SELECT draft FROM mergesession WHERE workspace_id = ? AND state != 'abandoned'"
                " ORDER BY id DESC LIMIT 1",
                (ws.id,),
            ).fetchone()
        try:
            return MergeDraft.from_json(json.loads(row[0]) if row else {})
        except ValueError:
            return MergeDraft()

    def save_merge_draft(self, ws: WorkspaceRef, draft: MergeDraft) -> None:
        with self.store.transaction() as db:
            session = merging.ensure_session(db, ws.id, db_time(utcnow()))
            db.execute(
                "UPDATE mergesession SET draft = ? WHERE id = ?", (json.dumps(draft.to_json()), session.id)
            )

    # -- needs attention and safety copies ---------------------------------------------------------

    def attention(self, ws: WorkspaceRef) -> Attention:
        """Every rule field, item setting and unpublished cost field pointing at an item that is not
        active, current and visible, with the action that fixes it now."""
        with self.store.read() as db:
            return needs_attention(db, ws.id)

    def snapshots(self, ws: WorkspaceRef) -> list[SnapshotInfo]:
        with self.store.read() as db:
            return list_snapshots(db, ws.id)

    def restore_snapshot(self, ws: WorkspaceRef, snapshot_id: int) -> str:
        """Bring a safety copy back (its lists, rules and settings), after a new safety copy of now. Only
        with nothing connected: the restored lists become the workspace's own."""
        now = utcnow()
        stamp = db_time(now)
        with self.store.transaction() as db:
            info = connection_info(db, ws.id, ws.name)
            if info is not None:
                raise DextError(
                    f"workspace {ws.name!r} is connected to {info.provider_label}: a safety copy can be"
                    " restored only with nothing connected (Disconnect › Keep the current lists first)"
                )
            found = find_snapshot(db, ws.id, snapshot_id)
            if found is None:
                raise NotFound(f"no safety copy {snapshot_id} in workspace {ws.name!r} (dext-tui snapshots)")
            before = current_generation(db, ws.id)
            take_snapshot(db, ws.id, "restore", before, stamp)
            items, rules = restore_payload(db, ws.id, found.payload, own=True)
            merging.open_session(
                db, ws.id, from_generation=before, origin="restore", at=stamp,
                action=f"Restoring safety copy {snapshot_id}",
            )  # fmt: skip
        return (
            f"Restored safety copy {snapshot_id} ({found.info.what}): {items:,} items and {rules:,} rules are"
            f" as they were on {found.info.taken_at:%Y-%m-%d %H:%M}; the lists before it are kept as"
            " a safety copy too."
        )

    # -- demo -------------------------------------------------------------------------------------

    def demo_ledger_path(self) -> Path:
        """The demo ledger, copied once from the package into the data dir (the app may write to it)."""
        target = ensure_private_dir(self.paths.demo_dir) / "harbour-lane-design.beancount"
        if not target.exists():
            source = resources.files("dext_tui") / "data" / "demo.beancount"
            with resources.as_file(source) as src:
                tmp = target.with_suffix(".tmp")
                shutil.copyfile(src, tmp)
                tmp.replace(target)
        return target

    async def ensure_demo(self, *, isolate: bool = False) -> WorkspaceRef:
        """The Demo workspace, connected to the bundled ledger the first time (after that, it is whatever
        the user made of it: disconnected, changed, ...)."""
        ws = await asyncio.to_thread(self.ensure_workspace, DEMO_WORKSPACE)
        if await asyncio.to_thread(self.latest_connection_id, ws) is None:
            ledger = await asyncio.to_thread(self.demo_ledger_path)
            await self.connect(ws, "beancount", str(ledger), isolate=isolate)
            await asyncio.to_thread(self._demo_costs, ws)
        return ws

    def _demo_costs(self, ws: WorkspaceRef) -> None:
        """A few costs in the demo's inbox, and a supplier rule that fills one of them."""
        energy = self.find_item(ws, Kind.SUPPLIERS, "Octopus Energy")
        self.add_rule(
            ws,
            RuleSpec(
                RuleScope.SUPPLIER,
                energy.id,
                category_id=self.find_item(ws, Kind.CATEGORIES, "Expenses:Office:Electricity").id,
                tax_code_id=self.find_item(ws, Kind.TAX_CODES, "R5").id,
                description="Office electricity",
            ),
        )
        source = resources.files("dext_tui") / "data" / "demo-costs.csv"
        with resources.as_file(source) as path:
            self.costs.import_csv(ws, path)
