"""A workspace's own lists (before and without a connection): the defaults a new workspace starts with,
and reading a CSV file of items, every problem reported by line before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dext_tui.core.csv_rows import read_rows
from dext_tui.core.domain import ItemStatus, Kind
from dext_tui.core.errors import InvalidData

MAX_NAME = 200
MAX_CODE = 64
MAX_ROWS = 500_000

# A UK small-business chart (nominal codes as Xero's default chart numbers them) and its VAT rates:
# sensible until the workspace imports its own or connects its software.
DEFAULT_CATEGORIES: list[tuple[str, str]] = [
    ("200", "Sales"),
    ("260", "Other Revenue"),
    ("310", "Cost of Goods Sold"),
    ("400", "Advertising & Marketing"),
    ("404", "Bank Fees"),
    ("408", "Cleaning"),
    ("412", "Consulting & Accounting"),
    ("420", "Entertainment"),
    ("425", "Postage, Freight & Courier"),
    ("429", "General Expenses"),
    ("433", "Insurance"),
    ("441", "Legal Expenses"),
    ("445", "Light, Power, Heating"),
    ("449", "Motor Vehicle Expenses"),
    ("461", "Printing & Stationery"),
    ("469", "Rent"),
    ("473", "Repairs & Maintenance"),
    ("477", "Wages & Salaries"),
    ("485", "Subscriptions"),
    ("489", "Telephone & Internet"),
    ("493", "Travel - National"),
    ("494", "Travel - International"),
]
DEFAULT_TAX_CODES: list[tuple[str, str, str]] = [
    ("20", "20% (VAT on Expenses)", "20"),
    ("20S", "20% (VAT on Income)", "20"),
    ("5", "5% (VAT on Expenses)", "5"),
    ("0", "Zero Rated", "0"),
    ("EX", "Exempt", "0"),
    ("NV", "No VAT", "0"),
]


@dataclass(frozen=True, slots=True)
class OwnItem:
    """One item of an own list, as given (CSV row or the defaults)."""

    code: str | None
    name: str
    status: ItemStatus = ItemStatus.ACTIVE
    data: dict[str, Any] | None = None
    default_tax_code: str | None = None  # categories: a tax code's code
    line: int = 0


def default_items() -> dict[Kind, list[OwnItem]]:
    return {
        Kind.CATEGORIES: [OwnItem(code, name) for code, name in DEFAULT_CATEGORIES],
        Kind.TAX_CODES: [OwnItem(code, name, data={"rate": rate}) for code, name, rate in DEFAULT_TAX_CODES],
    }


def check_item_text(name: str, code: str | None) -> str | None:
    """Why a name/code pair cannot be stored, or None."""
    if not name.strip():
        return "a name is required"
    if len(name) > MAX_NAME:
        return f"the name is longer than {MAX_NAME} characters"
    if code is not None and len(code) > MAX_CODE:
        return f"the code is longer than {MAX_CODE} characters"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name + (code or "")):
        return "control characters are not allowed"
    return None


def parse_rate(text: str) -> str:
    try:
        rate = Decimal(text.strip().rstrip("%"))
    except InvalidOperation:
        raise ValueError(f"rate {text!r} is not a number") from None
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise ValueError(f"rate {text!r} must be between 0 and 100")
    return str(rate.normalize()) if rate == rate.to_integral() else str(rate)


# Columns besides name and code, per list: documented in the README.
EXTRA_COLUMNS: dict[Kind, set[str]] = {
    Kind.CATEGORIES: {"default_tax_code"},
    Kind.TAX_CODES: {"rate"},
    Kind.BANK_ACCOUNTS: {"currency"},
}


def read_csv(path: Path, kind: Kind) -> list[OwnItem]:
    """Every row of the file as an OwnItem. Raises InvalidData listing each bad row by line."""

    def check_header(columns: list[str]) -> None:
        missing = [c for c in ("name", "code") if c not in columns]
        if missing:
            raise InvalidData(
                f"{path.name}: the header row needs the columns name and code (missing: {', '.join(missing)})"
            )
        allowed = {"name", "code", "status"} | EXTRA_COLUMNS.get(kind, set())
        unknown = [c for c in columns if c and c not in allowed]
        if unknown:
            raise InvalidData(
                f"{path.name}: unknown column {unknown[0]!r} for {kind.label.lower()}"
                f" (allowed: {', '.join(sorted(allowed))})"
            )

    seen_codes: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    return read_rows(
        path,
        "at least name and code",
        check_header,
        lambda values, line: _row_item(kind, values, line, seen_codes, seen_names),
        MAX_ROWS,
    )


def _row_item(
    kind: Kind, values: dict[str, str], line: int, seen_codes: dict[str, int], seen_names: dict[str, int]
) -> OwnItem:
    name, code = values.get("name", ""), values.get("code") or None
    problem = check_item_text(name, code)
    if problem:
        raise ValueError(problem)
    if code is not None:
        if code.casefold() in seen_codes:
            raise ValueError(f"code {code!r} is also on line {seen_codes[code.casefold()]}")
        seen_codes[code.casefold()] = line
    elif name.casefold() in seen_names:
        raise ValueError(f"name {name!r} (without a code) is also on line {seen_names[name.casefold()]}")
    seen_names.setdefault(name.casefold(), line)
    status_text = (values.get("status") or "active").lower()
    try:
        status = ItemStatus(status_text)
    except ValueError:
        raise ValueError(f"status {status_text!r} must be active or archived") from None
    data: dict[str, Any] | None = None
    if kind == Kind.TAX_CODES:
        rate = values.get("rate", "")
        data = {"rate": parse_rate(rate)} if rate else None
    if kind == Kind.BANK_ACCOUNTS and values.get("currency"):
        currency = values["currency"].upper()
        if not (len(currency) == 3 and currency.isalpha()):
            raise ValueError(f"currency {values['currency']!r} must be a 3-letter code such as GBP")
        data = {"currency": currency}
    return OwnItem(
        code=code,
        name=name,
        status=status,
        data=data,
        default_tax_code=values.get("default_tax_code") or None,
        line=line,
    )


@dataclass(slots=True)
class ImportReport:
    kind: Kind
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.kind.label}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged"

    def to_json(self) -> dict[str, Any]:
        return {
            "list": self.kind.cli_name,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }
