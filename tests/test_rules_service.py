"""The core service with a real store and real ledgers: rules, own lists and CSV import, connection expiry
and its timeline, the pre-integration snapshot, and opening a database made by the first release."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SMALL_LEDGER

from dext_tui.core.domain import (
    AutoPublish,
    ConnectionStatus,
    DisconnectChoice,
    ItemRef,
    Kind,
    RuleScope,
    RuleSpec,
    utcnow,
)
from dext_tui.core.errors import ConnectionExpired, DextError, InvalidData, NotFound, UsageError
from dext_tui.core.lists import db_time
from dext_tui.core.own_lists import DEFAULT_CATEGORIES, DEFAULT_TAX_CODES
from dext_tui.core.service import DextService
from dext_tui.store import migrations

OTHER_LEDGER = """
    option "title" "Other Books Ltd"
    option "operating_currency" "EUR"

    2024-01-01 open Assets:Bank:Main EUR
      bank: TRUE
    2024-01-01 open Expenses:Software EUR
    2024-01-01 open Equity:Opening EUR

    2024-02-01 * "Cloud Host" "Servers"
      Expenses:Software   90.00 EUR
      Assets:Bank:Main
"""


def all_ids(service: DextService, ws) -> dict[Kind, dict[str, int]]:
    """Every current item's id, by list and name (archived and hidden included)."""
    return {k: {i.name: i.id for i in service.items(ws, k, include_archived=True)} for k in Kind}


def rule_uses(service: DextService, ws, kind: Kind) -> dict[str, int]:
    return {i.name: i.rules for i in service.items(ws, kind, include_archived=True)}


def expire_now(data_dir: Path, connection_id: int) -> None:
    """Make the connection's authorisation end yesterday, as the app itself stores times."""
    past = (utcnow() - timedelta(days=1)).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    db = sqlite3.connect(data_dir / "dext.db")
    try:
        with db:
            db.execute("UPDATE connection SET expires_at = ? WHERE id = ?", (past, connection_id))
    finally:
        db.close()


def write_csv(tmp_path: Path, text: str, name: str = "items.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def connected(service: DextService, ledger: Path, name: str = "Acme"):
    ws = service.ensure_workspace(name)
    await service.connect(ws, "beancount", str(ledger))
    return ws


# -- rules ------------------------------------------------------------------------------------------


async def test_supplier_rule_reads_back_with_its_items(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    supplier = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    category = service.find_item(ws, Kind.CATEGORIES, "Office rent")
    tax = service.find_item(ws, Kind.TAX_CODES, "S20")
    bank = service.find_item(ws, Kind.BANK_ACCOUNTS, "Current account")

    rule = service.add_rule(
        ws,
        RuleSpec(
            RuleScope.SUPPLIER,
            supplier.id,
            category_id=category.id,
            tax_code_id=tax.id,
            bank_account_id=bank.id,
            description="Monthly rent",
            paid=True,
            auto_publish=AutoPublish.ALWAYS,
        ),
    )

    assert rule.scope == RuleScope.SUPPLIER
    assert rule.target == ItemRef(supplier.id, None, "Landlord Ltd", "active")
    assert rule.category == ItemRef(category.id, "Expenses:Office:Rent", "Office rent", "active")
    assert rule.tax_code == ItemRef(tax.id, "S20", "Standard 20%", "active")
    assert rule.bank_account == ItemRef(bank.id, "Assets:Bank:Current", "Current account", "active")
    assert (rule.tracking, rule.currency) == (None, None)
    assert (rule.description, rule.paid, rule.auto_publish) == ("Monthly rent", True, AutoPublish.ALWAYS)
    assert service.rule(ws, rule.id) == rule
    assert service.rules(ws) == [rule]

    assert rule_uses(service, ws, Kind.SUPPLIERS) == {"Landlord Ltd": 1, "Rail Co": 0}
    assert rule_uses(service, ws, Kind.CATEGORIES)["Office rent"] == 1
    assert rule_uses(service, ws, Kind.CATEGORIES)["Travel"] == 0
    assert rule_uses(service, ws, Kind.TAX_CODES) == {"Standard 20%": 1, "Zero rated": 0, "Retired code": 0}
    assert rule_uses(service, ws, Kind.BANK_ACCOUNTS) == {"Current account": 1, "CreditCard": 0}


async def test_a_rule_naming_items_of_the_wrong_list_or_workspace_is_refused(
    service, small_ledger: Path
) -> None:
    ws = await connected(service, small_ledger)
    other = service.ensure_workspace("Other")  # has its own default categories
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    foreign_category = service.find_item(other, Kind.CATEGORIES, "Rent")

    wrong = rf"the category must be one of the categories \(item {rail.id} is not\)"
    with pytest.raises(DextError, match=wrong):
        service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=rail.id))
    with pytest.raises(DextError, match=rf"item {foreign_category.id} is not"):
        service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=foreign_category.id))
    with pytest.raises(DextError, match="target must be one of the suppliers"):
        service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, foreign_category.id))
    with pytest.raises(DextError, match="target must be one of the suppliers"):
        # a supplier of this workspace, asked for in the other one
        service.add_rule(other, RuleSpec(RuleScope.SUPPLIER, landlord.id))

    assert service.rules(ws) == [] and service.rules(other) == []
    assert all(n == 0 for n in rule_uses(service, ws, Kind.SUPPLIERS).values())
    assert all(n == 0 for n in rule_uses(service, other, Kind.CATEGORIES).values())


