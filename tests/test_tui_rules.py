"""Pilot tests for rules, item settings, expiry and Disconnect, driven with the keyboard as a person would."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

from tui_helpers import connected_service, make_app, screen_text, settle

from dext_tui.core.domain import ConnectionStatus, DisconnectChoice, Kind, RuleScope, RuleSpec
from dext_tui.core.service import DextService
from dext_tui.screens.dialogs import ConfirmDialog, ConnectDialog, DisconnectDialog
from dext_tui.screens.merge_wizard import MergeWizard
from dext_tui.screens.rule_dialog import RuleDialog
from dext_tui.screens.rules_page import RulesPage
from dext_tui.widgets.item_table import ItemTable
from dext_tui.widgets.menu import DropdownMenu
from dext_tui.widgets.picker import PickerField, PickerScreen


async def _until(pilot, condition) -> None:
    """Pause until `condition()` holds (a picker opening reads its list in a thread)."""
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the screen never got there")


async def _pick(pilot, app, text: str) -> None:
    """Enter on the focused picker field, type a filter, Enter on the first match."""
    await pilot.press("enter")
    await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


async def test_add_edit_and_remove_a_rule_with_pickers(data_dir: Path, small_ledger: Path) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("9")
        await settle(pilot, app)
        page = app.main.query_one(RulesPage)
        assert "No rules yet" in screen_text(app)

        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, RuleDialog)
        await _pick(pilot, app, "landl")  # the supplier
        dialog = app.screen
        assert isinstance(dialog, RuleDialog)
        assert dialog.query_one("#target", PickerField).value.name == "Landlord Ltd"
        await pilot.press("down")  # to Category
        await _pick(pilot, app, "rent")
        await pilot.press("down")  # to Tax code
        await _pick(pilot, app, "s20")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert not isinstance(app.screen, RuleDialog)

        rules = app.service.rules(app.workspace)
        assert len(rules) == 1
        rule = rules[0]
        assert (rule.scope, rule.target.name) == (RuleScope.SUPPLIER, "Landlord Ltd")
        assert (rule.category.name, rule.tax_code.code) == ("Office rent", "S20")
        text = screen_text(app)
        assert "Landlord Ltd" in text and "Office rent" in text and "1 rule" in text

        # Edit: Enter on the row, clear the tax code, save.
        page.table.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RuleDialog)
        app.screen.query_one("#f-tax_code", PickerField).focus()
        await pilot.press("delete", "ctrl+s")
        await settle(pilot, app)
        assert app.service.rule(app.workspace, rule.id).tax_code is None

        # The Suppliers list counts the rules that use each supplier.
        await pilot.press("escape", "3")  # back to the sidebar, then Suppliers
        await settle(pilot, app)
        table = app.main.query_one("#list-suppliers").query_one(ItemTable)
        assert {r.name: r.rules for r in table.visible_rows()}["Landlord Ltd"] == 1

        # Remove, after confirming.
        await pilot.press("escape", "9")
        await settle(pilot, app)
        page.table.focus()
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("tab", "enter")  # Cancel has the focus at first: move to Remove
        await settle(pilot, app)
        assert app.service.rules(app.workspace) == []
        assert "No rules yet" in screen_text(app)


async def test_a_rule_needs_its_target(data_dir: Path, small_ledger: Path) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("9")
        await settle(pilot, app)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RuleDialog)  # still open
        assert "Choose who the rule is for (supplier)" in screen_text(app)
        assert app.service.rules(app.workspace) == []


async def test_hidden_suppliers_are_not_offered_in_pickers(data_dir: Path, small_ledger: Path) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("3")  # Suppliers
        await settle(pilot, app)
        table = app.main.query_one("#list-suppliers").query_one(ItemTable)
        rail = next(i for i, r in enumerate(table.visible_rows()) if r.name == "Rail Co")
        table.move_cursor(rail - table.cursor)
        await pilot.press("enter")  # the item menu
        await pilot.pause()
        assert isinstance(app.screen, DropdownMenu)
        await pilot.press("h")
        await settle(pilot, app)
        assert {r.name: r.status for r in table.visible_rows()}["Rail Co"] == "hidden"

        await pilot.press("escape", "9")
        await settle(pilot, app)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("enter")  # the supplier picker
        await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        names = [r.name for r in picker.table.visible_rows()]
        assert "Landlord Ltd" in names and "Rail Co" not in names


async def test_a_passed_expiry_date_shows_reconnect_and_reconnecting_keeps_rules(
    data_dir: Path, small_ledger: Path
) -> None:
    service = await connected_service(data_dir, small_ledger)
    ws = service.ensure_workspace("Acme")
    supplier = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, supplier.id))
    service.close()
    db = sqlite3.connect(data_dir / "dext.db")
    db.execute("UPDATE connection SET expires_at = '2025-01-01 00:00:00.000000'")
    db.commit()
    db.close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        text = screen_text(app)
        assert "▲ Expired" in text and "Connection is expired" in text
        assert app.main.integration.query_one("#reconnect").display
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ConnectDialog)
        await pilot.press("enter")  # the same ledger
        await settle(pilot, app)
        assert app.info.status == ConnectionStatus.CONNECTED
        assert "● Connected" in screen_text(app)
        assert [r.id for r in app.service.rules(app.workspace)] == [rule.id]
        assert app.service.find_item(app.workspace, Kind.SUPPLIERS, "Landlord Ltd").id == supplier.id


async def test_disconnect_merge_later_asks_for_a_tick_then_removes_rules(
    data_dir: Path, small_ledger: Path
) -> None:
    service = await connected_service(data_dir, small_ledger)
    ws = service.ensure_workspace("Acme")
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, service.find_item(ws, Kind.SUPPLIERS, "Rail Co").id))
    service.close()
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, DisconnectDialog)
        assert "Keeps the" in screen_text(app) and "all 1 rules" in screen_text(app)
        await pilot.press("down", "down", "enter")  # Merge my list data later
        await pilot.pause()
        assert dialog.choice == DisconnectChoice.MERGE_LATER
        assert "REMOVES all 1 rules" in screen_text(app)
        go = dialog.query_one("#go")
        assert go.disabled  # not without the tick
        await pilot.click("#understood")
        await pilot.pause()
        assert not go.disabled
        await pilot.click("#go")
        await settle(pilot, app)
        assert app.info is None
        text = screen_text(app)
        assert "Not connected" in text and "Connect…" in text
        assert app.service.rules(app.workspace) == []
        assert any(n.title == "Disconnected" for n in app._notifications)


async def test_disconnect_keep_leaves_lists_as_own_and_can_be_cancelled(
    data_dir: Path, small_ledger: Path
) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("m", "d")
        await pilot.pause()
        assert isinstance(app.screen, DisconnectDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert app.info is not None  # cancelled: still connected

        await pilot.press("m", "d")
        await pilot.pause()
        assert isinstance(app.screen, DisconnectDialog), app.screen
        await pilot.press("tab", "enter")  # Disconnect, keeping the current lists (the default choice)
        await settle(pilot, app)
        assert app.info is None, [(n.title, n.message) for n in app._notifications]
        suppliers = app.service.items(app.workspace, Kind.SUPPLIERS)
        assert {s.name for s in suppliers} >= {"Landlord Ltd", "Rail Co"}
        assert all(s.origin == "local" for s in suppliers)
        # The lists are now the workspace's own: the Integration page counts them.
        assert "your own" in screen_text(app)


async def test_reinstate_is_offered_only_with_lists_from_before_integrating(
    data_dir: Path, small_ledger: Path
) -> None:
    service = DextService.open(data_dir)
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    service.close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("m", "d")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, DisconnectDialog)
        assert not dialog.query_one("#reinstate").disabled
        await pilot.press("down", "enter")
        await pilot.pause()
        assert dialog.choice == DisconnectChoice.REINSTATE
        assert "Restores the 28 items and 0 rules you had when this integration began" in screen_text(app)
        await pilot.press("tab", "enter")
        await settle(pilot, app)
        names = {c.name for c in app.service.items(app.workspace, Kind.CATEGORIES)}
        assert "Advertising & Marketing" in names and "Office rent" not in names


async def test_a_connection_near_its_expiry_says_so(data_dir: Path, small_ledger: Path) -> None:
    from datetime import timedelta

    from dext_tui.app import DextApp
    from dext_tui.core.domain import utcnow

    (await connected_service(data_dir, small_ledger)).close()
    soon = utcnow() + timedelta(days=10, hours=1)
    db = sqlite3.connect(data_dir / "dext.db")
    db.execute("UPDATE connection SET expires_at = ?", (soon.strftime("%Y-%m-%d %H:%M:%S.%f"),))
    db.commit()
    db.close()
    app = DextApp(data_dir=data_dir, workspace="Acme")  # the real clock, as the expiry is real
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        text = screen_text(app)
        assert f"Expires          {soon:%Y-%m-%d} (in 10 days) · reconnect (e) to renew it" in text
        assert "● Connected" in text


async def test_change_connection_from_the_menu_leaves_lists_to_merge(
    data_dir: Path, small_ledger: Path
) -> None:
    from test_change_connection import NEW_BOOKS

    (await connected_service(data_dir, small_ledger)).close()
    new_books = small_ledger.with_name("new.beancount")
    new_books.write_text(textwrap.dedent(NEW_BOOKS))
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("m", "c")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConnectDialog) and dialog.changing is not None
        assert "Change connection" in screen_text(app)
        dialog.query_one("#path").value = str(new_books)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.info.tenant_name == "Acme Widgets (new books)"
        # Straight on to Merge lists; closing it leaves the lists to merge, on offer on the page.
        assert isinstance(app.screen, MergeWizard)
        await pilot.press("escape")
        await settle(pilot, app)
        text = screen_text(app)
        assert "To merge" in text and "suppliers" in text and "Merge lists" in text
        assert any(n.title == "Changed connection to Beancount" for n in app._notifications)
