"""Pilot tests for Costs › Inbox: filtering, bulk select, publish and check, the detail pane, the cost
dialog, and names from outside shown literally; driven with the keyboard as a bookkeeper would."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tui_helpers import connected_service, make_app, screen_text, settle

from dext_tui.core.costs import CostState
from dext_tui.core.domain import AutoPublish, Kind, RuleScope, RuleSpec
from dext_tui.core.publishing import ErrorClass
from dext_tui.core.service import DextService, WorkspaceRef
from dext_tui.screens.cost_dialog import CostDialog, LineRow, SupplierField
from dext_tui.screens.dialogs import ConfirmDialog, ConnectDialog
from dext_tui.screens.inbox_page import CostTable, InboxPage
from dext_tui.widgets.picker import PickerScreen

HEADER = "date,supplier,reference,total,currency,category\n"
ROWS = (
    "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n"
    "2024-03-02,Rail Co,T-55,55.20,GBP,Expenses:Travel\n"
    "2024-03-03,Rail Co,T-56,12.50,GBP,\n"  # no category: fails the pre-flight check
    "2024-03-04,Stationers Plc,S-9,30.00,USD,Expenses:Travel\n"  # Expenses:Travel is opened for GBP only
    "2024-03-05,Coffee House,C-1,4.50,GBP,\n"  # no category
)


async def _prepare(
    data_dir: Path,
    ledger: Path,
    tmp_path: Path,
    rows: str = ROWS,
    *,
    fail: bool = False,
    before: Callable[[DextService, WorkspaceRef], object] | None = None,
) -> list[int]:
    """A connected workspace with the rows imported (after `before`, e.g. adding rules); `fail`
    publishes the ones the pre-flight check stops (the connector is never called for them), so they are
    failed with their error class."""
    service = await connected_service(data_dir, ledger)
    ws = service.ensure_workspace("Acme")
    if before is not None:
        before(service, ws)
    csv = tmp_path / "costs.csv"
    csv.write_text(HEADER + rows, encoding="utf-8")
    report = service.costs.import_csv(ws, csv)
    if fail:
        problems = service.costs.preflight(ws, report.ids)
        await service.costs.publish(ws, list(problems))
    service.close()
    return report.ids


async def _until(pilot, condition) -> None:
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the screen never got there")


async def _open_inbox(pilot, app) -> InboxPage:
    await settle(pilot, app)
    await pilot.press("0")
    await settle(pilot, app)
    return app.main.query_one(InboxPage)


def _suppliers(page: InboxPage) -> list[str]:
    return [r.supplier for r in page.table.visible_rows()]


async def _move_to(pilot, page: InboxPage, supplier: str, reference: str | None = None) -> None:
    table = page.table
    rows = table.visible_rows()
    at = next(
        n
        for n, r in enumerate(rows)
        if r.supplier == supplier and (reference is None or r.reference == reference)
    )
    table.move_cursor(at - table.cursor)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_filter_by_state_and_by_error_class(data_dir: Path, small_ledger: Path, tmp_path: Path) -> None:
    await _prepare(data_dir, small_ledger, tmp_path, fail=True)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        page = await _open_inbox(pilot, app)
        text = screen_text(app)
        assert "All 5 · Ready 2 · Failed 3 · Published 0" in text
        assert "All · 5 of 5" in text
        # Newest first.
        assert _suppliers(page) == ["Coffee House", "Stationers Plc", "Rail Co", "Rail Co", "Landlord Ltd"]

        await pilot.press("s")  # Ready
        assert "Ready · 2 of 5" in screen_text(app)
        assert {r.state for r in page.table.visible_rows()} == {CostState.READY}
        await pilot.press("s")  # Failed
        assert "Failed · 3 of 5" in screen_text(app)
        assert "✗ Missing field" in screen_text(app) and "✗ Currency" in screen_text(app)

        await pilot.press("x")  # the first error class present
        assert "Failed · Currency · 1 of 5" in screen_text(app)
        assert _suppliers(page) == ["Stationers Plc"]
        await pilot.press("x")
        assert "Failed · Missing field · 2 of 5" in screen_text(app)
        assert _suppliers(page) == ["Coffee House", "Rail Co"]

        # Free text narrows what the other filters show.
        await pilot.press("slash", *"rail")
        await pilot.pause()
        assert "Failed · Missing field · “rail” · 1 of 5" in screen_text(app)
        await pilot.press("escape")  # clears the text
        await pilot.press("escape")  # clears the state and class filters
        await pilot.pause()
        assert "All · 5 of 5" in screen_text(app)

        await pilot.press("x")  # from All, an error class shows the failed ones
        assert page.table.state == CostState.FAILED


async def test_bulk_select_then_publish_lands_preflight_failures_with_their_remedy(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    rows = "2024-03-03,Rail Co,T-56,12.50,GBP,\n2024-03-04,Stationers Plc,S-9,30.00,USD,Expenses:Travel\n"
    await _prepare(data_dir, small_ledger, tmp_path, rows)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        page = await _open_inbox(pilot, app)
        await pilot.press("a")
        assert "2 selected" in screen_text(app)
        await pilot.press("a")  # again: none
        assert "selected" not in screen_text(app)
        await pilot.press("space", "space")  # each toggles its row and moves down
        assert page.table.selected == {r.id for r in page.table.visible_rows()}
        assert "All · 2 of 2 · 2 selected" in screen_text(app)

        await pilot.press("p")
        await settle(pilot, app)
        assert [r.state for r in page.table.visible_rows()] == [CostState.FAILED, CostState.FAILED]
        assert "All 2 · Ready 0 · Failed 2" in screen_text(app)
        note = app._notifications
        assert any(n.title == "Not published" and "0 published, 2 failed" in n.message for n in note)
        assert page.table.selected == {r.id for r in page.table.visible_rows()}  # failed ones stay selected

        await _move_to(pilot, page, "Stationers Plc")
        text = screen_text(app)
        assert "✗ Currency: the category 'Expenses:Travel' takes GBP only" in text
        assert ErrorClass.CURRENCY.remedy[:40] in text
        await _move_to(pilot, page, "Rail Co")
        text = screen_text(app)
        assert "✗ Missing field: no category" in text
        assert "Fill in the missing field (e to edit), or add a rule that fills it." in text


async def test_check_shows_findings_per_item_without_publishing(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    await _prepare(data_dir, small_ledger, tmp_path)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        page = await _open_inbox(pilot, app)
        await pilot.press("a", "c")
        await settle(pilot, app)
        assert {r.state for r in page.table.visible_rows()} == {CostState.READY}  # nothing published
        text = screen_text(app)
        assert "⚠ Missing field" in text and "⚠ Currency" in text and "ready ✓" in text
        assert any("5 checked: 3 would not publish" in n.message for n in app._notifications)
        await _move_to(pilot, page, "Landlord Ltd")
        assert "Pre-flight check: ✓ nothing stops it from publishing" in screen_text(app)
        await _move_to(pilot, page, "Coffee House")
        assert "⚠ Missing field: no category" in screen_text(app)


async def test_the_detail_says_why_each_field_has_its_value(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    rules = []

    def add_rule(service: DextService, ws: WorkspaceRef) -> None:
        item = lambda kind, text: service.find_item(ws, kind, text).id  # noqa: E731
        spec = RuleSpec(
            RuleScope.SUPPLIER,
            item(Kind.SUPPLIERS, "Landlord Ltd"),
            category_id=item(Kind.CATEGORIES, "Office rent"),
            tax_code_id=item(Kind.TAX_CODES, "S20"),
        )
        rules.append(service.add_rule(ws, spec))

    await _prepare(
        data_dir, small_ledger, tmp_path, "2024-04-01,Landlord Ltd,R-401,1000.00,GBP,\n", before=add_rule
    )
    rule = rules[0]
    app = make_app(data_dir)
    async with app.run_test(size=(130, 40)) as pilot:
        await _open_inbox(pilot, app)
        await pilot.press("enter")  # the detail takes the page
        await pilot.pause()
        text = screen_text(app)
        assert f"Office rent  ← Supplier rule for Landlord Ltd (rule {rule.id})" in text
        assert f"S20 · Standard 20%  ← Supplier rule for Landlord Ltd (rule {rule.id})" in text
        assert "R-401  ← from costs.csv, line 2" in text
        assert "1,000.00 GBP  ← from costs.csv, line 2" in text
        assert "Tracking" in text and "not set: for the rules to fill" in text


async def test_fill_from_rules_fills_what_a_new_rule_says(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    await _prepare(data_dir, small_ledger, tmp_path, "2024-03-03,Rail Co,T-56,12.50,GBP,\n")
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        page = await _open_inbox(pilot, app)
        service, ws = app.service, app.workspace
        service.add_rule(
            ws,
            RuleSpec(
                RuleScope.SUPPLIER,
                service.find_item(ws, Kind.SUPPLIERS, "Rail Co").id,
                category_id=service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel").id,
            ),
        )
        await pilot.press("f")
        await settle(pilot, app)
        assert page.table.visible_rows()[0].category == "Expenses:Travel · Travel"
        assert any("1 field changed on 1 item" in n.message for n in app._notifications)
        app.clear_notifications()
        await pilot.pause()
        assert "Expenses:Travel · Travel  ← Supplier rule for Rail Co (rule 1)" in screen_text(app)


async def test_add_and_edit_an_item_in_the_dialog(data_dir: Path, small_ledger: Path, tmp_path: Path) -> None:
    await _prepare(
        data_dir, small_ledger, tmp_path, "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n"
    )
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        page = await _open_inbox(pilot, app)
        await pilot.press("n")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, CostDialog)
        assert "Fields left empty are for the rules to fill" in screen_text(app)
        await pilot.press(*"2024-05-02", "enter")  # Enter moves on: the supplier picker field
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"Paper Mill", "enter")  # nothing matches: a new supplier named as typed
        await _until(pilot, lambda: app.screen is dialog)
        assert dialog.query_one("#supplier", SupplierField).new_name == "Paper Mill"
        await pilot.press("tab", *"PM-7", "tab", *"abc", "tab", "tab", *"gbp")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog  # not saved: the total is not a number, and says so
        assert "✗ The total 'abc' is not a number" in screen_text(app)
        dialog.query_one("#total").value = "48.00"
        dialog.query_one("#currency").value = "GB"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is dialog  # the service refuses a 2-letter currency; nothing typed is lost
        assert "Currency 'GB' must be a 3-letter code such as GBP" in screen_text(app)
        assert dialog.query_one("#reference").value == "PM-7"
        dialog.query_one("#currency").value = "gbp"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert not isinstance(app.screen, CostDialog)
        row = page.table.current_row
        assert row is not None and (row.supplier, row.reference, row.total) == ("Paper Mill", "PM-7", "48.00")
        assert any("Added cost item" in n.message for n in app._notifications)

        # Edit: the dialog opens filled in; a category picked, the reference changed.
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, CostDialog))
        dialog = app.screen
        assert dialog.query_one("#reference").value == "PM-7"
        assert dialog.query_one("#supplier", SupplierField).new_name == "Paper Mill"
        dialog.query_one("#reference").value = "PM-8"
        dialog.query_one("#f-category").focus()
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"travel", "enter")
        await _until(pilot, lambda: app.screen is dialog)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        detail = app.service.costs.detail(app.workspace, row.id)
        assert (detail.reference, detail.category.code) == ("PM-8", "Expenses:Travel")
        assert detail.why["category"] == "set by you"
        assert page.table.current_row.reference == "PM-8"


async def test_delete_asks_first_and_published_items_are_refused(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    ids = await _prepare(data_dir, small_ledger, tmp_path, ROWS)
    db = sqlite3.connect(data_dir / "dext.db")
    db.execute("UPDATE costitem SET state = 'published', remote_id = 'x:1' WHERE id = ?", (ids[0],))
    db.commit()
    db.close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        page = await _open_inbox(pilot, app)
        await pilot.press("a", "d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("tab", "enter")  # Cancel has the focus at first
        await settle(pilot, app)
        assert len(page.table.visible_rows()) == 5
        assert any(
            n.title == "Not deleted" and "is published; it stays as the record" in n.message
            for n in app._notifications
        )

        await pilot.press("escape")  # the selection goes
        await _move_to(pilot, page, "Coffee House")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("tab", "enter")
        await settle(pilot, app)
        assert "Coffee House" not in _suppliers(page)
        assert len(app.service.costs.rows(app.workspace)) == 4


async def test_a_hostile_supplier_name_shows_literally(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    rows = '2024-03-03,"[red]Evil[/red] & [bold]Co",X-1,12.50,GBP,\n'
    await _prepare(data_dir, small_ledger, tmp_path, rows)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        page = await _open_inbox(pilot, app)
        await pilot.press("slash", *"[red]")
        await pilot.pause()
        text = screen_text(app)
        assert "[red]Evil[/red] & [bold]Co" in text  # in the table and in the detail pane
        assert "Supplier       [red]Evil[/red] & [bold]Co (not in the suppliers list)" in text
        assert "“[red]” · 1 of 1" in text
        assert page.table.row_count == 1


async def test_an_expired_failure_points_at_reconnect_and_R_runs_it(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    ids = await _prepare(
        data_dir, small_ledger, tmp_path, "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n"
    )
    db = sqlite3.connect(data_dir / "dext.db")
    db.execute(
        "UPDATE costitem SET state = 'failed', error_class = 'expired', error_message = ? WHERE id = ?",
        ("Connection is expired: Ledger file not found", ids[0]),
    )
    db.execute("UPDATE connection SET status = 'expired', status_reason = 'Ledger file not found'")
    db.commit()
    db.close()
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_inbox(pilot, app)
        text = screen_text(app)
        assert "✗ Connection expired" in text
        assert "Reconnect is on the Integration page" in text and "press R" in text
        assert " R Reconnect" in text  # in the key bar
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ConnectDialog) and app.screen.reconnecting is not None
        await pilot.press("enter")  # the same ledger
        await settle(pilot, app)
        await settle(pilot, app)  # the inbox reads its items again
        text = screen_text(app)
        assert "The connection works again: p publishes it again." in text
        assert "Reconnect is on the Integration page" not in text


async def test_the_inbox_fits_80x24(data_dir: Path, small_ledger: Path, tmp_path: Path) -> None:
    await _prepare(data_dir, small_ledger, tmp_path, fail=True)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        page = await _open_inbox(pilot, app)
        assert page.table.columns_shown()[:3] == ["mark", "date", "supplier"]
        assert {"total", "state"} <= set(page.table.columns_shown())
        text = screen_text(app)
        for seen in ("Stationers Plc", "30.00 USD", "✗ Currency", "2024-03-04", "Failed 3", " p Publish"):
            assert seen in text, seen
        assert page.table.size.height >= 6  # the header and at least five items


async def test_publishing_to_the_ledger_marks_items_published(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    rows = "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n2024-03-03,Rail Co,T-56,12.50,GBP,\n"
    await _prepare(data_dir, small_ledger, tmp_path, rows)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        page = await _open_inbox(pilot, app)
        shown: list[str] = []
        show_progress = page.set_progress
        page.set_progress = lambda text: (shown.append(text), show_progress(text))  # type: ignore[method-assign]
        await pilot.press("a", "p")
        await _until(pilot, lambda: page.busy is None)
        await settle(pilot, app)
        states = {r.supplier: r.state for r in page.table.visible_rows()}
        assert states == {"Landlord Ltd": CostState.PUBLISHED, "Rail Co": CostState.FAILED}
        assert any("1 published, 1 failed" in n.message for n in app._notifications)
        assert shown[0] == "Publishing 0 of 2…" and "Publishing 2 of 2…" in shown and shown[-1] == ""
        await _move_to(pilot, page, "Landlord Ltd")
        assert "published as" in screen_text(app)
        written = "".join(p.read_text() for p in small_ledger.parent.glob("*.beancount"))
        assert "R-301" in written
        assert page.table.findings == {}


async def test_an_item_added_for_a_supplier_whose_rule_says_always_is_published_at_once(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    def rule(service: DextService, ws: WorkspaceRef) -> None:
        rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
        travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel")
        spec = RuleSpec(RuleScope.SUPPLIER, rail.id, category_id=travel.id, auto_publish=AutoPublish.ALWAYS)
        service.add_rule(ws, spec)

    await _prepare(
        data_dir,
        small_ledger,
        tmp_path,
        "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n",
        before=rule,
    )
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        page = await _open_inbox(pilot, app)
        await pilot.press("n")
        await _until(pilot, lambda: isinstance(app.screen, CostDialog))
        dialog = app.screen
        await pilot.press(*"2024-05-02", "enter", "enter")
        await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"Rail Co", "enter")
        await _until(pilot, lambda: app.screen is dialog)
        await pilot.press("tab", *"T-99", "tab", *"19.90", "tab", "tab", *"GBP", "ctrl+s")
        await _until(pilot, lambda: not isinstance(app.screen, CostDialog))
        await _until(
            pilot, lambda: page.busy is None and any("published" in n.message for n in app._notifications)
        )
        await settle(pilot, app)
        states = {r.reference: r.state for r in page.table.visible_rows()}
        assert states == {"R-301": CostState.READY, "T-99": CostState.PUBLISHED}
        written = "".join(p.read_text() for p in small_ledger.parent.glob("*.beancount"))
        assert "T-99" in written and "R-301" not in written


def test_the_cost_table_handles_many_items() -> None:
    """100,000 items: building the data and filtering it take well under a second each."""
    from time import perf_counter

    from dext_tui.core.costs import CostRow
    from dext_tui.screens.inbox_page import InboxData

    states = [CostState.READY, CostState.FAILED, CostState.PUBLISHED]
    rows = [
        CostRow(
            i,
            f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
            f"Supplier {i % 5000}",
            f"REF-{i}",
            f"{i % 997}.{i % 100:02d}",
            "GBP",
            "Expenses:Travel",
            states[i % 3],
            ErrorClass.MISSING if i % 3 == 1 else None,
            None,
            None,
        )
        for i in range(100_000)
    ]
    start = perf_counter()
    data = InboxData.build(rows)
    assert perf_counter() - start < 3
    table = CostTable()
    table.data = data
    start = perf_counter()
    table.text, table.state = "supplier 42", CostState.FAILED
    table.apply()
    assert perf_counter() - start < 1
    shown = table.visible_rows()
    assert shown and all(r.state == CostState.FAILED and "Supplier 42" in r.supplier for r in shown)


# -- splitting an item into lines in the dialog ------------------------------------------------------


def _line_values(detail) -> list[tuple]:
    return [
        (
            str(ln.amount),
            None if ln.tax is None else str(ln.tax),
            ln.category.code if ln.category else None,
            ln.tax_code.code if ln.tax_code else None,
            ln.description,
        )
        for ln in detail.lines
    ]


async def _choose(pilot, app, dialog, typed: str) -> None:
    """Enter on the focused list field, type to filter, Enter picks; back in the dialog."""
    await pilot.press("enter")
    await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
    await pilot.press(*typed, "enter")
    await _until(pilot, lambda: app.screen is dialog)


async def test_split_a_new_item_into_two_lines_with_their_own_categories(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    await _prepare(
        data_dir, small_ledger, tmp_path, "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n"
    )
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        page = await _open_inbox(pilot, app)
        await pilot.press("n")
        await _until(pilot, lambda: isinstance(app.screen, CostDialog))
        dialog = app.screen
        assert "Not split: ctrl+l (or Add line) splits it into lines." in screen_text(app)
        await pilot.press(*"2024-05-02", "enter", "enter")
        await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"Paper Mill", "enter")
        await _until(pilot, lambda: app.screen is dialog)
        await pilot.press("tab", *"PM-9", "tab", *"120.00", "tab", "tab", *"GBP", "tab", "tab")
        await _choose(pilot, app, dialog, "Z0")  # the item's own tax code: lines without one take it

        await pilot.press("ctrl+l")  # the first line offers the whole total; typing replaces it
        await pilot.pause()
        assert "Lines: 120.00 of 120.00 ✓ · one line: add another" in screen_text(app)
        await pilot.press(*"90")
        await pilot.pause()
        assert "Lines: 90.00 of 120.00 — 30.00 left" in screen_text(app)
        await pilot.press("tab")
        await _choose(pilot, app, dialog, "travel")
        await pilot.press("tab")
        await _choose(pilot, app, dialog, "S20")
        await pilot.press("tab", *"15", "tab", *"Tickets")
        await pilot.press("ctrl+l")  # the second line offers what is left
        await pilot.pause()
        assert "Lines: 120.00 of 120.00 ✓" in screen_text(app)
        assert "item's: Z0 · Zero rated" in screen_text(app)  # its tax code: the item's
        await pilot.press("tab")
        await _choose(pilot, app, dialog, "rent")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert not isinstance(app.screen, CostDialog)
        row = page.table.current_row
        assert row is not None and row.reference == "PM-9"
        detail = app.service.costs.detail(app.workspace, row.id)
        assert _line_values(detail) == [
            ("90", "15", "Expenses:Travel", "S20", "Tickets"),
            ("30.00", None, "Expenses:Office:Rent", None, None),
        ]
        assert detail.tax_code.code == "Z0"

    # The detail pane lists each line: amount, category, tax code (the item's when it has none).
    app = make_app(data_dir)
    async with app.run_test(size=(130, 40)) as pilot:
        page = await _open_inbox(pilot, app)
        await _move_to(pilot, page, "Paper Mill")
        await pilot.press("enter")
        await pilot.pause()
        text = screen_text(app)
        assert "Line 1         90.00 GBP (tax 15.00) · Expenses:Travel · Travel · S20 · Standard 20%" in text
        assert (
            "Line 2         30.00 GBP · Expenses:Office:Rent · Office rent · Z0 · Zero rated (item's)" in text
        )


async def test_lines_that_do_not_add_up_are_refused_and_nothing_typed_is_lost(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    ids = await _prepare(
        data_dir, small_ledger, tmp_path, "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n"
    )
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _open_inbox(pilot, app)
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, CostDialog))
        dialog = app.screen
        await pilot.press("ctrl+l", *"1000", "tab", "tab", "tab", *"200", "tab", *"Rent, May")
        await pilot.press("ctrl+l", *"150")
        await pilot.pause()
        assert "Lines: 1,150.00 of 1,200.00 — 50.00 left" in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is dialog
        assert "✗ The lines add up to 1150, the total is 1200.00" in screen_text(app)
        rows = dialog.query(LineRow)
        assert [r.amount.value for r in rows] == ["1000", "150"]
        assert rows.first().query_one(".line-description").value == "Rent, May"
        assert app.service.costs.detail(app.workspace, ids[0]).lines == ()

        await pilot.press("ctrl+a", "ctrl+k", *"200")  # the line's amount, typed again
        await pilot.pause()
        assert "Lines: 1,200.00 of 1,200.00 ✓" in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert not isinstance(app.screen, CostDialog)
        detail = app.service.costs.detail(app.workspace, ids[0])
        assert _line_values(detail) == [
            ("1000", "200", None, None, "Rent, May"),
            ("200", None, None, None, None),
        ]


async def test_editing_shows_the_lines_and_removing_them(
    data_dir: Path, small_ledger: Path, tmp_path: Path
) -> None:
    from dataclasses import replace
    from decimal import Decimal

    from dext_tui.core.costs import LineDraft

    ids = await _prepare(
        data_dir, small_ledger, tmp_path, "2024-03-01,Landlord Ltd,R-301,1200.00,GBP,Office rent\n"
    )
    service = DextService.open(data_dir)
    ws = service.ensure_workspace("Acme")
    travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel").id
    s20 = service.find_item(ws, Kind.TAX_CODES, "S20").id
    lines = (
        LineDraft(Decimal("1000"), Decimal("200"), None, s20, None, "[bold]Rent[/bold]"),
        LineDraft(Decimal("150"), None, travel, None, None, "Trains"),
        LineDraft(Decimal("50"), None, None, None, None, None),
    )
    service.costs.update(ws, ids[0], replace(service.costs.detail(ws, ids[0]).draft(), lines=lines))
    service.close()

    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _open_inbox(pilot, app)
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, CostDialog))
        dialog = app.screen
        rows = list(dialog.query(LineRow))
        assert [r.amount.value for r in rows] == ["1000", "150", "50"]
        assert [r.query_one(".line-tax").value for r in rows] == ["200", "", ""]
        assert rows[0].query_one(".line-description").value == "[bold]Rent[/bold]"
        assert rows[0].picker("tax_code").value.code == "S20"
        assert rows[1].picker("category").value.code == "Expenses:Travel"
        assert rows[2].picker("category").value is None
        assert "Lines: 1,200.00 of 1,200.00 ✓" in screen_text(app)

        rows[1].amount.focus()  # the form scrolls to it
        await _until(pilot, lambda: "Trains" in screen_text(app))
        text = screen_text(app)
        assert "Line 2" in text and "Expenses:Travel · Travel" in text and "item's: none" in text
        await pilot.press("ctrl+r")  # line 2 goes; the cursor moves to the next line
        await pilot.pause()
        rows = list(dialog.query(LineRow))
        assert [r.amount.value for r in rows] == ["1000", "50"]
        assert dialog.focused is rows[1].amount
        assert "Lines: 1,050.00 of 1,200.00 — 150.00 left" in screen_text(app)
        assert [str(r.query_one(".line-no").content) for r in rows] == ["Line 1", "Line 2"]
        await pilot.press("ctrl+a", "ctrl+k", *"200", "ctrl+s")
        await settle(pilot, app)
        assert not isinstance(app.screen, CostDialog)
        detail = app.service.costs.detail(app.workspace, ids[0])
        assert _line_values(detail) == [
            ("1000", "200", None, "S20", "[bold]Rent[/bold]"),
            ("200", None, None, None, None),
        ]

        # One line is refused (it would only repeat the item); no lines: the item is not split.
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, CostDialog))
        dialog = app.screen
        dialog.query(LineRow).last().amount.focus()
        await pilot.press("ctrl+r", "ctrl+s")
        await settle(pilot, app)
        assert app.screen is dialog
        assert "✗ A split needs two lines or more" in screen_text(app)
        await pilot.press("ctrl+r", "ctrl+s")  # the cursor is on the last line left
        await settle(pilot, app)
        assert not isinstance(app.screen, CostDialog)
        assert app.service.costs.detail(app.workspace, ids[0]).lines == ()