async def test_an_archived_item_cannot_be_chosen_for_a_rule(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    retired = service.find_item(ws, Kind.TAX_CODES, "OLD")
    assert retired.status == "archived"
    with pytest.raises(DextError, match="archived or from a former list"):
        service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, tax_code_id=retired.id))
    assert service.rules(ws) == []


async def test_a_second_rule_for_the_same_supplier_is_refused(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    rent = service.find_item(ws, Kind.CATEGORIES, "Office rent")
    travel = service.find_item(ws, Kind.CATEGORIES, "Travel")
    first = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=rent.id))

    with pytest.raises(DextError, match=rf"supplier 'Landlord Ltd' already has a rule \(rule {first.id}\)"):
        service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=travel.id))
    assert service.rules(ws) == [first]

    second = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id, category_id=travel.id))
    with pytest.raises(DextError, match="already has a rule"):  # moving a rule onto a taken supplier
        service.update_rule(ws, second.id, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=travel.id))
    assert service.rule(ws, second.id) == second
    assert service.rule(ws, first.id) == first


async def test_update_and_remove_a_rule(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    rent = service.find_item(ws, Kind.CATEGORIES, "Office rent")
    travel = service.find_item(ws, Kind.CATEGORIES, "Travel")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail.id, category_id=rent.id))

    changed = service.update_rule(
        ws, rule.id, RuleSpec(RuleScope.SUPPLIER, rail.id, category_id=travel.id, description="Train fares")
    )
    assert changed.id == rule.id
    assert changed.category == ItemRef(travel.id, "Expenses:Travel", "Travel", "active")
    assert changed.description == "Train fares"
    assert service.rule(ws, rule.id) == changed
    uses = rule_uses(service, ws, Kind.CATEGORIES)
    assert (uses["Office rent"], uses["Travel"]) == (0, 1)

    other = service.ensure_workspace("Other")
    with pytest.raises(NotFound):
        service.remove_rule(other, rule.id)  # not that workspace's rule
    assert service.rules(ws) == [changed]

    service.remove_rule(ws, rule.id)
    assert service.rules(ws) == []
    with pytest.raises(NotFound, match=f"no rule {rule.id}"):
        service.rule(ws, rule.id)
    with pytest.raises(NotFound):
        service.remove_rule(ws, rule.id)
    assert rule_uses(service, ws, Kind.SUPPLIERS)["Rail Co"] == 0
    assert rule_uses(service, ws, Kind.CATEGORIES)["Travel"] == 0


