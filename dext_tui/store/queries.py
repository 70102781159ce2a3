"""Read queries in plain sqlite3, for the hot paths: the service uses them inside its sessions, and
the TUI opens with them before its first paint; sqlmodel and SQLAlchemy load only to write."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from dext_tui.core.domain import (
    ALL_KINDS,
    ConnectionEventInfo,
    ConnectionInfo,
    ConnectionStatus,
    ListSyncInfo,
    utcnow,
)
from dext_tui.core.merging import pending_kinds

RECENT_EVENTS = 6  # shown on the Integration page


def parse_time(text: str | None) -> datetime | None:
    """A DATETIME column as written by SQLAlchemy (naive UTC text) -> an aware UTC datetime."""
    return None if not text else datetime.fromisoformat(text).replace(tzinfo=UTC)


def expiry_reason(expires_at: datetime) -> str:
    return f"Connection is expired (its authorisation ended on {expires_at:%Y-%m-%d}; reconnect to renew it)"


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
        ListSyncInfo(k, parse_time(syncs[k][1]), parse_time(syncs[k][2]), syncs[k][3], syncs[k][4])
        if k in syncs
        else ListSyncInfo(k, None, None, 0, None)
        for k in ALL_KINDS
    )
    recent = tuple(
        ConnectionEventInfo(parse_time(r[0]), r[1], r[2], r[3])  # type: ignore[arg-type]
        for r in db.execute(
            "SELECT at, from_status, to_status, reason FROM connectionevent WHERE connection_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (row[0], RECENT_EVENTS),
        )
    )
    to_merge = pending_kinds(db, workspace_id)
    status, reason = ConnectionStatus(row[4]), row[5]
    expires_at = parse_time(row[8])
    if status == ConnectionStatus.CONNECTED and expires_at is not None and expires_at <= utcnow():
        # Its authorisation has run out (Dext's yearly policy): expired from that moment, whether or not
        # anything has noticed yet; the next refresh records it in the timeline.
        status, reason = ConnectionStatus.EXPIRED, expiry_reason(expires_at)
    return ConnectionInfo(
        id=row[0],
        workspace=workspace,
        provider=row[1],
        target=row[2],
        tenant_name=row[3],
        status=status,
        status_reason=reason,
        connected_at=parse_time(row[6]),
        last_refreshed_at=parse_time(row[7]),
        expires_at=expires_at,
        generation=row[9],
        lists=lists,
        recent=recent,
        to_merge=to_merge,
    )
