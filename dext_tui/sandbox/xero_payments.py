"""Xero Payments against invoices and bills, kept minimal but correct: PUT/POST (one or many, `Payments`
array or a single object), GET (list, paged; one by id). Validation as Xero does it: the invoice exists
and is AUTHORISED; the account exists, is a BANK account (no seeded account has EnablePaymentsToAccount),
is not archived, and is in the invoice's currency or the base currency; the amount is above zero and not
more than the amount due; the date is after the lock dates. A payment lowers the invoice's AmountDue and
raises AmountPaid; the last one makes it PAID. The Idempotency-Key header replays an answer that wrote
payments (nothing is written twice); a refusal wrote nothing and is not remembered, so the same key sent
again once its cause is fixed records the payment."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dext_tui.sandbox._http import Request, Response, ms, xero_day, xero_ms_date
from dext_tui.sandbox.seed import XAccount, XeroOrg
from dext_tui.sandbox.xero_invoices import CENT, ZERO_ID, _day, _lock_error, _money, _number

if TYPE_CHECKING:
    from dext_tui.sandbox.engine import Engine

BASE_CURRENCY = "GBP"  # the seeded organisations' (Organisation.BaseCurrency)
PAYMENT_TYPES = {"ACCPAY": "ACCPAYPAYMENT", "ACCREC": "ACCRECPAYMENT"}
INVALID_POST = {
    "ErrorNumber": 14,
    "Type": "PostDataInvalidException",
    "Message": "JSON for post data was invalid",
}


def _x() -> Any:
    from dext_tui.sandbox import xero  # late: xero imports this module

    return xero


def read(engine: Engine, req: Request, org: XeroOrg, ident: str | None) -> Response:
    x = _x()
    with engine.lock:
        rows = [(invoice, p) for invoice in org.invoices.values() for p in invoice.get("payments", [])]
        if ident is not None:
            rows = [r for r in rows if r[1]["PaymentID"] == ident.lower()]
            if not rows:
                return x.not_found()
        rows.sort(key=lambda r: (r[1]["_updated"], r[1]["PaymentID"]))
        since = x._since_ms(req)
        if since is not None:
            rows = [r for r in rows if r[1]["_updated"] > since]
        return x.paged(engine, "Payments", rows, req, lambda r: _render(org, r[0], r[1]))


def write(engine: Engine, req: Request, org: XeroOrg) -> Response:
    x = _x()
    key = req.header("Idempotency-Key")
    if key is not None and not 0 < len(key) <= 128:
        return x.validation_error("The Idempotency-Key header must be 1 to 128 characters long")
    remembered = f"Payments {key}"  # apart from the Invoices keys
    with engine.lock:
        if key and remembered in org.idempotency:
            status, body = org.idempotency[remembered]
            return Response(status, body, {})
        response, wrote = _write(engine, req, org)
        if key and wrote:
            org.idempotency[remembered] = (response.status, response.body)
        return response


def _write(engine: Engine, req: Request, org: XeroOrg) -> tuple[Response, bool]:
    x = _x()
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        return Response.json(400, INVALID_POST), False
    specs = body["Payments"] if isinstance(body, dict) and "Payments" in body else [body]
    if not isinstance(specs, list) or not specs:
        return Response.json(400, INVALID_POST), False
    summarize = (req.arg("summarizeErrors") or "true").strip().lower() != "false"
    pending: dict[str, Decimal] = {}  # invoice id -> paid by the payments before in this request
    built = [_build(engine, org, spec, pending) for spec in specs]
    if summarize and any(errors for _, errors, _ in built):
        return x.validation_error("", [element for element, errors, _ in built if errors]), False
    results = [element if errors or commit is None else commit() for element, errors, commit in built]
    wrote = any(not errors for _, errors, _ in built)
    return Response.json(200, x.envelope(engine, "Payments", results)), wrote


def _account(org: XeroOrg, spec: Any, errors: list[str]) -> XAccount | None:
    spec = spec if isinstance(spec, dict) else {}
    account_id, code = spec.get("AccountID"), spec.get("Code")
    if not account_id and not code:
        errors.append("You must specify and Account code or Account ID for the payment")  # sic: Xero's
        return None
    found = [
        a
        for a in org.accounts
        if (account_id and a.id == str(account_id).lower()) or (code and a.code == str(code))
    ]
    if not found:
        errors.append(f"Account code '{code or account_id}' is not a valid code for this document.")
        return None
    account = found[0]
    if account.status != "ACTIVE":
        errors.append(
            f"The account code '{account.code}' has been archived, or deleted. A payment must be made to or "
            "from an active account."
        )
        return None
    if account.type != "BANK":  # nor has EnablePaymentsToAccount: no seeded account does
        errors.append("Account type is invalid for making a payment to/from")
        return None
    return account


def _invoice(org: XeroOrg, spec: Any, errors: list[str]) -> dict[str, Any] | None:
    spec = spec if isinstance(spec, dict) else {}
    invoice_id, number = spec.get("InvoiceID"), spec.get("InvoiceNumber")
    found = None
    if invoice_id and str(invoice_id).lower() != ZERO_ID:
        found = org.invoices.get(str(invoice_id).lower())
    elif number:
        matches = [i for i in org.invoices.values() if i["json"]["InvoiceNumber"] == str(number)]
        found = matches[0] if matches else None
    else:
        errors.append("You must specify either an Invoice ID or Invoice Number or CreditNote ID")
        return None
    if found is None:
        errors.append(f"Invoice {invoice_id or number} could not be found")
        return None
    if found["json"]["Status"] != "AUTHORISED":
        errors.append("Payments can only be made against Authorised documents")
    return found


def _build(
    engine: Engine, org: XeroOrg, spec: Any, pending: dict[str, Decimal]
) -> tuple[dict[str, Any], list[str], Callable[[], dict[str, Any]] | None]:
    """Check one payment: (what to answer for it, its validation errors, how to save it)."""
    if not isinstance(spec, dict):
        return {"ValidationErrors": [{"Message": "A payment must be an object"}]}, ["not an object"], None
    errors: list[str] = []
    invoice = _invoice(org, spec.get("Invoice"), errors)
    account = _account(org, spec.get("Account"), errors)

    amount = _number(spec.get("Amount"))
    if amount is None:
        errors.append("Payment amount must be a number")
    else:
        amount = amount.quantize(CENT)
        if amount <= 0:
            errors.append("Payment amount must be greater than zero")
        elif invoice is not None:
            invoice_id = invoice["json"]["InvoiceID"]
            if amount + pending.get(invoice_id, Decimal(0)) > Decimal(str(invoice["json"]["AmountDue"])):
                errors.append("Payment amount exceeds the amount outstanding on this document")

    day = (
        _day(spec.get("Date"))
        if spec.get("Date")
        else datetime.fromtimestamp(engine.now(), UTC).strftime("%Y-%m-%d")
    )
    if day is None:
        errors.append("Date must be a date (YYYY-MM-DD)")
    else:
        locked = _lock_error(org, day)
        if locked:
            errors.append(locked)

    rate = _number(spec.get("CurrencyRate")) if spec.get("CurrencyRate") is not None else Decimal(1)
    if rate is None or rate <= 0:
        errors.append("CurrencyRate must be a number above zero")
        rate = Decimal(1)
    if invoice is not None and account is not None:
        currency = invoice["json"]["CurrencyCode"]
        bank_currency = account.currency or BASE_CURRENCY
        if bank_currency not in (currency, BASE_CURRENCY):
            errors.append(
                f"The bank account's currency ({bank_currency}) must be the invoice's currency ({currency}) "
                f"or the base currency ({BASE_CURRENCY})"
            )

    if errors:
        element = {
            **spec,
            "PaymentID": ZERO_ID,
            "HasValidationErrors": True,
            "ValidationErrors": [{"Message": m} for m in errors],
        }
        return element, errors, None
    assert invoice is not None and account is not None and amount is not None and day is not None
    pending[invoice["json"]["InvoiceID"]] = pending.get(invoice["json"]["InvoiceID"], Decimal(0)) + amount

    def commit() -> dict[str, Any]:
        now_ms = ms(engine.now())
        out = invoice["json"]
        same = (account.currency or BASE_CURRENCY) == out["CurrencyCode"]
        payment = {
            "PaymentID": engine.new_id(),
            "Date": xero_day(day),
            "BankAmount": _money(amount if same else amount / rate),
            "Amount": _money(amount),
            "Reference": str(spec.get("Reference") or ""),
            "CurrencyRate": float(rate),
            "PaymentType": PAYMENT_TYPES.get(out["Type"], "ACCPAYPAYMENT"),
            "Status": "AUTHORISED",
            "UpdatedDateUTC": xero_ms_date(now_ms),
            "HasAccount": True,
            "IsReconciled": bool(spec.get("IsReconciled") is True),
            "Account": {"AccountID": account.id, "Code": account.code, "Name": account.name},
            "HasValidationErrors": False,
            "_updated": now_ms,
        }
        due = Decimal(str(out["AmountDue"])) - amount
        out["AmountDue"] = _money(due)
        out["AmountPaid"] = _money(Decimal(str(out["AmountPaid"])) + amount)
        out["Payments"].append(
            {
                "PaymentID": payment["PaymentID"],
                "Date": payment["Date"],
                "Amount": payment["Amount"],
                "Reference": payment["Reference"],
                "CurrencyRate": payment["CurrencyRate"],
                "HasAccount": True,
                "HasValidationErrors": False,
            }
        )
        if due <= 0:
            out["Status"] = "PAID"
            out["FullyPaidOnDate"] = xero_day(day)
        out["UpdatedDateUTC"] = xero_ms_date(now_ms)
        invoice.setdefault("payments", []).append(payment)
        org.invoice_updated[out["InvoiceID"]] = now_ms
        return _render(org, invoice, payment)

    return {}, [], commit


def _render(org: XeroOrg, invoice: dict[str, Any], payment: dict[str, Any]) -> dict[str, Any]:
    out = invoice["json"]
    summary = {
        k: out[k]
        for k in (
            "Type",
            "InvoiceID",
            "InvoiceNumber",
            "Reference",
            "AmountDue",
            "AmountPaid",
            "Status",
            "Contact",
            "DateString",
            "Date",
            "LineAmountTypes",
            "SubTotal",
            "TotalTax",
            "Total",
            "CurrencyCode",
        )
        if k in out
    }
    rendered = {k: v for k, v in payment.items() if not k.startswith("_")}
    rendered["Invoice"] = {**summary, "Payments": [], "LineItems": [], "HasErrors": False}
    return json.loads(json.dumps(rendered))