async def test_a_payment_method_rule_targets_a_bank_account(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    card = service.find_item(ws, Kind.BANK_ACCOUNTS, "Liabilities:CreditCard")
    travel = service.find_item(ws, Kind.CATEGORIES, "Travel")
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")

    rule = service.add_rule(ws, RuleSpec(RuleScope.PAYMENT_METHOD, card.id, category_id=travel.id, paid=True))
    assert rule.scope == RuleScope.PAYMENT_METHOD
    assert rule.target == ItemRef(card.id, "Liabilities:CreditCard", "CreditCard", "active")
    assert rule.paid is True
    assert rule_uses(service, ws, Kind.BANK_ACCOUNTS)["CreditCard"] == 1

    with pytest.raises(DextError, match="target must be one of the bank accounts"):
        service.add_rule(ws, RuleSpec(RuleScope.PAYMENT_METHOD, rail.id))
    assert service.rules(ws) == [rule]


async def test_rules_and_ids_survive_a_refresh_and_a_reconnect(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    card = service.find_item(ws, Kind.BANK_ACCOUNTS, "CreditCard")
    rent = service.find_item(ws, Kind.CATEGORIES, "Office rent")
    tax = service.find_item(ws, Kind.TAX_CODES, "S20")
    rules = [
        service.add_rule(
            ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=rent.id, tax_code_id=tax.id)
        ),
        service.add_rule(ws, RuleSpec(RuleScope.PAYMENT_METHOD, card.id, category_id=rent.id)),
    ]
    before = all_ids(service, ws)

    # the ledger grows (a new supplier) but nothing is renamed
    small_ledger.write_text(
        small_ledger.read_text()
        + '\n2024-02-01 * "Paper Shop" ""\n  Expenses:Travel  3.00 GBP\n  Assets:Bank:Current\n'
    )
    counts = {c.kind: c for c in await service.refresh(ws)}
    assert counts[Kind.SUPPLIERS].added == 1
    after_refresh = all_ids(service, ws)
    assert service.rules(ws) == rules  # suppliers first, then payment methods
    for kind, ids in before.items():
        assert {n: after_refresh[kind][n] for n in ids} == ids

    info, _ = await service.reconnect(ws)
    assert info.status == ConnectionStatus.CONNECTED
    assert all_ids(service, ws) == after_refresh
    assert {r.id: r for r in service.rules(ws)} == {r.id: r for r in rules}
    assert rule_uses(service, ws, Kind.CATEGORIES)["Office rent"] == 2


async def test_reconnect_to_books_with_another_title_is_refused(
    service, small_ledger: Path, write_ledger: Callable[..., Path]
) -> None:
    ws = await connected(service, small_ledger)
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id))
    before = all_ids(service, ws)
    # the same accounts and payees, but other books
    renamed = write_ledger(
        SMALL_LEDGER.replace("Acme Widgets Ltd", "Acme Gadgets Ltd"), name="other.beancount"
    )

    with pytest.raises(DextError, match="another organisation"):
        await service.reconnect(ws, str(renamed))
    info = service.connection(ws)
    assert (info.target, info.tenant_name) == (str(small_ledger), "Acme Widgets Ltd")
    assert service.rules(ws) == [rule]
    assert all_ids(service, ws) == before


# -- own lists --------------------------------------------------------------------------------------


def test_a_new_workspace_has_the_default_lists(service) -> None:
    ws = service.ensure_workspace("Fresh")
    categories = service.items(ws, Kind.CATEGORIES)
    tax_codes = service.items(ws, Kind.TAX_CODES)
    assert {(i.code, i.name) for i in categories} == set(DEFAULT_CATEGORIES)
    assert {(i.code, i.name) for i in tax_codes} == {(c, n) for c, n, _ in DEFAULT_TAX_CODES}
    for item in categories + tax_codes:
        assert (item.origin, item.remote_id, item.status, item.visible) == ("local", None, "active", True)
    assert service.items(ws, Kind.SUPPLIERS) == []
    assert service.connection(ws) is None


