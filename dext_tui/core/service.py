"""The services every front end uses (the TUI and the CLI twin): workspaces, connect, refresh, lists.

Blocking store work runs in threads (`asyncio.to_thread`); connector work is async. Callers get plain
dataclasses from `core.domain`, never ORM objects.

Reads are plain SQL on `store.read()`. Writes go through sqlmodel sessions (`store.write()`), and the ORM
is imported inside the methods that write: loading it costs about half a second, which neither the TUI's
first screen nor `dext-tui status` should pay.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from dext_tui.connectors.base import Connector, FetchResult
from dext_tui.core.domain import (
    ALL_KINDS,
    DEFAULT_WORKSPACE,
    DEMO_WORKSPACE,
    PROVIDER_LABELS,
    ConnectionEventInfo,
    ConnectionInfo,
    ConnectionStatus,
    ItemRow,
    Kind,
    ListCounts,
    ProgressFn,
    RefreshEvent,
    normalise_workspace_name,
    utcnow,
    workspace_name_problem,
)
from dext_tui.core.errors import ConnectionExpired, DextError, NotConnected, UsageError
from dext_tui.core.lists import apply_remote_list, query_item_tuples, query_items, record_list_error
from dext_tui.paths import AppPaths, app_paths, ensure_private_dir
from dext_tui.store.engine import Store, open_store, raw
from dext_tui.store.queries import connection_info, parse_time

if TYPE_CHECKING:
    from sqlmodel import Session

    from dext_tui.store.models import Connection

PROVIDERS = ("beancount",)


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    id: int
    name: str


def _noop(_event: RefreshEvent) -> None:
    pass


class DextService:
    def __init__(self, paths: AppPaths, store: Store) -> None:
        self.paths = paths
        self.store = store

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
            return WorkspaceRef(ws.id, ws.name)

    # -- connection -------------------------------------------------------------------------------

    def connection(self, ws: WorkspaceRef) -> ConnectionInfo | None:
        """The workspace's connection (connected or expired), or None when nothing is connected."""
        with self.store.read() as db:
            return connection_info(db, ws.id, ws.name)

    def connector(self, provider: str, target: str | None) -> Connector:
        if provider == "beancount":
            from dext_tui.connectors.beancount_ledger import BeancountConnector

            if not target:
                raise UsageError("connect beancount needs the ledger file: dext-tui connect beancount PATH")
            return BeancountConnector(target, cache_dir=self.paths.cache_dir)
        if provider in PROVIDER_LABELS:
            raise UsageError(f"{PROVIDER_LABELS[provider]} is not available yet; choose one of: beancount")
        raise UsageError(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")

    def _set_status(self, connection_id: int, status: ConnectionStatus, reason: str | None) -> None:
        from dext_tui.store.models import Connection, ConnectionEvent

        with self.store.write() as s:
            conn = s.get(Connection, connection_id)
            if conn is None or (conn.status == status and conn.status_reason == reason):
                return
            s.add(
                ConnectionEvent(
                    connection_id=connection_id,
                    at=utcnow(),
                    from_status=conn.status,
                    to_status=status,
                    reason=reason,
                )
            )
            conn.status, conn.status_reason = status.value, reason
            s.add(conn)

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
        progress(RefreshEvent("reading"))
        result = await connector.fetch(ALL_KINDS, isolate=isolate)
        target_text = connector.target
        loop = asyncio.get_running_loop()

        def write() -> list[ListCounts]:
            from sqlmodel import select

            from dext_tui.store.models import Connection, ConnectionEvent

            now = utcnow()
            with self.store.write() as s:
                generation = 1 + max(
                    (
                        c.generation
                        for c in s.exec(select(Connection).where(Connection.workspace_id == ws.id))
                    ),
                    default=0,
                )
                conn = Connection(
                    workspace_id=ws.id,
                    provider=provider,
                    target=target_text,
                    tenant_id=result.tenant_id,
                    tenant_name=result.tenant_name,
                    status=ConnectionStatus.CONNECTED.value,
                    connected_at=now,
                    last_refreshed_at=now,
                    generation=generation,
                )
                s.add(conn)
                s.flush()
                s.add(
                    ConnectionEvent(
                        connection_id=conn.id,
                        at=now,
                        from_status=None,
                        to_status=ConnectionStatus.CONNECTED.value,
                        reason=f"Connected to {PROVIDER_LABELS.get(provider, provider)}:"
                        f" {result.tenant_name}",
                    )
                )
                return self._apply_all(s, ws, conn, result, loop, progress)

        counts = await asyncio.to_thread(write)
        info = await asyncio.to_thread(self.connection, ws)
        assert info is not None
        return info, counts

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
            raise ConnectionExpired(f"{info.status_reason or 'Connection is expired'}; reconnect first")
        connector = self.connector(info.provider, info.target)
        try:
            connector.check_source()
        except ConnectionExpired as exc:
            await asyncio.to_thread(self.mark_expired, info.id, str(exc))
            raise

        fingerprints = await asyncio.to_thread(self._fingerprints, info.id, kinds)
        if not force and len(set(fingerprints.values())) == 1 and len(fingerprints) == len(kinds):
            fingerprint = next(iter(fingerprints.values()))
            if connector.unchanged_since(fingerprint):
                counts = await asyncio.to_thread(self._touch_unchanged, info.id, kinds)
                for c in counts:
                    progress(RefreshEvent("done", c.kind, c))
                return counts

        progress(RefreshEvent("reading"))
        try:
            result = await connector.fetch(kinds, isolate=isolate)
        except ConnectionExpired as exc:
            await asyncio.to_thread(self.mark_expired, info.id, str(exc))
            raise
        loop = asyncio.get_running_loop()

        def write_one(kind: Kind) -> ListCounts:
            loop.call_soon_threadsafe(progress, RefreshEvent("applying", kind))
            try:
                with self.store.write() as s:
                    c = apply_remote_list(
                        raw(s),
                        workspace_id=ws.id,
                        connection_id=info.id,
                        generation=info.generation,
                        kind=kind,
                        items=result.lists[kind],
                        fingerprint=result.fingerprint,
                    )
            except Exception as exc:
                message = f"could not save the list: {exc.__class__.__name__}: {exc}"
                try:
                    with self.store.write() as s:
                        record_list_error(raw(s), info.id, kind, message)
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
        if all(c.ok for c in counts):
            await asyncio.to_thread(self._mark_refreshed, info.id, result.tenant_name)
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
        from sqlmodel import select

        from dext_tui.store.models import Connection, ListSync

        now = utcnow()
        with self.store.write() as s:
            syncs = {
                x.kind: x for x in s.exec(select(ListSync).where(ListSync.connection_id == connection_id))
            }
            out = []
            for kind in kinds:
                sync = syncs[kind.value]
                sync.last_attempt_at = sync.last_success_at = now
                sync.added = sync.changed = sync.archived = 0
                s.add(sync)
                out.append(ListCounts(kind, total=sync.total, unchanged_source=True))
            conn = s.get(Connection, connection_id)
            if conn is not None:
                conn.last_refreshed_at = now
                s.add(conn)
            return out

    def _tenant_id(self, connection_id: int) -> str | None:
        with self.store.read() as db:
            row = db.execute("SELECT tenant_id FROM connection WHERE id = ?", (connection_id,)).fetchone()
        return row[0] if row else None

    def _mark_refreshed(self, connection_id: int, tenant_name: str | None) -> None:
        from dext_tui.store.models import Connection

        with self.store.write() as s:
            conn = s.get(Connection, connection_id)
            if conn is not None:
                conn.last_refreshed_at = utcnow()
                if tenant_name:
                    conn.tenant_name = tenant_name
                s.add(conn)

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
            from dext_tui.store.models import Connection, ConnectionEvent

            now = utcnow()
            with self.store.write() as s:
                conn = s.get(Connection, info.id)
                assert conn is not None
                s.add(
                    ConnectionEvent(
                        connection_id=conn.id,
                        at=now,
                        from_status=conn.status,
                        to_status=ConnectionStatus.CONNECTED.value,
                        reason="Reconnected" + (f" to {target_text}" if target_text != conn.target else ""),
                    )
                )
                conn.status, conn.status_reason = ConnectionStatus.CONNECTED.value, None
                conn.target, conn.last_refreshed_at = target_text, now
                s.add(conn)
                return self._apply_all(s, ws, conn, result, loop, progress)

        counts = await asyncio.to_thread(write)
        new_info = await asyncio.to_thread(self.connection, ws)
        assert new_info is not None
        return new_info, counts

    # -- lists ------------------------------------------------------------------------------------

    def items(self, ws: WorkspaceRef, kind: Kind, *, include_archived: bool = False) -> list[ItemRow]:
        with self.store.read() as db:
            return query_items(db, ws.id, kind, include_archived=include_archived)

    def item_tuples(self, ws: WorkspaceRef, kind: Kind) -> list[tuple[int, str | None, str, str]]:
        """`(id, code, name, status)` for every item, archived included: what a list view needs."""
        with self.store.read() as db:
            return query_item_tuples(db, ws.id, kind)

    def events(self, connection_id: int) -> list[ConnectionEventInfo]:
        """The connection's timeline, oldest first."""
        with self.store.read() as db:
            rows = db.execute(
                "SELECT at, from_status, to_status, reason FROM connectionevent"
                " WHERE connection_id = ? ORDER BY id",
                (connection_id,),
            ).fetchall()
        return [ConnectionEventInfo(parse_time(r[0]), r[1], r[2], r[3]) for r in rows]

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
        """The Demo workspace, connected to the bundled ledger (made once)."""
        ws = await asyncio.to_thread(self.ensure_workspace, DEMO_WORKSPACE)
        info = await asyncio.to_thread(self.connection, ws)
        if info is None:
            ledger = await asyncio.to_thread(self.demo_ledger_path)
            await self.connect(ws, "beancount", str(ledger), isolate=isolate)
        return ws
