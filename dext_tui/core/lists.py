"""Applying a provider's list to the store: diff by remote id, upsert, archive what vanished.

One call = one transaction: a failure (or a kill -9) leaves the list as it was. Bulk statements go
straight to the driver (`executemany`): a 100,000-item list applies in well under a second.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from dext_tui.core.domain import ItemRow, ItemStatus, Kind, ListCounts, RemoteItem, utcnow


def db_time(value: datetime) -> str:
    """The text form SQLAlchemy uses for DATETIME columns in SQLite (naive UTC)."""
    return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _data_json(data: dict | None) -> str | None:
    return json.dumps(data, sort_keys=True, separators=(",", ":")) if data else None


def apply_remote_list(
    db: sqlite3.Connection,
    *,
    workspace_id: int,
    connection_id: int,
    generation: int,
    kind: Kind,
    items: list[RemoteItem],
    fingerprint: str | None,
) -> ListCounts:
    """Diff `items` against the stored list of this connection and write the difference."""
    now = db_time(utcnow())
    rows = db.execute(
        "SELECT id, remote_id, code, name, status, data FROM listitem WHERE connection_id = ? AND kind = ?",
        (connection_id, kind.value),
    ).fetchall()
    existing = {r[1]: r for r in rows}
    seen: set[str] = set()
    inserts: list[tuple] = []
    updates: list[tuple] = []
    added = changed = restored = 0
    for item in items:
        if item.remote_id in seen:
            continue  # a provider listing the same id twice: the first wins
        seen.add(item.remote_id)
        status = item.status.value
        data = _data_json(item.data)
        old = existing.get(item.remote_id)
        if old is None:
            inserts.append(
                (
                    workspace_id,
                    kind.value,
                    connection_id,
                    generation,
                    item.remote_id,
                    item.code,
                    item.name,
                    status,
                    data,
                    now,
                    now,
                )
            )
            added += 1
        elif (old[2], old[3], old[4], old[5]) != (item.code, item.name, status, data):
            updates.append((item.code, item.name, status, data, now, old[0]))
            if old[4] == ItemStatus.ARCHIVED and status == ItemStatus.ACTIVE:
                restored += 1
            else:
                changed += 1
    vanished = [(now, r[0]) for rid, r in existing.items() if rid not in seen and r[4] != ItemStatus.ARCHIVED]
    if inserts:
        db.executemany(
            "INSERT INTO listitem (workspace_id, kind, connection_id, generation, remote_id, code, name,"
            " status, visible, data, origin, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 'remote', ?, ?)",
            inserts,
        )
    if updates:
        db.executemany(
            "UPDATE listitem SET code = ?, name = ?, status = ?, data = ?, updated_at = ? WHERE id = ?",
            updates,
        )
    if vanished:
        db.executemany("UPDATE listitem SET status = 'archived', updated_at = ? WHERE id = ?", vanished)
    total = len(seen)
    db.execute(
        "INSERT INTO listsync (connection_id, kind, last_attempt_at, last_success_at, added, changed,"
        " archived, total, error, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"
        " ON CONFLICT (connection_id, kind) DO UPDATE SET last_attempt_at = excluded.last_attempt_at,"
        " last_success_at = excluded.last_success_at, added = excluded.added, changed = excluded.changed,"
        " archived = excluded.archived, total = excluded.total, error = NULL,"
        " fingerprint = excluded.fingerprint",
        (connection_id, kind.value, now, now, added, changed, len(vanished), total, fingerprint),
    )
    return ListCounts(
        kind=kind, added=added, changed=changed, archived=len(vanished), restored=restored, total=total
    )


def record_list_error(db: sqlite3.Connection, connection_id: int, kind: Kind, error: str) -> None:
    now = db_time(utcnow())
    db.execute(
        "INSERT INTO listsync (connection_id, kind, last_attempt_at, added, changed, archived, total, error)"
        " VALUES (?, ?, ?, 0, 0, 0, 0, ?) ON CONFLICT (connection_id, kind) DO UPDATE SET"
        " last_attempt_at = excluded.last_attempt_at, error = excluded.error",
        (connection_id, kind.value, now, error),
    )


ORDER_BY = " ORDER BY name COLLATE NOCASE, code COLLATE NOCASE, id"  # ix_listitem_display serves it


def query_item_tuples(
    db: sqlite3.Connection, workspace_id: int, kind: Kind
) -> list[tuple[int, str | None, str, str]]:
    """`(id, code, name, status)` of every item of one list, archived included, in display order.

    The lightest shape there is, for views of 100,000 items; answered from one covering index.
    """
    sql = "SELECT id, code, name, status FROM listitem WHERE workspace_id = ? AND kind = ?" + ORDER_BY
    return db.execute(sql, (workspace_id, kind.value)).fetchall()


def query_items(
    db: sqlite3.Connection, workspace_id: int, kind: Kind, *, include_archived: bool = False
) -> list[ItemRow]:
    """Every item of one list of the workspace, sorted by name then code (one query)."""
    sql = "SELECT id, code, name, status, remote_id, origin FROM listitem WHERE workspace_id = ? AND kind = ?"
    if not include_archived:
        sql += " AND status = 'active'"
    sql += ORDER_BY
    return [
        ItemRow(r[0], kind, r[1], r[2], r[3], r[4], r[5]) for r in db.execute(sql, (workspace_id, kind.value))
    ]
