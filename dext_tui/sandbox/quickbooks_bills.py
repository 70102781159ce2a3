"""QuickBooks Online writes, kept minimal but following Intuit's contract.

- `POST /v3/company/{realm}/bill`: the Bill entity itself as JSON (VendorRef, Line[] of
  AccountBasedExpenseLineDetail with AccountRef / TaxCodeRef / ClassRef / TaxInclusiveAmt, TxnDate, DocNumber,
  PrivateNote, CurrencyRef, DepartmentRef, GlobalTaxCalculation TaxExcluded | TaxInclusive | NotApplicable).
  Line `Amount` is net of tax; with TaxInclusive, `TaxInclusiveAmt` is the line's amount with tax (else
  worked out from the tax code's purchase rates). The answer is `{"Bill": {... TotalAmt, TxnTaxDetail ...},
  "time": ...}`.
- `POST /v3/company/{realm}/vendor`: a Vendor by DisplayName (unique across vendors and customers).
- `POST /v3/company/{realm}/taxservice/taxcode`: TaxService: a tax code and its rates
  (`TaxRateDetails[]` with TaxRateName/RateValue/TaxAgencyId or TaxRateId, and TaxApplicableOn Sales |
  Purchase). A code made only of sales rates is one a bill cannot use.
- `POST /v3/company/{realm}/billpayment`: a BillPayment paying bills (VendorRef, PayType `Check` with
  `CheckPayment.BankAccountRef` a Bank account, or `CreditCard` with `CreditCardPayment.CCAccountRef` a
  Credit Card account; TotalAmt; TxnDate; CurrencyRef; Line[] of {Amount, LinkedTxn [{TxnId, TxnType
  "Bill"}]}). Each linked bill must be the vendor's and have that much open Balance; the account must exist,
  be active, be of the PayType's kind and be in the payment's currency or the home currency. The lines must
  apply the whole TotalAmt (the sandbox keeps no unapplied vendor credit). The bills' Balance goes down and
  each bill gains a LinkedTxn to the payment (`BillPaymentCheck` / `BillPaymentCreditCard`).
- `GET /v3/company/{realm}/bill/{id}`, `.../vendor/{id}` and `.../billpayment/{id}`.
- `requestid=` (1 to 50 characters, per company): a repeat of a request that succeeded gets the first
  answer again, byte for byte, and creates nothing; the same requestid on another operation is fault 600.
  A refused request created nothing, so its repeat is validated again.
- Preferences (through the query endpoint): AccountingInfoPrefs.BookCloseDate, CurrencyPrefs.

Refusals are Intuit's faults (400 ValidationFault): 2020 a required field missing, 2500 a reference to
nothing (Invalid Reference Id), 610 a reference to something inactive (Object Not Found), 6210 a TxnDate on
or before the book close date (Account Period Closed), 6140 a DocNumber the vendor already has on a bill
(Duplicate Document Number; the company warns of duplicate bill numbers), 6240 a name in use (Duplicate
Name Exists), 6000 business validation (a currency other than the home currency while multicurrency is
off, a vendor in another currency than the bill, a line without a tax code, a tax code with no purchase
rates; for a payment: an account of the wrong kind, another vendor's bill, an amount over the bill's Balance
or not applied in full, an account in another currency), 2050 a DocNumber longer than 21 characters.
Intuit does not publish its words for the payment refusals, so the sandbox's 6000 details are its own.
"""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dext_tui.sandbox._http import PACIFIC, Request, Response, qbo_time
from dext_tui.sandbox.seed import QboCompany, QEntity

if TYPE_CHECKING:
    from dext_tui.sandbox.engine import Engine

JSON_CT = "application/json;charset=UTF-8"
CENT = Decimal("0.01")
REQUEST_ID_MAX = 50  # Intuit: "The RequestID can have a maximum of 50 characters" (36 in batch)
DOC_NUMBER_MAX = 21
PRIVATE_NOTE_MAX = 4000
TAX_MODES = ("TaxExcluded", "TaxInclusive", "NotApplicable")
CURRENCY_NAMES = {
    "GBP": "British Pound Sterling",
    "EUR": "Euro",
    "USD": "United States Dollar",
    "CAD": "Canadian Dollar",
    "AUD": "Australian Dollar",
}
MISSING = "Required param missing, need to supply the required value for the API"
INVALID_PROPERTY = "Request has invalid or unsupported property"
BUSINESS = "A business validation error has occurred while processing your request"
INACTIVE = (
    "Object Not Found : Something you're trying to use has been made inactive. Check the fields with "
    "accounts, customers, items, vendors or employees."
)
PERIOD_CLOSED = "Account Period Closed, Cannot Update Through Services API"
PERIOD_CLOSED_DETAIL = (
    "The account period has closed and the account books cannot be updated through the QBO Services API. "
    "Please use the QBO website to make these changes."
)
NAME_TAKEN = (
    "The name supplied already exists. : Another customer, vendor or employee is already using this name. "
    "Please use a different name."
)


