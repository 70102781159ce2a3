"""Authorising cloud books (Xero, QuickBooks Online) from a terminal, over SSH too.

Three steps, each of which may run in another process (the CLI is one command per step):
1. `begin`: a PKCE authorisation URL; the pending authorisation (state, verifier) is kept owner-only in
   `<data dir>/pending/PROVIDER-WORKSPACE.json` until it is completed.
2. `complete`: the redirect URL the browser landed on (pasted in, or caught on the loopback port) is
   exchanged for tokens; the organisations they open are listed. The tokens wait in the pending file
   (owner-only) until an organisation is chosen: a code can be exchanged only once.
3. `take`: the chosen organisation's tokens move to the token store under the connection's key, and the
   service connects (or reconnects, or changes to) that organisation.

Tokens never appear in messages, logs or the screen.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dext_tui.core.domain import PROVIDER_LABELS
from dext_tui.core.errors import DextError, UsageError

CLOUD_PROVIDERS = ("xero", "quickbooks")


@dataclass(frozen=True, slots=True)
class Organisation:
    """One organisation (Xero tenant, QuickBooks company) an authorisation opens."""

    id: str
    name: str


def quickbooks_api_base(config: dict[str, Any]) -> str:
    """Intuit's API host: development keys only reach Intuit's sandbox companies."""
    from dext_tui.connectors.quickbooks import API_BASE, INTUIT_SANDBOX_API_BASE

    section = config.get("quickbooks") or {}
    return INTUIT_SANDBOX_API_BASE if section.get("environment") == "development" else API_BASE


def token_key(provider: str, tenant_id: str) -> str:
    """Where a connection's tokens live in the token store: one authorisation per organisation."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in tenant_id)
    return f"{provider}-{safe}"


def _damaged(label: str) -> str:
    return f"the pending {label} authorisation is damaged; start again with --print-url"


