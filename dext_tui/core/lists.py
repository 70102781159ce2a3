"""Applying a provider's list to the store: diff by remote id, upsert, archive what vanished.

One call = one transaction: a failure (or a kill -9) leaves the list as it was. Bulk statements go
straight to the driver (`executemany`): a 100,000-item list applies in well under a second.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from dext_tui.core.domain import RULE_FIELDS, ItemRow, ItemStatus, Kind, ListCounts, RemoteItem, utcnow
from dext_tui.core.own_lists import ImportReport, OwnItem


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
    partial: bool = False,
) -> ListCounts:
    """Diff `items` against the stored list of this connection and write the difference. A `partial`
    list (fetched incrementally) holds only what changed: items missing from it stay as they are."""
    now = db_time(utcnow())
    rows = db.execute(
        "SELECT id, remote_id, code, name, status, data FROM listitem WHERE connection_id = ? AND kind = ?",
        (connection_id, kind.value),
    ).fetchall()
    existing = {r[1]: r for r in rows}
    seen: set[str] = set()
    inserts: list[tuple] = []
    updates: list[tuple] = []
    added = changed = restored = archived = 0
    for item in items:
        if item.remote_id in seen:
            continue  # a provider listing the same id twice: the first wins
        seen.add(item.remote_id)
        status = item.status.value
        data = _data_json(item.data)
        old = existing.get(item.remote_id)
        if old is None and partial and status == ItemStatus.ARCHIVED:
            continue  # a delta saying an item left a list it was never in: nothing to store
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
            elif old[4] == ItemStatus.ACTIVE and status == ItemStatus.ARCHIVED:
                archived += 1  # archived at the source (Xero lists archived contacts as such)
            else:
                changed += 1
    vanished = (
        []
        if partial
        else [(now, r[0]) for rid, r in existing.items() if rid not in seen and r[4] != ItemStatus.ARCHIVED]
    )
    archived += len(vanished)
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
    total = len(existing) + added if partial else len(seen)
    db.execute(
        "INSERT INTO listsync (connection_id, kind, last_attempt_at, last_success_at, added, changed,"
        " archived, total, error, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"
        " ON CONFLICT (connection_id, kind) DO UPDATE SET last_attempt_at = excluded.last_attempt_at,"
        " last_success_at = excluded.last_success_at, added = excluded.added, changed = excluded.changed,"
        " archived = excluded.archived, total = excluded.total, error = NULL,"
        " fingerprint = excluded.fingerprint",
        (connection_id, kind.value, now, now, added, changed, archived, total, fingerprint),
    )
    return ListCounts(
        kind=kind, added=added, changed=changed, archived=archived, restored=restored, total=total
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


CURRENT = "workspace_id = ? AND generation = (SELECT generation FROM workspace WHERE id = ?) AND kind = ?"


def query_item_tuples(
    db: sqlite3.Connection, workspace_id: int, kind: Kind
) -> list[tuple[int, str | None, str, str, int]]:
    """`(id, code, name, status, visible)` of every item of one of the workspace's current lists,
    archived and hidden included, in display order.

    The lightest shape there is, for views of 100,000 items; answered from one covering index.
    """
    sql = f"SELECT id, code, name, status, visible FROM listitem WHERE {CURRENT}" + ORDER_BY
    return db.execute(sql, (workspace_id, workspace_id, kind.value)).fetchall()


def rule_counts(db: sqlite3.Connection, workspace_id: int) -> dict[int, int]:
    """How many rules use each item (as their target or in any field), for items used at all."""
    columns = ("target_item_id", *(f"{name}_id" for name in RULE_FIELDS))
    union = " UNION ALL ".join(
        f"SELECT {c} AS item FROM rule WHERE workspace_id = ? AND {c} IS NOT NULL" for c in columns
    )
    rows = db.execute(f"SELECT item, count(*) FROM ({union}) GROUP BY item", (workspace_id,) * len(columns))
    return dict(rows.fetchall())


def query_items(
    db: sqlite3.Connection,
    workspace_id: int,
    kind: Kind,
    *,
    include_archived: bool = False,
    include_hidden: bool = True,
    code_or_name: str | None = None,
) -> list[ItemRow]:
    """Every item of one of the workspace's current lists, sorted by name then code (one query); with
    `code_or_name`, only those whose code or name is that text in any (ASCII) case."""
    sql = (
        "SELECT id, code, name, status, remote_id, origin, visible, default_tax_code_id FROM listitem"
        f" WHERE {CURRENT}"
    )
    params: tuple[object, ...] = (workspace_id, workspace_id, kind.value)
    if code_or_name is not None:
        sql += " AND (code = ? COLLATE NOCASE OR name = ? COLLATE NOCASE)"
        params += (code_or_name, code_or_name)
    if not include_archived:
        sql += " AND status = 'active'"
    if not include_hidden:
        sql += " AND visible"
    sql += ORDER_BY
    counts = rule_counts(db, workspace_id)
    return [
        ItemRow(r[0], kind, r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], counts.get(r[0], 0))
        for r in db.execute(sql, params)
    ]


# -- own lists --------------------------------------------------------------------------------------


def _tax_code_ids(db: sqlite3.Connection, workspace_id: int, generation: int) -> dict[str, int]:
    rows = db.execute(
        "SELECT code, id FROM listitem WHERE workspace_id = ? AND generation = ? AND kind = 'tax_codes'"
        " AND code IS NOT NULL",
        (workspace_id, generation),
    )
    return {code.casefold(): item_id for code, item_id in rows}


def insert_own_items(
    db: sqlite3.Connection, workspace_id: int, generation: int, kind: Kind, items: Sequence[OwnItem]
) -> ImportReport:
    """Add or update the workspace's own items of one list (matched by code, else by name).

    Raises InvalidData naming the line of an item whose default tax code is unknown; the caller's
    transaction then leaves the list as it was."""
    now = db_time(utcnow())
    existing = db.execute(
        "SELECT id, code, name, status, data, default_tax_code_id FROM listitem"
        " WHERE workspace_id = ? AND generation = ? AND kind = ?",
        (workspace_id, generation, kind.value),
    ).fetchall()
    by_code = {r[1].casefold(): r for r in existing if r[1]}
    by_name = {r[2].casefold(): r for r in existing if not r[1]}
    tax_codes = _tax_code_ids(db, workspace_id, generation) if kind == Kind.CATEGORIES else {}
    report = ImportReport(kind)
    unknown: list[str] = []
    for item in items:
        default_tax = None
        if item.default_tax_code:
            default_tax = tax_codes.get(item.default_tax_code.casefold())
            if default_tax is None:
                unknown.append(
                    f"line {item.line}: no tax code {item.default_tax_code!r} in the tax codes list"
                )
                continue
        data = _data_json(item.data)
        old = by_code.get(item.code.casefold()) if item.code else by_name.get(item.name.casefold())
        if old is None:
            db.execute(
                "INSERT INTO listitem (workspace_id, kind, connection_id, generation, remote_id, code, name,"
                " status, visible, data, origin, created_at, updated_at, default_tax_code_id)"
                " VALUES (?, ?, NULL, ?, NULL, ?, ?, ?, 1, ?, 'local', ?, ?, ?)",
                (
                    workspace_id,
                    kind.value,
                    generation,
                    item.code,
                    item.name,
                    item.status.value,
                    data,
                    now,
                    now,
                    default_tax,
                ),
            )
            report.added += 1
        elif (old[1], old[2], old[3], old[4], old[5]) != (
            item.code,
            item.name,
            item.status.value,
            data,
            default_tax if item.default_tax_code else old[5],
        ):
            db.execute(
                "UPDATE listitem SET code = ?, name = ?, status = ?, data = ?, updated_at = ?,"
                " default_tax_code_id = ? WHERE id = ?",
                (
                    item.code,
                    item.name,
                    item.status.value,
                    data,
                    now,
                    default_tax if item.default_tax_code else old[5],
                    old[0],
                ),
            )
            report.updated += 1
        else:
            report.unchanged += 1
    if unknown:
        from dext_tui.core.errors import InvalidData

        raise InvalidData(f"{len(unknown)} bad row(s), nothing imported: " + "; ".join(unknown[:20]))
    return report
