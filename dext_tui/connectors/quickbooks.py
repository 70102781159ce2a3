"""QuickBooks Online: lists read with the query endpoint of one company (realm).

Every entity is read with `select * from ENTITY where Active IN (true,false) STARTPOSITION n MAXRESULTS
1000` (inactive ones included), page after page until a short page, `minorversion=75`.

Mappings (documented in the README):
- categories: Accounts of type Expense, Cost of Goods Sold, Other Expense, Income, Other Income; code =
  AcctNum (none when the company does not number its accounts: QuickBooks' internal Id is not shown as a
  code, so that Merge lists never matches codes that mean nothing), name = FullyQualifiedName
  ("Utilities:Gas"), data {"type", "subtype", "classification"}.
- bank_accounts: Accounts of type Bank and Credit Card; data {"currency", "type"}.
- suppliers: Vendors (name = DisplayName, code = AcctNum); customers: Customers (name =
  FullyQualifiedName, so jobs read "Client:Job").
- tax_codes: TaxCodes; code = Name, name = Description (else Name); data {"rate"}: the sum of the purchase
  rates of the code (else its sales rates) from the TaxRate entity, when it has any; {"purchases": False}
  for a code with sales rates and no purchase rates (a bill cannot use it).
- tracking: Classes ("Class: Name") and Departments ("Location: Name"), remote ids "class:ID" and
  "department:ID" (the two entities number independently).
- currencies: the currencies the accounts are kept in (every account names one; foreign-currency
  receivable and payable accounts exist for each currency in use).
- Active false -> archived. tenant_name: CompanyInfo's CompanyName. history: None.
- lock_date: Preferences' AccountingInfoPrefs.BookCloseDate (one more query in every fetch).

Faults: code 3200 (AuthenticationFailed) is ConnectionExpired; any other Fault is a ConnectorError with
QuickBooks' message and code.

Publishing (`publish`, docs/publishing.md): one `POST /bill?requestid=...` per bill, up to 5 in flight. A
bill whose supplier QuickBooks does not know yet first creates the Vendor (`POST /vendor`, DisplayName =
the supplier's name, in the bill's currency), or takes the vendor already of that name (fault 6240, then a
query by DisplayName). Amounts are tax inclusive: GlobalTaxCalculation TaxInclusive, each line's
TaxInclusiveAmt is its amount and its Amount the amount less its tax (the tax when known, else worked out
from the tax code's rate). Tracking: a class is the line's ClassRef, a location (department) the bill's
DepartmentRef (one per bill). Intuit's requestid takes at most 50 characters: the bill's idempotency key,
or a digest of it when longer, so a repeat creates nothing and answers the same bill. An answer whose
Bill was created more than 5 minutes before the answer's Date is a bill already in the books
(`already=True`). Faults are classified by code, then by their words: 6140 duplicate document number ->
DUPLICATE; 6200/6210 account period closed -> LOCK_DATE; 610 object not found (inactive) and 2500 invalid
reference -> ARCHIVED; currency -> CURRENCY; tax code / VAT -> TAX_MISMATCH; else INVALID. 401 / 3200
(and 403 / 3100, a company this grant may not reach) raise ConnectionExpired; an outage after the retries
is UNAVAILABLE for that bill and every bill not yet sent.

A paid bill with a payment method (`paid` and `bank_account`) is paid once created: `POST
/billpayment?requestid=...` (the requestid of the bill's idempotency key + "-payment") for the Bill's
TotalAmt, PayType CreditCard (CreditCardPayment.CCAccountRef) from a Credit Card account, else Check
(CheckPayment.BankAccountRef, PrintStatus NotSet), one Line linking the Bill. The outcome is the Bill's Id
when both are made. A refused payment fails the bill, classified as a bill's fault, with a message that
the bill is in QuickBooks unpaid (its Id and DocNumber) and QuickBooks' words; the failed outcome carries
the Bill's Id as `remote_id`. Publishing it again sends the same two requestids: QuickBooks answers the
same Bill, then makes the payment (or answers the one it made). A paid bill without a payment method is
published as an open bill.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import httpx

from dext_tui.connectors.base import FetchResult
from dext_tui.connectors.cloud import CloudConnector, publish_in_order
from dext_tui.connectors.cloud_http import (
    CloudHttp,
    RetryPolicy,
    expect_dict,
    expect_list,
    response_detail,
    run_all,
    server_time,
    text_field,
)
from dext_tui.connectors.oauth import OAuthClient, Tokens
from dext_tui.connectors.tokens import TokenManager, TokenStore
from dext_tui.connectors.xero import Tenant, rate_text
from dext_tui.core.domain import ItemStatus, Kind, RemoteItem
from dext_tui.core.errors import (
    ConnectionExpired,
    ConnectorError,
    DextError,
    InvalidData,
    ProviderUnavailable,
    RateLimited,
)
from dext_tui.core.publishing import Bill, BillLine, ErrorClass, OutcomeFn, PublishOutcome, RemoteRef

PROVIDER = "quickbooks"
LABEL = "QuickBooks"
API_BASE = "https://quickbooks.api.intuit.com/v3/company"
# Intuit's own sandbox companies (development keys) answer here instead.
INTUIT_SANDBOX_API_BASE = "https://sandbox-quickbooks.api.intuit.com/v3/company"
MINOR_VERSION = "75"
PAGE_SIZE = 1000
MAX_PAGES = 10_000
EXPIRED = "Connection is expired (QuickBooks refused the authorisation); reconnect"

CATEGORY_TYPES = frozenset({"Expense", "Cost of Goods Sold", "Other Expense", "Income", "Other Income"})
BANK_TYPES = frozenset({"Bank", "Credit Card"})
_REALM_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")


def _fault_error(fault: Any, what: str) -> DextError:
    errors = fault.get("Error") if isinstance(fault, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = str(first.get("code") or "").strip()
    message = " ".join(str(first.get("Message") or first.get("message") or "").split())
    detail = " ".join(str(first.get("Detail") or first.get("detail") or "").split())
    fault_type = str(fault.get("type") or "") if isinstance(fault, dict) else ""
    if (
        code.lstrip("0") == "3200"
        or "AuthenticationFailed" in message
        or fault_type.lower() in ("authentication", "authenticationfault")
    ):
        return ConnectionExpired(EXPIRED)
    text = message or "an error"
    if detail and detail != message:
        text += f": {detail}"
    text = text[:300]
    suffix = f" (code {code})" if code else ""
    return ConnectorError(f"QuickBooks refused {what}: {text}{suffix}")


def qbo_error(response: httpx.Response, what: str) -> DextError | None:
    """A refused call's Fault (JSON, or the XML QuickBooks sometimes sends) as our error."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text
        if "3200" in text or "AuthenticationFailed" in text:
            return ConnectionExpired(EXPIRED)
        return None
    if isinstance(body, dict) and "Fault" in body:
        return _fault_error(body["Fault"], what)
    if isinstance(body, dict) and isinstance(body.get("fault"), dict):  # the gateway's lower-case form
        return _fault_error({"Error": body["fault"].get("error") or []}, what)
    return None


