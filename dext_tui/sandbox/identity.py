"""OAuth 2 for both providers: the authorise redirect, the token endpoint (authorisation code with PKCE,
refresh with rotation) and revocation, with the errors each provider gives."""

from __future__ import annotations

import base64
import binascii
import hmac
import html
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from dext_tui.sandbox._http import Request, Response, xero_connection_time
from dext_tui.sandbox.state import CODE_SECONDS, QBO, XERO, Grant, PendingCode, fake_jwt, s256

if TYPE_CHECKING:
    from dext_tui.sandbox.engine import Engine

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error(error: str, status: int = 400, description: str | None = None) -> Response:
    payload: dict[str, str] = {"error": error}
    if description:
        payload["error_description"] = description
    return Response.json(status, payload, NO_STORE)


def _error_page(title: str, detail: str) -> Response:
    body = (
        "<!doctype html><html><head><title>Error</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p></body></html>"
    )
    return Response.text(400, body, content_type="text/html; charset=utf-8")


def _redirect(target: str, params: dict[str, str]) -> Response:
    joiner = "&" if urlsplit(target).query else "?"
    return Response.empty(302, {"Location": f"{target}{joiner}{urlencode(params)}", **NO_STORE})


def authorize(engine: Engine, req: Request, provider: str) -> Response:
    """GET: answered at once, as a test login would, with a 302 to the redirect URI."""
    if req.method != "GET":
        return Response.text(405, "Method not allowed")
    client_id = req.arg("client_id") or ""
    redirect_uri = req.arg("redirect_uri") or ""
    state = req.arg("state")
    parts = urlsplit(redirect_uri)
    if not client_id:
        return _error_page("unauthorized_client", "Unknown client or client not enabled (no client_id)")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _error_page("invalid_request", "Invalid redirect_uri")
    extra = {"state": state} if state is not None else {}
    if (req.arg("response_type") or "") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type", **extra})
    scopes = (req.arg("scope") or "").split()
    if not scopes:
        return _redirect(redirect_uri, {"error": "invalid_scope", **extra})
    challenge = req.arg("code_challenge")
    method = req.arg("code_challenge_method") or ("plain" if challenge else "")
    if challenge and method not in ("S256", "plain"):
        return _redirect(redirect_uri, {"error": "invalid_request", **extra})
    with engine.lock:
        tenants = engine.xero_tenants_to_connect() if provider == XERO else [engine.qbo.realm_id]
        code = engine.tokens.new_code(
            PendingCode(
                provider=provider,
                client_id=client_id,
                redirect_uri=redirect_uri,
                scopes=scopes,
                code_challenge=challenge,
                challenge_method=method,
                tenants=tenants,
                expires_at=engine.now() + CODE_SECONDS,
            )
        )
    if provider == XERO:
        params = {
            "code": code,
            "scope": " ".join(scopes),
            **extra,
            "session_state": secrets.token_urlsafe(24),
        }
    else:
        params = {"code": code, **extra, "realmId": engine.qbo.realm_id}
    return _redirect(redirect_uri, params)


def _basic(req: Request) -> tuple[str, str] | None:
    value = req.header("Authorization") or ""
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep and client_id else None


