"""Safety copies (snapshots): a workspace's lists, rules and item settings as they were at a moment.

Taken before every action that replaces them: on connecting (the own lists from before integrating, which
Disconnect › Reinstate brings back), before a disconnect and before a restore. `dext-tui snapshots` lists
them and `snapshots restore ID` brings one back, so lists set aside stay recoverable. Plain SQL, run in the
caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dext_tui.core.attention import RULE_ITEM_COLUMNS
from dext_tui.core.domain import iso
from dext_tui.store.queries import parse_time

VERSION = 1
LISTED = ("pre-integration", "disconnect", "restore")  # (merge snapshots of older stores are not listed)

ITEM_COLUMNS = (
    "id, kind, connection_id, generation, remote_id, code, name, status, visible, data, origin,"
    " created_at, updated_at, default_tax_code_id"
)
RULE_COLUMNS = (
    "id, scope, target_item_id, category_id, tax_code_id, bank_account_id, tracking_id, currency_id,"
    " description, paid, auto_publish, created_at, updated_at"
)

_REASON_TEXT = {
    "pre-integration": "Your own lists before connecting",
    "disconnect": "Before disconnecting",
    "restore": "Before restoring a safety copy",
    "merge": "Before a merge",
}


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    id: int
    reason: str
    what: str
    taken_at: datetime
    generation: int
    items: int
    rules: int
    settings: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "what": self.what,
            "taken_at": iso(self.taken_at),
            "items": self.items,
            "rules": self.rules,
            "settings": self.settings,
        }


@dataclass(frozen=True, slots=True)
class Found:
    info: SnapshotInfo
    payload: str


def snapshot_payload(
    db: sqlite3.Connection,
    workspace_id: int,
    generation: int,
    *,
    what: str = "",
    extra: dict[str, Any] | None = None,
) -> str:
    """The workspace's lists of one generation, every item its rules and settings point at (whatever its
    generation), and its rules, as JSON text."""
    items = db.execute(
        f"SELECT {ITEM_COLUMNS} FROM listitem WHERE workspace_id = ? AND (generation = ? OR id IN"
        f" (SELECT {' FROM rule WHERE workspace_id = ? UNION SELECT '.join(RULE_ITEM_COLUMNS)}"
        "  FROM rule WHERE workspace_id = ?)"
        " OR id IN (SELECT default_tax_code_id FROM listitem WHERE workspace_id = ? AND generation = ?))"
        " ORDER BY id",
        (workspace_id, generation, *([workspace_id] * len(RULE_ITEM_COLUMNS)), workspace_id, generation),
    ).fetchall()
    rules = db.execute(
        f"SELECT {RULE_COLUMNS} FROM rule WHERE workspace_id = ? ORDER BY id", (workspace_id,)
    ).fetchall()
    settings = sum(1 for r in items if r[3] == generation and (not r[8] or r[13] is not None))
    counts = {"items": sum(1 for r in items if r[3] == generation), "rules": len(rules), "settings": settings}
    payload = {
        "version": VERSION,
        "generation": generation,
        "items": items,
        "rules": rules,
        "extra": {"what": what, "counts": counts, **(extra or {})},
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def take_snapshot(
    db: sqlite3.Connection, workspace_id: int, reason: str, generation: int, stamp: str, what: str = ""
) -> int:
    payload = snapshot_payload(db, workspace_id, generation, what=what or _REASON_TEXT.get(reason, reason))
    cursor = db.execute(
        "INSERT INTO snapshot (workspace_id, reason, generation, taken_at, payload) VALUES (?, ?, ?, ?, ?)",
        (workspace_id, reason, generation, stamp, payload),
    )
    return int(cursor.lastrowid or 0)


def _info(row: tuple[Any, ...]) -> SnapshotInfo:
    snap_id, reason, generation, taken_at, payload = row
    data = json.loads(payload)
    extra = data.get("extra") or {}
    counts = extra.get("counts") or {
        "items": sum(1 for r in data["items"] if r[3] == generation),
        "rules": len(data["rules"]),
        "settings": sum(1 for r in data["items"] if r[3] == generation and (not r[8] or r[13] is not None)),
    }
    taken = parse_time(taken_at)
    assert taken is not None
    return SnapshotInfo(
        snap_id,
        reason,
        extra.get("what") or _REASON_TEXT.get(reason, reason),
        taken,
        generation,
        counts["items"],
        counts["rules"],
        counts["settings"],
    )


def list_snapshots(db: sqlite3.Connection, workspace_id: int) -> list[SnapshotInfo]:
    """The workspace's safety copies, newest first."""
    marks = ", ".join("?" * len(LISTED))
    rows = db.execute(
        "SELECT id, reason, generation, taken_at, payload FROM snapshot WHERE workspace_id = ?"
        f" AND reason IN ({marks}) ORDER BY id DESC",
        (workspace_id, *LISTED),
    ).fetchall()
    return [_info(r) for r in rows]