def _http(
    *,
    auth: Any,
    transport: httpx.AsyncBaseTransport | None,
    policy: RetryPolicy | None,
    on_wait: Callable[[str], None] | None = None,
) -> CloudHttp:
    return CloudHttp(
        LABEL, auth=auth, policy=policy, transport=transport, error_mapper=qbo_error, on_wait=on_wait
    )


def _ref(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _active(obj: dict[str, Any]) -> ItemStatus:
    return ItemStatus.ARCHIVED if obj.get("Active") is False else ItemStatus.ACTIVE


def _compact(data: dict[str, Any]) -> dict[str, Any] | None:
    out = {k: v for k, v in data.items() if v not in (None, "")}
    return out or None


# -- mapping --------------------------------------------------------------------------------------


def map_accounts(accounts: list[dict[str, Any]], what: str) -> dict[Kind, list[RemoteItem]]:
    categories: list[RemoteItem] = []
    banks: list[RemoteItem] = []
    currencies: dict[str, str] = {}
    for account in accounts:
        currency = _ref(account, "CurrencyRef")
        code_value = text_field(currency, "value", LABEL, what)
        if code_value:
            currencies.setdefault(code_value, text_field(currency, "name", LABEL, what) or code_value)
        account_type = text_field(account, "AccountType", LABEL, what)
        if account_type not in CATEGORY_TYPES and account_type not in BANK_TYPES:
            continue
        remote_id = text_field(account, "Id", LABEL, what, required=True)
        name = text_field(account, "FullyQualifiedName", LABEL, what) or text_field(
            account, "Name", LABEL, what
        )
        if remote_id is None or name is None:
            raise InvalidData(f"QuickBooks sent data of the wrong shape for {what}: an account has no Name")
        code = text_field(account, "AcctNum", LABEL, what)
        if account_type in BANK_TYPES:
            data = {"currency": code_value, "type": account_type}
            banks.append(RemoteItem(remote_id, code, name, _active(account), _compact(data)))
        else:
            data = {
                "type": account_type,
                "subtype": text_field(account, "AccountSubType", LABEL, what),
                "classification": text_field(account, "Classification", LABEL, what),
            }
            categories.append(RemoteItem(remote_id, code, name, _active(account), _compact(data)))
    currency_items = [RemoteItem(code, code, name) for code, name in sorted(currencies.items())]
    return {Kind.CATEGORIES: categories, Kind.BANK_ACCOUNTS: banks, Kind.CURRENCIES: currency_items}


def _party(record: dict[str, Any], what: str, *, full_name: bool) -> RemoteItem:
    remote_id = text_field(record, "Id", LABEL, what, required=True)
    name = text_field(record, "FullyQualifiedName", LABEL, what) if full_name else None
    name = (
        name
        or text_field(record, "DisplayName", LABEL, what)
        or text_field(record, "CompanyName", LABEL, what)
    )
    if remote_id is None or name is None:
        raise InvalidData(f"QuickBooks sent data of the wrong shape for {what}: a record has no DisplayName")
    data = {
        "email": text_field(_ref(record, "PrimaryEmailAddr"), "Address", LABEL, what),
        "currency": text_field(_ref(record, "CurrencyRef"), "value", LABEL, what),
        "company_name": text_field(record, "CompanyName", LABEL, what),
    }
    return RemoteItem(
        remote_id, text_field(record, "AcctNum", LABEL, what), name, _active(record), _compact(data)
    )


def map_vendors(vendors: list[dict[str, Any]], what: str) -> list[RemoteItem]:
    return [_party(v, what, full_name=False) for v in vendors]


def map_customers(customers: list[dict[str, Any]], what: str) -> list[RemoteItem]:
    return [_party(c, what, full_name=True) for c in customers]


def _rate_ids(code: dict[str, Any], key: str) -> list[str]:
    details = _ref(code, key).get("TaxRateDetail")
    if not isinstance(details, list):
        return []
    ids = []
    for detail in details:
        if isinstance(detail, dict):
            value = text_field(_ref(detail, "TaxRateRef"), "value", LABEL, "TaxCode")
            if value:
                ids.append(value)
    return ids


def map_tax_codes(codes: list[dict[str, Any]], rates: dict[str, Decimal], what: str) -> list[RemoteItem]:
    items = []
    for code in codes:
        remote_id = text_field(code, "Id", LABEL, what, required=True)
        name = text_field(code, "Name", LABEL, what)
        if remote_id is None or name is None:
            raise InvalidData(f"QuickBooks sent data of the wrong shape for {what}: a tax code has no Name")
        description = text_field(code, "Description", LABEL, what) or name
        rate: str | None = None
        for key in ("PurchaseTaxRateList", "SalesTaxRateList"):
            ids = _rate_ids(code, key)
            if ids and all(i in rates for i in ids):
                rate = rate_text(sum((rates[i] for i in ids), Decimal(0)))
                break
        data: dict[str, Any] = {"rate": rate}
        if _rate_ids(code, "SalesTaxRateList") and not _rate_ids(code, "PurchaseTaxRateList"):
            data["purchases"] = False  # a sales-only code: QuickBooks refuses it on a bill
        items.append(RemoteItem(remote_id, name, description, _active(code), _compact(data)))
    return items


def map_lock_date(records: list[dict[str, Any]], what: str) -> date | None:
    """Preferences' AccountingInfoPrefs.BookCloseDate (the books are closed up to and including it)."""
    for record in records:
        value = text_field(_ref(record, "AccountingInfoPrefs"), "BookCloseDate", LABEL, what)
        if value:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                raise InvalidData(
                    f"QuickBooks sent data of the wrong shape for {what}: BookCloseDate is not a date"
                ) from None
    return None


def map_tax_rates(records: list[dict[str, Any]], what: str) -> dict[str, Decimal]:
    rates: dict[str, Decimal] = {}
    for record in records:
        rate_id = text_field(record, "Id", LABEL, what)
        value = record.get("RateValue")
        if rate_id is None or value is None or isinstance(value, bool):
            continue
        try:
            rates[rate_id] = Decimal(str(value))
        except InvalidOperation:
            continue
    return rates


def map_tracking(entity: str, records: list[dict[str, Any]], what: str) -> list[RemoteItem]:
    label = "Class" if entity == "Class" else "Location"
    items = []
    for record in records:
        remote_id = text_field(record, "Id", LABEL, what, required=True)
        name = text_field(record, "FullyQualifiedName", LABEL, what) or text_field(
            record, "Name", LABEL, what
        )
        if remote_id is None or name is None:
            raise InvalidData(f"QuickBooks sent data of the wrong shape for {what}: a record has no Name")
        data = {"category": label, "entity": entity, "id": remote_id, "option": name}
        items.append(
            RemoteItem(f"{entity.lower()}:{remote_id}", None, f"{label}: {name}", _active(record), data)
        )
    return items


# -- calls ----------------------------------------------------------------------------------------


def _realm_path(realm_id: str, base: str = API_BASE) -> str:
    if not _REALM_RE.fullmatch(realm_id):
        raise DextError(f"not a QuickBooks company id: {realm_id!r}")
    return f"{base}/{realm_id}"


def _check_fault(payload: Any, what: str) -> dict[str, Any]:
    body = expect_dict(payload, LABEL, what)
    if "Fault" in body:
        raise _fault_error(body["Fault"], what)
    return body


async def query_all(
    http: CloudHttp, realm_id: str, entity: str, *, active_filter: bool = True, base: str = API_BASE
) -> list[dict[str, Any]]:
    """Every record of `entity` (active and inactive), page after page."""
    url = f"{_realm_path(realm_id, base)}/query"
    what = f"the {entity} query"
    records: list[dict[str, Any]] = []
    start = 1
    for _ in range(MAX_PAGES):
        where = " where Active IN (true,false)" if active_filter else ""
        query = f"select * from {entity}{where} STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
        payload = await http.get_json(url, what=what, params={"query": query, "minorversion": MINOR_VERSION})
        body = _check_fault(payload, what)
        response = expect_dict(body.get("QueryResponse"), LABEL, what, "QueryResponse")
        if "Fault" in response:
            raise _fault_error(response["Fault"], what)
        page = expect_list(response, entity, LABEL, what, required=False)
        records += page
        if len(page) < PAGE_SIZE:
            return records
        start += PAGE_SIZE
    raise InvalidData(f"QuickBooks sent data of the wrong shape for {what}: paging never ends")


async def company_name(http: CloudHttp, realm_id: str, *, base: str = API_BASE) -> str | None:
    url = f"{_realm_path(realm_id, base)}/companyinfo/{realm_id}"
    what = "the company information"
    payload = await http.get_json(url, what=what, params={"minorversion": MINOR_VERSION})
    body = _check_fault(payload, what)
    info = expect_dict(body.get("CompanyInfo"), LABEL, what, "CompanyInfo")
    return text_field(info, "CompanyName", LABEL, what) or text_field(info, "LegalName", LABEL, what)


class _StaticToken:
    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self) -> str:
        return self._token

    async def refresh_after_rejection(self, rejected: str) -> str:
        raise ConnectionExpired(EXPIRED)


