"""Read queries in plain sqlite3, for the hot paths: the service uses them inside its sessions, and
the TUI's first paint uses them before sqlmodel/SQLAlchemy are even imported (start-up budget)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from dext_tui.core.domain import ALL_KINDS, ConnectionInfo, ConnectionStatus, ListSyncInfo
from dext_tui.store.migrations import SCHEMA_VERSION


def _time(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text).replace(tzinfo=UTC)


def connection_info(db: sqlite3.Connection, workspace_id: int, workspace: str) -> ConnectionInfo | None:
    """The workspace's live connection (connected or expired) with its lists' sync state, or None."""
    row = db.execute(
        "SELECT id, provider, target, tenant_name, status, status_reason, connected_at, last_refreshed_at,"
        " expires_at, generation FROM connection WHERE workspace_id = ? AND status != 'disconnected'"
        " ORDER BY id DESC LIMIT 1",
        (workspace_id,),
    ).fetchone()
    if row is None:
        return None
    syncs = {
        r[0]: r
        for r in db.execute(
            "SELECT kind, last_attempt_at, last_success_at, total, error FROM listsync"
            " WHERE connection_id = ?",
            (row[0],),
        )
    }
    lists = tuple(
        ListSyncInfo(k, _time(syncs[k][1]), _time(syncs[k][2]), syncs[k][3], syncs[k][4])
        if k in syncs
        else ListSyncInfo(k, None, None, 0, None)
        for k in ALL_KINDS
    )
    return ConnectionInfo(
        id=row[0],
        workspace=workspace,
        provider=row[1],
        target=row[2],
        tenant_name=row[3],
        status=ConnectionStatus(row[4]),
        status_reason=row[5],
        connected_at=_time(row[6]),
        last_refreshed_at=_time(row[7]),
        expires_at=_time(row[8]),
        generation=row[9],
        lists=lists,
    )


class NotKnownYet(Exception):
    """The quick read cannot answer (no database yet, an older schema, a new workspace)."""


def peek_connection(db_path: Path, workspace: str) -> ConnectionInfo | None:
    """Read-only look at a workspace's connection without opening the store; raises NotKnownYet."""
    if not db_path.is_file():
        raise NotKnownYet
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                raise NotKnownYet
            ws = db.execute("SELECT id FROM workspace WHERE name = ?", (workspace,)).fetchone()
            if ws is None:
                raise NotKnownYet
            return connection_info(db, ws[0], workspace)
        finally:
            db.close()
    except sqlite3.Error:
        raise NotKnownYet from None
