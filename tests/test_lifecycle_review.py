"""Review of issue 12 (lifecycle integrity), tried as a bookkeeper would: each test is a sequence that
went wrong, with the fix it needed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from test_change_connection import NEW_BOOKS
from test_tui_attention import hidden_supplier_with_rule
from test_tui_merge import _flat, _open_wizard, _to_row
from test_tui_rules import _until
from tui_helpers import connected_service, make_app, screen_text, settle

from dext_tui.core.costs import CostDraft
from dext_tui.core.domain import DisconnectChoice, Kind, RuleScope, RuleSpec
from dext_tui.core.errors import DextError
from dext_tui.screens.dialogs import ConfirmDialog
from dext_tui.screens.list_page import ListPage
from dext_tui.screens.merge_wizard import MergeWizard
from dext_tui.widgets.menu import DropdownMenu


async def test_showing_a_hidden_item_again_clears_its_mark_and_the_attention_count(
    data_dir: Path, small_ledger: Path
) -> None:
    """Needs attention says "show 'Rail Co' again (Lists › Suppliers › enter › h)": doing just that
    must clear the ▲ mark, the list's note and the Integration page's count, not leave them stale."""
    rail_id = await hidden_supplier_with_rule(data_dir, small_ledger)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        assert "Needs attention (a)" in _flat(app)
        await pilot.press("3")  # Suppliers
        await _until(pilot, lambda: app.main.list_page(Kind.SUPPLIERS) is not None)
        page: ListPage = app.main.list_page(Kind.SUPPLIERS)  # type: ignore[assignment]
        await _until(pilot, lambda: page.table.row_count > 0)
        await pilot.pause()
        assert "▲ Rail Co" in screen_text(app)
        while page.table.current_row is None or page.table.current_row.id != rail_id:
            await pilot.press("down")
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, DropdownMenu))
        await pilot.press("h")  # Show in pickers
        await settle(pilot, app)
        await _until(pilot, lambda: "▲" not in screen_text(app))
        assert "nobody can see" not in _flat(app)
        assert app.overview.attention == 0


async def test_merge_wizard_counts_cost_fields_as_costs_not_settings(
    data_dir: Path, small_ledger: Path, write_ledger
) -> None:
    """Change connection with a cost on Rail Co and no rule or setting anywhere: the wizard said "Rail Co:
    1 setting use it" and "re-points 0 rule fields and 1 settings", for what is a cost's supplier."""
    service = await connected_service(data_dir, small_ledger)
    ws = service.ensure_workspace("Acme")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    service.costs.add(
        ws, CostDraft(date=date(2024, 3, 1), supplier_id=rail.id, total=Decimal("20"), currency="GBP")
    )
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    assert service.merge_weights(ws)[rail.id] == (0, 0, 1)  # (rule fields, settings, cost fields)
    service.close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        wizard = await _open_wizard(pilot, app)
        while wizard.kind != Kind.SUPPLIERS:
            await pilot.press("n")
        await _to_row(pilot, wizard, "Rail Co")
        await pilot.pause()
        assert "Rail Co: 1 cost field use it" in _flat(app)
        await pilot.press("space")  # accept Rail Company
        while wizard.step != "summary":
            await pilot.press("n")
        text = _flat(app)
        assert "re-points 0 rule fields, 0 settings and 1 fields of costs not yet published" in text


async def test_nothing_to_merge_names_undo_only_while_it_can_be_done(
    service, small_ledger: Path, write_ledger
) -> None:
    """Change, merge every list, Disconnect › Keep: `merge --plan` said "(merge --undo takes the last
    merge back)", and merge --undo then refused ("a disconnect came after it"): a remedy that is not there."""
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id))
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    service.merge_accept(ws, 0.5)
    with pytest.raises(DextError, match="merge --undo takes the last merge back"):
        service.merge_plan(ws)  # the undo is there: it is named
    service.disconnect(ws, DisconnectChoice.KEEP)
    with pytest.raises(DextError, match="no longer be undone"):
        service.merge_undo(ws)
    with pytest.raises(DextError, match="every list has been merged") as refused:
        service.merge_plan(ws)
    assert "merge --undo" not in str(refused.value)


