"""Pilot tests: the app driven with the keyboard (and the mouse where a user would), as a person would."""

from __future__ import annotations

import os
from pathlib import Path

from tui_helpers import connected_service, make_app, screen_text, settle

from dext_tui.core.domain import ConnectionStatus, Kind
from dext_tui.screens.dialogs import ConnectDialog, WorkspaceDialog
from dext_tui.screens.list_page import ListPage
from dext_tui.widgets.item_table import ItemTable
from dext_tui.widgets.menu import DropdownMenu


async def test_integration_page_shows_the_connection(data_dir: Path, small_ledger: Path) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        text = screen_text(app)
        assert "Connections › Integrations" in text
        assert "Beancount" in text and "Acme Widgets Ltd" in text
        assert "● Connected" in text
        assert "Connected since" in text and "Last refresh" in text
        page = app.main.integration
        assert page.query_one("#manage").display
        assert not page.query_one("#reconnect").display
        assert " m Manage " in text  # the key bar shows the key


async def test_the_first_frame_already_shows_the_connection(data_dir: Path, small_ledger: Path) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)):
        # No settling: the store was opened before the first paint, so nothing shows "Loading…".
        assert app.ready
        text = screen_text(app)
        assert "Acme Widgets Ltd" in text and "● Connected" in text
        assert "Loading" not in text


async def test_manage_menu_by_key_refreshes_with_counts(data_dir: Path, small_ledger: Path) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    small_ledger.write_text(small_ledger.read_text().replace('"Rail Co"', '"Train Co"'))
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, DropdownMenu)
        await pilot.press("r")  # the menu's key for Refresh integration data
        await settle(pilot, app)
        messages = [n.message for n in app._notifications]
        assert any("Suppliers: 1 added, 1 archived" in m for m in messages), messages
        text = screen_text(app)
        assert "✓ 1 added, 1 archived" in text


async def test_manage_menu_opens_with_the_mouse_and_closes_with_escape(data_dir, small_ledger) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.click("#manage")
        await pilot.pause()
        assert isinstance(app.screen, DropdownMenu)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DropdownMenu)


async def test_expired_connection_shows_reconnect_and_reconnects(data_dir, small_ledger) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    moved = small_ledger.with_name("moved.beancount")
    os.rename(small_ledger, moved)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await settle(pilot, app)
        assert app.info.status == ConnectionStatus.EXPIRED
        text = screen_text(app)
        assert "▲ Expired" in text and "Ledger file not found" in text
        assert app.info.status_reason == f"Ledger file not found: {small_ledger}"
        assert app.main.integration.query_one("#reconnect").display
        assert any(n.severity == "error" for n in app._notifications)

        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ConnectDialog)
        path_input = app.screen.query_one("#path")
        path_input.value = str(moved)
        await pilot.press("enter")
        await settle(pilot, app)
        assert not isinstance(app.screen, ConnectDialog)
        assert app.info.status == ConnectionStatus.CONNECTED
        assert app.info.target == str(moved)
        assert not app.main.integration.query_one("#reconnect").display


async def test_connect_flow_validates_the_path(data_dir: Path, small_ledger: Path, tmp_path: Path) -> None:
    app = make_app(data_dir, workspace="Fresh")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        assert "Not connected" in screen_text(app)
        await pilot.press("c")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConnectDialog)
        await pilot.press(*str(tmp_path / "nope.beancount"))
        await pilot.pause()
        assert "Ledger file not found" in screen_text(app)
        await pilot.press("enter")  # refused: still open
        await pilot.pause()
        assert app.screen is dialog

        broken = tmp_path / "broken.beancount"
        broken.write_text(
            '2024-01-01 open Expenses:Food\n2024-01-02 * "X" ""\n  Expenses:Food 1 USD\n  Assets:Nowhere\n'
        )
        dialog.query_one("#path").value = str(broken)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.screen is dialog
        message = str(dialog.query_one("#path-check").content)
        assert f"{broken}:2:" in message and "Assets:Nowhere" in message

        dialog.query_one("#path").value = str(small_ledger)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.screen is not dialog
        assert app.info is not None and app.info.tenant_name == "Acme Widgets Ltd"
        assert "Acme Widgets Ltd" in screen_text(app)