def test_own_items_can_be_added_changed_and_deleted(service) -> None:
    ws = service.ensure_workspace("Fresh")
    added = service.add_item(ws, Kind.CATEGORIES, "  Software  ", " 486 ")
    assert (added.code, added.name, added.origin, added.kind) == ("486", "Software", "local", Kind.CATEGORIES)
    assert service.find_item(ws, Kind.CATEGORIES, "486").id == added.id

    with pytest.raises(DextError, match="code '486' is already used by 'Software'"):
        service.add_item(ws, Kind.CATEGORIES, "Software licences", "486")
    with pytest.raises(UsageError, match="a name is required"):
        service.add_item(ws, Kind.CATEGORIES, "   ", "999")

    service.update_item(ws, added.id, "Software & Cloud", "486")
    names = {i.id: i.name for i in service.items(ws, Kind.CATEGORIES)}
    assert names[added.id] == "Software & Cloud"
    with pytest.raises(DextError, match="already used by 'Rent'"):
        service.update_item(ws, added.id, "Software & Cloud", "469")

    supplier = service.add_item(ws, Kind.SUPPLIERS, "Stationers Ltd")
    assert supplier.code is None
    assert [i.name for i in service.items(ws, Kind.SUPPLIERS)] == ["Stationers Ltd"]

    service.delete_item(ws, added.id)
    assert added.id not in {i.id for i in service.items(ws, Kind.CATEGORIES, include_archived=True)}
    assert len(service.items(ws, Kind.CATEGORIES)) == len(DEFAULT_CATEGORIES)
    with pytest.raises(NotFound):
        service.delete_item(ws, added.id)


def test_an_item_a_rule_uses_cannot_be_deleted(service) -> None:
    ws = service.ensure_workspace("Fresh")
    supplier = service.add_item(ws, Kind.SUPPLIERS, "Stationers Ltd")
    printing = service.find_item(ws, Kind.CATEGORIES, "Printing & Stationery")
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, supplier.id, category_id=printing.id))

    with pytest.raises(DextError, match=r"'Printing & Stationery' is used by 1 rule; hide it instead"):
        service.delete_item(ws, printing.id)
    with pytest.raises(DextError, match="hide it instead"):
        service.delete_item(ws, supplier.id)
    assert service.find_item(ws, Kind.CATEGORIES, "461").id == printing.id
    assert service.find_item(ws, Kind.SUPPLIERS, "Stationers Ltd").id == supplier.id

    service.set_visible(ws, printing.id, False)  # what the message suggests works
    assert service.find_item(ws, Kind.CATEGORIES, "461").visible is False


async def test_while_connected_only_manual_settings_can_change(
    service, small_ledger: Path, tmp_path: Path
) -> None:
    ws = await connected(service, small_ledger)
    travel = service.find_item(ws, Kind.CATEGORIES, "Travel")
    zero = service.find_item(ws, Kind.TAX_CODES, "Z0")
    before = all_ids(service, ws)

    with pytest.raises(DextError, match="while connected to Beancount"):
        service.add_item(ws, Kind.CATEGORIES, "Software", "486")
    with pytest.raises(DextError, match="while connected to Beancount"):
        service.update_item(ws, travel.id, "Journeys", None)
    with pytest.raises(DextError, match="while connected to Beancount"):
        service.delete_item(ws, travel.id)
    csv_file = write_csv(tmp_path, "code,name\n486,Software\n")
    with pytest.raises(DextError, match="while connected to Beancount"):
        service.import_items(ws, Kind.CATEGORIES, csv_file)
    assert all_ids(service, ws) == before
    assert service.find_item(ws, Kind.CATEGORIES, "Travel").name == "Travel"

    service.set_visible(ws, travel.id, False)
    service.set_default_tax_code(ws, travel.id, zero.id)
    row = service.find_item(ws, Kind.CATEGORIES, "Travel")
    assert (row.visible, row.default_tax_code_id) == (False, zero.id)
    service.set_default_tax_code(ws, travel.id, None)
    service.set_visible(ws, travel.id, True)
    row = service.find_item(ws, Kind.CATEGORIES, "Travel")
    assert (row.visible, row.default_tax_code_id) == (True, None)

    with pytest.raises(UsageError, match="'Zero rated' is not a category"):
        service.set_default_tax_code(ws, zero.id, zero.id)
    with pytest.raises(UsageError, match="not one of the current, active tax codes"):
        service.set_default_tax_code(ws, travel.id, service.find_item(ws, Kind.SUPPLIERS, "Rail Co").id)
    with pytest.raises(UsageError, match="not one of the current, active tax codes"):  # archived
        service.set_default_tax_code(ws, travel.id, service.find_item(ws, Kind.TAX_CODES, "OLD").id)


