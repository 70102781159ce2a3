"""Pilot tests of the Merge lists wizard, driven with the keyboard as a bookkeeper would: intro, one step
per list, summary, Apply; quitting half-way resumes; Manage Connection › Undo last merge takes it back."""

from __future__ import annotations

from pathlib import Path

from conftest import SMALL_LEDGER
from test_change_connection import NEW_BOOKS
from test_tui_rules import _until
from tui_helpers import connected_service, make_app, screen_text, settle

from dext_tui.core.domain import Kind, RuleScope, RuleSpec
from dext_tui.core.service import DextService
from dext_tui.screens.dialogs import ConfirmDialog
from dext_tui.screens.merge_wizard import MergeWizard
from dext_tui.widgets.merge_table import MergeTable
from dext_tui.widgets.picker import PickerScreen


async def _changed_books(data_dir: Path, small_ledger: Path, write_ledger) -> dict[str, int]:
    """Books A with two supplier rules, changed to books B (renamed payees and accounts)."""
    service = await connected_service(data_dir, small_ledger)
    ws = service.ensure_workspace("Acme")
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    rent = service.find_item(ws, Kind.CATEGORIES, "Expenses:Office:Rent")
    travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel")
    first = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=rent.id))
    second = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id, category_id=travel.id))
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    service.close()
    return {"landlord_rule": first.id, "rail_rule": second.id}


def _rule(data_dir: Path, rule_id: int) -> tuple[str, str]:
    service = DextService.open(data_dir)
    try:
        rule = service.rule(service.ensure_workspace("Acme"), rule_id)
        assert rule.category is not None
        return rule.target.name, rule.category.code or ""
    finally:
        service.close()


def _flat(app) -> str:
    """The screen's words on one line (wrapped sentences read whole)."""
    return " ".join(screen_text(app).split())


async def _open_wizard(pilot, app) -> MergeWizard:
    await pilot.press("l")
    await _until(pilot, lambda: isinstance(app.screen, MergeWizard) and app.screen._data is not None)
    await pilot.pause()
    return app.screen


def _line(wizard: MergeWizard, old: str):
    return next(line for line in wizard.query_one(MergeTable).lines if old in line.old)


async def _to_row(pilot, wizard: MergeWizard, old: str) -> None:
    table = wizard.query_one(MergeTable)
    await pilot.press("home")
    for _ in range(len(table.lines)):
        if table.current_line is not None and old in table.current_line.old:
            return
        await pilot.press("down")
    raise AssertionError(f"no row for {old!r}")