class Authorisations:
    def __init__(self, data_dir: Path, config: dict[str, Any]) -> None:
        self.data_dir = data_dir
        self.config = config

    @property
    def tokens_dir(self) -> Path:
        return self.data_dir / "tokens"

    def token_store(self) -> Any:
        from dext_tui.connectors.tokens import TokenStore

        return TokenStore(self.tokens_dir)

    def client(self, provider: str) -> Any:
        from dext_tui.connectors.oauth import client_from_config

        return client_from_config(provider, self.config, os.environ)

    def _pending_store(self) -> Any:
        """Logins in progress: owner-only records written as the tokens are, in their own folder."""
        from dext_tui.connectors.tokens import TokenStore

        return TokenStore(self.data_dir / "pending")

    def _pending_path(self, provider: str, workspace_id: int) -> Path:
        return Path(self._pending_store().path(f"{provider}-{workspace_id}"))

    def _load(self, provider: str, workspace_id: int) -> dict[str, Any]:
        label = PROVIDER_LABELS.get(provider, provider)
        path = self._pending_path(provider, workspace_id)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DextError(
                f"no {label} authorisation is pending: start one with dext-tui connect {provider} --print-url"
            ) from None
        except (OSError, ValueError) as exc:
            message = f"the pending {label} authorisation cannot be read ({exc}); log in again"
            raise DextError(message) from None
        if not isinstance(payload, dict) or "pending" not in payload:
            raise DextError(_damaged(label))
        return payload

    # -- 1 ----------------------------------------------------------------------------------------

    def begin(self, provider: str, workspace_id: int) -> str:
        """A new authorisation URL (any earlier pending one for this workspace is replaced)."""
        from dext_tui.connectors.oauth import begin

        self._check(provider)
        pending = begin(self.client(provider))
        self._pending_store().save_json(f"{provider}-{workspace_id}", {"pending": pending.to_json()})
        return str(pending.url)

    # -- 2 ----------------------------------------------------------------------------------------

    async def complete(self, provider: str, workspace_id: int, redirect_url: str) -> list[Organisation]:
        """Exchange the redirect's code for tokens; the organisations they open."""
        from dext_tui.connectors.oauth import PendingAuth, complete

        self._check(provider)
        payload = self._load(provider, workspace_id)
        try:
            pending = PendingAuth.from_json(payload["pending"])
        except ValueError:
            raise DextError(_damaged(PROVIDER_LABELS[provider])) from None
        client = self.client(provider)
        tokens = await complete(client, pending, redirect_url.strip())
        organisations = await self._organisations(provider, client, tokens)
        if not organisations:
            raise DextError(
                f"that {PROVIDER_LABELS[provider]} login opens no organisation; choose one when you log in"
            )
        payload["authorised"] = tokens.to_json()
        payload["organisations"] = [[o.id, o.name] for o in organisations]
        self._pending_store().save_json(f"{provider}-{workspace_id}", payload)
        return organisations

    async def _organisations(self, provider: str, client: Any, tokens: Any) -> list[Organisation]:
        if provider == "xero":
            from dext_tui.connectors.xero import list_tenants

            return [Organisation(t.id, t.name) for t in await list_tenants(tokens)]
        from dext_tui.connectors.quickbooks import list_companies

        companies = await list_companies(tokens, base=quickbooks_api_base(self.config))
        return [Organisation(t.id, t.name) for t in companies]

    def organisations(self, provider: str, workspace_id: int) -> list[Organisation] | None:
        """The organisations of a completed, not yet used authorisation (None: none is waiting)."""
        try:
            payload = self._load(provider, workspace_id)
        except DextError:
            return None
        rows = payload.get("organisations")
        try:
            return [Organisation(str(i), str(n)) for i, n in rows] if rows else None
        except (TypeError, ValueError):
            raise DextError(_damaged(PROVIDER_LABELS[provider])) from None

    # -- 3 ----------------------------------------------------------------------------------------

    def choose(self, provider: str, workspace_id: int, wanted: str | None) -> Organisation:
        """The organisation `wanted` names (its name in any case, or its id), or the only one."""
        organisations = self.organisations(provider, workspace_id)
        label = PROVIDER_LABELS[provider]
        if organisations is None:
            raise DextError(
                f"no completed {label} authorisation is waiting: dext-tui connect {provider} --print-url,"
                " log in, then --redirect-url URL"
            )
        if wanted:
            key = wanted.strip().casefold()
            found = [o for o in organisations if o.name.casefold() == key or o.id.casefold() == key]
            if not found:
                names = ", ".join(repr(o.name) for o in organisations)
                raise DextError(f"no organisation {wanted!r} in that authorisation; it opens {names}")
            return found[0]
        if len(organisations) > 1:
            names = ", ".join(repr(o.name) for o in organisations)
            raise DextError(f"that login opens several organisations ({names}); choose with --tenant NAME")
        return organisations[0]

    def take(self, provider: str, workspace_id: int, organisation: Organisation) -> None:
        """The authorisation's tokens become the organisation's (saved before the pending file goes)."""
        from dext_tui.connectors.oauth import Tokens

        payload = self._load(provider, workspace_id)
        try:
            tokens = Tokens.from_json(payload.get("authorised"))
        except ValueError:
            raise DextError(_damaged(PROVIDER_LABELS[provider])) from None
        self.token_store().save(token_key(provider, organisation.id), tokens)

    def finish(self, provider: str, workspace_id: int) -> None:
        """The connection is made: the pending authorisation is spent."""
        self._pending_path(provider, workspace_id).unlink(missing_ok=True)

    def forget(self, provider: str, tenant_id: str) -> None:
        self.token_store().delete(token_key(provider, tenant_id))

    def _check(self, provider: str) -> None:
        if provider not in CLOUD_PROVIDERS:
            raise UsageError(f"{provider} does not log in; choose one of: {', '.join(CLOUD_PROVIDERS)}")