async def list_companies(
    tokens: Tokens | TokenManager,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
    base: str = API_BASE,
) -> list[Tenant]:
    """The company the authorisation is for (QuickBooks authorises one per grant: `realmId`), named."""
    current = tokens.tokens() if isinstance(tokens, TokenManager) else tokens
    realm_id = current.extra.get("realmId")
    if not isinstance(realm_id, str) or not realm_id:
        raise ConnectorError("QuickBooks named no company for this authorisation (no realmId); connect again")
    auth = tokens if isinstance(tokens, TokenManager) else _StaticToken(tokens.access_token)
    async with _http(auth=auth, transport=transport, policy=policy) as http:
        name = await company_name(http, realm_id, base=base)
    return [Tenant(realm_id, name or realm_id)]


class QuickBooksConnector(CloudConnector):
    provider = PROVIDER

    def __init__(
        self,
        realm_id: str,
        company_name: str | None,
        token_key: str,
        store: TokenStore,
        client: OAuthClient,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        now: Callable[[], datetime] | None = None,
        api_base: str = API_BASE,
    ) -> None:
        _realm_path(realm_id, api_base)
        super().__init__(realm_id, token_key, store, client, transport=transport, policy=policy, now=now)
        self.api_base = api_base
        self.realm_id = realm_id
        self.company_name = company_name

    def check_source(self) -> None:
        super().check_source()
        tokens = self.store.load(self.token_key)
        lapses = tokens.refresh_expires_at if tokens else None
        if lapses is not None and lapses <= self.now():
            raise ConnectionExpired(
                "Connection is expired (the QuickBooks authorisation has lapsed); reconnect"
            )

    async def fetch(
        self,
        kinds: tuple[Kind, ...],
        *,
        isolate: bool = False,
        history: bool = False,
        since: str | None = None,
    ) -> FetchResult:
        wanted = set(kinds)
        jobs: dict[str, Any] = {}
        async with _http(
            auth=self.tokens, transport=self.transport, policy=self.policy, on_wait=self.on_wait
        ) as http:

            def need(name: str, entity: str) -> None:
                jobs[name] = query_all(http, self.realm_id, entity, base=self.api_base)

            if wanted & {Kind.CATEGORIES, Kind.BANK_ACCOUNTS, Kind.CURRENCIES}:
                need("Account", "Account")
            if Kind.SUPPLIERS in wanted:
                need("Vendor", "Vendor")
            if Kind.CUSTOMERS in wanted:
                need("Customer", "Customer")
            if Kind.TAX_CODES in wanted:
                need("TaxCode", "TaxCode")
                need("TaxRate", "TaxRate")
            if Kind.TRACKING in wanted:
                need("Class", "Class")
                need("Department", "Department")
            jobs["Preferences"] = query_all(
                http, self.realm_id, "Preferences", active_filter=False, base=self.api_base
            )
            names = list(jobs)
            results = await run_all(
                company_name(http, self.realm_id, base=self.api_base), *(jobs[n] for n in names)
            )
        name, records = results[0], dict(zip(names, results[1:], strict=True))
        lists: dict[Kind, list[RemoteItem]] = {}
        if "Account" in records:
            for kind, items in map_accounts(records["Account"], "the Account query").items():
                if kind in wanted:
                    lists[kind] = items
        if "Vendor" in records:
            lists[Kind.SUPPLIERS] = map_vendors(records["Vendor"], "the Vendor query")
        if "Customer" in records:
            lists[Kind.CUSTOMERS] = map_customers(records["Customer"], "the Customer query")
        if "TaxCode" in records:
            rates = map_tax_rates(records["TaxRate"], "the TaxRate query")
            lists[Kind.TAX_CODES] = map_tax_codes(records["TaxCode"], rates, "the TaxCode query")
        if "Class" in records:
            lists[Kind.TRACKING] = map_tracking("Class", records["Class"], "the Class query") + map_tracking(
                "Department", records["Department"], "the Department query"
            )
        if name:
            self.company_name = name
        return FetchResult(
            lists=lists,
            tenant_name=self.company_name,
            tenant_id=self.realm_id,
            fingerprint=None,
            history=None,
            lock_date=map_lock_date(records["Preferences"], "the Preferences query"),
        )

    # -- publishing ---------------------------------------------------------------------------------

    async def publish(
        self, bills: Sequence[Bill], *, on_outcome: OutcomeFn | None = None
    ) -> list[PublishOutcome]:
        """One `POST /bill` per bill (a new supplier's vendor created first), up to 5 in flight; outcomes
        handed to `on_outcome` in the bills' order as soon as they are known (see `Connector.publish`)."""
        vendors = _Vendors()

        async def send_one(
            http: CloudHttp, bill: Bill
        ) -> tuple[PublishOutcome, tuple[ErrorClass, str] | None]:
            outcome = await self._publish_one(http, bill, vendors)
            if outcome.error_class is ErrorClass.UNAVAILABLE:  # QuickBooks is down or busy
                return outcome, (ErrorClass.UNAVAILABLE, f"Not sent: {outcome.message}")
            return outcome, None

        def http() -> Any:
            return _http(auth=self.tokens, transport=self.transport, policy=self.policy, on_wait=self.on_wait)

        return await publish_in_order(bills, send_one, http, on_outcome)

    async def _publish_one(self, http: CloudHttp, bill: Bill, vendors: _Vendors) -> PublishOutcome:
        try:
            vendor = await self._vendor(http, bill, vendors)
            if isinstance(vendor, tuple):
                return PublishOutcome.failed(bill.item_id, *vendor)
            try:
                body = bill_json(bill, vendor)
            except ValueError as exc:
                return PublishOutcome.failed(bill.item_id, ErrorClass.INVALID, str(exc))
            response = await http.request(
                "POST",
                f"{_realm_path(self.realm_id, self.api_base)}/bill",
                what="the bill",
                params={"requestid": request_id(bill.idempotency_key), "minorversion": MINOR_VERSION},
                json_body=body,
                check_status=False,
            )
        except ConnectionExpired:
            raise
        except (ProviderUnavailable, RateLimited, ConnectorError) as exc:  # after the retries
            return PublishOutcome.failed(bill.item_id, ErrorClass.UNAVAILABLE, str(exc))
        outcome = bill_outcome(bill, response)
        if not outcome.ok or not bill.paid or bill.bank_account is None:
            return outcome
        return await self._pay(http, bill, vendor, outcome, response)

    async def _pay(
        self, http: CloudHttp, bill: Bill, vendor_id: str, made: PublishOutcome, answer: httpx.Response
    ) -> PublishOutcome:
        """The BillPayment of a paid bill just created (`made`, QuickBooks' `answer`), for its total from
        its payment method; `made` again when it is made, else a failure naming the bill."""
        assert made.remote_id is not None and bill.bank_account is not None
        created = _answer_json(answer)
        shown = created.get("Bill") if isinstance(created, dict) else None
        shown = shown if isinstance(shown, dict) else {}
        label = bill_label(made.remote_id, shown.get("DocNumber") or bill.reference)
        try:
            response = await http.request(
                "POST",
                f"{_realm_path(self.realm_id, self.api_base)}/billpayment",
                what="the bill's payment",
                params={"requestid": payment_request_id(bill), "minorversion": MINOR_VERSION},
                json_body=payment_json(bill, vendor_id, made.remote_id, _bill_total(shown, bill)),
                check_status=False,
            )
        except ConnectionExpired:
            raise
        except (ProviderUnavailable, RateLimited, ConnectorError) as exc:  # after the retries
            return PublishOutcome(
                bill.item_id,
                made.remote_id,
                ErrorClass.UNAVAILABLE,
                f"The bill is in QuickBooks ({label}) but its payment was not answered: {exc}",
            )
        return payment_outcome(bill, made, label, response)

    async def _vendor(self, http: CloudHttp, bill: Bill, vendors: _Vendors) -> str | tuple[ErrorClass, str]:
        """The bill's VendorRef: its supplier's id, or the vendor made (or found) for a new supplier."""
        if bill.supplier is not None:
            return bill.supplier.remote_id
        name = " ".join(bill.supplier_name.split())
        if not name:
            return ErrorClass.MISSING, "The bill names no supplier"
        async with vendors.lock:
            known = vendors.by_name.get(name.lower())
            if known is None:
                known = await self._create_vendor(http, bill, name)
                vendors.by_name[name.lower()] = known
            return known

    async def _create_vendor(self, http: CloudHttp, bill: Bill, name: str) -> str | tuple[ErrorClass, str]:
        response = await http.request(
            "POST",
            f"{_realm_path(self.realm_id, self.api_base)}/vendor",
            what="the new supplier",
            params={"requestid": request_id(f"{bill.idempotency_key}:vendor"), "minorversion": MINOR_VERSION},
            json_body={"DisplayName": name, "CurrencyRef": {"value": bill.currency}},
            check_status=False,
        )
        body = _answer_json(response)
        errors = fault_errors(body)
        _raise_if_refused_access(response, errors)
        if errors:
            if any(e["code"] == "6240" for e in errors):  # the name is taken: a vendor of that name?
                found = await self._find_vendor(http, name)
                if found is not None:
                    vendor_id, active = found
                    if active:
                        return vendor_id
                    return (
                        ErrorClass.ARCHIVED,
                        f"The supplier {name!r} is inactive in QuickBooks: make it active there, or pick "
                        "another supplier",
                    )
            text = fault_text(errors)
            return classify_fault(errors), f"QuickBooks refused the new supplier {name!r}: {text}"
        if response.status_code >= 300:
            return (
                ErrorClass.INVALID,
                f"QuickBooks refused the new supplier {name!r}: {_status_text(response)}",
            )
        vendor = body.get("Vendor") if isinstance(body, dict) else None
        made_id = vendor.get("Id") if isinstance(vendor, dict) else None
        if not isinstance(made_id, str | int) or isinstance(made_id, bool) or not str(made_id).strip():
            return ErrorClass.UNAVAILABLE, "QuickBooks sent no vendor back for the new supplier; try again"
        return str(made_id).strip()

    async def _find_vendor(self, http: CloudHttp, name: str) -> tuple[str, bool] | None:
        """The vendor whose DisplayName is `name` (active or not): its id and whether it is active."""
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        query = f"select * from Vendor where Active IN (true,false) and DisplayName = '{escaped}'"
        what = "the Vendor query"
        payload = await http.get_json(
            f"{_realm_path(self.realm_id, self.api_base)}/query",
            what=what,
            params={"query": query, "minorversion": MINOR_VERSION},
        )
        body = _check_fault(payload, what)
        response = expect_dict(body.get("QueryResponse"), LABEL, what, "QueryResponse")
        for vendor in expect_list(response, "Vendor", LABEL, what, required=False):
            vendor_id = text_field(vendor, "Id", LABEL, what)
            if vendor_id:
                return vendor_id, vendor.get("Active") is not False
        return None


