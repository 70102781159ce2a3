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


async def test_connect_xero_in_the_app_by_pasting_the_redirect(data_dir, monkeypatch) -> None:
    """Connect… › Xero: the login URL is shown (and copied), the address the browser landed on is pasted,
    the organisation is chosen from the two the login opens, and the lists come in."""
    from textual.widgets import Input, OptionList, Static
    from tui_helpers import make_app, screen_text, settle

    from dext_tui.core.service import DextService
    from dext_tui.sandbox import Sandbox
    from dext_tui.screens.login import LoginDialog

    DextService.open(data_dir).close()
    with Sandbox(port=0, contacts=120) as sandbox:
        monkeypatch.setenv("DEXT_TUI_SANDBOX_URL", sandbox.url)
        app = make_app(data_dir, workspace="Default")
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # what OSC 52 would send to the terminal
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await settle(pilot, app)
            await pilot.press("c")
            await pilot.pause()
            await pilot.press("shift+tab", "down", "enter")  # the provider list: Xero
            for _ in range(100):
                if isinstance(app.screen, LoginDialog) and copied:
                    break
                await pilot.pause(0.02)
            dialog = app.screen
            assert isinstance(dialog, LoginDialog)
            url = str(dialog.query_one("#url", Static).content)
            assert copied == [url] and "login.xero.com" in url
            landed = await asyncio.to_thread(
                lambda: httpx.get(url, follow_redirects=False, timeout=10).headers["location"]
            )
            dialog.query_one("#redirect", Input).value = landed
            await pilot.press("enter")
            menu = dialog.query_one("#organisations", OptionList)
            for _ in range(200):
                if menu.option_count:
                    break
                await pilot.pause(0.02)
            assert "several organisations" in screen_text(app)
            await pilot.press("enter")  # the first: Harbour Lane Design Ltd
            for _ in range(300):
                if not isinstance(app.screen, LoginDialog):
                    break
                await pilot.pause(0.05)
            await settle(pilot, app)
            assert app.info is not None and app.info.provider == "xero"
            assert app.info.tenant_name == "Harbour Lane Design Ltd"
            assert "Connected to Xero" in screen_text(app)