async def test_hidden_items_are_left_out_when_asked(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    rail = service.find_item(ws, Kind.SUPPLIERS, "Rail Co")
    service.set_visible(ws, rail.id, False)

    assert [i.name for i in service.items(ws, Kind.SUPPLIERS)] == ["Landlord Ltd", "Rail Co"]
    shown = service.items(ws, Kind.SUPPLIERS, include_hidden=False)
    assert [i.name for i in shown] == ["Landlord Ltd"]


# -- CSV import -------------------------------------------------------------------------------------


def test_csv_import_adds_and_updates_by_code(service, tmp_path: Path) -> None:
    ws = service.ensure_workspace("Fresh")
    rent_id = service.find_item(ws, Kind.CATEGORIES, "469").id
    path = write_csv(tmp_path, "Code,Name\n469,Office Rent\n486,Software\n\n487,Hosting\n")

    report = service.import_items(ws, Kind.CATEGORIES, path)
    assert (report.added, report.updated, report.unchanged) == (2, 1, 0)
    rows = {i.code: i for i in service.items(ws, Kind.CATEGORIES)}
    assert rows["469"].id == rent_id and rows["469"].name == "Office Rent"  # the same item, renamed
    assert (rows["486"].name, rows["486"].origin) == ("Software", "local")
    assert rows["487"].name == "Hosting"
    assert len(rows) == len(DEFAULT_CATEGORIES) + 2

    again = service.import_items(ws, Kind.CATEGORIES, path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)

    taxes = write_csv(tmp_path, "code,name,rate\nRR,Reduced rate,5%\n", name="tax.csv")
    assert service.import_items(ws, Kind.TAX_CODES, taxes).added == 1
    assert service.find_item(ws, Kind.TAX_CODES, "RR").name == "Reduced rate"


def test_csv_import_with_bad_rows_changes_nothing(service, tmp_path: Path) -> None:
    ws = service.ensure_workspace("Fresh")
    before = service.items(ws, Kind.CATEGORIES, include_archived=True)
    path = write_csv(
        tmp_path,
        "code,name\n469,Office Rent\n999,\n486,Software\n486,Software again\n487,Hosting,extra\n",
    )
    with pytest.raises(InvalidData) as caught:
        service.import_items(ws, Kind.CATEGORIES, path)
    message = str(caught.value)
    assert "items.csv: 3 bad rows, nothing imported" in message
    assert "line 3: a name is required" in message
    assert "line 5: code '486' is also on line 4" in message
    assert "line 6: 3 fields, the header has 2" in message
    assert "line 2" not in message and "line 4:" not in message
    assert service.items(ws, Kind.CATEGORIES, include_archived=True) == before

    with pytest.raises(InvalidData, match="unknown column 'rate' for categories"):
        service.import_items(ws, Kind.CATEGORIES, write_csv(tmp_path, "code,name,rate\n1,A,5\n", "r.csv"))
    assert service.items(ws, Kind.CATEGORIES, include_archived=True) == before


def test_csv_import_sets_a_categorys_default_tax_code(service, tmp_path: Path) -> None:
    ws = service.ensure_workspace("Fresh")
    standard = service.find_item(ws, Kind.TAX_CODES, "20")
    exempt = service.find_item(ws, Kind.TAX_CODES, "EX")
    path = write_csv(
        tmp_path, "code,name,default_tax_code\n486,Software,20\n487,Books,\n441,Legal Expenses,ex\n"
    )
    report = service.import_items(ws, Kind.CATEGORIES, path)
    assert (report.added, report.updated) == (2, 1)
    rows = {i.code: i for i in service.items(ws, Kind.CATEGORIES)}
    assert rows["486"].default_tax_code_id == standard.id
    assert rows["487"].default_tax_code_id is None
    assert rows["441"].default_tax_code_id == exempt.id  # codes match in any case
    with pytest.raises(DextError, match="'20% \\(VAT on Expenses\\)' is the default tax code of 1 categor"):
        service.delete_item(ws, standard.id)
    assert service.find_item(ws, Kind.TAX_CODES, "20").id == standard.id


def test_csv_import_with_an_unknown_default_tax_code_names_the_line(service, tmp_path: Path) -> None:
    ws = service.ensure_workspace("Fresh")
    before = service.items(ws, Kind.CATEGORIES, include_archived=True)
    path = write_csv(tmp_path, "code,name,default_tax_code\n486,Software,20\n487,Books,XX\n")
    with pytest.raises(InvalidData, match=r"line 3: no tax code 'XX' in the tax codes list"):
        service.import_items(ws, Kind.CATEGORIES, path)
    assert service.items(ws, Kind.CATEGORIES, include_archived=True) == before  # not even line 2


# -- expiry -----------------------------------------------------------------------------------------


async def test_a_connection_expires_a_year_after_connecting(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    info = service.connection(ws)
    assert info.expires_at - info.connected_at == timedelta(days=365)
    assert info.status == ConnectionStatus.CONNECTED


async def test_the_expiry_period_comes_from_config_toml(data_dir: Path, small_ledger: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "config.toml").write_text("# a practice's settings\nconnection_expiry_days = 30\n")
    service = DextService.open(data_dir)
    try:
        assert service.config.connection_expiry_days == 30
        ws = await connected(service, small_ledger)
        info = service.connection(ws)
        assert info.expires_at - info.connected_at == timedelta(days=30)

        (data_dir / "config.toml").write_text("connection_expiry_days = 0\n")
    finally:
        service.close()
    never = DextService.open(data_dir)
    try:
        ws2 = await connected(never, small_ledger, name="Forever")
        assert never.connection(ws2).expires_at is None
    finally:
        never.close()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("connection_expiry_day = 30\n", "unknown setting 'connection_expiry_day'"),
        ("connection_expiry_days = -1\n", "connection_expiry_days must be a whole number"),
        ("connection_expiry_days = '30'\n", "connection_expiry_days must be a whole number"),
        ("connection_expiry_days = \n", "is not valid TOML"),
    ],
    ids=["unknown-key", "negative-days", "days-as-text", "not-toml"],
)
def test_a_bad_config_toml_is_an_error_naming_the_file(data_dir: Path, text: str, problem: str) -> None:
    data_dir.mkdir(parents=True)
    config = data_dir / "config.toml"
    config.write_text(text)
    with pytest.raises(DextError, match=re.escape(str(config)) + ".*" + re.escape(problem)):
        DextService.open(data_dir)


