"""The costs inbox as a service: storing cost items (rules fill them), listing them, the pre-flight check,
and publishing them through the workspace's connection.

Every change is one transaction. Publishing records each outcome as the connector hands it over; a
crash loses at most the outcomes of bills in flight, and those are safe to send again (the ledger's
`dext-id`, the cloud providers' idempotency keys).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dext_tui.core.costs import (
    ITEM_FIELDS,
    LINE_FIELDS,
    RULE_FILLED,
    CostDetail,
    CostDraft,
    CostImportReport,
    CostLineInfo,
    CostRow,
    CostState,
    ItemFinder,
    Problem,
    RuleBook,
    amount_text,
    check_draft,
    dumps,
    error_json,
    explain,
    fill,
    read_costs_csv,
)
from dext_tui.core.domain import (
    PROVIDER_LABELS,
    AutoPublish,
    ConnectionStatus,
    ItemRef,
    ItemStatus,
    utcnow,
)
from dext_tui.core.errors import ConnectionExpired, DextError, NotConnected, NotFound
from dext_tui.core.publishing import Bill, BillLine, ErrorClass, PublishOutcome, RemoteRef
from dext_tui.core.rules import query_rules

if TYPE_CHECKING:
    from dext_tui.core.service import DextService, WorkspaceRef

_DETAIL_COLUMNS = (
    "id, uid, date, supplier_id, supplier_name, reference, description, total, tax, currency, category_id,"
    " tax_code_id, bank_account_id, tracking_id, paid, sources, state, remote_id, published_at, error_class,"
    " error_message, sending"
)
_UPDATE_ITEM = (
    "UPDATE costitem SET date = ?, supplier_id = ?, supplier_name = ?, reference = ?, description = ?,"
    " total = ?, tax = ?, currency = ?, category_id = ?, tax_code_id = ?, bank_account_id = ?,"
    " tracking_id = ?, paid = ?, sources = ?, updated_at = ? WHERE id = ?"
)
FLUSH_EVERY = 0.25  # seconds between writes of outcomes while publishing


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What publishing did with one item."""

    id: int
    ok: bool
    remote_id: str | None = None
    error_class: ErrorClass | None = None
    message: str | None = None
    already: bool = False  # it was in the books already: nothing new written
    skipped: bool = False  # not sent: published before

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "published": self.ok}
        if self.ok:
            out["remote_id"] = self.remote_id
            if self.already:
                out["already"] = True
        else:
            out["error"] = error_json(self.error_class, self.message)
        if self.skipped:
            out["skipped"] = True
        return out


@dataclass(slots=True)
class PublishReport:
    outcomes: list[ItemOutcome] = field(default_factory=list)
    expired: str | None = None  # the connection became expired: why

    @property
    def published(self) -> int:
        return sum(1 for o in self.outcomes if o.ok and not o.skipped)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)

    def summary(self) -> str:
        text = f"{self.published} published, {self.failed} failed"
        skipped = sum(1 for o in self.outcomes if o.skipped)
        if skipped:
            text += f", {skipped} published before (skipped)"
        if self.expired:
            text += f"; {_reason(self.expired)}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "failed": self.failed,
            "expired": self.expired,
            "items": [o.to_json() for o in self.outcomes],
        }


ProgressFn = Callable[[int, int], None]  # done, of


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


