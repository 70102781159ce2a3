"""A handful of SVG snapshots of key screens, at 80x24 and 120x40, with fixed data and clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tui_helpers import connected_service, freeze_times, make_app, settle

SHOWN_LEDGER = "/home/bookkeeper/books/acme.beancount"


@pytest.fixture
def acme_data(data_dir: Path, small_ledger: Path) -> Path:
    async def prepare() -> None:
        service = await connected_service(data_dir, small_ledger)
        freeze_times(service, display_target=SHOWN_LEDGER)
        service.close()

    asyncio.run(prepare())
    return data_dir


async def _ready(pilot) -> None:
    await settle(pilot, pilot.app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_integration_page(snap_compare, acme_data: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(acme_data), terminal_size=size, run_before=_ready)


def test_integration_page_expired(snap_compare, acme_data: Path) -> None:
    import sqlite3

    con = sqlite3.connect(acme_data / "dext.db")
    con.execute(
        "UPDATE connection SET status = 'expired', status_reason = ?",
        (f"Ledger file not found: {SHOWN_LEDGER}",),
    )
    con.commit()
    con.close()
    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=_ready)


def test_manage_connection_menu(snap_compare, acme_data: Path) -> None:
    async def open_menu(pilot) -> None:
        await _ready(pilot)
        await pilot.press("m")
        await pilot.pause()

    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=open_menu)


def test_tax_codes_list_with_archived(snap_compare, acme_data: Path) -> None:
    async def open_list(pilot) -> None:
        await _ready(pilot)
        await pilot.press("5")
        await _ready(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()

    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=open_list)


def test_rules_page(snap_compare, acme_data: Path) -> None:
    from dext_tui.core.domain import Kind, RuleScope, RuleSpec
    from dext_tui.core.service import DextService

    service = DextService.open(acme_data)
    ws = service.ensure_workspace("Acme")
    item = lambda kind, text: service.find_item(ws, kind, text).id  # noqa: E731
    service.add_rule(
        ws,
        RuleSpec(
            RuleScope.SUPPLIER,
            item(Kind.SUPPLIERS, "Landlord Ltd"),
            category_id=item(Kind.CATEGORIES, "Office rent"),
            tax_code_id=item(Kind.TAX_CODES, "S20"),
            bank_account_id=item(Kind.BANK_ACCOUNTS, "Current account"),
            paid=True,
        ),
    )
    service.add_rule(
        ws,
        RuleSpec(
            RuleScope.PAYMENT_METHOD,
            item(Kind.BANK_ACCOUNTS, "Liabilities:CreditCard"),
            category_id=item(Kind.CATEGORIES, "Expenses:Travel"),
        ),
    )
    service.close()

    async def open_rules(pilot) -> None:
        await _ready(pilot)
        await pilot.press("9")
        await _ready(pilot)

    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=open_rules)


def test_disconnect_dialog_merge_later(snap_compare, acme_data: Path) -> None:
    async def open_dialog(pilot) -> None:
        await _ready(pilot)
        await pilot.press("m", "d")
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # Merge my list data later: the warning shows
        await pilot.pause()

    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=open_dialog)


def test_merge_wizard_suppliers_step(snap_compare, data_dir: Path, small_ledger: Path, write_ledger) -> None:
    from test_change_connection import NEW_BOOKS

    from dext_tui.core.domain import Kind, RuleScope, RuleSpec

    async def prepare() -> None:
        service = await connected_service(data_dir, small_ledger)
        ws = service.ensure_workspace("Acme")
        landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
        service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id))
        await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
        service.close()

    asyncio.run(prepare())

    async def open_wizard(pilot) -> None:
        from dext_tui.core.domain import Kind

        await _ready(pilot)
        await pilot.press("l")
        await _ready(pilot)
        while pilot.app.screen.kind != Kind.SUPPLIERS:
            await pilot.press("n")
        await pilot.press("space")  # one accepted (✓), the other still a suggestion (?)
        await pilot.pause()

    assert snap_compare(make_app(data_dir), terminal_size=(80, 24), run_before=open_wizard)


def test_xero_login_dialog(snap_compare, data_dir: Path, monkeypatch) -> None:
    """Connect › Xero at 80x24: the login URL, where the redirect comes back, the paste box."""
    import dext_tui.connectors.oauth as oauth
    from dext_tui.core.service import DextService
    from dext_tui.screens.login import LoginDialog

    monkeypatch.delenv("DEXT_TUI_SANDBOX_URL", raising=False)
    monkeypatch.setenv("DEXT_TUI_XERO_CLIENT_ID", "practice-app-id")
    monkeypatch.setattr(oauth.secrets, "token_urlsafe", lambda n: "x" * max(43, n))  # a fixed URL
    monkeypatch.setattr(LoginDialog, "_listen", lambda self: None)  # no real port in a snapshot
    DextService.open(data_dir).close()

    async def open_login(pilot) -> None:
        await _ready(pilot)
        pilot.app.copy_to_clipboard = lambda _text: None
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("shift+tab", "down", "enter")
        await pilot.pause()

    assert snap_compare(
        make_app(data_dir, workspace="Default"), terminal_size=(80, 24), run_before=open_login
    )


def test_inbox_page(snap_compare, acme_data: Path, tmp_path: Path) -> None:
    """Costs › Inbox at 80x24: ready, published and failed items; the newest (failed) one in the pane."""
    import sqlite3

    from dext_tui.core.service import DextService

    costs = tmp_path / "costs.csv"
    costs.write_text(
        "date,supplier,reference,total,currency,category\n"
        "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n"
        "2024-03-02,Rail Co,T-55,55.20,GBP,Expenses:Travel\n"
        "2024-03-04,Stationers Plc,S-9,30.00,USD,Expenses:Travel\n"
        "2024-03-05,[red]Coffee House,C-1,4.50,GBP,\n",
        encoding="utf-8",
    )

    async def prepare() -> None:
        service = DextService.open(acme_data)
        ws = service.ensure_workspace("Acme")
        ids = service.costs.import_csv(ws, costs).ids
        await service.costs.publish(ws, ids[2:])  # both fail the pre-flight check: no ledger written
        service.close()

    asyncio.run(prepare())
    con = sqlite3.connect(acme_data / "dext.db")
    con.execute(
        "UPDATE costitem SET state = 'published', remote_id = 'acme.dext.beancount:1',"
        " published_at = '2026-11-25 09:00:00' WHERE reference = 'R-301'"
    )
    con.commit()
    con.close()

    async def open_inbox(pilot) -> None:
        await _ready(pilot)
        await pilot.press("0")
        await _ready(pilot)

    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=open_inbox)
