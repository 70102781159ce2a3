"""What the Xero and QuickBooks Online connectors share: one organisation, its tokens in the token store,
and the policy their calls follow. Each provider adds its lists (`fetch`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import httpx

from dext_tui.connectors.cloud_http import MAX_IN_FLIGHT, CloudHttp, RetryPolicy, run_all
from dext_tui.connectors.oauth import OAuthClient
from dext_tui.connectors.tokens import TokenManager, TokenStore
from dext_tui.core.errors import ConnectionExpired
from dext_tui.core.history import HistoryRecord
from dext_tui.core.publishing import Bill, ErrorClass, OutcomeFn, PublishOutcome

# One bill sent: its outcome, and what every bill not sent yet would meet (a grant that may not write, the
# software down after the retries), or None to go on.
SendOne = Callable[[CloudHttp, Bill], Awaitable[tuple[PublishOutcome, tuple[ErrorClass, str] | None]]]


async def publish_in_order(
    bills: Sequence[Bill],
    send_one: SendOne,
    http: Callable[[], AbstractAsyncContextManager[CloudHttp]],
    on_outcome: OutcomeFn | None,
) -> list[PublishOutcome]:
    """Send the bills up to MAX_IN_FLIGHT at a time; hand each outcome to `on_outcome` in the bills' order
    as soon as it and those before it are known (`Connector.publish`). Once a bill says every later one
    would meet the same, those are answered so without being sent. A refused authorisation stops the
    sending and is raised after the outcomes already known are handed over."""
    bills = list(bills)
    results: list[PublishOutcome | None] = [None] * len(bills)
    handed = 0
    pending = iter(range(len(bills)))
    stop: tuple[ErrorClass, str] | None = None
    expired: ConnectionExpired | None = None

    def hand(index: int, outcome: PublishOutcome) -> None:
        nonlocal handed
        results[index] = outcome
        while handed < len(bills) and (ready := results[handed]) is not None:
            handed += 1
            if on_outcome is not None:
                on_outcome(ready)

    async def worker(client: CloudHttp) -> None:
        nonlocal stop, expired
        for index in pending:
            if expired is not None:
                return
            bill = bills[index]
            if stop is not None:
                hand(index, PublishOutcome.failed(bill.item_id, *stop))
                continue
            try:
                outcome, stops = await send_one(client, bill)
            except ConnectionExpired as exc:
                expired = expired or exc
                return
            if stops is not None and stop is None:
                stop = stops
            hand(index, outcome)

    if bills:
        async with http() as client:
            await run_all(*(worker(client) for _ in range(min(MAX_IN_FLIGHT, len(bills)))))
    if expired is not None:
        # The bills answered stand, even those after the one refused (they were in flight).
        for outcome in results[handed:]:
            if outcome is not None and on_outcome is not None:
                on_outcome(outcome)
        raise expired
    return [r for r in results if r is not None]


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
