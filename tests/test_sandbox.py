"""The sandbox (dext_tui.sandbox) over real loopback sockets: OAuth (PKCE, rotation, revocation), Xero's
accounting API (paging, includeArchived, If-Modified-Since, rate limits, faults, invoices), QuickBooks'
query endpoint, the controls, and Xero's answers checked against Xero's published OpenAPI schemas."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dext_tui.sandbox import Sandbox, SandboxOptions, run_sandbox

REDIRECT = "http://127.0.0.1:8749/callback"
XERO_SCOPES = (
    "openid profile email accounting.settings.read accounting.contacts.read "
    "accounting.transactions offline_access"
)
QBO_SCOPE = "com.intuit.quickbooks.accounting"
XERO_API = "/api.xero.com/api.xro/2.0"
# Xero's published OpenAPI documents (MIT, see tests/data/xero/LICENSE), kept with the tests.
SPEC = Path(__file__).parent / "data" / "xero" / "xero_accounting.yaml"
IDENTITY_SPEC = SPEC.with_name("xero-identity.yaml")


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(port=0, contacts=250, vendors=60, customers=20) as sandbox:
        yield sandbox


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.url, follow_redirects=False, timeout=10) as c:
        yield c


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorise(client: httpx.Client, provider: str, challenge: str, state: str = "st-1") -> dict[str, str]:
    """The browser's leg: GET the authorise URL, follow nothing, read the redirect's query."""
    path = (
        "/login.xero.com/identity/connect/authorize"
        if provider == "xero"
        else "/appcenter.intuit.com/connect/oauth2"
    )
    response = client.get(
        path,
        params={
            "response_type": "code",
            "client_id": "client-123",
            "redirect_uri": REDIRECT,
            "scope": XERO_SCOPES if provider == "xero" else QBO_SCOPE,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def xero_token(client: httpx.Client, **form: str) -> httpx.Response:
    return client.post("/identity.xero.com/connect/token", data={"client_id": "client-123", **form})


def qbo_token(client: httpx.Client, **form: str) -> httpx.Response:
    return client.post(
        "/oauth.platform.intuit.com/oauth2/v1/tokens/bearer", data=form, auth=("client-123", "secret-456")
    )


def xero_headers(token: str, tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant, "Accept": "application/json"}


def xero_session(sb: Sandbox, tenant_index: int = 0) -> dict[str, str]:
    tokens = sb.issue_tokens("xero")
    return xero_headers(tokens["access_token"], tokens["tenants"][tenant_index])


def qbo_query(client: httpx.Client, sb: Sandbox, token: str, query: str) -> httpx.Response:
    return client.get(
        f"/quickbooks.api.intuit.com/v3/company/{sb.qbo_realm_id}/query",
        params={"query": query, "minorversion": "75"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


def all_contacts(client: httpx.Client, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    out, page = [], 1
    while True:
        body = client.get(
            f"{XERO_API}/Contacts", params={"page": str(page), **params}, headers=headers
        ).json()
        if not body["Contacts"]:
            return out
        out += body["Contacts"]
        page += 1


# --- Xero OAuth ----------------------------------------------------------------------------------


def test_xero_authorisation_code_flow_with_pkce(sb: Sandbox, client: httpx.Client) -> None:
    verifier, challenge = pkce()
    redirect = authorise(client, "xero", challenge, state="abc")
    assert redirect["state"] == "abc" and redirect["code"] and redirect["scope"] == XERO_SCOPES

    response = xero_token(
        client,
        grant_type="authorization_code",
        code=redirect["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 1800
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["id_token"].count(".") == 2
    assert response.headers["Cache-Control"] == "no-store"

    connections = client.get(
        "/api.xero.com/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert [c["tenantName"] for c in connections] == ["Harbour Lane Design Ltd", "Northwind Trading Ltd"]
    assert {c["tenantId"] for c in connections} == {t["tenantId"] for t in sb.xero_tenants}
    assert all(c["tenantType"] == "ORGANISATION" and c["id"] and c["authEventId"] for c in connections)

    accounts = client.get(
        f"{XERO_API}/Accounts", headers=xero_headers(tokens["access_token"], connections[1]["tenantId"])
    )
    assert accounts.status_code == 200 and accounts.json()["Accounts"]

    again = xero_token(
        client,
        grant_type="authorization_code",
        code=redirect["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})  # a code is used once


def test_xero_token_endpoint_refuses_a_wrong_verifier_or_redirect(client: httpx.Client) -> None:
    verifier, challenge = pkce()
    code = authorise(client, "xero", challenge)["code"]
    wrong = xero_token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier + "x",
    )
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_grant"})

    code = authorise(client, "xero", challenge)["code"]
    moved = xero_token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://127.0.0.1:9999/callback",
        code_verifier=verifier,
    )
    assert moved.json() == {"error": "invalid_grant"}

    code = authorise(client, "xero", challenge)["code"]
    missing = xero_token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert missing.json() == {"error": "invalid_grant"}

    assert xero_token(client, grant_type="password").json() == {"error": "unsupported_grant_type"}
    nobody = client.post("/identity.xero.com/connect/token", data={"grant_type": "refresh_token"})
    assert (nobody.status_code, nobody.json()) == (400, {"error": "invalid_client"})


def test_refresh_rotates_the_refresh_token(sb: Sandbox, client: httpx.Client) -> None:
    first = sb.issue_tokens("xero", client_id="client-123")
    renewed = xero_token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert renewed.status_code == 200
    second = renewed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]

    reused = xero_token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert (reused.status_code, reused.json()) == (400, {"error": "invalid_grant"})
    assert (
        xero_token(client, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code
        == 200
    )


def test_revocation_ends_access_and_refresh(sb: Sandbox, client: httpx.Client) -> None:
    tokens = sb.issue_tokens("xero", client_id="client-123")
    headers = xero_headers(tokens["access_token"], tokens["tenants"][0])
    assert client.get(f"{XERO_API}/Currencies", headers=headers).status_code == 200

    revoked = client.post(
        "/identity.xero.com/connect/revocation",
        data={"token": tokens["refresh_token"], "client_id": "client-123"},
    )
    assert revoked.status_code == 200
    after = client.get(f"{XERO_API}/Currencies", headers=headers)
    assert after.status_code == 401
    assert after.json()["Title"] == "Unauthorized" and after.json()["Detail"] == "AuthenticationUnsuccessful"
    refresh = xero_token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.json() == {"error": "invalid_grant"}
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api.xero.com/connections", headers=bearer).status_code == 401

    # The control that revokes everything, for the other providers' tokens too.
    more = sb.issue_tokens("xero", client_id="client-123")
    assert client.post("/_sandbox/tokens/revoke").json() == {"revoked": 1}
    refused = xero_token(client, grant_type="refresh_token", refresh_token=more["refresh_token"])
    assert refused.json() == {"error": "invalid_grant"}


def test_expired_access_token_then_refresh() -> None:
    with (
        Sandbox(port=0, contacts=5, access_token_seconds=60, refresh_token_days=1) as sb,
        httpx.Client(base_url=sb.url) as c,
    ):
        tokens = sb.issue_tokens("xero", client_id="client-123")
        assert tokens["expires_in"] == 60
        headers = xero_headers(tokens["access_token"], tokens["tenants"][0])
        assert c.get(f"{XERO_API}/Currencies", headers=headers).status_code == 200
        sb.advance_clock(61)
        expired = c.get(f"{XERO_API}/Currencies", headers=headers)
        assert expired.status_code == 401 and expired.json()["Detail"].startswith(
            "TokenExpired: token expired at"
        )
        renewed = xero_token(c, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
        ok = c.get(
            f"{XERO_API}/Currencies", headers=xero_headers(renewed["access_token"], tokens["tenants"][0])
        )
        assert ok.status_code == 200
        sb.advance_clock(2 * 86400)  # the refresh token's day is over
        lapsed = xero_token(c, grant_type="refresh_token", refresh_token=renewed["refresh_token"])
        assert lapsed.json() == {"error": "invalid_grant"}

        fresh = sb.issue_tokens("xero", client_id="client-123")
        assert c.post("/_sandbox/tokens/expire").json()["expired"] >= 1
        stale = c.get(
            f"{XERO_API}/Currencies", headers=xero_headers(fresh["access_token"], fresh["tenants"][0])
        )
        assert stale.status_code == 401


def test_tenant_must_be_connected(sb: Sandbox, client: httpx.Client) -> None:
    assert sb.connect_xero_tenants(["Harbour Lane Design Ltd"]) == [sb.xero_tenants[0]["tenantId"]]
    verifier, challenge = pkce()
    code = authorise(client, "xero", challenge)["code"]
    tokens = xero_token(
        client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
    ).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    connections = client.get("/api.xero.com/connections", headers=bearer).json()
    assert [c["tenantName"] for c in connections] == ["Harbour Lane Design Ltd"]

    first, second = (t["tenantId"] for t in sb.xero_tenants)
    assert (
        client.get(f"{XERO_API}/Accounts", headers=xero_headers(tokens["access_token"], first)).status_code
        == 200
    )
    other = client.get(f"{XERO_API}/Accounts", headers=xero_headers(tokens["access_token"], second))
    assert other.status_code == 403 and other.json()["Title"] == "Forbidden"
    assert client.get(f"{XERO_API}/Accounts", headers=bearer).status_code == 403  # no xero-tenant-id

    deleted = client.delete(f"/api.xero.com/connections/{connections[0]['id']}", headers=bearer)
    assert deleted.status_code == 204
    assert (
        client.get(f"{XERO_API}/Accounts", headers=xero_headers(tokens["access_token"], first)).status_code
        == 403
    )


def test_scopes_limit_what_a_token_reaches(sb: Sandbox, client: httpx.Client) -> None:
    tokens = sb.issue_tokens("xero", scopes=["accounting.settings.read"])
    assert "refresh_token" not in tokens  # no offline_access
    headers = xero_headers(tokens["access_token"], tokens["tenants"][0])
    assert client.get(f"{XERO_API}/Accounts", headers=headers).status_code == 200
    refused = client.get(f"{XERO_API}/Contacts", headers=headers)
    assert refused.status_code == 401 and refused.json()["Detail"] == "AuthorizationUnsuccessful"


# --- Xero accounting --------------------------------------------------------------------------------


def test_contacts_paging_and_include_archived(sb: Sandbox, client: httpx.Client) -> None:
    headers = xero_session(sb)
    everyone = all_contacts(client, headers, includeArchived="true")
    assert len(everyone) == 250 and len({c["ContactID"] for c in everyone}) == 250
    archived = [c for c in everyone if c["ContactStatus"] == "ARCHIVED"]
    assert archived and all(c["ContactStatus"] in ("ACTIVE", "ARCHIVED") for c in everyone)

    active = all_contacts(client, headers)
    assert len(active) == 250 - len(archived)
    assert all(c["ContactStatus"] == "ACTIVE" for c in active)

    page1 = client.get(
        f"{XERO_API}/Contacts", params={"page": "1", "includeArchived": "true"}, headers=headers
    ).json()
    assert len(page1["Contacts"]) == 100
    assert page1["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": 250}
    page3 = client.get(
        f"{XERO_API}/Contacts", params={"page": "3", "includeArchived": "true"}, headers=headers
    ).json()
    assert len(page3["Contacts"]) == 50
    beyond = client.get(f"{XERO_API}/Contacts", params={"page": "4"}, headers=headers)
    assert beyond.status_code == 200 and beyond.json()["Contacts"] == []
    names = [c["Name"].lower() for c in everyone]
    assert names == sorted(names)  # a stable order across pages
    assert any(c["IsSupplier"] for c in everyone) and any(c["IsCustomer"] for c in everyone)
    assert all(
        c["UpdatedDateUTC"].startswith("/Date(") and c["UpdatedDateUTC"].endswith("+0000)/") for c in everyone
    )

    # The other organisation has its own contacts.
    other = client.get(f"{XERO_API}/Contacts", params={"page": "1"}, headers=xero_session(sb, 1)).json()
    assert not {c["ContactID"] for c in other["Contacts"]} & {c["ContactID"] for c in everyone}


def test_accounts_and_lists_have_archived_items(sb: Sandbox, client: httpx.Client) -> None:
    headers = xero_session(sb)
    accounts = client.get(f"{XERO_API}/Accounts", headers=headers).json()["Accounts"]
    types = {a["Type"] for a in accounts}
    assert {"EXPENSE", "OVERHEADS", "DIRECTCOSTS", "REVENUE", "SALES", "BANK"} <= types
    assert any(a["Status"] == "ARCHIVED" for a in accounts)
    rates = client.get(f"{XERO_API}/TaxRates", headers=headers).json()["TaxRates"]
    assert {
        "20% (VAT on Income)",
        "20% (VAT on Expenses)",
        "Zero Rated Expenses",
        "Exempt Expenses",
        "No VAT",
    } <= {r["Name"] for r in rates}
    tracking = client.get(f"{XERO_API}/TrackingCategories", headers=headers).json()["TrackingCategories"]
    assert [t["Status"] for t in tracking] == ["ACTIVE"]
    with_archived = client.get(
        f"{XERO_API}/TrackingCategories", params={"includeArchived": "true"}, headers=headers
    ).json()["TrackingCategories"]
    assert sorted(t["Status"] for t in with_archived) == ["ACTIVE", "ARCHIVED"]
    currencies = client.get(f"{XERO_API}/Currencies", headers=headers).json()["Currencies"]
    assert [c["Code"] for c in currencies] == ["GBP", "EUR", "USD"]


def test_if_modified_since_returns_only_changes(sb: Sandbox, client: httpx.Client) -> None:
    headers = xero_session(sb)
    since = format_datetime(datetime.now(UTC), usegmt=True)
    nothing = client.get(
        f"{XERO_API}/Contacts",
        params={"includeArchived": "true"},
        headers={**headers, "If-Modified-Since": since},
    )
    assert nothing.status_code == 200 and nothing.json()["Contacts"] == []

    changed = sb.apply_changes(
        "xero", contacts={"add": 2, "rename": 3, "archive": 1}, accounts={"add": 1, "rename": 1, "archive": 1}
    )["changed"]
    contact_changes = {c["id"]: c for c in changed if c["list"] == "contacts"}
    assert len(contact_changes) == 6

    delta = client.get(
        f"{XERO_API}/Contacts",
        params={"includeArchived": "true"},
        headers={**headers, "If-Modified-Since": since},
    ).json()["Contacts"]
    assert {c["ContactID"] for c in delta} == set(contact_changes)
    by_id = {c["ContactID"]: c for c in delta}
    for change in contact_changes.values():
        assert by_id[change["id"]]["Name"] == change["name"]
        if change["action"] == "archive":
            assert by_id[change["id"]]["ContactStatus"] == "ARCHIVED"
    iso_since = datetime.now(UTC).isoformat()
    assert (
        client.get(f"{XERO_API}/Contacts", headers={**headers, "If-Modified-Since": iso_since}).json()[
            "Contacts"
        ]
        == []
    )

    accounts = client.get(f"{XERO_API}/Accounts", headers={**headers, "If-Modified-Since": since}).json()
    assert {a["AccountID"] for a in accounts["Accounts"]} == {
        c["id"] for c in changed if c["list"] == "accounts"
    }


def test_rate_limit_per_minute() -> None:
    with Sandbox(port=0, contacts=5, xero_minute_limit=5) as sb, httpx.Client(base_url=sb.url) as c:
        headers = xero_session(sb)
        answers = [c.get(f"{XERO_API}/Currencies", headers=headers) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[0].headers["X-MinLimit-Remaining"] == "4"
        limited = answers[-1]
        assert limited.headers["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # Another organisation has its own allowance; turning limits off lifts them.
        assert c.get(f"{XERO_API}/Currencies", headers=xero_session(sb, 1)).status_code == 200
        c.post("/_sandbox/options", json={"rate_limit": False})
        assert c.get(f"{XERO_API}/Currencies", headers=headers).status_code == 200


def test_rate_limit_on_calls_in_progress(sb: Sandbox) -> None:
    headers = xero_session(sb)
    sb.add_fault("slow", count=6, seconds=1.0, path="/Currencies")
    barrier = threading.Barrier(6)
    statuses: list[tuple[int, str | None]] = []

    def call() -> None:
        with httpx.Client(base_url=sb.url, timeout=10) as c:
            barrier.wait()
            r = c.get(f"{XERO_API}/Currencies", headers=headers)
            statuses.append((r.status_code, r.headers.get("X-Rate-Limit-Problem")))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses, key=str) == [(200, None)] * 5 + [(429, "concurrent")]


def test_injected_faults(sb: Sandbox, client: httpx.Client) -> None:
    headers = xero_session(sb)
    url = f"{XERO_API}/Currencies"
    added = client.post("/_sandbox/faults", json={"kind": "status", "status": 503, "count": 2})
    assert added.status_code == 200 and added.json()["added"][0]["count"] == 2
    assert [client.get(url, headers=headers).status_code for _ in range(3)] == [503, 503, 200]

    sb.add_fault("malformed")
    broken = client.get(url, headers=headers)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()

    sb.add_fault("wrong_shape")
    assert client.get(url, headers=headers).json()["Currencies"] == "unexpected"

    sb.add_fault("status", status=429, retry_after=7)
    limited = client.get(url, headers=headers)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")

    sb.add_fault("disconnect")
    with pytest.raises(httpx.TransportError):
        client.get(url, headers=headers)

    sb.add_fault("slow", seconds=0.3)
    started = time.monotonic()
    assert client.get(url, headers=headers).status_code == 200
    assert time.monotonic() - started >= 0.3

    sb.add_fault("status", status=500, path="/identity.xero.com/connect/token")  # identity only when named
    assert client.get(url, headers=headers).status_code == 200
    assert xero_token(client, grant_type="refresh_token", refresh_token="x").status_code == 500

    client.post("/_sandbox/faults", json={"kind": "status", "count": -1})
    assert client.get(url, headers=headers).status_code == 503
    assert client.delete("/_sandbox/faults").json() == {"faults": []}
    assert client.get(url, headers=headers).status_code == 200
    bad = client.post("/_sandbox/faults", json={"kind": "explode"})
    assert bad.status_code == 400 and "kind" in bad.json()["error"]


def test_call_log_counts_calls_per_path(sb: Sandbox, client: httpx.Client) -> None:
    headers = xero_session(sb)
    for page in (1, 2, 3):
        client.get(f"{XERO_API}/Contacts", params={"page": str(page)}, headers=headers)
    client.get(f"{XERO_API}/Accounts", headers=headers)
    calls = client.get("/_sandbox/calls").json()
    assert calls["by_path"] == {f"GET {XERO_API}/Accounts": 1, f"GET {XERO_API}/Contacts": 3}
    assert calls["total"] == 4 and calls["by_status"] == {"200": 4}
    assert all("?" not in c["path"] for c in calls["recent"])  # no queries (nor tokens) kept
    assert sb.call_count("/Contacts") == 3 and sb.call_count("Contacts", method="POST") == 0
    client.delete("/_sandbox/calls")
    assert sb.calls()["total"] == 0


def test_invoices_put_with_idempotency_key(sb: Sandbox, client: httpx.Client) -> None:
    headers = xero_session(sb)
    supplier = all_contacts(client, headers)[0]
    bill = {
        "Invoices": [
            {
                "Type": "ACCPAY",
                "Contact": {"ContactID": supplier["ContactID"]},
                "Date": "2025-03-01",
                "DueDate": "2025-03-31",
                "InvoiceNumber": "SUP-1001",
                "Reference": "dext:abc",
                "Status": "AUTHORISED",
                "LineAmountTypes": "Exclusive",
                "LineItems": [
                    {
                        "Description": "Paper",
                        "Quantity": 2,
                        "UnitAmount": 10.5,
                        "AccountCode": "461",
                        "TaxType": "INPUT2",
                        "Tracking": [{"Name": "Region", "Option": "North"}],
                    }
                ],
            }
        ]
    }
    keyed = {**headers, "Idempotency-Key": "bill-1"}
    first = client.put(f"{XERO_API}/Invoices", json=bill, headers=keyed)
    assert first.status_code == 200, first.text
    invoice = first.json()["Invoices"][0]
    assert (
        invoice["Type"],
        invoice["Status"],
        invoice["SubTotal"],
        invoice["TotalTax"],
        invoice["Total"],
    ) == ("ACCPAY", "AUTHORISED", 21.0, 4.2, 25.2)
    assert invoice["LineItems"][0]["Tracking"][0]["Option"] == "North"
    again = client.put(f"{XERO_API}/Invoices", json=bill, headers=keyed)
    assert again.json()["Invoices"][0]["InvoiceID"] == invoice["InvoiceID"]
    listed = client.get(f"{XERO_API}/Invoices", headers=headers).json()["Invoices"]
    assert [i["InvoiceID"] for i in listed] == [invoice["InvoiceID"]]
    assert (
        client.get(f"{XERO_API}/Invoices/{invoice['InvoiceID']}", headers=headers).json()["Invoices"][0][
            "InvoiceNumber"
        ]
        == "SUP-1001"
    )

    inclusive = copy.deepcopy(bill)
    inclusive["Invoices"][0].update(LineAmountTypes="Inclusive", InvoiceNumber="SUP-1002")
    inc = client.post(f"{XERO_API}/Invoices", json=inclusive, headers=headers).json()["Invoices"][0]
    assert (inc["SubTotal"], inc["TotalTax"], inc["Total"]) == (17.5, 3.5, 21.0)

    wrong = copy.deepcopy(bill)
    wrong["Invoices"][0]["LineItems"][0]["AccountCode"] = "999"
    refused = client.put(f"{XERO_API}/Invoices", json=wrong, headers=headers)
    assert refused.status_code == 400
    body = refused.json()
    assert body["Type"] == "ValidationException"
    assert "not a valid code" in body["Elements"][0]["ValidationErrors"][0]["Message"]
    assert len(client.get(f"{XERO_API}/Invoices", headers=headers).json()["Invoices"]) == 2

    mixed = {"Invoices": [{**bill["Invoices"][0], "InvoiceNumber": "SUP-1003"}, wrong["Invoices"][0]]}
    answer = client.put(
        f"{XERO_API}/Invoices", params={"summarizeErrors": "false"}, json=mixed, headers=headers
    )
    assert answer.status_code == 200
    assert [i["HasErrors"] for i in answer.json()["Invoices"]] == [False, True]

    edit = {"InvoiceID": invoice["InvoiceID"], "Reference": "dext:abc (edited)"}
    assert client.put(f"{XERO_API}/Invoices", json=edit, headers=headers).status_code == 400  # PUT creates
    edited = client.post(f"{XERO_API}/Invoices", json={"Invoices": [edit]}, headers=headers).json()[
        "Invoices"
    ][0]
    assert (edited["InvoiceID"], edited["Reference"], edited["Total"]) == (
        invoice["InvoiceID"],
        edit["Reference"],
        25.2,
    )
    voided = client.post(f"{XERO_API}/Invoices", json={**edit, "Status": "VOIDED"}, headers=headers).json()
    assert (voided["Invoices"][0]["Status"], voided["Invoices"][0]["AmountDue"]) == ("VOIDED", 0.0)
    reopened = client.post(f"{XERO_API}/Invoices", json={**edit, "Status": "DRAFT"}, headers=headers)
    assert reopened.status_code == 400
    listed = client.get(f"{XERO_API}/Invoices", params={"Statuses": "AUTHORISED"}, headers=headers).json()
    assert sorted(i["InvoiceNumber"] for i in listed["Invoices"]) == ["SUP-1002", "SUP-1003"]


# --- QuickBooks Online -------------------------------------------------------------------------------


def test_quickbooks_flow_query_paging_active_and_fault_after_revocation(
    sb: Sandbox, client: httpx.Client
) -> None:
    verifier, challenge = pkce()
    redirect = authorise(client, "quickbooks", challenge, state="q-1")
    assert redirect["realmId"] == sb.qbo_realm_id and redirect["state"] == "q-1"
    no_basic = client.post(
        "/oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": redirect["code"], "redirect_uri": REDIRECT},
    )
    assert (no_basic.status_code, no_basic.json()) == (401, {"error": "invalid_client"})
    response = qbo_token(
        client,
        grant_type="authorization_code",
        code=redirect["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    assert tokens["x_refresh_token_expires_in"] > 86400 * 100
    access = tokens["access_token"]

    sb.apply_changes("quickbooks", vendors={"archive": 2})  # at least two inactive vendors
    total = qbo_query(client, sb, access, "select count(*) from Vendor where Active IN (true,false)").json()
    assert total["QueryResponse"]["totalCount"] == 60
    active = qbo_query(client, sb, access, "SELECT COUNT(*) FROM Vendor").json()["QueryResponse"][
        "totalCount"
    ]
    assert active <= 58

    seen: list[dict[str, Any]] = []
    start = 1
    while True:
        body = qbo_query(
            client,
            sb,
            access,
            f"select * from Vendor where Active IN (true,false) STARTPOSITION {start} MAXRESULTS 25",
        ).json()
        assert "time" in body
        page = body["QueryResponse"].get("Vendor", [])
        if not page:
            assert body["QueryResponse"] == {}
            break
        assert body["QueryResponse"]["startPosition"] == start
        assert body["QueryResponse"]["maxResults"] == len(page)
        seen += page
        start += 25
    assert len(seen) == 60 and len({v["Id"] for v in seen}) == 60
    inactive = [v for v in seen if not v["Active"]]
    assert len(inactive) == 60 - active and all(v["DisplayName"].endswith(" (deleted)") for v in inactive)
    only_active = qbo_query(client, sb, access, "select * from Vendor MAXRESULTS 1000").json()
    assert all(v["Active"] for v in only_active["QueryResponse"]["Vendor"])
    assert all(v["MetaData"]["LastUpdatedTime"] and v["SyncToken"] for v in seen)

    for entity in ("Account", "Customer", "TaxCode", "Class", "Department"):
        rows = qbo_query(client, sb, access, f"select * from {entity} where Active IN (true,false)").json()[
            "QueryResponse"
        ][entity]
        assert rows and any(not r["Active"] for r in rows), entity

    bad = qbo_query(client, sb, access, "selec * from Vendor")
    assert bad.status_code == 400 and bad.json()["Fault"]["Error"][0]["code"] == "4000"
    assert qbo_query(client, sb, access, "select * from Widget").status_code == 400

    renewed = qbo_token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert qbo_token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json() == {
        "error": "invalid_grant"
    }

    revoked = client.post(
        "/developer.api.intuit.com/v2/oauth2/tokens/revoke",
        json={"token": renewed["refresh_token"]},
        auth=("client-123", "secret-456"),
    )
    assert revoked.status_code == 200
    refused = qbo_query(client, sb, renewed["access_token"], "select * from Vendor")
    assert refused.status_code == 401
    error = refused.json()["Fault"]["Error"][0]
    assert error["code"] == "3200" and "AuthenticationFailed" in error["Message"]
    assert qbo_token(client, grant_type="refresh_token", refresh_token=renewed["refresh_token"]).json() == {
        "error": "invalid_grant"
    }


def test_quickbooks_incremental_query_and_other_realm(sb: Sandbox, client: httpx.Client) -> None:
    token = sb.issue_tokens("quickbooks")["access_token"]
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    empty = qbo_query(
        client, sb, token, f"select * from Customer where Metadata.LastUpdatedTime > '{moment}'"
    )
    assert empty.json()["QueryResponse"] == {}
    sb.advance_clock(5)
    changed = sb.apply_changes("quickbooks", customers={"add": 1, "rename": 1})["changed"]
    delta = qbo_query(
        client, sb, token, f"select * from Customer where Metadata.LastUpdatedTime > '{moment}'"
    )
    assert {c["Id"] for c in delta.json()["QueryResponse"]["Customer"]} == {c["id"] for c in changed}
    other = client.get(
        "/quickbooks.api.intuit.com/v3/company/123/query",
        params={"query": "select * from Vendor"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert other.status_code == 403 and other.json()["Fault"]["Error"][0]["code"] == "3100"
    info = client.get(
        f"/quickbooks.api.intuit.com/v3/company/{sb.qbo_realm_id}/companyinfo/{sb.qbo_realm_id}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert info["CompanyInfo"]["CompanyName"] == "Kestrel Joinery Ltd"
    sparse = qbo_query(client, sb, token, "select Id, DisplayName from Vendor where DisplayName LIKE '%Ltd%'")
    assert all(
        v["sparse"] and v["DisplayName"].find("Ltd") >= 0 for v in sparse.json()["QueryResponse"]["Vendor"]
    )
    sb.expire_tokens()
    assert qbo_query(client, sb, token, "select * from Vendor").json()["Fault"]["Error"][0]["code"] == "3200"


# --- Xero's answers against Xero's OpenAPI ---------------------------------------------------------

MS_DATE_PATTERN = r"^/Date\(-?\d+(\+0000)?\)/$"
DROPPED = {
    "example",
    "examples",
    "externalDocs",
    "description",
    "readOnly",
    "writeOnly",
    "default",
    "xml",
    "deprecated",
    "discriminator",
    "nullable",
}
ENVELOPE = {  # Xero wraps every answer in these; the spec's list schemas leave them out
    "Id": {"type": "string", "format": "uuid"},
    "Status": {"type": "string", "enum": ["OK"]},
    "ProviderName": {"type": "string"},
    "DateTimeUTC": {"type": "string", "pattern": MS_DATE_PATTERN},
}


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12, made strict: refs to `#/$defs`, `nullable` as a null
    type, `x-is-msdate(-time)` as Xero's `/Date(ms+0000)/` pattern, and no properties beyond those named."""
    if isinstance(node, list):
        return [openapi_to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: openapi_to_json_schema(s) for name, s in value.items()}
        elif key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        elif key in ("x-is-msdate-time", "x-is-msdate"):
            if value:
                out["pattern"] = MS_DATE_PATTERN
        elif key.startswith("x-") or key in DROPPED:
            continue
        else:
            out[key] = openapi_to_json_schema(value)
    if node.get("nullable"):
        if "$ref" in out:
            out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        elif "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
    if "properties" in out:
        out.setdefault("type", "object")
        out.setdefault("additionalProperties", False)
    return out


