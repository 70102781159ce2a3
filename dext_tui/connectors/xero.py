"""Xero: lists read from the Accounting API of one organisation (tenant).

Mappings (documented in the README):
- categories: Accounts of type EXPENSE, DIRECTCOSTS, OVERHEADS, DEPRECIATN (expenses) and REVENUE, SALES,
  OTHERINCOME (income); code = the account Code, name = Name, data {"type", "tax_type", "class"}.
- bank_accounts: Accounts of type BANK (bank, credit card, PayPal); data {"currency", "bank_account_type"}.
  ARCHIVED (or DELETED) accounts are archived items.
- suppliers / customers: Contacts (all pages, archived ones included). IsSupplier -> suppliers, IsCustomer ->
  customers, both -> both; a contact that is neither (Xero sets the flags only once a bill or an invoice
  uses it) -> suppliers, since costs are what is published. code = AccountNumber; ARCHIVED (and
  GDPRREQUEST) -> archived.
- tax_codes: TaxRates; code = TaxType (what the API references), name = Name, data {"rate": EffectiveRate,
  else DisplayTaxRate, as percent text; "purchases": False when CanApplyToExpenses is false (a sales-only
  rate: the pre-flight check refuses it on a bill)}; DELETED / ARCHIVED -> archived.
- tracking: one item per option of every tracking category (archived ones included): remote id = the
  option's id, no code (Xero options have none), name = "Category: Option", data {"category",
  "category_id", "option"}; an option, or its category, not ACTIVE -> archived.
- currencies: Currencies; code = Code, name = Description.
- history: None (a later version may read bills).
- lock_date: the later of Organisation.PeriodLockDate and EndOfYearLockDate (None when neither is set).

Publishing (`publish`): one `PUT Invoices` per bill (Type ACCPAY, Status AUTHORISED, LineAmountTypes
Inclusive, Date = DueDate = the bill's date, InvoiceNumber = its reference, Contact by ContactID, or by Name
for a supplier Xero does not know yet: Xero creates it), with `Idempotency-Key: bill.idempotency_key` (the
same bill sent again creates nothing). Each line: Description, Quantity 1, UnitAmount = the line's amount
(tax included), AccountCode (AccountID when the account has no code), TaxType, TaxAmount when known,
Tracking by category and option (ids and names). A paid bill with a payment method (a card receipt) is then
paid: `PUT Payments` (Invoice by InvoiceID, Account by the bank account's AccountID, Date = the bill's date,
Amount = its total) with `Idempotency-Key: <the bill's key>-payment`, so the bill is not left awaiting
payment; a paid bill without one is published as a bill. A payment refused fails the bill (classified as
below) with a message saying the bill is in Xero (number, InvoiceID) and why; publishing it again gets the
same bill back (same key) and sends the same payment key, so neither is doubled; a payment refused because
the bill is already paid in Xero is no failure. Up to 5 bills in flight; outcomes handed out in the
bills' order. Refusals: an access token Xero no longer takes (401 after a refresh, invalid_grant) or an
organisation no longer connected (403) raise ConnectionExpired; a grant without the invoices scope
(AuthorizationUnsuccessful) is `EXPIRED` for every bill ("reconnect to allow publishing"), one without the
payments scope (`accounting.payments`, or the older `accounting.transactions`) `EXPIRED` for a paid bill
("reconnect to allow recording payments"; the bill itself is in Xero); validation
errors are classified by Xero's own words (lock date, archived, TaxType, currency, unique number); Xero
down or limiting calls after the retries: `UNAVAILABLE` for the bills not answered.

Incremental refresh: the fingerprint is JSON of, per list fetched (Accounts, Contacts, ...), the server time
of its last fetch and of its last whole fetch. `fetch(since=...)` sends `If-Modified-Since` for Accounts and
Contacts and names their lists in `FetchResult.partial`; once a day the whole list is fetched again
(deltas do not report deleted items). The tenant's current name comes from `/connections`, which also tells
when the organisation has been disconnected from the app (-> ConnectionExpired).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from dext_tui.connectors.base import FetchResult
from dext_tui.connectors.cloud import CloudConnector, publish_in_order
from dext_tui.connectors.cloud_http import (
    CloudHttp,
    RetryPolicy,
    decode_json,
    describe_path,
    expect_dict,
    expect_list,
    response_detail,
    run_all,
    server_time,
    text_field,
)
from dext_tui.connectors.oauth import OAuthClient, Tokens
from dext_tui.connectors.tokens import TokenManager, TokenStore
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

PROVIDER = "xero"
LABEL = "Xero"
API_BASE = "https://api.xero.com/api.xro/2.0"
CONNECTIONS_URL = "https://api.xero.com/connections"
PAGE_SIZE = 1000  # Xero's largest page: 50,000 contacts in 50 calls, not 500 (60 calls a minute)
MAX_PAGES = 10_000
FULL_REFRESH_EVERY = timedelta(days=1)
MODIFIED_OVERLAP = timedelta(minutes=2)  # clock slack between a Date header and UpdatedDateUTC

EXPENSE_TYPES = frozenset({"EXPENSE", "DIRECTCOSTS", "OVERHEADS", "DEPRECIATN"})
INCOME_TYPES = frozenset({"REVENUE", "SALES", "OTHERINCOME"})
ARCHIVED_ACCOUNT = frozenset({"ARCHIVED", "DELETED"})
ARCHIVED_CONTACT = frozenset({"ARCHIVED", "GDPRREQUEST"})
ARCHIVED_TAX = frozenset({"DELETED", "ARCHIVED"})

# Which endpoint feeds which lists; the incremental ones accept If-Modified-Since.
SOURCES: dict[str, tuple[Kind, ...]] = {
    "Accounts": (Kind.CATEGORIES, Kind.BANK_ACCOUNTS),
    "Contacts": (Kind.SUPPLIERS, Kind.CUSTOMERS),
    "TaxRates": (Kind.TAX_CODES,),
    "TrackingCategories": (Kind.TRACKING,),
    "Currencies": (Kind.CURRENCIES,),
}
INCREMENTAL = frozenset({"Accounts", "Contacts"})
EXPIRED_TENANT = (
    "Connection is expired (the organisation is no longer connected to dext-tui in Xero); reconnect"
)


@dataclass(frozen=True)
class Tenant:
    id: str  # Xero's tenantId (QuickBooks: the realm id)
    name: str
    connection_id: str | None = None  # Xero's connection id (DELETE /connections/{id} disconnects it)
    type: str | None = None


def xero_error(response: httpx.Response, what: str) -> DextError | None:
    """Xero's refusals: a 403 means the organisation is no longer connected to the app (or the app lost a
    scope): reconnecting fixes both. Others keep the default messages, with Xero's detail."""
    if response.status_code == 403:
        return ConnectionExpired(EXPIRED_TENANT)
    if response.status_code == 400:
        detail = response_detail(response)
        return ConnectorError(f"Xero refused the request for {what}" + (f": {detail}" if detail else ""))
    return None


