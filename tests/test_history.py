"""Shared history (issue 4): the transactions two sets of books share tell which former item became which
new one, even when no name or code is alike. Matching (`core.history`), extraction from a Beancount ledger
(`connectors.beancount_history`), the connector, and Change connection -> Merge lists end to end."""

from __future__ import annotations

import asyncio
import json
import pickle
import sqlite3
from pathlib import Path

import pytest
from conftest import SMALL_LEDGER

from dext_tui.connectors.beancount_history import amount_text, extract_history
from dext_tui.connectors.beancount_ledger import BeancountConnector, extract_lists
from dext_tui.core.domain import Kind, RuleScope, RuleSpec
from dext_tui.core.errors import ConnectionExpired, InvalidData
from dext_tui.core.history import pair_refs, shared_counts

# -- matching -----------------------------------------------------------------------------------------


def bill(date: str, total: str, category: str, supplier: str, bank: str, currency: str = "GBP"):
    """A history record of a plain bill: one expense account, one supplier, one paying account."""
    return (
        date,
        currency,
        total,
        (("categories", category, total), ("suppliers", supplier, total), ("bank_accounts", bank, total)),
    )


def test_transactions_matched_by_date_currency_and_total_pair_their_items() -> None:
    old = [
        bill("2024-01-05", "1000", "Expenses:Rent", "Landlord Ltd", "Assets:Bank"),
        bill("2024-02-05", "1000", "Expenses:Rent", "Landlord Ltd", "Assets:Bank"),
        bill("2024-01-09", "55.5", "Expenses:Travel", "Rail Co", "Liabilities:Card"),
        bill("2024-03-01", "12", "Expenses:Travel", "Rail Co", "Liabilities:Card"),  # not in the new books
    ]
    new = [
        bill("2024-02-05", "1000", "Expenses:Premises", "Property Holdings 7", "Assets:Current"),
        bill("2024-01-05", "1000", "Expenses:Premises", "Property Holdings 7", "Assets:Current"),
        bill("2024-01-09", "55.5", "Expenses:Fares", "National Rail", "Liabilities:Visa"),
        bill("2024-01-09", "55.5", "Expenses:Fares", "National Rail", "Liabilities:Visa", currency="EUR"),
    ]
    assert shared_counts(old, new) == {
        "categories": {"Expenses:Rent": {"Expenses:Premises": 2}, "Expenses:Travel": {"Expenses:Fares": 1}},
        "suppliers": {"Landlord Ltd": {"Property Holdings 7": 2}, "Rail Co": {"National Rail": 1}},
        "bank_accounts": {"Assets:Bank": {"Assets:Current": 2}, "Liabilities:Card": {"Liabilities:Visa": 1}},
    }


def test_keys_seen_twice_on_either_side_are_ambiguous_and_skipped() -> None:
    old = [
        bill("2024-01-04", "4", "Expenses:Fees", "BANK FEES", "Assets:Bank"),
        bill("2024-01-04", "4", "Expenses:Coffee", "Cafe", "Assets:Bank"),  # same day, same amount
        bill("2024-01-05", "9.99", "Expenses:Software", "Acme SaaS", "Assets:Bank"),
        bill("2024-01-06", "20", "Expenses:Parking", "Car Park", "Assets:Bank"),
    ]
    new = [
        bill("2024-01-04", "4", "Expenses:Charges", "Bank charges", "Assets:Main"),
        bill("2024-01-05", "9.99", "Expenses:Subscriptions", "ACME", "Assets:Main"),
        bill("2024-01-05", "9.99", "Expenses:Misc", "Someone else", "Assets:Main"),  # ambiguous here
        bill("2024-01-06", "20", "Expenses:Parking", "NCP", "Assets:Main"),
    ]
    counts = shared_counts(old, new)
    assert counts["suppliers"] == {"Car Park": {"NCP": 1}}  # only the one unambiguous match
    assert counts["categories"] == {"Expenses:Parking": {"Expenses:Parking": 1}}