@pytest.fixture(scope="module")
def xero_schema() -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=loader)
    defs = {name: openapi_to_json_schema(s) for name, s in spec["components"]["schemas"].items()}
    for wrapper in ("Accounts", "Contacts", "TaxRates", "TrackingCategories", "Currencies", "Invoices"):
        defs[wrapper]["properties"].update(ENVELOPE)
        defs[wrapper]["required"] = [wrapper]
    # Xero's invoices also carry these two (the spec names only UpdatedDateUTCString).
    defs["Invoice"]["properties"].update(
        {"DateString": {"type": "string"}, "DueDateString": {"type": "string"}}
    )
    identity = yaml.load(IDENTITY_SPEC.read_text(encoding="utf-8"), Loader=loader)
    connection = openapi_to_json_schema(identity["components"]["schemas"]["Connection"])
    defs["Connections"] = {"type": "array", "items": connection}
    import jsonschema

    jsonschema.Draft202012Validator.check_schema({"$defs": defs})  # the conversion gave valid JSON Schema
    return defs


_validators: dict[tuple[int, str], Any] = {}


def validator(defs: dict[str, Any], name: str) -> Any:
    import jsonschema

    key = (id(defs), name)
    if key not in _validators:
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": defs,
            "$ref": f"#/$defs/{name}",
        }
        _validators[key] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker(formats=("uuid",))
        )
    return _validators[key]


