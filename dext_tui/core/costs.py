"""The costs inbox: cost items, the rules that fill them (each field says why it has its value), reading
a CSV file of costs, and the plain types the inbox shows. Publishing is in `core.inbox`.

Rules fill what an item does not say itself, field by field: the payment method's rule first, then the
supplier's rule, then defaults (a category's default tax code). A value set by hand or by the import is
never replaced by a rule.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from dext_tui.core.csv_rows import read_rows
from dext_tui.core.domain import AutoPublish, ItemRef, ItemStatus, Kind, RuleInfo, RuleScope, iso
from dext_tui.core.errors import InvalidData
from dext_tui.core.publishing import ErrorClass

MAX_ROWS = 200_000
MAX_TEXT = 500
CENT = Decimal("0.01")
MAX_DIGITS = 11  # before the point: with 4 decimals, 15 digits, exact as a JSON number (Xero, QuickBooks)


class CostState(StrEnum):
    READY = "ready"
    PUBLISHED = "published"
    FAILED = "failed"

    @classmethod
    def parse(cls, text: str) -> CostState:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown state {text!r}; choose one of: ready, published, failed") from None


# The item fields that point at list items: field -> its list.
ITEM_FIELDS: dict[str, Kind] = {
    "supplier": Kind.SUPPLIERS,
    "category": Kind.CATEGORIES,
    "tax_code": Kind.TAX_CODES,
    "bank_account": Kind.BANK_ACCOUNTS,
    "tracking": Kind.TRACKING,
}
LINE_FIELDS: dict[str, Kind] = {
    "category": Kind.CATEGORIES,
    "tax_code": Kind.TAX_CODES,
    "tracking": Kind.TRACKING,
}
# What rules may fill, in the order they are filled (the payment method first: it picks its own rule).
RULE_FILLED = ("bank_account", "category", "tax_code", "tracking", "currency", "description", "paid")
FIELD_LABELS = {
    "date": "Date",
    "supplier": "Supplier",
    "reference": "Reference",
    "total": "Total",
    "tax": "Tax",
    "currency": "Currency",
    "category": "Category",
    "tax_code": "Tax code",
    "bank_account": "Payment method",
    "tracking": "Tracking",
    "description": "Description",
    "paid": "Paid",
    "auto_publish": "Auto-publish",
}


# -- what the inbox shows ------------------------------------------------------------------------


def error_json(error_class: ErrorClass | None, message: str | None) -> dict[str, Any] | None:
    """A publishing error as the CLI's JSON gives it: its class, the message and the remedy."""
    if error_class is None:
        return None
    return {"class": error_class.value, "message": message, "remedy": error_class.remedy}


