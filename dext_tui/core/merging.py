"""Merge lists in plain SQL: what is on offer, the plan, Apply (re-pointing in one transaction) and its undo.

What Merge lists offers is derived from the store, never only remembered: every item of an older
generation that a rule, a setting or an unpublished cost still holds (`attention.referenced_old_items`),
plus, after a Change connection, every active item of the former lists that has not been decided yet.
So whatever happens in between (a disconnect, a reinstate, another change, a restore), an old item that
still holds something stays on offer, in the app and the CLI alike: no dead end.

A merge session (`mergesession`) keeps what a merge remembers: what set the old items aside (`origin`),
the former generation of a change (its items all on offer), the items the user left for later, per-list
skips, the wizard's draft, the shared-history evidence, and the undo of the last Apply.

Writers run these inside the caller's one transaction (`Store.transaction()`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dext_tui.core import merge_undo
from dext_tui.core.attention import (
    COST_ITEM_COLUMNS,
    LINE_ITEM_COLUMNS,
    RULE_ITEM_COLUMNS,
    current_generation,
    load_items,
    referenced_old_items,
    scan_references,
)
from dext_tui.core.domain import Kind
from dext_tui.core.errors import DextError
from dext_tui.core.lists import ORDER_BY
from dext_tui.core.merge import MergeItem

# The Merge lists wizard's order: the lists rules lean on most come first.
MERGE_ORDER = (
    Kind.CATEGORIES,
    Kind.TAX_CODES,
    Kind.BANK_ACCOUNTS,
    Kind.TRACKING,
    Kind.SUPPLIERS,
    Kind.CUSTOMERS,
    Kind.CURRENCIES,
)

RULE_COLUMNS = RULE_ITEM_COLUMNS
COST_COLUMNS = COST_ITEM_COLUMNS
COST_LINE_COLUMNS = LINE_ITEM_COLUMNS


class NothingOnOffer(DextError):
    """No old item is on offer: nothing to merge (the caller says why, in the workspace's words)."""


@dataclass(slots=True)
class Session:
    id: int
    from_generation: int
    origin: str  # change | connect | reinstate | restore | later
    progress: dict[str, str]  # {kind: "pending" | "skipped"}: the lists this merge has had on offer
    left: set[int]
    undo: dict[str, Any] | None

    def save(self, db: sqlite3.Connection) -> None:
        db.execute(
            "UPDATE mergesession SET progress = ?, left_ids = ? WHERE id = ?",
            (json.dumps(self.progress), json.dumps(sorted(self.left)), self.id),
        )


def _probe(from_generation: int, origin: str) -> Session:
    """A session not stored yet, to ask what it will offer."""
    return Session(0, from_generation, origin, {}, set(), None)


def latest_session(db: sqlite3.Connection, workspace_id: int) -> Session | None:
    """The workspace's merge session in force (the latest one that no later action abandoned)."""
    row = db.execute(
        "SELECT id, from_generation, origin, progress, left_ids, undo FROM mergesession"
        " WHERE workspace_id = ? AND state != 'abandoned' ORDER BY id DESC LIMIT 1",
        (workspace_id,),
    ).fetchone()
    if row is None:
        return None
    try:
        progress = {k: ("skipped" if v == "skipped" else "pending") for k, v in json.loads(row[3]).items()}
        left = {int(i) for i in json.loads(row[4] or "[]")}
        undo = json.loads(row[5]) if row[5] else None
    except (ValueError, TypeError, AttributeError):
        progress, left, undo = {}, set(), None
    return Session(row[0], row[1], row[2], progress, left, undo)


def open_session(
    db: sqlite3.Connection,
    workspace_id: int,
    *,
    from_generation: int,
    origin: str,
    at: str,
    action: str,
    shared: str = "{}",
) -> int:
    """A new merge session for what an action just set aside; the one before is abandoned (its old items
    that still hold something stay on offer all the same). An undo that was possible is no longer: the
    action came after it, and the new session says so."""
    before = latest_session(db, workspace_id)
    blocked = _blocked_by(before, action, at)
    db.execute(
        "UPDATE mergesession SET state = 'abandoned', undo = NULL"
        " WHERE workspace_id = ? AND state != 'abandoned'",
        (workspace_id,),
    )
    cursor = db.execute(
        "INSERT INTO mergesession (workspace_id, from_generation, to_generation, created_at, state, progress,"
        " shared, draft, origin, left_ids, undo) VALUES (?, ?, ?, ?, 'open', ?, ?, '{}', ?, '[]', ?)",
        (
            workspace_id,
            from_generation,
            current_generation(db, workspace_id),
            at,
            json.dumps(
                {k.value: "pending" for k in offer(db, workspace_id, _probe(from_generation, origin)).items}
            ),
            shared,
            origin,
            json.dumps(blocked) if blocked else None,
        ),
    )
    return int(cursor.lastrowid or 0)


def undo_available(db: sqlite3.Connection, workspace_id: int) -> bool:
    """Whether the last Apply can still be undone (no later action ended its undo)."""
    session = latest_session(db, workspace_id)
    return session is not None and bool(session.undo) and "blocked" not in session.undo


def block_undo(db: sqlite3.Connection, workspace_id: int, action: str, at: str) -> None:
    """An action that changes what a merge re-pointed (a disconnect) ends its undo, saying why."""
    session = latest_session(db, workspace_id)
    blocked = _blocked_by(session, action, at)
    if session is not None and blocked:
        db.execute("UPDATE mergesession SET undo = ? WHERE id = ?", (json.dumps(blocked), session.id))


def _blocked_by(session: Session | None, action: str, at: str) -> dict[str, str] | None:
    if session is None or not session.undo:
        return None
    if "blocked" in session.undo:
        return session.undo  # the first action after the merge is the one to name
    return {"blocked": f"{action} on {at[:16].replace('T', ' ')}"}


# -- what is on offer ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    """Old items on offer per list, and each list's state."""

    items: dict[Kind, list[int]]  # on offer (undecided and left), in display order
    states: dict[Kind, str]  # pending | left | skipped | merged

    @property
    def pending(self) -> tuple[Kind, ...]:
        return tuple(k for k in MERGE_ORDER if self.states.get(k) == "pending")

    @property
    def available(self) -> bool:
        return any(self.items.values())

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.items.values())