def assert_valid(defs: dict[str, Any], name: str, payload: Any) -> None:
    errors = sorted(validator(defs, name).iter_errors(payload), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_xero_answers_match_the_published_schemas(
    sb: Sandbox, client: httpx.Client, xero_schema: dict[str, Any]
) -> None:
    sb.apply_changes("xero", contacts={"add": 1}, accounts={"add": 1})
    for index in (0, 1):
        headers = xero_session(sb, index)
        for resource, params in (
            ("Accounts", {}),
            ("Contacts", {"page": "1", "includeArchived": "true"}),
            ("Contacts", {}),
            ("TaxRates", {}),
            ("TrackingCategories", {"includeArchived": "true"}),
            ("Currencies", {}),
        ):
            response = client.get(f"{XERO_API}/{resource}", params=params, headers=headers)
            assert response.status_code == 200
            body = response.json()
            assert body[resource], resource
            assert_valid(xero_schema, resource, body)

    headers = xero_session(sb)
    contact = client.get(f"{XERO_API}/Contacts", params={"page": "1"}, headers=headers).json()["Contacts"][0]
    bill = {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact["ContactID"]},
        "DueDate": "2025-04-30",
        "LineItems": [
            {
                "Description": "Ink",
                "UnitAmount": 12,
                "AccountCode": "461",
                "Tracking": [{"Name": "Region", "Option": "South"}],
            }
        ],
    }
    assert client.put(f"{XERO_API}/Invoices", json=bill, headers=headers).status_code == 200
    assert_valid(xero_schema, "Invoices", client.get(f"{XERO_API}/Invoices", headers=headers).json())
    if "Connections" in xero_schema:
        bearer = {"Authorization": headers["Authorization"]}
        assert_valid(
            xero_schema, "Connections", client.get("/api.xero.com/connections", headers=bearer).json()
        )