async def test_an_expired_connection_must_be_reconnected(service, data_dir: Path, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    first = service.connection(ws)
    expire_now(data_dir, first.id)

    info = service.connection(ws)
    assert info.status == ConnectionStatus.EXPIRED
    assert info.status_reason.startswith("Connection is expired (its authorisation ended on ")
    assert f"{info.expires_at:%Y-%m-%d}" in info.status_reason
    assert [e.to_status for e in service.events(info.id)] == ["connected"]  # nothing has noticed yet

    with pytest.raises(ConnectionExpired, match=r"Connection is expired .*; reconnect first"):
        await service.refresh(ws)
    events = service.events(info.id)
    assert [e.to_status for e in events] == ["connected", "expired"]
    assert events[-1].reason == info.status_reason
    with pytest.raises(ConnectionExpired):
        await service.refresh(ws)
    assert len(service.events(info.id)) == 2  # recorded once

    renewed, _ = await service.reconnect(ws)
    assert renewed.id == first.id
    assert renewed.status == ConnectionStatus.CONNECTED and renewed.status_reason is None
    last = service.events(info.id)[-1]
    assert (last.from_status, last.to_status) == ("expired", "connected")
    assert renewed.expires_at == last.at + timedelta(days=365)
    assert renewed.expires_at > info.expires_at  # no longer the date that had passed
    assert {c.kind for c in await service.refresh(ws)} == set(Kind)  # refreshes again


# -- the timeline -----------------------------------------------------------------------------------


async def test_the_timeline_records_every_change_in_order(
    service, data_dir: Path, small_ledger: Path
) -> None:
    ws = await connected(service, small_ledger)
    conn_id = service.connection(ws).id
    await service.refresh(ws)
    expire_now(data_dir, conn_id)
    with pytest.raises(ConnectionExpired):
        await service.refresh(ws)
    await service.reconnect(ws)
    service.disconnect(ws, DisconnectChoice.KEEP)

    events = service.events(conn_id)
    assert [e.to_status for e in events] == ["connected", "connected", "expired", "connected", "disconnected"]
    assert [e.from_status for e in events] == [None, "connected", "connected", "expired", "connected"]
    assert all(e.reason for e in events)
    assert events[0].reason == "Connected to Beancount: Acme Widgets Ltd"
    assert events[1].reason.startswith("Refreshed: ")
    assert events[2].reason.startswith("Connection is expired")
    assert events[3].reason.startswith("Reconnected")
    assert events[4].reason == "Disconnected (kept the current lists)"
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert service.connection(ws) is None


# -- the pre-integration snapshot -------------------------------------------------------------------


def pre_integration_snapshots(data_dir: Path, workspace_id: int) -> int:
    db = sqlite3.connect(data_dir / "dext.db")
    try:
        return db.execute(
            "SELECT count(*) FROM snapshot WHERE workspace_id = ? AND reason = 'pre-integration'",
            (workspace_id,),
        ).fetchone()[0]
    finally:
        db.close()


async def test_reinstate_restores_the_own_lists_of_when_the_current_connection_began(
    service, data_dir: Path, small_ledger: Path, write_ledger: Callable[..., Path]
) -> None:
    """Issue 12, reproduction 2: own lists -> connect A -> disconnect, keep -> add a rule -> connect B ->
    disconnect, reinstate brings back the own lists and rules of the moment B was connected (A's lists
    kept as its own, with the new rule), not the workspace's very first ones; the lists it sets aside
    stay recoverable from their safety copy."""
    ws = service.ensure_workspace("Acme")
    supplier = service.add_item(ws, Kind.SUPPLIERS, "Stationers Ltd")
    printing = service.find_item(ws, Kind.CATEGORIES, "461")
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, supplier.id, category_id=printing.id))
    assert pre_integration_snapshots(data_dir, ws.id) == 0

    await service.connect(ws, "beancount", str(small_ledger))
    assert pre_integration_snapshots(data_dir, ws.id) == 1
    service.disconnect(ws, DisconnectChoice.KEEP)
    kept = service.items(ws, Kind.CATEGORIES)
    assert {i.name for i in kept} == {"Office rent", "Travel", "Sales"}
    assert all(i.origin == "local" for i in kept)
    landlord = service.find_item(ws, Kind.SUPPLIERS, "Landlord Ltd")
    travel = service.find_item(ws, Kind.CATEGORIES, "Travel")
    kept_rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord.id, category_id=travel.id))
    own_then = {k: service.items(ws, k, include_archived=True) for k in Kind}
    rules_then = service.rules(ws)

    other = write_ledger(OTHER_LEDGER, name="other.beancount")
    info, _ = await service.connect(ws, "beancount", str(other))
    assert info.tenant_name == "Other Books Ltd"
    assert pre_integration_snapshots(data_dir, ws.id) == 2  # every connect records the own lists
    host = service.find_item(ws, Kind.SUPPLIERS, "Cloud Host")
    host_rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, host.id))

    preview = service.disconnect_preview(ws)
    assert preview.snapshot_taken_at is not None
    assert (preview.snapshot_items, preview.snapshot_rules) == (
        len(own_then[Kind.CATEGORIES]) + sum(len(own_then[k]) for k in Kind if k != Kind.CATEGORIES),
        len(rules_then),
    )
    assert f"({preview.snapshot_taken_at:%Y-%m-%d %H:%M})" in preview.describe(DisconnectChoice.REINSTATE)
    message = service.disconnect(ws, DisconnectChoice.REINSTATE)
    assert "safety copy" in message

    assert service.connection(ws) is None
    assert {k: service.items(ws, k, include_archived=True) for k in Kind} == own_then
    assert service.rules(ws) == rules_then and kept_rule in rules_then
    service.add_item(ws, Kind.CATEGORIES, "Software", "486")  # its own lists again: editable

    # B's lists and the rule made on them are set aside, not lost: their safety copy brings them back.
    copy = next(s for s in service.snapshots(ws) if s.reason == "disconnect")
    service.restore_snapshot(ws, copy.id)
    assert {r.id for r in service.rules(ws)} == {r.id for r in rules_then} | {host_rule.id}
    assert service.find_item(ws, Kind.SUPPLIERS, "Cloud Host").id == host.id


