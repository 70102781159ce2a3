"""Rules and snapshots in plain SQL: reading rules with their items, and taking or restoring a snapshot of
a workspace's lists, rules and settings. Writers run these inside one `Store.write()` transaction."""

from __future__ import annotations

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
    """Items of the current lists carrying a manual setting: hidden, or a category's default tax code.
    (Settings on items set aside stay with them, for Merge lists to move.)"""
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
