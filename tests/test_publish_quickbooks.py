"""Publishing bills to QuickBooks Online (docs/publishing.md), against the sandbox over loopback.

Bills are built from the connector's own fetched lists, as the service builds them; the sandbox answers as
Intuit documents (Bill, Vendor, TaxService, Preferences, requestid, faults). The fault mapping is also
checked alone over `httpx.MockTransport`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from dext_tui.connectors import oauth
from dext_tui.connectors.cloud_http import RetryPolicy
from dext_tui.connectors.oauth import OAuthClient, Tokens
from dext_tui.connectors.quickbooks import (
    REQUEST_ID_MAX,
    QuickBooksConnector,
    bill_json,
    bill_outcome,
    classify_fault,
    fault_errors,
    fault_text,
    request_id,
)
from dext_tui.connectors.tokens import TokenStore
from dext_tui.core.domain import ALL_KINDS, ItemStatus, Kind, RemoteItem
from dext_tui.core.errors import ConnectionExpired
from dext_tui.core.publishing import Bill, BillLine, ErrorClass, PublishOutcome, RemoteRef
from dext_tui.sandbox import Sandbox

WHEN = date(2026, 3, 2)


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


FAST = RetryPolicy(sleep=_no_wait, backoff=(0.0,), timeout=10.0)


# -- the sandbox, a connection to it, and bills made from its lists ---------------------------------


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox(port=0, vendors=40, customers=10, rate_limit=False) as server:
        yield server


@pytest.fixture
def sb(sandbox_server: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    sandbox_server.reset(vendors=40, customers=10, rate_limit=False)
    monkeypatch.setenv("DEXT_TUI_SANDBOX_URL", sandbox_server.url)
    return sandbox_server


def connect(sb: Sandbox, tmp_path: Path, policy: RetryPolicy = FAST) -> QuickBooksConnector:
    """A connection as after a login, with tokens the sandbox issues without a browser."""
    issued = sb.issue_tokens("quickbooks")
    tokens = Tokens(
        issued["access_token"],
        issued["refresh_token"],
        datetime.now(UTC) + timedelta(seconds=int(issued["expires_in"])),
        {"realmId": issued["realmId"]},
    )
    store = TokenStore(tmp_path / "tokens")
    store.save("qbo-1", tokens)
    client = oauth.client_from_config("quickbooks", {})
    return QuickBooksConnector(sb.qbo_realm_id, None, "qbo-1", store, client, policy=policy)


def control(sb: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"{sb.url}/_sandbox/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def api(sb: Sandbox, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A call to the company's API with a token of its own (what a user does in QuickBooks)."""
    token = sb.issue_tokens("quickbooks")["access_token"]
    url = f"{sb.url}/quickbooks.api.intuit.com/v3/company/{sb.qbo_realm_id}/{path}"
    return httpx.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def query(sb: Sandbox, text: str) -> dict[str, Any]:
    body = api(sb, "GET", "query", params={"query": text}).json()
    return body["QueryResponse"]  # type: ignore[no-any-return]


def published(sb: Sandbox) -> dict[str, dict[str, Any]]:
    return {b["Id"]: b for b in control(sb, "GET", "quickbooks/bills")["bills"]}


class Lists:
    """The connector's fetched lists, as RemoteRefs by name (what the service resolves a bill to)."""

    def __init__(self, lists: dict[Kind, list[RemoteItem]]) -> None:
        self.lists = lists

    def ref(self, kind: Kind, name: str) -> RemoteRef:
        for item in self.lists[kind]:
            if item.name == name or item.code == name:
                return RemoteRef(item.remote_id, item.code, item.name, dict(item.data or {}))
        raise AssertionError(f"no {kind} {name!r}")

    def supplier(self, index: int = 0) -> RemoteRef:
        active = [i for i in self.lists[Kind.SUPPLIERS] if i.status is ItemStatus.ACTIVE]
        item = active[index]
        return RemoteRef(item.remote_id, item.code, item.name, dict(item.data or {}))


async def fetched(connector: QuickBooksConnector) -> Lists:
    return Lists((await connector.fetch(ALL_KINDS)).lists)


def line(
    amount: str,
    category: RemoteRef,
    tax_code: RemoteRef | None,
    *,
    tax: str | None = None,
    tracking: RemoteRef | None = None,
    description: str | None = None,
) -> BillLine:
    return BillLine(
        Decimal(amount), None if tax is None else Decimal(tax), category, tax_code, tracking, description
    )


def bill(
    n: int,
    supplier: RemoteRef | None,
    lines: list[BillLine],
    *,
    supplier_name: str | None = None,
    reference: str | None = None,
    currency: str = "GBP",
    when: date = WHEN,
    description: str | None = None,
    tax: str | None = None,
) -> Bill:
    total = sum((ln.amount for ln in lines), Decimal(0))
    return Bill(
        item_id=n,
        uid=str(uuid.UUID(int=n)),
        date=when,
        supplier=supplier,
        supplier_name=supplier_name or (supplier.name if supplier else ""),
        reference=reference if reference is not None else f"REF-{n}",
        currency=currency,
        total=total,
        tax=None if tax is None else Decimal(tax),
        bank_account=None,
        paid=False,
        description=description,
        lines=tuple(lines),
    )


