"""Publishing bills to Xero: the connector against the sandbox over real loopback (which follows Xero's
published contract), and the answer mapping over `httpx.MockTransport`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from dext_tui.connectors import oauth, xero
from dext_tui.connectors.cloud_http import RetryPolicy
from dext_tui.connectors.oauth import OAuthClient, Tokens
from dext_tui.connectors.tokens import TokenStore
from dext_tui.connectors.xero import XeroConnector, classify, invoice_json, list_tenants
from dext_tui.core.domain import ALL_KINDS, ItemStatus, Kind, RemoteItem
from dext_tui.core.errors import ConnectionExpired, InvalidData
from dext_tui.core.publishing import Bill, BillLine, ErrorClass, PublishOutcome, RemoteRef
from dext_tui.sandbox import Sandbox

READ_ONLY = "openid profile email accounting.settings.read accounting.contacts.read offline_access"
DAY = date(2026, 3, 2)
TENANT = "fe79f7dd-b6d4-4a92-ba7b-538af6289c58"  # FakeXero's (test_cloud_connectors)


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


POLICY = RetryPolicy(sleep=no_wait, timeout=10.0)


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox(port=0, contacts=80, rate_limit=False) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    sandbox_server.reset(contacts=80, rate_limit=False)
    monkeypatch.setenv("DEXT_TUI_SANDBOX_URL", sandbox_server.url)
    return sandbox_server


def control(sandbox: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def published(sandbox: Sandbox) -> list[dict[str, Any]]:
    answer = control(sandbox, "GET", "xero/invoices")
    assert answer["count"] == len(answer["invoices"])
    return list(answer["invoices"])


async def login(tmp_path: Path) -> XeroConnector:
    """As a user does it: the connector's own scopes, the browser (the sandbox answers at once)."""
    client = oauth.client_from_config("xero", {})
    pending = oauth.begin(client)
    async with httpx.AsyncClient() as browser:
        landed = (await browser.get(pending.url)).headers["location"]
    tokens = await oauth.complete(client, pending, landed)
    assert "accounting.invoices" in pending.url
    tenant = (await list_tenants(tokens, policy=POLICY))[0]
    return _connector(tmp_path, client, tokens, tenant.id)


def issued(sandbox: Sandbox, tmp_path: Path, scope: str | None = None) -> XeroConnector:
    """Tokens without the browser, for a grant of the given scopes (default: the sandbox's)."""
    payload = sandbox.issue_tokens("xero", scopes=scope.split() if scope else None)
    expires = datetime.now(UTC) + timedelta(seconds=payload["expires_in"])
    tokens = Tokens(payload["access_token"], payload["refresh_token"], expires)
    return _connector(tmp_path, oauth.client_from_config("xero", {}), tokens, payload["tenants"][0])


def _connector(tmp_path: Path, client: OAuthClient, tokens: Tokens, tenant_id: str) -> XeroConnector:
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", tokens)
    return XeroConnector(tenant_id, None, "xero-1", store, client, policy=POLICY)


class Books:
    """The organisation's lists as the connector fetched them, as the service hands them on."""

    def __init__(self, lists: dict[Kind, list[RemoteItem]]) -> None:
        self.lists = lists

    def ref(self, kind: Kind, key: str) -> RemoteRef:
        for item in self.lists[kind]:
            if key in (item.code, item.name, item.remote_id):
                return RemoteRef(item.remote_id, item.code, item.name, dict(item.data or {}))
        raise KeyError(f"{kind}: {key}")

    def supplier(self, status: ItemStatus = ItemStatus.ACTIVE, skip: int = 0) -> RemoteRef:
        items = [i for i in self.lists[Kind.SUPPLIERS] if i.status == status][skip]
        return RemoteRef(items.remote_id, items.code, items.name, dict(items.data or {}))


def bill(
    uid: str,
    supplier: RemoteRef | None,
    lines: list[BillLine],
    *,
    day: date = DAY,
    currency: str = "GBP",
    name: str | None = None,
    reference: str | None = None,
) -> Bill:
    total = sum((ln.amount for ln in lines), Decimal(0))
    taxes = [ln.tax for ln in lines]
    return Bill(
        item_id=int(uid.rsplit("-", 1)[-1]),
        uid=uid,
        date=day,
        supplier=supplier,
        supplier_name=name or (supplier.name if supplier else "?"),
        reference=reference or f"INV-{uid}",
        currency=currency,
        total=total,
        tax=None if None in taxes else sum((t for t in taxes if t is not None), Decimal(0)),
        bank_account=None,
        paid=False,
        description=f"Receipt {uid}",
        lines=tuple(lines),
    )


def line(
    books: Books,
    amount: str,
    account: str,
    tax_type: str,
    tax: str | None = None,
    tracking: str | None = None,
    description: str | None = None,
) -> BillLine:
    return BillLine(
        Decimal(amount),
        None if tax is None else Decimal(tax),
        books.ref(Kind.CATEGORIES, account),
        books.ref(Kind.TAX_CODES, tax_type),
        books.ref(Kind.TRACKING, tracking) if tracking else None,
        description,
    )


# -- against the sandbox ------------------------------------------------------------------------------