def test_the_schema_check_catches_wrong_types_and_fields(
    sb: Sandbox, client: httpx.Client, xero_schema: dict[str, Any]
) -> None:
    headers = xero_session(sb)
    contacts = client.get(f"{XERO_API}/Contacts", params={"page": "1"}, headers=headers).json()
    assert_valid(xero_schema, "Contacts", contacts)
    broken_cases = [
        ("IsSupplier", "true"),  # a string for a boolean
        ("UpdatedDateUTC", "2025-01-01T00:00:00Z"),  # not Xero's /Date(...)/ format
        ("ContactStatus", "DELETED"),  # not one of the statuses
        ("ContactID", "not-a-uuid"),
        ("Nmae", "Typo Ltd"),  # a field the spec does not have
    ]
    check = validator(xero_schema, "Contacts")
    for field, value in broken_cases:
        broken = copy.deepcopy(contacts)
        broken["Contacts"][0][field] = value
        assert list(check.iter_errors(broken)), field
    accounts = client.get(f"{XERO_API}/Accounts", headers=headers).json()
    accounts["Accounts"][0]["Type"] = "EXPENSES"
    assert list(validator(xero_schema, "Accounts").iter_errors(accounts))
    currencies = client.get(f"{XERO_API}/Currencies", headers=headers).json()
    currencies["Currencies"][0]["Code"] = "GBPX"
    assert list(validator(xero_schema, "Currencies").iter_errors(currencies))


