"""Cloud connectors: HTTP rules, OAuth, token storage, Xero and QuickBooks mappings.

Unit tests run over `httpx.MockTransport`; the end-to-end ones at the bottom run over real loopback against
the sandbox (`dext_tui.sandbox`), and are skipped when it is not there.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dext_tui.connectors import oauth
from dext_tui.connectors.cloud_http import CloudHttp, RetryPolicy, endpoint
from dext_tui.connectors.oauth import OAuthClient, PendingAuth, Tokens
from dext_tui.connectors.quickbooks import QuickBooksConnector, list_companies
from dext_tui.connectors.tokens import TokenManager, TokenStore
from dext_tui.connectors.xero import XeroConnector, list_tenants, parse_fingerprint
from dext_tui.core.domain import ALL_KINDS, ItemStatus, Kind
from dext_tui.core.errors import (
    ConnectionExpired,
    ConnectorError,
    DextError,
    InvalidData,
    ProviderUnavailable,
    RateLimited,
)

ACCESS = "ACCESS-SECRET-abc123"
REFRESH = "REFRESH-SECRET-def456"
NEW_ACCESS = "ACCESS-SECRET-rotated-789"
NEW_REFRESH = "REFRESH-SECRET-rotated-000"
SECRETS = (ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH)
TENANT = "fe79f7dd-b6d4-4a92-ba7b-538af6289c58"
REALM = "9130355555555555"

Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps:
    """An injectable sleep that records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, backoff=(0.5, 2.0), timeout=5.0)


@pytest.fixture(autouse=True)
def no_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEXT_TUI_SANDBOX_URL", raising=False)


def http(handler: Handler, policy: RetryPolicy, label: str = "Xero", **kwargs: Any) -> CloudHttp:
    return CloudHttp(label, transport=httpx.MockTransport(handler), policy=policy, **kwargs)


def ok(payload: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


def tokens(access: str = ACCESS, refresh: str = REFRESH, *, minutes: int = 30, **extra: Any) -> Tokens:
    return Tokens(
        access, refresh, datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes), extra
    )


XERO_CLIENT = OAuthClient(oauth.XERO, "xero-client-id")
QBO_CLIENT = OAuthClient(oauth.QUICKBOOKS, "qbo-client-id", "qbo-client-secret")


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# -- endpoint ---------------------------------------------------------------------------------------


def test_endpoint_mirrors_real_urls_under_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://api.xero.com/api.xro/2.0/Contacts?page=2"
    assert endpoint(url) == url
    monkeypatch.setenv("DEXT_TUI_SANDBOX_URL", "http://127.0.0.1:8765/")
    assert endpoint(url) == "http://127.0.0.1:8765/api.xero.com/api.xro/2.0/Contacts?page=2"
    assert endpoint("http://127.0.0.1:8749/callback") == "http://127.0.0.1:8749/callback"


# -- CloudHttp --------------------------------------------------------------------------------------


async def test_429_waits_for_retry_after_then_succeeds(policy: RetryPolicy, sleeps: Sleeps) -> None:
    answers = iter([ok({}, 429, **{"Retry-After": "3"}), ok({"Accounts": []})])
    async with http(lambda r: next(answers), policy) as client:
        assert await client.get_json("https://api.xero.com/api.xro/2.0/Accounts") == {"Accounts": []}
    assert sleeps.waits == [3.0]


async def test_429_gives_up_with_rate_limited(policy: RetryPolicy, sleeps: Sleeps) -> None:
    async with http(lambda r: ok({}, 429, **{"Retry-After": "1"}), policy) as client:
        with pytest.raises(RateLimited, match="keeps limiting calls"):
            await client.get_json("https://api.xero.com/api.xro/2.0/Accounts")
    assert sleeps.waits == [1.0, 1.0, 1.0]  # three waits, then the fourth 429 gives up
    daily = ok({}, 429, **{"Retry-After": "7200", "X-Rate-Limit-Problem": "day"})
    async with http(lambda r: daily, policy) as client:
        with pytest.raises(RateLimited, match=r"daily call limit.*about 2 hours"):
            await client.get_json("https://api.xero.com/api.xro/2.0/Accounts")


async def test_5xx_burst_is_retried_with_backoff(policy: RetryPolicy, sleeps: Sleeps) -> None:
    answers = iter([httpx.Response(503), httpx.Response(502), ok({"Currencies": []})])
    async with http(lambda r: next(answers), policy) as client:
        assert await client.get_json("https://api.xero.com/api.xro/2.0/Currencies") == {"Currencies": []}
    assert sleeps.waits == [0.5, 2.0]


async def test_5xx_forever_is_provider_unavailable(policy: RetryPolicy) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    async with http(handler, policy) as client:
        with pytest.raises(ProviderUnavailable) as err:
            await client.get_json("https://api.xero.com/api.xro/2.0/Accounts")
    assert str(err.value).startswith("Xero did not answer: HTTP 500")
    assert "/api.xro/2.0/Accounts" in str(err.value)
    assert len(calls) == 3


