"""Catching the login's redirect on a loopback port, for a browser on this machine or one that reaches it
through `ssh -L 8749:127.0.0.1:8749 server`.

A tiny one-shot HTTP listener (asyncio streams, no framework): it answers the browser with a short page,
hands back the full redirect URL, and closes. The URL may equally be pasted in; whichever comes first wins.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from dext_tui.core.errors import DextError

LOOPBACK_HOST = "127.0.0.1"
LOOPBACK_PORT = 8749
CALLBACK_PATH = "/callback"
PAGE = (
    "<!doctype html><meta charset=utf-8><title>dext-tui</title>"
    "<p style='font-family:sans-serif'>Logged in. You can close this tab and go back to dext-tui.</p>"
)


class RedirectListener:
    """`async with RedirectListener() as listener: url = await listener.url()`."""

    def __init__(self, host: str = LOOPBACK_HOST, port: int = LOOPBACK_PORT, path: str = CALLBACK_PATH):
        self.host, self.port, self.path = host, port, path
        self._server: asyncio.base_events.Server | None = None
        self._got: asyncio.Future[str] | None = None

    async def __aenter__(self) -> RedirectListener:
        self._got = asyncio.get_running_loop().create_future()
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise DextError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc}); paste the address instead"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def url(self) -> str:
        assert self._got is not None
        return await self._got

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass  # the headers: not needed
            parts = request.decode("latin-1").split()
            target = parts[1] if len(parts) >= 3 and parts[0] == "GET" else ""
            if urlsplit(target).path == self.path and "?" in target:
                body, status = PAGE.encode(), "200 OK"
                if self._got is not None and not self._got.done():
                    self._got.set_result(f"http://{self.host}:{self.port}{target}")
            else:
                body, status = b"not found", "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