async def test_merge_wizard_maps_with_suggestions_and_choices_then_undo(
    data_dir: Path, small_ledger: Path, write_ledger
) -> None:
    rules = await _changed_books(data_dir, small_ledger, write_ledger)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        assert "Merge lists" in screen_text(app)  # the call to action on the Integration page
        wizard = await _open_wizard(pilot, app)
        text = _flat(app)
        assert "step 1 of" in text and "Introduction" in text
        assert "Nothing is changed until Apply" in text

        await pilot.press("n")  # Categories
        assert wizard.kind == Kind.CATEGORIES
        assert "Expenses:Travel-Costs" in _line(wizard, "Expenses:Travel").new  # pre-filled
        assert _line(wizard, "Expenses:Travel").state == "suggested"  # ... but only a suggestion
        await pilot.press("a")  # accept every suggestion at 90% or surer
        assert _line(wizard, "Office:Rent").state == "chosen"
        # Travel, by hand: Enter opens the new list's dropdown, filtered as you type.
        await _to_row(pilot, wizard, "Expenses:Travel")
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"travel-c", "enter")
        await _until(pilot, lambda: app.screen is wizard)
        assert _line(wizard, "Expenses:Travel").state == "chosen"
        assert "Travel-Costs" in _line(wizard, "Expenses:Travel").new
        await _to_row(pilot, wizard, "Income:Sales")
        await pilot.press("x")  # leave it as a former item
        assert _line(wizard, "Income:Sales").state == "left"

        await pilot.press("n")  # Tax codes: skipped whole
        assert wizard.kind == Kind.TAX_CODES
        await pilot.press("s")
        assert all(line.state == "left" for line in wizard.query_one(MergeTable).lines)
        while wizard.kind != Kind.SUPPLIERS:
            await pilot.press("n")
        await pilot.press("a")
        assert _line(wizard, "Landlord Ltd").new == "LANDLORD LIMITED"
        assert _line(wizard, "Rail Co").state == "chosen"
        while wizard.step != "summary":
            await pilot.press("n")
        text = _flat(app)
        assert "Mapped" in text and "Undecided" in text
        assert "Tax codes (skipped)" in text
        assert "re-points 4 rule fields" in text  # two rule targets and their two categories

        await pilot.press("enter")  # Apply
        await _until(pilot, lambda: not isinstance(app.screen, MergeWizard))
        await settle(pilot, app)
    assert _rule(data_dir, rules["landlord_rule"]) == ("LANDLORD LIMITED", "Expenses:Office:Rent")
    assert _rule(data_dir, rules["rail_rule"]) == ("Rail Company", "Expenses:Travel-Costs")

    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("m", "u")  # Manage Connection › Undo last merge: it says what it puts back
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        text = _flat(app)
        assert "Undo the merge of" in text and "puts back 2 rules" in text and "cost items" in text
        await pilot.press("enter")  # Undo merge
        await settle(pilot, app)
        assert "Merge undone" in screen_text(app)
    assert _rule(data_dir, rules["rail_rule"]) == ("Rail Co", "Expenses:Travel")


async def test_quitting_half_way_resumes_where_the_user_was(
    data_dir: Path, small_ledger: Path, write_ledger
) -> None:
    await _changed_books(data_dir, small_ledger, write_ledger)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        wizard = await _open_wizard(pilot, app)
        await pilot.press("n")
        await _to_row(pilot, wizard, "Expenses:Travel")
        await pilot.press("space")  # accept this one suggestion
        await pilot.press("n")  # on to tax codes
        assert wizard.kind == Kind.TAX_CODES
        await pilot.press("escape")  # close: the choices are kept
        await _until(pilot, lambda: not isinstance(app.screen, MergeWizard))
        await settle(pilot, app)

    app = make_app(data_dir)  # another day, another session
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        wizard = await _open_wizard(pilot, app)
        assert wizard.kind == Kind.TAX_CODES  # where the user was
        await pilot.press("b")
        assert _line(wizard, "Expenses:Travel").state == "chosen"
        assert _line(wizard, "Office:Rent").state == "suggested"  # never accepted, still a suggestion


async def test_no_value_in_the_dropdown_leaves_the_item_and_filter_finds_rows(
    data_dir: Path, small_ledger: Path, write_ledger
) -> None:
    await _changed_books(data_dir, small_ledger, write_ledger)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        wizard = await _open_wizard(pilot, app)
        while wizard.kind != Kind.SUPPLIERS:
            await pilot.press("n")
        table = wizard.query_one(MergeTable)
        await pilot.press("slash", *"rail")
        assert [line.old for line in table.lines if "rail" in line.old.casefold()]
        assert table.row_count == 1 and "Rail Co" in table.current_line.old
        await pilot.press("enter")  # back to the table, the filter kept
        await pilot.press("enter")  # the dropdown
        await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("ctrl+d")  # no value: leave it as a former item
        await _until(pilot, lambda: app.screen is wizard)
        assert _line(wizard, "Rail Co").state == "left"
        await pilot.press("r")  # undecided again: the suggestion shows
        assert _line(wizard, "Rail Co").state == "suggested"


WATER = (
    SMALL_LEDGER
    + """
    2024-01-01 open Expenses:Utilities:Water GBP

    2024-02-01 * "Thames Water" "Water bill"
      Expenses:Utilities:Water   30.00 GBP
      Assets:Bank:Current
"""
)


