"""Lifecycle integrity (issue 12): sequences a practice goes through over a client's life leave every rule,
setting and cost pointing at something a user can see and fix. Each reproduction of the issue is a test
here (1 and 6 are screens: tests/test_tui_merge.py and tests/test_tui.py; 2 is in test_rules_service.py)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from test_change_connection import NEW_BOOKS
from test_cli import run
from test_costs import OTHER_BOOKS

from dext_tui.core.costs import CostDraft
from dext_tui.core.domain import DisconnectChoice, Kind, RuleScope, RuleSpec
from dext_tui.core.errors import DextError

THIRD_BOOKS = NEW_BOOKS.replace('"Acme Widgets (new books)"', '"Acme Widgets (third books)"').replace(
    '"Rail Company"', '"Rail Company Ltd"'
)


async def rail_cost_filled_by_a_rule(service, ledger: Path):
    """Acme on the small ledger; a supplier rule for Rail Co fills the category of a Rail Co cost."""
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(ledger))
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id, category_id=travel.id))
    draft = CostDraft(date=date(2024, 3, 1), supplier_id=rail.id, total=Decimal("9"), currency="GBP")
    cost = service.costs.add(ws, draft)
    assert cost.category is not None and cost.category.id == travel.id
    assert cost.why["category"] == f"Supplier rule for Rail Co (rule {rule.id})"
    return ws, rule, cost


def state_of(service, ws, cost_id: int):
    """What a merge may change and its undo must put back: rules, the cost whole (fields and why), every
    item's settings, and the merge's own progress and saved choices."""
    detail = service.costs.detail(ws, cost_id)
    items = {
        (i.id, i.visible, i.default_tax_code_id, i.status)
        for k in Kind
        for i in service.items(ws, k, include_archived=True)
    }
    return service.rules(ws), detail, items, service.merge_draft(ws), service.merge_plan(ws).states


async def test_undo_of_a_merge_puts_back_the_costs_it_re_pointed_and_their_why(
    service, small_ledger: Path, write_ledger
) -> None:
    """Reproduction 3: change connection, accept the suggestions, undo: the cost filled by a rule goes
    back to its former supplier and category, with its why; so do the merge's progress and choices."""
    ws, rule, cost = await rail_cost_filled_by_a_rule(service, small_ledger)
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    before = state_of(service, ws, cost.id)

    service.merge_accept(ws, 0.5)
    moved = service.costs.detail(ws, cost.id)
    assert moved.supplier.name == "Rail Company" and moved.category.code == "Expenses:Travel-Costs"
    assert (
        moved.why["category"]
        == f"Supplier rule for Rail Co (rule {rule.id}), merged from Expenses:Travel · Travel"
    )

    preview = service.merge_undo_preview(ws)
    assert "1 rules, 1 cost items" in preview
    service.merge_undo(ws)
    assert state_of(service, ws, cost.id) == before
    with pytest.raises(DextError, match="nothing to undo"):
        service.merge_undo(ws)


async def test_undo_is_refused_naming_the_later_action_that_touched_what_it_would_put_back(
    service, small_ledger: Path, write_ledger
) -> None:
    ws, rule, _ = await rail_cost_filled_by_a_rule(service, small_ledger)
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    service.merge_accept(ws, 0.5)
    merged = service.rule(ws, rule.id)
    service.update_rule(ws, rule.id, RuleSpec(RuleScope.SUPPLIER, merged.target.id, description="Trains"))
    with pytest.raises(DextError, match=rf"rule {rule.id} was edited after the merge"):
        service.merge_undo(ws)
    assert service.rule(ws, rule.id).description == "Trains"  # nothing was put back
    with pytest.raises(DextError, match=rf"rule {rule.id} was edited after the merge"):
        service.merge_undo_preview(ws)  # what the app shows instead of its confirmation

    # A disconnect after a merge ends its undo, and says so.
    service.update_rule(
        ws, rule.id, RuleSpec(RuleScope.SUPPLIER, merged.target.id, category_id=merged.category.id)
    )
    service.disconnect(ws, DisconnectChoice.KEEP)
    with pytest.raises(DextError, match=r"Disconnect \(kept the current lists\) on .* came after it"):
        service.merge_undo(ws)


