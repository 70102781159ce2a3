"""Change connection (issue 4, first part): the former books are disconnected, their items stay for the
rules that point at them, the new lists come in, and a merge plan suggests where each former item went."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import SMALL_LEDGER
from test_cli import run

from dext_tui.core.domain import ConnectionStatus, Kind, RuleScope, RuleSpec
from dext_tui.core.errors import DextError, InvalidData, NotConnected

# The same business in new books: another title, payees and accounts renamed or re-coded.
NEW_BOOKS = (
    SMALL_LEDGER.replace('"Acme Widgets Ltd"', '"Acme Widgets (new books)"')
    .replace('"Landlord Ltd"', '"LANDLORD LIMITED"')
    .replace("Expenses:Travel", "Expenses:Travel-Costs")
    .replace('"Rail Co"', '"Rail Company"')
)


async def test_change_keeps_former_items_for_the_rules_and_plans_the_merge(
    service, small_ledger, write_ledger
):
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=travel.id))
    before = service.connection(ws)

    new_books = write_ledger(NEW_BOOKS, name="new.beancount")
    info, counts = await service.change_connection(ws, "beancount", str(new_books))

    assert info.tenant_name == "Acme Widgets (new books)" and info.status == ConnectionStatus.CONNECTED
    assert info.id != before.id
    assert all(c.ok for c in counts)
    # The lists are the new ones; the rule still points at the former items, untouched.
    assert {s.name for s in service.items(ws, Kind.SUPPLIERS)} == {"LANDLORD LIMITED", "Rail Company"}
    assert service.rule(ws, rule.id).target.id == landlord.id
    assert service.rule(ws, rule.id).category.id == travel.id
    assert [e.to_status for e in service.events(before.id)][-1] == "disconnected"

    plan = service.merge_plan(ws)
    suppliers = {r.old.name: r for r in plan.lists[Kind.SUPPLIERS]}
    assert suppliers["Landlord Ltd"].suggestion.name == "LANDLORD LIMITED"
    # The name, and the rent both books record on 2024-01-05 (shared history, tests/test_history.py).
    assert suppliers["Landlord Ltd"].reason == "1 shared transaction and same name"
    assert suppliers["Landlord Ltd"].confidence >= 0.9
    assert suppliers["Rail Co"].suggestion.name == "Rail Company"  # co/company are the same word
    categories = {r.old.code: r for r in plan.lists[Kind.CATEGORIES]}
    assert categories["Expenses:Office:Rent"].suggestion.code == "Expenses:Office:Rent"
    assert categories["Expenses:Travel"].suggestion.code == "Expenses:Travel-Costs"
    assert set(plan.states.values()) == {"pending"}
    assert next(iter(plan.lists)) == Kind.CATEGORIES  # the lists rules lean on most come first


async def test_change_to_a_broken_ledger_changes_nothing(service, small_ledger, write_ledger) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    before = service.connection(ws)
    bad = write_ledger("2024-01-01 open Expenses:Food\n2024-13-01 open Assets:Cash\n", name="bad.beancount")
    with pytest.raises(InvalidData):
        await service.change_connection(ws, "beancount", str(bad))
    assert service.connection(ws) == before
    with pytest.raises(DextError, match="no lists to merge"):
        service.merge_plan(ws)


async def test_change_needs_a_connection_and_other_books(service, small_ledger) -> None:
    ws = service.ensure_workspace("Acme")
    with pytest.raises(NotConnected):
        await service.change_connection(ws, "beancount", str(small_ledger))
    await service.connect(ws, "beancount", str(small_ledger))
    with pytest.raises(DextError, match=r"same books.*Reconnect"):
        await service.change_connection(ws, "beancount", str(small_ledger))


def test_cli_change_then_merge_plan_json(tmp_path: Path, small_ledger: Path) -> None:
    data = tmp_path / "data"
    run(data, "connect", "beancount", str(small_ledger))
    run(data, "merge", "--plan", check=1)  # nothing to merge yet
    new_books = small_ledger.with_name("new.beancount")
    new_books.write_text(textwrap.dedent(NEW_BOOKS))
    assert (
        "Changed 'Default' to Beancount: Acme Widgets (new books)"
        in run(data, "change", "beancount", str(new_books)).stdout
    )
    plan = json.loads(run(data, "merge", "--plan", "--json").stdout)
    row = next(r for r in plan["lists"]["suppliers"] if r["old"]["name"] == "Landlord Ltd")
    assert row["suggestion"]["name"] == "LANDLORD LIMITED"
    assert set(row) == {"old", "suggestion", "confidence", "reason"}
    assert set(row["old"]) == {"id", "code", "name"} and 0 <= row["confidence"] <= 1
    assert plan["states"]["suppliers"] == "pending"


async def test_merge_repoints_rules_and_settings_and_undo_puts_them_back(
    service, small_ledger, write_ledger
) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel")
    rent = service.find_item(ws, Kind.CATEGORIES, "Expenses:Office:Rent")
    s20 = service.find_item(ws, Kind.TAX_CODES, "S20")
    first = service.add_rule(
        ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=rent.id, tax_code_id=s20.id)
    )
    second = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id, category_id=travel.id))
    service.set_visible(ws, rail.id, False)
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    before = service.rules(ws)

    new_rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Company")
    new_travel = service.find_item(ws, Kind.CATEGORIES, "Expenses:Travel-Costs")
    # A bad id names itself, and nothing is merged.
    with pytest.raises(DextError, match=r"999999 is not an item of the new list.*nothing was merged"):
        service.merge_apply(ws, {Kind.SUPPLIERS: {rail.id: 999999}})
    with pytest.raises(DextError, match="is not a former item"):
        service.merge_apply(ws, {Kind.SUPPLIERS: {new_rail.id: new_rail.id}})
    assert service.rules(ws) == before

    new = {
        k: service.find_item(ws, kind, k)
        for k, kind in (
            ("LANDLORD LIMITED", Kind.SUPPLIERS),
            ("Expenses:Office:Rent", Kind.CATEGORIES),
            ("S20", Kind.TAX_CODES),
        )
    }
    service.merge_skip(ws, Kind.CURRENCIES)
    message = service.merge_apply(
        ws,
        {
            Kind.SUPPLIERS: {landlord.id: new["LANDLORD LIMITED"].id, rail.id: new_rail.id},
            Kind.CATEGORIES: {rent.id: new["Expenses:Office:Rent"].id, travel.id: new_travel.id},
            Kind.TAX_CODES: {s20.id: new["S20"].id},
        },
    )
    assert message == (
        "Merged suppliers, categories, tax codes: 5 items mapped, 5 rule fields re-pointed;"
        " 2 former items still to merge."  # Income:Sales and the Z0 tax code: still on offer
    )
    after = {r.id: r for r in service.rules(ws)}
    assert (after[first.id].target.id, after[first.id].category.id, after[first.id].tax_code.id) == (
        new["LANDLORD LIMITED"].id,
        new["Expenses:Office:Rent"].id,
        new["S20"].id,
    )
    assert (after[second.id].target.id, after[second.id].category.id) == (new_rail.id, new_travel.id)
    hidden = {i.name: i.visible for i in service.items(ws, Kind.SUPPLIERS)}
    assert hidden == {"LANDLORD LIMITED": True, "Rail Company": False}  # the setting followed
    plan = service.merge_plan(ws)
    assert plan.states[Kind.SUPPLIERS] == "merged" and plan.states[Kind.CURRENCIES] == "skipped"
    assert Kind.SUPPLIERS not in plan.lists
    assert [r.old.code for r in plan.lists[Kind.CATEGORIES]] == ["Income:Sales"]  # what is left

    assert "Undid the last merge" in service.merge_undo(ws)
    assert service.rules(ws) == before
    assert {i.name: i.visible for i in service.items(ws, Kind.SUPPLIERS)} == {
        "LANDLORD LIMITED": True,
        "Rail Company": True,
    }
    assert service.merge_plan(ws).states[Kind.SUPPLIERS] == "pending"

    # Accepting the sure suggestions merges what is plainly the same.
    assert "items mapped" in service.merge_accept(ws, 0.9)
    assert service.rule(ws, first.id).target.name == "LANDLORD LIMITED"  # same name


async def test_two_former_items_cannot_bring_two_rules_to_one_new_item(
    service, small_ledger, write_ledger
) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id))
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id))
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    new_rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Company")
    with pytest.raises(DextError, match="would both be for item"):
        service.merge_apply(ws, {Kind.SUPPLIERS: {landlord.id: new_rail.id, rail.id: new_rail.id}})


def test_change_of_books_on_bean_example_merges_every_rule_and_undo_restores(
    tmp_path: Path, bean_example_ledger: Path
) -> None:
    """End to end through the CLI: books A with rules, books B where payees and accounts were renamed or
    re-coded; merged with the suggestions alone (names and shared history), undone, merged again from a
    mapping file; every rule checked each time; undo restores."""
    data = tmp_path / "data"
    run(data, "connect", "beancount", str(bean_example_ledger))
    rules = [
        ("supplier", "Verizon Wireless", "Expenses:Home:Phone"),
        ("supplier", "EDISON POWER", "Expenses:Home:Electricity"),
        ("supplier", "Metro Transport Authority", "Expenses:Transport:Tram"),
        ("supplier", "Uncle Boons", "Expenses:Food:Restaurant"),
    ]
    for scope, target, category in rules:
        run(data, "rules", "add", scope, target, "--category", category)
    renamed = (
        bean_example_ledger.read_text()
        .replace('option "title" "Example Beancount file"', 'option "title" "Example books, new software"')
        .replace('"Verizon Wireless"', '"VERIZON WIRELESS INC"')  # same name, other case and suffix
        .replace('"EDISON POWER"', '"Edison Power Co."')
        .replace('"Metro Transport Authority"', '"MTA"')  # initials
        .replace('"Uncle Boons"', '"Uncle Boon\'s"')  # punctuation
        .replace("Expenses:Home:Electricity", "Expenses:Utilities:Electricity")  # re-coded, same leaf
        .replace("Expenses:Home:Phone", "Expenses:Utilities:Telephone")  # re-coded and renamed
    )
    books_b = tmp_path / "books-b.beancount"
    books_b.write_text(renamed)
    run(data, "change", "beancount", str(books_b))

    # The names tell some; the transactions both books share tell the rest, even a re-coded and renamed
    # account (Phone -> Telephone) and initials.
    plan = json.loads(run(data, "merge", "--plan", "--json").stdout)
    rows = {r["old"]["code"] or r["old"]["name"]: r for rows in plan["lists"].values() for r in rows}
    mta = rows["Metro Transport Authority"]
    assert mta["suggestion"]["name"] == "MTA"
    assert mta["reason"].endswith("shared transactions and initials MTA")
    phone = rows["Expenses:Home:Phone"]
    assert phone["suggestion"]["code"] == "Expenses:Utilities:Telephone" and phone["confidence"] >= 0.9
    expected = {
        "VERIZON WIRELESS INC": "Expenses:Utilities:Telephone",
        "Edison Power Co.": "Expenses:Utilities:Electricity",
        "MTA": "Expenses:Transport:Tram",
        "Uncle Boon's": "Expenses:Food:Restaurant",
    }

    def rules_by_target() -> dict[str, str]:
        merged = json.loads(run(data, "rules", "list", "--json").stdout)
        new_suppliers = {
            s["name"]: s["id"] for s in json.loads(run(data, "lists", "suppliers", "--json").stdout)
        }
        assert all(r["target"]["id"] == new_suppliers[r["target"]["name"]] for r in merged)
        return {r["target"]["name"]: r["category"]["code"] for r in merged}

    run(data, "merge", "--accept-suggestions", "--min-confidence", "0.9")
    assert "every list has been merged" in run(data, "merge", "--plan", check=1).stderr
    assert rules_by_target() == expected

    # Undone, then merged again by hand: the bookkeeper's own mapping file.
    run(data, "merge", "--undo")
    new_categories = {
        c["code"]: c["id"] for c in json.loads(run(data, "lists", "categories", "--json").stdout)
    }
    manual: dict[str, dict[str, int | None]] = {}
    for kind, kind_rows in json.loads(run(data, "merge", "--plan", "--json").stdout)["lists"].items():
        for row in kind_rows:
            old = row["old"]
            if old["code"] == "Expenses:Home:Phone":
                manual.setdefault(kind, {})[str(old["id"])] = new_categories["Expenses:Utilities:Telephone"]
            elif row["suggestion"] and row["confidence"] >= 0.6:
                manual.setdefault(kind, {})[str(old["id"])] = row["suggestion"]["id"]
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(manual))
    run(data, "merge", "--apply", str(mapping))
    assert rules_by_target() == expected

    run(data, "merge", "--undo")
    undone = json.loads(run(data, "rules", "list", "--json").stdout)
    assert "Metro Transport Authority" in {r["target"]["name"] for r in undone}  # back as before that merge
    assert json.loads(run(data, "merge", "--plan", "--json").stdout)["lists"]


async def test_a_default_tax_code_follows_both_the_category_and_the_tax_code(
    service, small_ledger, write_ledger
) -> None:
    """A category's default tax code (a manual setting) moves to the new category, and points at the new
    tax code once the tax codes are merged too, whichever order the lists are merged in."""
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    rent = service.find_item(ws, Kind.CATEGORIES, "Expenses:Office:Rent")
    s20 = service.find_item(ws, Kind.TAX_CODES, "S20")
    service.set_default_tax_code(ws, rent.id, s20.id)
    await service.change_connection(ws, "beancount", str(write_ledger(NEW_BOOKS, name="new.beancount")))
    new_rent = service.find_item(ws, Kind.CATEGORIES, "Expenses:Office:Rent")
    new_s20 = service.find_item(ws, Kind.TAX_CODES, "S20")
    assert new_rent.id != rent.id and new_rent.default_tax_code_id is None

    service.merge_apply(ws, {Kind.CATEGORIES: {rent.id: new_rent.id}})
    assert service.find_item(ws, Kind.CATEGORIES, "Expenses:Office:Rent").default_tax_code_id == s20.id
    service.merge_apply(ws, {Kind.TAX_CODES: {s20.id: new_s20.id}})
    assert service.find_item(ws, Kind.CATEGORIES, "Expenses:Office:Rent").default_tax_code_id == new_s20.id

    service.merge_undo(ws)  # the tax codes' merge only: the category keeps the former tax code
    assert service.find_item(ws, Kind.CATEGORIES, "Expenses:Office:Rent").default_tax_code_id == s20.id