# -- publishing: the bill as QuickBooks takes it, and what it answers --------------------------------

REQUEST_ID_MAX = 50  # Intuit: a requestid has at most 50 characters (36 in batch operations)
ALREADY_AFTER = timedelta(minutes=5)
CENT = Decimal("0.01")
COMPANY_REFUSED = "Connection is expired (QuickBooks refused access to this company); reconnect"


class _Vendors:
    """The vendors one publish made or found for new suppliers (a name is created once)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.by_name: dict[str, str | tuple[ErrorClass, str]] = {}


def request_id(key: str) -> str:
    """The requestid for an idempotency key: the key itself when it fits Intuit's 50 characters, else
    "dext-" and the first 40 hex digits of its SHA-256 (the same key always gives the same requestid)."""
    if len(key) <= REQUEST_ID_MAX:
        return key
    return "dext-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def _amount(value: Decimal) -> float:
    """A JSON number for an amount. The text of a Decimal of up to 15 digits survives the float exactly
    (json writes the shortest form that reads back the same); no arithmetic is done on it."""
    return float(value)


def _rate(ref: RemoteRef | None) -> Decimal | None:
    value = ref.data.get("rate") if ref is not None else None
    if value is None:
        return None
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        return None
    return rate if rate.is_finite() and rate > -100 else None


def line_net(bill: Bill, line: BillLine) -> Decimal:
    """A line's amount less its tax: the tax when known (the bill's, for a bill of one line), else worked
    out from the tax code's rate (none known: no tax)."""
    tax = line.tax
    if tax is None and len(bill.lines) == 1:
        tax = bill.tax
    if tax is not None:
        return line.amount - tax
    rate = _rate(line.tax_code)
    if rate is None:
        return line.amount
    return (line.amount * 100 / (100 + rate)).quantize(CENT, ROUND_HALF_UP)