async def test_list_view_filters_as_you_type_and_shows_archived(data_dir, small_ledger) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("5")  # Tax codes: the list takes the keys
        await settle(pilot, app)
        page = app.main.query_one("#list-tax_codes", ListPage)
        table = page.query_one(ItemTable)
        assert table.has_focus
        assert [r.name for r in table.visible_rows()] == ["Standard 20%", "Zero rated"]
        assert "1 archived hidden" in screen_text(app)
        await pilot.press("ctrl+t")
        assert [r.name for r in table.visible_rows()] == ["Retired code", "Standard 20%", "Zero rated"]
        await pilot.press("z", "e", "r")
        assert page.filter_input.value == "zer"
        assert [r.name for r in table.visible_rows()] == ["Zero rated"]
        assert "1 of 3 shown" in screen_text(app)
        await pilot.press("escape")  # clears the filter
        assert page.filter_input.value == ""
        assert table.row_count == 3


async def test_reload_one_list_keeps_the_cursor_on_its_row(data_dir, small_ledger) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("3")  # Suppliers
        await settle(pilot, app)
        table = app.main.query_one("#list-suppliers", ListPage).query_one(ItemTable)
        assert [r.name for r in table.visible_rows()] == ["Landlord Ltd", "Rail Co"]
        await pilot.press("down")
        assert table.current_row.name == "Rail Co"
        # A supplier that sorts first arrives upstream: the cursor must stay on Rail Co.
        small_ledger.write_text(
            small_ledger.read_text() + '\n2024-02-01 * "Aardvark Supplies" ""\n'
            "  Expenses:Travel  1.00 GBP\n  Assets:Bank:Current\n"
        )
        await pilot.press("ctrl+r")
        await settle(pilot, app)
        assert [r.name for r in table.visible_rows()] == ["Aardvark Supplies", "Landlord Ltd", "Rail Co"]
        assert table.current_row.name == "Rail Co"
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("Suppliers: 1 added") for m in messages), messages
        assert "Suppliers: 1 added" in screen_text(app)


async def test_names_from_the_ledger_are_shown_literally(data_dir, write_ledger) -> None:
    ledger = write_ledger(
        """
        2024-01-01 open Expenses:Misc USD
        2024-01-01 open Assets:Cash USD
        2024-01-02 * "[bold red]Evil[/]" ""
          Expenses:Misc  1 USD
          Assets:Cash
        2024-01-03 * "Bell\\x1b[2Jring" ""
          Expenses:Misc  1 USD
          Assets:Cash
        """
    )
    text = ledger.read_text().replace("\\x1b", "\x1b")
    ledger.write_text(text)
    (await connected_service(data_dir, ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("3")
        await settle(pilot, app)
        shown = screen_text(app)
        assert "[bold red]Evil[/]" in shown
        assert "Bell\\x1b[2Jring" in shown
        assert "\x1b" not in shown


async def test_switch_workspace_creates_and_opens_one(data_dir, small_ledger) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, WorkspaceDialog)
        await pilot.press(*"Client B", "enter")
        await settle(pilot, app)
        assert app.workspace.name == "Client B"
        assert app.info is None
        assert "Not connected" in screen_text(app)
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press(*"acm", "enter")  # filter, then the highlighted match
        await settle(pilot, app)
        assert app.workspace.name == "Acme" and app.info is not None


async def test_command_palette_finds_refresh(data_dir, small_ledger) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    small_ledger.write_text(small_ledger.read_text().replace('"Rail Co"', '"Train Co"'))
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"refresh integ")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot, app)
        assert any("Suppliers: 1 added" in n.message for n in app._notifications)
        assert {r.name for r in app.service.items(app.workspace, Kind.SUPPLIERS)} == {
            "Landlord Ltd",
            "Train Co",
        }