# -- fetch: the lock date and tax codes a bill cannot use -------------------------------------------


async def test_fetch_reads_the_book_close_date_and_marks_sales_only_tax_codes(
    sb: Sandbox, tmp_path: Path
) -> None:
    made = api(
        sb,
        "POST",
        "taxservice/taxcode",
        json={
            "TaxCode": "20.0% Sales only",
            "TaxRateDetails": [{"TaxRateName": "Sales 20", "RateValue": "20", "TaxApplicableOn": "Sales"}],
        },
    )
    assert made.status_code == 200, made.text
    control(sb, "POST", "quickbooks/lockdate", {"date": "2025-12-31"})
    connector = connect(sb, tmp_path)
    sb.reset_calls()
    result = await connector.fetch(ALL_KINDS)
    assert result.lock_date == date(2025, 12, 31)
    assert sb.call_count("/query") == 8  # the seven entities of the lists, and Preferences once
    codes = {i.remote_id: i for i in result.lists[Kind.TAX_CODES]}
    sales_only = codes[made.json()["TaxCodeId"]]
    assert sales_only.data == {"rate": "20", "purchases": False}
    assert all("purchases" not in (c.data or {}) for c in codes.values() if c is not sales_only)

    control(sb, "POST", "quickbooks/lockdate", {"date": None})
    assert (await connector.fetch((Kind.SUPPLIERS,))).lock_date is None


# -- publishing ------------------------------------------------------------------------------------


async def test_bills_from_the_fetched_lists_are_created_with_their_totals_vendor_and_accounts(
    sb: Sandbox, tmp_path: Path
) -> None:
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, zero = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.TAX_CODES, "0.0% Z")
    stationery, travel = lists.ref(Kind.CATEGORIES, "7501"), lists.ref(Kind.CATEGORIES, "Travel")
    joinery = lists.ref(Kind.TRACKING, "Class: Joinery")
    workshop = lists.ref(Kind.TRACKING, "Location: Workshop")
    supplier, other = lists.supplier(0), lists.supplier(1)
    chairs = bill(
        1,
        supplier,
        [line("120.00", stationery, vat20, tax="20.00", tracking=joinery)],
        reference="INV-104",
        description="Office chairs",
        tax="20.00",
    )
    trip = bill(
        2,
        other,
        [
            line("60.00", travel, vat20, tracking=workshop, description="Train"),
            line("15.50", travel, zero, tracking=workshop, description="Sandwich"),
        ],
    )
    seen: list[PublishOutcome] = []
    outcomes = await connector.publish([chairs, trip], on_outcome=seen.append)
    assert seen == outcomes and [o.item_id for o in outcomes] == [1, 2]
    assert all(o.ok and not o.already and o.remote_id for o in outcomes), outcomes

    bills = published(sb)
    assert len(bills) == 2
    first, second = bills[outcomes[0].remote_id or ""], bills[outcomes[1].remote_id or ""]
    assert first["TotalAmt"] == 120.0 and first["TxnTaxDetail"]["TotalTax"] == 20.0
    assert first["VendorRef"]["value"] == supplier.remote_id
    assert (first["DocNumber"], first["PrivateNote"], first["TxnDate"]) == (
        "INV-104",
        "Office chairs",
        "2026-03-02",
    )
    assert first["GlobalTaxCalculation"] == "TaxInclusive" and first["CurrencyRef"]["value"] == "GBP"
    [only] = first["Line"]
    detail = only["AccountBasedExpenseLineDetail"]
    assert (only["Amount"], detail["TaxInclusiveAmt"]) == (100.0, 120.0)
    assert detail["AccountRef"] == {"value": stationery.remote_id, "name": "Office Expenses:Stationery"}
    assert detail["TaxCodeRef"]["value"] == vat20.remote_id
    assert detail["ClassRef"]["value"] == joinery.remote_id.removeprefix("class:")

    assert second["TotalAmt"] == 75.5 and second["TxnTaxDetail"]["TotalTax"] == 10.0
    assert second["VendorRef"]["value"] == other.remote_id
    assert [ln["Amount"] for ln in second["Line"]] == [50.0, 15.5]  # 60.00 less 20% VAT; zero rated
    assert [ln["Description"] for ln in second["Line"]] == ["Train", "Sandwich"]
    assert second["DepartmentRef"]["value"] == workshop.remote_id.removeprefix("department:")
    # QuickBooks itself shows the same bill.
    read = api(sb, "GET", f"bill/{outcomes[1].remote_id}").json()["Bill"]
    assert read["TotalAmt"] == 75.5
    assert (
        query(sb, "select * from Bill where DocNumber = 'INV-104'")["Bill"][0]["Id"] == outcomes[0].remote_id
    )