# --- the server, the controls, the CLI ---------------------------------------------------------------


def test_seeded_data_is_deterministic() -> None:
    with (
        Sandbox(port=0, contacts=30, vendors=5, customers=5, seed=7) as a,
        Sandbox(port=0, contacts=30, vendors=5, customers=5, seed=7) as b,
        Sandbox(port=0, contacts=30, vendors=5, customers=5, seed=8) as c,
    ):
        assert a.xero_tenants == b.xero_tenants != c.xero_tenants
        assert a.qbo_realm_id == b.qbo_realm_id
        assert a.url != b.url and a.url.startswith("http://127.0.0.1:")
        names = [[x.name for x in s.engine.xero_orgs[0].contacts] for s in (a, b, c)]
        assert names[0] == names[1] != names[2]
        changes = [s.apply_changes("xero", contacts={"rename": 2})["changed"] for s in (a, b)]
        assert [x["id"] for x in changes[0]] == [x["id"] for x in changes[1]]


def test_controls_describe_options_and_reset(sb: Sandbox, client: httpx.Client) -> None:
    info = client.get("/_sandbox/").json()
    assert info["url"] == sb.url and info["env"] == f"export DEXT_TUI_SANDBOX_URL={sb.url}"
    assert [t["contacts"] for t in info["xero"]["tenants"]] == [250, 250]
    changed = client.post("/_sandbox/options", json={"access_token_seconds": 90, "xero_minute_limit": 30})
    assert changed.json()["options"]["access_token_seconds"] == 90
    assert sb.issue_tokens("quickbooks")["expires_in"] == 90
    assert client.post("/_sandbox/options", json={"contacts": 5}).status_code == 400  # seeded: use reset
    assert client.post("/_sandbox/options", json={"rate_limit": "yes"}).status_code == 400
    assert client.post("/_sandbox/options", json={"nope": 1}).status_code == 400

    tokens = sb.issue_tokens("xero")
    reset = client.post("/_sandbox/reset", json={"options": {"contacts": 12}})
    assert [t["contacts"] for t in reset.json()["xero"]["tenants"]] == [12, 12]
    gone = client.get(
        f"{XERO_API}/Currencies", headers=xero_headers(tokens["access_token"], tokens["tenants"][0])
    )
    assert gone.status_code == 401  # a reset forgets every token
    issued = client.post(
        "/_sandbox/tokens/issue", json={"provider": "xero", "tenants": ["Northwind Trading Ltd"]}
    )
    assert issued.json()["tenants"] == [sb.xero_tenants[1]["tenantId"]]
    assert client.post("/_sandbox/nope").status_code == 404
    assert (
        client.post("/_sandbox/changes", json={"provider": "xero", "contacts": {"add": -1}}).status_code
        == 400
    )
    assert client.get("/nowhere.example.com/x").status_code == 404