def test_several_items_of_a_list_pair_by_an_amount_unique_on_both_sides() -> None:
    def payslip(taxes: dict[str, str]):
        refs = tuple(("categories", account, amount) for account, amount in taxes.items())
        return ("2024-01-31", "GBP", "3000", (*refs, ("suppliers", "Payroll", "3000")))

    old = payslip(
        {
            "Expenses:Tax:Income": "600",
            "Expenses:Tax:NI": "240",
            "Expenses:Pension": "150",
            "Expenses:Benefit:Gym": "25",
            "Expenses:Benefit:Lunch": "25",
        }
    )
    new = payslip(  # other accounts, in another order
        {
            "Expenses:PAYE": "600",
            "Expenses:Pension-Scheme": "150",
            "Expenses:NIC": "240",
            "Expenses:Perks:A": "25",
            "Expenses:Perks:B": "25",
        }
    )
    counts = shared_counts([old], [new])
    assert counts["suppliers"] == {"Payroll": {"Payroll": 1}}
    assert counts["categories"] == {
        "Expenses:Tax:Income": {"Expenses:PAYE": 1},
        "Expenses:Tax:NI": {"Expenses:NIC": 1},
        "Expenses:Pension": {"Expenses:Pension-Scheme": 1},
        # two lines of 25 on each side cannot be told apart: neither is paired
    }


def test_one_item_each_side_pairs_whatever_its_amount_and_lists_pair_separately() -> None:
    old = (("categories", "Expenses:A", "10"), ("tracking", "trip", "10"), ("tracking", "client-x", "10"))
    new = (("categories", "Expenses:Z", "10.5"), ("tracking", "journey", "10"), ("customers", "C", "10"))
    # one category each side: paired; two tags of one amount against one: not paired (10 is not unique
    # among the old ones); customers only on one side: nothing to pair.
    assert pair_refs(old, new) == [("categories", "Expenses:A", "Expenses:Z")]
    assert pair_refs(old, ()) == []


def test_matching_100k_transactions_is_dict_joins() -> None:
    """Not a timing (those live in benchmarks/): a smoke test that the big case stays linear."""
    old = [
        bill(f"2024-{1 + i % 12:02d}-01", f"{i}.5", f"E:{i % 500}", f"S{i}", "A:B") for i in range(100_000)
    ]
    new = [bill(d, t, r[0][1] + "x", r[1][1] + "x", "A:C") for d, _c, t, r in old]
    counts = shared_counts(old, new)
    assert len(counts["suppliers"]) == 100_000
    assert counts["bank_accounts"] == {"A:B": {"A:C": 100_000}}


# -- extraction from a ledger --------------------------------------------------------------------------


def load(path: Path):
    from beancount import loader

    entries, errors, options = loader.load_file(str(path))
    assert not errors
    return entries, options


def test_records_use_exactly_the_remote_ids_of_the_lists(small_ledger: Path) -> None:
    entries, options = load(small_ledger)
    records = extract_history(entries, options)
    assert records == [
        (
            "2024-01-05",
            "GBP",
            "1000",
            (
                ("categories", "Expenses:Office:Rent", "1000"),
                ("suppliers", "Landlord Ltd", "1000"),
                ("bank_accounts", "Assets:Bank:Current", "1000"),
                ("tracking", "project-x", "1000"),
            ),
        ),
        (
            "2024-01-06",
            "GBP",
            "55",
            (
                ("categories", "Expenses:Travel", "55"),
                ("suppliers", "Rail Co", "55"),
                ("bank_accounts", "Liabilities:CreditCard", "55"),
                ("tracking", "client-visit", "55"),
            ),
        ),
        (
            "2024-01-10",
            "GBP",
            "2400",
            (("categories", "Income:Sales", "-2400"), ("customers", "Big Client plc", "2400")),
        ),
        (  # no payee: no supplier
            "2024-01-11",
            "GBP",
            "5",
            (("categories", "Expenses:Travel", "5"), ("bank_accounts", "Assets:Bank:Current", "5")),
        ),
    ]
    assert pickle.loads(pickle.dumps(records)) == records
    assert all(type(r) is tuple and all(type(x) is tuple for x in r[3]) for r in records)


def test_every_ref_of_a_real_ledger_names_an_item_of_its_lists(bean_example_ledger: Path) -> None:
    entries, options = load(bean_example_ledger)
    records = extract_history(entries, options)
    lists = extract_lists(entries, options)
    items = {(kind.value, item.remote_id) for kind, kind_items in lists.items() for item in kind_items}
    refs = {(kind, remote_id) for *_key, record_refs in records for kind, remote_id, _amount in record_refs}
    assert len(records) > 500
    assert refs <= items
    # and every supplier, customer, category posted to and tag is reachable through history
    posted = {(k, r) for k, r in items if k in ("suppliers", "customers", "tracking", "bank_accounts")}
    assert posted <= refs