def token(engine: Engine, req: Request, provider: str) -> Response:
    """POST (form): grant_type authorization_code or refresh_token."""
    if req.method != "POST":
        return Response.text(405, "Method not allowed")
    form = req.form()
    basic = _basic(req)
    if provider == QBO and basic is None:
        return oauth_error("invalid_client", 401)
    client_id = basic[0] if basic else form.get("client_id", "")
    if not client_id:
        return oauth_error("invalid_client")
    grant_type = form.get("grant_type", "")
    now = engine.now()
    with engine.lock:
        if grant_type == "authorization_code":
            code = form.get("code", "")
            if not code:
                return oauth_error("invalid_request")
            pending = engine.tokens.take_code(code)
            if (
                pending is None
                or pending.used
                or pending.expires_at <= now
                or pending.provider != provider
                or pending.client_id != client_id
            ):
                return oauth_error("invalid_grant")
            pending.used = True  # one use, whatever follows
            if form.get("redirect_uri", "") != pending.redirect_uri:
                return oauth_error("invalid_grant")
            if pending.code_challenge:
                verifier = form.get("code_verifier", "")
                expected = s256(verifier) if pending.challenge_method == "S256" else verifier
                if not verifier or not hmac.compare_digest(expected, pending.code_challenge):
                    return oauth_error("invalid_grant")
            grant = engine.new_grant(provider, client_id, pending.scopes, pending.tenants)
        elif grant_type == "refresh_token":
            presented = form.get("refresh_token", "")
            record = engine.tokens.lookup(presented) if presented else None
            if (
                record is None
                or record.kind != "refresh"
                or record.used
                or record.expires_at <= now
                or record.grant.revoked
                or record.grant.provider != provider
                or record.grant.client_id != client_id
            ):
                return oauth_error("invalid_grant")
            record.used = True  # rotation: the presented refresh token is spent
            grant = record.grant
        else:
            return oauth_error("unsupported_grant_type")
        issued = engine.tokens.issue(grant, now, engine.options)
    return Response.json(200, token_payload(engine, grant, issued, now), NO_STORE)


def token_payload(engine: Engine, grant: Grant, issued: dict[str, Any], now: float) -> dict[str, Any]:
    if grant.provider == XERO:
        payload: dict[str, Any] = {}
        if "openid" in grant.scopes:
            payload["id_token"] = fake_jwt(
                {
                    "nbf": int(now),
                    "exp": int(now + 300),
                    "iss": "https://identity.xero.com",
                    "aud": grant.client_id,
                    "iat": int(now),
                    "at_hash": secrets.token_urlsafe(16),
                    "sid": grant.id.replace("-", ""),
                    "sub": grant.user_id,
                    "auth_time": int(grant.created),
                    "xero_userid": grant.user_id,
                    "global_session_id": grant.auth_event_id.replace("-", ""),
                    "preferred_username": "sandbox.user@example.com",
                    "email": "sandbox.user@example.com",
                    "given_name": "Sandbox",
                    "family_name": "User",
                }
            )
        payload.update(
            {
                "access_token": issued["access_token"],
                "expires_in": issued["expires_in"],
                "token_type": "Bearer",
            }
        )
        if "refresh_token" in issued:
            payload["refresh_token"] = issued["refresh_token"]
        payload["scope"] = " ".join(grant.scopes)
        return payload
    return {
        "token_type": "bearer",
        "access_token": issued["access_token"],
        "refresh_token": issued["refresh_token"],
        "expires_in": issued["expires_in"],
        "x_refresh_token_expires_in": issued["refresh_expires_in"],
    }


def revoke(engine: Engine, req: Request, provider: str) -> Response:
    """Xero: form `token=` (a refresh token); QuickBooks: JSON `{"token": ...}` (either token) with HTTP
    Basic. The whole authorisation ends: its access tokens too, and Xero's connections it made."""
    if req.method != "POST":
        return Response.text(405, "Method not allowed")
    basic = _basic(req)
    if provider == QBO and basic is None:
        return oauth_error("invalid_client", 401)
    presented = ""
    content_type = (req.header("Content-Type") or "").lower()
    if "json" in content_type:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            return oauth_error("invalid_request")
        presented = body.get("token", "") if isinstance(body, dict) else ""
    else:
        form = req.form()
        presented = form.get("token", "")
        if not basic and not form.get("client_id") and provider == XERO:
            return oauth_error("invalid_client")
    if not presented:
        return oauth_error("invalid_request")
    with engine.lock:
        record = engine.tokens.lookup(presented)
        if record is not None and record.grant.provider == provider:
            engine.revoke_grant(record.grant)
    return Response.empty(200, NO_STORE)


def connection_json(
    tenant_id: str, name: str, connection_id: str, auth_event: str, created: float, updated: float
) -> dict[str, Any]:
    return {
        "id": connection_id,
        "authEventId": auth_event,
        "tenantId": tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": name,
        "createdDateUtc": xero_connection_time(created),
        "updatedDateUtc": xero_connection_time(updated),
    }