def _http(
    *,
    auth: TokenManager | None = None,
    tenant_id: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> CloudHttp:
    headers = {"xero-tenant-id": tenant_id} if tenant_id else None
    return CloudHttp(
        LABEL,
        auth=auth,
        headers=headers,
        policy=policy,
        transport=transport,
        error_mapper=xero_error,
        on_wait=on_wait,
    )


class _StaticToken:
    """A TokenSource for one access token (just authorised: nothing to refresh)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self) -> str:
        return self._token

    async def refresh_after_rejection(self, rejected: str) -> str:
        raise ConnectionExpired("Connection is expired (Xero refused the new access token); reconnect")


async def _tenants(http: CloudHttp) -> list[Tenant]:
    what = "/connections"
    payload = await http.get_json(CONNECTIONS_URL, what=what)
    if not isinstance(payload, list) or not all(isinstance(c, dict) for c in payload):
        raise InvalidData(f"Xero sent data of the wrong shape for {what}: not a list of connections")
    tenants = []
    for conn in payload:
        tenant_type = text_field(conn, "tenantType", LABEL, what)
        if tenant_type not in (None, "ORGANISATION"):
            continue  # a practice (Xero HQ) has no accounting API
        tenant_id = text_field(conn, "tenantId", LABEL, what, required=True)
        assert tenant_id is not None
        name = text_field(conn, "tenantName", LABEL, what) or tenant_id
        tenants.append(Tenant(tenant_id, name, text_field(conn, "id", LABEL, what), tenant_type))
    return tenants


async def list_tenants(
    tokens: Tokens | TokenManager,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
) -> list[Tenant]:
    """The organisations the authorisation may read (GET /connections), in Xero's order."""
    auth = tokens if isinstance(tokens, TokenManager) else _StaticToken(tokens.access_token)
    async with _http(auth=auth, transport=transport, policy=policy) as http:  # type: ignore[arg-type]
        return await _tenants(http)


# -- mapping --------------------------------------------------------------------------------------


def _compact(data: dict[str, Any]) -> dict[str, Any] | None:
    out = {k: v for k, v in data.items() if v not in (None, "")}
    return out or None


def rate_text(value: Any) -> str | None:
    """12.5 -> "12.5", 20.0 -> "20" (the form own lists and merge suggestions use)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        return None
    if not rate.is_finite():
        return None
    return format(rate.normalize(), "f") if rate == rate.to_integral() else format(rate, "f").rstrip("0")


def map_accounts(accounts: list[dict[str, Any]], what: str) -> dict[Kind, list[RemoteItem]]:
    categories: list[RemoteItem] = []
    banks: list[RemoteItem] = []
    for account in accounts:
        kind_type = text_field(account, "Type", LABEL, what)
        if kind_type not in EXPENSE_TYPES and kind_type not in INCOME_TYPES and kind_type != "BANK":
            continue
        remote_id = text_field(account, "AccountID", LABEL, what, required=True)
        code = text_field(account, "Code", LABEL, what)
        name = text_field(account, "Name", LABEL, what) or code
        if remote_id is None or name is None:
            raise InvalidData(f"Xero sent data of the wrong shape for {what}: an account has no Name")
        archived = text_field(account, "Status", LABEL, what) in ARCHIVED_ACCOUNT
        status = ItemStatus.ARCHIVED if archived else ItemStatus.ACTIVE
        if kind_type == "BANK":
            data = {
                "currency": text_field(account, "CurrencyCode", LABEL, what),
                "bank_account_type": text_field(account, "BankAccountType", LABEL, what),
            }
            banks.append(RemoteItem(remote_id, code, name, status, _compact(data)))
        else:
            data = {
                "type": kind_type,
                "tax_type": text_field(account, "TaxType", LABEL, what),
                "class": "expense" if kind_type in EXPENSE_TYPES else "income",
            }
            categories.append(RemoteItem(remote_id, code, name, status, _compact(data)))
    return {Kind.CATEGORIES: categories, Kind.BANK_ACCOUNTS: banks}


def map_contacts(contacts: list[dict[str, Any]], what: str) -> dict[Kind, list[RemoteItem]]:
    suppliers: list[RemoteItem] = []
    customers: list[RemoteItem] = []
    for contact in contacts:
        remote_id = text_field(contact, "ContactID", LABEL, what, required=True)
        name = text_field(contact, "Name", LABEL, what)
        if remote_id is None or name is None:
            raise InvalidData(f"Xero sent data of the wrong shape for {what}: a contact has no Name")
        archived = text_field(contact, "ContactStatus", LABEL, what) in ARCHIVED_CONTACT
        status = ItemStatus.ARCHIVED if archived else ItemStatus.ACTIVE
        code = text_field(contact, "AccountNumber", LABEL, what)
        data = _compact(
            {
                "email": text_field(contact, "EmailAddress", LABEL, what),
                "tax_number": text_field(contact, "TaxNumber", LABEL, what),
                "purchases_tax_type": text_field(contact, "AccountsPayableTaxType", LABEL, what),
                "sales_tax_type": text_field(contact, "AccountsReceivableTaxType", LABEL, what),
                "currency": text_field(contact, "DefaultCurrency", LABEL, what),
            }
        )
        is_supplier = contact.get("IsSupplier") is True
        is_customer = contact.get("IsCustomer") is True
        item = RemoteItem(remote_id, code, name, status, data)
        if is_supplier or not is_customer:
            suppliers.append(item)
        if is_customer:
            customers.append(item)
    return {Kind.SUPPLIERS: suppliers, Kind.CUSTOMERS: customers}


def _left_lists(lists: dict[Kind, list[RemoteItem]]) -> dict[Kind, list[RemoteItem]]:
    """A delta of contacts: one now only a customer has left the suppliers (and the other way round), as a
    whole read would show by its absence. It comes in the list it left as archived; the store ignores
    that for a contact it never had in that list."""
    suppliers, customers = lists[Kind.SUPPLIERS], lists[Kind.CUSTOMERS]
    in_suppliers = {i.remote_id for i in suppliers}
    in_customers = {i.remote_id for i in customers}
    gone = ItemStatus.ARCHIVED
    return {
        Kind.SUPPLIERS: suppliers
        + [i._replace(status=gone) for i in customers if i.remote_id not in in_suppliers],
        Kind.CUSTOMERS: customers
        + [i._replace(status=gone) for i in suppliers if i.remote_id not in in_customers],
    }


def map_tax_rates(rates: list[dict[str, Any]], what: str) -> dict[Kind, list[RemoteItem]]:
    items = []
    for rate in rates:
        tax_type = text_field(rate, "TaxType", LABEL, what, required=True)
        assert tax_type is not None
        name = text_field(rate, "Name", LABEL, what) or tax_type
        value = rate.get("EffectiveRate")
        if value is None:
            value = rate.get("DisplayTaxRate")
        archived = text_field(rate, "Status", LABEL, what) in ARCHIVED_TAX
        data = _compact({"rate": rate_text(value)})
        if rate.get("CanApplyToExpenses") is False:  # sales only: not on a bill
            data = {**(data or {}), "purchases": False}
        items.append(
            RemoteItem(tax_type, tax_type, name, ItemStatus.ARCHIVED if archived else ItemStatus.ACTIVE, data)
        )
    return {Kind.TAX_CODES: items}


def map_tracking(categories: list[dict[str, Any]], what: str) -> dict[Kind, list[RemoteItem]]:
    items = []
    for category in categories:
        category_id = text_field(category, "TrackingCategoryID", LABEL, what, required=True)
        category_name = text_field(category, "Name", LABEL, what) or category_id
        category_active = (text_field(category, "Status", LABEL, what) or "ACTIVE") == "ACTIVE"
        for option in expect_list(category, "Options", LABEL, what, required=False):
            option_id = text_field(option, "TrackingOptionID", LABEL, what, required=True)
            option_name = text_field(option, "Name", LABEL, what)
            if option_id is None or option_name is None:
                raise InvalidData(f"Xero sent data of the wrong shape for {what}: an option has no Name")
            active = category_active and (text_field(option, "Status", LABEL, what) or "ACTIVE") == "ACTIVE"
            items.append(
                RemoteItem(
                    option_id,
                    None,
                    f"{category_name}: {option_name}",
                    ItemStatus.ACTIVE if active else ItemStatus.ARCHIVED,
                    {"category": category_name, "category_id": category_id, "option": option_name},
                )
            )
    return {Kind.TRACKING: items}


def map_currencies(currencies: list[dict[str, Any]], what: str) -> dict[Kind, list[RemoteItem]]:
    items = []
    for currency in currencies:
        code = text_field(currency, "Code", LABEL, what, required=True)
        assert code is not None
        items.append(RemoteItem(code, code, text_field(currency, "Description", LABEL, what) or code))
    return {Kind.CURRENCIES: items}


MAPPERS: dict[str, Callable[[list[dict[str, Any]], str], dict[Kind, list[RemoteItem]]]] = {
    "Accounts": map_accounts,
    "Contacts": map_contacts,
    "TaxRates": map_tax_rates,
    "TrackingCategories": map_tracking,
    "Currencies": map_currencies,
}


# -- fingerprints ---------------------------------------------------------------------------------


def _time_text(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_fingerprint(
    fingerprint: str | None, tenant_id: str | None = None
) -> dict[str, dict[str, datetime]]:
    """{endpoint: {"modified": time, "full": time}} from a fingerprint of ours (of `tenant_id`, when given);
    {} for anything else."""
    if not fingerprint:
        return {}
    try:
        data = json.loads(fingerprint)
    except ValueError:
        return {}
    if not isinstance(data, dict) or data.get("xero") != 1 or not isinstance(data.get("lists"), dict):
        return {}
    if tenant_id is not None and data.get("tenant") != tenant_id:
        return {}  # another organisation's: fetch everything
    out: dict[str, dict[str, datetime]] = {}
    for name, times in data["lists"].items():
        if name in SOURCES and isinstance(times, dict):
            parsed = {k: t for k in ("modified", "full") if (t := _parse_time(times.get(k))) is not None}
            if "modified" in parsed and "full" in parsed:
                out[name] = parsed
    return out


def make_fingerprint(times: dict[str, dict[str, datetime]], tenant_id: str) -> str:
    lists = {name: {k: _time_text(v) for k, v in sorted(t.items())} for name, t in sorted(times.items())}
    return json.dumps({"xero": 1, "tenant": tenant_id, "lists": lists}, sort_keys=True)


# -- the connector --------------------------------------------------------------------------------


@dataclass
class _Fetched:
    source: str
    lists: dict[Kind, list[RemoteItem]]
    modified: datetime
    full: datetime
    partial: bool


class XeroConnector(CloudConnector):
    provider = PROVIDER

    def __init__(
        self,
        tenant_id: str,
        tenant_name: str | None,
        token_key: str,
        store: TokenStore,
        client: OAuthClient,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(tenant_id, token_key, store, client, transport=transport, policy=policy, now=now)
        self.tenant_id = tenant_id
        self.tenant_name = tenant_name

    def _http(self) -> CloudHttp:
        return _http(
            auth=self.tokens,
            tenant_id=self.tenant_id,
            transport=self.transport,
            policy=self.policy,
            on_wait=self.on_wait,
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
        previous = parse_fingerprint(since, self.tenant_id)
        now = self.now()
        sources = [name for name, feeds in SOURCES.items() if wanted & set(feeds)]
        async with self._http() as http:
            results = await run_all(
                self._tenant_name(http),
                self._lock_date(http),
                *(self._fetch_source(http, name, previous.get(name), now) for name in sources),
            )
        tenant_name, (lock_date, warnings), fetched = results[0], results[1], results[2:]
        lists: dict[Kind, list[RemoteItem]] = {}
        partial: set[Kind] = set()
        times = dict(previous)
        for part in fetched:
            times[part.source] = {"modified": part.modified, "full": part.full}
            for kind, items in part.lists.items():
                if kind in wanted:
                    lists[kind] = items
                    if part.partial:
                        partial.add(kind)
        if tenant_name:
            self.tenant_name = tenant_name
        return FetchResult(
            lists=lists,
            tenant_name=self.tenant_name,
            tenant_id=self.tenant_id,
            fingerprint=make_fingerprint(times, self.tenant_id),
            history=None,
            partial=frozenset(partial),
            lock_date=lock_date,
            warnings=warnings,
        )

    async def _tenant_name(self, http: CloudHttp) -> str | None:
        """The organisation's current name; ConnectionExpired when it is no longer connected."""
        for tenant in await _tenants(http):
            if tenant.id == self.tenant_id:
                return tenant.name
        raise ConnectionExpired(EXPIRED_TENANT)

    async def _lock_date(self, http: CloudHttp) -> tuple[date | None, list[str]]:
        """The books' lock date (the later of the period and the end of year ones) and any warning. A
        refused read of the Organisation (not an authorisation refusal) leaves it unknown, with a warning:
        the lists are still good, and publishing meets Xero's own check."""
        url = f"{API_BASE}/Organisation"
        what = describe_path(url)
        try:
            payload = await http.get_json(url, what=what)
        except ConnectorError as exc:
            if type(exc) is not ConnectorError:  # expired, limited, unavailable, malformed: as any list
                raise
            return None, [f"The lock date is unknown: {exc}"]
        organisations = expect_list(payload, "Organisations", LABEL, what)
        if not organisations:
            return None, []
        found = [
            day
            for key in ("PeriodLockDate", "EndOfYearLockDate")
            if (day := xero_date(organisations[0].get(key), what, key)) is not None
        ]
        return (max(found) if found else None), []

    async def _fetch_source(
        self, http: CloudHttp, source: str, previous: dict[str, datetime] | None, now: datetime
    ) -> _Fetched:
        delta_from: datetime | None = None
        if source in INCREMENTAL and previous and now - previous["full"] < FULL_REFRESH_EVERY:
            delta_from = previous["modified"]
        headers = {"If-Modified-Since": delta_from.strftime("%Y-%m-%dT%H:%M:%S")} if delta_from else None
        url = f"{API_BASE}/{source}"
        what = describe_path(url)
        if source == "Contacts":
            records, started = await self._contact_pages(http, url, what, headers)
        else:
            params = {"includeArchived": "true"} if source == "TrackingCategories" else None
            response = await http.request("GET", url, what=what, params=params, headers=headers)
            started = server_time(response) or now
            payload = None if response.status_code == 304 else decode_json(response, LABEL, what)
            records = [] if payload is None else expect_list(payload, source, LABEL, what)
        lists = MAPPERS[source](records, what)
        if delta_from is not None and source == "Contacts":
            lists = _left_lists(lists)
        modified = started - MODIFIED_OVERLAP
        full = previous["full"] if delta_from and previous else modified
        return _Fetched(source, lists, modified, full, partial=delta_from is not None)

    async def _contact_pages(
        self, http: CloudHttp, url: str, what: str, headers: dict[str, str] | None
    ) -> tuple[list[dict[str, Any]], datetime]:
        async def page(number: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None, datetime | None]:
            params = {"page": str(number), "pageSize": str(PAGE_SIZE), "includeArchived": "true"}
            response = await http.request("GET", url, what=what, params=params, headers=headers)
            if response.status_code == 304:
                return [], None, server_time(response)
            payload = decode_json(response, LABEL, what)
            contacts = expect_list(payload, "Contacts", LABEL, what)
            pagination = payload.get("pagination")
            return contacts, pagination if isinstance(pagination, dict) else None, server_time(response)

        first, pagination, started = await page(1)
        started = started or self.now()
        pages = [first]
        page_count = pagination.get("pageCount") if pagination else None
        if isinstance(page_count, int) and not isinstance(page_count, bool) and page_count >= 1:
            if page_count > MAX_PAGES:
                raise InvalidData(f"Xero sent data of the wrong shape for {what}: {page_count} pages")
            rest = await run_all(*(page(n) for n in range(2, page_count + 1)))
            pages += [contacts for contacts, _, _ in rest]
        else:
            number, size = 1, len(first)  # no page count: read on while pages come full (as the first)
            while size and len(pages[-1]) >= size:
                number += 1
                if number > MAX_PAGES:
                    raise InvalidData(f"Xero sent data of the wrong shape for {what}: paging never ends")
                contacts, _, _ = await page(number)
                if contacts and _first_id(contacts) == _first_id(pages[-1]):
                    raise InvalidData(f"Xero sent data of the wrong shape for {what}: page {number} repeats")
                pages.append(contacts)
        by_id: dict[Any, dict[str, Any]] = {}
        for contacts in pages:
            for contact in contacts:
                expect_dict(contact, LABEL, what)
                by_id[contact.get("ContactID")] = contact  # pages fetched at once may overlap
        return list(by_id.values()), started

    # -- publishing ---------------------------------------------------------------------------------

    async def publish(
        self, bills: Sequence[Bill], *, on_outcome: OutcomeFn | None = None
    ) -> list[PublishOutcome]:
        """One `PUT Invoices` per bill, up to 5 in flight; outcomes handed to `on_outcome` in the bills'
        order as soon as they are known (see `Connector.publish`)."""
        return await publish_in_order(bills, self._send_one, self._http, on_outcome)

    async def _send_one(
        self, http: CloudHttp, bill: Bill
    ) -> tuple[PublishOutcome, tuple[ErrorClass, str] | None]:
        outcome, stops = await self._publish_one(http, bill)
        if stops and outcome.error_class is not None:  # the grant may not write, or Xero is down
            return outcome, (outcome.error_class, outcome.message or "")
        return outcome, None

    async def _publish_one(self, http: CloudHttp, bill: Bill) -> tuple[PublishOutcome, bool]:
        """The bill's outcome, and whether every bill after it would meet the same (a grant that may not
        write, Xero down or limiting calls after the retries): those are not sent."""
        url = f"{API_BASE}/Invoices"
        what = describe_path(url)
        try:
            response = await http.request(
                "PUT",
                url,
                what=what,
                json_body={"Invoices": [invoice_json(bill)]},
                headers={"Idempotency-Key": bill.idempotency_key},
                check_status=False,
            )
        except ConnectionExpired:
            raise
        except (ProviderUnavailable, RateLimited, ConnectorError) as exc:  # after the retries
            return PublishOutcome.failed(bill.item_id, ErrorClass.UNAVAILABLE, str(exc)), True
        outcome = publish_outcome(bill, response, what)
        if not outcome.ok or outcome.remote_id is None or not bill.paid or bill.bank_account is None:
            return outcome, outcome.error_class == ErrorClass.EXPIRED
        return await self._pay(http, bill, outcome.remote_id)

    async def _pay(self, http: CloudHttp, bill: Bill, invoice_id: str) -> tuple[PublishOutcome, bool]:
        """Record the payment of a paid bill just created (or answered again) in Xero; the outcome, and
        whether every bill after it would meet the same (Xero down after the retries). A failure carries
        the bill's InvoiceID: the bill is in Xero, so the item stays as sent (`PublishOutcome`)."""
        outcome, stops = await self._pay_once(http, bill, invoice_id)
        if not outcome.ok:
            outcome = replace(outcome, remote_id=invoice_id)
        return outcome, stops

    async def _pay_once(self, http: CloudHttp, bill: Bill, invoice_id: str) -> tuple[PublishOutcome, bool]:
        url = f"{API_BASE}/Payments"
        what = describe_path(url)
        try:
            response = await http.request(
                "PUT",
                url,
                what=what,
                json_body={"Payments": [payment_json(bill, invoice_id)]},
                headers={"Idempotency-Key": payment_key(bill)},
                check_status=False,
            )
        except ConnectionExpired:
            raise
        except (ProviderUnavailable, RateLimited, ConnectorError) as exc:  # after the retries
            message = f"{_in_xero(bill, invoice_id)}, but its payment was not recorded: {exc}; try again"
            return PublishOutcome.failed(bill.item_id, ErrorClass.UNAVAILABLE, message), True
        outcome = payment_outcome(bill, invoice_id, response, what)
        if outcome.error_class in (None, ErrorClass.EXPIRED, ErrorClass.UNAVAILABLE):
            return outcome, False
        if await self._already_paid(http, invoice_id):  # paid in Xero since (or our payment, key expired)
            return PublishOutcome(bill.item_id, invoice_id, already=True), False
        return outcome, False

    async def _already_paid(self, http: CloudHttp, invoice_id: str) -> bool:
        """Whether Xero shows the bill fully paid (False when it cannot tell)."""
        url = f"{API_BASE}/Invoices/{invoice_id}"
        try:
            payload = await http.get_json(url, what=describe_path(url))
            [invoice] = expect_list(payload, "Invoices", LABEL, describe_path(url))
        except ConnectionExpired:
            raise
        except (DextError, ValueError):
            return False
        return invoice.get("Status") == "PAID"


def _first_id(contacts: list[dict[str, Any]]) -> Any:
    return contacts[0].get("ContactID") if contacts else None


MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def xero_date(value: Any, what: str, key: str) -> date | None:
    """A date field: Xero's `/Date(1546214400000+0000)/` (midnight UTC of the day) or ISO text; None when
    absent; InvalidData when it is neither."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        matched = MS_DATE.match(text)
        try:
            if matched:
                return datetime.fromtimestamp(int(matched.group(1)) / 1000, UTC).date()
            return date.fromisoformat(text[:10])
        except (ValueError, OverflowError, OSError):
            pass
    raise InvalidData(f"Xero sent data of the wrong shape for {what}: {key} is not a date")


# -- publishing: the bill as Xero takes it, and what Xero answers -----------------------------------

SCOPE_REFUSED = (
    "Xero refused to write the bill: this connection may only read the books (AuthorizationUnsuccessful); "
    "reconnect to allow publishing"
)
PAYMENT_SCOPE_REFUSED = (
    "Xero refused to record its payment: this connection may not record payments "
    "(AuthorizationUnsuccessful); reconnect to allow recording payments"
)
MAX_KEY = 128  # Xero's longest Idempotency-Key


def _amount(value: Decimal) -> float:
    """A JSON number for an amount. The text of a Decimal of up to 15 digits survives the float exactly
    (json writes the shortest form that reads back the same); no arithmetic is done on it."""
    return float(value)


def _tracking(ref: RemoteRef) -> dict[str, str]:
    category = ref.data.get("category")
    option = ref.data.get("option")
    if not category or not option:  # not from a Xero fetch: "Category: Option"
        category, _, option = ref.name.partition(": ")
    out = {"Name": str(category), "Option": str(option or ref.name), "TrackingOptionID": ref.remote_id}
    if ref.data.get("category_id"):
        out["TrackingCategoryID"] = str(ref.data["category_id"])
    return out


def _line(bill: Bill, line: BillLine) -> dict[str, Any]:
    item: dict[str, Any] = {}
    description = line.description or bill.description
    if description:
        item["Description"] = description
    item["Quantity"] = 1
    item["UnitAmount"] = _amount(line.amount)
    if line.category.code:
        item["AccountCode"] = line.category.code
    else:
        item["AccountID"] = line.category.remote_id
    if line.tax_code is not None:
        item["TaxType"] = line.tax_code.remote_id
    if line.tax is not None:
        item["TaxAmount"] = _amount(line.tax)
    if line.tracking is not None:
        item["Tracking"] = [_tracking(line.tracking)]
    return item


def invoice_json(bill: Bill) -> dict[str, Any]:
    """The bill as a Xero ACCPAY invoice (amounts tax inclusive)."""
    contact = {"ContactID": bill.supplier.remote_id} if bill.supplier else {"Name": bill.supplier_name}
    invoice: dict[str, Any] = {
        "Type": "ACCPAY",
        "Contact": contact,
        "Date": bill.date.isoformat(),
        "DueDate": bill.date.isoformat(),
        "Status": "AUTHORISED",
        "LineAmountTypes": "Inclusive",
        "CurrencyCode": bill.currency,
        "LineItems": [_line(bill, line) for line in bill.lines],
    }
    if bill.reference:
        invoice["InvoiceNumber"] = bill.reference
    return invoice


def payment_key(bill: Bill) -> str:
    """The payment's Idempotency-Key: the bill's, with `-payment` (a digest of it if that is too long)."""
    key = f"{bill.idempotency_key}-payment"
    if len(key) > MAX_KEY:
        key = f"dext-{hashlib.sha256(bill.idempotency_key.encode()).hexdigest()[:40]}-payment"
    return key


def payment_json(bill: Bill, invoice_id: str) -> dict[str, Any]:
    """The payment of a paid bill: all of it, from its payment method (a Xero bank account), on its date."""
    assert bill.bank_account is not None
    return {
        "Invoice": {"InvoiceID": invoice_id},
        "Account": {"AccountID": bill.bank_account.remote_id},
        "Date": bill.date.isoformat(),
        "Amount": _amount(bill.total),
    }


def validation_messages(body: Any) -> list[str]:
    """Xero's validation messages, in order, each once: `Elements[].ValidationErrors[].Message` (or an
    element's own: an invoice's, a payment's), else the body's `Message` / `Detail`."""
    messages: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            if text not in messages:
                messages.append(text)

    if isinstance(body, dict):
        elements = body.get("Elements") or body.get("Invoices") or body.get("Payments") or []
        for element in elements if isinstance(elements, list) else []:
            if not isinstance(element, dict):
                continue
            errors = element.get("ValidationErrors")
            for error in errors if isinstance(errors, list) else []:
                if isinstance(error, dict):
                    add(error.get("Message"))
        if not messages:
            add(body.get("Message") or body.get("Detail") or body.get("Title"))
    return messages


CLASSES: tuple[tuple[ErrorClass, re.Pattern[str]], ...] = (
    (ErrorClass.LOCK_DATE, re.compile(r"lock date|locked period|period is locked", re.I)),
    (ErrorClass.ARCHIVED, re.compile(r"archived|deleted", re.I)),
    (ErrorClass.TAX_MISMATCH, re.compile(r"tax ?type|tax rate|tax code", re.I)),
    (ErrorClass.CURRENCY, re.compile(r"currenc", re.I)),
    (ErrorClass.DUPLICATE, re.compile(r"must be unique|already exists|duplicate", re.I)),
)


def classify(messages: list[str]) -> ErrorClass:
    """The class of Xero's first message that says what is wrong (INVALID when none does)."""
    for message in messages:
        for error_class, pattern in CLASSES:
            if pattern.search(message):
                return error_class
    return ErrorClass.INVALID


def _refused(bill: Bill, messages: list[str], fallback: str) -> PublishOutcome:
    text = "; ".join(messages) if messages else fallback
    return PublishOutcome.failed(bill.item_id, classify(messages), f"Xero refused the bill: {text}")


def publish_outcome(bill: Bill, response: httpx.Response, what: str) -> PublishOutcome:
    """What Xero's answer to one PUT means for the bill. Raises ConnectionExpired for an authorisation
    Xero no longer takes (or an organisation no longer connected)."""
    refused = _refusal(
        bill,
        response,
        SCOPE_REFUSED,  # a grant without the invoices scope
        lambda messages, fallback: _refused(bill, messages, fallback),
    )
    if refused is not None:
        return refused
    try:
        payload = decode_json(response, LABEL, what)
        [invoice] = expect_list(payload, "Invoices", LABEL, what)
    except (InvalidData, ValueError) as exc:
        message = str(exc) if isinstance(exc, InvalidData) else f"Xero sent no invoice back for {what}"
        # It may have been written: sending it again (same key) is safe.
        return PublishOutcome.failed(bill.item_id, ErrorClass.UNAVAILABLE, f"{message}; try again")
    if invoice.get("HasErrors") is True:
        return _refused(bill, validation_messages({"Elements": [invoice]}), "HasErrors")
    invoice_id = invoice.get("InvoiceID")
    if not isinstance(invoice_id, str) or not invoice_id.strip():
        return PublishOutcome.failed(
            bill.item_id, ErrorClass.UNAVAILABLE, f"Xero sent an invoice without its InvoiceID for {what}"
        )
    return PublishOutcome(bill.item_id, invoice_id.strip())


def _refusal(
    bill: Bill,
    response: httpx.Response,
    scope_refused: str,
    refused: Callable[[list[str], str], PublishOutcome],
) -> PublishOutcome | None:
    """The outcome of an answer that is not a success (None for a success): a grant without the scope
    is `EXPIRED` with `scope_refused`; Xero's validation messages go to `refused(messages, fallback)`.
    Raises ConnectionExpired for an authorisation Xero no longer takes (or an organisation no longer
    connected)."""
    status = response.status_code
    if status in (401, 403):
        detail = response_detail(response)
        if detail == "AuthorizationUnsuccessful":
            return PublishOutcome.failed(bill.item_id, ErrorClass.EXPIRED, scope_refused)
        if status == 403:
            raise ConnectionExpired(EXPIRED_TENANT)
        suffix = f": {detail}" if detail else ""
        raise ConnectionExpired(f"Connection is expired (Xero refused the access token{suffix}); reconnect")
    if status < 300:
        return None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    fallback = response_detail(response) or f"HTTP {status} {response.reason_phrase}".strip()
    return refused(validation_messages(body), fallback)


def _in_xero(bill: Bill, invoice_id: str) -> str:
    named = f"{bill.reference}, InvoiceID {invoice_id}" if bill.reference else f"InvoiceID {invoice_id}"
    return f"The bill is in Xero ({named}) awaiting payment"


def payment_outcome(bill: Bill, invoice_id: str, response: httpx.Response, what: str) -> PublishOutcome:
    """What Xero's answer to the payment of a bill it holds means: published (the bill's InvoiceID) or a
    failure saying the bill is in Xero and why its payment was refused. Raises ConnectionExpired as for
    the bill."""
    where = _in_xero(bill, invoice_id)
    refused = _refusal(
        bill,
        response,
        f"{where}; {PAYMENT_SCOPE_REFUSED}",  # a grant without the payments scope
        lambda messages, fallback: _payment_refused(bill, where, messages, fallback),
    )
    if refused is not None:
        return refused
    try:
        payload = decode_json(response, LABEL, what)
        [payment] = expect_list(payload, "Payments", LABEL, what)
    except (InvalidData, ValueError) as exc:
        message = str(exc) if isinstance(exc, InvalidData) else f"Xero sent no payment back for {what}"
        # It may have been recorded: sending it again (same key) is safe.
        return PublishOutcome.failed(
            bill.item_id,
            ErrorClass.UNAVAILABLE,
            f"{where}; its payment is not known to be recorded: {message}",
        )
    if payment.get("HasValidationErrors") is True or payment.get("ValidationErrors"):
        return _payment_refused(
            bill, where, validation_messages({"Elements": [payment]}), "HasValidationErrors"
        )
    return PublishOutcome(bill.item_id, invoice_id)


def _payment_refused(bill: Bill, where: str, messages: list[str], fallback: str) -> PublishOutcome:
    text = "; ".join(messages) if messages else fallback
    return PublishOutcome.failed(
        bill.item_id, classify(messages), f"{where}, but Xero refused its payment: {text}"
    )
