"""What the Xero and QuickBooks Online connectors share: one organisation, its tokens in the token store,
and the policy their calls follow. Each provider adds its lists (`fetch`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from dext_tui.connectors.cloud_http import RetryPolicy
from dext_tui.connectors.oauth import OAuthClient
from dext_tui.connectors.tokens import TokenManager, TokenStore
from dext_tui.core.errors import ConnectionExpired
from dext_tui.core.history import HistoryRecord


class CloudConnector:
    provider: str

    def __init__(
        self,
        target: str,
        token_key: str,
        store: TokenStore,
        client: OAuthClient,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._target = target
        self.token_key = token_key
        self.store = store
        self.client = client
        self.transport = transport
        self.policy = policy
        self.now = now or (lambda: datetime.now(UTC))
        self.tokens = TokenManager(store, token_key, client, transport=transport, policy=policy, now=self.now)
        # Told when the provider makes a fetch wait (a rate limit), so the screen can say why it is slow.
        self.on_wait: Callable[[str], None] | None = None

    @property
    def target(self) -> str:
        """The organisation's id (Xero's tenant id, QuickBooks' realm id)."""
        return self._target

    def check_source(self) -> None:
        if not self.store.exists(self.token_key):
            raise ConnectionExpired("Connection is expired (no stored authorisation); reconnect")

    def unchanged_since(self, fingerprint: str | None) -> bool:
        return False  # only a call can tell; fetch(since=...) makes it cheap where the provider allows

    async def history(self, *, isolate: bool = False) -> list[HistoryRecord] | None:
        return None  # bills are not read (yet): Merge lists does without history from cloud books
