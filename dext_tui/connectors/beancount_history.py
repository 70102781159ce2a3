"""Beancount: a ledger's transactions as history records, to tell which items of other books are ours.

One record per Transaction (the format is `core.history`'s)::

    (date_iso, currency, total_text, refs)

- total: the sum of the transaction's positive posting amounts (units), as normalised decimal text, in its
  currency; a transaction whose positive postings are in several currencies (a payslip with pension and
  holiday units, a purchase at cost) names them all, sorted, joined with `+`, in both fields;
- refs: the items of the lists the transaction mentions, by EXACTLY the remote ids `extract_lists` gives
  them (`beancount_ledger` documents the conventions), each with the amount it carries (unsigned):
  - categories: each Expenses / Income account posted to (its postings' net amount, signed);
  - suppliers: the stripped payee when the transaction posts to Expenses; customers: the payee when it
    posts to Income (one payee a transaction, so its amount never has to tell two apart: the total);
  - bank_accounts: each Assets / Liabilities account with a negative posting beside an expense (the
    accounts that pay expenses);
  - tracking: each tag (amount: the transaction total).

The ledger's own root names (`option "name_expenses"` ...) are respected, as `extract_lists` does.
Records are plain tuples of strings: they pickle fast out of the loader process, and a 100,000-transaction
ledger yields them in a fraction of its parse time (plain loops, each account classified once).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dext_tui.core.domain import Kind
from dext_tui.core.history import HistoryRecord, HistoryRef

_CATEGORIES = Kind.CATEGORIES.value
_SUPPLIERS = Kind.SUPPLIERS.value
_CUSTOMERS = Kind.CUSTOMERS.value
_BANK_ACCOUNTS = Kind.BANK_ACCOUNTS.value
_TRACKING = Kind.TRACKING.value

_OTHER, _EXPENSE, _INCOME, _MONEY = 0, 1, 2, 3
_ZERO = Decimal(0)


def amount_text(number: Decimal) -> str:
    """An amount as both books write it alike: unsigned, no trailing zeros, no exponent ("65", "80.1").

    `str` and a strip, not `normalize()`: a third of the cost, and this runs for every posting."""
    text = str(number)
    if text[0] == "-":
        text = text[1:]
    if "E" in text:  # tiny or huge numbers only
        return format(abs(number).normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def extract_history(entries: list[Any], options: dict[str, Any]) -> list[HistoryRecord]:
    """Every Transaction of the loaded `entries`, in ledger order, as a history record."""
    from beancount.core import data

    roots = {
        options.get("name_expenses", "Expenses"): _EXPENSE,
        options.get("name_income", "Income"): _INCOME,
        options.get("name_assets", "Assets"): _MONEY,
        options.get("name_liabilities", "Liabilities"): _MONEY,
    }
    account_class: dict[str, int] = {}  # each account classified once, not once per posting

    def classify(account: str) -> int:
        cls = account_class[account] = roots.get(account.split(":", 1)[0], _OTHER)
        return cls

    Transaction = data.Transaction
    text = amount_text
    records: list[HistoryRecord] = []
    append = records.append
    for entry in entries:
        if type(entry) is not Transaction:
            continue
        currency = None  # the positive amounts' currency; `others` holds the rest, rarely any
        total = _ZERO
        others: dict[str, Decimal] | None = None
        categories: dict[str, Decimal] = {}
        paying: dict[str, Decimal] = {}
        has_expense = has_income = False
        for posting in entry.postings:
            account = posting.account
            cls = account_class.get(account)
            if cls is None:
                cls = classify(account)
            units = posting.units
            number = None if units is None else units.number
            if cls in (_EXPENSE, _INCOME):
                if cls == _EXPENSE:
                    has_expense = True
                else:
                    has_income = True
                if number is None:
                    continue
                if account in categories:
                    categories[account] += number
                else:
                    categories[account] = number
            elif number is None:
                continue
            elif cls == _MONEY and number < 0:
                if account in paying:
                    paying[account] += number
                else:
                    paying[account] = number
            if number > 0:
                if currency is None or units.currency == currency:
                    currency = units.currency
                    total += number
                else:
                    if others is None:
                        others = {}
                    others[units.currency] = others.get(units.currency, _ZERO) + number

        if others is None:
            total_text = text(total)
        else:
            others[currency] = total
            currencies = sorted(others)
            currency = "+".join(currencies)
            total_text = "+".join([text(others[c]) for c in currencies])
        # Categories keep their sign: a payslip's income line and the expense line of the same amount
        # (group-term life, say) are then told apart.
        refs: list[HistoryRef] = [
            (_CATEGORIES, a, "-" + text(n) if n < 0 else text(n)) for a, n in categories.items()
        ]
        payee = entry.payee
        if payee:
            payee = payee.strip()
            # One payee a transaction: its amount never has to tell two apart; the total will do.
            if payee and has_expense:
                refs.append((_SUPPLIERS, payee, total_text))
            if payee and has_income:
                refs.append((_CUSTOMERS, payee, total_text))
        if has_expense and paying:
            refs.extend([(_BANK_ACCOUNTS, a, text(n)) for a, n in paying.items()])
        if entry.tags:
            refs.extend([(_TRACKING, tag, total_text) for tag in sorted(entry.tags)])
        append((entry.date.isoformat(), currency or "", total_text, tuple(refs)))
    return records
