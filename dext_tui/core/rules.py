"""Rules and snapshots in plain SQL: reading rules with their items, and taking or restoring a snapshot of
a workspace's lists, rules and settings. Writers run these inside one `Store.write()` transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from dext_tui.core.domain import RULE_FIELDS, AutoPublish, ItemRef, RuleInfo, RuleScope

_ITEM_ALIASES = {"target": "t", **{name: f"f{i}" for i, name in enumerate(RULE_FIELDS)}}

RULE_SELECT = (
    "SELECT r.id, r.scope, r.description, r.paid, r.auto_publish, "
    + ", ".join(f"{a}.id, {a}.code, {a}.name, {a}.status" for a in _ITEM_ALIASES.values())
    + " FROM rule r JOIN listitem t ON t.id = r.target_item_id "
    + " ".join(f"LEFT JOIN listitem f{i} ON f{i}.id = r.{name}_id" for i, name in enumerate(RULE_FIELDS))
)


def _ref(row: tuple[Any, ...], at: int) -> ItemRef | None:
    return None if row[at] is None else ItemRef(row[at], row[at + 1], row[at + 2], row[at + 3])


def _rule(row: tuple[Any, ...]) -> RuleInfo:
    refs = {name: _ref(row, 5 + 4 * i) for i, name in enumerate(_ITEM_ALIASES)}
    target = refs.pop("target")
    assert target is not None
    return RuleInfo(
        id=row[0],
        scope=RuleScope(row[1]),
        description=row[2],
        paid=None if row[3] is None else bool(row[3]),
        auto_publish=AutoPublish(row[4]),
        target=target,
        **refs,  # type: ignore[arg-type]
    )


def query_rules(db: sqlite3.Connection, workspace_id: int) -> list[RuleInfo]:
    """Every rule of the workspace: by scope, then by the target's name."""
    scope_order = "CASE r.scope WHEN 'supplier' THEN 0 WHEN 'customer' THEN 1 ELSE 2 END"
    sql = RULE_SELECT + f" WHERE r.workspace_id = ? ORDER BY {scope_order}, t.name COLLATE NOCASE, r.id"
    return [_rule(row) for row in db.execute(sql, (workspace_id,))]


def query_rule(db: sqlite3.Connection, workspace_id: int, rule_id: int) -> RuleInfo | None:
    row = db.execute(
        RULE_SELECT + " WHERE r.workspace_id = ? AND r.id = ?", (workspace_id, rule_id)
    ).fetchone()
    return _rule(row) if row else None


# -- what a disconnect would touch ------------------------------------------------------------------


def count_rules(db: sqlite3.Connection, workspace_id: int) -> int:
    return db.execute("SELECT count(*) FROM rule WHERE workspace_id = ?", (workspace_id,)).fetchone()[0]


def count_settings(db: sqlite3.Connection, workspace_id: int) -> int:
    """Items of the current lists carrying a manual setting: hidden, or a category's default tax code."""
    return db.execute(
        "SELECT count(*) FROM listitem WHERE workspace_id = ?"
        " AND generation = (SELECT generation FROM workspace WHERE id = ?)"
        " AND (NOT visible OR default_tax_code_id IS NOT NULL)",
        (workspace_id, workspace_id),
    ).fetchone()[0]


def count_current_items(db: sqlite3.Connection, workspace_id: int) -> int:
    return db.execute(
        "SELECT count(*) FROM listitem WHERE workspace_id = ?"
        " AND generation = (SELECT generation FROM workspace WHERE id = ?)",
        (workspace_id, workspace_id),
    ).fetchone()[0]


# -- snapshots ------------------------------------------------------------------------------------

_ITEM_COLUMNS = (
    "id, kind, connection_id, generation, remote_id, code, name, status, visible, data, origin,"
    " created_at, updated_at, default_tax_code_id"
)
_RULE_COLUMNS = (
    "id, scope, target_item_id, category_id, tax_code_id, bank_account_id, tracking_id, currency_id,"
    " description, paid, auto_publish, created_at, updated_at"
)


def snapshot_payload(
    db: sqlite3.Connection,
    workspace_id: int,
    generation: int,
    *,
    also: tuple[int, ...] = (),
    extra: dict[str, Any] | None = None,
) -> str:
    """The workspace's lists of one generation (and of the `also` ones), its rules and its items'
    settings, as JSON text; `extra` rides along (a merge keeps its progress there for undo)."""
    generations = (generation, *also)
    marks = ", ".join("?" * len(generations))
    items = db.execute(
        f"SELECT {_ITEM_COLUMNS} FROM listitem WHERE workspace_id = ? AND generation IN ({marks})"
        " ORDER BY id",
        (workspace_id, *generations),
    ).fetchall()
    rules = db.execute(
        f"SELECT {_RULE_COLUMNS} FROM rule WHERE workspace_id = ? ORDER BY id", (workspace_id,)
    ).fetchall()
    payload = {"version": 1, "generation": generation, "items": items, "rules": rules, "extra": extra or {}}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def snapshot_counts(payload: str) -> tuple[int, int]:
    """(items, rules) in a snapshot."""
    data = json.loads(payload)
    return len(data["items"]), len(data["rules"])


def restore_snapshot(db: sqlite3.Connection, workspace_id: int, payload: str) -> tuple[int, int]:
    """Put the snapshot's items back as they were (same ids) and make its rules the workspace's rules.
    Items of other generations are left as they are (former lists). Returns (items, rules) restored."""
    data = json.loads(payload)
    if data.get("version") != 1:
        raise ValueError(f"unknown snapshot version {data.get('version')!r}")
    db.execute("PRAGMA defer_foreign_keys = ON")  # items may refer to each other in any order
    columns = [c.strip() for c in _ITEM_COLUMNS.split(",")]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    marks = ", ".join("?" * (len(columns) + 1))
    db.executemany(
        f"INSERT INTO listitem ({_ITEM_COLUMNS}, workspace_id) VALUES ({marks})"
        f" ON CONFLICT (id) DO UPDATE SET {updates}",
        [(*row, workspace_id) for row in data["items"]],
    )
    db.execute("DELETE FROM rule WHERE workspace_id = ?", (workspace_id,))
    rule_marks = ", ".join("?" * (len(_RULE_COLUMNS.split(",")) + 1))
    db.executemany(
        f"INSERT INTO rule ({_RULE_COLUMNS}, workspace_id) VALUES ({rule_marks})",
        [(*row, workspace_id) for row in data["rules"]],
    )
    db.execute("UPDATE workspace SET generation = ? WHERE id = ?", (data["generation"], workspace_id))
    return len(data["items"]), len(data["rules"])