def test_root_names_of_the_ledger_and_mixed_currencies(write_ledger) -> None:
    path = write_ledger(
        """
        option "name_expenses" "Costs"
        option "name_assets" "Holdings"
        option "operating_currency" "GBP"
        2024-01-01 open Holdings:Bank GBP
        2024-01-01 open Holdings:Shares
        2024-01-01 open Costs:Fees GBP
        2024-01-01 open Equity:Drawings GBP
        2024-02-01 * "Broker" "Shares and a fee"
          Holdings:Shares      10 ACME {5.00 GBP}
          Costs:Fees         2.50 GBP
          Holdings:Bank    -52.50 GBP
        2024-02-02 * "Someone" "Drawings: no expense"
          Equity:Drawings   3.00 GBP
          Holdings:Bank
        """
    )
    entries, options = load(path)
    assert extract_history(entries, options) == [
        (
            "2024-02-01",
            "ACME+GBP",
            "10+2.5",
            (
                ("categories", "Costs:Fees", "2.5"),
                ("suppliers", "Broker", "10+2.5"),
                ("bank_accounts", "Holdings:Bank", "52.5"),
            ),
        ),
        ("2024-02-02", "GBP", "3", ()),  # no Costs, no Income: no item
    ]


def test_amounts_are_written_alike_whatever_their_precision() -> None:
    from decimal import Decimal

    assert [amount_text(Decimal(x)) for x in ("65.00", "-65", "0.10", "1E+3", "-0.00")] == [
        "65",
        "65",
        "0.1",
        "1000",
        "0",
    ]


# -- the connector ------------------------------------------------------------------------------------


async def test_connector_history_in_process_and_isolated_agree(small_ledger: Path, tmp_path: Path) -> None:
    connector = BeancountConnector(small_ledger, cache_dir=tmp_path / "cache")
    here = await connector.history()
    isolated, fetched = await asyncio.gather(
        connector.history(isolate=True), connector.fetch(isolate=True, history=True)
    )
    assert len(here) == 4 and isolated == here and fetched.history == here
    assert [s.name for s in fetched.lists[Kind.SUPPLIERS]] == ["Landlord Ltd", "Rail Co"]
    assert (await connector.fetch()).history is None  # only when asked for
    assert sorted(p.name for p in small_ledger.parent.iterdir()) == [small_ledger.name]  # nothing beside it


async def test_connector_history_raises_like_fetch(write_ledger, tmp_path: Path) -> None:
    with pytest.raises(ConnectionExpired, match="not found"):
        await BeancountConnector(tmp_path / "gone.beancount").history()
    bad = write_ledger("2024-01-01 open Expenses:Food\n2024-13-01 open Assets:Cash\n", name="bad.beancount")
    with pytest.raises(InvalidData, match="the ledger has errors"):
        await BeancountConnector(bad).history(isolate=True)


# -- Change connection -> Merge lists, end to end --------------------------------------------------------

# Books B: the same business after a move to other software. Accounts re-coded and renamed past any
# likeness of names, payees under trading names, a bank account and a credit card re-coded, a tag renamed.
ACCOUNT_RENAMES = {
    "Expenses:Home:Electricity": "Expenses:Utilities:Light-Power-Heat",
    "Expenses:Home:Phone": "Expenses:Comms:Handset-Plan",
    "Expenses:Food:Restaurant": "Expenses:Meals:Dining-Out",
    "Expenses:Transport:Tram": "Expenses:Travel:Local-Transit",
    "Income:US:Babble:Salary": "Income:Employment:Pay",
    "Liabilities:US:Chase:Slate": "Liabilities:Cards:Visa-4417",
    "Assets:US:BofA:Checking": "Assets:Bank:Operating",
}
PAYEE_RENAMES = {
    "Metro Transport Authority": "City Transit Services",
    "EDISON POWER": "Consolidated Utility Group",
    "Verizon Wireless": "VZW",
    "Uncle Boons": "Thai Kitchen 44",
    "RiverBank Properties": "Landlord - flat 3B",
    "Babble": "Employer payroll",
}
TAG_RENAMES = {"trip-boston-2024": "conf-ma-2024"}


def books_b(ledger: Path, out: Path) -> Path:
    text = ledger.read_text().replace('"Example Beancount file"', '"Example books, new software"')
    for old, new in ACCOUNT_RENAMES.items():
        text = text.replace(old, new)
    for old, new in PAYEE_RENAMES.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    for old, new in TAG_RENAMES.items():
        text = text.replace(f"#{old}", f"#{new}")
    out.write_text(text)
    return out


