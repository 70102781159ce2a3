"""Where the cloud connections' tokens live, and who renews them.

`TokenStore(<data dir>/tokens)`: one JSON file per key (0600, in a 0700 directory), written atomically
(a temp file beside it, fsync, `os.replace`), so a crash leaves the old tokens or the new ones, never half.
It also keeps the pending authorisations (`PendingAuth`) between `oauth.begin` and `oauth.complete`.

`TokenManager`: a valid access token on demand. It refreshes a minute before the token lapses, or once
after a 401, one refresh at a time (an asyncio lock within the process; across processes, an flock on the
store's directory: a cron refresh and the TUI share the store), re-reading the store first in case another
process already refreshed, and it saves the rotated tokens before anyone uses the new access token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from dext_tui.connectors import oauth
from dext_tui.connectors.cloud_http import RetryPolicy
from dext_tui.connectors.oauth import OAuthClient, PendingAuth, Tokens
from dext_tui.core.errors import ConnectionExpired, ConnectorError, DextError

try:  # POSIX: flock serialises refreshes across processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

REFRESH_MARGIN_SECONDS = 60
LOCK_TIMEOUT_SECONDS = 60.0
_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NO_TOKENS_MESSAGE = "Connection is expired (no stored authorisation); reconnect"
UNREADABLE_MESSAGE = "Connection is expired (the stored authorisation cannot be read); reconnect"


class TokenStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    # -- paths ---------------------------------------------------------------------------------------

    def _path(self, key: str, suffix: str = ".json") -> Path:
        if not _KEY_RE.fullmatch(key) or key.endswith(".pending"):
            raise ValueError(f"a token key is letters, digits, '.', '_' and '-': {key!r}")
        return self.directory / f"{key}{suffix}"

    def _ensure_dir(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if stat.S_IMODE(self.directory.stat().st_mode) != 0o700:
            self.directory.chmod(0o700)

    def _write(self, path: Path, payload: dict[str, Any]) -> None:
        try:
            self._ensure_dir()
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as exc:
            raise DextError(
                f"cannot save the authorisation in {self.directory}: {exc.strerror or exc}"
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                json.dump(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise DextError(
                f"cannot save the authorisation in {self.directory}: {exc.strerror or exc}"
            ) from None
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _read(self, path: Path) -> Any | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise ConnectionExpired(UNREADABLE_MESSAGE) from None

    # -- tokens --------------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def load(self, key: str) -> Tokens | None:
        """The stored tokens, or None. A file that cannot be read is ConnectionExpired."""
        data = self._read(self._path(key))
        if data is None:
            return None
        try:
            return Tokens.from_json(data)
        except ValueError:
            raise ConnectionExpired(UNREADABLE_MESSAGE) from None

    def save(self, key: str, tokens: Tokens) -> None:
        self._write(self._path(key), tokens.to_json())

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    # -- other private records -----------------------------------------------------------------------

    def path(self, key: str) -> Path:
        return self._path(key)

    def save_json(self, key: str, payload: dict[str, Any]) -> None:
        """Any owner-only record under `key`, written as the tokens are (0600, atomic, fsynced): a login
        waiting for its organisation to be chosen, say."""
        self._write(self._path(key), payload)

    # -- pending authorisations ---------------------------------------------------------------------

    def save_pending(self, key: str, pending: PendingAuth) -> None:
        self._write(self._path(key, ".pending.json"), pending.to_json())

    def load_pending(self, key: str) -> PendingAuth | None:
        """The authorisation in progress under `key`, or None (also when unreadable: start again)."""
        try:
            data = self._read(self._path(key, ".pending.json"))
            return None if data is None else PendingAuth.from_json(data)
        except (ConnectionExpired, ValueError):
            return None

    def delete_pending(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key, ".pending.json").unlink()

    # -- the cross-process refresh lock --------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lock(self, key: str, timeout: float = LOCK_TIMEOUT_SECONDS) -> AsyncIterator[None]:
        """Serialise refreshes across processes: an flock on the store's directory itself (no lock
        files; refreshes are rare and short, so one lock for every key is enough). Polled, so a waiting
        task stays cancellable. A no-op without fcntl."""
        self._path(key)  # the same key check as everywhere
        if fcntl is None:  # pragma: no cover
            yield
            return
        self._ensure_dir()
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ConnectorError(
                            "another dext-tui is renewing this connection's authorisation; try again"
                        ) from None
                    await asyncio.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock


class TokenManager:
    """Valid access tokens for one stored authorisation (`cloud_http.TokenSource`)."""

    def __init__(
        self,
        store: TokenStore,
        key: str,
        client: OAuthClient,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        now: Callable[[], datetime] | None = None,
        margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self.store = store
        self.key = key
        self.client = client
        self.transport = transport
        self.policy = policy
        self.now = now or (lambda: datetime.now(UTC))
        self.margin = margin
        self._tokens: Tokens | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.refreshes = 0
        self._minted: set[str] = set()  # access tokens this manager got by refreshing

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # a CLI runs one loop per command
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def tokens(self) -> Tokens:
        """The tokens as last loaded or refreshed; ConnectionExpired when none are stored."""
        if self._tokens is None:
            loaded = self.store.load(self.key)
            if loaded is None:
                raise ConnectionExpired(NO_TOKENS_MESSAGE)
            self._tokens = loaded
        return self._tokens

    async def access_token(self) -> str:
        current = self.tokens()
        if current.expires_within(self.margin, self.now()):
            current = await self._refresh(current.access_token, forced=False)
        return current.access_token

    async def refresh_after_rejection(self, rejected: str) -> str:
        if rejected in self._minted:  # refused fresh from the provider: another refresh cannot help
            raise ConnectionExpired(
                f"Connection is expired ({self.client.label} refused a just-renewed access token); reconnect"
            )
        return (await self._refresh(rejected, forced=True)).access_token

    async def _refresh(self, stale: str, *, forced: bool) -> Tokens:
        async with self._loop_lock():
            current = self._tokens
            if current is not None and current.access_token != stale and not self._lapsing(current):
                return current  # refreshed by another call while this one waited
            async with self.store.lock(self.key):
                stored = self.store.load(self.key)
                if stored is None:
                    raise ConnectionExpired(NO_TOKENS_MESSAGE)
                fresh_elsewhere = stored.access_token != stale and not self._lapsing(stored)
                if fresh_elsewhere or (not forced and not self._lapsing(stored)):
                    self._tokens = stored  # another process refreshed
                    return stored
                renewed = await oauth.refresh(
                    self.client, stored, transport=self.transport, policy=self.policy, now=self.now()
                )
                self.store.save(self.key, renewed)  # before anyone uses the new access token
                self._tokens = renewed
                self._minted.add(renewed.access_token)
                self.refreshes += 1
                return renewed

    def _lapsing(self, tokens: Tokens) -> bool:
        return tokens.expires_within(self.margin, self.now())
