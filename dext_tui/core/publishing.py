"""What publishing hands a connector and what it gets back: plain data, no store, no UI.

The service turns a cost item into a `Bill` (its fields resolved to the connected software's own ids), a
connector publishes bills and answers one `PublishOutcome` per bill. A failed outcome carries an
`ErrorClass`: the class decides the remedy the user is shown and whether the connection becomes expired.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any


class ErrorClass(StrEnum):
    EXPIRED = "expired"  # the software refuses our authorisation ("Connection is expired")
    ARCHIVED = "archived"  # a category, tax code, contact or bank account archived or deleted there
    TAX_MISMATCH = "tax_mismatch"  # category and tax code that do not go together
    LOCK_DATE = "lock_date"  # a date on or before the books' lock date
    DUPLICATE = "duplicate"  # the software already has this bill (same supplier and reference)
    CURRENCY = "currency"  # a currency the books do not take, or one the bank account is not in
    LEDGER_CHECK = "ledger_check"  # the ledger has errors after writing (file and line in the message)
    MISSING = "missing"  # a required field is empty (supplier, category, date, total, currency)
    UNAVAILABLE = "unavailable"  # the software is down or busy: try again later
    INVALID = "invalid"  # anything else the software refused; its own message says why

    @property
    def label(self) -> str:
        return ERROR_LABELS[self]

    @property
    def remedy(self) -> str:
        return REMEDIES[self]

    @classmethod
    def parse(cls, text: str) -> ErrorClass:
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(key)
        except ValueError:
            valid = ", ".join(c.value.replace("_", "-") for c in cls)
            raise ValueError(f"unknown error class {text!r}; choose one of: {valid}") from None


ERROR_LABELS: dict[ErrorClass, str] = {
    ErrorClass.EXPIRED: "Connection expired",
    ErrorClass.ARCHIVED: "Archived or deleted item",
    ErrorClass.TAX_MISMATCH: "Category and tax code",
    ErrorClass.LOCK_DATE: "Before the lock date",
    ErrorClass.DUPLICATE: "Duplicate",
    ErrorClass.CURRENCY: "Currency",
    ErrorClass.LEDGER_CHECK: "Ledger check failed",
    ErrorClass.MISSING: "Missing field",
    ErrorClass.UNAVAILABLE: "Software unavailable",
    ErrorClass.INVALID: "Refused",
}

REMEDIES: dict[ErrorClass, str] = {
    ErrorClass.EXPIRED: "Reconnect (Integration page, or dext-tui reconnect), then publish again.",
    ErrorClass.ARCHIVED: "Pick an active item (e to edit); an item from former lists: Merge lists maps it"
    " (l on Integrations); an archived one: restore it in the accounting software and refresh the lists.",
    ErrorClass.TAX_MISMATCH: "Pick a tax code that can be used with this category (e to edit).",
    ErrorClass.LOCK_DATE: "Change the date to after the lock date, or ask whoever keeps the books to move"
    " the lock date.",
    ErrorClass.DUPLICATE: "Check it is not already in the books; change the reference if it is a"
    " different bill, or delete it here.",
    ErrorClass.CURRENCY: "Pick a currency the books take (and a bank account in that currency).",
    ErrorClass.LEDGER_CHECK: "Fix the ledger at the file and line shown (nothing was written), then"
    " publish again.",
    ErrorClass.MISSING: "Fill in the missing field (e to edit), or add a rule that fills it.",
    ErrorClass.UNAVAILABLE: "Nothing was published; try again in a few minutes.",
    ErrorClass.INVALID: "Read the software's message, correct the item (e to edit), then publish again.",
}


@dataclass(frozen=True, slots=True)
class RemoteRef:
    """A list item as the connected software knows it: `remote_id` is what its API references (a Xero
    AccountID/ContactID/TaxType..., a QuickBooks Id, a Beancount account name or payee)."""

    remote_id: str
    code: str | None
    name: str
    data: dict[str, Any] = field(default_factory=dict)  # the item's data from the software ("rate", "type")


@dataclass(frozen=True, slots=True)
class BillLine:
    amount: Decimal  # what this line costs, tax included (the item's total when the item is not split)
    tax: Decimal | None  # tax included in `amount`, when known
    category: RemoteRef
    tax_code: RemoteRef | None = None
    tracking: RemoteRef | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Bill:
    """One cost item, ready for a connector. Amounts are tax inclusive (a receipt's total)."""

    item_id: int  # the local cost item id
    uid: str  # the item's stable unique id: Beancount metadata, the base of idempotency keys
    date: date
    supplier: RemoteRef | None  # None: a supplier the software does not know yet, named `supplier_name`
    supplier_name: str
    reference: str | None
    currency: str  # ISO code
    total: Decimal
    tax: Decimal | None
    bank_account: RemoteRef | None  # the payment method (where the money comes from)
    paid: bool
    description: str | None
    lines: tuple[BillLine, ...]

    @property
    def idempotency_key(self) -> str:
        """The same bill gives the same key (a retry after a crash creates nothing twice); a bill changed
        after a refusal gives a new one (the software does not answer the old refusal again)."""
        return f"dext-{self.uid}-{self.digest()[:16]}"

    def digest(self) -> str:
        def ref(r: RemoteRef | None) -> str | None:
            return None if r is None else r.remote_id

        content = [
            self.uid,
            self.date.isoformat(),
            ref(self.supplier),
            self.supplier_name,
            self.reference,
            self.currency,
            str(self.total),
            None if self.tax is None else str(self.tax),
            ref(self.bank_account),
            self.paid,
            self.description,
            [
                [
                    str(ln.amount),
                    None if ln.tax is None else str(ln.tax),
                    ref(ln.category),
                    ref(ln.tax_code),
                    ref(ln.tracking),
                    ln.description,
                ]
                for ln in self.lines
            ],
        ]
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """What became of one bill: published (`remote_id` set, `error_class` None) or refused. A refusal that
    carries a `remote_id` left the bill in the books (its payment was refused): sending the same bill again
    finishes it, a changed one would be a second bill."""

    item_id: int
    remote_id: str | None = None
    error_class: ErrorClass | None = None
    message: str | None = None
    already: bool = False  # it was in the books already (a retry after a crash): nothing new written

    @property
    def ok(self) -> bool:
        return self.error_class is None

    @classmethod
    def failed(cls, item_id: int, error_class: ErrorClass, message: str) -> PublishOutcome:
        return cls(item_id, None, error_class, message)


OutcomeFn = Callable[[PublishOutcome], None]