def find_snapshot(db: sqlite3.Connection, workspace_id: int, snapshot_id: int) -> Found | None:
    row = db.execute(
        "SELECT id, reason, generation, taken_at, payload FROM snapshot WHERE workspace_id = ? AND id = ?",
        (workspace_id, snapshot_id),
    ).fetchone()
    return Found(_info(row), row[4]) if row else None


def latest_pre_integration(db: sqlite3.Connection, workspace_id: int) -> Found | None:
    """The own lists recorded when the current integration began (its connect; a change of connection
    carries on the same integration)."""
    row = db.execute(
        "SELECT id FROM snapshot WHERE workspace_id = ? AND reason = 'pre-integration'"
        " ORDER BY id DESC LIMIT 1",
        (workspace_id,),
    ).fetchone()
    return find_snapshot(db, workspace_id, row[0]) if row else None


def snapshot_counts(payload: str) -> tuple[int, int]:
    """(items, rules) in a snapshot."""
    data = json.loads(payload)
    counts = (data.get("extra") or {}).get("counts")
    if counts:
        return counts["items"], counts["rules"]
    return sum(1 for r in data["items"] if r[3] == data["generation"]), len(data["rules"])


def restore_payload(
    db: sqlite3.Connection, workspace_id: int, payload: str, *, own: bool = False
) -> tuple[int, int]:
    """Put the snapshot's items back as they were (same ids), make its rules the workspace's rules and its
    generation the current one; with `own`, its lists become the workspace's own. Items of other
    generations stay as they are. Returns (items, rules) restored."""
    data = json.loads(payload)
    if data.get("version") != VERSION:
        raise ValueError(f"unknown snapshot version {data.get('version')!r}")
    columns = [c.strip() for c in ITEM_COLUMNS.split(",")]
    # An id is never reused for another item while its rows may come back: refuse rather than overwrite.
    known = {
        r[0]: (r[1], r[2])
        for r in db.execute(
            "SELECT id, kind, created_at FROM listitem WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([row[0] for row in data["items"]]),),
        )
    }
    clash = [row[0] for row in data["items"] if row[0] in known and known[row[0]] != (row[1], row[11])]
    if clash:
        raise ValueError(f"item ids {clash[:5]} now belong to other items; this copy cannot be restored")
    db.execute("PRAGMA defer_foreign_keys = ON")  # items may refer to each other in any order
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    marks = ", ".join("?" * (len(columns) + 1))
    db.executemany(
        f"INSERT INTO listitem ({ITEM_COLUMNS}, workspace_id) VALUES ({marks})"
        f" ON CONFLICT (id) DO UPDATE SET {updates}",
        [(*row, workspace_id) for row in data["items"]],
    )
    db.execute("DELETE FROM rule WHERE workspace_id = ?", (workspace_id,))
    rule_marks = ", ".join("?" * (len(RULE_COLUMNS.split(",")) + 1))
    db.executemany(
        f"INSERT INTO rule ({RULE_COLUMNS}, workspace_id) VALUES ({rule_marks})",
        [(*row, workspace_id) for row in data["rules"]],
    )
    generation = data["generation"]
    db.execute("UPDATE workspace SET generation = ? WHERE id = ?", (generation, workspace_id))
    # Items added to that generation after the copy was taken: gone, as they were not then; one that a
    # cost still points at cannot go, so it stays archived (Needs attention names the cost to edit).
    later = [
        i
        for (i,) in db.execute(
            "SELECT id FROM listitem WHERE workspace_id = ? AND generation = ?"
            " AND id NOT IN (SELECT value FROM json_each(?))",
            (workspace_id, generation, json.dumps([row[0] for row in data["items"]])),
        )
    ]
    if later:
        used = {
            i
            for (i,) in db.execute(
                "WITH l (id) AS (SELECT value FROM json_each(?))"
                " SELECT id FROM l WHERE EXISTS (SELECT 1 FROM costitem c WHERE l.id IN (c.supplier_id,"
                " c.category_id, c.tax_code_id, c.bank_account_id, c.tracking_id))"
                " OR EXISTS (SELECT 1 FROM costline c WHERE l.id IN (c.category_id, c.tax_code_id,"
                " c.tracking_id)) OR EXISTS (SELECT 1 FROM listitem d WHERE d.default_tax_code_id = l.id)"
                " OR EXISTS (SELECT 1 FROM rule r WHERE l.id IN (r.target_item_id, r.category_id,"
                " r.tax_code_id, r.bank_account_id, r.tracking_id, r.currency_id))",
                (json.dumps(later),),
            )
        }
        db.executemany("DELETE FROM listitem WHERE id = ?", [(i,) for i in later if i not in used])
        db.executemany(
            "UPDATE listitem SET status = 'archived' WHERE id = ?", [(i,) for i in later if i in used]
        )
    if own:
        db.execute(
            "UPDATE listitem SET origin = 'local' WHERE workspace_id = ? AND generation = ?"
            " AND origin != 'local'",
            (workspace_id, generation),
        )
    return sum(1 for r in data["items"] if r[3] == generation), len(data["rules"])
