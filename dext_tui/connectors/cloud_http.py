"""HTTP for the cloud connectors: the sandbox rewrite, a call limit, retries and typed errors.

- `endpoint(url)`: the real provider URL, or its mirror under `$DEXT_TUI_SANDBOX_URL` (read at call time):
  `https://HOST/PATH?QUERY` -> `$DEXT_TUI_SANDBOX_URL/HOST/PATH?QUERY`.
- `CloudHttp`: one `httpx.AsyncClient` with at most 5 calls in flight. A 429 waits for `Retry-After`
  (capped; a longer wait, or too many 429s, is `RateLimited`); a 5xx, a timeout or a broken connection is
  retried with backoff (3 tries in all), then `ProviderUnavailable`; a 401 refreshes the access token once
  (through the `TokenSource`) and retries; a body that is not JSON, or JSON of the wrong shape, is
  `InvalidData` naming the endpoint. Tokens never reach a message or a log.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from dext_tui.core.errors import (
    ConnectionExpired,
    ConnectorError,
    DextError,
    InvalidData,
    ProviderUnavailable,
    RateLimited,
)

SANDBOX_ENV = "DEXT_TUI_SANDBOX_URL"
MAX_IN_FLIGHT = 5
USER_AGENT = "dext-tui"
DETAIL_MAX = 200

log = logging.getLogger(__name__)


def sandbox_url(environ: Mapping[str, str] | None = None) -> str | None:
    """`$DEXT_TUI_SANDBOX_URL` without its trailing slash, or None when it is not set."""
    value = (os.environ if environ is None else environ).get(SANDBOX_ENV, "").strip()
    return value.rstrip("/") or None


def endpoint(url: str, environ: Mapping[str, str] | None = None) -> str:
    """`url` as it should be called: itself, or its sandbox mirror when `DEXT_TUI_SANDBOX_URL` is set."""
    base = sandbox_url(environ)
    if base is None:
        return url
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        return url
    rest = parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{base}/{rest}"


class TokenSource(Protocol):
    """What `CloudHttp` asks for bearer tokens (`tokens.TokenManager`)."""

    async def access_token(self) -> str:
        """A valid access token (refreshed first when it is about to lapse)."""

    async def refresh_after_rejection(self, rejected: str) -> str:
        """The provider refused `rejected` (a 401): a fresh access token, refreshed once however many
        calls saw the same refusal."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries for a 5xx, a timeout or a broken connection
    backoff: tuple[float, ...] = (0.5, 2.0)  # waits between those tries, in seconds
    rate_limit_retries: int = 3  # 429s waited out before giving up with RateLimited
    max_retry_after: float = 60.0  # a longer Retry-After is not waited for: RateLimited at once
    default_retry_after: float = 2.0  # when a 429 names no wait
    timeout: float = 30.0
    connect_timeout: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delay(self, failures: int) -> float:
        if not self.backoff:
            return 0.0
        return self.backoff[min(failures - 1, len(self.backoff) - 1)]


# Maps a refused call (a 4xx other than 429, after the 401 refresh) to the provider's error, or None for
# the default one. Arguments: the response and what was called (e.g. "/api.xro/2.0/Accounts").
ErrorMapper = Callable[[httpx.Response, str], DextError | None]


def describe_path(url: str) -> str:
    """What a message calls an endpoint: its path, without the host or the query."""
    return urlsplit(url).path or url


def retry_after_seconds(response: httpx.Response, default: float) -> float:
    """`Retry-After` in seconds (a number or an HTTP date), or `default`."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def response_detail(response: httpx.Response) -> str:
    """A short human detail from an error body (common JSON keys, else the start of the text)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = " ".join(response.text.split()) if response.content else ""
        return text[:DETAIL_MAX] if text and not text.startswith("<") else ""
    if isinstance(body, dict):
        for key in ("Detail", "detail", "Message", "message", "error_description", "Title", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:DETAIL_MAX]
    return ""