async def test_disconnect_keep_with_a_merge_pending_leaves_it_on_offer_never_a_dead_end(
    service, small_ledger: Path, write_ledger
) -> None:
    """Reproduction 4: change connection (no merge), disconnect keep: the rules still name former items;
    Needs attention reports them with Merge lists as the fix, and Merge lists offers them. After more
    rounds (connect, change again), the cost's pre-flight says "merge lists" and merge lists has it."""
    ws, rule, cost = await rail_cost_filled_by_a_rule(service, small_ledger)
    rail = cost.supplier
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    assert "is carried" in service.disconnect_preview(ws).describe(DisconnectChoice.KEEP)
    service.disconnect(ws, DisconnectChoice.KEEP)

    report = service.attention(ws)
    on_rail = [e for e in report.rules if e.item.id == rail.id]
    assert [(e.owner, e.field, e.problem) for e in on_rail] == [(rule.id, "target", "former")]
    assert on_rail[0].fix.startswith("Merge lists: map 'Rail Co' to one of the current suppliers")
    assert service.merge_offer(ws).available
    assert rail.id in [r.old.id for r in service.merge_plan(ws).lists[Kind.SUPPLIERS]]

    # More rounds: connect other books, change again. The cost still points at Rail Co.
    await service.connect(ws, "beancount", str(write_ledger(OTHER_BOOKS, name="other.beancount")))
    await service.change_connection(ws, "beancount", str(write_ledger(THIRD_BOOKS, name="third.beancount")))
    problems = [p.message for p in service.costs.preflight(ws, [cost.id])[cost.id]]
    assert any("'Rail Co' is from the former lists; merge lists" in m for m in problems)
    plan = service.merge_plan(ws)
    row = next(r for r in plan.lists[Kind.SUPPLIERS] if r.old.id == rail.id)
    assert plan.states[Kind.SUPPLIERS] == "pending"
    # The status every screen reads says the same, without listing the items.
    assert service.connection(ws).to_merge == service.merge_offer(ws).pending
    assert Kind.SUPPLIERS in service.connection(ws).to_merge
    company = service.find_item(ws, Kind.SUPPLIERS, "Rail Company Ltd")
    service.merge_apply(ws, {Kind.SUPPLIERS: {row.old.id: company.id}})
    assert service.rule(ws, rule.id).target.id == company.id
    assert service.costs.detail(ws, cost.id).supplier.id == company.id
    assert not [e for e in service.attention(ws).entries() if e.item.id == rail.id]


async def test_connecting_from_own_lists_reports_the_rules_on_them_and_merge_maps_them(
    service, small_ledger: Path
) -> None:
    """Reproduction 5: a rule on the workspace's own items, then connect: the own items are set aside,
    and the rule on them is reported (set-aside), offered by Merge lists, and mapped onto the books."""
    ws = service.ensure_workspace("Acme")
    own_supplier = service.add_item(ws, Kind.SUPPLIERS, "Rail Co")
    own_travel = service.find_item(ws, Kind.CATEGORIES, "493")  # the default chart's Travel
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, own_supplier.id, category_id=own_travel.id))
    assert service.attention(ws).total == 0

    await service.connect(ws, "beancount", str(small_ledger))
    report = service.attention(ws)
    assert [(e.owner, e.field, e.item.id, e.problem) for e in report.rules] == [
        (rule.id, "target", own_supplier.id, "set-aside"),
        (rule.id, "category", own_travel.id, "set-aside"),
    ]
    plan = service.merge_plan(ws)
    assert [r.old.id for r in plan.lists[Kind.SUPPLIERS]] == [own_supplier.id]
    suggestion = plan.lists[Kind.SUPPLIERS][0].suggestion
    assert suggestion is not None and suggestion.name == "Rail Co"  # same name in the books
    travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel")
    service.merge_apply(
        ws, {Kind.SUPPLIERS: {own_supplier.id: suggestion.id}, Kind.CATEGORIES: {own_travel.id: travel.id}}
    )
    merged = service.rule(ws, rule.id)
    assert (merged.target.id, merged.category.id) == (suggestion.id, travel.id)
    assert service.attention(ws).total == 0
    assert not service.merge_offer(ws).available


