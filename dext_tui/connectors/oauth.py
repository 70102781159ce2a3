"""OAuth 2.0 for Xero and QuickBooks Online: authorisation code with PKCE (S256).

The flow: `begin(client)` gives a `PendingAuth` (keep it owner-only until completed: `TokenStore.
save_pending`) whose `url` the user opens; the provider redirects to `redirect_uri?code=...&state=...`
(QuickBooks adds `realmId`); `complete(client, pending, redirect_url)` checks the state and exchanges the
code for `Tokens`. `refresh` renews them (a refused refresh token is `ConnectionExpired`); `revoke` ends the
authorisation at the provider.

Xero apps are "mobile or desktop" apps (PKCE, no client secret; a web app's secret is accepted too).
QuickBooks apps always have a secret, sent with HTTP Basic. Client ids come from the environment or the
config file (`client_from_config`); with `DEXT_TUI_SANDBOX_URL` set and nothing configured, the sandbox's
"sandbox-client" is used.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from dext_tui.connectors.cloud_http import (
    CloudHttp,
    RetryPolicy,
    decode_json,
    endpoint,
    expect_dict,
    sandbox_url,
)
from dext_tui.core.errors import ConnectionExpired, ConnectorError, DextError, InvalidData

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8749/callback"
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"
PENDING_MAX_AGE = timedelta(minutes=30)
EXPIRED_MESSAGE = "Connection is expired (the authorisation was revoked or has lapsed); reconnect"
DEFAULT_EXPIRES_IN = 1800


@dataclass(frozen=True)
class Provider:
    name: str  # "xero", "quickbooks": the connection's provider
    label: str  # for messages
    authorize_url: str
    token_url: str
    revoke_url: str
    scopes: tuple[str, ...]
    secret_required: bool
    env_client_id: str
    env_client_secret: str
    register_hint: str  # how to get a client id, for the error when none is configured


XERO = Provider(
    name="xero",
    label="Xero",
    authorize_url="https://login.xero.com/identity/connect/authorize",
    token_url="https://identity.xero.com/connect/token",
    revoke_url="https://identity.xero.com/connect/revocation",
    scopes=(
        "openid",
        "profile",
        "email",
        "accounting.settings.read",
        "accounting.contacts.read",
        # Publishing bills (PUT Invoices). The granular scope, not accounting.transactions: apps registered
        # since March 2026 may not ask for that one (the login would fail with invalid_scope), and every
        # app may ask for this.
        "accounting.invoices",
        "accounting.payments",  # recording the payment of a paid cost (PUT Payments)
        "offline_access",
    ),
    secret_required=False,
    env_client_id="DEXT_TUI_XERO_CLIENT_ID",
    env_client_secret="DEXT_TUI_XERO_CLIENT_SECRET",
    register_hint=(
        "register a 'Mobile or desktop app' (PKCE, no secret) at https://developer.xero.com/app/manage "
        'with the redirect URI {redirect_uri}, then set DEXT_TUI_XERO_CLIENT_ID or put `client_id = "..."` '
        "under [xero] in config.toml in the data directory"
    ),
)

QUICKBOOKS = Provider(
    name="quickbooks",
    label="QuickBooks",
    authorize_url="https://appcenter.intuit.com/connect/oauth2",
    token_url="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
    revoke_url="https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
    scopes=("com.intuit.quickbooks.accounting",),
    secret_required=True,
    env_client_id="DEXT_TUI_QUICKBOOKS_CLIENT_ID",
    env_client_secret="DEXT_TUI_QUICKBOOKS_CLIENT_SECRET",
    register_hint=(
        "create an app with the Accounting scope at https://developer.intuit.com/app/developer/dashboard, "
        "add the redirect URI {redirect_uri} under Keys & credentials, then set "
        "DEXT_TUI_QUICKBOOKS_CLIENT_ID and DEXT_TUI_QUICKBOOKS_CLIENT_SECRET or put `client_id` and "
        "`client_secret` under [quickbooks] in config.toml in the data directory"
    ),
)

PROVIDERS: dict[str, Provider] = {XERO.name: XERO, QUICKBOOKS.name: QUICKBOOKS}


def provider_named(name: str | Provider) -> Provider:
    if isinstance(name, Provider):
        return name
    try:
        return PROVIDERS[name.strip().lower()]
    except KeyError:
        raise DextError(f"unknown cloud provider {name!r}; choose one of: {', '.join(PROVIDERS)}") from None


@dataclass(frozen=True)
class OAuthClient:
    provider: Provider
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI

    def __post_init__(self) -> None:
        object.__setattr__(self, "provider", provider_named(self.provider))

    @property
    def label(self) -> str:
        return self.provider.label


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a time")
    return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _time_text(value: datetime) -> str:
    return _utc(value).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, repr=False)
class Tokens:
    """An authorisation's tokens. `extra` holds what comes with them (QuickBooks: `realmId`,
    `refresh_expires_at`). Never printed: `repr` shows only when they lapse."""

    access_token: str
    refresh_token: str
    expires_at: datetime  # UTC
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Tokens(expires_at={_time_text(self.expires_at)}, extra={self.extra!r})"

    __str__ = __repr__

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return _utc(self.expires_at) <= now + timedelta(seconds=seconds)

    @property
    def refresh_expires_at(self) -> datetime | None:
        """When the refresh token lapses, when the provider says (QuickBooks: about 100 days)."""
        value = self.extra.get("refresh_expires_at")
        try:
            return _parse_time(value, "refresh_expires_at") if value else None
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": _time_text(self.expires_at),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tokens:
        """Raises ValueError (never showing a token) when `data` is not a stored Tokens."""
        if not isinstance(data, Mapping):
            raise ValueError("stored tokens are not an object")
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
            raise ValueError("stored tokens lack an access or refresh token")
        extra = data.get("extra") or {}
        if not isinstance(extra, dict):
            raise ValueError("stored tokens' extra is not an object")
        return cls(access, refresh, _parse_time(data.get("expires_at"), "expires_at"), dict(extra))


@dataclass(frozen=True)
class PendingAuth:
    """An authorisation begun and not yet completed. `code_verifier` is a secret: kept out of `repr`."""

    state: str
    code_verifier: str = field(repr=False)
    provider: str
    redirect_uri: str
    url: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "code_verifier": self.code_verifier,
            "provider": self.provider,
            "redirect_uri": self.redirect_uri,
            "url": self.url,
            "created_at": _time_text(self.created_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingAuth:
        """Raises ValueError when `data` is not a stored PendingAuth."""
        if not isinstance(data, Mapping):
            raise ValueError("a pending authorisation is not an object")
        values = {}
        for key in ("state", "code_verifier", "provider", "redirect_uri", "url"):
            value = data.get(key)
            if not isinstance(value, str) or not value:
                raise ValueError(f"a pending authorisation lacks {key}")
            values[key] = value
        return cls(**values, created_at=_parse_time(data.get("created_at"), "created_at"))

    def is_stale(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) - _utc(self.created_at) > PENDING_MAX_AGE


# -- configuration ----------------------------------------------------------------------------------


def _config_value(config: Mapping[str, Any] | None, section: str, key: str) -> str | None:
    table = (config or {}).get(section)
    value = table.get(key) if isinstance(table, Mapping) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def client_from_config(
    provider: str | Provider,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    redirect_uri: str | None = None,
) -> OAuthClient:
    """The app registration to authorise with: the client id (and secret) from the environment
    (`DEXT_TUI_XERO_CLIENT_ID`, `DEXT_TUI_QUICKBOOKS_CLIENT_ID`, `DEXT_TUI_QUICKBOOKS_CLIENT_SECRET`,
    optional `DEXT_TUI_XERO_CLIENT_SECRET`), else the config's `[xero]` / `[quickbooks]` table (`client_id`,
    `client_secret`, `redirect_uri`). With `DEXT_TUI_SANDBOX_URL` set and none configured, the sandbox's
    client. Otherwise a DextError saying how to register an app."""
    prov = provider_named(provider)
    env = os.environ if environ is None else environ
    client_id = (env.get(prov.env_client_id) or "").strip() or _config_value(config, prov.name, "client_id")
    secret = (env.get(prov.env_client_secret) or "").strip() or _config_value(
        config, prov.name, "client_secret"
    )
    redirect = redirect_uri or _config_value(config, prov.name, "redirect_uri") or DEFAULT_REDIRECT_URI
    in_sandbox = sandbox_url(env) is not None
    if not client_id and in_sandbox:
        client_id = SANDBOX_CLIENT_ID
        secret = secret or (SANDBOX_CLIENT_SECRET if prov.secret_required else None)
    if not client_id:
        raise DextError(
            f"{prov.label} needs an app registration to connect: "
            + prov.register_hint.format(redirect_uri=redirect)
        )
    if prov.secret_required and not secret:
        if in_sandbox:
            secret = SANDBOX_CLIENT_SECRET
        else:
            raise DextError(
                f"{prov.label} needs the app's client secret as well as its id: "
                + prov.register_hint.format(redirect_uri=redirect)
            )
    return OAuthClient(prov, client_id, secret or None, redirect)


# -- the flow ---------------------------------------------------------------------------------------


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin(client: OAuthClient, *, now: datetime | None = None) -> PendingAuth:
    """Start an authorisation: a fresh state and PKCE verifier, and the URL the user opens."""
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: within PKCE's 43..128
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": " ".join(client.provider.scopes),
        "state": state,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    url = endpoint(client.provider.authorize_url) + "?" + urlencode(params)
    return PendingAuth(
        state=state,
        code_verifier=verifier,
        provider=client.provider.name,
        redirect_uri=client.redirect_uri,
        url=url,
        created_at=(now or datetime.now(UTC)).replace(microsecond=0),
    )


def parse_redirect(redirect_url: str) -> dict[str, str]:
    """The parameters of the URL the provider redirected to (a whole URL, or just its query)."""
    text = redirect_url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. "Invalid IPv6 URL": not an address the provider sent
        raise ConnectorError(
            "that is not the address the browser landed on after logging in; copy it whole and try again"
        ) from None
    query = parts.query if (parts.scheme or text.startswith("/") or "?" in text) else text
    query = query or parts.fragment
    return {k: v[0] for k, v in parse_qs(query.lstrip("?"), keep_blank_values=True).items()}


_AUTH_ERRORS = {
    "access_denied": "access was not granted (the authorisation was cancelled or declined)",
    "unauthorized_client": "this app may not ask for that authorisation (unauthorized_client)",
    "invalid_scope": "this app may not ask for the accounting scopes (invalid_scope)",
    "invalid_request": "the authorisation request was refused (invalid_request)",
    "server_error": "the provider failed while authorising (server_error); try again",
    "temporarily_unavailable": "the provider is busy (temporarily_unavailable); try again later",
}


async def _post(
    client: OAuthClient,
    url: str,
    what: str,
    *,
    basic: tuple[str, str] | None,
    http: CloudHttp | None,
    transport: httpx.AsyncBaseTransport | None,
    policy: RetryPolicy | None,
    data: dict[str, str] | None = None,
    json_body: dict[str, Any] | None = None,
) -> httpx.Response:
    """One POST to an OAuth endpoint (no bearer token), on `http` or a session of its own closed after;
    the answer whatever its status, for the caller to read."""
    session = http or CloudHttp(client.label, transport=transport, policy=policy)
    try:
        return await session.request(
            "POST",
            url,
            what=what,
            data=data,
            json_body=json_body,
            basic_auth=basic,
            use_token=False,
            check_status=False,
        )
    finally:
        if http is None:
            await session.aclose()


def _client_auth(client: OAuthClient, form: dict[str, str]) -> tuple[str, str] | None:
    """HTTP Basic for a client with a secret; a public (PKCE) client names itself in the form."""
    if client.client_secret:
        return (client.client_id, client.client_secret)
    form["client_id"] = client.client_id
    return None


async def _token_call(
    client: OAuthClient,
    form: dict[str, str],
    *,
    http: CloudHttp | None,
    transport: httpx.AsyncBaseTransport | None,
    policy: RetryPolicy | None,
) -> tuple[int, dict[str, Any]]:
    basic = _client_auth(client, form)
    what = "the token endpoint"
    response = await _post(
        client,
        client.provider.token_url,
        what,
        basic=basic,
        data=form,
        http=http,
        transport=transport,
        policy=policy,
    )
    try:
        body = decode_json(response, client.label, what)
    except InvalidData:
        if response.status_code >= 400:
            raise ConnectorError(
                f"{client.label} refused the token request (HTTP {response.status_code})"
            ) from None
        raise
    return response.status_code, expect_dict(body, client.label, what)


def _tokens_from(
    client: OAuthClient,
    body: dict[str, Any],
    *,
    previous: Tokens | None,
    extra: dict[str, Any],
    now: datetime,
) -> Tokens:
    what = "the token endpoint"
    access = body.get("access_token")
    refresh = body.get("refresh_token") or (previous.refresh_token if previous else None)
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise InvalidData(
            f"{client.label} sent data of the wrong shape for {what}: no access or refresh token"
        )
    expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
    try:
        seconds = int(expires_in)
    except (TypeError, ValueError):
        raise InvalidData(f"{client.label} sent data of the wrong shape for {what}: expires_in") from None
    merged = dict(previous.extra) if previous else {}
    merged.update(extra)
    refresh_in = body.get("x_refresh_token_expires_in")
    if isinstance(refresh_in, int | float) and not isinstance(refresh_in, bool):
        merged["refresh_expires_at"] = _time_text(now + timedelta(seconds=int(refresh_in)))
    return Tokens(access, refresh, (now + timedelta(seconds=seconds)).replace(microsecond=0), merged)


def _oauth_error(body: dict[str, Any]) -> tuple[str, str]:
    error = body.get("error")
    description = body.get("error_description")
    return (
        error if isinstance(error, str) else "",
        " ".join(description.split())[:200] if isinstance(description, str) else "",
    )


def _refused(client: OAuthClient, status: int, body: dict[str, Any], *, exchanging: bool) -> DextError:
    error, description = _oauth_error(body)
    if error == "invalid_grant":
        if exchanging:
            return ConnectorError(
                f"{client.label} refused the authorisation code (it lapses after a few minutes and works "
                "once); connect again"
            )
        return ConnectionExpired(EXPIRED_MESSAGE)
    if error == "invalid_client" or status == 401:
        what = "client id and secret" if client.provider.secret_required else "client id"
        return ConnectorError(
            f"{client.label} does not accept this app's {what} (invalid_client); check them"
        )
    detail = ": ".join(p for p in (error, description) if p) or f"HTTP {status}"
    return ConnectorError(f"{client.label} refused the token request: {detail}")


async def complete(
    client: OAuthClient,
    pending: PendingAuth,
    redirect_url: str,
    *,
    http: CloudHttp | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
    now: datetime | None = None,
) -> Tokens:
    """Finish an authorisation from the URL the provider redirected to: check it answers `pending`,
    exchange the code. QuickBooks' `realmId` goes to `Tokens.extra["realmId"]`."""
    label = client.label
    if pending.provider != client.provider.name:
        raise DextError(
            f"the authorisation in progress is for {pending.provider}, not {client.provider.name}"
        )
    params = parse_redirect(redirect_url)
    error = params.get("error")
    if error:
        text = _AUTH_ERRORS.get(error, f"the authorisation failed ({error})")
        description = " ".join(params.get("error_description", "").split())[:200]
        if description and error not in _AUTH_ERRORS:
            text += f": {description}"
        raise ConnectorError(f"{label}: {text}")
    state = params.get("state", "")
    if not state or not secrets.compare_digest(state.encode(), pending.state.encode()):
        raise ConnectorError(
            f"{label}: that redirect does not answer the authorisation in progress (its state differs); "
            "start connecting again"
        )
    now = now or datetime.now(UTC)
    if pending.is_stale(now):
        raise ConnectorError(f"{label}: the authorisation was started too long ago; start connecting again")
    code = params.get("code")
    if not code:
        raise ConnectorError(f"{label}: the redirect carries no authorisation code; start connecting again")
    extra: dict[str, Any] = {}
    if client.provider.name == QUICKBOOKS.name:
        realm = params.get("realmId")
        if not realm:
            raise ConnectorError(f"{label}: the redirect names no company (realmId); start connecting again")
        extra["realmId"] = realm
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.code_verifier,
    }
    status, body = await _token_call(client, form, http=http, transport=transport, policy=policy)
    if status >= 400 or "error" in body:
        raise _refused(client, status, body, exchanging=True)
    return _tokens_from(client, body, previous=None, extra=extra, now=now)