def tracking_ref(ref: RemoteRef) -> tuple[str, str]:
    """("Class" | "Department", id) for a tracking item as `fetch` made it ("class:ID", "department:ID")."""
    entity, ident = ref.data.get("entity"), ref.data.get("id")
    if entity in ("Class", "Department") and ident:
        return str(entity), str(ident)
    prefix, _, ident = ref.remote_id.partition(":")
    if prefix.lower() in ("class", "department") and ident:
        return prefix.capitalize(), ident
    raise ValueError(f"QuickBooks tracks by class or location; {ref.name!r} is neither")


def bill_json(bill: Bill, vendor_id: str) -> dict[str, Any]:
    """The bill as a QuickBooks Bill (tax inclusive). ValueError for one QuickBooks cannot take (two
    locations: a bill has one DepartmentRef)."""
    lines: list[dict[str, Any]] = []
    department: tuple[str, str] | None = None  # (id, name)
    for line in bill.lines:
        detail: dict[str, Any] = {"AccountRef": {"value": line.category.remote_id}}
        if line.tracking is not None:
            entity, ident = tracking_ref(line.tracking)
            if entity == "Class":
                detail["ClassRef"] = {"value": ident}
            elif department is not None and department[0] != ident:
                raise ValueError(
                    "QuickBooks takes one location per bill; the lines name "
                    f"{department[1]!r} and {line.tracking.name!r}"
                )
            else:
                department = (ident, line.tracking.name)
        if line.tax_code is not None:
            detail["TaxCodeRef"] = {"value": line.tax_code.remote_id}
        detail["TaxInclusiveAmt"] = _amount(line.amount)
        item: dict[str, Any] = {"DetailType": "AccountBasedExpenseLineDetail"}
        description = line.description or bill.description
        if description:
            item["Description"] = description
        item["Amount"] = _amount(line_net(bill, line))
        item["AccountBasedExpenseLineDetail"] = detail
        lines.append(item)
    body: dict[str, Any] = {
        "VendorRef": {"value": vendor_id},
        "TxnDate": bill.date.isoformat(),
        "CurrencyRef": {"value": bill.currency},
        "GlobalTaxCalculation": "TaxInclusive",
        "Line": lines,
    }
    if bill.reference:
        body["DocNumber"] = bill.reference
    if bill.description:
        body["PrivateNote"] = bill.description
    if department is not None:
        body["DepartmentRef"] = {"value": department[0]}
    return body


