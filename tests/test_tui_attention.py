"""Pilot tests: Needs attention and Safety copies from the Integration page, with nothing connected too
(issue 12: a merge pending at a disconnect stays on offer in the app, as in the CLI)."""

from __future__ import annotations

from pathlib import Path

from test_change_connection import NEW_BOOKS
from test_tui_merge import _flat
from test_tui_rules import _until
from tui_helpers import connected_service, make_app, screen_text, settle

from dext_tui.core.domain import DisconnectChoice, Kind, RuleScope, RuleSpec
from dext_tui.core.service import DextService
from dext_tui.screens.attention import AttentionScreen, SnapshotsScreen
from dext_tui.screens.dialogs import ConfirmDialog
from dext_tui.screens.list_page import ListPage
from dext_tui.screens.merge_wizard import MergeWizard


async def _changed_then_kept(data_dir: Path, small_ledger: Path, write_ledger) -> int:
    """A rule on Rail Co; Change connection to new books (no merge); Disconnect, keep the lists."""
    service = await connected_service(data_dir, small_ledger)
    ws = service.ensure_workspace("Acme")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id))
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    service.disconnect(ws, DisconnectChoice.KEEP)
    service.close()
    return rule.id


async def test_with_nothing_connected_attention_leads_to_merge_lists(
    data_dir: Path, small_ledger: Path, write_ledger
) -> None:
    rule_id = await _changed_then_kept(data_dir, small_ledger, write_ledger)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        text = _flat(app)
        assert "Not connected" in text
        assert "To merge" in text and "Merge lists (l)" in text  # still offered after the disconnect
        assert "Needs attention (a)" in text

        await pilot.press("a")
        await _until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        text = _flat(app)
        assert f"Rule {rule_id}: target" in text and "Rail Co" in text and "former" in text
        assert "Fix: Merge lists: map 'Rail Co' to one of the current suppliers" in text
        await pilot.press("enter")  # take the fix: Merge lists
        await _until(pilot, lambda: isinstance(app.screen, MergeWizard))


async def hidden_supplier_with_rule(data_dir: Path, ledger: Path) -> int:
    """Acme connected; a supplier rule on Rail Co, and Rail Co hidden: a rule on an item nobody can pick.
    Returns Rail Co's id."""
    service = await connected_service(data_dir, ledger)
    ws = service.ensure_workspace("Acme")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id))
    service.set_visible(ws, rail.id, False)
    service.close()
    return rail.id


async def test_list_page_marks_a_hidden_supplier_a_rule_uses(data_dir: Path, small_ledger: Path) -> None:
    await hidden_supplier_with_rule(data_dir, small_ledger)
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("3")  # Suppliers
        await _until(pilot, lambda: app.main.list_page(Kind.SUPPLIERS) is not None)
        page: ListPage = app.main.list_page(Kind.SUPPLIERS)  # type: ignore[assignment]
        await _until(pilot, lambda: page.table.row_count > 0)
        await pilot.pause()
        text = screen_text(app)
        assert "▲ Rail Co" in text and "▲ Landlord" not in text
        assert "1 item that rules or costs use but nobody can see or pick" in _flat(app)


async def test_safety_copies_restore_the_lists_a_reinstate_set_aside(
    data_dir: Path, small_ledger: Path
) -> None:
    service = await connected_service(data_dir, small_ledger)
    ws = service.ensure_workspace("Acme")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id))
    service.disconnect(ws, DisconnectChoice.REINSTATE)
    assert service.rules(ws) == []
    service.close()
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        await _until(pilot, lambda: isinstance(app.screen, SnapshotsScreen))
        text = _flat(app)
        assert "Before disconnecting from Beancount: Acme Widgets Ltd" in text
        assert "Your own lists before connecting to Beancount" in text
        await pilot.press("enter")  # the newest: before the disconnect
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Bring back safety copy" in _flat(app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert "Safety copy restored" in screen_text(app)
    service = DextService.open(data_dir)
    try:
        assert [r.id for r in service.rules(service.ensure_workspace("Acme"))] == [rule.id]
    finally:
        service.close()