async def test_a_merge_done_with_nothing_connected_can_be_undone_in_the_app(
    data_dir: Path, small_ledger: Path, write_ledger
) -> None:
    """Change connection, Disconnect › Keep, then Merge lists (still offered): the summary promised
    "Manage Connection › Undo last merge", but with nothing connected there is no Manage Connection menu
    and the palette had no undo either: only the CLI could take the merge back."""
    service = await connected_service(data_dir, small_ledger)
    ws = service.ensure_workspace("Acme")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id))
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    service.disconnect(ws, DisconnectChoice.KEEP)
    service.close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        assert not app.overview.can_undo
        wizard = await _open_wizard(pilot, app)
        while wizard.kind != Kind.SUPPLIERS:
            await pilot.press("n")
        await pilot.press("a")  # Rail Company, Landlord
        while wizard.step != "summary":
            await pilot.press("n")
        assert "Undo last merge (u on the Integration page) takes it back" in _flat(app)
        await pilot.press("enter")  # Apply
        await _until(pilot, lambda: not isinstance(app.screen, MergeWizard))
        await settle(pilot, app)
        assert app.info is None and app.overview.can_undo
        assert app.service.rule(app.workspace, rule.id).target.name == "Rail Company"
        await pilot.press("u")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Undo the merge of" in _flat(app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.service.rule(app.workspace, rule.id).target.id == rail.id
        assert not app.overview.can_undo


async def test_merge_plan_never_suggests_an_item_archived_in_the_new_books(
    data_dir: Path, small_ledger: Path, write_ledger
) -> None:
    """Change connection to books that closed Expenses:Travel-Costs, which shares transactions with the
    former Expenses:Travel: `merge --plan` died with KeyError, and Merge lists took the app down with it
    (the shared history named a new item that is not on offer)."""
    service = await connected_service(data_dir, small_ledger)
    ws = service.ensure_workspace("Acme")
    closed = NEW_BOOKS + "\n    2024-06-30 close Expenses:Travel-Costs\n"
    await service.change_connection(ws, "beancount", str(write_ledger(closed, name="new.beancount")))
    plan = service.merge_plan(ws)
    travel = next(r for r in plan.lists[Kind.CATEGORIES] if r.old.code == "Expenses:Travel")
    assert travel.suggestion is None or travel.suggestion.code != "Expenses:Travel-Costs"
    service.close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        wizard = await _open_wizard(pilot, app)
        await pilot.press("n")
        assert wizard.kind == Kind.CATEGORIES and app.is_running


async def test_settings_of_former_items_name_only_merge_lists(
    service, small_ledger: Path, write_ledger
) -> None:
    """Hide Rail Co and give Expenses:Travel a default tax code, then Change connection: Needs attention
    said "... or or leave it: a hidden setting ..." (naming a show action no list page offers) and "choose
    another default tax code (Lists › Categories › enter › t)" for a category no list page shows."""
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel")
    service.set_visible(ws, rail.id, False)
    service.set_default_tax_code(ws, travel.id, service.find_item(ws, Kind.TAX_CODES, "S20").id)
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    settings = {(e.item.id, e.field): e for e in service.attention(ws).settings}
    assert set(settings) == {(rail.id, "hidden"), (travel.id, "default_tax_code")}
    for entry in settings.values():
        assert entry.actions == ("merge",), entry
        assert entry.fix.startswith("Merge lists: map") and " or or " not in entry.fix
        assert "Lists ›" not in entry.fix  # no list page shows a former item
    assert settings[rail.id, "hidden"].fix.endswith(
        "its hidden setting follows; left as it is, it does nothing"
    )