def payment_request_id(bill: Bill) -> str:
    """The requestid of a paid bill's BillPayment (derived as the bill's is, from its own key)."""
    return request_id(f"{bill.idempotency_key}-payment")


def pay_type(account: RemoteRef) -> str:
    """Intuit's PayType for a payment method: CreditCard from a Credit Card account, else Check (Bank)."""
    return "CreditCard" if account.data.get("type") == "Credit Card" else "Check"


def _bill_total(shown: dict[str, Any], bill: Bill) -> Decimal:
    """The Bill's TotalAmt as QuickBooks answered it (what is owed), else the bill's own total."""
    value = shown.get("TotalAmt")
    if value is None or isinstance(value, bool):
        return bill.total
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return bill.total
    return amount.quantize(CENT, ROUND_HALF_UP) if amount.is_finite() and amount > 0 else bill.total


def payment_json(bill: Bill, vendor_id: str, bill_id: str, amount: Decimal) -> dict[str, Any]:
    """The BillPayment paying `amount` of the Bill `bill_id` from the bill's payment method."""
    assert bill.bank_account is not None
    account = {"value": bill.bank_account.remote_id}
    kind = pay_type(bill.bank_account)
    body: dict[str, Any] = {"VendorRef": {"value": vendor_id}, "PayType": kind}
    if kind == "CreditCard":
        body["CreditCardPayment"] = {"CCAccountRef": account}
    else:
        body["CheckPayment"] = {"BankAccountRef": account, "PrintStatus": "NotSet"}
    body["TotalAmt"] = _amount(amount)
    body["TxnDate"] = bill.date.isoformat()
    body["CurrencyRef"] = {"value": bill.currency}
    body["Line"] = [{"Amount": _amount(amount), "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]}]
    return body


def bill_label(bill_id: str, doc_number: Any) -> str:
    """How a message names a Bill in QuickBooks: "Bill 145, INV-104" (its Id, and its DocNumber if any)."""
    doc = " ".join(str(doc_number).split()) if doc_number not in (None, "") else ""
    return f"Bill {bill_id}, {doc}" if doc else f"Bill {bill_id}"


def payment_outcome(bill: Bill, made: PublishOutcome, label: str, response: httpx.Response) -> PublishOutcome:
    """What QuickBooks' answer to a paid bill's `POST /billpayment` means: `made` (the Bill) when the payment
    is made; else a failure saying the bill is in QuickBooks unpaid, with the Bill's Id as `remote_id`.
    Raises ConnectionExpired for an authorisation QuickBooks no longer takes."""
    assert bill.bank_account is not None
    body = _answer_json(response)
    errors = fault_errors(body)
    _raise_if_refused_access(response, errors)
    where = f"the bill is in QuickBooks unpaid ({label})"
    source = bill.bank_account.name
    if errors:
        return PublishOutcome(
            bill.item_id,
            made.remote_id,
            classify_fault(errors),
            f"QuickBooks refused the payment from {source!r}; {where}: {fault_text(errors)}",
        )
    if response.status_code >= 300:
        return PublishOutcome(
            bill.item_id,
            made.remote_id,
            ErrorClass.INVALID,
            f"QuickBooks refused the payment from {source!r}; {where}: {_status_text(response)}",
        )
    payment = body.get("BillPayment") if isinstance(body, dict) else None
    payment_id = payment.get("Id") if isinstance(payment, dict) else None
    if not isinstance(payment_id, str | int) or isinstance(payment_id, bool) or not str(payment_id).strip():
        # It may have been made: sending it again (same requestid) is safe.
        return PublishOutcome(
            bill.item_id,
            made.remote_id,
            ErrorClass.UNAVAILABLE,
            f"QuickBooks sent no payment back (no BillPayment Id); {where}; try again",
        )
    return made


def _answer_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def fault_errors(body: Any) -> list[dict[str, str]]:
    """The errors of a Fault answer (`Fault.Error[]`, or the gateway's lower-case `fault.error[]`), each as
    {"code", "message", "detail"} in one line; [] when the answer is no fault."""
    if not isinstance(body, dict):
        return []
    fault = body.get("Fault")
    errors = fault.get("Error") if isinstance(fault, dict) else None
    if errors is None and isinstance(body.get("fault"), dict):
        errors = body["fault"].get("error")
    out = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict):
            out.append(
                {
                    "code": str(error.get("code") or "").strip().lstrip("0"),
                    "message": " ".join(str(error.get("Message") or error.get("message") or "").split()),
                    "detail": " ".join(str(error.get("Detail") or error.get("detail") or "").split()),
                }
            )
    if not out and isinstance(fault, dict):
        out.append({"code": "", "message": str(fault.get("type") or "a fault"), "detail": ""})
    return out


def fault_text(errors: list[dict[str, str]]) -> str:
    """QuickBooks' own words, in one line: "Message: Detail (code N)" for each error."""
    parts = []
    for error in errors:
        message, detail = error["message"], error["detail"]
        if detail.lower().startswith(message.lower()):
            text = detail  # "Object Not Found : Something you're trying to use ..." says it all
        else:
            text = f"{message}: {detail}" if message and detail else message or detail or "an error"
        parts.append(text + (f" (code {error['code']})" if error["code"] else ""))
    return "; ".join(parts)[:600]


FAULT_CODES: dict[str, ErrorClass] = {
    "6140": ErrorClass.DUPLICATE,
    "6200": ErrorClass.LOCK_DATE,
    "6210": ErrorClass.LOCK_DATE,
    "610": ErrorClass.ARCHIVED,
    "2500": ErrorClass.ARCHIVED,
}
FAULT_WORDS: tuple[tuple[ErrorClass, re.Pattern[str]], ...] = (
    (ErrorClass.LOCK_DATE, re.compile(r"period (has )?closed|closed period|book close|closing date", re.I)),
    (ErrorClass.DUPLICATE, re.compile(r"duplicate document", re.I)),
    (ErrorClass.ARCHIVED, re.compile(r"inactive|deleted|object not found|invalid reference", re.I)),
    (ErrorClass.CURRENCY, re.compile(r"currenc", re.I)),
    (ErrorClass.TAX_MISMATCH, re.compile(r"\btax\b|\bvat\b|taxcode|taxrate", re.I)),
)


def classify_fault(errors: list[dict[str, str]]) -> ErrorClass:
    """The class of a refusal: by Intuit's code first, then by its words (INVALID when neither tells)."""
    for error in errors:
        if error["code"] in FAULT_CODES:
            return FAULT_CODES[error["code"]]
    for error in errors:
        words = f"{error['message']} {error['detail']}"
        for error_class, pattern in FAULT_WORDS:
            if pattern.search(words):
                return error_class
    return ErrorClass.INVALID


def _raise_if_refused_access(response: httpx.Response, errors: list[dict[str, str]]) -> None:
    codes = {e["code"] for e in errors}
    words = " ".join(e["message"] for e in errors)
    if response.status_code == 401 or "3200" in codes or "AuthenticationFailed" in words:
        raise ConnectionExpired(EXPIRED)
    if response.status_code == 403 or "3100" in codes:
        raise ConnectionExpired(COMPANY_REFUSED)


def _status_text(response: httpx.Response) -> str:
    detail = response_detail(response)
    return f"HTTP {response.status_code} {response.reason_phrase}".strip() + (f": {detail}" if detail else "")


def _created_long_before(bill: dict[str, Any], response: httpx.Response) -> bool:
    """True when the Bill answered was created well before this answer (a requestid QuickBooks had already
    answered: the bill was in the books before this publish)."""
    meta = bill.get("MetaData")
    created_text = meta.get("CreateTime") if isinstance(meta, dict) else None
    answered = server_time(response)
    if not isinstance(created_text, str) or answered is None:
        return False
    try:
        created = datetime.fromisoformat(created_text.replace("Z", "+00:00"))
    except ValueError:
        return False
    if created.tzinfo is None:
        return False
    return answered - created > ALREADY_AFTER


def bill_outcome(bill: Bill, response: httpx.Response) -> PublishOutcome:
    """What QuickBooks' answer to one `POST /bill` means for the bill. Raises ConnectionExpired for an
    authorisation QuickBooks no longer takes."""
    body = _answer_json(response)
    errors = fault_errors(body)
    _raise_if_refused_access(response, errors)
    if errors:  # a refusal (QuickBooks sends some with HTTP 200)
        return PublishOutcome.failed(
            bill.item_id, classify_fault(errors), f"QuickBooks refused the bill: {fault_text(errors)}"
        )
    if response.status_code >= 300:
        return PublishOutcome.failed(
            bill.item_id, ErrorClass.INVALID, f"QuickBooks refused the bill: {_status_text(response)}"
        )
    created = body.get("Bill") if isinstance(body, dict) else None
    bill_id = created.get("Id") if isinstance(created, dict) else None
    if not isinstance(bill_id, str | int) or isinstance(bill_id, bool) or not str(bill_id).strip():
        # It may have been written: sending it again (same requestid) is safe.
        return PublishOutcome.failed(
            bill.item_id, ErrorClass.UNAVAILABLE, "QuickBooks sent no bill back (no Bill Id); try again"
        )
    assert isinstance(created, dict)
    return PublishOutcome(bill.item_id, str(bill_id).strip(), already=_created_long_before(created, response))