async def test_a_new_supplier_creates_its_vendor_once_and_a_name_already_there_is_reused(
    sb: Sandbox, tmp_path: Path
) -> None:
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, stationery = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.CATEGORIES, "7501")
    existing = lists.supplier(3)
    vendors_before = len(lists.lists[Kind.SUPPLIERS])
    name = "O'Hara Brand New Timber Ltd"
    bills = [
        bill(1, None, [line("12.00", stationery, vat20)], supplier_name=name),
        bill(2, None, [line("24.00", stationery, vat20)], supplier_name=name),
        bill(3, None, [line("36.00", stationery, vat20)], supplier_name=existing.name),  # not refreshed yet
    ]
    sb.reset_calls()
    outcomes = await connector.publish(bills)
    assert all(o.ok for o in outcomes), outcomes
    assert sb.call_count("/vendor", method="POST") == 2  # the new name once; the known name refused (6240)

    [vendor] = query(sb, "select * from Vendor where DisplayName = 'O\\'Hara Brand New Timber Ltd'")["Vendor"]
    assert vendor["CurrencyRef"]["value"] == "GBP"
    made = published(sb)
    vendor_of = [made[o.remote_id or ""]["VendorRef"]["value"] for o in outcomes]
    assert vendor_of == [vendor["Id"], vendor["Id"], existing.remote_id]
    after = await connector.fetch((Kind.SUPPLIERS,))
    assert len(after.lists[Kind.SUPPLIERS]) == vendors_before + 1


async def test_publishing_the_same_bills_again_creates_nothing(sb: Sandbox, tmp_path: Path) -> None:
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, stationery = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.CATEGORIES, "7501")
    bills = [
        bill(1, lists.supplier(0), [line("48.00", stationery, vat20)]),
        bill(2, None, [line("9.99", stationery, vat20)], supplier_name="Fresh Face Supplies"),
    ]
    assert len(bills[0].idempotency_key) > REQUEST_ID_MAX  # so the requestid is its digest
    first = await connector.publish(bills)
    vendors = len((await connector.fetch((Kind.SUPPLIERS,))).lists[Kind.SUPPLIERS])
    sb.reset_calls()
    again = await connector.publish(bills)  # a retry after a crash: the same requestids
    assert [o.remote_id for o in again] == [o.remote_id for o in first] and all(o.ok for o in again)
    assert sb.call_count("/bill", method="POST") == 2
    assert len(published(sb)) == 2
    assert len((await connector.fetch((Kind.SUPPLIERS,))).lists[Kind.SUPPLIERS]) == vendors
    # (`already` is told from the answer's Date against the Bill's CreateTime: see the mock test below;
    # the sandbox's Date header keeps the real time when its clock is moved.)

    # A bill changed after it was sent is another request: a new bill.
    changed = bill(1, lists.supplier(0), [line("49.00", stationery, vat20)], reference="REF-1b")
    [other] = await connector.publish([changed])
    assert other.ok and other.remote_id not in {o.remote_id for o in first}
    assert len(published(sb)) == 3


async def test_a_revoked_authorisation_is_connection_expired_and_nothing_is_sent(
    sb: Sandbox, tmp_path: Path
) -> None:
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, stationery = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.CATEGORIES, "7501")
    bills = [bill(n, lists.supplier(0), [line("10.00", stationery, vat20)]) for n in (1, 2, 3)]

    sb.expire_tokens()  # a lapsed access token is refreshed, then the bills go
    assert all(o.ok for o in await connector.publish(bills[:1]))
    assert connector.tokens.refreshes == 1

    sb.revoke_all_tokens()
    seen: list[PublishOutcome] = []
    with pytest.raises(ConnectionExpired, match=r"^Connection is expired"):
        await connector.publish(bills[1:], on_outcome=seen.append)
    assert seen == [] and len(published(sb)) == 1