def _wait_text(seconds: float) -> str:
    if seconds >= 90 * 60:
        return f"about {round(seconds / 3600)} hours"
    if seconds >= 90:
        return f"about {round(seconds / 60)} minutes"
    count = max(1, round(seconds))
    return f"{count} second{'s' if count != 1 else ''}"


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the call timed out"
    if isinstance(exc, httpx.LocalProtocolError):  # its text may quote a header: the bearer token
        return type(exc).__name__
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class CloudHttp:
    """One provider's HTTP client for one unit of work (a fetch, an authorisation step)."""

    def __init__(
        self,
        label: str,
        *,
        auth: TokenSource | None = None,
        headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        error_mapper: ErrorMapper | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.label = label
        self.on_wait = on_wait  # told when the provider makes us wait (a rate limit), for the screen
        self.auth = auth
        self.policy = policy or RetryPolicy()
        self.error_mapper = error_mapper
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self._in_flight = 0
        self.max_seen_in_flight = 0  # for tests and benchmarks
        self.calls = 0
        self._client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout),
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> CloudHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async with self._semaphore:
            self._in_flight += 1
            self.max_seen_in_flight = max(self.max_seen_in_flight, self._in_flight)
            self.calls += 1
            try:
                return await self._client.request(method, url, **kwargs)
            finally:
                self._in_flight -= 1

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
        basic_auth: tuple[str, str] | None = None,
        use_token: bool = True,
        check_status: bool = True,
    ) -> httpx.Response:
        """Call `url` (the real URL: the sandbox rewrite happens here) with the retry rules. Returns a 2xx
        or 304 response; with `check_status=False` any response below 500 other than 429 (the caller reads
        the error). Raises RateLimited, ProviderUnavailable, ConnectionExpired or ConnectorError."""
        target = endpoint(url)
        what = what or describe_path(url)
        policy = self.policy
        failures = 0
        limited = 0
        refreshed = False
        while True:
            call_headers = dict(headers or {})
            token: str | None = None
            if use_token and self.auth is not None:
                token = await self.auth.access_token()
                call_headers["Authorization"] = f"Bearer {token}"
            kwargs: dict[str, Any] = {"params": params, "headers": call_headers}
            if data is not None:
                kwargs["data"] = data
            if json_body is not None:
                kwargs["json"] = json_body
            if basic_auth is not None:
                kwargs["auth"] = httpx.BasicAuth(*basic_auth)
            try:
                response = await self._send(method, target, **kwargs)
            except httpx.TransportError as exc:
                failures += 1
                reason = _transport_reason(exc)
                if failures >= policy.attempts:
                    raise ProviderUnavailable(
                        f"{self.label} did not answer: {reason} ({what}; tried {failures} times)"
                    ) from None
                log.info("%s %s: %s; retrying", self.label, what, reason)
                await policy.sleep(policy.delay(failures))
                continue

            status = response.status_code
            if status == 429:
                limited += 1
                wait = retry_after_seconds(response, policy.default_retry_after)
                daily = response.headers.get("X-Rate-Limit-Problem", "").lower() == "day"
                if wait > policy.max_retry_after or daily:
                    scope = "daily call limit" if daily else "call limit"
                    raise RateLimited(
                        f"{self.label} reached its {scope} for this organisation; "
                        f"try again in {_wait_text(wait)}"
                    )
                if limited > policy.rate_limit_retries:
                    raise RateLimited(
                        f"{self.label} keeps limiting calls (HTTP 429, {limited} times for {what}); "
                        "try again in a minute"
                    )
                log.info("%s %s: rate limited; waiting %.1f s", self.label, what, wait)
                if self.on_wait is not None:
                    self.on_wait(f"{self.label} limits calls: waiting {_wait_text(wait)}")
                await policy.sleep(wait)
                continue
            if status >= 500:
                failures += 1
                if failures >= policy.attempts:
                    phrase = response.reason_phrase or "server error"
                    raise ProviderUnavailable(
                        f"{self.label} did not answer: HTTP {status} {phrase} "
                        f"({what}; tried {failures} times)"
                    )
                log.info("%s %s: HTTP %s; retrying", self.label, what, status)
                await policy.sleep(policy.delay(failures))
                continue
            if status == 401 and token is not None and not refreshed and self.auth is not None:
                refreshed = True
                await self.auth.refresh_after_rejection(token)
                continue
            if status < 300 or status == 304 or not check_status:
                return response
            raise self._refused(response, what)

    def _refused(self, response: httpx.Response, what: str) -> DextError:
        if self.error_mapper is not None:
            mapped = self.error_mapper(response, what)
            if mapped is not None:
                return mapped
        status = response.status_code
        detail = response_detail(response)
        suffix = f": {detail}" if detail else ""
        if status == 401:
            return ConnectionExpired(
                f"Connection is expired ({self.label} refused the access token{suffix}); reconnect"
            )
        if status == 403:
            return ConnectorError(f"{self.label} refused access to {what} (HTTP 403){suffix}")
        if status == 404:
            return ConnectorError(f"{self.label} could not find {what} (HTTP 404){suffix}")
        return ConnectorError(f"{self.label} refused the request for {what} (HTTP {status}){suffix}")

    async def get_json(
        self,
        url: str,
        *,
        what: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET and decode JSON. A 304 (not modified) gives None."""
        what = what or describe_path(url)
        response = await self.request("GET", url, what=what, params=params, headers=headers)
        if response.status_code == 304:
            return None
        return decode_json(response, self.label, what)


def decode_json(response: httpx.Response, label: str, what: str) -> Any:
    if not response.content:
        raise InvalidData(f"{label} sent an empty answer for {what}")
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise InvalidData(f"{label} sent malformed data for {what}: not JSON ({reason})") from None


# -- shape checks -----------------------------------------------------------------------------------


def expect_dict(value: Any, label: str, what: str, key: str | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        where = f" {key!r}" if key else ""
        raise InvalidData(
            f"{label} sent data of the wrong shape for {what}:{where} is {type(value).__name__}, "
            "not an object"
        )
    return value


def expect_list(
    payload: Any, key: str, label: str, what: str, *, required: bool = True
) -> list[dict[str, Any]]:
    """`payload[key]` as a list of objects; InvalidData naming `what` otherwise. A missing key is an empty
    list when not `required`."""
    body = expect_dict(payload, label, what)
    if key not in body or body[key] is None:
        if required:
            raise InvalidData(f"{label} sent data of the wrong shape for {what}: no {key!r} list")
        return []
    items = body[key]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidData(
            f"{label} sent data of the wrong shape for {what}: {key!r} is not a list of objects"
        )
    return items


def text_field(
    obj: Mapping[str, Any], key: str, label: str, what: str, *, required: bool = False
) -> str | None:
    """A string field, stripped; None when absent or blank (InvalidData when `required`), InvalidData when
    it is not a string."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidData(f"{label} sent data of the wrong shape for {what}: an item has no {key}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidData(f"{label} sent data of the wrong shape for {what}: {key} is not text")
    return str(value).strip()


async def run_all(*coros: Awaitable[Any]) -> list[Any]:
    """Await every coroutine concurrently (the client's call limit applies) and return their results in
    order. The first failure cancels the rest and is raised as itself (not as an ExceptionGroup)."""
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_as_coroutine(c)) for c in coros]
    except BaseExceptionGroup as group_error:
        first = _first_leaf(group_error)
        raise first from None
    return [task.result() for task in tasks]


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def server_time(response: httpx.Response) -> datetime | None:
    """The response's `Date` header as an aware UTC time, or None."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