class CostInbox:
    """Cost items of the workspaces of one service (its store, its connectors)."""

    def __init__(self, service: DextService) -> None:
        self.service = service
        self.store = service.store

    # -- reading ------------------------------------------------------------------------------

    def rows(
        self,
        ws: WorkspaceRef,
        *,
        state: CostState | None = None,
        supplier_id: int | None = None,
        error_class: ErrorClass | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[CostRow]:
        """The inbox, newest first, filtered."""
        where, args = ["c.workspace_id = ?"], [ws.id]
        if state is not None:
            where.append("c.state = ?")
            args.append(state.value)
        if supplier_id is not None:
            where.append("c.supplier_id = ?")
            args.append(supplier_id)
        if error_class is not None:
            where.append("c.error_class = ?")
            args.append(error_class.value)
        if ids is not None:
            wanted = sorted(set(ids))
            where.append("c.id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(wanted))  # type: ignore[arg-type]
        # Without a narrowing filter, reading the table in order and sorting here is twice as fast as
        # SQLite's lookups through the index and its sort (100,000 items); names come from one dict.
        scan = " NOT INDEXED" if len(where) == 1 else ""
        sql = (
            "SELECT c.date, c.id, c.supplier_id, c.supplier_name, c.reference, c.total, c.currency,"
            f" c.category_id, c.state, c.error_class, c.error_message, c.remote_id FROM costitem c{scan}"
            f" WHERE {' AND '.join(where)}"
        )
        with self.store.read() as db:
            found = db.execute(sql, args).fetchall()
            used = {r[2] for r in found} | {r[7] for r in found}
            used.discard(None)
            labels = {
                item_id: (name, code)
                for item_id, name, code in db.execute(
                    "SELECT id, name, code FROM listitem WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(sorted(used)),),
                )
            }
        found.sort(key=_newest_first, reverse=True)
        states = {s.value: s for s in CostState}
        classes = {c.value: c for c in ErrorClass}

        suppliers = {item_id: name for item_id, (name, _) in labels.items()}
        categories = {
            item_id: f"{code} · {name}" if code and code != name else name
            for item_id, (name, code) in labels.items()
        }
        return [
            CostRow(
                r[1],
                r[0],
                suppliers.get(r[2]) or r[3] or "",
                r[4],
                r[5],
                r[6],
                categories.get(r[7]),
                states[r[8]],
                classes.get(r[9]),
                r[10],
                r[11],
            )
            for r in found
        ]

    def counts(self, ws: WorkspaceRef) -> dict[CostState, int]:
        with self.store.read() as db:
            found = dict(
                db.execute(
                    "SELECT state, count(*) FROM costitem WHERE workspace_id = ? GROUP BY state", (ws.id,)
                )
            )
        return {s: found.get(s.value, 0) for s in CostState}

    def detail(self, ws: WorkspaceRef, item_id: int) -> CostDetail:
        with self.store.read() as db:
            return self._detail(db, ws, item_id)

    def _detail(self, db: sqlite3.Connection, ws: WorkspaceRef, item_id: int) -> CostDetail:
        return self._read(db, ws, item_id)[0]

    def _read(
        self, db: sqlite3.Connection, ws: WorkspaceRef, item_id: int, rule_ids: set[int] | None = None
    ) -> tuple[CostDetail, dict[str, Any]]:
        """The item whole, and its sources as stored (for a change to update them). `rule_ids`: the
        workspace's rules, when the caller has them already (to say "since removed")."""
        row = db.execute(
            f"SELECT {_DETAIL_COLUMNS} FROM costitem WHERE id = ? AND workspace_id = ?", (item_id, ws.id)
        ).fetchone()
        if row is None:
            raise NotFound(f"no cost item {item_id} in workspace {ws.name!r}")
        lines = db.execute(
            "SELECT position, amount, tax, category_id, tax_code_id, tracking_id, description FROM costline"
            " WHERE item_id = ? ORDER BY position",
            (item_id,),
        ).fetchall()
        wanted = {*row[3:4], *row[10:14], *(i for ln in lines for i in ln[3:6])}
        refs = _refs(db, {i for i in wanted if i is not None})
        sources = json.loads(row[15] or "{}")
        if rule_ids is None:
            rule_ids = {r for (r,) in db.execute("SELECT id FROM rule WHERE workspace_id = ?", (ws.id,))}
        why = {name: explain(src, rule_ids) for name, src in sources.items() if name != "auto_publish"}
        auto = AutoPublish(sources.get("auto_publish", {}).get("value", "none"))
        return CostDetail(
            id=row[0],
            uid=row[1],
            date=_day(row[2]),
            supplier=refs.get(row[3]),
            supplier_name=row[4],
            reference=row[5],
            description=row[6],
            total=_dec(row[7]),
            tax=_dec(row[8]),
            currency=row[9],
            category=refs.get(row[10]),
            tax_code=refs.get(row[11]),
            bank_account=refs.get(row[12]),
            tracking=refs.get(row[13]),
            paid=bool(row[14]),
            state=CostState(row[16]),
            remote_id=row[17],
            published_at=datetime.fromisoformat(row[18]) if row[18] else None,
            error_class=ErrorClass(row[19]) if row[19] else None,
            error_message=row[20],
            lines=tuple(
                CostLineInfo(
                    ln[0],
                    Decimal(ln[1]),
                    _dec(ln[2]),
                    refs.get(ln[3]),
                    refs.get(ln[4]),
                    refs.get(ln[5]),
                    ln[6],
                )
                for ln in lines
            ),
            why=why,
            auto_publish=auto,
            interrupted=row[21] is not None,
        ), sources

    # -- writing ------------------------------------------------------------------------------

    def add(self, ws: WorkspaceRef, draft: CostDraft, *, by: dict[str, Any] | None = None) -> CostDetail:
        """A new cost item; rules fill what it does not say. `by` is where its values came from (default:
        set by hand)."""
        problems = check_draft(draft)
        if problems:
            raise DextError("; ".join(problems))
        with self.store.transaction() as db:
            self._check_items(db, ws, draft, None)
            book = RuleBook.load(db, ws.id, query_rules(db, ws.id))
            item_id, _, _ = self._insert(db, ws, draft, book, by or {"by": "you"}, utcnow().isoformat())
            return self._detail(db, ws, item_id)

    def update(self, ws: WorkspaceRef, item_id: int, draft: CostDraft) -> CostDetail:
        """Change an item that is not published. Fields it now sets are "set by you"; fields it clears are
        the rules' to fill again."""
        problems = check_draft(draft)
        if problems:
            raise DextError("; ".join(problems))
        with self.store.transaction() as db:
            old, sources = self._read(db, ws, item_id)
            if old.state == CostState.PUBLISHED:
                raise DextError(
                    f"cost item {item_id} is published ({old.remote_id}); it cannot be changed here"
                )
            if old.interrupted:
                raise DextError(_interrupted(item_id, "changed"))
            self._check_items(db, ws, draft, old)
            before = old.draft()
            given = draft.given()
            for name in given:
                if _field_value(draft, name) != _field_value(before, name):
                    sources[name] = {"by": "you"}
            # A value a rule (or a default) filled, handed back unchanged (the edit dialog shows every
            # value), is still the rules': they fill it again, so it follows a new supplier or payment
            # method and says which rule it now comes from.
            mine = {
                name
                for name in given
                if name not in RULE_FILLED or sources.get(name, {}).get("by") not in ("rule", "default")
            }
            for name in list(sources):
                if name not in mine and name != "auto_publish":
                    sources.pop(name)
            values = _values(draft)
            book = RuleBook.load(db, ws.id, query_rules(db, ws.id))
            auto = fill(values, sources, book, mine.__contains__)
            sources["auto_publish"] = {"value": auto.value}
            stamp = utcnow().isoformat()
            db.execute(
                _UPDATE_ITEM,
                (*_columns(draft, values), dumps(sources), stamp, item_id),
            )
            db.execute("DELETE FROM costline WHERE item_id = ?", (item_id,))
            _insert_lines(db, item_id, draft)
            return self._detail(db, ws, item_id)

    def delete(self, ws: WorkspaceRef, ids: Sequence[int]) -> int:
        """Delete items that are not published (a published one is in the books)."""
        with self.store.transaction() as db:
            rows = {
                item_id: (state, sending)
                for item_id, state, sending in db.execute(
                    "SELECT id, state, sending FROM costitem WHERE workspace_id = ?"
                    " AND id IN (SELECT value FROM json_each(?))",
                    (ws.id, json.dumps(list(ids))),
                )
            }
            unknown = [i for i in ids if i not in rows]
            if unknown:
                raise NotFound(f"no cost item {unknown[0]} in workspace {ws.name!r}")
            published = [i for i in ids if rows[i][0] == CostState.PUBLISHED]
            if published:
                raise DextError(
                    f"cost item {published[0]} is published; it stays as the record of what is in the books"
                )
            interrupted = [i for i in ids if rows[i][1] is not None]
            if interrupted:
                raise DextError(_interrupted(interrupted[0], "deleted"))
            db.execute(
                "DELETE FROM costline WHERE item_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(ids)),),
            )
            return db.execute(
                "DELETE FROM costitem WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(list(ids)),)
            ).rowcount

    def apply_rules(self, ws: WorkspaceRef, ids: Sequence[int]) -> int:
        """Fill the chosen items' fields again from today's rules (fields set by you or the import stay).
        Returns how many fields changed."""
        changed = 0
        with self.store.transaction() as db:
            rules = query_rules(db, ws.id)
            book, rule_ids = RuleBook.load(db, ws.id, rules), {r.id for r in rules}
            for item_id in ids:
                detail, sources = self._read(db, ws, item_id, rule_ids)
                if detail.state == CostState.PUBLISHED or detail.interrupted:
                    continue  # in the books, or perhaps: its fields stay as they were sent
                draft = detail.draft()
                values = _values(draft)
                before = dict(values)
                kept = {
                    n
                    for n, src in sources.items()
                    if isinstance(src, dict) and src.get("by") in ("you", "import")
                }
                auto = fill(values, sources, book, kept.__contains__)
                sources["auto_publish"] = {"value": auto.value}
                changed += sum(1 for n in RULE_FILLED if values[n] != before[n])
                db.execute(
                    _UPDATE_ITEM,
                    (*_columns(draft, values), dumps(sources), utcnow().isoformat(), item_id),
                )
        return changed

    def import_csv(self, ws: WorkspaceRef, path: Path) -> CostImportReport:
        """Every row of a CSV file as a cost item, in one transaction; rows the inbox has already (same
        supplier, reference, date and total) are skipped. Rows without a reference count: a file with
        two alike adds two, and importing it again adds none. Raises InvalidData (bad rows by line) with
        nothing imported."""
        report = CostImportReport()
        with self.store.transaction() as db:
            finder = ItemFinder(db, ws.id)
            costs = read_costs_csv(path, finder)
            book = RuleBook.load(db, ws.id, query_rules(db, ws.id))
            seen: set[tuple[Any, ...]] = set()
            unreferenced: Counter[tuple[Any, ...]] = Counter()  # items without a reference, by key
            for r in db.execute(
                "SELECT supplier_id, supplier_name, reference, date, total FROM costitem"
                " WHERE workspace_id = ?",
                (ws.id,),
            ):
                known = (r[0], (r[1] or "").casefold(), r[2], r[3], Decimal(r[4]) if r[4] else None)
                if r[2]:
                    seen.add(known)
                else:
                    unreferenced[known] += 1
            stamp = utcnow().isoformat()
            for cost in costs:
                d = cost.draft
                key = (
                    d.supplier_id,
                    (d.supplier_name or "").casefold(),
                    d.reference,
                    d.date.isoformat() if d.date else None,
                    d.total,
                )
                if d.reference:
                    if key in seen:
                        report.already += 1
                        continue
                    seen.add(key)
                elif unreferenced[key] > 0:
                    unreferenced[key] -= 1
                    report.already += 1
                    continue
                item_id, filled, auto = self._insert(
                    db, ws, d, book, {"by": "import", "file": path.name, "line": cost.line}, stamp
                )
                report.added += 1
                report.filled += filled
                report.ids.append(item_id)
                if auto == AutoPublish.ALWAYS:
                    report.auto_publish.append(item_id)
        return report

    def _insert(
        self,
        db: sqlite3.Connection,
        ws: WorkspaceRef,
        draft: CostDraft,
        book: RuleBook,
        by: dict[str, Any],
        stamp: str,
    ) -> tuple[int, int, AutoPublish]:
        given = draft.given()
        sources: dict[str, Any] = {name: dict(by) for name in given}
        values = _values(draft)
        auto = fill(values, sources, book, lambda name: name in given)
        filled = sum(1 for name in RULE_FILLED if name not in given and name in sources)
        sources["auto_publish"] = {"value": auto.value}
        cursor = db.execute(
            "INSERT INTO costitem (workspace_id, uid, date, supplier_id, supplier_name, reference,"
            " description, total, tax, currency, category_id, tax_code_id, bank_account_id, tracking_id,"
            " paid, sources, state,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ready', ?, ?)",
            (ws.id, uuid.uuid4().hex, *_columns(draft, values), dumps(sources), stamp, stamp),
        )
        item_id = cursor.lastrowid
        assert item_id is not None
        _insert_lines(db, item_id, draft)
        return item_id, filled, auto

    def _check_items(
        self, db: sqlite3.Connection, ws: WorkspaceRef, draft: CostDraft, old: CostDetail | None
    ) -> None:
        """Each item the draft names is of this workspace and of the right list; a newly chosen one is a
        current, active item."""
        wanted: list[tuple[str, int, Any]] = [
            (name, getattr(draft, f"{name}_id"), kind)
            for name, kind in ITEM_FIELDS.items()
            if getattr(draft, f"{name}_id")
        ]
        for n, line in enumerate(draft.lines, 1):
            wanted += [
                (f"line {n} {name.replace('_', ' ')}", getattr(line, f"{name}_id"), kind)
                for name, kind in LINE_FIELDS.items()
                if getattr(line, f"{name}_id")
            ]
        before: set[int] = set()
        if old is not None:
            before = {
                r.id for r in (old.supplier, old.category, old.tax_code, old.bank_account, old.tracking) if r
            }
            before |= {r.id for ln in old.lines for r in (ln.category, ln.tax_code, ln.tracking) if r}
        generation = db.execute("SELECT generation FROM workspace WHERE id = ?", (ws.id,)).fetchone()[0]
        problems = []
        for label, item_id, kind in wanted:
            row = db.execute(
                "SELECT kind, generation, status FROM listitem WHERE id = ? AND workspace_id = ?",
                (item_id, ws.id),
            ).fetchone()
            label = label.replace("_", " ")
            if row is None or row[0] != kind.value:
                problems.append(
                    f"the {label} must be one of the {kind.label.lower()} (item {item_id} is not)"
                )
            elif item_id not in before and (row[1] != generation or row[2] != ItemStatus.ACTIVE):
                problems.append(f"the {label} (item {item_id}) is archived or from a former list")
        if problems:
            raise DextError("; ".join(problems))

    # -- the pre-flight check --------------------------------------------------------------------

    def preflight(self, ws: WorkspaceRef, ids: Sequence[int]) -> dict[int, list[Problem]]:
        """What would stop each item from publishing, found without calling the software."""
        with self.store.read() as db:
            return self._preflight(db, ws, ids)[0]

    def _preflight(
        self, db: sqlite3.Connection, ws: WorkspaceRef, ids: Sequence[int]
    ) -> tuple[dict[int, list[Problem]], dict[int, Bill], Any]:
        conn = db.execute(
            "SELECT id, provider, generation, lock_date, status, status_reason, target FROM connection"
            " WHERE workspace_id = ? AND status != 'disconnected' ORDER BY id DESC LIMIT 1",
            (ws.id,),
        ).fetchone()
        if conn is None:
            raise NotConnected(
                f"workspace {ws.name!r} has no connection to publish to;"
                " connect its accounting software first"
            )
        conn_id, provider, generation, lock_date = conn[0], conn[1], conn[2], conn[3]
        software = PROVIDER_LABELS.get(provider, provider)
        items = {
            r[0]: r
            for r in db.execute(
                f"SELECT {_DETAIL_COLUMNS} FROM costitem WHERE workspace_id = ?"
                " AND id IN (SELECT value FROM json_each(?))",
                (ws.id, json.dumps(list(ids))),
            )
        }
        unknown = [i for i in ids if i not in items]
        if unknown:
            raise NotFound(f"no cost item {unknown[0]} in workspace {ws.name!r}")
        lines: dict[int, list[tuple[Any, ...]]] = {}
        for ln in db.execute(
            "SELECT item_id, position, amount, tax, category_id, tax_code_id, tracking_id, description"
            " FROM costline"
            " WHERE item_id IN (SELECT value FROM json_each(?)) ORDER BY item_id, position",
            (json.dumps(list(ids)),),
        ):
            lines.setdefault(ln[0], []).append(ln)
        wanted = {i for r in items.values() for i in (r[3], *r[10:14]) if i is not None}
        wanted |= {i for lns in lines.values() for ln in lns for i in ln[4:7] if i is not None}
        refs = _remote_refs(db, wanted)
        currencies = {
            (code or name).upper()
            for code, name in db.execute(
                "SELECT code, name FROM listitem WHERE workspace_id = ? AND kind = 'currencies'"
                " AND generation = ? AND status = 'active'",
                (ws.id, generation),
            )
        }
        # QuickBooks Online wants a tax code on every line of a company that keeps tax codes (VAT, GST).
        needs_tax = provider == "quickbooks" and bool(
            db.execute(
                "SELECT 1 FROM listitem WHERE workspace_id = ? AND kind = 'tax_codes' AND generation = ?"
                " AND status = 'active' LIMIT 1",
                (ws.id, generation),
            ).fetchone()
        )
        published = {
            (r[0], (r[1] or "").casefold(), (r[2] or "").casefold()): r[3]
            for r in db.execute(
                "SELECT supplier_id, supplier_name, reference, id FROM costitem WHERE workspace_id = ?"
                " AND state = 'published' AND reference IS NOT NULL",
                (ws.id,),
            )
        }
        problems: dict[int, list[Problem]] = {}
        bills: dict[int, Bill] = {}
        batch: dict[tuple[Any, ...], int] = {}  # (supplier, reference) -> the first item of this batch
        for item_id in ids:
            r = items[item_id]
            found: list[Problem] = []

            def miss(what: str, found: list[Problem] = found) -> None:
                found.append(Problem(ErrorClass.MISSING, f"no {what}"))

            def usable(item: int | None, what: str, found: list[Problem] = found) -> RemoteRef | None:
                if item is None:
                    return None
                ref = refs.get(item)
                if ref is None:
                    found.append(Problem(ErrorClass.ARCHIVED, f"the {what} (item {item}) no longer exists"))
                    return None
                remote, gen, status, conn_of, label = ref
                if gen != generation:
                    found.append(
                        Problem(
                            ErrorClass.ARCHIVED,
                            f"the {what} {label!r} is from the former lists; merge lists or pick another",
                        )
                    )
                elif conn_of != conn_id or not remote.remote_id:
                    found.append(Problem(ErrorClass.ARCHIVED, f"the {what} {label!r} is not in {software}"))
                elif status != ItemStatus.ACTIVE:
                    found.append(
                        Problem(ErrorClass.ARCHIVED, f"the {what} {label!r} is archived in {software}")
                    )
                else:
                    return remote
                return None

            if r[16] == CostState.PUBLISHED:
                continue
            day, total, currency = _day(r[2]), _dec(r[7]), r[9]
            if day is None:
                miss("date")
            elif lock_date and day.isoformat() <= lock_date:
                found.append(
                    Problem(
                        ErrorClass.LOCK_DATE,
                        f"dated {day.isoformat()}, on or before the lock date {lock_date}",
                    )
                )
            if total is None:
                miss("total")
            if not currency:
                miss("currency")
            elif provider != "beancount" and currencies and currency.upper() not in currencies:
                # (a ledger takes any currency, unless an account is opened for some only: see below)
                found.append(Problem(ErrorClass.CURRENCY, f"{software} does not take {currency}"))
            if r[3] is None and not r[4]:
                miss("supplier")
            supplier = usable(r[3], "supplier")
            bank = usable(r[12], "payment method")
            if r[14] and r[12] is None:
                miss("payment method (it is marked paid: where did the money come from?)")
            if (
                bank is not None
                and currency
                and bank.data.get("currency")
                and bank.data["currency"] != currency.upper()
            ):
                found.append(
                    Problem(
                        ErrorClass.CURRENCY,
                        f"the payment method {bank.name!r} is in {bank.data['currency']},"
                        f" the item in {currency}",
                    )
                )
            if bank is not None and currency and not _takes(bank, currency):
                found.append(Problem(ErrorClass.CURRENCY, _takes_only("payment method", bank)))
            raw_lines = lines.get(item_id) or [(item_id, 1, r[7] or "0", r[8], r[10], r[11], r[13], None)]
            bill_lines = []
            for n, ln in enumerate(raw_lines, 1):
                where = f" (line {n})" if len(raw_lines) > 1 else ""
                category_id = ln[4] if ln[4] is not None else r[10]
                tax_id = ln[5] if ln[5] is not None else r[11]  # a line without its own: the item's
                if category_id is None:
                    miss(f"category{where}")
                if tax_id is None and needs_tax:
                    miss(f"tax code{where} ({software} needs one on every line)")
                category = usable(category_id, f"category{where}")
                tax_code = usable(tax_id, f"tax code{where}")
                tracking = usable(ln[6] if ln[6] is not None else r[13], f"tracking{where}")
                if tax_code is not None and tax_code.data.get("purchases") is False:
                    found.append(
                        Problem(
                            ErrorClass.TAX_MISMATCH,
                            f"the tax code {tax_code.name!r}{where} cannot be used on purchases",
                        )
                    )
                if category is not None and currency and not _takes(category, currency):
                    found.append(Problem(ErrorClass.CURRENCY, _takes_only(f"category{where}", category)))
                if category is not None:
                    bill_lines.append(
                        BillLine(Decimal(ln[2]), _dec(ln[3]), category, tax_code, tracking, ln[7])
                    )
            if r[5]:
                key = (r[3], (r[4] or "").casefold() if r[3] is None else "", r[5].casefold())
                twin = batch.setdefault(key, item_id)
                if twin != item_id:
                    found.append(
                        Problem(
                            ErrorClass.DUPLICATE,
                            f"item {twin}, published with it, has the same supplier and reference {r[5]!r}",
                        )
                    )
                other = published.get(key)
                if other is not None and other != item_id:
                    found.append(
                        Problem(
                            ErrorClass.DUPLICATE,
                            f"item {other} of this supplier with reference {r[5]!r} is published already",
                        )
                    )
            if found:
                problems[item_id] = found
                continue
            assert day is not None and total is not None and currency
            bills[item_id] = Bill(
                item_id=item_id,
                uid=r[1],
                date=day,
                supplier=supplier,
                supplier_name=supplier.name if supplier else (r[4] or ""),
                reference=r[5],
                currency=currency.upper(),
                total=total,
                tax=_dec(r[8]),
                bank_account=bank,
                paid=bool(r[14]),
                description=r[6],
                lines=tuple(bill_lines),
            )
        return problems, bills, conn

    # -- publishing ---------------------------------------------------------------------------

    def ready_ids(self, ws: WorkspaceRef, *, failed: bool = False) -> list[int]:
        """The items ready to publish, oldest first; with `failed`, the failed ones too (to retry)."""
        wanted = "state != 'published'" if failed else "state = 'ready'"
        with self.store.read() as db:
            return [
                i
                for (i,) in db.execute(
                    f"SELECT id FROM costitem WHERE workspace_id = ? AND {wanted} ORDER BY date, id", (ws.id,)
                )
            ]

    async def publish(
        self, ws: WorkspaceRef, ids: Sequence[int], *, progress: ProgressFn | None = None
    ) -> PublishReport:
        """Publish the items: those the pre-flight check stops fail with its finding, the others go to the
        software. Published items are skipped. Each outcome is stored on its item (an error stays until
        a publish succeeds); an expired connection is marked so, and the Integration page offers
        Reconnect."""
        ids = list(dict.fromkeys(ids))
        report = PublishReport()
        problems, bills, conn = await asyncio.to_thread(self._checked, ws, ids)
        conn_id, provider, target = conn[0], conn[1], conn[6]
        done = 0
        total = len(ids)
        pending: list[ItemOutcome] = []

        def tell() -> None:
            if progress is not None:
                progress(done, total)

        for item_id in ids:
            if item_id not in problems and item_id not in bills:  # the check passes over published items
                report.outcomes.append(ItemOutcome(item_id, True, skipped=True, message="published before"))
                done += 1
        failed_now = [
            ItemOutcome(i, False, error_class=p[0].error_class, message="; ".join(x.message for x in p))
            for i, p in problems.items()
        ]
        report.outcomes += failed_now
        done += len(failed_now)
        await asyncio.to_thread(self._record, conn_id, failed_now)
        tell()
        if not bills:
            return self._ordered(report, ids)
        if conn[4] == ConnectionStatus.EXPIRED:
            reason = conn[5] or "Connection is expired"
            expired = [
                ItemOutcome(i, False, error_class=ErrorClass.EXPIRED, message=_reason(reason)) for i in bills
            ]
            report.outcomes += expired
            report.expired = reason
            await asyncio.to_thread(self._record, conn_id, expired)
            return self._ordered(report, ids)
        connector = self.service.connector(provider, target)
        last_flush = time.monotonic()

        def on_outcome(outcome: PublishOutcome) -> None:
            nonlocal done, last_flush
            item = ItemOutcome(
                outcome.item_id,
                outcome.ok,
                outcome.remote_id,
                outcome.error_class,
                outcome.message,
                outcome.already,
            )
            pending.append(item)
            report.outcomes.append(item)
            done += 1
            if time.monotonic() - last_flush >= FLUSH_EVERY:
                self._record(conn_id, pending)
                pending.clear()
                last_flush = time.monotonic()
            tell()

        await asyncio.to_thread(self._mark_sending, bills)
        try:
            await connector.publish(list(bills.values()), on_outcome=on_outcome)
        except ConnectionExpired as exc:
            reason = str(exc) or "Connection is expired"
            answered = {o.id for o in report.outcomes}
            for item_id in bills:
                if item_id not in answered:
                    item = ItemOutcome(
                        item_id,
                        False,
                        error_class=ErrorClass.EXPIRED,
                        message=_reason(reason),
                    )
                    pending.append(item)
                    report.outcomes.append(item)
            report.expired = reason
        except DextError as exc:
            # The software could not be used at all (a ledger file that cannot be read or written): the
            # bills not answered were not published, and each says why (not a message that goes away).
            answered = {o.id for o in report.outcomes}
            for item_id in bills:
                if item_id not in answered:
                    item = ItemOutcome(item_id, False, error_class=ErrorClass.UNAVAILABLE, message=str(exc))
                    pending.append(item)
                    report.outcomes.append(item)
        finally:
            await asyncio.to_thread(self._record, conn_id, list(pending))
            pending.clear()
        refused = [o for o in report.outcomes if o.error_class == ErrorClass.EXPIRED and o.message]
        if report.expired is None and refused:
            report.expired = refused[0].message
        if report.expired is not None:
            await asyncio.to_thread(self.service.mark_expired, conn_id, _reason(report.expired))
        tell()
        return self._ordered(report, ids)

    def _checked(
        self, ws: WorkspaceRef, ids: Sequence[int]
    ) -> tuple[dict[int, list[Problem]], dict[int, Bill], Any]:
        with self.store.read() as db:
            return self._preflight(db, ws, ids)

    @staticmethod
    def _ordered(report: PublishReport, ids: Sequence[int]) -> PublishReport:
        at = {item_id: n for n, item_id in enumerate(ids)}
        report.outcomes.sort(key=lambda o: at.get(o.id, len(at)))
        return report

    def _mark_sending(self, bills: dict[int, Bill]) -> None:
        """Before the bills go: each item keeps the key it is sent with, until its answer is stored."""
        with self.store.transaction() as db:
            db.executemany(
                "UPDATE costitem SET sending = ? WHERE id = ?",
                [(bill.idempotency_key, item_id) for item_id, bill in bills.items()],
            )

    def _record(self, conn_id: int, outcomes: Sequence[ItemOutcome]) -> None:
        """Store outcomes on their items, in one transaction."""
        if not outcomes:
            return
        stamp = utcnow().isoformat()
        with self.store.transaction() as db:
            db.executemany(
                "UPDATE costitem SET state = 'published', remote_id = ?, published_at = ?, published_to = ?,"
                " error_class = NULL, error_message = NULL, error_at = NULL, sending = NULL, updated_at = ?"
                " WHERE id = ? AND state != 'published'",
                [(o.remote_id, stamp, conn_id, stamp, o.id) for o in outcomes if o.ok and not o.skipped],
            )
            db.executemany(
                "UPDATE costitem SET state = 'failed', error_class = ?, error_message = ?, error_at = ?,"
                " updated_at = ?, sending = CASE WHEN ? THEN sending END"
                " WHERE id = ? AND state != 'published'",
                [
                    (
                        o.error_class.value if o.error_class else ErrorClass.INVALID.value,
                        o.message,
                        stamp,
                        stamp,
                        # The software down or silent: the bill may have reached it. A refusal with the
                        # bill's id (its payment refused): it is there. Either way the item stays as sent.
                        o.error_class == ErrorClass.UNAVAILABLE or o.remote_id is not None,
                        o.id,
                    )
                    for o in outcomes
                    if not o.ok
                ],
            )


def _takes(ref: RemoteRef, currency: str) -> bool:
    """Whether an account opened for some currencies only (a ledger's `open ... GBP`) takes this one."""
    allowed = ref.data.get("currencies")
    return not isinstance(allowed, list) or not allowed or currency.upper() in allowed


def _takes_only(what: str, ref: RemoteRef) -> str:
    label = ref.code if ref.code and ref.code != ref.name else ref.name
    return f"the {what} {label!r} takes {', '.join(ref.data['currencies'])} only"


def _interrupted(item_id: int, what: str) -> str:
    return (
        f"cost item {item_id} was on its way to the software when publishing stopped (it may be there"
        f" already); publish it again first (it is never published twice), then it can be {what}"
    )


def _newest_first(row: tuple[Any, ...]) -> tuple[str, int]:
    return (row[0] or "", row[1])


def _reason(message: str) -> str:
    """The reason, said as Dext says it: "Connection is expired (...)" once, never twice."""
    text = message.removeprefix("Connection is expired: ")
    return text if text.lower().startswith("connection is expired") else f"Connection is expired: {text}"


# -- helpers -----------------------------------------------------------------------------------


def _values(draft: CostDraft) -> dict[str, Any]:
    return {
        "supplier": draft.supplier_id,
        "bank_account": draft.bank_account_id,
        "category": draft.category_id,
        "tax_code": draft.tax_code_id,
        "tracking": draft.tracking_id,
        "currency": draft.currency.upper() if draft.currency else None,
        "description": draft.description,
        "paid": draft.paid,
    }


def _field_value(draft: CostDraft, name: str) -> Any:
    if name in ITEM_FIELDS:
        value = getattr(draft, f"{name}_id")
        return value if value is not None or name != "supplier" else draft.supplier_name
    return getattr(draft, name)


def _columns(draft: CostDraft, values: dict[str, Any]) -> tuple[Any, ...]:
    """The costitem columns from date to paid, in table order."""
    return (
        draft.date.isoformat() if draft.date else None,
        draft.supplier_id,
        None if draft.supplier_id else draft.supplier_name,
        draft.reference,
        values["description"],
        None if draft.total is None else amount_text(draft.total),
        None if draft.tax is None else amount_text(draft.tax),
        values["currency"],
        values["category"],
        values["tax_code"],
        values["bank_account"],
        values["tracking"],
        bool(values["paid"]),
    )


def _insert_lines(db: sqlite3.Connection, item_id: int, draft: CostDraft) -> None:
    db.executemany(
        "INSERT INTO costline (item_id, position, amount, tax, category_id, tax_code_id, tracking_id,"
        " description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                item_id,
                n,
                amount_text(ln.amount),
                None if ln.tax is None else amount_text(ln.tax),
                ln.category_id,
                ln.tax_code_id,
                ln.tracking_id,
                ln.description,
            )
            for n, ln in enumerate(draft.lines, 1)
        ],
    )


def _refs(db: sqlite3.Connection, ids: set[int]) -> dict[int, ItemRef]:
    if not ids:
        return {}
    return {
        r[0]: ItemRef(r[0], r[1], r[2], r[3])
        for r in db.execute(
            "SELECT id, code, name, status FROM listitem WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(ids)),),
        )
    }


def _remote_refs(
    db: sqlite3.Connection, ids: set[int]
) -> dict[int, tuple[RemoteRef, int, str, int | None, str]]:
    """Items as the software knows them, with (generation, status, connection, label) to check them."""
    if not ids:
        return {}
    out = {}
    for item_id, remote_id, code, name, data, generation, status, conn_id in db.execute(
        "SELECT id, remote_id, code, name, data, generation, status, connection_id FROM listitem"
        " WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(ids)),),
    ):
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {}
        ref = RemoteRef(remote_id or "", code, name, parsed if isinstance(parsed, dict) else {})
        out[item_id] = (ref, generation, status, conn_id, ItemRef(item_id, code, name).label)
    return out
