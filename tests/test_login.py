"""Logging in from a terminal: the loopback listener catches the browser's redirect over a real socket."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from dext_tui.connectors.loopback import RedirectListener
from dext_tui.core.errors import DextError


async def test_the_listener_hands_back_the_redirect_and_answers_the_browser() -> None:
    async with RedirectListener(port=0) as listener:
        async with httpx.AsyncClient() as browser:
            missing = await browser.get(f"http://127.0.0.1:{listener.port}/favicon.ico")
            landed = await browser.get(f"http://127.0.0.1:{listener.port}/callback?code=abc&state=xyz")
        url = await asyncio.wait_for(listener.url(), 5)
    assert missing.status_code == 404  # a browser's side requests do not count as the login
    assert landed.status_code == 200 and "go back to dext-tui" in landed.text
    assert url == f"http://127.0.0.1:{listener.port}/callback?code=abc&state=xyz"


async def test_a_busy_port_says_to_paste_the_address_instead() -> None:
    async with RedirectListener(port=0) as first:
        with pytest.raises(DextError, match=r"cannot listen on 127\.0\.0\.1:\d+ .*paste the address"):
            async with RedirectListener(port=first.port):
                pass