def test_requests_are_logged_without_tokens(capfd: pytest.CaptureFixture[str]) -> None:
    with Sandbox(port=0, contacts=3, log_requests=True) as sb, httpx.Client(base_url=sb.url) as c:
        verifier, challenge = pkce()
        code = authorise(c, "xero", challenge)["code"]
        tokens = xero_token(
            c, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
        ).json()
        c.get(
            f"{XERO_API}/Currencies",
            params={"access_token": tokens["access_token"]},
            headers=xero_headers(tokens["access_token"], sb.xero_tenants[0]["tenantId"]),
        )
    err = capfd.readouterr().err
    assert f"GET {XERO_API}/Currencies 200" in err
    for secret in (code, tokens["access_token"], tokens["refresh_token"], verifier):
        assert secret not in err


def test_run_sandbox_prints_the_url_and_the_env_line() -> None:
    stop = threading.Event()
    out = io.StringIO()
    result: list[int] = []

    def serve() -> None:
        with redirect_stdout(out):
            result.append(run_sandbox(["--port", "0", "--contacts", "20", "--quiet"], stop=stop))

    thread = threading.Thread(target=serve)
    thread.start()
    deadline = time.monotonic() + 10
    while "export DEXT_TUI_SANDBOX_URL=" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    text = out.getvalue()
    url = text.split("export DEXT_TUI_SANDBOX_URL=")[1].split()[0]
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{url}/_sandbox/").json()["xero"]["tenants"][0]["contacts"] == 20
    stop.set()
    thread.join(timeout=10)
    assert result == [0]
    assert run_sandbox(["--contacts", "-1"]) == 2
    assert run_sandbox(["--bogus"]) == 2


def test_options_type_checks() -> None:
    options = SandboxOptions()
    options.update({"access_token_seconds": None, "refresh_token_days": 2})
    assert options.refresh_seconds("xero") == 2 * 86400
    assert options.access_seconds("xero") == 1800 and options.access_seconds("quickbooks") == 3600
    with pytest.raises(ValueError):
        options.update({"xero_minute_limit": -1})