class Refusal(Exception):
    """A fault QuickBooks answers instead of creating anything."""

    def __init__(self, code: str, message: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.message = message
        self.detail = detail
        self.status = status


def _q() -> Any:
    from dext_tui.sandbox import quickbooks  # late: quickbooks imports this module

    return quickbooks


def _fault(engine: Engine, refusal: Refusal) -> Response:
    return _q().fault(  # type: ignore[no-any-return]
        engine, refusal.status, "ValidationFault", refusal.code, refusal.message, refusal.detail
    )


# --- writes ------------------------------------------------------------------------------------


def write(engine: Engine, req: Request, what: str) -> Response:
    """A create (`what`: bill, billpayment, vendor, taxservice/taxcode), with Intuit's requestid rule."""
    request_id = req.arg("requestid")
    if request_id is not None and not 0 < len(request_id) <= REQUEST_ID_MAX:
        return _fault(
            engine,
            Refusal("2010", INVALID_PROPERTY, f"requestid must be 1 to {REQUEST_ID_MAX} characters long"),
        )
    operation = f"create {what}"
    with engine.lock:
        company = engine.qbo
        if request_id:
            seen = company.request_ids.get(request_id)
            if seen is not None:
                if seen[0] != operation:
                    return _fault(
                        engine,
                        Refusal(
                            "600",
                            "Duplicate Request ID",
                            f"Duplicate Request ID : requestid {request_id} was already used for another "
                            "request",
                        ),
                    )
                return Response(seen[1], seen[2], {"intuit_tid": secrets.token_hex(16)}, JSON_CT)
        try:
            body = _body(req)
            payload = CREATES[what](engine, body)
        except Refusal as refusal:
            return _fault(engine, refusal)
        payload["time"] = qbo_time(engine.now(), fraction=True)
        response = Response.json(200, payload, {"intuit_tid": secrets.token_hex(16)}, content_type=JSON_CT)
        if request_id:
            company.request_ids[request_id] = (operation, response.status, response.body)
        return response


def read(engine: Engine, kind: str, ident: str) -> Response:
    """`GET .../bill/{id}`, `.../vendor/{id}` or `.../billpayment/{id}`."""
    with engine.lock:
        entity = engine.qbo.by_id.get((kind, ident))
        if entity is None:
            return _fault(
                engine,
                Refusal("610", "Object Not Found", "Object Not Found : Another user has deleted this."),
            )
        payload = {kind: _q().render(entity, engine.options.qbo_deleted_suffix)}
    payload["time"] = qbo_time(engine.now(), fraction=True)
    return Response.json(200, payload, content_type=JSON_CT)


def _body(req: Request) -> dict[str, Any]:
    try:
        body = json.loads(req.body.decode("utf-8") or "null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal("2010", INVALID_PROPERTY, f"The request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Refusal("2010", INVALID_PROPERTY, "The request body must be a JSON object")
    return body


def _missing(name: str) -> Refusal:
    return Refusal("2020", MISSING, f"Required parameter {name} is missing in the request")


def _ref_value(obj: Any, key: str) -> str | None:
    ref = obj.get(key) if isinstance(obj, dict) else None
    value = ref.get("value") if isinstance(ref, dict) else ref
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def _money(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise Refusal("2010", INVALID_PROPERTY, f"Property {name} is not a number: {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Refusal("2010", INVALID_PROPERTY, f"Property {name} is not a number: {value!r}") from None
    if not amount.is_finite():
        raise Refusal("2010", INVALID_PROPERTY, f"Property {name} is not a number: {value!r}")
    return amount.quantize(CENT, ROUND_HALF_UP)


def _stored(value: Any) -> Decimal:
    """An amount the sandbox stored (a JSON number) as a Decimal of cents."""
    return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)


def _number(amount: Decimal) -> float:
    return float(amount.quantize(CENT, ROUND_HALF_UP))


def _named(company: QboCompany, kind: str, ident: str, label: str) -> QEntity:
    """A referenced list item: 2500 when there is none, 610 when it is inactive."""
    entity = company.by_id.get((kind, ident))
    if entity is None:
        raise Refusal(
            "2500", "Invalid Reference Id", f"Invalid Reference Id : {label} element id {ident} not found"
        )
    if not entity.active:
        raise Refusal("610", "Object Not Found", INACTIVE)
    return entity


def _ref(entity: QEntity, suffix: bool) -> dict[str, str]:
    rendered = _q().render(entity, suffix)
    name = rendered.get("FullyQualifiedName") or rendered.get("DisplayName") or rendered.get("Name")
    return {"value": entity.id, "name": str(name)} if name else {"value": entity.id}


def _txn_fields(
    data: dict[str, Any],
    company: QboCompany,
    body: dict[str, Any],
    doc_number: str | None,
    txn_date: Any,
    currency: str,
    note: str | None,
) -> None:
    """The fields a Bill and a BillPayment share, in QuickBooks' order: DocNumber, TxnDate, CurrencyRef,
    ExchangeRate (multicurrency companies), PrivateNote."""
    if doc_number:
        data["DocNumber"] = doc_number
    data["TxnDate"] = txn_date.isoformat()
    data["CurrencyRef"] = _currency_ref(currency)
    if company.multicurrency:
        data["ExchangeRate"] = _number(_money(body.get("ExchangeRate", 1), "ExchangeRate"))
    if note:
        data["PrivateNote"] = note


def _currency_ref(code: str) -> dict[str, str]:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def _check_currency(company: QboCompany, currency: str) -> None:
    if currency != company.home_currency and not company.multicurrency:
        raise Refusal(
            "6000",
            BUSINESS,
            "Business Validation Error: Multicurrency is not turned on for this company, so a transaction "
            f"must be in its home currency ({company.home_currency}), not {currency}.",
        )


def _rates(company: QboCompany, code: QEntity, key: str) -> list[tuple[str, Decimal]]:
    details = (code.data.get(key) or {}).get("TaxRateDetail") or []
    out = []
    for detail in details:
        rate_id = _ref_value(detail, "TaxRateRef")
        rate = company.by_id.get(("TaxRate", rate_id or ""))
        if rate is not None:
            out.append((rate.id, Decimal(str(rate.data.get("RateValue") or 0))))
    return out


def _txn_date(engine: Engine, value: Any) -> date:
    if value is None or value == "":
        return datetime.fromtimestamp(engine.now(), PACIFIC).date()
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise Refusal("2010", INVALID_PROPERTY, f"Property TxnDate is not a date: {value!r}") from None


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    text = str(value)
    if len(text) > limit:
        raise Refusal(
            "2050",
            "String length is either shorter or longer than supported by specification",
            f"String length specified does not match the supported length. Min:0 Max:{limit} supported. "
            f"Supplied length:{len(text)}",
        )
    return text


def create_bill(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    company = engine.qbo
    suffix = engine.options.qbo_deleted_suffix
    vendor_id = _ref_value(body, "VendorRef")
    if vendor_id is None:
        raise _missing("VendorRef")
    lines = body.get("Line")
    if not isinstance(lines, list) or not lines:
        raise _missing("Line")
    vendor = _named(company, "Vendor", vendor_id, "Names")
    mode = body.get("GlobalTaxCalculation") or "TaxExcluded"
    if mode not in TAX_MODES:
        raise Refusal("2170", "Invalid Enumeration", f"Invalid Enumeration : {mode}")
    department_id = _ref_value(body, "DepartmentRef")
    department = _named(company, "Department", department_id, "Department") if department_id else None

    out_lines: list[dict[str, Any]] = []
    taxes: dict[str, list[Decimal]] = {}  # tax rate id -> [tax, net amount taxable, rate]
    total = Decimal(0)
    for number, line in enumerate(lines, 1):
        if not isinstance(line, dict):
            raise Refusal("2010", INVALID_PROPERTY, "Each Line must be an object")
        if line.get("DetailType") != "AccountBasedExpenseLineDetail":
            raise Refusal(
                "2010",
                INVALID_PROPERTY,
                f"Line {number}: DetailType {line.get('DetailType')!r} is not taken here "
                "(AccountBasedExpenseLineDetail)",
            )
        detail = line.get("AccountBasedExpenseLineDetail")
        if not isinstance(detail, dict):
            raise _missing("Line.AccountBasedExpenseLineDetail")
        account_id = _ref_value(detail, "AccountRef")
        if account_id is None:
            raise _missing("Line.AccountBasedExpenseLineDetail.AccountRef")
        account = _named(company, "Account", account_id, "Accounts")
        if "Amount" not in line:
            raise _missing("Line.Amount")
        net = _money(line["Amount"], "Line.Amount")
        code_id = _ref_value(detail, "TaxCodeRef")
        if code_id is None:
            raise Refusal(
                "6000",
                BUSINESS,
                "Business Validation Error: Make sure all your transactions have a VAT rate before you save.",
            )
        code = _named(company, "TaxCode", code_id, "TaxCode")
        rates = _rates(company, code, "PurchaseTaxRateList")
        if not rates:
            raise Refusal(
                "6000",
                BUSINESS,
                f"Business Validation Error: The tax code {code.data.get('Name')} has no purchase tax rates, "
                "so it can't be used on a bill or another purchase.",
            )
        rate = sum((r for _, r in rates), Decimal(0))
        class_id = _ref_value(detail, "ClassRef")
        klass = _named(company, "Class", class_id, "Class") if class_id else None
        if mode == "NotApplicable":
            tax = Decimal(0)
        elif mode == "TaxInclusive" and detail.get("TaxInclusiveAmt") is not None:
            gross = _money(detail["TaxInclusiveAmt"], "TaxInclusiveAmt")
            tax = gross - net
            if tax < 0:
                raise Refusal(
                    "6000",
                    BUSINESS,
                    f"Business Validation Error: Line {number}: the tax inclusive amount "
                    "is less than the amount.",
                )
        else:
            tax = (net * rate / 100).quantize(CENT, ROUND_HALF_UP)
        total += net + tax
        _spread(taxes, rates, rate, net, tax)

        out_detail: dict[str, Any] = {"AccountRef": _ref(account, suffix)}
        if klass is not None:
            out_detail["ClassRef"] = _ref(klass, suffix)
        out_detail["BillableStatus"] = "NotBillable"
        out_detail["TaxCodeRef"] = {"value": code.id}
        if mode == "TaxInclusive":
            out_detail["TaxInclusiveAmt"] = _number(net + tax)
        out_line: dict[str, Any] = {"Id": str(number), "LineNum": number}
        if line.get("Description"):
            out_line["Description"] = str(line["Description"])
        out_line["Amount"] = _number(net)
        out_line["DetailType"] = "AccountBasedExpenseLineDetail"
        out_line["AccountBasedExpenseLineDetail"] = out_detail
        out_lines.append(out_line)

    currency = _ref_value(body, "CurrencyRef") or company.home_currency
    _check_currency(company, currency)
    vendor_currency = _ref_value(vendor.data, "CurrencyRef") or company.home_currency
    if vendor_currency != currency:
        raise Refusal(
            "6000",
            BUSINESS,
            f"Business Validation Error: The transaction is in {currency} but the vendor "
            f"{vendor.data.get('DisplayName')} is in {vendor_currency}: the currency of a transaction must "
            "be its vendor's currency.",
        )
    txn_date = _txn_date(engine, body.get("TxnDate"))
    if company.book_close_date and txn_date <= date.fromisoformat(company.book_close_date):
        raise Refusal("6210", PERIOD_CLOSED, PERIOD_CLOSED_DETAIL)
    doc_number = _text(body, "DocNumber", DOC_NUMBER_MAX)
    note = _text(body, "PrivateNote", PRIVATE_NOTE_MAX)
    if doc_number and company.warn_duplicate_bill_number:
        for bill in company.entities.get("Bill", []):
            same_vendor = (bill.data.get("VendorRef") or {}).get("value") == vendor.id
            if same_vendor and str(bill.data.get("DocNumber", "")).lower() == doc_number.lower():
                raise Refusal(
                    "6140",
                    "Duplicate Document Number Error",
                    "Duplicate Document Number Error : You must specify a different number. This number has "
                    f"already been used. DocNumber={doc_number} is assigned to TxnType=Bill with "
                    f"TxnId={bill.id}",
                )

    payable = next(
        (
            a
            for a in company.entities.get("Account", [])
            if a.active and a.data.get("AccountType") == "Accounts Payable"
        ),
        None,
    )
    data: dict[str, Any] = {
        "DueDate": txn_date.isoformat(),
        "Balance": _number(total),
        "domain": "QBO",
        "sparse": False,
    }
    _txn_fields(data, company, body, doc_number, txn_date, currency, note)
    if department is not None:
        data["DepartmentRef"] = _ref(department, suffix)
    data["Line"] = out_lines
    data["TxnTaxDetail"] = {
        "TotalTax": _number(sum((t[0] for t in taxes.values()), Decimal(0))),
        "TaxLine": [
            {
                "Amount": _number(tax),
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": rate_id},
                    "PercentBased": True,
                    "TaxPercent": float(rate),
                    "NetAmountTaxable": _number(base),
                },
            }
            for rate_id, (tax, base, rate) in taxes.items()
        ],
    }
    data["VendorRef"] = _ref(vendor, suffix)
    if payable is not None:
        data["APAccountRef"] = _ref(payable, suffix)
    data["GlobalTaxCalculation"] = mode
    data["TotalAmt"] = _number(total)

    number = company.next_id.get("Txn", 1)
    company.next_id["Txn"] = number + 1
    now = engine.now()
    entity = QEntity("Bill", str(number), data, True, now, now)
    company.add(entity)
    return {"Bill": _q().render(entity, suffix)}


def _spread(
    taxes: dict[str, list[Decimal]],
    rates: list[tuple[str, Decimal]],
    rate: Decimal,
    net: Decimal,
    tax: Decimal,
) -> None:
    """A line's tax shared among its code's rates (in proportion; the last takes what rounding leaves)."""
    left = tax
    for index, (rate_id, value) in enumerate(rates):
        share = (
            left if index == len(rates) - 1 else (tax * value / rate).quantize(CENT) if rate else Decimal(0)
        )
        left -= share
        entry = taxes.setdefault(rate_id, [Decimal(0), Decimal(0), value])
        entry[0] += share
        entry[1] += net


def _shown_name(entity: QEntity, suffix: bool) -> str:
    name = str(entity.data.get("DisplayName") or "")
    return f"{name} (deleted)" if not entity.active and suffix else name


def create_vendor(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    company = engine.qbo
    suffix = engine.options.qbo_deleted_suffix
    parts = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
    name = " ".join(str(body.get("DisplayName") or "").split())
    if not name:
        name = " ".join(" ".join(str(body.get(p) or "") for p in parts).split())
    if not name:
        raise Refusal(
            "6080",
            "No Name Provided",
            "Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - one of these must be non-empty",
        )
    for kind in ("Vendor", "Customer"):
        for entity in company.entities.get(kind, []):
            if _shown_name(entity, suffix).lower() == name.lower():
                raise Refusal("6240", "Duplicate Name Exists Error", NAME_TAKEN)
    currency = _ref_value(body, "CurrencyRef") or company.home_currency
    _check_currency(company, currency)
    number = company.next_id.get("Name", 1)
    company.next_id["Name"] = number + 1
    data: dict[str, Any] = {
        "domain": "QBO",
        "sparse": False,
        "DisplayName": name,
        "PrintOnCheckName": name,
        "CurrencyRef": _currency_ref(currency),
        "Balance": 0,
        "Vendor1099": False,
    }
    for key in ("CompanyName", "GivenName", "FamilyName", "AcctNum", "PrimaryEmailAddr", "PrimaryPhone"):
        if body.get(key):
            data[key] = body[key]
    now = engine.now()
    entity = QEntity("Vendor", str(number), data, True, now, now, name_field="DisplayName")
    company.add(entity)
    company.names.reserve(name)
    return {"Vendor": _q().render(entity, suffix)}


def create_tax_code(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    """TaxService: a tax code with new (or existing) rates, each for Sales or Purchase."""
    company = engine.qbo
    name = " ".join(str(body.get("TaxCode") or "").split())
    if not name:
        raise _missing("TaxCode")
    details = body.get("TaxRateDetails")
    if not isinstance(details, list) or not details or not all(isinstance(d, dict) for d in details):
        raise _missing("TaxRateDetails")
    if any(str(c.data.get("Name", "")).lower() == name.lower() for c in company.entities.get("TaxCode", [])):
        raise Refusal(
            "6240", "Duplicate Name Exists Error", f"The name supplied already exists. : TaxCode {name}"
        )
    now = engine.now()
    lists: dict[str, list[dict[str, Any]]] = {"Sales": [], "Purchase": []}
    answered = []
    for detail in details:
        applicable = detail.get("TaxApplicableOn") or "Sales"
        if applicable not in lists:
            raise Refusal("2170", "Invalid Enumeration", f"Invalid Enumeration : {applicable}")
        rate_id = _ref_value(detail, "TaxRateId")
        if rate_id is not None:
            rate = _named(company, "TaxRate", rate_id, "TaxRate")
        else:
            rate_name = str(detail.get("TaxRateName") or "").strip()
            if not rate_name:
                raise _missing("TaxRateDetails.TaxRateName")
            value = _money(detail.get("RateValue"), "RateValue")
            agency = str(detail.get("TaxAgencyId") or "1")
            number = company.next_id.get("TaxRate", 1)
            company.next_id["TaxRate"] = number + 1
            data = {
                "Name": rate_name,
                "Description": rate_name,
                "RateValue": float(value),
                "AgencyRef": {"value": agency},
                "SpecialTaxType": "NONE",
                "DisplayType": "ReadOnly",
                "domain": "QBO",
                "sparse": False,
            }
            rate = QEntity("TaxRate", str(number), data, True, now, now)
            company.add(rate)
        lists[applicable].append(
            {
                "TaxRateRef": {"value": rate.id, "name": rate.data.get("Name")},
                "TaxTypeApplicable": "TaxOnAmount",
                "TaxOrder": 0,
            }
        )
        answered.append(
            {
                "TaxRateName": rate.data.get("Name"),
                "TaxRateId": rate.id,
                "RateValue": rate.data.get("RateValue"),
                "TaxAgencyId": (rate.data.get("AgencyRef") or {}).get("value", "1"),
                "TaxApplicableOn": applicable,
            }
        )
    number = company.next_id.get("TaxCode", 1)
    company.next_id["TaxCode"] = number + 1
    code = QEntity(
        "TaxCode",
        str(number),
        {
            "Name": name,
            "Description": name,
            "Hidden": False,
            "Taxable": True,
            "TaxGroup": True,
            "SalesTaxRateList": {"TaxRateDetail": lists["Sales"]},
            "PurchaseTaxRateList": {"TaxRateDetail": lists["Purchase"]},
            "TaxCodeConfigType": "USER_DEFINED",
            "domain": "QBO",
            "sparse": False,
        },
        True,
        now,
        now,
    )
    company.add(code)
    return {"TaxCode": name, "TaxCodeId": code.id, "TaxRateDetails": answered}


# PayType -> (the object naming the account, its reference, the AccountType it takes, the TxnType a paid
# Bill's LinkedTxn names the payment by)
PAY_TYPES = {
    "Check": ("CheckPayment", "BankAccountRef", "Bank", "BillPaymentCheck"),
    "CreditCard": ("CreditCardPayment", "CCAccountRef", "Credit Card", "BillPaymentCreditCard"),
}


def create_bill_payment(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    """A BillPayment: everything is checked before anything changes (a refusal creates nothing)."""
    company = engine.qbo
    suffix = engine.options.qbo_deleted_suffix
    vendor_id = _ref_value(body, "VendorRef")
    if vendor_id is None:
        raise _missing("VendorRef")
    pay_type = body.get("PayType")
    if pay_type is None or pay_type == "":
        raise _missing("PayType")
    if pay_type not in PAY_TYPES:
        raise Refusal("2170", "Invalid Enumeration", f"Invalid Enumeration : {pay_type}")
    holder, ref_key, account_type, linked_type = PAY_TYPES[pay_type]
    account_id = _ref_value(body.get(holder), ref_key)
    if account_id is None:
        raise _missing(f"{holder}.{ref_key}")
    if "TotalAmt" not in body:
        raise _missing("TotalAmt")
    total = _money(body["TotalAmt"], "TotalAmt")
    lines = body.get("Line")
    if not isinstance(lines, list) or not lines:
        raise _missing("Line")
    vendor = _named(company, "Vendor", vendor_id, "Names")
    account = _named(company, "Account", account_id, "Accounts")
    account_name = account.data.get("FullyQualifiedName") or account.data.get("Name")
    if account.data.get("AccountType") != account_type:
        raise Refusal(
            "6000",
            BUSINESS,
            f"Business Validation Error: A {pay_type} bill payment is paid from a {account_type} account; "
            f"{account_name} is a {account.data.get('AccountType')} account.",
        )

    applied: dict[str, Decimal] = {}  # bill id -> the amount this payment applies to it
    out_lines: list[dict[str, Any]] = []
    bills: list[QEntity] = []
    for number, line in enumerate(lines, 1):
        if not isinstance(line, dict):
            raise Refusal("2010", INVALID_PROPERTY, "Each Line must be an object")
        if "Amount" not in line:
            raise _missing("Line.Amount")
        amount = _money(line["Amount"], "Line.Amount")
        linked = line.get("LinkedTxn")
        if isinstance(linked, dict):
            linked = [linked]
        if not isinstance(linked, list) or len(linked) != 1 or not isinstance(linked[0], dict):
            raise _missing("Line.LinkedTxn")
        txn_id = str(linked[0].get("TxnId") or "").strip()
        if not txn_id:
            raise _missing("Line.LinkedTxn.TxnId")
        if linked[0].get("TxnType") != "Bill":
            raise Refusal(
                "2010",
                INVALID_PROPERTY,
                f"Line {number}: a bill payment pays bills (TxnType Bill), not {linked[0].get('TxnType')!r}",
            )
        target = company.by_id.get(("Bill", txn_id))
        if target is None:
            raise Refusal(
                "2500", "Invalid Reference Id", f"Invalid Reference Id : Bill element id {txn_id} not found"
            )
        if (target.data.get("VendorRef") or {}).get("value") != vendor.id:
            raise Refusal(
                "6000",
                BUSINESS,
                f"Business Validation Error: Bill {txn_id} is not a bill of "
                f"{vendor.data.get('DisplayName')}: a bill payment pays its own vendor's bills.",
            )
        if amount <= 0:
            raise Refusal(
                "6000",
                BUSINESS,
                f"Business Validation Error: Line {number}: the amount paid must be more than zero.",
            )
        applied[txn_id] = applied.get(txn_id, Decimal(0)) + amount
        balance = _stored(target.data.get("Balance"))
        if applied[txn_id] > balance:
            raise Refusal(
                "6000",
                BUSINESS,
                f"Business Validation Error: The payment applies {applied[txn_id]} to bill {txn_id}, "
                f"more than its open balance of {balance}.",
            )
        if target not in bills:
            bills.append(target)
        out_lines.append({"Amount": _number(amount), "LinkedTxn": [{"TxnId": txn_id, "TxnType": "Bill"}]})
    if total != sum(applied.values(), Decimal(0)):
        raise Refusal(
            "6000",
            BUSINESS,
            f"Business Validation Error: The lines apply {sum(applied.values(), Decimal(0))} but TotalAmt is "
            f"{total}: the sandbox takes payments applied in full.",
        )

    bill_currencies = {_ref_value(b.data, "CurrencyRef") or company.home_currency for b in bills}
    currency = _ref_value(body, "CurrencyRef") or next(iter(bill_currencies))
    _check_currency(company, currency)
    if bill_currencies != {currency}:
        raise Refusal(
            "6000",
            BUSINESS,
            f"Business Validation Error: The payment is in {currency} but the bills it pays are in "
            f"{', '.join(sorted(bill_currencies))}: a payment's currency must be its bills' currency.",
        )
    account_currency = _ref_value(account.data, "CurrencyRef") or company.home_currency
    if account_currency not in (currency, company.home_currency):
        raise Refusal(
            "6000",
            BUSINESS,
            f"Business Validation Error: {account_name} is in {account_currency}: a payment in {currency} is "
            f"made from an account in that currency or the home currency ({company.home_currency}).",
        )
    txn_date = _txn_date(engine, body.get("TxnDate"))
    if company.book_close_date and txn_date <= date.fromisoformat(company.book_close_date):
        raise Refusal("6210", PERIOD_CLOSED, PERIOD_CLOSED_DETAIL)
    doc_number = _text(body, "DocNumber", DOC_NUMBER_MAX)
    note = _text(body, "PrivateNote", PRIVATE_NOTE_MAX)

    payable = next(
        (
            a
            for a in company.entities.get("Account", [])
            if a.active and a.data.get("AccountType") == "Accounts Payable"
        ),
        None,
    )
    paid_from: dict[str, Any] = {ref_key: _ref(account, suffix)}
    if pay_type == "Check":
        paid_from["PrintStatus"] = str(body.get(holder, {}).get("PrintStatus") or "NeedToPrint")
    data: dict[str, Any] = {"VendorRef": _ref(vendor, suffix), "PayType": pay_type, holder: paid_from}
    if payable is not None:
        data["APAccountRef"] = _ref(payable, suffix)
    _txn_fields(data, company, body, doc_number, txn_date, currency, note)
    data["TotalAmt"] = _number(total)
    data["Line"] = out_lines
    data["domain"] = "QBO"
    data["sparse"] = False

    number = company.next_id.get("Txn", 1)
    company.next_id["Txn"] = number + 1
    now = engine.now()
    payment = QEntity("BillPayment", str(number), data, True, now, now)
    company.add(payment)
    for target in bills:
        balance = _stored(target.data.get("Balance")) - applied[target.id]
        target.data["Balance"] = _number(balance)
        target.data.setdefault("LinkedTxn", []).append({"TxnId": payment.id, "TxnType": linked_type})
        target.sync += 1
        target.updated = now
    return {"BillPayment": _q().render(payment, suffix)}


CREATES = {
    "bill": create_bill,
    "billpayment": create_bill_payment,
    "vendor": create_vendor,
    "taxservice/taxcode": create_tax_code,
}


# --- Preferences and the controls --------------------------------------------------------------


def preferences(engine: Engine) -> dict[str, Any]:
    """The Preferences entity (one per company), as the query endpoint answers it."""
    company = engine.qbo
    accounting: dict[str, Any] = {
        "TrackDepartments": True,
        "DepartmentTerminology": "Location",
        "ClassTrackingPerTxn": False,
        "ClassTrackingPerTxnLine": True,
        "CustomerTerminology": "Customers",
        "UseAccountNumbers": True,
    }
    if company.book_close_date:
        accounting["BookCloseDate"] = company.book_close_date
    updated = company.prefs_updated or company.created
    return {
        "AccountingInfoPrefs": accounting,
        "SalesFormsPrefs": {"CustomTxnNumbers": True, "AllowDeposit": False, "AllowDiscount": True},
        "VendorAndPurchasesPrefs": {"TrackingByCustomer": False, "BillableExpenseTracking": False},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True},
        "CurrencyPrefs": {
            "MultiCurrencyEnabled": company.multicurrency,
            "HomeCurrency": {"value": company.home_currency},
        },
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": str(company.prefs_sync),
        "MetaData": {"CreateTime": qbo_time(company.created), "LastUpdatedTime": qbo_time(updated)},
    }


def _preferences_changed(engine: Engine) -> None:
    engine.qbo.prefs_sync += 1
    engine.qbo.prefs_updated = engine.now()


def set_lock_date(engine: Engine, value: Any) -> dict[str, Any]:
    """The control `POST /_sandbox/quickbooks/lockdate {"date": "YYYY-MM-DD" | null}`."""
    if value is not None:
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise ValueError("date takes YYYY-MM-DD, or null to open the books") from None
    with engine.lock:
        engine.qbo.book_close_date = value
        _preferences_changed(engine)
        return {"realmId": engine.qbo.realm_id, "book_close_date": value}


def set_multicurrency(engine: Engine, enabled: Any) -> dict[str, Any]:
    """The control `POST /_sandbox/quickbooks/multicurrency {"enabled": true | false}`."""
    if not isinstance(enabled, bool):
        raise ValueError("enabled takes true or false")
    with engine.lock:
        engine.qbo.multicurrency = enabled
        _preferences_changed(engine)
        return {
            "realmId": engine.qbo.realm_id,
            "multicurrency": enabled,
            "home_currency": engine.qbo.home_currency,
        }


def list_bills(engine: Engine) -> dict[str, Any]:
    """The control `GET /_sandbox/quickbooks/bills`: every bill created, as the API shows it (its Balance
    is what is still owed), and every bill payment."""
    with engine.lock:
        suffix = engine.options.qbo_deleted_suffix
        bills = [_q().render(b, suffix) for b in engine.qbo.entities.get("Bill", [])]
        payments = [_q().render(p, suffix) for p in engine.qbo.entities.get("BillPayment", [])]
        return {
            "realmId": engine.qbo.realm_id,
            "count": len(bills),
            "bills": bills,
            "bill_payments": payments,
        }