def offer(db: sqlite3.Connection, workspace_id: int, session: Session | None = None) -> Offer:
    session = session if session is not None else latest_session(db, workspace_id)
    current = current_generation(db, workspace_id)
    wanted = set(referenced_old_items(db, workspace_id))
    left = session.left if session else set()
    if session is not None and session.origin == "change" and session.from_generation != current:
        wanted |= {
            i
            for (i,) in db.execute(
                "SELECT id FROM listitem WHERE workspace_id = ? AND generation = ? AND status = 'active'",
                (workspace_id, session.from_generation),
            )
        } - left
    by_kind: dict[Kind, list[int]] = {}
    if wanted:
        for item_id, kind in db.execute(
            "SELECT id, kind FROM listitem WHERE id IN (SELECT value FROM json_each(?))" + ORDER_BY,
            (json.dumps(sorted(wanted)),),
        ):
            by_kind.setdefault(Kind(kind), []).append(item_id)
    states: dict[Kind, str] = {}
    for kind in MERGE_ORDER:
        ids = by_kind.get(kind)
        skipped = session is not None and session.progress.get(kind.value) == "skipped"
        if not ids:
            if session is not None and kind.value in session.progress:
                states[kind] = "merged"
            continue
        if skipped:
            states[kind] = "skipped"
        elif any(i not in left for i in ids):
            states[kind] = "pending"
        else:
            states[kind] = "left"
    ordered = {k: by_kind[k] for k in MERGE_ORDER if k in by_kind}
    return Offer(ordered, states)


def pending_kinds(db: sqlite3.Connection, workspace_id: int) -> tuple[Kind, ...]:
    """`offer(...).pending` without listing the items: the lists with an undecided old item, for the
    status every screen reads (100,000 former suppliers: milliseconds, not the offer's third of a second)."""
    return merge_status(db, workspace_id)[0]