async def test_escape_right_after_opening_a_list_keeps_focus_on_the_sidebar(data_dir, small_ledger) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("3", "escape")  # faster than the new page is built
        await settle(pilot, app)
        assert app.focused is app.main.query_one("#sidebar")
        await pilot.press("2")  # goes to the sidebar (Categories), not into the Suppliers filter
        await settle(pilot, app)
        assert app.main.current_page == "list-categories"
        assert app.main.list_page(Kind.SUPPLIERS).filter_input.value == ""


async def test_a_workspace_name_too_long_is_refused_in_the_dialog(data_dir, small_ledger) -> None:
    (await connected_service(data_dir, small_ledger)).close()
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f2")
        await pilot.pause()
        app.screen.query_one("#name").value = "x" * 120
        await pilot.pause()
        assert "Cannot create: a workspace name is at most 100 characters" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, WorkspaceDialog)  # still open, nothing created
        assert app.workspace.name == "Acme"
        assert [w.name for w in app.service.workspaces()] == ["Acme"]


def _progress_column(app) -> dict[str, str]:
    """The Integration page's Lists panel as shown: each list's label and what its Progress column says."""
    text = str(app.main.integration.query_one("#lists").render())
    rows = {}
    for kind in Kind:
        line = next(line for line in text.splitlines() if line.startswith(kind.label + " "))
        rows[kind.label] = line[13 + 2 + 7 + 2 + 12 + 2 :].strip()  # after List, Items and Refreshed
    return rows


async def _reconnect_same_ledger(pilot, app) -> None:
    for _ in range(3):  # back to the sidebar, whose digits pick pages
        if app.focused is app.main.query_one("#sidebar"):
            break
        await pilot.press("escape")
    await pilot.press("1", "e")  # the Integration page; Reconnect, the ledger's path filled in
    await pilot.pause()
    assert isinstance(app.screen, ConnectDialog)
    await pilot.press("enter")
    await settle(pilot, app)
    assert not isinstance(app.screen, ConnectDialog)
    assert app.info.status == ConnectionStatus.CONNECTED


async def test_reconnect_replaces_the_waiting_a_refused_reload_left(data_dir, small_ledger) -> None:
    """A list reloaded while the connection is expired is refused before it is read: its Progress said
    "waiting…" for good, and the reconnect (pulled in its dialog) never reached the column."""
    service = await connected_service(data_dir, small_ledger)
    service.mark_expired(service.connection(service.ensure_workspace("Acme")).id, "Token revoked")
    service.close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        assert app.info.status == ConnectionStatus.EXPIRED
        await pilot.press("3", "ctrl+r")  # Suppliers: Reload list
        await settle(pilot, app)
        assert any(n.title == "Refresh failed" for n in app._notifications)
        assert _progress_column(app)["Suppliers"] == "✗ not refreshed"

        await _reconnect_same_ledger(pilot, app)
        assert set(_progress_column(app).values()) == {"✓ no changes"}  # what the reconnect's pull did
        assert "waiting…" not in screen_text(app)


async def test_reconnect_replaces_the_reading_a_failed_refresh_left(data_dir, small_ledger) -> None:
    """A refresh that fails while reading (here the ledger had errors) left every list "reading…" after
    the reconnect that followed; each list now shows the reconnect's pull."""
    (await connected_service(data_dir, small_ledger)).close()
    good = small_ledger.read_text()
    small_ledger.write_text(good + "\n2024-13-01 open Expenses:Broken\n")
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await settle(pilot, app)
        assert any(n.title == "Refresh failed" for n in app._notifications)
        assert set(_progress_column(app).values()) == {"✗ not refreshed"}

        small_ledger.write_text(good)  # fixed; then the token lapses: Reconnect
        app.service.mark_expired(app.info.id, "Token revoked")
        await app.reload_info()
        await _reconnect_same_ledger(pilot, app)
        assert set(_progress_column(app).values()) == {"✓ no changes"}
        assert "reading…" not in screen_text(app)

        await pilot.press("r")  # a refresh after it reports its own counts, as before
        await settle(pilot, app)
        assert set(_progress_column(app).values()) == {"✓ unchanged"}