async def test_timeouts_and_refused_connections_are_retried_then_unavailable(policy: RetryPolicy) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    async with http(refused, policy, label="QuickBooks") as client:
        with pytest.raises(ProviderUnavailable, match=r"QuickBooks did not answer: ConnectError.*3 times"):
            await client.get_json("https://quickbooks.api.intuit.com/v3/company/1/query")
    answers: list[Any] = [httpx.ReadTimeout("slow"), ok([])]

    def slow_once(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with http(slow_once, policy) as client:
        assert await client.get_json("https://api.xero.com/connections") == []


async def test_malformed_json_and_wrong_shapes_are_invalid_data(policy: RetryPolicy) -> None:
    bad = httpx.Response(200, content=b"<html>oops</html>")
    async with http(lambda r: bad, policy) as client:
        with pytest.raises(
            InvalidData, match=r"Xero sent malformed data for /api.xro/2.0/TaxRates: not JSON"
        ):
            await client.get_json("https://api.xero.com/api.xro/2.0/TaxRates")
    store_free = XeroConnector(TENANT, "Demo", "k", TokenStore(Path("/nonexistent")), XERO_CLIENT)
    assert store_free.target == TENANT


async def test_at_most_five_calls_in_flight(policy: RetryPolicy) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return ok({})

    async with CloudHttp("Xero", transport=httpx.MockTransport(handler), policy=policy) as client:
        await asyncio.gather(*(client.get_json(f"https://api.xero.com/x/{i}") for i in range(20)))
        assert client.calls == 20
        assert client.max_seen_in_flight == 5


async def test_other_refusals_name_the_endpoint(policy: RetryPolicy) -> None:
    async with http(lambda r: ok({"Message": "No such thing"}, 404), policy) as client:
        with pytest.raises(
            ConnectorError, match=r"Xero could not find /api.xro/2.0/Nope \(HTTP 404\): No such"
        ):
            await client.get_json("https://api.xero.com/api.xro/2.0/Nope")


# -- tokens -----------------------------------------------------------------------------------------


def test_token_store_is_owner_only_and_atomic(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    assert store.load("xero-1") is None
    saved = tokens(realmId="123")
    store.save("xero-1", saved)
    assert store.load("xero-1") == saved
    assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "tokens" / "xero-1.json").stat().st_mode) == 0o600
    store.save("xero-1", tokens(NEW_ACCESS, NEW_REFRESH))
    assert store.load("xero-1").access_token == NEW_ACCESS
    assert sorted(p.name for p in (tmp_path / "tokens").iterdir()) == ["xero-1.json"]  # no temp files left
    store.delete("xero-1")
    assert store.load("xero-1") is None
    (tmp_path / "tokens" / "bad.json").write_text("{not json")
    with pytest.raises(ConnectionExpired, match="cannot be read"):
        store.load("bad")
    with pytest.raises(ValueError):
        store.load("../escape")


