"""The undo of a merge: exactly the rows an Apply changed, as they were before and after it.

`begin` reads the rows the Apply is about to change (rules, cost items and their lines, list items and
their settings); `finish` reads them again afterwards and keeps both, with the merge's progress, left
items and the wizard's draft as they were. `undo` first checks that every one of those rows is still as
the merge left it: if a later action touched one (a rule edited, a cost published, a setting changed),
undo is refused and names it, since putting the old values back would silently undo that action too.
One level: a later Apply replaces the log, and an undo spends it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dext_tui.core.attention import COST_ITEM_COLUMNS, LINE_ITEM_COLUMNS, RULE_ITEM_COLUMNS

# (table, the columns kept, the columns compared to find a later change)
_RULE = ("rule", (*RULE_ITEM_COLUMNS, "updated_at"))
_COST = ("costitem", (*COST_ITEM_COLUMNS, "sources", "updated_at", "state", "sending"))
_LINE = ("costline", LINE_ITEM_COLUMNS)
_ITEM = ("listitem", ("visible", "default_tax_code_id", "status", "updated_at"))
TABLES = (_RULE, _COST, _LINE, _ITEM)


@dataclass(slots=True)
class Log:
    ids: dict[str, list[int]]
    before: dict[str, dict[int, list[Any]]]


def _affected(
    db: sqlite3.Connection, workspace_id: int, old: list[int], new: list[int]
) -> dict[str, list[int]]:
    olds = json.dumps(old)
    ins = "IN (SELECT value FROM json_each(:old))"
    rules = db.execute(
        "SELECT id FROM rule WHERE workspace_id = :ws AND ("
        + " OR ".join(f"{c} {ins}" for c in RULE_ITEM_COLUMNS)
        + ")",
        {"ws": workspace_id, "old": olds},
    ).fetchall()
    costs = db.execute(
        "SELECT id FROM costitem WHERE workspace_id = :ws AND state != 'published' AND ("
        + " OR ".join(f"{c} {ins}" for c in COST_ITEM_COLUMNS)
        + ")",
        {"ws": workspace_id, "old": olds},
    ).fetchall()
    lines = db.execute(
        "SELECT l.id FROM costline l JOIN costitem c ON c.id = l.item_id WHERE c.workspace_id = :ws"
        " AND c.state != 'published' AND (" + " OR ".join(f"l.{c} {ins}" for c in _LINE[1]) + ")",
        {"ws": workspace_id, "old": olds},
    ).fetchall()
    items = db.execute(
        f"SELECT id FROM listitem WHERE workspace_id = :ws AND (id {ins} OR id IN (SELECT value FROM"
        f" json_each(:new)) OR default_tax_code_id {ins})",
        {"ws": workspace_id, "old": olds, "new": json.dumps(new)},
    ).fetchall()
    return {
        "rule": [r for (r,) in rules],
        "costitem": [r for (r,) in costs],
        "costline": [r for (r,) in lines],
        "listitem": [r for (r,) in items],
    }


def _read(db: sqlite3.Connection, table: str, columns: Sequence[str], ids: list[int]) -> dict[int, list[Any]]:
    if not ids:
        return {}
    rows = db.execute(
        f"SELECT id, {', '.join(columns)} FROM {table} WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    )
    return {r[0]: list(r[1:]) for r in rows}


def begin(db: sqlite3.Connection, workspace_id: int, pairs: Sequence[tuple[int, int]]) -> Log:
    ids = _affected(db, workspace_id, [o for o, _ in pairs], [n for _, n in pairs])
    return Log(ids, {table: _read(db, table, columns, ids[table]) for table, columns in TABLES})


def finish(db: sqlite3.Connection, log: Log, stamp: str, session_before: dict[str, Any]) -> dict[str, Any]:
    """The undo record: per table, {id: [before, after]} (only rows the Apply changed), and the merge's
    own state before it."""
    rows: dict[str, dict[str, list[list[Any]]]] = {}
    for table, columns in TABLES:
        after = _read(db, table, columns, log.ids[table])
        changed = {}
        for row_id, was in log.before[table].items():
            now = after.get(row_id)
            if now is not None and now != was:
                changed[str(row_id)] = [was, now]
        rows[table] = changed
    return {"at": stamp, "rows": rows, "session": session_before}


_WHAT = {"rule": "rule", "costitem": "cost", "costline": "a line of a cost", "listitem": "item"}


def _later_change(db: sqlite3.Connection, table: str, columns: Sequence[str], row_id: int,
                  was: list[Any], after: list[Any], now: list[Any] | None) -> str | None:  # fmt: skip
    """What a later action did to a row the merge changed, in words; None when it is as the merge left it."""
    if table == "listitem":  # compared on what the merge changed: a refresh may rename it meanwhile
        keys = [i for i, c in enumerate(columns) if c != "updated_at" and was[i] != after[i]]
        if now is not None and all(now[i] == after[i] for i in keys):
            return None
    elif now == after:
        return None
    if now is None:
        return f"{_WHAT[table]} {row_id} was deleted after the merge"
    if table == "costitem" and now[columns.index("state")] == "published":
        return f"cost {row_id} was published after the merge"
    if table == "costitem" and now[columns.index("sending")] is not None:
        return f"cost {row_id} was sent to the books after the merge"
    if table == "listitem":
        name = db.execute("SELECT name FROM listitem WHERE id = ?", (row_id,)).fetchone()
        return (
            f"item {name[0]!r} was hidden, shown, archived or given another default tax code after the merge"
        )
    if table == "costline":
        owner = db.execute("SELECT item_id FROM costline WHERE id = ?", (row_id,)).fetchone()
        return f"cost {owner[0]} was edited after the merge"
    return f"{_WHAT[table]} {row_id} was edited after the merge"


def refusal(db: sqlite3.Connection, record: dict[str, Any]) -> str | None:
    """Why this undo cannot be done now (a later action touched what it would put back), or None."""
    if "blocked" in record:
        return f"the last merge can no longer be undone: {record['blocked']} came after it"
    found = []
    for table, columns in TABLES:
        changed = record["rows"].get(table, {})
        current = _read(db, table, columns, [int(i) for i in changed])
        for row_id, (was, after) in changed.items():
            why = _later_change(db, table, columns, int(row_id), was, after, current.get(int(row_id)))
            if why:
                found.append(why)
    if not found:
        return None
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    return "cannot undo the last merge: " + "; ".join(found[:3]) + more + "; undoing it would undo that too"


def describe(record: dict[str, Any]) -> str:
    """What an undo would put back, in a sentence."""
    rows = record["rows"]
    rules, costs = len(rows.get("rule", {})), len(rows.get("costitem", {}))
    lines, items = len(rows.get("costline", {})), len(rows.get("listitem", {}))
    parts = [
        f"{rules:,} rules",
        f"{costs + (1 if lines and not costs else 0):,} cost items",
        f"{items:,} list items",
    ]
    return (
        f"Undo the merge of {record['at'][:16].replace('T', ' ')}: puts back {', '.join(parts)} as they were"
        " before it (their fields, settings and why), and the merge's progress and saved choices."
    )


def undo(db: sqlite3.Connection, record: dict[str, Any]) -> tuple[int, int, int]:
    """Put every row back as it was before the merge. The caller checked `refusal` first, in the same
    transaction. Returns (rules, cost items, list items) restored."""
    for table, columns in TABLES:
        changed = record["rows"].get(table, {})
        if not changed:
            continue
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row_id, (was, after) in changed.items():
            if table == "listitem":  # only what the merge changed: a refresh may have changed the rest
                keep = tuple(c for i, c in enumerate(columns) if was[i] != after[i])
            elif table == "costitem":
                keep = tuple(c for c in columns if c not in ("state", "sending"))
            else:
                keep = tuple(columns)
            groups.setdefault(keep, []).append((*(was[columns.index(c)] for c in keep), int(row_id)))
        for keep, params in groups.items():
            sets = ", ".join(f"{c} = ?" for c in keep)
            db.executemany(f"UPDATE {table} SET {sets} WHERE id = ?", params)
    rows = record["rows"]
    return len(rows.get("rule", {})), len(rows.get("costitem", {})), len(rows.get("listitem", {}))
