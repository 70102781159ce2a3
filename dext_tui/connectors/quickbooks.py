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
  rates of the code (else its sales rates) from the TaxRate entity, when it has any.
- tracking: Classes ("Class: Name") and Departments ("Location: Name"), remote ids "class:ID" and
  "department:ID" (the two entities number independently).
- currencies: the currencies the accounts are kept in (every account names one; foreign-currency
  receivable and payable accounts exist for each currency in use).
- Active false -> archived. tenant_name: CompanyInfo's CompanyName. history: None.

Faults: code 3200 (AuthenticationFailed) is ConnectionExpired; any other Fault is a ConnectorError with
QuickBooks' message and code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from dext_tui.connectors.base import FetchResult
from dext_tui.connectors.cloud import CloudConnector
from dext_tui.connectors.cloud_http import (
    CloudHttp,
    RetryPolicy,
    expect_dict,
    expect_list,
    run_all,
    text_field,
)
from dext_tui.connectors.oauth import OAuthClient, Tokens
from dext_tui.connectors.tokens import TokenManager, TokenStore
from dext_tui.connectors.xero import Tenant, rate_text
from dext_tui.core.domain import ItemStatus, Kind, RemoteItem
from dext_tui.core.errors import ConnectionExpired, ConnectorError, DextError, InvalidData

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
        items.append(RemoteItem(remote_id, name, description, _active(code), _compact({"rate": rate})))
    return items


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
        )