# -- opening a first-release database ---------------------------------------------------------------


def make_v1_database(data_dir: Path, ledger: Path) -> None:
    """The schema and data the first release wrote: schema version 1, a connected workspace with its
    generation-1 lists, and a workspace that was never connected."""
    data_dir.mkdir(parents=True)
    db = sqlite3.connect(data_dir / "dext.db")
    try:
        for statement in migrations.MIGRATIONS[0]:
            db.execute(statement)
        stamp = db_time(utcnow())
        db.execute(
            "INSERT INTO workspace (id, name, created_at) VALUES (1, 'Acme', ?), (2, 'Idle', ?)",
            (stamp, stamp),
        )
        db.execute(
            "INSERT INTO connection (id, workspace_id, provider, target, tenant_id, tenant_name, status,"
            " connected_at, last_refreshed_at, generation)"
            " VALUES (1, 1, 'beancount', ?, 'Acme Widgets Ltd', 'Acme Widgets Ltd', 'connected', ?, ?, 1)",
            (str(ledger), stamp, stamp),
        )
        items = [
            ("suppliers", "Landlord Ltd", None, "Landlord Ltd"),
            ("suppliers", "Rail Co", None, "Rail Co"),
            ("categories", "Expenses:Office:Rent", "Expenses:Office:Rent", "Office rent"),
            ("categories", "Expenses:Travel", "Expenses:Travel", "Travel"),
        ]
        db.executemany(
            "INSERT INTO listitem (workspace_id, kind, connection_id, generation, remote_id, code, name,"
            " status, visible, data, origin, created_at, updated_at)"
            " VALUES (1, ?, 1, 1, ?, ?, ?, 'active', 1, NULL, 'remote', ?, ?)",
            [(*item, stamp, stamp) for item in items],
        )
        db.execute("PRAGMA user_version = 1")
        db.commit()
    finally:
        db.close()