def merge_status(db: sqlite3.Connection, workspace_id: int) -> tuple[tuple[Kind, ...], bool]:
    """(the lists with an undecided old item, whether Merge lists has anything on offer at all)."""
    session = latest_session(db, workspace_id)
    left = session.left if session else set()
    held = referenced_old_items(db, workspace_id)
    kinds = {kind for item_id, kind in held.items() if item_id not in left}
    current = current_generation(db, workspace_id)
    if session is not None and session.origin == "change" and session.from_generation != current:
        kinds |= {
            k
            for (k,) in db.execute(
                "SELECT DISTINCT kind FROM listitem WHERE workspace_id = ? AND generation = ?"
                " AND status = 'active' AND id NOT IN (SELECT value FROM json_each(?))",
                (workspace_id, session.from_generation, json.dumps(sorted(left))),
            )
        }
    skipped = {k for k, state in (session.progress if session else {}).items() if state == "skipped"}
    pending = tuple(k for k in MERGE_ORDER if k.value in kinds and k.value not in skipped)
    return pending, bool(held) or bool(kinds)


def _rate_text(rate: object) -> str:
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(str(rate))
    except InvalidOperation:
        return str(rate)
    return format(value.normalize(), "f") if value.is_finite() else str(rate)


def merge_items(db: sqlite3.Connection, kind: Kind, where: str, params: Sequence[Any]) -> list[MergeItem]:
    """Items of a list as the suggestion engine takes them."""
    rows = db.execute(
        f"SELECT id, code, name, data FROM listitem WHERE kind = ? AND {where}" + ORDER_BY,
        (kind.value, *params),
    )
    out = []
    for item_id, code, name, data in rows:
        rate = json.loads(data).get("rate") if data and kind == Kind.TAX_CODES else None
        out.append(MergeItem(item_id, code, name, None if rate is None else _rate_text(rate)))
    return out


def new_items(db: sqlite3.Connection, workspace_id: int, kind: Kind) -> list[MergeItem]:
    """The current list's active items: what old items may be mapped to."""
    return merge_items(
        db, kind, "workspace_id = ? AND generation = ? AND status = 'active'",
        (workspace_id, current_generation(db, workspace_id)),
    )  # fmt: skip


def shared_history(db: sqlite3.Connection, session_id: int) -> dict[int, dict[int, int]]:
    """A merge's shared history as `suggest` takes it: {old item id: {new item id: transactions}}."""
    row = db.execute("SELECT shared FROM mergesession WHERE id = ?", (session_id,)).fetchone()
    try:
        stored = json.loads(row[0]) if row and row[0] else {}
        return {int(old): {int(new): int(n) for new, n in row_.items()} for old, row_ in stored.items()}
    except (ValueError, TypeError, AttributeError):
        return {}  # unreadable evidence is no evidence: the names still suggest


def weights(db: sqlite3.Connection, workspace_id: int, ids: set[int]) -> dict[int, tuple[int, int, int]]:
    """For old items on offer that anything leans on: (rule fields, settings, cost fields) pointing at it."""
    refs, _ = scan_references(db, workspace_id)
    out: dict[int, list[int]] = {}
    for ref in refs:
        if ref.item_id not in ids:
            continue
        slot = {"rule": 0, "setting": 1, "cost": 2}[ref.where]
        out.setdefault(ref.item_id, [0, 0, 0])[slot] += 1
    return {i: (w[0], w[1], w[2]) for i, w in out.items()}


# -- apply --------------------------------------------------------------------------------------


def ensure_session(db: sqlite3.Connection, workspace_id: int, at: str) -> Session:
    session = latest_session(db, workspace_id)
    if session is None:  # old items on offer with no session (a store from before sessions had origins)
        open_session(
            db,
            workspace_id,
            from_generation=current_generation(db, workspace_id),
            origin="later",
            at=at,
            action="",
        )
        session = latest_session(db, workspace_id)
        assert session is not None
    return session