async def test_attention_reports_archived_and_hidden_items_with_fixes_that_exist(
    service, small_ledger: Path
) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id))
    service.set_visible(ws, rail.id, False)
    draft = CostDraft(date=date(2024, 3, 1), supplier_id=rail.id, total=Decimal("9"), currency="GBP",
                      category_id=travel.id)  # fmt: skip
    cost = service.costs.add(ws, draft)
    # The account is closed in the books: the refresh archives it.
    small_ledger.write_text(small_ledger.read_text() + "\n2024-07-01 close Expenses:Travel\n")
    await service.refresh(ws)
    report = service.attention(ws)
    assert [(e.owner, e.field, e.problem) for e in report.rules] == [(rule.id, "target", "hidden")]
    assert report.rules[0].fix.startswith("show 'Rail Co' again (Lists › Suppliers › enter › h)")
    assert {(e.owner, e.field, e.problem) for e in report.costs} == {
        (cost.id, "supplier", "hidden"),
        (cost.id, "category", "archived"),
    }
    archived = next(e for e in report.costs if e.field == "category")
    assert archived.fix == (
        "restore 'Expenses:Travel · Travel' in Beancount and refresh;"
        f" or edit cost {cost.id} (Costs › Inbox › e)"
    )
    service.set_visible(ws, rail.id, True)
    assert [e.field for e in service.attention(ws).entries()] == ["category"]


def test_cli_attention_and_snapshots(tmp_path: Path, small_ledger: Path, write_ledger) -> None:
    """`dext-tui attention --json` in the documented shape; `snapshots` lists the safety copies and
    `snapshots restore ID` brings the lists a reinstate set aside back."""
    data = tmp_path / "data"
    run(data, "connect", "beancount", str(small_ledger))
    suppliers = json.loads(run(data, "lists", "suppliers", "--json").stdout)
    rail = next(s for s in suppliers if s["name"] == "Rail Co")
    run(data, "rules", "add", "supplier", "Rail Co", "--category", "Expenses:Travel")
    run(data, "change", "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    report = json.loads(run(data, "attention", "--json").stdout)
    assert set(report) == {"rules", "settings", "costs"}
    entry = next(e for e in report["rules"] if e["field"] == "target")
    assert entry["item"] == {"id": rail["id"], "kind": "suppliers", "code": None, "name": "Rail Co",
                             "status": "active"}  # fmt: skip
    assert entry["problem"] == "former" and "Merge lists" in entry["fix"]
    assert "Rail Co" in run(data, "attention").stdout

    run(data, "disconnect", "--reinstate")
    copies = json.loads(run(data, "snapshots", "--json").stdout)["snapshots"]
    assert [c["reason"] for c in copies] == ["disconnect", "pre-integration"]
    assert copies[0]["rules"] == 1 and copies[1]["rules"] == 0
    assert json.loads(run(data, "rules", "list", "--json").stdout) == []
    run(data, "snapshots", "restore", str(copies[0]["id"]))
    rules = json.loads(run(data, "rules", "list", "--json").stdout)
    assert [r["target"]["name"] for r in rules] == ["Rail Co"]
    assert "no safety copy 999" in run(data, "snapshots", "restore", "999", check=1).stderr
    assert "takes the id" in run(data, "snapshots", "restore", check=2).stderr


async def test_restoring_a_safety_copy_removes_items_added_since_unless_a_cost_uses_them(
    service, small_ledger: Path
) -> None:
    """Found by the model test: a restore brought the copy's items back but kept the ones added to that
    list after it was taken. Now they go, but for one a cost points at: that one stays, archived, and
    Needs attention names the cost."""
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    service.disconnect(ws, DisconnectChoice.KEEP)
    copy = next(c for c in service.snapshots(ws) if c.reason == "disconnect")
    before = {i.name for i in service.items(ws, Kind.CUSTOMERS, include_archived=True)}
    service.add_item(ws, Kind.CUSTOMERS, "Office rent")
    used = service.add_item(ws, Kind.SUPPLIERS, "New Stationer")
    cost = service.costs.add(
        ws, CostDraft(date=date(2024, 3, 1), supplier_id=used.id, total=Decimal("5"), currency="GBP")
    )
    service.restore_snapshot(ws, copy.id)
    assert {i.name for i in service.items(ws, Kind.CUSTOMERS, include_archived=True)} == before
    kept = next(i for i in service.items(ws, Kind.SUPPLIERS, include_archived=True) if i.id == used.id)
    assert kept.status == "archived"
    assert [(e.owner, e.field, e.problem) for e in service.attention(ws).costs] == [
        (cost.id, "supplier", "archived")
    ]