def test_pending_authorisations_round_trip(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    pending = oauth.begin(XERO_CLIENT)
    store.save_pending("xero-1", pending)
    assert store.load_pending("xero-1") == pending
    assert stat.S_IMODE((tmp_path / "tokens" / "xero-1.pending.json").stat().st_mode) == 0o600
    assert pending.code_verifier not in repr(pending)
    store.delete_pending("xero-1")
    assert store.load_pending("xero-1") is None


def test_tokens_never_show_in_repr_or_str() -> None:
    t = tokens(realmId="42")
    for text in (repr(t), str(t), f"{t}", repr([t])):
        assert_no_secrets(text)
        assert "expires_at" in text
    assert Tokens.from_json(json.loads(json.dumps(t.to_json()))) == t
    with pytest.raises(ValueError) as err:
        Tokens.from_json({"access_token": ACCESS})
    assert_no_secrets(str(err.value))
    assert "qbo-client-secret" not in repr(QBO_CLIENT)


def token_endpoint(
    log: list[dict[str, str]],
    *,
    store: TokenStore | None = None,
    key: str = "",
    answer: tuple[int, dict[str, Any]] | None = None,
) -> Handler:
    """A token endpoint that rotates ACCESS/REFRESH to NEW_ACCESS/NEW_REFRESH."""

    def handle(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        log.append(form | {"authorization": request.headers.get("Authorization", "")})
        if answer is not None:
            return ok(answer[1], answer[0])
        return ok(
            {
                "access_token": NEW_ACCESS,
                "refresh_token": NEW_REFRESH,
                "expires_in": 1800,
                "token_type": "Bearer",
            }
        )

    return handle


async def test_a_401_refreshes_once_saves_the_rotation_first_then_retries(
    tmp_path: Path, policy: RetryPolicy
) -> None:
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", tokens())
    refreshes: list[dict[str, str]] = []
    api_tokens: list[str] = []
    stored_when_used: list[str] = []
    to_token = token_endpoint(refreshes)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "identity.xero.com":
            return to_token(request)
        bearer = request.headers["Authorization"].removeprefix("Bearer ")
        api_tokens.append(bearer)
        if bearer == ACCESS:
            return ok({"Title": "Unauthorized", "Detail": "TokenExpired"}, 401)
        stored_when_used.append(store.load("xero-1").access_token)
        return ok({"Currencies": [{"Code": "GBP", "Description": "Pound Sterling"}]})

    transport = httpx.MockTransport(handler)
    manager = TokenManager(store, "xero-1", XERO_CLIENT, transport=transport, policy=policy)
    async with CloudHttp("Xero", auth=manager, transport=transport, policy=policy) as client:
        results = await asyncio.gather(
            *(client.get_json("https://api.xero.com/api.xro/2.0/Currencies") for _ in range(4))
        )
    assert all(r["Currencies"][0]["Code"] == "GBP" for r in results)
    assert len(refreshes) == 1  # four 401s, one refresh
    assert refreshes[0]["grant_type"] == "refresh_token"
    assert refreshes[0]["refresh_token"] == REFRESH
    assert refreshes[0]["client_id"] == "xero-client-id"  # a PKCE app names itself, no secret
    assert stored_when_used == [NEW_ACCESS] * 4  # saved before the new token was used
    assert store.load("xero-1").refresh_token == NEW_REFRESH


async def test_a_second_401_is_connection_expired(tmp_path: Path, policy: RetryPolicy) -> None:
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", tokens())
    refreshes: list[dict[str, str]] = []
    to_token = token_endpoint(refreshes)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "identity.xero.com":
            return to_token(request)
        return ok({"Title": "Unauthorized"}, 401)

    transport = httpx.MockTransport(handler)
    manager = TokenManager(store, "xero-1", XERO_CLIENT, transport=transport, policy=policy)
    async with CloudHttp("Xero", auth=manager, transport=transport, policy=policy) as client:
        with pytest.raises(ConnectionExpired) as err:
            await client.get_json("https://api.xero.com/api.xro/2.0/Accounts")
    assert str(err.value).startswith("Connection is expired")
    assert len(refreshes) == 1
    assert_no_secrets(str(err.value))


async def test_invalid_grant_is_connection_expired(
    tmp_path: Path, policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = TokenStore(tmp_path / "tokens")
    store.save("qbo-1", tokens(minutes=0, realmId=REALM))  # lapsed: refreshed before the first call
    log: list[dict[str, str]] = []
    transport = httpx.MockTransport(token_endpoint(log, answer=(400, {"error": "invalid_grant"})))
    manager = TokenManager(store, "qbo-1", QBO_CLIENT, transport=transport, policy=policy)
    with pytest.raises(ConnectionExpired) as err:
        await manager.access_token()
    assert str(err.value) == (
        "Connection is expired (the authorisation was revoked or has lapsed); reconnect"
    )
    basic = base64.b64encode(b"qbo-client-id:qbo-client-secret").decode()
    assert log[0]["authorization"] == f"Basic {basic}"  # QuickBooks: HTTP Basic with the secret
    assert "client_id" not in log[0]
    assert store.load("qbo-1").refresh_token == REFRESH  # nothing overwritten
    assert_no_secrets(caplog.text)


async def test_tokens_are_refreshed_a_minute_before_they_lapse(tmp_path: Path, policy: RetryPolicy) -> None:
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", tokens(minutes=5))
    log: list[dict[str, str]] = []
    transport = httpx.MockTransport(token_endpoint(log))
    now = [datetime.now(UTC)]
    manager = TokenManager(
        store, "xero-1", XERO_CLIENT, transport=transport, policy=policy, now=lambda: now[0]
    )
    assert await manager.access_token() == ACCESS
    now[0] += timedelta(minutes=4, seconds=1)  # 59 s left
    assert await asyncio.gather(manager.access_token(), manager.access_token()) == [NEW_ACCESS, NEW_ACCESS]
    assert len(log) == 1
    # Another process refreshed meanwhile: a second manager uses its tokens instead of refreshing again.
    other = TokenManager(store, "xero-1", XERO_CLIENT, transport=transport, policy=policy, now=lambda: now[0])
    other._tokens = tokens(minutes=0)
    assert await other.access_token() == NEW_ACCESS
    assert len(log) == 1


# -- OAuth ------------------------------------------------------------------------------------------


def test_begin_builds_a_pkce_authorisation_url() -> None:
    pending = oauth.begin(XERO_CLIENT)
    parts = urlsplit(pending.url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://login.xero.com/identity/connect/authorize"
    )
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "xero-client-id"
    assert query["redirect_uri"] == "http://127.0.0.1:8749/callback"
    assert query["state"] == pending.state
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(pending.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert "offline_access" in query["scope"].split() and "accounting.settings.read" in query["scope"]
    assert 43 <= len(pending.code_verifier) <= 128
    assert oauth.begin(XERO_CLIENT).state != pending.state
    assert PendingAuth.from_json(pending.to_json()) == pending
    qbo = dict(parse_qs(urlsplit(oauth.begin(QBO_CLIENT).url).query))
    assert qbo["scope"] == ["com.intuit.quickbooks.accounting"]


async def test_complete_checks_state_and_reports_refusals(policy: RetryPolicy) -> None:
    pending = oauth.begin(XERO_CLIENT)
    base = "http://127.0.0.1:8749/callback"
    with pytest.raises(ConnectorError, match="state differs"):
        await oauth.complete(XERO_CLIENT, pending, f"{base}?code=abc&state=forged")
    with pytest.raises(ConnectorError, match="access was not granted"):
        await oauth.complete(XERO_CLIENT, pending, f"{base}?error=access_denied&state={pending.state}")
    old = PendingAuth.from_json(pending.to_json() | {"created_at": "2020-01-01T00:00:00Z"})
    with pytest.raises(ConnectorError, match="too long ago"):
        await oauth.complete(XERO_CLIENT, old, f"{base}?code=abc&state={pending.state}")
    log: list[dict[str, str]] = []
    refused = httpx.MockTransport(token_endpoint(log, answer=(400, {"error": "invalid_grant"})))
    with pytest.raises(ConnectorError, match="refused the authorisation code"):
        await oauth.complete(
            XERO_CLIENT, pending, f"{base}?code=abc&state={pending.state}", transport=refused, policy=policy
        )


async def test_complete_exchanges_the_code(policy: RetryPolicy) -> None:
    log: list[dict[str, str]] = []
    transport = httpx.MockTransport(token_endpoint(log))
    pending = oauth.begin(XERO_CLIENT)
    got = await oauth.complete(
        XERO_CLIENT, pending, f"code=the-code&state={pending.state}", transport=transport, policy=policy
    )
    assert got.access_token == NEW_ACCESS and got.refresh_token == NEW_REFRESH
    assert got.expires_at > datetime.now(UTC) + timedelta(minutes=29)
    assert log[0]["grant_type"] == "authorization_code"
    assert log[0]["code"] == "the-code"
    assert log[0]["code_verifier"] == pending.code_verifier
    assert log[0]["redirect_uri"] == "http://127.0.0.1:8749/callback"
    # QuickBooks: the company comes with the redirect; the client authenticates with HTTP Basic.
    log.clear()
    pending = oauth.begin(QBO_CLIENT)
    with pytest.raises(ConnectorError, match="realmId"):
        await oauth.complete(QBO_CLIENT, pending, f"?code=c&state={pending.state}", transport=transport)
    url = f"http://127.0.0.1:8749/callback?code=c&state={pending.state}&realmId={REALM}"
    got = await oauth.complete(QBO_CLIENT, pending, url, transport=transport, policy=policy)
    assert got.extra["realmId"] == REALM
    assert log[0]["authorization"].startswith("Basic ")


async def test_revoke_posts_the_refresh_token(policy: RetryPolicy) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)
    await oauth.revoke(XERO_CLIENT, tokens(), transport=transport, policy=policy)
    await oauth.revoke(QBO_CLIENT, tokens(), transport=transport, policy=policy)
    assert seen[0].url == "https://identity.xero.com/connect/revocation"
    assert parse_qs(seen[0].content.decode())["token"] == [REFRESH]
    assert seen[1].url == "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    assert json.loads(seen[1].content) == {"token": REFRESH}


def test_client_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"DEXT_TUI_XERO_CLIENT_ID": "env-id"}
    assert oauth.client_from_config("xero", {"xero": {"client_id": "cfg-id"}}, env).client_id == "env-id"
    assert oauth.client_from_config("xero", {"xero": {"client_id": "cfg-id"}}, {}).client_id == "cfg-id"
    qbo = oauth.client_from_config("quickbooks", {"quickbooks": {"client_id": "i", "client_secret": "s"}}, {})
    assert (qbo.client_id, qbo.client_secret, qbo.redirect_uri) == ("i", "s", oauth.DEFAULT_REDIRECT_URI)
    sandbox = {"DEXT_TUI_SANDBOX_URL": "http://127.0.0.1:9"}
    assert oauth.client_from_config("xero", {}, sandbox).client_id == "sandbox-client"
    assert oauth.client_from_config("quickbooks", None, sandbox).client_secret
    with pytest.raises(DextError, match=r"developer.xero.com.*DEXT_TUI_XERO_CLIENT_ID.*\[xero\]"):
        oauth.client_from_config("xero", {}, {})
    with pytest.raises(DextError, match=r"client secret"):
        oauth.client_from_config("quickbooks", {"quickbooks": {"client_id": "i"}}, {})
    with pytest.raises(DextError, match=r"developer\.intuit\.com"):
        oauth.client_from_config("quickbooks", {}, {})


# -- Xero -------------------------------------------------------------------------------------------


def xero_contact(n: int, **fields: Any) -> dict[str, Any]:
    return {"ContactID": f"c-{n:04d}", "Name": f"Contact {n}", "ContactStatus": "ACTIVE"} | fields


class FakeXero:
    """Just enough of Xero's accounting API for the connector's mapping and paging."""

    def __init__(self, contacts: int = 230) -> None:
        self.contacts = [
            xero_contact(n, IsSupplier=n % 3 != 1, IsCustomer=n % 3 == 1) for n in range(contacts)
        ]
        self.contacts[0] |= {"ContactStatus": "ARCHIVED", "AccountNumber": "ACC-0"}
        self.contacts[2] |= {"IsSupplier": False, "IsCustomer": False}  # neither: a supplier
        self.contacts[4] |= {"IsSupplier": True, "IsCustomer": True}  # both
        self.requests: list[httpx.Request] = []
        self.pagination = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/connections":
            return ok(
                [
                    {
                        "id": "conn-1",
                        "tenantId": TENANT,
                        "tenantName": "Demo Company (UK)",
                        "tenantType": "ORGANISATION",
                    }
                ]
            )
        assert request.headers["xero-tenant-id"] == TENANT
        date = {"Date": "Tue, 02 Jun 2026 10:00:00 GMT"}
        delta = "If-Modified-Since" in request.headers
        if path.endswith("/Accounts"):
            accounts = [
                {
                    "AccountID": "a-1",
                    "Code": "400",
                    "Name": "Advertising",
                    "Type": "OVERHEADS",
                    "TaxType": "INPUT2",
                    "Status": "ACTIVE",
                },
                {"AccountID": "a-2", "Code": "200", "Name": "Sales", "Type": "REVENUE", "Status": "ACTIVE"},
                {
                    "AccountID": "a-3",
                    "Code": "310",
                    "Name": "Old costs",
                    "Type": "DIRECTCOSTS",
                    "Status": "ARCHIVED",
                },
                {
                    "AccountID": "a-4",
                    "Name": "Business Current",
                    "Type": "BANK",
                    "Status": "ACTIVE",
                    "CurrencyCode": "GBP",
                    "BankAccountType": "BANK",
                },
                {"AccountID": "a-5", "Code": "610", "Name": "Debtors", "Type": "CURRENT", "Status": "ACTIVE"},
            ]
            return ok({"Accounts": accounts[:1] if delta else accounts}, **date)
        if path.endswith("/Contacts"):
            page = int(request.url.params["page"])
            assert request.url.params["includeArchived"] == "true"
            rows = self.contacts[:3] if delta else self.contacts
            chunk = rows[(page - 1) * 100 : page * 100]
            body: dict[str, Any] = {"Contacts": chunk}
            if self.pagination:
                body["pagination"] = {
                    "page": page,
                    "pageSize": 100,
                    "pageCount": max(1, -(-len(rows) // 100)),
                    "itemCount": len(rows),
                }
            return ok(body, **date)
        if path.endswith("/TaxRates"):
            return ok(
                {
                    "TaxRates": [
                        {
                            "Name": "20% (VAT on Expenses)",
                            "TaxType": "INPUT2",
                            "Status": "ACTIVE",
                            "EffectiveRate": 20.0,
                        },
                        {"Name": "Old rate", "TaxType": "INPUT", "Status": "DELETED", "DisplayTaxRate": 17.5},
                    ]
                }
            )
        if path.endswith("/TrackingCategories"):
            return ok(
                {
                    "TrackingCategories": [
                        {
                            "TrackingCategoryID": "t-1",
                            "Name": "Region",
                            "Status": "ACTIVE",
                            "Options": [
                                {"TrackingOptionID": "o-1", "Name": "North", "Status": "ACTIVE"},
                                {"TrackingOptionID": "o-2", "Name": "South", "Status": "ARCHIVED"},
                            ],
                        },
                        {
                            "TrackingCategoryID": "t-2",
                            "Name": "Project",
                            "Status": "ARCHIVED",
                            "Options": [
                                {"TrackingOptionID": "o-3", "Name": "Alpha", "Status": "ACTIVE"},
                            ],
                        },
                    ]
                }
            )
        if path.endswith("/Currencies"):
            return ok({"Currencies": [{"Code": "GBP", "Description": "British Pound"}]})
        return ok({"Message": "not found"}, 404)


def xero_connector(tmp_path: Path, fake: Handler, policy: RetryPolicy) -> XeroConnector:
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", tokens())
    return XeroConnector(
        TENANT, "Demo", "xero-1", store, XERO_CLIENT, transport=httpx.MockTransport(fake), policy=policy
    )


async def test_xero_fetch_maps_every_list(tmp_path: Path, policy: RetryPolicy) -> None:
    fake = FakeXero()
    connector = xero_connector(tmp_path, fake, policy)
    connector.check_source()
    assert connector.unchanged_since("anything") is False
    result = await connector.fetch(ALL_KINDS)
    assert result.tenant_name == "Demo Company (UK)" and result.tenant_id == TENANT
    assert result.partial == frozenset() and result.history is None
    cats = {i.remote_id: i for i in result.lists[Kind.CATEGORIES]}
    assert set(cats) == {"a-1", "a-2", "a-3"}
    assert (cats["a-1"].code, cats["a-1"].name) == ("400", "Advertising")
    assert cats["a-1"].data == {"type": "OVERHEADS", "tax_type": "INPUT2", "class": "expense"}
    assert cats["a-3"].status == ItemStatus.ARCHIVED
    [bank] = result.lists[Kind.BANK_ACCOUNTS]
    assert (bank.remote_id, bank.code, bank.data["currency"]) == ("a-4", None, "GBP")
    suppliers = {i.remote_id: i for i in result.lists[Kind.SUPPLIERS]}
    customers = {i.remote_id: i for i in result.lists[Kind.CUSTOMERS]}
    assert len(suppliers) + len(customers) == 230 + 1  # contact 4 is both
    assert "c-0002" in suppliers and "c-0002" not in customers  # neither -> suppliers
    assert "c-0004" in suppliers and "c-0004" in customers
    assert suppliers["c-0000"].status == ItemStatus.ARCHIVED and suppliers["c-0000"].code == "ACC-0"
    taxes = {i.code: i for i in result.lists[Kind.TAX_CODES]}
    assert taxes["INPUT2"].data == {"rate": "20"} and taxes["INPUT2"].status == ItemStatus.ACTIVE
    assert taxes["INPUT"].data == {"rate": "17.5"} and taxes["INPUT"].status == ItemStatus.ARCHIVED
    tracking = {i.remote_id: i for i in result.lists[Kind.TRACKING]}
    assert tracking["o-1"].name == "Region: North" and tracking["o-1"].status == ItemStatus.ACTIVE
    assert tracking["o-2"].status == ItemStatus.ARCHIVED and tracking["o-3"].status == ItemStatus.ARCHIVED
    assert tracking["o-1"].data == {"category": "Region", "category_id": "t-1", "option": "North"}
    assert [(c.code, c.name) for c in result.lists[Kind.CURRENCIES]] == [("GBP", "British Pound")]
    pages = sorted(int(r.url.params["page"]) for r in fake.requests if r.url.path.endswith("/Contacts"))
    assert pages == [1, 2, 3]
    # Without pagination details, pages are read until a short one.
    fake.pagination, fake.requests = False, []
    again = await connector.fetch((Kind.SUPPLIERS,))
    assert set(again.lists) == {Kind.SUPPLIERS}
    assert len([r for r in fake.requests if r.url.path.endswith("/Contacts")]) == 3


async def test_xero_fetch_since_asks_only_for_changes(tmp_path: Path, policy: RetryPolicy) -> None:
    fake = FakeXero()
    connector = xero_connector(tmp_path, fake, policy)
    first = await connector.fetch(ALL_KINDS)
    times = parse_fingerprint(first.fingerprint)
    assert set(times) == {"Accounts", "Contacts", "TaxRates", "TrackingCategories", "Currencies"}
    assert times["Accounts"]["modified"] == datetime(2026, 6, 2, 9, 58, tzinfo=UTC)  # server time - 2 min
    fake.requests = []
    connector.now = lambda: datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
    second = await connector.fetch(ALL_KINDS, since=first.fingerprint)
    assert second.partial == {Kind.CATEGORIES, Kind.BANK_ACCOUNTS, Kind.SUPPLIERS, Kind.CUSTOMERS}
    sent = {r.url.path.rsplit("/", 1)[-1]: r.headers.get("If-Modified-Since") for r in fake.requests}
    assert sent["Accounts"] == sent["Contacts"] == "2026-06-02T09:58:00"
    assert sent["TaxRates"] is None and sent["Currencies"] is None
    assert [i.remote_id for i in second.lists[Kind.CATEGORIES]] == ["a-1"]
    assert len(second.lists[Kind.TAX_CODES]) == 2  # whole
    # A day after the last whole fetch, the whole list is fetched again (deltas do not report deletions).
    connector.now = lambda: datetime(2026, 6, 3, 11, 0, tzinfo=UTC)
    third = await connector.fetch((Kind.CATEGORIES,), since=second.fingerprint)
    assert third.partial == frozenset() and len(third.lists[Kind.CATEGORIES]) == 3
    assert parse_fingerprint("garbage") == {}
    assert parse_fingerprint(first.fingerprint, "another-tenant") == {}  # another organisation's


async def test_xero_disconnected_tenant_and_missing_tokens_are_expired(
    tmp_path: Path, policy: RetryPolicy
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/connections":
            return ok([])
        return ok({"Title": "Forbidden", "Detail": "AuthorizationUnsuccessful"}, 403)

    connector = xero_connector(tmp_path, handler, policy)
    with pytest.raises(ConnectionExpired, match="no longer connected"):
        await connector.fetch(ALL_KINDS)
    connector.store.delete("xero-1")
    with pytest.raises(ConnectionExpired):
        connector.check_source()


async def test_xero_wrong_shapes_are_invalid_data(tmp_path: Path, policy: RetryPolicy) -> None:
    fake = FakeXero()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/TaxRates"):
            return ok({"TaxRates": {"oops": 1}})
        return fake(request)

    with pytest.raises(InvalidData, match=r"/api\.xro/2\.0/TaxRates"):
        await xero_connector(tmp_path, handler, policy).fetch(ALL_KINDS)


async def test_list_tenants(policy: RetryPolicy) -> None:
    fake = FakeXero()
    [tenant] = await list_tenants(tokens(), transport=httpx.MockTransport(fake), policy=policy)
    assert (tenant.id, tenant.name, tenant.connection_id) == (TENANT, "Demo Company (UK)", "conn-1")
    assert fake.requests[0].headers["Authorization"] == f"Bearer {ACCESS}"


# -- QuickBooks -------------------------------------------------------------------------------------


class FakeQuickBooks:
    def __init__(self, vendors: int = 1500) -> None:
        self.vendors = [
            {
                "Id": str(n),
                "DisplayName": f"Vendor {n}",
                "Active": n % 10 != 0,
                "CurrencyRef": {"value": "USD"},
            }
            for n in range(1, vendors + 1)
        ]
        self.queries: list[str] = []
        self.fault: dict[str, Any] | None = None
        self.refreshes = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "oauth.platform.intuit.com":
            self.refreshes += 1
            return ok({"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH, "expires_in": 3600})
        assert request.url.params.get("minorversion") == "75"
        if self.fault is not None:
            return ok(
                {"Fault": self.fault, "time": "2026-01-01T00:00:00-08:00"},
                401 if "3200" in str(self.fault) else 400,
            )
        if request.url.path.endswith(f"/companyinfo/{REALM}"):
            return ok({"CompanyInfo": {"CompanyName": "Sandbox Company_US_1", "Id": "1"}})
        assert request.url.path == f"/v3/company/{REALM}/query"
        query = request.url.params["query"]
        self.queries.append(query)
        words = query.split()
        entity = words[3]
        start, size = int(words[words.index("STARTPOSITION") + 1]), int(words[words.index("MAXRESULTS") + 1])
        rows = self.rows(entity)
        chunk = rows[start - 1 : start - 1 + size]
        body: dict[str, Any] = {"startPosition": start, "maxResults": len(chunk)} if chunk else {}
        if chunk:
            body[entity] = chunk
        return ok({"QueryResponse": body, "time": "2026-01-01T00:00:00-08:00"})

    def rows(self, entity: str) -> list[dict[str, Any]]:
        usd = {"value": "USD", "name": "United States Dollar"}
        return {
            "Account": [
                {
                    "Id": "7",
                    "Name": "Advertising",
                    "FullyQualifiedName": "Advertising",
                    "AccountType": "Expense",
                    "AccountSubType": "AdvertisingPromotional",
                    "Classification": "Expense",
                    "Active": True,
                    "CurrencyRef": usd,
                },
                {
                    "Id": "8",
                    "Name": "Gas",
                    "FullyQualifiedName": "Utilities:Gas",
                    "AcctNum": "6010",
                    "AccountType": "Expense",
                    "Active": False,
                    "CurrencyRef": usd,
                },
                {
                    "Id": "35",
                    "Name": "Checking",
                    "FullyQualifiedName": "Checking",
                    "AccountType": "Bank",
                    "Active": True,
                    "CurrencyRef": usd,
                },
                {
                    "Id": "41",
                    "Name": "Mastercard",
                    "AccountType": "Credit Card",
                    "Active": True,
                    "CurrencyRef": usd,
                },
                {"Id": "79", "Name": "Sales", "AccountType": "Income", "Active": True, "CurrencyRef": usd},
                {
                    "Id": "84",
                    "Name": "AR (EUR)",
                    "AccountType": "Accounts Receivable",
                    "Active": True,
                    "CurrencyRef": {"value": "EUR", "name": "Euro"},
                },
            ],
            "Vendor": self.vendors,
            "Customer": [
                {
                    "Id": "1",
                    "DisplayName": "Amy's Bird Sanctuary",
                    "FullyQualifiedName": "Amy's Bird Sanctuary",
                    "Active": True,
                },
                {
                    "Id": "2",
                    "DisplayName": "Job 1",
                    "FullyQualifiedName": "Amy's Bird Sanctuary:Job 1",
                    "Active": False,
                },
            ],
            "TaxCode": [
                {
                    "Id": "3",
                    "Name": "20.0% S",
                    "Description": "Standard 20%",
                    "Active": True,
                    "PurchaseTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "5"}}]},
                    "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "6"}}]},
                },
                {"Id": "4", "Name": "NON", "Active": False},
            ],
            "TaxRate": [{"Id": "5", "RateValue": 20}, {"Id": "6", "RateValue": 20}],
            "Class": [{"Id": "100", "Name": "Retail", "FullyQualifiedName": "Retail", "Active": True}],
            "Department": [{"Id": "100", "Name": "Leeds", "FullyQualifiedName": "Leeds", "Active": True}],
        }.get(entity, [])


def qbo_connector(tmp_path: Path, fake: Handler, policy: RetryPolicy) -> QuickBooksConnector:
    store = TokenStore(tmp_path / "tokens")
    store.save("qbo-1", tokens(realmId=REALM))
    return QuickBooksConnector(
        REALM, None, "qbo-1", store, QBO_CLIENT, transport=httpx.MockTransport(fake), policy=policy
    )


async def test_quickbooks_fetch_maps_every_list(tmp_path: Path, policy: RetryPolicy) -> None:
    fake = FakeQuickBooks()
    connector = qbo_connector(tmp_path, fake, policy)
    assert connector.target == REALM
    connector.check_source()
    result = await connector.fetch(ALL_KINDS)
    assert result.tenant_name == "Sandbox Company_US_1" and result.tenant_id == REALM
    cats = {i.remote_id: i for i in result.lists[Kind.CATEGORIES]}
    assert set(cats) == {"7", "8", "79"}
    assert (cats["7"].code, cats["8"].code, cats["8"].name) == (None, "6010", "Utilities:Gas")
    assert cats["8"].status == ItemStatus.ARCHIVED
    assert cats["7"].data == {
        "type": "Expense",
        "subtype": "AdvertisingPromotional",
        "classification": "Expense",
    }
    assert {i.remote_id for i in result.lists[Kind.BANK_ACCOUNTS]} == {"35", "41"}
    suppliers = result.lists[Kind.SUPPLIERS]
    assert len(suppliers) == 1500
    assert sum(s.status == ItemStatus.ARCHIVED for s in suppliers) == 150
    vendor_queries = [q for q in fake.queries if "from Vendor" in q]
    assert vendor_queries == [
        "select * from Vendor where Active IN (true,false) STARTPOSITION 1 MAXRESULTS 1000",
        "select * from Vendor where Active IN (true,false) STARTPOSITION 1001 MAXRESULTS 1000",
    ]
    customers = {i.remote_id: i for i in result.lists[Kind.CUSTOMERS]}
    assert (
        customers["2"].name == "Amy's Bird Sanctuary:Job 1" and customers["2"].status == ItemStatus.ARCHIVED
    )
    taxes = {i.remote_id: i for i in result.lists[Kind.TAX_CODES]}
    assert (taxes["3"].code, taxes["3"].name, taxes["3"].data) == ("20.0% S", "Standard 20%", {"rate": "20"})
    assert taxes["4"].status == ItemStatus.ARCHIVED and taxes["4"].data is None
    tracking = {i.remote_id: i.name for i in result.lists[Kind.TRACKING]}
    assert tracking == {"class:100": "Class: Retail", "department:100": "Location: Leeds"}
    assert [(c.code, c.name) for c in result.lists[Kind.CURRENCIES]] == [
        ("EUR", "Euro"),
        ("USD", "United States Dollar"),
    ]
    assert result.history is None and result.fingerprint is None


async def test_quickbooks_faults(tmp_path: Path, policy: RetryPolicy) -> None:
    fake = FakeQuickBooks()
    connector = qbo_connector(tmp_path, fake, policy)
    fake.fault = {
        "Error": [{"Message": "Invalid query", "Detail": "QueryParserError: bad", "code": "4000"}],
        "type": "ValidationFault",
    }
    with pytest.raises(
        ConnectorError, match=r"QuickBooks refused .*Invalid query: QueryParserError.*code 4000"
    ):
        await connector.fetch((Kind.SUPPLIERS,))
    fake.fault = {
        "Error": [
            {"Message": "message=AuthenticationFailed; errorCode=003200; statusCode=401", "code": "3200"}
        ],
        "type": "AUTHENTICATION",
    }
    with pytest.raises(ConnectionExpired):  # after one refresh and retry
        await connector.fetch((Kind.SUPPLIERS,))
    assert fake.refreshes == 1


async def test_list_companies(policy: RetryPolicy) -> None:
    fake = FakeQuickBooks()
    [company] = await list_companies(
        tokens(realmId=REALM), transport=httpx.MockTransport(fake), policy=policy
    )
    assert (company.id, company.name) == (REALM, "Sandbox Company_US_1")


def test_no_token_reaches_a_file_other_than_the_store(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", tokens())
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in files] == ["xero-1.json"]
    assert oct(os.stat(files[0]).st_mode & 0o777) == "0o600"


# -- end to end, over loopback, against the sandbox -------------------------------------------------


@pytest.fixture(scope="module")
def sandbox_server() -> Any:
    try:
        from dext_tui.sandbox import Sandbox
    except ImportError:  # pragma: no cover - the sandbox is a separate part
        pytest.skip("dext_tui.sandbox is not there")
    with Sandbox(port=0, contacts=250, rate_limit=False) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    sandbox_server.reset(contacts=250, rate_limit=False)
    sandbox_server.clear_faults()
    monkeypatch.setenv("DEXT_TUI_SANDBOX_URL", sandbox_server.url)
    return sandbox_server


async def _browser(url: str) -> str:
    """What the user does: open the URL and log in (the sandbox answers at once with the redirect)."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(url)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def _authorise(provider: str) -> tuple[OAuthClient, Tokens]:
    client = oauth.client_from_config(provider, {})
    assert client.client_id == "sandbox-client"
    pending = oauth.begin(client)
    assert pending.url.startswith(os.environ["DEXT_TUI_SANDBOX_URL"])
    return client, await oauth.complete(client, pending, await _browser(pending.url))


async def test_sandbox_xero_connect_fetch_delta_refresh_revoke(
    sandbox: Any, tmp_path: Path, policy: RetryPolicy
) -> None:
    client, got = await _authorise("xero")
    tenants = await list_tenants(got, policy=policy)
    assert {t.id for t in tenants} <= {t["tenantId"] for t in sandbox.xero_tenants} and tenants
    tenant = tenants[0]
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", got)
    connector = XeroConnector(tenant.id, None, "xero-1", store, client, policy=policy)

    result = await connector.fetch(ALL_KINDS)
    assert result.tenant_name == tenant.name and result.tenant_id == tenant.id
    for kind in (Kind.CATEGORIES, Kind.SUPPLIERS, Kind.TAX_CODES, Kind.BANK_ACCOUNTS, Kind.CURRENCIES):
        assert result.lists[kind], kind
    contacts = {i.remote_id for k in (Kind.SUPPLIERS, Kind.CUSTOMERS) for i in result.lists[k]}
    assert len(contacts) == 250  # every page, archived ones too
    assert {i.status for i in result.lists[Kind.SUPPLIERS]} == {ItemStatus.ACTIVE, ItemStatus.ARCHIVED}
    assert all(i.data and "rate" in i.data for i in result.lists[Kind.TAX_CODES])

    # Incremental: only what changed since, the lists named partial.
    changes = sandbox.apply_changes("xero", tenant=tenant.id, contacts={"add": 2, "archive": 1})
    delta = await connector.fetch((Kind.SUPPLIERS, Kind.CUSTOMERS, Kind.TAX_CODES), since=result.fingerprint)
    assert delta.partial == {Kind.SUPPLIERS, Kind.CUSTOMERS}
    changed = {i.remote_id for k in (Kind.SUPPLIERS, Kind.CUSTOMERS) for i in delta.lists[k]}
    assert changed == {c["id"] for c in changes["changed"]}
    assert len(delta.lists[Kind.TAX_CODES]) == len(result.lists[Kind.TAX_CODES])

    # The access token lapses: one refresh (rotating the refresh token, saved) and the fetch goes on.
    sandbox.expire_tokens()
    before = store.load("xero-1")
    again = await connector.fetch((Kind.CURRENCIES,))
    after = store.load("xero-1")
    assert again.lists[Kind.CURRENCIES] and connector.tokens.refreshes == 1
    assert after.refresh_token != before.refresh_token and after.access_token != before.access_token

    # Revoked at Xero: "Connection is expired".
    sandbox.revoke_all_tokens()
    with pytest.raises(ConnectionExpired, match=r"^Connection is expired"):
        await connector.fetch((Kind.CURRENCIES,))


async def test_sandbox_faults_are_retried_or_reported(
    sandbox: Any, tmp_path: Path, policy: RetryPolicy, sleeps: Sleeps
) -> None:
    client, got = await _authorise("xero")
    [tenant, *_] = await list_tenants(got, policy=policy)
    store = TokenStore(tmp_path / "tokens")
    store.save("xero-1", got)
    connector = XeroConnector(tenant.id, tenant.name, "xero-1", store, client, policy=policy)
    kinds = (Kind.CATEGORIES, Kind.TAX_CODES)

    sandbox.add_fault("status", status=503, count=2, path="/Accounts")
    assert (await connector.fetch(kinds)).lists[Kind.CATEGORIES]
    sandbox.add_fault("status", status=429, count=1, path="/TaxRates", retry_after=1)
    sandbox.add_fault("disconnect", count=1, path="/Accounts")
    assert (await connector.fetch(kinds)).lists[Kind.TAX_CODES]
    assert 1.0 in sleeps.waits

    sandbox.add_fault("status", status=500, count=-1, path="/Accounts")
    with pytest.raises(ProviderUnavailable, match=r"^Xero did not answer: HTTP 500"):
        await connector.fetch(kinds)
    sandbox.clear_faults()
    sandbox.add_fault("malformed", count=1, path="/TaxRates")
    with pytest.raises(InvalidData, match="/TaxRates"):
        await connector.fetch(kinds)
    # Every /Accounts answer, until cleared: a call of the fetch that failed just before may still reach
    # the sandbox after this fault is added, and would take a fault meant for one answer only.
    sandbox.add_fault("wrong_shape", count=-1, path="/Accounts")
    with pytest.raises(InvalidData, match="/Accounts"):
        await connector.fetch(kinds)
    sandbox.clear_faults()
    sandbox.add_fault("slow", count=1, seconds=0.5, path="/Accounts")
    quick = RetryPolicy(sleep=sleeps, timeout=0.2, backoff=(0.0,))
    impatient = XeroConnector(tenant.id, tenant.name, "xero-1", store, client, policy=quick)
    assert (await impatient.fetch(kinds)).lists[Kind.CATEGORIES]  # timed out once, then answered


async def test_sandbox_quickbooks_connect_fetch_revoke(
    sandbox: Any, tmp_path: Path, policy: RetryPolicy
) -> None:
    client, got = await _authorise("quickbooks")
    assert got.extra["realmId"] == sandbox.qbo_realm_id
    assert got.refresh_expires_at is not None
    [company] = await list_companies(got, policy=policy)
    assert company.id == sandbox.qbo_realm_id and company.name
    store = TokenStore(tmp_path / "tokens")
    store.save("qbo-1", got)
    connector = QuickBooksConnector(company.id, None, "qbo-1", store, client, policy=policy)
    connector.check_source()
    result = await connector.fetch(ALL_KINDS)
    assert result.tenant_name == company.name
    for kind in (
        Kind.CATEGORIES,
        Kind.SUPPLIERS,
        Kind.CUSTOMERS,
        Kind.TAX_CODES,
        Kind.BANK_ACCOUNTS,
        Kind.CURRENCIES,
    ):
        assert result.lists[kind], kind
    assert len(result.lists[Kind.SUPPLIERS]) == sandbox.describe()["quickbooks"]["counts"]["Vendor"]
    assert {i.status for i in result.lists[Kind.SUPPLIERS]} == {ItemStatus.ACTIVE, ItemStatus.ARCHIVED}

    sandbox.expire_tokens()
    assert (await connector.fetch((Kind.SUPPLIERS,))).lists[Kind.SUPPLIERS]
    assert connector.tokens.refreshes == 1

    await oauth.revoke(client, store.load("qbo-1"), policy=policy)
    with pytest.raises(ConnectionExpired, match=r"^Connection is expired"):
        await connector.fetch((Kind.SUPPLIERS,))


# -- review regressions ------------------------------------------------------------------------------


async def test_a_malformed_redirect_address_is_one_clear_error(policy: RetryPolicy) -> None:
    pending = oauth.begin(XERO_CLIENT)
    with pytest.raises(ConnectorError, match="not the address the browser landed on"):
        await oauth.complete(XERO_CLIENT, pending, "http://[::1/callback?code=abc&state=x", policy=policy)


async def test_a_local_protocol_error_never_shows_the_token(
    policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value b'{request.headers['Authorization']}\\n'")

    class Static:
        async def access_token(self) -> str:
            return ACCESS

        async def refresh_after_rejection(self, rejected: str) -> str:
            return ACCESS

    caplog.set_level(logging.DEBUG)
    async with http(handler, policy, auth=Static()) as client:
        with pytest.raises(ProviderUnavailable) as caught:
            await client.request("GET", "https://api.xero.com/connections")
    assert "LocalProtocolError" in str(caught.value)
    assert_no_secrets(str(caught.value))
    assert_no_secrets(caplog.text)


def test_quickbooks_gateway_faults_keep_their_message() -> None:
    from dext_tui.connectors.quickbooks import qbo_error

    body = {"fault": {"error": [{"message": "ApplicationAuthorizationFailed", "code": "3100"}]}}
    error = qbo_error(httpx.Response(403, json=body), "the Vendor query")
    assert isinstance(error, ConnectorError) and not isinstance(error, ConnectionExpired)
    assert "ApplicationAuthorizationFailed" in str(error) and "code 3100" in str(error)


@pytest.mark.parametrize(
    "content",
    [
        {"pending": {}},
        {"pending": 5},
        {
            "pending": {
                "state": "s",
                "code_verifier": "v",
                "provider": "xero",
                "redirect_uri": "r",
                "url": "u",
                "created_at": "not a time",
            }
        },
    ],
)
async def test_a_damaged_pending_authorisation_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: Any
) -> None:
    from dext_tui.core.cloud_auth import Authorisations, Organisation

    monkeypatch.setenv("DEXT_TUI_XERO_CLIENT_ID", "xero-client-id")
    auth = Authorisations(tmp_path, {})
    auth.begin("xero", 1)
    path = tmp_path / "pending" / "xero-1.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DextError, match="damaged"):
        await auth.complete("xero", 1, "http://127.0.0.1:8749/callback?code=c&state=s")
    path.write_text(json.dumps({"pending": {}, "organisations": [["only-an-id"]], "authorised": 3}))
    with pytest.raises(DextError, match="damaged"):
        auth.choose("xero", 1, None)
    with pytest.raises(DextError, match="damaged"):
        auth.take("xero", 1, Organisation("t", "T"))
    assert not (tmp_path / "tokens").exists()


def test_sandbox_arguments_follow_abbreviated_global_options() -> None:
    from dext_tui.cli import _after_command

    assert _after_command(["--data", "sandbox", "sandbox", "--port", "1"], "sandbox") == ["--port", "1"]
    assert _after_command(["--wo", "x", "--demo", "sandbox", "--quiet"], "sandbox") == ["--quiet"]
    assert _after_command(["--data-dir=sandbox", "sandbox", "--seed", "3"], "sandbox") == ["--seed", "3"]


def test_a_contact_delta_says_which_list_a_contact_left() -> None:
    """Xero's delta lists a contact once, with its flags now: one that became a customer only has left the
    suppliers (a whole read would show it by its absence), so the delta archives it there."""
    from dext_tui.connectors.xero import _left_lists, map_contacts
    from dext_tui.core.domain import ItemStatus, Kind

    contacts = [
        {"ContactID": "a", "Name": "Now only a customer", "ContactStatus": "ACTIVE", "IsCustomer": True},
        {"ContactID": "b", "Name": "Both", "ContactStatus": "ACTIVE", "IsSupplier": True, "IsCustomer": True},
        {"ContactID": "c", "Name": "Only a supplier", "ContactStatus": "ACTIVE", "IsSupplier": True},
    ]
    lists = _left_lists(map_contacts(contacts, "/Contacts"))
    suppliers = {i.remote_id: i.status for i in lists[Kind.SUPPLIERS]}
    customers = {i.remote_id: i.status for i in lists[Kind.CUSTOMERS]}
    assert suppliers == {"b": ItemStatus.ACTIVE, "c": ItemStatus.ACTIVE, "a": ItemStatus.ARCHIVED}
    assert customers == {"a": ItemStatus.ACTIVE, "b": ItemStatus.ACTIVE, "c": ItemStatus.ARCHIVED}