async def test_refusals_are_classified_and_quote_quickbooks(sb: Sandbox, tmp_path: Path) -> None:
    made = api(
        sb,
        "POST",
        "taxservice/taxcode",
        json={"TaxCode": "Sales VAT", "TaxRateDetails": [{"TaxRateName": "SV", "RateValue": 20}]},
    )
    assert made.status_code == 200, made.text
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, stationery = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.CATEGORIES, "7501")
    sales_only = lists.ref(Kind.TAX_CODES, "Sales VAT")
    assert sales_only.data["purchases"] is False
    fax = lists.ref(Kind.CATEGORIES, "7560")  # "Fax and Telex", inactive
    supplier = lists.supplier(0)
    ok = bill(1, supplier, [line("30.00", stationery, vat20)], reference="DUP-1")
    assert (await connector.publish([ok]))[0].ok

    control(sb, "POST", "quickbooks/lockdate", {"date": "2026-01-31"})
    bills = [
        bill(2, supplier, [line("30.00", stationery, vat20)], when=date(2026, 1, 31)),
        bill(3, supplier, [line("30.00", fax, vat20)]),
        bill(4, supplier, [line("31.00", stationery, vat20)], reference="dup-1"),
        bill(5, supplier, [line("30.00", stationery, sales_only)]),
        bill(6, supplier, [line("30.00", stationery, vat20)], currency="EUR"),
        bill(7, supplier, [line("30.00", stationery, vat20)], reference="A" * 22),
    ]
    outcomes = await connector.publish(bills)
    assert [o.error_class for o in outcomes] == [
        ErrorClass.LOCK_DATE,
        ErrorClass.ARCHIVED,
        ErrorClass.DUPLICATE,
        ErrorClass.TAX_MISMATCH,
        ErrorClass.CURRENCY,
        ErrorClass.INVALID,
    ]
    messages = [o.message or "" for o in outcomes]
    assert all(m.startswith("QuickBooks refused the bill: ") and "\n" not in m for m in messages)
    assert "The account period has closed" in messages[0] and messages[0].endswith("(code 6210)")
    assert (
        "Something you're trying to use has been made inactive" in messages[1] and "(code 610)" in messages[1]
    )
    assert "Duplicate Document Number Error" in messages[2] and "DocNumber=dup-1" in messages[2]
    assert "Sales VAT has no purchase tax rates" in messages[3] and "(code 6000)" in messages[3]
    assert "Multicurrency is not turned on" in messages[4]
    assert "Max:21 supported" in messages[5] and "(code 2050)" in messages[5]
    assert len(published(sb)) == 1

    # With multicurrency on: a new supplier billing in euros becomes a euro vendor; a pound vendor's
    # bill in euros is refused.
    control(sb, "POST", "quickbooks/multicurrency", {"enabled": True})
    euro = bill(8, None, [line("40.00", stationery, vat20)], supplier_name="Euro Tools GmbH", currency="EUR")
    mixed = bill(9, supplier, [line("40.00", stationery, vat20)], currency="EUR")
    new, refused = await connector.publish([euro, mixed])
    assert new.ok and published(sb)[new.remote_id or ""]["CurrencyRef"]["value"] == "EUR"
    assert refused.error_class is ErrorClass.CURRENCY and "the vendor" in (refused.message or "")


async def test_an_outage_is_unavailable_for_every_bill_not_sent(sb: Sandbox, tmp_path: Path) -> None:
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, stationery = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.CATEGORIES, "7501")
    bills = [bill(n, lists.supplier(0), [line("10.00", stationery, vat20)]) for n in range(1, 9)]
    sb.add_fault("status", status=503, count=-1, path="/bill")
    outcomes = await connector.publish(bills)
    assert [o.error_class for o in outcomes] == [ErrorClass.UNAVAILABLE] * 8
    assert "QuickBooks did not answer: HTTP 503" in (outcomes[0].message or "")
    assert sb.call_count("/bill", method="POST") <= 5 * FAST.attempts  # those in flight only
    sb.clear_faults()
    assert all(o.ok for o in await connector.publish(bills))


async def test_a_bill_with_two_locations_is_refused_before_it_is_sent(sb: Sandbox, tmp_path: Path) -> None:
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, stationery = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.CATEGORIES, "7501")
    site, workshop = (
        lists.ref(Kind.TRACKING, "Location: Site"),
        lists.ref(Kind.TRACKING, "Location: Workshop"),
    )
    two = bill(
        1,
        lists.supplier(0),
        [line("10.00", stationery, vat20, tracking=site), line("5.00", stationery, vat20, tracking=workshop)],
    )
    sb.reset_calls()
    [outcome] = await connector.publish([two])
    assert outcome.error_class is ErrorClass.INVALID and "one location per bill" in (outcome.message or "")
    assert sb.call_count("/bill") == 0


# -- the sandbox's own rules ------------------------------------------------------------------------


def test_sandbox_requestid_vendor_names_and_preferences(sb: Sandbox) -> None:
    [vendor, *_] = query(sb, "select * from Vendor")["Vendor"]
    taken = api(sb, "POST", "vendor", json={"DisplayName": vendor["DisplayName"].upper()})
    assert taken.status_code == 400
    assert taken.json()["Fault"]["Error"][0]["code"] == "6240"
    first = api(sb, "POST", "vendor", params={"requestid": "r-1"}, json={"DisplayName": "Quill & Co"})
    repeat = api(sb, "POST", "vendor", params={"requestid": "r-1"}, json={"DisplayName": "Quill & Co"})
    assert first.status_code == repeat.status_code == 200 and first.content == repeat.content
    other = api(sb, "POST", "bill", params={"requestid": "r-1"}, json={})
    assert other.json()["Fault"]["Error"][0]["code"] == "600"
    too_long = api(sb, "POST", "vendor", params={"requestid": "x" * 51}, json={"DisplayName": "Long"})
    assert too_long.status_code == 400
    [prefs] = query(sb, "select * from Preferences")["Preferences"]
    assert "BookCloseDate" not in prefs["AccountingInfoPrefs"]
    assert prefs["CurrencyPrefs"] == {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "GBP"}}
    control(sb, "POST", "quickbooks/lockdate", {"date": "2025-03-31"})
    [prefs] = query(sb, "select * from Preferences")["Preferences"]
    assert prefs["AccountingInfoPrefs"]["BookCloseDate"] == "2025-03-31" and prefs["SyncToken"] == "1"
    refused = httpx.post(f"{sb.url}/_sandbox/quickbooks/lockdate", json={"date": "31/03/2025"}, timeout=10)
    assert refused.status_code == 400