def check_mapping(
    db: sqlite3.Connection,
    workspace_id: int,
    on_offer: Offer,
    mapping: Mapping[Kind, Mapping[int, int | None]],
    skip: Sequence[Kind],
) -> None:
    """Every id is checked first: a bad one names itself and nothing changes."""
    problems = []
    for kind in skip:
        if not on_offer.items.get(kind):
            problems.append(f"{kind.cli_name}: nothing left to merge, so nothing to skip")
    current = current_generation(db, workspace_id)
    for kind, pairs in mapping.items():
        offered = set(on_offer.items.get(kind, ()))
        if not offered:
            problems.append(f"{kind.cli_name}: nothing to merge")
            continue
        news = {
            i
            for (i,) in db.execute(
                "SELECT id FROM listitem WHERE workspace_id = ? AND generation = ? AND kind = ?"
                " AND status = 'active'",
                (workspace_id, current, kind.value),
            )
        }
        for old_id, new_id in pairs.items():
            if old_id not in offered:
                problems.append(f"{kind.cli_name}: {old_id} is not a former item of this list on offer")
            if new_id is not None and new_id not in news:
                problems.append(f"{kind.cli_name}: {new_id} is not an item of the new list")
    # One rule per supplier (customer, payment method): two old items mapped to one new item cannot both
    # bring their rules.
    flat = {old: new for pairs in mapping.values() for old, new in pairs.items() if new is not None}
    targets: dict[tuple[str, int], int] = {}
    for rule_id, scope, target in db.execute(
        "SELECT id, scope, target_item_id FROM rule WHERE workspace_id = ?", (workspace_id,)
    ):
        key = (scope, flat.get(target, target))
        if key in targets:
            problems.append(
                f"rules {targets[key]} and {rule_id} would both be for item {key[1]};"
                " remove one of them or map one of their items elsewhere"
            )
        targets[key] = rule_id
    if problems:
        raise DextError("; ".join(problems) + "; nothing was merged")


def apply(
    db: sqlite3.Connection,
    workspace_id: int,
    mapping: Mapping[Kind, Mapping[int, int | None]],
    skip: Sequence[Kind],
    stamp: str,
) -> tuple[int, int, int]:
    """Re-point everything that held the mapped old items, record the undo, note left items and skipped
    lists. Returns (items mapped, rule fields re-pointed, old items still undecided in these lists)."""
    session = ensure_session(db, workspace_id, stamp)
    on_offer = offer(db, workspace_id, session)
    if not on_offer.available:
        raise NothingOnOffer("nothing to merge")  # (the caller's transaction drops the session made)
    check_mapping(db, workspace_id, on_offer, mapping, skip)
    pairs = [(o, n) for m in mapping.values() for o, n in m.items() if n is not None]
    draft = db.execute("SELECT draft FROM mergesession WHERE id = ?", (session.id,)).fetchone()[0]
    before = {"progress": dict(session.progress), "left": sorted(session.left), "draft": draft}
    log = merge_undo.begin(db, workspace_id, pairs)
    moved = repoint(db, workspace_id, pairs, stamp)
    for pairs_of_kind in mapping.values():
        for old, new in pairs_of_kind.items():
            if new is None:
                session.left.add(old)
            else:
                session.left.discard(old)
    for kind in mapping:
        session.progress[kind.value] = "pending"  # deciding items of a skipped list takes it up again
    for kind in skip:
        session.progress[kind.value] = "skipped"
    session.save(db)
    after = offer(db, workspace_id, session)
    left = sum(1 for kind in mapping for i in after.items.get(kind, ()) if i not in session.left)
    undo = merge_undo.finish(db, log, stamp, before)
    db.execute("UPDATE mergesession SET undo = NULL WHERE workspace_id = ?", (workspace_id,))
    db.execute(
        "UPDATE mergesession SET draft = '{}', undo = ?, state = ? WHERE id = ?",
        (json.dumps(undo), "open" if after.available else "done", session.id),
    )
    return len(pairs), moved, left


