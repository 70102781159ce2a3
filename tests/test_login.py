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


def test_registration_settings_come_from_the_config_file(tmp_path, monkeypatch) -> None:
    """[xero] / [quickbooks] in config.toml: the client id, a production redirect (HTTPS, pasted back) and
    Intuit's development host; a wrong value names the file and the setting."""
    from dext_tui.connectors.quickbooks import API_BASE, INTUIT_SANDBOX_API_BASE
    from dext_tui.core.service import DextService

    for name in (
        "DEXT_TUI_SANDBOX_URL",
        "DEXT_TUI_QUICKBOOKS_CLIENT_ID",
        "DEXT_TUI_QUICKBOOKS_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(
        '[quickbooks]\nclient_id = "ABC"\nclient_secret = "s3cret"\n'
        'redirect_uri = "https://books.example.com/callback"\nenvironment = "development"\n'
    )
    service = DextService.open(data)
    try:
        client = service.authorisations.client("quickbooks")
        assert (client.client_id, client.redirect_uri) == ("ABC", "https://books.example.com/callback")
        assert "s3cret" not in repr(client)
        assert service.connector("quickbooks", "123145").api_base == INTUIT_SANDBOX_API_BASE
        url = service.authorisations.begin("quickbooks", 1)
        assert "redirect_uri=https%3A%2F%2Fbooks.example.com%2Fcallback" in url
    finally:
        service.close()
    (data / "config.toml").write_text('[quickbooks]\nclient_id = "ABC"\nclient_secret = "x"\n')
    service = DextService.open(data)
    try:
        assert service.connector("quickbooks", "123145").api_base == API_BASE
    finally:
        service.close()
    (data / "config.toml").write_text('[quickbooks]\nenvironment = "staging"\n')
    with pytest.raises(DextError, match=r"config\.toml: \[quickbooks\] environment must be"):
        DextService.open(data)