async def test_change_then_merge_plan_suggests_renamed_items_by_shared_history(
    service, bean_example_ledger: Path, tmp_path: Path
) -> None:
    ws = service.ensure_workspace("Household")
    await service.connect(ws, "beancount", str(bean_example_ledger))
    tram = service.find_item(ws, Kind.CATEGORIES, "Expenses:Transport:Tram")
    metro = service.find_item(ws, Kind.SUPPLIERS, "Metro Transport Authority")
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, metro.id, category_id=tram.id))

    await service.change_connection(ws, "beancount", str(books_b(bean_example_ledger, tmp_path / "b.bean")))
    plan = service.merge_plan(ws)

    renames = {
        Kind.CATEGORIES: {k: v for k, v in ACCOUNT_RENAMES.items() if not k.startswith(("Assets", "Liab"))},
        Kind.BANK_ACCOUNTS: {k: v for k, v in ACCOUNT_RENAMES.items() if k.startswith(("Assets", "Liab"))},
        Kind.SUPPLIERS: PAYEE_RENAMES,
        Kind.CUSTOMERS: {"Babble": "Employer payroll"},
        Kind.TRACKING: TAG_RENAMES,
    }
    for kind, expected in renames.items():
        rows = {r.old.code or r.old.name: r for r in plan.lists[kind]}
        for old, new in expected.items():
            row = rows[old]
            assert row.suggestion is not None, (kind, old)
            assert (row.suggestion.code or row.suggestion.name) == new, (kind, old, row)
            assert row.reason.endswith("shared transactions"), (kind, old, row.reason)
            assert row.confidence >= 0.9, (kind, old, row)
    electricity = next(r for r in plan.lists[Kind.CATEGORIES] if r.old.code == "Expenses:Home:Electricity")
    assert electricity.reason == "17 shared transactions"
    # What kept its name still goes by it, now with history to back it.
    rows = {r.old.name: r for r in plan.lists[Kind.SUPPLIERS]}
    assert rows["Wine-Tarner Cable"].suggestion.name == "Wine-Tarner Cable"
    assert rows["Wine-Tarner Cable"].reason == "17 shared transactions and same name"

    # Accepting the sure suggestions moves the rule to the renamed supplier and category.
    service.merge_accept(ws, 0.9)
    (rule,) = service.rules(ws)
    assert (rule.target.name, rule.category.code) == (
        "City Transit Services",
        "Expenses:Travel:Local-Transit",
    )


async def test_history_is_stored_by_item_id_with_the_merge(
    service, small_ledger: Path, write_ledger, data_dir: Path
) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    new = SMALL_LEDGER.replace('"Acme Widgets Ltd"', '"Acme (new books)"').replace('"Rail Co"', '"Avanti"')
    await service.change_connection(
        ws, "beancount", str(write_ledger(new, name="new.beancount")), isolate=True
    )
    db = sqlite3.connect(data_dir / "dext.db")
    try:
        (shared,) = db.execute("SELECT shared FROM mergesession WHERE state = 'open'").fetchone()
        names = dict(db.execute("SELECT id, kind || ':' || generation || ':' || name FROM listitem"))
    finally:
        db.close()
    readable = {
        names[int(o)]: {names[int(n)]: c for n, c in row.items()} for o, row in json.loads(shared).items()
    }
    assert readable["suppliers:1:Rail Co"] == {"suppliers:2:Avanti": 1}
    assert readable["categories:1:Travel"] == {"categories:2:Travel": 2}
    assert readable["bank_accounts:1:Current account"] == {"bank_accounts:2:Current account": 2}
    assert readable["customers:1:Big Client plc"] == {"customers:2:Big Client plc": 1}
    rail = next(r for r in service.merge_plan(ws).lists[Kind.SUPPLIERS] if r.old.name == "Rail Co")
    assert (rail.suggestion.name, rail.reason) == ("Avanti", "1 shared transaction")


async def test_former_books_that_cannot_be_read_change_nothing_but_the_evidence(
    service, small_ledger: Path, write_ledger
) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    new = write_ledger(SMALL_LEDGER.replace('"Acme Widgets Ltd"', '"Acme (new books)"'), name="new.beancount")
    small_ledger.unlink()  # the former ledger is gone
    info, counts = await service.change_connection(ws, "beancount", str(new))
    assert info.tenant_name == "Acme (new books)" and all(c.ok for c in counts)
    rows = service.merge_plan(ws).lists[Kind.SUPPLIERS]
    assert {r.reason for r in rows} == {"same name"}  # names only: no history to share


async def test_a_bad_new_ledger_stops_the_former_read_and_changes_nothing(
    service, small_ledger: Path, write_ledger
) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    before = service.connection(ws)
    bad = write_ledger("2024-01-01 open Expenses:Food\n2024-13-01 open Assets:Cash\n", name="bad.beancount")
    with pytest.raises(InvalidData):
        await service.change_connection(ws, "beancount", str(bad), isolate=True)
    assert service.connection(ws) == before
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]  # no read left running