async def refresh(
    client: OAuthClient,
    tokens: Tokens,
    *,
    http: CloudHttp | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
    now: datetime | None = None,
) -> Tokens:
    """New tokens for old (the refresh token may rotate: save the result before using it). A refused
    refresh token (`invalid_grant`) is ConnectionExpired."""
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    status, body = await _token_call(client, form, http=http, transport=transport, policy=policy)
    if status >= 400 or "error" in body:
        raise _refused(client, status, body, exchanging=False)
    return _tokens_from(client, body, previous=tokens, extra={}, now=now or datetime.now(UTC))


async def revoke(
    client: OAuthClient,
    tokens: Tokens,
    *,
    http: CloudHttp | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
) -> None:
    """End the authorisation at the provider (revoking the refresh token ends its access tokens too).
    A token the provider no longer knows counts as revoked. Raises ProviderUnavailable/ConnectorError
    when the provider could not be told: the caller may disconnect locally anyway."""
    form: dict[str, str] | None = None
    if client.provider.name == QUICKBOOKS.name:  # Intuit: JSON, and HTTP Basic even for its secret
        basic: tuple[str, str] | None = (client.client_id, client.client_secret or "")
        body_json: dict[str, Any] | None = {"token": tokens.refresh_token}
    else:
        form = {"token": tokens.refresh_token, "token_type_hint": "refresh_token"}
        basic, body_json = _client_auth(client, form), None
    response = await _post(
        client,
        client.provider.revoke_url,
        "the revocation endpoint",
        basic=basic,
        data=form,
        json_body=body_json,
        http=http,
        transport=transport,
        policy=policy,
    )
    if response.status_code < 300:
        return
    body: dict[str, Any] = {}
    try:
        decoded = response.json()
        body = decoded if isinstance(decoded, dict) else {}
    except (ValueError, UnicodeDecodeError):
        pass
    error, _ = _oauth_error(body)
    if error in ("invalid_grant", "invalid_token") or (response.status_code == 400 and not error):
        return  # already revoked or lapsed
    raise _refused(client, response.status_code, body, exchanging=False)