async def _changed_water_books(data_dir: Path, write_ledger) -> None:
    """Books with a late "water" row in Categories (4 rows, then Tax codes: 2) and Suppliers (3 rows,
    after Tracking: 2), changed to other books."""
    service = await connected_service(data_dir, write_ledger(WATER))
    ws = service.ensure_workspace("Acme")
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    service.close()


async def _filter_to_water(pilot, wizard: MergeWizard) -> None:
    table = wizard.query_one(MergeTable)
    await pilot.press("slash", *"water", "tab")  # only the last row is left; Tab back to the table
    assert table.row_count == 1 and "Water" in table.current_line.old
    assert table.current_index == len(table.lines) - 1


def _assert_fresh_list(wizard: MergeWizard, kind: Kind) -> None:
    """A list step starts unfiltered, on its first row, showing that row."""
    table = wizard.query_one(MergeTable)
    assert wizard.kind == kind
    assert wizard.query_one("#merge-filter").value == ""
    assert not wizard.query_one("#filter-row").has_class("shown")
    assert table.row_count == len(table.lines) == len(wizard.data.plan.lists[kind])
    assert table.cursor == 0 and table.current_line is table.lines[0]
    assert table.current_line.old in str(wizard.query_one("#detail").render())


async def test_a_filter_on_a_late_row_does_not_outlive_its_list_step(data_dir: Path, write_ledger) -> None:
    """The filtered row's index belonged to the list filtered: Next (to a shorter list) and Back (to a
    shorter list) crashed with IndexError; each step now starts unfiltered on its first row."""
    await _changed_water_books(data_dir, write_ledger)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        wizard = await _open_wizard(pilot, app)
        await pilot.press("n")
        assert wizard.kind == Kind.CATEGORIES
        await _filter_to_water(pilot, wizard)
        await pilot.press("n")  # on to Tax codes: two rows
        _assert_fresh_list(wizard, Kind.TAX_CODES)
        await pilot.press("space")  # acts on the row the cursor shows
        first = wizard.data.plan.lists[Kind.TAX_CODES][0]
        assert wizard.draft.choices[Kind.TAX_CODES] == {first.old.id: first.suggestion.id}

        while wizard.kind != Kind.SUPPLIERS:
            await pilot.press("n")
        await _filter_to_water(pilot, wizard)
        await pilot.press("b")  # back to Tracking: two rows
        _assert_fresh_list(wizard, Kind.TRACKING)
        await pilot.press("x")
        first = wizard.data.plan.lists[Kind.TRACKING][0]
        assert wizard.draft.choices[Kind.TRACKING] == {first.old.id: None}

        # A filter left on the last list does not hang over the summary: Esc closes the wizard there.
        while wizard.kind != Kind.CURRENCIES:
            await pilot.press("n")
        await pilot.press("slash", *"pound", "tab", "n")
        assert wizard.step == "summary"
        await pilot.press("b")
        _assert_fresh_list(wizard, Kind.CURRENCIES)
        await pilot.press("n", "escape")
        await _until(pilot, lambda: not isinstance(app.screen, MergeWizard))
        assert app.is_running


async def test_list_keys_act_on_the_filtered_row_or_on_none(data_dir: Path, write_ledger) -> None:
    """space, x, r and Enter act on the row the filter leaves under the cursor, and on nothing when the
    filter leaves no row."""
    await _changed_water_books(data_dir, write_ledger)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        wizard = await _open_wizard(pilot, app)
        await pilot.press("n")
        await _filter_to_water(pilot, wizard)
        water = _line(wizard, "Water")
        await pilot.press("x")
        assert water.state == "left"
        await pilot.press("r")
        assert water.state != "left"
        await pilot.press("slash", *"nothing like it", "tab")
        table = wizard.query_one(MergeTable)
        assert table.row_count == 0 and table.current_line is None
        before = {k: dict(v) for k, v in wizard.draft.choices.items()}
        for key in ("space", "x", "r", "enter"):
            await pilot.press(key)
            assert app.screen is wizard
        assert {k: dict(v) for k, v in wizard.draft.choices.items()} == before
        await pilot.press("escape")  # clears the filter: every row again
        assert table.row_count == len(table.lines) == 4
        assert app.is_running
