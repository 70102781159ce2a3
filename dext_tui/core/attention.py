"""Needs attention: every reference (a rule field, an item setting, an unpublished cost or cost line field)
to a list item that is not active, current and visible, with the reason and the action that fixes it here.

A reference is what keeps an item alive: rules and costs point at items by dext-tui's own ids, so after a
change of connection, a reinstate or an archive in the books, a rule may point at an item no list shows.
This module finds them all from the store in a handful of set-based reads (100,000 items and 5,000 rules
take a fraction of a second) and says, for each, which action fixes it in the workspace's present state.
The same scan tells Merge lists which old items still hold something (`referenced_old_items`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dext_tui.core.domain import PROVIDER_LABELS, RULE_FIELDS, Kind

# Problems, as `dext-tui attention --json` names them.
ARCHIVED, HIDDEN, FORMER, SET_ASIDE = "archived", "hidden", "former", "set-aside"
PROBLEM_TEXT = {
    ARCHIVED: "archived or gone from the books",
    HIDDEN: "hidden from pickers",
    FORMER: "from the former books (before a change of connection)",
    SET_ASIDE: "set aside (lists replaced by a connection or a reinstate)",
}

# Actions a fix may name; `available_actions` says which exist in a state (no dead ends: a test checks
# every fix against it).
MERGE, EDIT_RULE, EDIT_COST, PUBLISH, SHOW_ITEM, REFRESH, RECONNECT, DEFAULT_TAX = (
    "merge",
    "edit_rule",
    "edit_cost",
    "publish",
    "show_item",
    "refresh",
    "reconnect",
    "default_tax_code",
)

COST_FIELDS = ("supplier", "category", "tax_code", "bank_account", "tracking")
LINE_FIELDS = ("category", "tax_code", "tracking")
RULE_REF_FIELDS = ("target", *RULE_FIELDS)
# The columns that hold those references (every module that re-points or reads them uses these).
RULE_ITEM_COLUMNS = ("target_item_id", *(f"{name}_id" for name in RULE_FIELDS))
COST_ITEM_COLUMNS = tuple(f"{name}_id" for name in COST_FIELDS)
LINE_ITEM_COLUMNS = tuple(f"{name}_id" for name in LINE_FIELDS)


@dataclass(frozen=True, slots=True)
class AttentionItem:
    id: int
    kind: Kind
    code: str | None
    name: str
    status: str  # active | archived

    @property
    def label(self) -> str:
        return f"{self.code} · {self.name}" if self.code and self.code != self.name else self.name

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.cli_name, "code": self.code, "name": self.name,
                "status": self.status}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Entry:
    """One reference to an item that needs attention."""

    where: str  # rule | setting | cost
    owner: int  # the rule id, the item carrying the setting, the cost id
    field: str  # rules: target, category, ...; settings: hidden | default_tax_code; costs: supplier, ...
    item: AttentionItem
    problem: str
    fix: str
    actions: tuple[str, ...]
    line: int | None = None  # a cost line's position

    def to_json(self) -> dict[str, Any]:
        base = {"item": self.item.to_json(), "problem": self.problem, "fix": self.fix}
        if self.where == "rule":
            return {"rule": self.owner, "field": self.field, **base}
        if self.where == "setting":
            return {"item": self.item.to_json(), "on": self.owner, "setting": self.field,
                    "problem": self.problem, "fix": self.fix}  # fmt: skip
        return {"cost": self.owner, "line": self.line, "field": self.field, **base}


@dataclass(slots=True)
class Attention:
    rules: list[Entry] = field(default_factory=list)
    settings: list[Entry] = field(default_factory=list)
    costs: list[Entry] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rules) + len(self.settings) + len(self.costs)

    def entries(self) -> list[Entry]:
        return [*self.rules, *self.settings, *self.costs]

    def item_ids(self) -> set[int]:
        """Items that something needing attention points at (list pages mark them)."""
        return {e.item.id for e in self.entries()}

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [e.to_json() for e in self.rules],
            "settings": [e.to_json() for e in self.settings],
            "costs": [e.to_json() for e in self.costs],
        }

    def summary(self) -> str:
        if not self.total:
            return "Nothing needs attention: every rule, setting and cost points at an item you can see."
        parts = [
            f"{n:,} {what}{'s' if n != 1 else ''}"
            for n, what in (
                (len(self.rules), "rule field"),
                (len(self.settings), "item setting"),
                (len(self.costs), "cost field"),
            )
            if n
        ]
        verb = "points" if self.total == 1 else "point"
        return f"Needs attention: {', '.join(parts)} {verb} at items you cannot see or use."


@dataclass(frozen=True, slots=True)
class Ref:
    where: str
    owner: int
    field: str
    item_id: int
    line: int | None = None
    holder: bool = False  # a setting's own item (it carries the setting), not the item it points at


def scan_references(db: sqlite3.Connection, workspace_id: int) -> tuple[list[Ref], dict[int, bool]]:
    """Every reference to a list item that can still act: rule fields, item settings (a hidden item, a
    category's default tax code), fields of costs not yet published and of their lines. Also returns the
    costs among them that are frozen by an unanswered send ({cost id: True})."""
    refs: list[Ref] = []
    columns = ", ".join(f"{name}_id" for name in RULE_FIELDS)
    for row in db.execute(
        f"SELECT id, target_item_id, {columns} FROM rule WHERE workspace_id = ?", (workspace_id,)
    ):
        refs.extend(
            Ref("rule", row[0], name, v) for name, v in zip(RULE_REF_FIELDS, row[1:], strict=True) if v
        )
    for item_id, visible, default_tax in db.execute(
        "SELECT id, visible, default_tax_code_id FROM listitem WHERE workspace_id = ?"
        " AND (NOT visible OR default_tax_code_id IS NOT NULL)",
        (workspace_id,),
    ):
        if not visible:
            refs.append(Ref("setting", item_id, "hidden", item_id, holder=True))
        if default_tax is not None:
            refs.append(Ref("setting", item_id, "default_tax_code", default_tax))
            refs.append(Ref("setting", item_id, "default_tax_code", item_id, holder=True))
    frozen: dict[int, bool] = {}
    cost_columns = ", ".join(f"{name}_id" for name in COST_FIELDS)
    for row in db.execute(
        f"SELECT id, sending IS NOT NULL, {cost_columns} FROM costitem"
        " WHERE workspace_id = ? AND state != 'published'",
        (workspace_id,),
    ):
        if row[1]:
            frozen[row[0]] = True
        refs.extend(Ref("cost", row[0], name, v) for name, v in zip(COST_FIELDS, row[2:], strict=True) if v)
    line_columns = ", ".join(f"l.{name}_id" for name in LINE_FIELDS)
    for row in db.execute(
        f"SELECT l.item_id, l.position, {line_columns} FROM costline l JOIN costitem c ON c.id = l.item_id"
        " WHERE c.workspace_id = ? AND c.state != 'published'",
        (workspace_id,),
    ):
        refs.extend(
            Ref("cost", row[0], name, v, row[1]) for name, v in zip(LINE_FIELDS, row[2:], strict=True) if v
        )
    return refs, frozen


@dataclass(frozen=True, slots=True)
class _Item:
    id: int
    kind: str
    code: str | None
    name: str
    status: str
    visible: bool
    generation: int
    connection_id: int | None


def load_items(db: sqlite3.Connection, ids: Iterable[int]) -> dict[int, _Item]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {
        r[0]: _Item(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7])
        for r in db.execute(
            "SELECT id, kind, code, name, status, visible, generation, connection_id FROM listitem"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        )
    }


def former_generations(db: sqlite3.Connection, workspace_id: int) -> set[int]:
    """Generations whose lists a Change connection replaced (the rest of the old ones were set aside)."""
    return {
        g
        for (g,) in db.execute(
            "SELECT from_generation FROM mergesession WHERE workspace_id = ? AND origin = 'change'",
            (workspace_id,),
        )
    }


def current_generation(db: sqlite3.Connection, workspace_id: int) -> int:
    row = db.execute("SELECT generation FROM workspace WHERE id = ?", (workspace_id,)).fetchone()
    return row[0] if row else 0


def _references_sql() -> str:
    """Every item id a rule, a setting or an unpublished cost (or line) holds, as one set-based query
    (:ws the workspace): the same references `scan_references` reads one by one."""
    parts = [f"SELECT {c}_id FROM rule WHERE workspace_id = :ws" for c in ("target_item", *RULE_FIELDS)]
    settings = "(NOT visible OR default_tax_code_id IS NOT NULL)"  # as ix_listitem_settings says it
    parts.append(f"SELECT id FROM listitem WHERE workspace_id = :ws AND {settings}")
    parts.append(
        "SELECT default_tax_code_id FROM listitem"
        " WHERE workspace_id = :ws AND default_tax_code_id IS NOT NULL"
    )
    parts += [
        f"SELECT {c}_id FROM costitem WHERE workspace_id = :ws AND state != 'published'" for c in COST_FIELDS
    ]
    parts += [
        f"SELECT l.{c}_id FROM costline l JOIN costitem c ON c.id = l.item_id"
        " WHERE c.workspace_id = :ws AND c.state != 'published'"
        for c in LINE_FIELDS
    ]
    return " UNION ".join(parts)


_OLD_REFERENCED = (
    f"WITH r (id) AS ({_references_sql()}) SELECT i.id, i.kind FROM r JOIN listitem i ON i.id = r.id"
    " WHERE i.generation != (SELECT generation FROM workspace WHERE id = :ws)"
)


def referenced_old_items(db: sqlite3.Connection, workspace_id: int) -> dict[int, str]:
    """Items of other generations than the current one that a rule, a setting or an unpublished cost still
    holds ({id: kind}): what Merge lists keeps offering until each is mapped (or the reference goes)."""
    return dict(db.execute(_OLD_REFERENCED, {"ws": workspace_id}).fetchall())


def _problem(item: _Item, current: int, former: set[int]) -> str | None:
    if item.generation != current:
        return FORMER if item.generation in former else SET_ASIDE
    if item.status != "active":
        return ARCHIVED
    if not item.visible:
        return HIDDEN
    return None


@dataclass(frozen=True, slots=True)
class _State:
    """What the workspace can do now: the fixes name only these."""

    connected: bool
    expired: bool
    connection_id: int | None
    software: str | None


def _state(db: sqlite3.Connection, workspace_id: int) -> _State:
    row = db.execute(
        "SELECT id, provider, status FROM connection WHERE workspace_id = ? AND status != 'disconnected'"
        " ORDER BY id DESC LIMIT 1",
        (workspace_id,),
    ).fetchone()
    if row is None:
        return _State(False, False, None, None)
    return _State(True, row[2] == "expired", row[0], PROVIDER_LABELS.get(row[1], row[1]))


def _fix(entry: Ref, item: _Item, problem: str, state: _State, frozen: bool) -> tuple[str, tuple[str, ...]]:
    """The remedy, naming only actions the workspace has now, and the actions it names."""
    kind = Kind(item.kind)
    name = f"{item.code} · {item.name}" if item.code and item.code != item.name else item.name
    edit: tuple[str, str]
    if entry.where == "rule":
        edit = (EDIT_RULE, f"edit rule {entry.owner} (Automation › Rules; dext-tui rules)")
    elif entry.where == "cost":
        if frozen:
            # An item whose send got no answer cannot change until a publish settles it.
            if state.connected and not state.expired:
                edit = (
                    PUBLISH,
                    f"publish cost {entry.owner} again to settle its unanswered send, then edit it",
                )
            elif state.connected:
                edit = (RECONNECT, f"reconnect, then publish cost {entry.owner} again to settle it")
            else:
                edit = (MERGE, "")  # only a merge can move it; said below
        else:
            edit = (EDIT_COST, f"edit cost {entry.owner} (Costs › Inbox › e)")
    elif entry.field == "default_tax_code":
        edit = (DEFAULT_TAX, "choose another default tax code (Lists › Categories › enter › t)")
    else:
        edit = (SHOW_ITEM, "")
    actions: list[str] = []
    texts: list[str] = []

    def say(action: str, text: str) -> None:
        if text and action not in actions:
            actions.append(action)
            texts.append(text)

    if problem in (FORMER, SET_ASIDE):
        merge = f"Merge lists: map {name!r} to one of the current {kind.label.lower()} (l; dext-tui merge)"
        if entry.holder:
            # The setting sits on the old item itself, which no list page shows: only a merge moves it
            # (onto the item it maps to); left as it is, it does nothing.
            setting = "hidden setting" if entry.field == "hidden" else "default tax code"
            say(MERGE, f"{merge}: its {setting} follows; left as it is, it does nothing")
        else:
            say(MERGE, merge)
            say(*edit)
    elif problem == ARCHIVED:
        from_books = state.connected and item.connection_id == state.connection_id
        if from_books and not state.expired:
            say(REFRESH, f"restore {name!r} in {state.software} and refresh")
        elif from_books:
            say(RECONNECT, f"restore {name!r} in {state.software}, reconnect and refresh")
        say(*edit)
        if edit[0] == MERGE:  # a frozen cost with nothing connected: the item stays until a connection
            texts.append(f"connect the books again and publish cost {entry.owner} to settle it")
    else:  # hidden
        say(SHOW_ITEM, f"show {name!r} again (Lists › {kind.label} › enter › h)")
        say(*edit)
    return "; or ".join(texts), tuple(actions)


def needs_attention(db: sqlite3.Connection, workspace_id: int) -> Attention:
    """Every reference to an item that is not active, current and visible, with its fix."""
    refs, frozen = scan_references(db, workspace_id)
    items = load_items(db, {r.item_id for r in refs} | {r.owner for r in refs if r.where == "setting"})
    current = current_generation(db, workspace_id)
    former = former_generations(db, workspace_id)
    state = _state(db, workspace_id)
    out = Attention()
    for ref in refs:
        item = items.get(ref.item_id)
        if item is None:
            continue  # foreign keys keep this from happening
        problem = _problem(item, current, former)
        if problem is None:
            continue
        if ref.holder and problem in (ARCHIVED, HIDDEN):
            continue  # a current item's own setting is shown in its list: nothing hangs on it
        if ref.where == "setting" and not ref.holder and items[ref.owner].generation != current:
            continue  # the setting sits on an old item: its holder entry says so
        fix, actions = _fix(ref, item, problem, state, frozen.get(ref.owner, False) and ref.where == "cost")
        entry = Entry(
            ref.where,
            ref.owner,
            ref.field,
            AttentionItem(item.id, Kind(item.kind), item.code, item.name, item.status),
            problem,
            fix,
            actions,
            ref.line,
        )
        {"rule": out.rules, "setting": out.settings, "cost": out.costs}[ref.where].append(entry)
    out.rules.sort(key=lambda e: (e.owner, RULE_REF_FIELDS.index(e.field)))
    out.settings.sort(key=lambda e: (e.owner, e.field))
    out.costs.sort(key=lambda e: (e.owner, e.line or 0, e.field))
    return out