class CostRow(NamedTuple):
    """One cost item as the inbox lists it (a named tuple: 100,000 of them are built in a blink)."""

    id: int
    date: str | None
    supplier: str
    reference: str | None
    total: str | None
    currency: str | None
    category: str | None
    state: CostState
    error_class: ErrorClass | None
    error_message: str | None
    remote_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "date": self.date,
            "supplier": self.supplier,
            "reference": self.reference,
            "total": self.total,
            "currency": self.currency,
            "category": self.category,
            "state": self.state.value,
            "remote_id": self.remote_id,
            "error": error_json(self.error_class, self.error_message),
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an item would not publish (pre-flight), or why it did not (a stored error)."""

    error_class: ErrorClass
    message: str

    def to_json(self) -> dict[str, Any]:
        return error_json(self.error_class, self.message)


@dataclass(frozen=True, slots=True)
class CostLineInfo:
    position: int
    amount: Decimal
    tax: Decimal | None
    category: ItemRef | None
    tax_code: ItemRef | None
    tracking: ItemRef | None
    description: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "amount": str(self.amount),
            "tax": None if self.tax is None else str(self.tax),
            "category": self.category.to_json() if self.category else None,
            "tax_code": self.tax_code.to_json() if self.tax_code else None,
            "tracking": self.tracking.to_json() if self.tracking else None,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class CostDetail:
    """One cost item whole: its fields as items, why each has its value, its lines."""

    id: int
    uid: str
    date: date | None
    supplier: ItemRef | None
    supplier_name: str | None
    reference: str | None
    description: str | None
    total: Decimal | None
    tax: Decimal | None
    currency: str | None
    category: ItemRef | None
    tax_code: ItemRef | None
    bank_account: ItemRef | None
    tracking: ItemRef | None
    paid: bool
    state: CostState
    remote_id: str | None
    published_at: datetime | None
    error_class: ErrorClass | None
    error_message: str | None
    lines: tuple[CostLineInfo, ...]
    why: dict[str, str]  # field -> where its value came from ("Supplier rule for Acme (rule 3)")
    auto_publish: AutoPublish
    interrupted: bool = False  # a send of it was never answered: publish again before changing it

    @property
    def supplier_label(self) -> str:
        return self.supplier.name if self.supplier else (self.supplier_name or "")

    def draft(self) -> CostDraft:
        """The item as a draft, for editing."""

        def rid(ref: ItemRef | None) -> int | None:
            return ref.id if ref else None

        return CostDraft(
            date=self.date,
            supplier_id=rid(self.supplier),
            supplier_name=None if self.supplier else self.supplier_name,
            reference=self.reference,
            description=self.description,
            total=self.total,
            tax=self.tax,
            currency=self.currency,
            category_id=rid(self.category),
            tax_code_id=rid(self.tax_code),
            bank_account_id=rid(self.bank_account),
            tracking_id=rid(self.tracking),
            paid=self.paid,
            lines=tuple(
                LineDraft(
                    ln.amount, ln.tax, rid(ln.category), rid(ln.tax_code), rid(ln.tracking), ln.description
                )
                for ln in self.lines
            ),
        )

    def to_json(self) -> dict[str, Any]:
        def ref(r: ItemRef | None) -> dict[str, Any] | None:
            return r.to_json() if r else None

        return {
            "id": self.id,
            "uid": self.uid,
            "date": self.date.isoformat() if self.date else None,
            "supplier": ref(self.supplier) or ({"name": self.supplier_name} if self.supplier_name else None),
            "reference": self.reference,
            "description": self.description,
            "total": None if self.total is None else str(self.total),
            "tax": None if self.tax is None else str(self.tax),
            "currency": self.currency,
            "category": ref(self.category),
            "tax_code": ref(self.tax_code),
            "bank_account": ref(self.bank_account),
            "tracking": ref(self.tracking),
            "paid": self.paid,
            "state": self.state.value,
            "remote_id": self.remote_id,
            "published_at": iso(self.published_at),
            "error": error_json(self.error_class, self.error_message),
            "lines": [ln.to_json() for ln in self.lines],
            "why": self.why,
            "auto_publish": self.auto_publish.value,
            "interrupted": self.interrupted,
        }


# -- what goes in ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineDraft:
    amount: Decimal
    tax: Decimal | None = None
    category_id: int | None = None
    tax_code_id: int | None = None
    tracking_id: int | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class CostDraft:
    """A cost item as given (by hand or by a CSV row). A field left None is for the rules to fill."""

    date: date | None = None
    supplier_id: int | None = None
    supplier_name: str | None = None  # a supplier the lists do not have (yet)
    reference: str | None = None
    description: str | None = None
    total: Decimal | None = None
    tax: Decimal | None = None
    currency: str | None = None
    category_id: int | None = None
    tax_code_id: int | None = None
    bank_account_id: int | None = None
    tracking_id: int | None = None
    paid: bool | None = None
    lines: tuple[LineDraft, ...] = ()

    def given(self) -> set[str]:
        """The fields this draft sets (the others are the rules' to fill)."""
        out = {
            name
            for name in ("date", "reference", "description", "total", "tax", "currency", "paid")
            if getattr(self, name) is not None
        }
        out |= {name for name in ITEM_FIELDS if getattr(self, f"{name}_id") is not None}
        if self.supplier_name:
            out.add("supplier")
        return out


def check_draft(draft: CostDraft) -> list[str]:
    """What is malformed in a draft (not what is missing: an item may wait in the inbox half filled)."""
    problems = []
    for name in ("reference", "description", "supplier_name"):
        value = getattr(draft, name)
        if value is not None and len(value) > MAX_TEXT:
            problems.append(f"the {name.replace('_', ' ')} is longer than {MAX_TEXT} characters")
        if value is not None and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            problems.append(f"the {name.replace('_', ' ')} has control characters")
    if draft.total is not None and (not draft.total.is_finite() or draft.total <= 0):
        problems.append("the total must be more than zero (credit notes are not supported yet)")
    amounts = [draft.total, draft.tax, *(a for ln in draft.lines for a in (ln.amount, ln.tax))]
    finite = [a for a in amounts if a is not None and a.is_finite() and a]
    if any(a.adjusted() >= MAX_DIGITS for a in finite):  # not abs(a): 1e999999999 would overflow
        problems.append(f"an amount is too large (at most {Decimal(10) ** MAX_DIGITS - CENT:,})")
        return problems  # summing the lines would overflow
    if any(int(a.as_tuple().exponent) < -4 for a in finite):
        problems.append("an amount has more than 4 decimals")
    if draft.tax is not None and draft.total is not None and not 0 <= draft.tax <= draft.total:
        problems.append("the tax must be between zero and the total")
    if draft.currency is not None and not (len(draft.currency) == 3 and draft.currency.isalpha()):
        problems.append(f"currency {draft.currency!r} must be a 3-letter code such as GBP")
    if draft.lines:
        if any(not ln.amount.is_finite() or ln.amount <= 0 for ln in draft.lines):
            problems.append("every line's amount must be more than zero")
        elif draft.total is not None and sum(ln.amount for ln in draft.lines) != draft.total:
            problems.append(
                f"the lines add up to {sum(ln.amount for ln in draft.lines)}, the total is {draft.total}"
            )
    return problems


# -- why this value --------------------------------------------------------------------------------


def source_of_rule(rule: RuleInfo) -> dict[str, Any]:
    return {"by": "rule", "rule": rule.id, "scope": rule.scope.value, "target": rule.target.name}


def explain(source: dict[str, Any] | None, rules_now: set[int] | None = None) -> str:
    """A source as the user reads it (a value re-pointed by Merge lists says what it was merged from)."""
    if not source:
        return "not set"
    merged = source.get("merged_from")
    if merged is not None:
        rest = {k: v for k, v in source.items() if k != "merged_from"}
        said = explain(rest, rules_now) if rest.get("by") else ""
        return f"{said}, merged from {merged}" if said else f"merged from {merged}"
    by = source.get("by")
    if by == "you":
        return "set by you"
    if by == "import":
        return f"from {source.get('file', 'the import')}, line {source.get('line', '?')}"
    if by == "rule":
        scope = RuleScope(source.get("scope", "supplier"))
        text = f"{scope.label} rule for {source.get('target', '?')} (rule {source.get('rule')})"
        if rules_now is not None and source.get("rule") not in rules_now:
            text += ", since removed"
        return text
    if by == "default":
        return f"default tax code of category {source.get('category', '?')}"
    return str(by)


# -- rules fill an item ------------------------------------------------------------------------


@dataclass(slots=True)
class RuleBook:
    """The workspace's rules, by what they apply to."""

    suppliers: dict[int, RuleInfo] = field(default_factory=dict)
    payment_methods: dict[int, RuleInfo] = field(default_factory=dict)
    default_tax: dict[int, tuple[int, str]] = field(default_factory=dict)  # category -> (tax code, label)

    @classmethod
    def load(cls, db: sqlite3.Connection, workspace_id: int, rules: list[RuleInfo]) -> RuleBook:
        book = cls()
        for rule in rules:
            if rule.scope == RuleScope.SUPPLIER:
                book.suppliers[rule.target.id] = rule
            elif rule.scope == RuleScope.PAYMENT_METHOD:
                book.payment_methods[rule.target.id] = rule
        for cat_id, tax_id, code, name in db.execute(
            "SELECT id, default_tax_code_id, code, name FROM listitem WHERE workspace_id = ?"
            " AND kind = 'categories' AND default_tax_code_id IS NOT NULL",
            (workspace_id,),
        ):
            book.default_tax[cat_id] = (tax_id, ItemRef(cat_id, code, name).label)
        return book


def _rule_value(rule: RuleInfo, name: str) -> Any:
    if name == "description":
        return rule.description
    if name == "paid":
        return rule.paid
    ref = getattr(rule, name)
    if ref is None:
        return None
    return ref.code or ref.name if name == "currency" else ref.id


def fill(
    values: dict[str, Any], sources: dict[str, Any], book: RuleBook, keep: Callable[[str], bool]
) -> AutoPublish:
    """Fill the fields rules may fill and `keep(field)` says are not set by hand, in place; returns what
    the rules say about publishing automatically. `values` holds `bank_account`, `category`, ... (ids),
    `currency` (a code), `description`, `paid`, and `supplier` (an id or None)."""
    for name in RULE_FILLED:
        if not keep(name):
            values[name] = None
            sources.pop(name, None)
    supplier_rule = book.suppliers.get(values.get("supplier") or -1)
    if values["bank_account"] is None and supplier_rule and supplier_rule.bank_account:
        values["bank_account"] = supplier_rule.bank_account.id
        sources["bank_account"] = source_of_rule(supplier_rule)
    method_rule = book.payment_methods.get(values["bank_account"] or -1)
    for name in RULE_FILLED[1:]:
        if values[name] is not None:
            continue
        for rule in (method_rule, supplier_rule):
            if rule is not None and _rule_value(rule, name) is not None:
                values[name] = _rule_value(rule, name)
                sources[name] = source_of_rule(rule)
                break
    if values["tax_code"] is None and values["category"] in book.default_tax:
        tax_id, label = book.default_tax[values["category"]]
        values["tax_code"] = tax_id
        sources["tax_code"] = {"by": "default", "category": label}
    if values["paid"] is None:
        values["paid"] = False  # unpaid unless something says otherwise
    for rule in (method_rule, supplier_rule):
        if rule is not None and rule.auto_publish != AutoPublish.NONE:
            return rule.auto_publish
    return AutoPublish.NONE


# -- reading a CSV file of costs ---------------------------------------------------------------

REQUIRED_COLUMNS = ("date", "supplier", "reference", "total", "currency")
OPTIONAL_COLUMNS = (
    "category",
    "tax_code",
    "bank_account",
    "description",
    "paid",
    "tax",
    "tracking",
    # A split cost: one row per line, each repeating the item's date, supplier, reference, total, currency.
    "line_amount",
    "line_category",
    "line_tax_code",
    "line_tax",
    "line_tracking",
    "line_description",
)
_TRUE = {"true", "yes", "y", "1", "paid"}
_FALSE = {"false", "no", "n", "0", "unpaid", ""}


@dataclass(frozen=True, slots=True)
class CsvCost:
    line: int
    draft: CostDraft


class ItemFinder:
    """Finds current list items by code, else by name (any case), for an import."""

    def __init__(self, db: sqlite3.Connection, workspace_id: int) -> None:
        self._by: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
        for item_id, kind, code, name, status in db.execute(
            "SELECT id, kind, code, name, status FROM listitem WHERE workspace_id = ?"
            " AND generation = (SELECT generation FROM workspace WHERE id = ?)",
            (workspace_id, workspace_id),
        ):
            if code:
                self._by.setdefault((kind, "code", code.casefold()), []).append((item_id, status))
            self._by.setdefault((kind, "name", name.casefold()), []).append((item_id, status))

    def find(self, kind: Kind, text: str, *, required: bool = True) -> int | None:
        key = text.strip().casefold()
        found = self._by.get((kind.value, "code", key)) or self._by.get((kind.value, "name", key)) or []
        active = [i for i, status in found if status == ItemStatus.ACTIVE] or [i for i, _ in found]
        if len(active) > 1:
            raise ValueError(f"{len(active)} {kind.label.lower()} are called {text.strip()!r}; give the code")
        if not active:
            if not required:
                return None
            raise ValueError(f"no {kind.singular} {text.strip()!r} in the current lists")
        return active[0]


def parse_amount(text: str, what: str) -> Decimal:
    """An amount as typed (`1,200.50`): a finite number with at most 4 decimals, else ValueError naming
    `what`."""
    cleaned = text.strip().replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{what} {text.strip()!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{what} {text.strip()!r} is not a number")
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError(f"{what} {text.strip()!r} has more than 4 decimals")
    return value


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"date {text.strip()!r} must be YYYY-MM-DD") from None


def _row_draft(values: dict[str, str], finder: ItemFinder) -> CostDraft:
    problems = [f"{c} is empty" for c in ("date", "supplier", "total", "currency") if not values.get(c)]
    if problems:
        raise ValueError("; ".join(problems))
    supplier_text = values["supplier"]
    supplier_id = finder.find(Kind.SUPPLIERS, supplier_text, required=False)
    paid_text = values.get("paid", "").strip().lower()
    if paid_text not in _TRUE | _FALSE:
        raise ValueError(f"paid {values['paid']!r} must be yes or no")

    def item(column: str, kind: Kind) -> int | None:
        return finder.find(kind, values[column]) if values.get(column) else None

    draft = CostDraft(
        date=parse_day(values["date"]),
        supplier_id=supplier_id,
        supplier_name=None if supplier_id else supplier_text.strip(),
        reference=values.get("reference") or None,
        description=values.get("description") or None,
        total=parse_amount(values["total"], "total"),
        tax=parse_amount(values["tax"], "tax") if values.get("tax") else None,
        currency=values["currency"].strip().upper(),
        category_id=item("category", Kind.CATEGORIES),
        tax_code_id=item("tax_code", Kind.TAX_CODES),
        bank_account_id=item("bank_account", Kind.BANK_ACCOUNTS),
        tracking_id=item("tracking", Kind.TRACKING),
        paid=(paid_text in _TRUE) if paid_text else None,
    )
    problems = check_draft(draft)
    if values.get("line_amount"):
        line = LineDraft(
            amount=parse_amount(values["line_amount"], "line_amount"),
            tax=parse_amount(values["line_tax"], "line_tax") if values.get("line_tax") else None,
            category_id=item("line_category", Kind.CATEGORIES),
            tax_code_id=item("line_tax_code", Kind.TAX_CODES),
            tracking_id=item("line_tracking", Kind.TRACKING),
            description=values.get("line_description") or None,
        )
        if line.amount <= 0:
            problems.append("the line_amount must be more than zero")
        draft = replace(draft, lines=(line,))  # the item's other lines are on the rows that follow
    elif any(values.get(c) for c in OPTIONAL_COLUMNS if c.startswith("line_")):
        problems.append("a line of a split cost needs its line_amount")
    if problems:
        raise ValueError("; ".join(problems))
    return draft


def _same_cost(a: CostDraft, b: CostDraft) -> bool:
    """Two rows of one split cost: the same date, supplier, reference, total and currency."""
    return (a.date, a.supplier_id, a.supplier_name, a.reference, a.total, a.currency) == (
        b.date,
        b.supplier_id,
        b.supplier_name,
        b.reference,
        b.total,
        b.currency,
    )


def _join_lines(path: Path, costs: list[CsvCost]) -> list[CsvCost]:
    """Consecutive rows of one split cost become one item with their lines; the lines must add up."""
    out: list[CsvCost] = []
    spans: list[int] = []  # the last line of each item
    for cost in costs:
        last = out[-1] if out else None
        if last and cost.draft.lines and last.draft.lines and _same_cost(last.draft, cost.draft):
            out[-1] = CsvCost(last.line, replace(last.draft, lines=last.draft.lines + cost.draft.lines))
            spans[-1] = cost.line
        else:
            out.append(cost)
            spans.append(cost.line)
    errors = []
    for cost, end in zip(out, spans, strict=True):
        lines = cost.draft.lines
        if lines and sum(ln.amount for ln in lines) != cost.draft.total:
            where = f"lines {cost.line}-{end}" if end != cost.line else f"line {cost.line}"
            errors.append(
                f"{where}: the split lines add up to {sum(ln.amount for ln in lines)}, the total is"
                f" {cost.draft.total}"
            )
    if errors:
        raise InvalidData(
            f"{path.name}: {len(errors)} split cost{'s' if len(errors) > 1 else ''} do not add up,"
            f" nothing imported: {'; '.join(errors[:20])}"
        )
    return out


def read_costs_csv(path: Path, finder: ItemFinder) -> list[CsvCost]:
    """Every row of the file as a draft. Raises InvalidData listing each bad row by line: nothing is
    imported from a file with errors."""

    def check_header(columns: list[str]) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise InvalidData(
                f"{path.name}: the header row needs the columns {', '.join(REQUIRED_COLUMNS)}"
                f" (missing: {', '.join(missing)})"
            )
        unknown = [c for c in columns if c and c not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
        if unknown:
            raise InvalidData(
                f"{path.name}: unknown column {unknown[0]!r}"
                f" (allowed: {', '.join([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS])})"
            )

    rows = read_rows(
        path,
        ", ".join(REQUIRED_COLUMNS),
        check_header,
        lambda values, line: CsvCost(line, _row_draft(values, finder)),
        MAX_ROWS,
    )
    return _join_lines(path, rows)


@dataclass(slots=True)
class CostImportReport:
    added: int = 0
    already: int = 0  # rows the inbox already had (same supplier, reference, date and total)
    filled: int = 0  # fields the rules filled
    ids: list[int] = field(default_factory=list)
    auto_publish: list[int] = field(default_factory=list)  # items a rule says to publish at once

    def summary(self) -> str:
        text = f"{self.added} cost item{'s' if self.added != 1 else ''} added,"
        text += f" {self.filled} fields filled by rules"
        if self.already:
            text += f", {self.already} already in the inbox (skipped)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "already": self.already,
            "filled_by_rules": self.filled,
            "ids": self.ids,
            "auto_publish": self.auto_publish,
        }


def amount_text(value: Decimal) -> str:
    """An amount as stored: plain digits ("1000", never "1E+3", which a ledger would not read)."""
    return format(value, "f")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