async def test_publish_creates_the_bills_once_with_totals_tax_contact_account_tracking(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    connector = await login(tmp_path)
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    bills = [
        bill("b-1", books.supplier(), [line(books, "120.00", "429", "INPUT2", "20.00", "Region: North")]),
        bill("b-2", books.supplier(skip=1), [line(books, "105.00", "461", "RRINPUT")]),  # Xero works out tax
        bill("b-3", None, [line(books, "36.00", "429", "INPUT2", "6.00")], name="Brand New Supplies Ltd"),
        bill(
            "b-4",
            books.supplier(skip=2),
            [
                line(books, "60.00", "461", "INPUT2", "10.00", description="Paper"),
                line(books, "40.00", "404", "EXEMPTINPUT", "0.00", "Region: South", "Card fee"),
            ],
        ),
        *(
            bill(f"b-{n}", books.supplier(skip=n), [line(books, f"{n}.50", "429", "INPUT2")], currency="EUR")
            for n in range(5, 10)
        ),
    ]
    seen: list[PublishOutcome] = []
    outcomes = await connector.publish(bills, on_outcome=seen.append)
    assert seen == outcomes and [o.item_id for o in outcomes] == [b.item_id for b in bills]
    assert all(o.ok and o.remote_id for o in outcomes), outcomes

    invoices = {i["InvoiceID"]: i for i in published(sandbox)}
    assert set(invoices) == {o.remote_id for o in outcomes}
    first = invoices[outcomes[0].remote_id]
    assert (first["Type"], first["Status"], first["LineAmountTypes"]) == ("ACCPAY", "AUTHORISED", "Inclusive")
    assert (first["Total"], first["TotalTax"], first["SubTotal"]) == (120.0, 20.0, 100.0)
    assert first["Contact"]["ContactID"] == bills[0].supplier.remote_id  # type: ignore[union-attr]
    assert first["InvoiceNumber"] == "INV-b-1" and first["CurrencyCode"] == "GBP"
    assert first["DateString"] == first["DueDateString"] == "2026-03-02T00:00:00"
    [item] = first["LineItems"]
    assert (item["AccountCode"], item["TaxType"], item["Quantity"], item["Description"]) == (
        "429",
        "INPUT2",
        1.0,
        "Receipt b-1",
    )
    assert [(t["Name"], t["Option"]) for t in item["Tracking"]] == [("Region", "North")]
    second = invoices[outcomes[1].remote_id]
    assert (second["Total"], second["TotalTax"]) == (105.0, 5.0)  # 5% included, worked out by Xero
    new_supplier = invoices[outcomes[2].remote_id]["Contact"]
    assert new_supplier["Name"] == "Brand New Supplies Ltd"
    split = invoices[outcomes[3].remote_id]
    assert (split["Total"], split["TotalTax"]) == (100.0, 10.0)
    assert [(i["AccountCode"], i["TaxType"], i["Description"]) for i in split["LineItems"]] == [
        ("461", "INPUT2", "Paper"),
        ("404", "EXEMPTINPUT", "Card fee"),
    ]
    assert split["LineItems"][1]["Tracking"][0]["Option"] == "South"
    assert {invoices[o.remote_id]["CurrencyCode"] for o in outcomes[4:]} == {"EUR"}

    # The supplier Xero created is in the next fetch.
    again = Books((await connector.fetch((Kind.SUPPLIERS,))).lists)
    assert again.ref(Kind.SUPPLIERS, "Brand New Supplies Ltd").remote_id == new_supplier["ContactID"]

    # The same bills again (a retry after a crash): the same invoices, nothing new.
    repeat = await connector.publish(bills)
    assert [o.remote_id for o in repeat] == [o.remote_id for o in outcomes] and all(o.ok for o in repeat)
    assert len(published(sandbox)) == len(bills)


async def test_fetch_tells_the_lock_date_and_sales_only_tax_rates(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = issued(sandbox, tmp_path)
    result = await connector.fetch(ALL_KINDS)
    assert result.lock_date is None and result.warnings == []
    taxes = {i.code: i for i in result.lists[Kind.TAX_CODES]}
    assert taxes["OUTPUT2"].data == {"rate": "20", "purchases": False}
    assert taxes["RROUTPUT"].data == {"rate": "5", "purchases": False}
    assert taxes["INPUT2"].data == {"rate": "20"} and taxes["NONE"].data == {"rate": "0"}

    control(sandbox, "POST", "xero/lockdate", {"date": "2026-03-31", "end_of_year": "2025-12-31"})
    assert (await connector.fetch((Kind.CURRENCIES,))).lock_date == date(2026, 3, 31)
    control(sandbox, "POST", "xero/lockdate", {"date": "2026-01-31", "end_of_year": "2026-02-28"})
    assert (await connector.fetch((Kind.CURRENCIES,))).lock_date == date(2026, 2, 28)  # the later one
    control(sandbox, "POST", "xero/lockdate", {"date": None})  # end_of_year not given: kept
    assert (await connector.fetch((Kind.CURRENCIES,))).lock_date == date(2026, 2, 28)
    control(sandbox, "POST", "xero/lockdate", {"date": None, "end_of_year": None})
    assert (await connector.fetch((Kind.CURRENCIES,))).lock_date is None

    refused = httpx.post(f"{sandbox.url}/_sandbox/xero/lockdate", json={"date": "31/03/2026"}, timeout=10)
    assert refused.status_code == 400 and "YYYY-MM-DD" in refused.json()["error"]


async def test_refusals_are_classified_with_xeros_words(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = issued(sandbox, tmp_path)
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    assert books.ref(Kind.CATEGORIES, "424").data["type"] == "OVERHEADS"  # archived in the seed
    archived_supplier = books.supplier(ItemStatus.ARCHIVED)
    good = line(books, "12.00", "429", "INPUT2", "2.00")
    bills = [
        bill("r-1", books.supplier(), [line(books, "50.00", "424", "NONE")]),
        bill("r-2", archived_supplier, [good]),
        bill("r-3", books.supplier(), [line(books, "24.00", "429", "OUTPUT2")]),
        bill("r-4", books.supplier(), [good]),
        bill("r-5", books.supplier(), [good], currency="AUD"),
        bill("r-6", books.supplier(), [line(books, "30.00", "200", "INPUT2")]),  # a sales account
    ]
    outcomes = await connector.publish(bills)
    got = [(o.error_class, o.message) for o in outcomes]
    assert got[0] == (
        ErrorClass.ARCHIVED,
        "Xero refused the bill: The account code '424' has been archived, or deleted. Each line item must "
        "reference a valid account.",
    )
    assert got[1][0] == ErrorClass.ARCHIVED
    assert "The contact with the specified contact details has been archived" in str(got[1][1])
    assert got[2] == (
        ErrorClass.TAX_MISMATCH,
        "Xero refused the bill: The TaxType code 'OUTPUT2' does not exist or cannot be used for this type "
        "of transaction.",
    )
    assert outcomes[3].ok and outcomes[3].remote_id
    assert got[4] == (
        ErrorClass.CURRENCY,
        "Xero refused the bill: Organisation is not subscribed to currency AUD",
    )
    assert got[5] == (
        ErrorClass.TAX_MISMATCH,
        "Xero refused the bill: The TaxType code 'INPUT2' cannot be used with account code '200'",
    )
    assert [i["InvoiceID"] for i in published(sandbox)] == [outcomes[3].remote_id]


async def test_lock_date_refusal_then_a_changed_bill_gets_a_new_key_and_goes_through(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    connector = issued(sandbox, tmp_path)
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    control(sandbox, "POST", "xero/lockdate", {"date": "2026-03-31"})
    locked = bill(
        "l-1", books.supplier(), [line(books, "48.00", "429", "INPUT2", "8.00")], day=date(2026, 3, 31)
    )
    [refused] = await connector.publish([locked])
    assert refused.error_class == ErrorClass.LOCK_DATE
    assert refused.message == (
        "Xero refused the bill: The document date cannot be before the period lock date, currently set at "
        "31-Mar-2026"
    )
    control(sandbox, "POST", "xero/lockdate", {"date": None, "end_of_year": "2026-03-31"})
    [again] = await connector.publish([dataclasses.replace(locked, uid="l-2")])
    assert again.error_class == ErrorClass.LOCK_DATE and "end of year lock date" in str(again.message)
    assert published(sandbox) == []

    moved = dataclasses.replace(locked, date=date(2026, 4, 1))
    assert moved.idempotency_key != locked.idempotency_key
    [ok] = await connector.publish([moved])
    assert ok.ok and [i["InvoiceID"] for i in published(sandbox)] == [ok.remote_id]


async def test_a_grant_that_may_only_read_is_expired_for_publishing(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = issued(sandbox, tmp_path, READ_ONLY)
    books = Books((await connector.fetch(ALL_KINDS)).lists)  # reading is fine
    bills = [bill(f"s-{n}", books.supplier(), [line(books, "10.00", "429", "INPUT2")]) for n in range(1, 13)]
    sandbox.reset_calls()
    outcomes = await connector.publish(bills)
    assert {o.error_class for o in outcomes} == {ErrorClass.EXPIRED}
    assert all("reconnect to allow publishing" in str(o.message) for o in outcomes)
    assert sandbox.call_count("/Invoices", method="PUT") <= 10  # stopped: the bills after were not sent
    assert published(sandbox) == []

    # An app registered before March 2026 holds the broad scope: that writes bills too.
    legacy = issued(sandbox, tmp_path, f"{READ_ONLY} accounting.transactions")
    assert all(o.ok for o in await legacy.publish(bills[:2]))


async def test_revoked_tokens_raise_connection_expired(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = await login(tmp_path)
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    first = bill("x-1", books.supplier(), [line(books, "10.00", "429", "INPUT2")])
    assert (await connector.publish([first]))[0].ok
    sandbox.revoke_all_tokens()
    seen: list[PublishOutcome] = []
    with pytest.raises(ConnectionExpired, match=r"^Connection is expired"):
        await connector.publish(
            [bill(f"x-{n}", books.supplier(), [line(books, "10.00", "429", "INPUT2")]) for n in range(2, 9)],
            on_outcome=seen.append,
        )
    assert seen == [] and len(published(sandbox)) == 1


async def test_xero_down_is_unavailable_for_the_bills_not_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = issued(sandbox, tmp_path)
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    bills = [bill(f"u-{n}", books.supplier(), [line(books, "10.00", "429", "INPUT2")]) for n in range(1, 9)]
    sandbox.add_fault("status", status=503, count=-1, path="/Invoices")
    outcomes = await connector.publish(bills)
    assert {o.error_class for o in outcomes} == {ErrorClass.UNAVAILABLE}
    assert str(outcomes[0].message).startswith("Xero did not answer: HTTP 503")
    sandbox.clear_faults()
    sandbox.add_fault("status", status=502, count=2, path="/Invoices")  # a burst: retried, same key
    assert all(o.ok for o in await connector.publish(bills))
    assert len(published(sandbox)) == len(bills)


# -- the mapping, over MockTransport ------------------------------------------------------------------


def _ref(remote_id: str, code: str | None = None, **data: Any) -> RemoteRef:
    return RemoteRef(remote_id, code, code or remote_id, data)


def _bill(n: int, **changes: Any) -> Bill:
    tracking = _ref("opt-1", category="Region", category_id="cat-1", option="North")
    base = Bill(
        n,
        f"u{n}",
        date(2026, 5, 4),
        _ref("contact-1"),
        "Acme Ltd",
        f"R-{n}",
        "GBP",
        Decimal("12.30"),
        Decimal("2.05"),
        None,
        False,
        None,
        (BillLine(Decimal("12.30"), Decimal("2.05"), _ref("acc-1"), _ref("INPUT2", "INPUT2"), tracking),),
    )
    return dataclasses.replace(base, **changes)


def test_invoice_json_maps_the_bill() -> None:
    body = invoice_json(_bill(1, supplier=None, supplier_name="New Co", description="Taxi"))
    assert json.loads(json.dumps(body)) == {
        "Type": "ACCPAY",
        "Contact": {"Name": "New Co"},
        "Date": "2026-05-04",
        "DueDate": "2026-05-04",
        "Status": "AUTHORISED",
        "LineAmountTypes": "Inclusive",
        "CurrencyCode": "GBP",
        "InvoiceNumber": "R-1",
        "LineItems": [
            {
                "Description": "Taxi",
                "Quantity": 1,
                "UnitAmount": 12.3,
                "AccountID": "acc-1",  # no code: by id
                "TaxType": "INPUT2",
                "TaxAmount": 2.05,
                "Tracking": [
                    {
                        "Name": "Region",
                        "Option": "North",
                        "TrackingOptionID": "opt-1",
                        "TrackingCategoryID": "cat-1",
                    }
                ],
            }
        ],
    }
    coded = invoice_json(_bill(2, reference=None))["LineItems"][0]
    assert "InvoiceNumber" not in invoice_json(_bill(2, reference=None))
    assert invoice_json(_bill(2))["Contact"] == {"ContactID": "contact-1"} and "Description" not in coded


def test_classify_xeros_messages() -> None:
    cases = {
        "The document date cannot be before the end of year lock date, currently set at 31-Jul-2013": (
            ErrorClass.LOCK_DATE
        ),
        "Account code '424' has been archived, or deleted. Each line item must reference a valid account.": (
            ErrorClass.ARCHIVED
        ),
        "The status 'ARCHIVED' is not valid for contacts": ErrorClass.ARCHIVED,
        "The TaxType code 'EXEMPTOUTPUT' cannot be used with account code '51305'": ErrorClass.TAX_MISMATCH,
        "Organisation is not subscribed to currency EUR": ErrorClass.CURRENCY,
        "Invoice # must be unique.": ErrorClass.DUPLICATE,
        "The tax amount cannot be greater than the line amount!": ErrorClass.INVALID,
    }
    for message, expected in cases.items():
        assert classify([message]) == expected, message
    assert classify(["Website must be valid", "Organisation is not subscribed to currency EUR"]) == (
        ErrorClass.CURRENCY
    )
    assert classify([]) == ErrorClass.INVALID


def _mock_connector(tmp_path: Path, handler: Any) -> XeroConnector:
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", Tokens("ACCESS", "REFRESH", datetime.now(UTC) + timedelta(minutes=30)))
    client = OAuthClient(oauth.XERO, "client-id")
    return XeroConnector(
        TENANT, "Demo", "xero-1", store, client, transport=httpx.MockTransport(handler), policy=POLICY
    )


def _answer(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)["Invoices"][0]


async def test_outcomes_come_in_bill_order_while_bills_go_concurrently(tmp_path: Path) -> None:
    in_flight = 0
    most = 0
    keys: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        keys.append(request.headers["Idempotency-Key"])
        number = int(_answer(request)["InvoiceNumber"].split("-")[1])
        await asyncio.sleep(0.05 if number == 1 else 0.01)  # the first answers last
        in_flight -= 1
        return httpx.Response(200, json={"Invoices": [{"InvoiceID": f"inv-{number}", "HasErrors": False}]})

    bills = [_bill(n) for n in range(1, 9)]
    seen: list[int] = []
    outcomes = await _mock_connector(tmp_path, handler).publish(
        bills, on_outcome=lambda o: seen.append(o.item_id)
    )
    assert seen == list(range(1, 9)) and [o.remote_id for o in outcomes] == [f"inv-{n}" for n in range(1, 9)]
    assert 1 < most <= 5
    assert sorted(keys) == sorted(b.idempotency_key for b in bills)


async def test_answers_are_mapped(tmp_path: Path) -> None:
    def problem(status: int, detail: str) -> httpx.Response:
        return httpx.Response(status, json={"Title": "Forbidden", "Status": status, "Detail": detail})

    answers: dict[int, httpx.Response] = {
        1: httpx.Response(
            200,
            json={
                "Invoices": [
                    {"HasErrors": True, "ValidationErrors": [{"Message": "Invoice # must be unique."}]}
                ]
            },
        ),
        2: httpx.Response(200, content=b'{"Invoices": [{"Invoi'),  # cut short: may have been written
        3: httpx.Response(
            400, json={"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": "Bad"}
        ),
        4: httpx.Response(404, text="The resource you're looking for cannot be found"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return answers[int(_answer(request)["InvoiceNumber"].split("-")[1])]

    outcomes = await _mock_connector(tmp_path, handler).publish([_bill(n) for n in range(1, 5)])
    assert [o.error_class for o in outcomes] == [
        ErrorClass.DUPLICATE,
        ErrorClass.UNAVAILABLE,
        ErrorClass.INVALID,
        ErrorClass.INVALID,
    ]
    assert outcomes[0].message == "Xero refused the bill: Invoice # must be unique."
    assert outcomes[2].message == "Xero refused the bill: Bad"
    assert "cannot be found" in str(outcomes[3].message)

    # 403: the organisation is no longer connected -> expired; without the scope -> an EXPIRED outcome.
    gone = _mock_connector(tmp_path, lambda r: problem(403, "AuthenticationUnsuccessful"))
    with pytest.raises(ConnectionExpired, match="no longer connected"):
        await gone.publish([_bill(1)])
    scope = await _mock_connector(tmp_path, lambda r: problem(403, "AuthorizationUnsuccessful")).publish(
        [_bill(1), _bill(2)]
    )
    assert [o.error_class for o in scope] == [ErrorClass.EXPIRED, ErrorClass.EXPIRED]
    assert scope[0].message == xero.SCOPE_REFUSED
    assert await _mock_connector(tmp_path, lambda r: problem(403, "x")).publish([]) == []


async def test_fetch_reads_the_lock_dates_of_the_organisation(tmp_path: Path) -> None:
    from test_cloud_connectors import FakeXero

    fake = FakeXero(contacts=5)
    organisation: dict[str, Any] = {
        "Name": "Demo",
        "PeriodLockDate": "/Date(1546214400000+0000)/",  # 2018-12-31, as in Xero's spec
        "EndOfYearLockDate": "2018-06-30T00:00:00",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Organisation"):
            return httpx.Response(200, json={"Organisations": [organisation]})
        return fake(request)

    result = await _mock_connector(tmp_path, handler).fetch((Kind.CURRENCIES,))
    assert result.lock_date == date(2018, 12, 31) and result.warnings == []
    organisation["EndOfYearLockDate"] = "soon"
    with pytest.raises(InvalidData, match=r"/Organisation: EndOfYearLockDate is not a date"):
        await _mock_connector(tmp_path, handler).fetch((Kind.CURRENCIES,))
    # A refused read of the organisation (here a 404) leaves the lock date unknown; the lists still come.
    unknown = await _mock_connector(tmp_path, fake).fetch((Kind.CURRENCIES,))
    assert unknown.lock_date is None and unknown.lists[Kind.CURRENCIES]
    assert unknown.warnings and unknown.warnings[0].startswith(
        "The lock date is unknown: Xero could not find"
    )


# -- paid bills: the payment recorded against the bill ---------------------------------------------------

PAYING = f"{READ_ONLY} accounting.invoices accounting.payments"  # the granular scopes of an app of 2026


def midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def paid(b: Bill, bank: RemoteRef | None) -> Bill:
    return dataclasses.replace(b, paid=True, bank_account=bank)


def by_id(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {i["InvoiceID"]: i for i in published(sandbox)}


def raw(
    sandbox: Sandbox,
    method: str,
    path: str,
    tenant: str,
    body: Any = None,
    key: str | None = None,
    scope: str = PAYING,
) -> httpx.Response:
    """A call to the sandbox's Accounting API as any client makes it."""
    token = sandbox.issue_tokens("xero", scopes=scope.split())["access_token"]
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant}
    if key:
        headers["Idempotency-Key"] = key
    return httpx.request(
        method, f"{sandbox.url}/api.xero.com/api.xro/2.0/{path}", json=body, headers=headers, timeout=10
    )


async def test_a_paid_bill_is_paid_from_its_bank_account_once(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = issued(sandbox, tmp_path, PAYING)
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    bank = books.ref(Kind.BANK_ACCOUNTS, "090")
    card = paid(bill("p-1", books.supplier(), [line(books, "120.00", "429", "INPUT2", "20.00")]), bank)
    owed = bill("p-2", books.supplier(skip=1), [line(books, "48.00", "429", "INPUT2", "8.00")])
    owed = dataclasses.replace(owed, bank_account=bank)  # a payment method, not paid: a bill to pay
    no_bank = paid(bill("p-3", books.supplier(skip=2), [line(books, "30.00", "461", "INPUT2")]), None)
    euro = paid(
        bill("p-4", books.supplier(skip=3), [line(books, "9.99", "429", "INPUT2")], currency="EUR"), bank
    )
    bills = [card, owed, no_bank, euro]

    sandbox.reset_calls()
    outcomes = await connector.publish(bills)
    assert all(o.ok and o.remote_id and not o.already for o in outcomes), outcomes
    assert sandbox.call_count("/Payments", method="PUT") == 2  # the paid bills with a bank account only
    invoices = by_id(sandbox)
    assert len(invoices) == 4
    first = invoices[outcomes[0].remote_id]  # type: ignore[index]
    assert (first["Status"], first["AmountDue"], first["AmountPaid"], first["Total"]) == (
        "PAID",
        0.0,
        120.0,
        120.0,
    )
    [payment] = first["Payments"]
    assert payment["Amount"] == 120.0 and payment["Date"] == f"/Date({midnight(DAY)}+0000)/"
    second = invoices[outcomes[1].remote_id]  # type: ignore[index]
    assert (second["Status"], second["AmountDue"], second["Payments"]) == ("AUTHORISED", 48.0, [])
    third = invoices[outcomes[2].remote_id]  # type: ignore[index]
    assert (third["Status"], third["AmountDue"]) == ("AUTHORISED", 30.0)  # paid, but from where: a bill
    fourth = invoices[outcomes[3].remote_id]  # type: ignore[index]
    assert (fourth["Status"], fourth["CurrencyCode"]) == ("PAID", "EUR")  # from the base currency account

    # Xero's own record of the payment, from the bank account.
    api = raw(sandbox, "GET", f"Payments/{payment['PaymentID']}", connector.tenant_id)
    assert api.status_code == 200, api.text
    [record] = api.json()["Payments"]
    assert record["Account"]["AccountID"] == bank.remote_id and record["PaymentType"] == "ACCPAYPAYMENT"
    assert record["Invoice"]["InvoiceID"] == first["InvoiceID"] and record["Invoice"]["Status"] == "PAID"

    # Published again (a retry after a crash): the same bills, no second bill and no second payment.
    again = await connector.publish(bills)
    assert [o.remote_id for o in again] == [o.remote_id for o in outcomes] and all(o.ok for o in again)
    after = by_id(sandbox)
    assert len(after) == 4
    assert [len(after[o.remote_id]["Payments"]) for o in outcomes] == [1, 0, 0, 1]  # type: ignore[index]
    assert after[outcomes[0].remote_id]["AmountPaid"] == 120.0  # type: ignore[index]


async def test_a_refused_payment_fails_naming_the_bill_and_a_retry_after_the_fix_pays_it_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    connector = issued(sandbox, tmp_path, PAYING)
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    savings = books.ref(Kind.BANK_ACCOUNTS, "091")
    card = paid(bill("a-1", books.supplier(), [line(books, "60.00", "429", "INPUT2", "10.00")]), savings)
    control(sandbox, "POST", "xero/account", {"code": "091", "status": "ARCHIVED"})  # since the last fetch

    [refused] = await connector.publish([card])
    [invoice] = published(sandbox)
    # Refused, but with the bill's id: the bill is in Xero, so the item must stay as it was sent.
    assert refused.error_class == ErrorClass.ARCHIVED and refused.remote_id == invoice["InvoiceID"]
    assert refused.message == (
        f"The bill is in Xero (INV-a-1, InvoiceID {invoice['InvoiceID']}) awaiting payment, but Xero refused "
        "its payment: The account code '091' has been archived, or deleted. A payment must be made to or "
        "from an active account."
    )
    assert (invoice["Status"], invoice["AmountDue"], invoice["Payments"]) == ("AUTHORISED", 60.0, [])

    # Restored in Xero, the same bill again: the same bill back (same key), then its payment, once.
    control(sandbox, "POST", "xero/account", {"code": "091", "status": "ACTIVE"})
    [ok] = await connector.publish([card])
    assert ok.ok and ok.remote_id == invoice["InvoiceID"]
    [after] = published(sandbox)
    assert (after["Status"], after["AmountDue"], len(after["Payments"])) == ("PAID", 0.0, 1)
    [again] = await connector.publish([card])
    assert again.ok and again.remote_id == ok.remote_id
    assert len(published(sandbox)) == 1 and len(published(sandbox)[0]["Payments"]) == 1

    # Paid by hand in Xero after a refusal: the retry finds it paid and calls that published.
    other = paid(bill("a-2", books.supplier(), [line(books, "12.00", "429", "INPUT2")]), savings)
    control(sandbox, "POST", "xero/account", {"code": "091", "status": "ARCHIVED"})
    [refused] = await connector.publish([other])
    assert refused.error_class == ErrorClass.ARCHIVED
    [held] = [i for i in published(sandbox) if i["InvoiceNumber"] == "INV-a-2"]
    by_hand = {"Invoice": {"InvoiceID": held["InvoiceID"]}, "Account": {"Code": "090"}, "Amount": 12}
    assert raw(sandbox, "PUT", "Payments", connector.tenant_id, by_hand).status_code == 200
    [settled] = await connector.publish([other])
    assert settled.ok and settled.already and settled.remote_id == held["InvoiceID"]
    assert len(published(sandbox)) == 2


async def test_a_payment_from_a_bank_account_in_another_currency_is_a_currency_failure(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    payload = sandbox.issue_tokens("xero", scopes=PAYING.split())
    tokens = Tokens(
        payload["access_token"], payload["refresh_token"], datetime.now(UTC) + timedelta(minutes=30)
    )
    client = oauth.client_from_config("xero", {})
    for tenant in payload["tenants"]:  # the organisation with a USD bank account
        northwind = _connector(tmp_path, client, tokens, tenant)
        books = Books((await northwind.fetch(ALL_KINDS)).lists)
        if any(i.code == "092" for i in books.lists[Kind.BANK_ACCOUNTS]):
            break
    usd = books.ref(Kind.BANK_ACCOUNTS, "092")
    assert usd.data["currency"] == "USD"
    [outcome] = await northwind.publish(
        [paid(bill("c-1", books.supplier(), [line(books, "15.00", "429", "INPUT2")]), usd)]
    )
    assert outcome.error_class == ErrorClass.CURRENCY
    assert outcome.message is not None and outcome.message.startswith(
        "The bill is in Xero (INV-c-1, InvoiceID "
    )
    assert "The bank account's currency (USD) must be the invoice's currency (GBP)" in outcome.message


async def test_a_grant_that_may_not_record_payments_leaves_the_bill_awaiting_payment(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    connector = issued(sandbox, tmp_path, f"{READ_ONLY} accounting.invoices")  # the login's scopes today
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    bank = books.ref(Kind.BANK_ACCOUNTS, "090")
    bills = [
        paid(bill("g-1", books.supplier(), [line(books, "20.00", "429", "INPUT2")]), bank),
        bill("g-2", books.supplier(), [line(books, "21.00", "429", "INPUT2")]),
    ]
    outcomes = await connector.publish(bills)
    assert outcomes[0].error_class == ErrorClass.EXPIRED and outcomes[1].ok
    assert "reconnect to allow recording payments" in str(outcomes[0].message)
    assert str(outcomes[0].message).startswith("The bill is in Xero (INV-g-1, InvoiceID ")
    assert {i["Status"] for i in published(sandbox)} == {"AUTHORISED"}

    reconnected = issued(sandbox, tmp_path, PAYING)
    again = await reconnected.publish(bills)
    assert all(o.ok for o in again) and len(published(sandbox)) == 2
    assert sorted(i["Status"] for i in published(sandbox)) == ["AUTHORISED", "PAID"]


async def test_the_sandbox_checks_payments_as_xero_does(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = issued(sandbox, tmp_path, PAYING)
    books = Books((await connector.fetch(ALL_KINDS)).lists)
    [owed] = await connector.publish(
        [bill("v-1", books.supplier(), [line(books, "100.00", "429", "INPUT2")])]
    )
    tenant, invoice_id = connector.tenant_id, owed.remote_id

    def pay(amount: Any, code: str = "090", day: str = "2026-03-06", **extra: Any) -> dict[str, Any]:
        return {
            "Invoice": {"InvoiceID": invoice_id},
            "Account": {"Code": code},
            "Date": day,
            "Amount": amount,
            **extra,
        }

    def refusal(body: Any, **kwargs: Any) -> list[str]:
        answer = raw(sandbox, "PUT", "Payments", tenant, body, **kwargs)
        assert answer.status_code == 400, answer.text
        return [e["Message"] for el in answer.json()["Elements"] for e in el["ValidationErrors"]]

    # A part paid: the amount due goes down, the bill stays AUTHORISED; the same key replays the answer.
    first = raw(sandbox, "PUT", "Payments", tenant, {"Payments": [pay(40)]}, key="part-1")
    assert first.status_code == 200, first.text
    replayed = raw(sandbox, "PUT", "Payments", tenant, {"Payments": [pay(40)]}, key="part-1")
    assert replayed.json()["Payments"][0]["PaymentID"] == first.json()["Payments"][0]["PaymentID"]
    [state] = published(sandbox)
    assert (state["Status"], state["AmountDue"], state["AmountPaid"], len(state["Payments"])) == (
        "AUTHORISED",
        60.0,
        40.0,
        1,
    )

    assert refusal(pay(60.01)) == ["Payment amount exceeds the amount outstanding on this document"]
    assert refusal(pay(0)) == ["Payment amount must be greater than zero"]
    assert refusal(pay(10, code="200")) == ["Account type is invalid for making a payment to/from"]
    assert refusal(pay(10, code="999")) == ["Account code '999' is not a valid code for this document."]
    assert refusal({**pay(10), "Invoice": {"InvoiceID": "4c7a1ab8-0000-4000-8000-000000000000"}}) == [
        "Invoice 4c7a1ab8-0000-4000-8000-000000000000 could not be found"
    ]
    assert refusal({**pay(10), "Account": {}}) == [
        "You must specify and Account code or Account ID for the payment"
    ]
    control(sandbox, "POST", "xero/lockdate", {"date": "2026-03-05"})
    assert refusal(pay(10, day="2026-03-05")) == [
        "The document date cannot be before the period lock date, currently set at 05-Mar-2026"
    ]
    unsummarised = raw(
        sandbox, "PUT", "Payments?summarizeErrors=false", tenant, {"Payments": [pay(10, code="200"), pay(10)]}
    )
    assert unsummarised.status_code == 200
    assert [p["HasValidationErrors"] for p in unsummarised.json()["Payments"]] == [True, False]

    # The rest paid: PAID, nothing more may be paid.
    assert raw(sandbox, "PUT", "Payments", tenant, pay(50)).status_code == 200
    [state] = published(sandbox)
    assert (state["Status"], state["AmountDue"], state["AmountPaid"], len(state["Payments"])) == (
        "PAID",
        0.0,
        100.0,
        3,
    )
    assert refusal(pay(1)) == [
        "Payments can only be made against Authorised documents",
        "Payment amount exceeds the amount outstanding on this document",
    ]
    listed = raw(sandbox, "GET", "Payments", tenant).json()["Payments"]
    assert len(listed) == 3 and {p["Invoice"]["InvoiceID"] for p in listed} == {invoice_id}

    # A draft is not paid; a grant for invoices only may not pay.
    draft = raw(
        sandbox,
        "PUT",
        "Invoices",
        tenant,
        {
            "Type": "ACCPAY",
            "Status": "DRAFT",
            "Contact": {"Name": "Draft Co"},
            "Date": "2026-03-10",
            "LineItems": [{"Description": "x", "UnitAmount": 5, "AccountCode": "429"}],
        },
    ).json()["Invoices"][0]
    assert refusal({**pay(5), "Invoice": {"InvoiceID": draft["InvoiceID"]}}) == [
        "Payments can only be made against Authorised documents"
    ]
    denied = raw(sandbox, "PUT", "Payments", tenant, pay(1), scope=f"{READ_ONLY} accounting.invoices")
    assert denied.status_code == 401 and denied.json()["Detail"] == "AuthorizationUnsuccessful"


def test_payment_json_and_key() -> None:
    card = _bill(1, paid=True, bank_account=_ref("bank-1", "090"))
    assert xero.payment_json(card, "inv-1") == {
        "Invoice": {"InvoiceID": "inv-1"},
        "Account": {"AccountID": "bank-1"},
        "Date": "2026-05-04",
        "Amount": 12.3,
    }
    assert xero.payment_key(card) == f"{card.idempotency_key}-payment"
    long = dataclasses.replace(card, uid="u" * 120)
    assert len(xero.payment_key(long)) <= 128 and xero.payment_key(long) == xero.payment_key(long)
    assert xero.payment_key(long) != xero.payment_key(dataclasses.replace(long, uid="v" * 120))


async def test_payment_answers_are_mapped(tmp_path: Path) -> None:
    payments: dict[str, httpx.Response] = {
        "inv-1": httpx.Response(
            200,
            json={
                "Payments": [
                    {
                        "PaymentID": "00000000-0000-0000-0000-000000000000",
                        "HasValidationErrors": True,
                        "ValidationErrors": [
                            {"Message": "The document date cannot be before the period lock date"}
                        ],
                    }
                ]
            },
        ),
        "inv-2": httpx.Response(200, content=b'{"Payments": [{"Paym'),  # cut short: may have been recorded
        "inv-3": httpx.Response(503, text="down"),
        "inv-4": httpx.Response(
            200, json={"Payments": [{"PaymentID": "pay-4", "HasValidationErrors": False}]}
        ),
        "inv-5": httpx.Response(
            401, json={"Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"}
        ),
    }
    seen: list[tuple[str, str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers.get("Idempotency-Key")))
        if request.url.path.endswith("/connect/token"):  # the refresh after the 401: refused too
            return httpx.Response(400, json={"error": "invalid_grant"})
        if request.url.path.endswith("/Invoices"):
            number = _answer(request)["InvoiceNumber"].split("-")[1]
            return httpx.Response(
                200, json={"Invoices": [{"InvoiceID": f"inv-{number}", "Status": "AUTHORISED"}]}
            )
        if request.method == "GET":
            return httpx.Response(200, json={"Invoices": [{"InvoiceID": "inv-1", "Status": "AUTHORISED"}]})
        body = json.loads(request.content)["Payments"][0]
        return payments[body["Invoice"]["InvoiceID"]]

    bank = _ref("bank-1", "090")
    bills = [_bill(n, paid=True, bank_account=bank) for n in range(1, 5)]
    outcomes = await _mock_connector(tmp_path, handler).publish(bills)
    assert [o.error_class for o in outcomes] == [
        ErrorClass.LOCK_DATE,
        ErrorClass.UNAVAILABLE,
        ErrorClass.UNAVAILABLE,
        None,
    ]
    assert outcomes[0].message == (
        "The bill is in Xero (R-1, InvoiceID inv-1) awaiting payment, but Xero refused its payment: The "
        "document date cannot be before the period lock date"
    )
    assert str(outcomes[1].message).startswith(
        "The bill is in Xero (R-2, InvoiceID inv-2) awaiting payment; its"
    )
    assert str(outcomes[2].message).startswith(
        "The bill is in Xero (R-3, InvoiceID inv-3) awaiting payment, but its payment was not recorded: "
    )
    assert outcomes[3].remote_id == "inv-4"
    keys = {key for method, path, key in seen if path.endswith("/Payments")}
    assert keys == {f"{b.idempotency_key}-payment" for b in bills}
    assert ("GET", "/api.xro/2.0/Invoices/inv-1", None) in seen  # a refusal: is it paid already?

    with pytest.raises(ConnectionExpired, match=r"^Connection is expired"):
        await _mock_connector(tmp_path, handler).publish([_bill(5, paid=True, bank_account=bank)])