# -- the mapping alone -----------------------------------------------------------------------------


def fault(code: str, message: str, detail: str) -> dict[str, Any]:
    return {
        "Fault": {"Error": [{"Message": message, "Detail": detail, "code": code}], "type": "ValidationFault"}
    }


@pytest.mark.parametrize(
    ("code", "message", "detail", "expected"),
    [
        (
            "6140",
            "Duplicate Document Number Error",
            "Duplicate Document Number Error : x",
            ErrorClass.DUPLICATE,
        ),
        ("6210", "Account Period Closed, Cannot Update Through Services API", "closed", ErrorClass.LOCK_DATE),
        ("6200", "Account Period Closed", "", ErrorClass.LOCK_DATE),
        ("610", "Object Not Found", "Object Not Found : made inactive", ErrorClass.ARCHIVED),
        (
            "2500",
            "Invalid Reference Id",
            "Invalid Reference Id : Accounts element id 9 not found",
            ErrorClass.ARCHIVED,
        ),
        (
            "6000",
            "A business validation error",
            "Business Validation Error: wrong currency",
            ErrorClass.CURRENCY,
        ),
        (
            "6000",
            "A business validation error",
            "Make sure all your transactions have a VAT rate",
            ErrorClass.TAX_MISMATCH,
        ),
        ("6000", "A business validation error", "You must set a transaction amount.", ErrorClass.INVALID),
        ("2050", "String length is either shorter or longer", "Max:21 supported", ErrorClass.INVALID),
    ],
)
def test_faults_are_classified_by_code_then_words(
    code: str, message: str, detail: str, expected: ErrorClass
) -> None:
    assert classify_fault(fault_errors(fault(code, message, detail))) is expected


def test_fault_text_is_one_line_without_repeating_the_message() -> None:
    errors = fault_errors(
        fault(
            "610",
            "Object Not Found",
            "Object Not Found : Something you're trying to use has\nbeen made inactive.",
        )
    )
    assert fault_text(errors) == (
        "Object Not Found : Something you're trying to use has been made inactive. (code 610)"
    )
    assert fault_text(fault_errors(fault("6000", "A business validation error", "Detail here"))) == (
        "A business validation error: Detail here (code 6000)"
    )


def _sample_bill() -> Bill:
    category = RemoteRef("19", "6100", "Advertising", {"type": "Expense"})
    code = RemoteRef("1", "20.0% S", "Standard rate 20%", {"rate": "20"})
    return bill(1, RemoteRef("5", None, "Acme Ltd"), [line("100.00", category, code)])


def test_the_bill_body_is_tax_inclusive_and_the_answer_is_read() -> None:
    sample = _sample_bill()
    body = bill_json(sample, "5")
    assert body["GlobalTaxCalculation"] == "TaxInclusive" and body["VendorRef"] == {"value": "5"}
    [only] = body["Line"]
    assert only["Amount"] == 83.33 and only["AccountBasedExpenseLineDetail"]["TaxInclusiveAmt"] == 100.0
    json.dumps(body)  # plain JSON

    request = httpx.Request("POST", "https://quickbooks.api.intuit.com/v3/company/1/bill")
    created = {"Bill": {"Id": "145", "MetaData": {"CreateTime": "2026-03-02T09:00:00-08:00"}}}
    now = {"Date": "Mon, 02 Mar 2026 17:00:30 GMT"}
    outcome = bill_outcome(sample, httpx.Response(200, json=created, headers=now, request=request))
    assert (outcome.remote_id, outcome.already) == ("145", False)
    later = {"Date": "Mon, 02 Mar 2026 18:00:00 GMT"}
    assert bill_outcome(sample, httpx.Response(200, json=created, headers=later, request=request)).already
    # QuickBooks sometimes refuses with HTTP 200 and a Fault.
    refused = fault("6140", "Duplicate Document Number Error", "Duplicate Document Number Error : used")
    outcome = bill_outcome(sample, httpx.Response(200, json=refused, request=request))
    assert outcome.error_class is ErrorClass.DUPLICATE
    assert (
        bill_outcome(sample, httpx.Response(200, json={}, request=request)).error_class
        is ErrorClass.UNAVAILABLE
    )
    with pytest.raises(ConnectionExpired):
        bill_outcome(
            sample, httpx.Response(401, json=fault("3200", "AuthenticationFailed", ""), request=request)
        )
    with pytest.raises(ConnectionExpired, match="refused access to this company"):
        bill_outcome(
            sample,
            httpx.Response(403, json=fault("3100", "ApplicationAuthorizationFailed", ""), request=request),
        )