def repoint(db: sqlite3.Connection, workspace_id: int, pairs: Sequence[tuple[int, int]], stamp: str) -> int:
    """Everything that pointed at the old items now points at the new ones they map to; the old items
    retire. Set-based (a temporary mapping table), so 100,000 items take a second, not minutes. A cost's
    re-pointed fields say where they came from ("merged from ..."). Returns how many rule fields moved."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS merge_map (old_id INTEGER PRIMARY KEY, new_id INTEGER)")
    db.execute("CREATE INDEX IF NOT EXISTS temp.merge_map_new ON merge_map (new_id)")  # settings, by new item
    db.execute("DELETE FROM merge_map")
    db.executemany("INSERT INTO merge_map (old_id, new_id) VALUES (?, ?)", pairs)
    moved = 0
    for column in RULE_COLUMNS:
        moved += db.execute(
            f"UPDATE rule SET {column} = (SELECT new_id FROM merge_map WHERE old_id = rule.{column}),"
            f" updated_at = ? WHERE workspace_id = ? AND {column} IN (SELECT old_id FROM merge_map)",
            (stamp, workspace_id),
        ).rowcount
    _note_merged_sources(db, workspace_id)
    # Costs not yet published follow too (a published one keeps what it was published with).
    for column in COST_COLUMNS:
        db.execute(
            f"UPDATE costitem SET {column} = (SELECT new_id FROM merge_map WHERE old_id = costitem.{column}),"
            f" updated_at = ? WHERE workspace_id = ? AND state != 'published'"
            f" AND {column} IN (SELECT old_id FROM merge_map)",
            (stamp, workspace_id),
        )
    for column in COST_LINE_COLUMNS:
        db.execute(
            f"UPDATE costline SET {column} = (SELECT new_id FROM merge_map WHERE old_id = costline.{column})"
            f" WHERE {column} IN (SELECT old_id FROM merge_map) AND item_id IN"
            " (SELECT id FROM costitem WHERE workspace_id = ? AND state != 'published')",
            (workspace_id,),
        )
    # Manual settings follow: a new item is hidden if an old item mapped to it was, and takes an old
    # item's default tax code when it has none of its own.
    db.execute(
        "UPDATE listitem SET updated_at = ?,"
        " visible = visible AND NOT EXISTS (SELECT 1 FROM merge_map m JOIN listitem o ON o.id = m.old_id"
        "  WHERE m.new_id = listitem.id AND NOT o.visible),"
        " default_tax_code_id = COALESCE(default_tax_code_id, (SELECT COALESCE(n.new_id,"
        " o.default_tax_code_id) FROM merge_map m JOIN listitem o ON o.id = m.old_id"
        "  LEFT JOIN merge_map n ON n.old_id = o.default_tax_code_id"
        "  WHERE m.new_id = listitem.id AND o.default_tax_code_id IS NOT NULL ORDER BY o.id LIMIT 1))"
        " WHERE id IN (SELECT new_id FROM merge_map)",
        (stamp,),
    )
    # Categories whose default tax code was an old tax code now default to the new one.
    db.execute(
        "UPDATE listitem SET default_tax_code_id ="
        " (SELECT new_id FROM merge_map WHERE old_id = listitem.default_tax_code_id), updated_at = ?"
        " WHERE workspace_id = ? AND default_tax_code_id IN (SELECT old_id FROM merge_map)",
        (stamp, workspace_id),
    )
    # The old items retire, and their settings go with them (they moved to the new items).
    db.execute(
        "UPDATE listitem SET status = 'archived', visible = 1, default_tax_code_id = NULL, updated_at = ?"
        " WHERE id IN (SELECT old_id FROM merge_map)",
        (stamp,),
    )
    db.execute("DELETE FROM merge_map")
    return moved


_COST_FIELD_OF = {
    "supplier_id": "supplier",
    "category_id": "category",
    "tax_code_id": "tax_code",
    "bank_account_id": "bank_account",
    "tracking_id": "tracking",
}


def _note_merged_sources(db: sqlite3.Connection, workspace_id: int) -> None:
    """The why of a cost's re-pointed field says what it was merged from (before the columns move)."""
    where = " OR ".join(f"{c} IN (SELECT old_id FROM merge_map)" for c in COST_COLUMNS)
    rows = db.execute(
        f"SELECT id, sources, {', '.join(COST_COLUMNS)} FROM costitem"
        f" WHERE workspace_id = ? AND state != 'published' AND ({where})",
        (workspace_id,),
    ).fetchall()
    if not rows:
        return
    names = {
        i.id: f"{i.code} · {i.name}" if i.code and i.code != i.name else i.name
        for i in load_items(db, {v for r in rows for v in r[2:] if v}).values()
    }
    mapped = {o for (o,) in db.execute("SELECT old_id FROM merge_map")}
    updates = []
    for row in rows:
        sources = json.loads(row[1] or "{}")
        for column, value in zip(COST_COLUMNS, row[2:], strict=True):
            if value in mapped:
                name = _COST_FIELD_OF[column]
                sources[name] = {**sources.get(name, {}), "merged_from": names.get(value, "?")}
        updates.append((json.dumps(sources, separators=(",", ":")), row[0]))
    db.executemany("UPDATE costitem SET sources = ? WHERE id = ?", updates)
