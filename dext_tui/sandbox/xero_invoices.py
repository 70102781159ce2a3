"""Xero Invoices, kept minimal but correct: GET (list, paged, filtered; one by id or number) and PUT/POST
of bills (ACCPAY) and sales invoices (ACCREC), with Xero's validation errors, its totals for
Exclusive/Inclusive/NoTax line amounts, and the Idempotency-Key header (the same key gives the same
answer again and creates nothing)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dext_tui.sandbox._http import Request, Response, ms, xero_day, xero_ms_date
from dext_tui.sandbox.seed import ACCOUNT_CLASS, XAccount, XContact, XeroOrg

if TYPE_CHECKING:
    from dext_tui.sandbox.engine import Engine

CENT = Decimal("0.01")
ZERO_ID = "00000000-0000-0000-0000-000000000000"
TYPES = ("ACCPAY", "ACCREC")
AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"}
NEW_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
MOVES = {  # status -> the statuses an update may give it
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"AUTHORISED", "VOIDED"},
}
MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
ARCHIVED_CONTACT = (
    "The contact with the specified contact details has been archived. The contact must be un-archived "
    "before creating new invoices or credit notes"
)
TAX_APPLIES_TO = {  # an account's class -> the TaxRate flag saying the rate may be used on it
    "ASSET": "CanApplyToAssets",
    "EQUITY": "CanApplyToEquity",
    "EXPENSE": "CanApplyToExpenses",
    "LIABILITY": "CanApplyToLiabilities",
    "REVENUE": "CanApplyToRevenue",
}


def _x() -> Any:
    from dext_tui.sandbox import xero  # late: xero imports this module

    return xero


def read(engine: Engine, req: Request, org: XeroOrg, ident: str | None) -> Response:
    x = _x()
    with engine.lock:
        if ident is not None:
            found = org.invoices.get(ident.lower())
            if found is None:
                matches = [i for i in org.invoices.values() if i["json"]["InvoiceNumber"] == ident]
                found = matches[0] if matches else None
            if found is None:
                return x.not_found()
            return Response.json(200, x.envelope(engine, "Invoices", [found["json"]]))
        rows = list(org.invoices.values())
        filters: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
            ("IDs", lambda i: i["InvoiceID"].lower()),
            ("InvoiceNumbers", lambda i: i["InvoiceNumber"].lower()),
            ("ContactIDs", lambda i: i["Contact"]["ContactID"].lower()),
            ("Statuses", lambda i: i["Status"].lower()),
        ]
        for name, field in filters:
            value = req.arg(name)
            if value:
                wanted = {p.strip().strip('"').lower() for p in value.split(",") if p.strip()}
                rows = [r for r in rows if field(r["json"]) in wanted]
        since = x._since_ms(req)
        if since is not None:
            rows = [r for r in rows if org.invoice_updated[r["json"]["InvoiceID"]] > since]
        return x.paged(engine, "Invoices", rows, req, lambda r: r["json"])


def write(engine: Engine, req: Request, org: XeroOrg) -> Response:
    x = _x()
    key = req.header("Idempotency-Key")
    if key is not None and not 0 < len(key) <= 128:
        return x.validation_error("The Idempotency-Key header must be 1 to 128 characters long")
    with engine.lock:
        if key and key in org.idempotency:
            status, body = org.idempotency[key]
            return Response(status, body, {})
        response = _write(engine, req, org)
        if key and response.status < 500:
            org.idempotency[key] = (response.status, response.body)
        return response


def _write(engine: Engine, req: Request, org: XeroOrg) -> Response:
    x = _x()
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        return Response.json(
            400,
            {
                "ErrorNumber": 14,
                "Type": "PostDataInvalidException",
                "Message": "JSON for post data was invalid",
            },
        )
    specs = body["Invoices"] if isinstance(body, dict) and "Invoices" in body else [body]
    if not isinstance(specs, list) or not specs:
        return Response.json(
            400,
            {
                "ErrorNumber": 14,
                "Type": "PostDataInvalidException",
                "Message": "JSON for post data was invalid",
            },
        )
    summarize = (req.arg("summarizeErrors") or "true").strip().lower() != "false"
    built = [_build(engine, org, spec, req.method) for spec in specs]
    if summarize and any(errors for _, errors, _ in built):
        elements = [element for element, errors, _ in built if errors]
        return x.validation_error("", elements)
    results = []
    for element, errors, commit in built:
        results.append(element if errors or commit is None else commit())
    return Response.json(200, x.envelope(engine, "Invoices", results))


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _day(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    matched = MS_DATE.match(text)
    if matched:
        return datetime.fromtimestamp(int(matched.group(1)) / 1000, UTC).strftime("%Y-%m-%d")
    try:
        return datetime.fromisoformat(text[:10]).strftime("%Y-%m-%d")
    except ValueError:
        return None


def _build(
    engine: Engine, org: XeroOrg, spec: Any, method: str
) -> tuple[dict[str, Any], list[str], Callable[[], dict[str, Any]] | None]:
    """Check one invoice: (what to answer for it, its validation errors, how to save it)."""
    if not isinstance(spec, dict):
        return {"ValidationErrors": [{"Message": "An invoice must be an object"}]}, ["not an object"], None
    errors: list[str] = []
    existing = None
    if spec.get("InvoiceID") and method == "PUT":
        errors.append("PUT creates invoices: update an invoice with POST")
    elif spec.get("InvoiceID"):
        existing = org.invoices.get(str(spec["InvoiceID"]).lower())
        if existing is None:
            errors.append(f"Invoice with InvoiceID {spec['InvoiceID']} could not be found")
    source = {**existing["source"], **spec} if existing else dict(spec)

    type_ = source.get("Type")
    if not type_:
        errors.append("Invoice Type must be specified")
    elif type_ not in TYPES:
        errors.append(f"'{type_}' is not a valid invoice type: use ACCPAY or ACCREC")

    status = str(source.get("Status") or "DRAFT").upper()
    if existing is None and status not in NEW_STATUSES:
        errors.append(f"A new invoice cannot have the status {status}")
    elif existing is not None and status not in MOVES.get(existing["json"]["Status"], set()):
        errors.append(
            f"This document cannot be edited as it is {existing['json']['Status']}"
            if existing["json"]["Status"] not in MOVES
            else f"Invoice status cannot be changed from {existing['json']['Status']} to {status}"
        )

    contact, new_contact_name = _contact(org, source.get("Contact"), errors)

    day = (
        _day(source.get("Date"))
        if source.get("Date")
        else datetime.fromtimestamp(engine.now(), UTC).strftime("%Y-%m-%d")
    )
    if day is None:
        errors.append("Date must be a date (YYYY-MM-DD)")
    due = _day(source.get("DueDate")) if source.get("DueDate") else None
    if source.get("DueDate") and due is None:
        errors.append("DueDate must be a date (YYYY-MM-DD)")

    amount_type = AMOUNT_TYPES.get(str(source.get("LineAmountTypes") or "Exclusive").lower())
    if amount_type is None:
        errors.append("LineAmountTypes must be Exclusive, Inclusive or NoTax")
        amount_type = "Exclusive"
    if day is not None:
        before = existing.get("day") if existing else None  # an invoice in a locked period stays as it is
        locked = _lock_error(org, day) or (_lock_error(org, before) if before else None)
        if locked:
            errors.append(locked)
    currency = str(source.get("CurrencyCode") or "GBP").upper()
    if currency not in {c["Code"] for c in org.currencies}:
        errors.append(f"Organisation is not subscribed to currency {currency}")

    raw_lines = source.get("LineItems") or []
    if not isinstance(raw_lines, list):
        errors.append("LineItems must be a list")
        raw_lines = []
    if not raw_lines and status != "DRAFT":
        errors.append("At least one line item is required for an invoice that is not a draft")
    lines = [
        _line(org, i + 1, line, amount_type, status, str(type_), errors) for i, line in enumerate(raw_lines)
    ]

    if errors:
        element = {
            **spec,
            "InvoiceID": spec.get("InvoiceID") or ZERO_ID,
            "HasErrors": True,
            "ValidationErrors": [{"Message": m} for m in errors],
        }
        return element, errors, None

    def commit() -> dict[str, Any]:
        now_ms = ms(engine.now())
        nonlocal contact
        if contact is None:
            contact = _new_contact(engine, org, new_contact_name or "", now_ms)
        flag = "supplier" if type_ == "ACCPAY" else "customer"
        if not getattr(contact, flag):
            setattr(contact, flag, True)
            contact.updated_ms = now_ms
            org.version += 1
        invoice_id = existing["json"]["InvoiceID"] if existing else engine.new_id()
        number = source.get("InvoiceNumber") or (existing["json"]["InvoiceNumber"] if existing else "")
        if not number and type_ == "ACCREC":
            number = f"INV-{org.next_invoice:04d}"
            org.next_invoice += 1
        sub = sum((line["_net"] for line in lines), Decimal(0))
        tax = sum((line["_tax"] for line in lines), Decimal(0))
        total = sub + tax
        paid = status == "PAID"
        out: dict[str, Any] = {
            "Type": type_,
            "InvoiceID": invoice_id,
            "InvoiceNumber": str(number),
            "Reference": str(source.get("Reference") or ""),
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "AmountDue": 0.0 if paid or status in ("VOIDED", "DELETED") else _money(total),
            "AmountPaid": 0.0,
            "AmountCredited": 0.0,
            "CurrencyRate": 1.0,
            "IsDiscounted": False,
            "HasAttachments": False,
            "HasErrors": False,
            "Contact": {
                "ContactID": contact.id,
                "ContactStatus": contact.status,
                "Name": contact.name,
                "HasValidationErrors": False,
            },
            "DateString": f"{day}T00:00:00",
            "Date": xero_day(day or ""),
            "Status": status,
            "LineAmountTypes": amount_type,
            "LineItems": [{k: v for k, v in line.items() if not k.startswith("_")} for line in lines],
            "SubTotal": _money(sub),
            "TotalTax": _money(tax),
            "Total": _money(total),
            "UpdatedDateUTC": xero_ms_date(now_ms),
            "CurrencyCode": currency,
        }
        if due:
            out["DueDateString"] = f"{due}T00:00:00"
            out["DueDate"] = xero_day(due)
        for line in out["LineItems"]:
            line.setdefault("LineItemID", engine.new_id())
        org.invoices[invoice_id] = {"json": out, "source": {**source, "InvoiceID": invoice_id}, "day": day}
        org.invoice_updated[invoice_id] = now_ms
        return json.loads(json.dumps(out))

    return {}, [], commit


def _contact(org: XeroOrg, spec: Any, errors: list[str]) -> tuple[XContact | None, str | None]:
    if not isinstance(spec, dict) or not (spec.get("ContactID") or spec.get("Name")):
        errors.append("A Contact must be specified for this type of transaction")
        return None, None
    if spec.get("ContactID"):
        contact = org.contacts_by_id.get(str(spec["ContactID"]).lower())
        if contact is None:
            errors.append(f"The contact with ContactID {spec['ContactID']} could not be found")
            return None, None
    else:
        wanted = str(spec["Name"]).strip().lower()
        matches = [c for c in org.contacts if c.name.lower() == wanted]
        if not matches:
            return None, str(spec["Name"]).strip()  # Xero creates a contact of that name
        contact = matches[0]
    if contact.status == "ARCHIVED":
        errors.append(ARCHIVED_CONTACT)
    return contact, None


def _lock_error(org: XeroOrg, day: str) -> str | None:
    """Xero's refusal of a document dated on or before a lock date (the end of year one first: it binds
    every user; the period one binds all but advisers, and the app is not one)."""
    for lock, name in ((org.end_of_year_lock_date, "end of year"), (org.period_lock_date, "period")):
        if lock and day <= lock:
            shown = datetime.strptime(lock, "%Y-%m-%d").strftime("%d-%b-%Y")
            return f"The document date cannot be before the {name} lock date, currently set at {shown}"
    return None


def _new_contact(engine: Engine, org: XeroOrg, name: str, now_ms: int) -> XContact:
    org.names.reserve(name)
    contact = XContact(
        engine.new_id(), len(org.contacts), name, "", "", "ACTIVE", False, False, now_ms, "", ""
    )
    org.contacts.append(contact)
    org.contacts_by_id[contact.id] = contact
    org.version += 1
    return contact


def _line(
    org: XeroOrg, n: int, spec: Any, amount_type: str, status: str, type_: str, errors: list[str]
) -> dict[str, Any]:
    if not isinstance(spec, dict):
        errors.append(f"Line {n}: a line item must be an object")
        return {"_net": Decimal(0), "_tax": Decimal(0)}
    quantity = _number(spec.get("Quantity", 1))
    unit = _number(spec["UnitAmount"]) if spec.get("UnitAmount") is not None else None
    given = _number(spec["LineAmount"]) if spec.get("LineAmount") is not None else None
    if quantity is None:
        errors.append(f"Line {n}: Quantity must be a number")
        quantity = Decimal(1)
    if spec.get("UnitAmount") is not None and unit is None:
        errors.append(f"Line {n}: UnitAmount must be a number")
    if spec.get("LineAmount") is not None and given is None:
        errors.append(f"Line {n}: LineAmount must be a number")
    if unit is None:
        unit = (given / quantity) if given is not None and quantity else Decimal(0)
    amount = given if given is not None and spec.get("UnitAmount") is None else quantity * unit
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)

    account: XAccount | None = None
    code, account_id = spec.get("AccountCode"), spec.get("AccountID")
    if code or account_id:
        found = [
            a
            for a in org.accounts
            if (code and a.code == str(code)) or (account_id and a.id == str(account_id).lower())
        ]
        if not found:
            errors.append(f"Account code '{code or account_id}' is not a valid code for this document.")
        elif found[0].status != "ACTIVE":
            errors.append(
                f"The account code '{found[0].code}' has been archived, or deleted. Each line item "
                "must reference a valid account."
            )
        elif found[0].type == "BANK":
            errors.append(f"Account code '{found[0].code}' is a bank account and cannot be used on a line")
        else:
            account = found[0]
    elif status != "DRAFT":
        errors.append(f"Line {n}: an account code is required for an invoice that is not a draft")

    tax_type = spec.get("TaxType") or (account.tax_type if account else "NONE")
    if amount_type == "NoTax":
        tax_type = "NONE"
    # A bill takes the rates that apply to expenses, a sales invoice those that apply to revenue; the
    # account's class must be one the rate applies to as well.
    usable = "CanApplyToRevenue" if type_ == "ACCREC" else "CanApplyToExpenses"
    rates = {r["TaxType"]: r for r in org.tax_rates if r["Status"] == "ACTIVE" and r.get(usable, True)}
    rate = Decimal(0)
    if tax_type not in rates:
        errors.append(
            f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."
        )
    else:
        rate = Decimal(str(rates[tax_type]["EffectiveRate"]))
        applies = TAX_APPLIES_TO.get(ACCOUNT_CLASS.get(account.type, "")) if account else None
        if account is not None and applies and rates[tax_type].get(applies) is False:
            errors.append(f"The TaxType code '{tax_type}' cannot be used with account code '{account.code}'")
    if spec.get("TaxAmount") is not None and _number(spec["TaxAmount"]) is not None:
        tax = Decimal(str(_number(spec["TaxAmount"])))
    elif amount_type == "Exclusive":
        tax = amount * rate / 100
    elif amount_type == "Inclusive":
        tax = amount * rate / (100 + rate)
    else:
        tax = Decimal(0)
    tax = tax.quantize(CENT, rounding=ROUND_HALF_UP)
    net = amount - tax if amount_type == "Inclusive" else amount

    tracking_out = []
    tracking = spec.get("Tracking") or []
    if not isinstance(tracking, list) or len(tracking) > 2:
        errors.append(f"Line {n}: Tracking is a list of at most 2 categories")
        tracking = []
    for item in tracking:
        resolved = _tracking(org, item)
        if resolved is None:
            errors.append(
                f"Line {n}: the tracking option {item!r} is not an active option of an active "
                "tracking category"
            )
        else:
            tracking_out.append(resolved)

    out: dict[str, Any] = {
        "Description": str(spec.get("Description") or ""),
        "UnitAmount": float(unit),
        "TaxType": tax_type,
        "TaxAmount": float(tax),
        "LineAmount": float(amount),
        "Tracking": tracking_out,
        "Quantity": float(quantity),
        "_net": net,
        "_tax": tax,
    }
    if account is not None:
        out["AccountCode"] = account.code
        out["AccountID"] = account.id
    return out


def _tracking(org: XeroOrg, item: Any) -> dict[str, str] | None:
    if not isinstance(item, dict):
        return None
    for category in org.tracking:
        if category["Status"] != "ACTIVE":
            continue
        if not (
            str(item.get("Name") or "").lower() == category["Name"].lower()
            or str(item.get("TrackingCategoryID") or "").lower() == category["TrackingCategoryID"]
        ):
            continue
        for option in category["Options"]:
            if option["Status"] == "ACTIVE" and (
                str(item.get("Option") or "").lower() == option["Name"].lower()
                or str(item.get("TrackingOptionID") or "").lower() == option["TrackingOptionID"]
            ):
                return {
                    "Name": category["Name"],
                    "Option": option["Name"],
                    "TrackingCategoryID": category["TrackingCategoryID"],
                    "TrackingOptionID": option["TrackingOptionID"],
                }
    return None