def test_requestid_fits_intuits_fifty_characters() -> None:
    short = "dext-abc-0123456789abcdef"
    assert request_id(short) == short
    long_key = _sample_bill().idempotency_key
    assert len(long_key) > REQUEST_ID_MAX
    hashed = request_id(long_key)
    assert len(hashed) <= REQUEST_ID_MAX and hashed == request_id(long_key) and hashed.startswith("dext-")
    assert request_id(long_key + "x") != hashed


async def test_a_refused_new_supplier_fails_its_bills_with_quickbooks_words(tmp_path: Path) -> None:
    """Over a mock: the vendor refused for its currency; the bill is CURRENCY and no bill is sent."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        assert len(request.url.params["requestid"]) <= REQUEST_ID_MAX
        return httpx.Response(
            400,
            json=fault(
                "6000",
                "A business validation error has occurred while processing your request",
                "Business Validation Error: Multicurrency is not turned on for this company",
            ),
        )

    store = TokenStore(tmp_path / "tokens")
    store.save("qbo-1", Tokens("a", "r", datetime.now(UTC) + timedelta(hours=1), {"realmId": "123"}))
    client = OAuthClient(oauth.QUICKBOOKS, "id", "secret")
    connector = QuickBooksConnector(
        "123", None, "qbo-1", store, client, transport=httpx.MockTransport(handler), policy=FAST
    )
    category = RemoteRef("19", None, "Advertising")
    bills = [
        bill(n, None, [line("5.00", category, None)], supplier_name="Zürich Tools AG", currency="CHF")
        for n in (1, 2)
    ]
    outcomes = await connector.publish(bills)
    assert [o.error_class for o in outcomes] == [ErrorClass.CURRENCY, ErrorClass.CURRENCY]
    assert outcomes[0].message == (
        "QuickBooks refused the new supplier 'Zürich Tools AG': A business validation error has occurred "
        "while processing your request: Business Validation Error: Multicurrency is not turned on for this "
        "company (code 6000)"
    )
    assert calls == ["/v3/company/123/vendor"]  # once for the name, not once a bill


# -- a paid bill: the Bill, then its BillPayment from the payment method ------------------------------


def paid(unpaid: Bill, account: RemoteRef | None) -> Bill:
    return dataclasses.replace(unpaid, paid=True, bank_account=account)


def payments(sb: Sandbox) -> list[dict[str, Any]]:
    return control(sb, "GET", "quickbooks/bills")["bill_payments"]  # type: ignore[no-any-return]


async def test_a_paid_bill_is_paid_in_full_from_its_account_once(sb: Sandbox, tmp_path: Path) -> None:
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, stationery = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.CATEGORIES, "7501")
    bank = lists.ref(Kind.BANK_ACCOUNTS, "Current Account")
    card = lists.ref(Kind.BANK_ACCOUNTS, "Business Credit Card")
    assert (bank.data["type"], card.data["type"]) == ("Bank", "Credit Card")
    supplier = lists.supplier(0)
    bills = [
        paid(bill(1, supplier, [line("120.00", stationery, vat20, tax="20.00")], tax="20.00"), bank),
        paid(bill(2, None, [line("45.60", stationery, vat20)], supplier_name="Card Shop Ltd"), card),
        bill(3, supplier, [line("30.00", stationery, vat20)]),  # owed: stays open
        paid(bill(4, supplier, [line("12.00", stationery, vat20)]), None),  # no payment method: open
    ]
    sb.reset_calls()
    first = await connector.publish(bills)
    assert all(o.ok and o.remote_id and not o.already for o in first), first
    made = published(sb)
    assert len(made) == 4
    assert [made[o.remote_id or ""]["Balance"] for o in first] == [0, 0, 30.0, 12.0]
    assert sb.call_count("/billpayment", method="POST") == 2

    by_bill = {p["Line"][0]["LinkedTxn"][0]["TxnId"]: p for p in payments(sb)}
    assert set(by_bill) == {first[0].remote_id, first[1].remote_id}
    check, charge = by_bill[first[0].remote_id or ""], by_bill[first[1].remote_id or ""]
    assert (check["PayType"], check["CheckPayment"]["BankAccountRef"]["value"]) == ("Check", bank.remote_id)
    assert (charge["PayType"], charge["CreditCardPayment"]["CCAccountRef"]["value"]) == (
        "CreditCard",
        card.remote_id,
    )
    assert (check["TotalAmt"], check["TxnDate"], check["CurrencyRef"]["value"]) == (
        120.0,
        "2026-03-02",
        "GBP",
    )
    assert check["VendorRef"]["value"] == supplier.remote_id
    assert charge["VendorRef"]["value"] == made[first[1].remote_id or ""]["VendorRef"]["value"]
    assert charge["TotalAmt"] == 45.6 and charge["Line"][0]["Amount"] == 45.6
    assert made[first[0].remote_id or ""]["LinkedTxn"] == [
        {"TxnId": check["Id"], "TxnType": "BillPaymentCheck"}
    ]
    # QuickBooks itself shows them.
    assert len(query(sb, "select * from BillPayment")["BillPayment"]) == 2
    assert api(sb, "GET", f"bill/{first[0].remote_id}").json()["Bill"]["Balance"] == 0

    # Publishing them again (a retry after a crash): the same bills answered, no second payment.
    again = await connector.publish(bills)
    assert [o.remote_id for o in again] == [o.remote_id for o in first] and all(o.ok for o in again)
    assert len(published(sb)) == 4 and len(payments(sb)) == 2
    assert sb.call_count("/billpayment", method="POST") == 4  # two more, answered from their requestids


async def test_a_refused_payment_fails_the_bill_and_a_retry_after_the_fix_pays_it_once(
    sb: Sandbox, tmp_path: Path
) -> None:
    connector = connect(sb, tmp_path)
    lists = await fetched(connector)
    vat20, stationery = lists.ref(Kind.TAX_CODES, "20.0% S"), lists.ref(Kind.CATEGORIES, "7501")
    old = lists.ref(Kind.BANK_ACCOUNTS, "1220")  # inactive in QuickBooks
    receipt = paid(bill(1, lists.supplier(0), [line("64.00", stationery, vat20)], reference="RCPT-9"), old)

    [refused] = await connector.publish([receipt])
    assert refused.error_class is ErrorClass.ARCHIVED and not refused.ok
    [made] = published(sb).values()
    assert refused.remote_id == made["Id"] and made["Balance"] == 64.0 and payments(sb) == []
    message = refused.message or ""
    assert message.startswith(f"QuickBooks refused the payment from {old.name!r}; ")
    assert old.name.startswith("Old Building Society Account")
    assert f"the bill is in QuickBooks unpaid (Bill {made['Id']}, RCPT-9)" in message
    assert "made inactive" in message and message.endswith("(code 610)") and "\n" not in message

    # Made active again in QuickBooks (the seeded inactive accounts restored), then published again.
    control(sb, "POST", "changes", {"provider": "quickbooks", "accounts": {"restore": 3}})
    [retried] = await connector.publish([receipt])
    assert retried.ok and retried.remote_id == made["Id"]
    [after] = published(sb).values()
    assert after["Balance"] == 0
    [payment] = payments(sb)
    assert payment["CheckPayment"]["BankAccountRef"]["value"] == old.remote_id
    assert payment["Line"][0]["LinkedTxn"] == [{"TxnId": made["Id"], "TxnType": "Bill"}]


async def test_payment_refusals_are_classified_and_an_expired_grant_is_raised(tmp_path: Path) -> None:
    """Over a mock: the Bill is made (Id 145), its payment answers `refusal`."""
    refusal: dict[str, Any] = {}
    sent: list[tuple[str, dict[str, Any], str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokens/bearer"):  # the refresh after a 401: the grant is gone
            return httpx.Response(400, json={"error": "invalid_grant"})
        body = json.loads(request.content)
        sent.append((request.url.path.rsplit("/", 1)[1], body, request.url.params["requestid"]))
        if request.url.path.endswith("/bill"):
            created = {"Id": "145", "DocNumber": "INV-7", "TotalAmt": 99.99, "Balance": 99.99}
            return httpx.Response(200, json={"Bill": created})
        return httpx.Response(refusal["status"], json=refusal["body"])

    store = TokenStore(tmp_path / "tokens")
    store.save("qbo-1", Tokens("a", "r", datetime.now(UTC) + timedelta(hours=1), {"realmId": "123"}))
    client = OAuthClient(oauth.QUICKBOOKS, "id", "secret")
    connector = QuickBooksConnector(
        "123", None, "qbo-1", store, client, transport=httpx.MockTransport(handler), policy=FAST
    )
    card = RemoteRef("41", "2300", "Business Credit Card", {"type": "Credit Card", "currency": "GBP"})
    receipt = paid(
        bill(
            1, RemoteRef("5", None, "Acme Ltd"), [line("99.99", RemoteRef("19", None, "Advertising"), None)]
        ),
        card,
    )
    cases = [
        ("6210", "Account Period Closed, Cannot Update Through Services API", "closed", ErrorClass.LOCK_DATE),
        ("6000", "A business validation error", "the account is in another currency", ErrorClass.CURRENCY),
        ("610", "Object Not Found", "Object Not Found : made inactive", ErrorClass.ARCHIVED),
        ("6000", "A business validation error", "Something else", ErrorClass.INVALID),
    ]
    for code, message, detail, expected in cases:
        refusal.update(status=400, body=fault(code, message, detail))
        [outcome] = await connector.publish([receipt])
        assert (outcome.error_class, outcome.remote_id) == (expected, "145")
        assert "the bill is in QuickBooks unpaid (Bill 145, INV-7)" in (outcome.message or "")
        assert f"(code {code})" in (outcome.message or "")

    [(_, _, bill_rid), (kind, body, payment_rid)] = sent[:2]
    assert kind == "billpayment" and bill_rid == request_id(receipt.idempotency_key)
    assert payment_rid == request_id(receipt.idempotency_key + "-payment") and len(payment_rid) <= 50
    assert {rid for _, _, rid in sent} == {bill_rid, payment_rid}  # every retry: the same two requestids
    assert body == {
        "VendorRef": {"value": "5"},
        "PayType": "CreditCard",
        "CreditCardPayment": {"CCAccountRef": {"value": "41"}},
        "TotalAmt": 99.99,
        "TxnDate": "2026-03-02",
        "CurrencyRef": {"value": "GBP"},
        "Line": [{"Amount": 99.99, "LinkedTxn": [{"TxnId": "145", "TxnType": "Bill"}]}],
    }

    refusal.update(status=200, body={"BillPayment": {"Id": "146"}})
    assert (await connector.publish([receipt]))[0] == PublishOutcome(1, "145")
    refusal.update(status=401, body=fault("3200", "message=AuthenticationFailed", ""))
    with pytest.raises(ConnectionExpired):
        await connector.publish([receipt])


def test_sandbox_bill_payments_follow_intuits_rules(sb: Sandbox) -> None:
    everything = query(sb, "select * from Account where Active IN (true,false) MAXRESULTS 1000")["Account"]
    accounts = {a["AcctNum"]: a["Id"] for a in everything if a.get("AcctNum")}
    [vendor, other, *_] = query(sb, "select * from Vendor")["Vendor"]
    [code] = query(sb, "select * from TaxCode where Name = '20.0% S'")["TaxCode"]
    made = api(
        sb,
        "POST",
        "bill",
        json={
            "VendorRef": {"value": vendor["Id"]},
            "TxnDate": "2026-03-02",
            "Line": [
                {
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "Amount": 50,
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": {"value": accounts["7501"]},
                        "TaxCodeRef": {"value": code["Id"]},
                    },
                }
            ],
        },
    ).json()["Bill"]
    assert made["Balance"] == 60.0

    def pay(amount: float, rid: str | None = None, **changes: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "VendorRef": {"value": vendor["Id"]},
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": accounts["1200"]}},
            "TotalAmt": amount,
            "TxnDate": "2026-03-02",
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": made["Id"], "TxnType": "Bill"}]}],
        }
        body.update(changes)
        return api(sb, "POST", "billpayment", params={"requestid": rid} if rid else {}, json=body)

    def code_of(response: httpx.Response) -> str:
        assert response.status_code == 400, response.text
        return response.json()["Fault"]["Error"][0]["code"]  # type: ignore[no-any-return]

    card = {"BankAccountRef": {"value": accounts["2300"]}}
    assert code_of(pay(10, CheckPayment=card)) == "6000"  # a card is not a bank account
    old = {"BankAccountRef": {"value": accounts["1220"]}}
    assert code_of(pay(10, CheckPayment=old)) == "610"
    assert code_of(pay(60.01)) == "6000"  # more than the Balance
    assert code_of(pay(0)) == "6000"
    assert code_of(pay(10, VendorRef={"value": other["Id"]})) == "6000"
    assert code_of(pay(10, CurrencyRef={"value": "EUR"})) == "6000"
    assert (
        code_of(pay(10, Line=[{"Amount": 10, "LinkedTxn": [{"TxnId": "999", "TxnType": "Bill"}]}])) == "2500"
    )
    control(sb, "POST", "quickbooks/lockdate", {"date": "2026-03-02"})
    assert code_of(pay(10)) == "6210"
    control(sb, "POST", "quickbooks/lockdate", {"date": None})
    assert payments(sb) == [] and published(sb)[made["Id"]]["Balance"] == 60.0

    part = pay(10, "part-1")
    assert (
        part.status_code == 200 and pay(10, "part-1").content == part.content
    )  # the same requestid: one payment
    assert published(sb)[made["Id"]]["Balance"] == 50.0
    by_card = pay(
        50,
        PayType="CreditCard",
        CheckPayment=None,
        CreditCardPayment={"CCAccountRef": card["BankAccountRef"]},
    )
    assert by_card.status_code == 200, by_card.text
    assert (
        by_card.json()["BillPayment"]["CreditCardPayment"]["CCAccountRef"]["name"] == "Business Credit Card"
    )
    assert published(sb)[made["Id"]]["Balance"] == 0 and len(payments(sb)) == 2
    assert code_of(pay(0.01)) == "6000"  # nothing left to pay
    read = api(sb, "GET", f"billpayment/{part.json()['BillPayment']['Id']}").json()["BillPayment"]
    assert read["TotalAmt"] == 10.0 and read["PayType"] == "Check"
