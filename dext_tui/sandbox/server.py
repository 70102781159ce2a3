"""The HTTP server (standard library only, 127.0.0.1 only) and `Sandbox`, its in-process handle."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dext_tui.sandbox._http import DropConnection, Request, Response
from dext_tui.sandbox.engine import Engine
from dext_tui.sandbox.options import SandboxOptions
from dext_tui.sandbox.state import Fault

HOST = "127.0.0.1"  # never another interface: the sandbox hands out tokens to anyone who asks
MAX_BODY = 20 * 1024 * 1024

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    engine: Engine

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client that hung up (or a connection the sandbox dropped on purpose)
        log.exception("sandbox: a connection failed")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dext-tui-sandbox"
    sys_version = ""
    timeout = 60  # an idle kept-alive connection is closed after this
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        engine = self.server.engine
        split = urlsplit(self.path)
        host, _, rest = unquote(split.path).lstrip("/").partition("/")
        try:
            body = self._read_body()
        except ValueError:
            self._send(Response.json(413, {"error": "the body is too large"}))
            return
        request = Request(
            method=self.command,
            host=host,
            path="/" + rest,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        try:
            response = engine.handle(request)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception:  # a bug in the sandbox: say so, keep serving
            log.exception("sandbox: %s /%s failed", self.command, host)
            response = Response.json(500, {"error": "the sandbox failed on this request"})
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            try:
                self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Method, path without its query, status: never a token, code or header.
        if self.server.engine.options.log_requests:
            path = urlsplit(self.path).path
            sys.stderr.write(f"sandbox: {self.command} {path} {code}\n")

    def log_message(self, format: str, *args: Any) -> None:
        return  # errors are answered, not printed (a message could quote a request line)


class Sandbox:
    """Xero and QuickBooks Online stand-ins on 127.0.0.1, in a background thread.

        with Sandbox(port=0, contacts=250) as sb:
            httpx.get(f"{sb.url}/_sandbox/")

    `port=0` picks a free port. Options come as `options=SandboxOptions(...)` and/or keyword overrides.
    """

    def __init__(self, port: int = 0, options: SandboxOptions | None = None, **overrides: Any) -> None:
        base = options or SandboxOptions()
        self.options = replace(base, **overrides)  # a copy: the controls change it
        self.engine = Engine(self.options)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        server = _Server((HOST, self._port), _Handler)
        server.engine = self.engine
        self._server = server
        self.engine.base_url = self.url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="dext-tui-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment that points the app's connectors here."""
        return {"DEXT_TUI_SANDBOX_URL": self.url}

    # --- what is seeded ----------------------------------------------------------------------

    @property
    def xero_tenants(self) -> list[dict[str, str]]:
        return [{"tenantId": o.tenant_id, "tenantName": o.name} for o in self.engine.xero_orgs]

    @property
    def qbo_realm_id(self) -> str:
        return self.engine.qbo.realm_id

    def describe(self) -> dict[str, Any]:
        return self.engine.describe()

    # --- controls (the same as the /_sandbox/ HTTP controls) ---------------------------------

    def set_options(self, **changes: Any) -> dict[str, Any]:
        return self.engine.set_options(changes)

    def reset(self, **options: Any) -> None:
        self.engine.reset(options or None)

    def revoke_all_tokens(self) -> int:
        return self.engine.revoke_all_tokens()

    def expire_tokens(self, *, refresh: bool = False) -> int:
        return self.engine.expire_tokens(refresh=refresh)

    def issue_tokens(self, provider: str, **kwargs: Any) -> dict[str, Any]:
        return self.engine.issue_tokens(provider, **kwargs)

    def advance_clock(self, seconds: float) -> float:
        return self.engine.advance_clock(seconds)

    def connect_xero_tenants(self, tenants: list[str] | None) -> list[str]:
        return self.engine.set_xero_connect(tenants)

    def add_fault(
        self,
        kind: str = "status",
        *,
        count: int = 1,
        status: int = 503,
        seconds: float | None = None,
        path: str = "",
        retry_after: int | None = None,
    ) -> Fault:
        spec: dict[str, Any] = {
            "kind": kind,
            "count": count,
            "status": status,
            "path": path,
            "retry_after": retry_after,
        }
        if seconds is not None:
            spec["seconds"] = seconds
        return self.engine.add_fault(spec)

    def clear_faults(self) -> None:
        self.engine.clear_faults()

    def apply_changes(self, provider: str = "xero", **lists: Any) -> dict[str, Any]:
        return self.engine.apply_changes({"provider": provider, **lists})

    def calls(self) -> dict[str, Any]:
        return self.engine.calls.snapshot()

    def call_count(self, path_part: str = "", method: str | None = None) -> int:
        """Calls whose "METHOD /host/path" contains `path_part` (and is of `method`, when given)."""
        counts = self.engine.calls.snapshot()["by_path"]
        return sum(
            n
            for key, n in counts.items()
            if path_part.lower() in key.lower() and (method is None or key.startswith(f"{method} "))
        )

    def reset_calls(self) -> None:
        self.engine.calls.reset()