async def test_a_first_release_database_opens_with_its_lists(data_dir: Path, small_ledger: Path) -> None:
    make_v1_database(data_dir, small_ledger)
    service = DextService.open(data_dir)
    try:
        db = sqlite3.connect(data_dir / "dext.db")
        try:
            assert db.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
            generations = dict(db.execute("SELECT name, generation FROM workspace"))
        finally:
            db.close()
        assert generations == {"Acme": 1, "Idle": 0}

        acme = service.find_workspace("Acme")
        idle = service.find_workspace("Idle")
        info = service.connection(acme)
        assert (info.status, info.generation, info.expires_at) == (ConnectionStatus.CONNECTED, 1, None)
        suppliers = {i.name: i.id for i in service.items(acme, Kind.SUPPLIERS)}
        assert list(suppliers) == ["Landlord Ltd", "Rail Co"]
        categories = {i.name: i for i in service.items(acme, Kind.CATEGORIES)}
        assert list(categories) == ["Office rent", "Travel"]
        assert all(i.visible and i.default_tax_code_id is None for i in categories.values())
        assert service.connection(idle) is None
        assert service.items(idle, Kind.SUPPLIERS) == []

        # the upgraded lists take rules, and a refresh keeps their ids
        rule = service.add_rule(
            acme, RuleSpec(RuleScope.SUPPLIER, suppliers["Rail Co"], category_id=categories["Travel"].id)
        )
        await service.refresh(acme)
        after = {i.name: i.id for i in service.items(acme, Kind.SUPPLIERS)}
        assert after == suppliers
        assert service.rules(acme) == [rule]
    finally:
        service.close()
