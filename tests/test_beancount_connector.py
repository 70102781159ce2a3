from __future__ import annotations

import os
from pathlib import Path

import pytest

from dext_tui.connectors.beancount_ledger import BeancountConnector
from dext_tui.core.domain import ItemStatus, Kind
from dext_tui.core.errors import ConnectionExpired, InvalidData


def by_id(items):
    return {i.remote_id: i for i in items}


async def test_lists_follow_the_documented_conventions(small_ledger: Path, tmp_path: Path) -> None:
    result = await BeancountConnector(small_ledger, cache_dir=tmp_path).fetch()
    assert result.tenant_name == "Acme Widgets Ltd"

    cats = by_id(result.lists[Kind.CATEGORIES])
    assert set(cats) == {"Expenses:Office:Rent", "Expenses:Travel", "Expenses:Old", "Income:Sales"}
    assert cats["Expenses:Office:Rent"].name == "Office rent"
    assert cats["Expenses:Office:Rent"].code == "Expenses:Office:Rent"
    assert cats["Expenses:Travel"].name == "Travel"
    assert cats["Expenses:Old"].status == ItemStatus.ARCHIVED
    assert cats["Income:Sales"].data == {"type": "income", "currencies": ["GBP"]}

    assert set(by_id(result.lists[Kind.SUPPLIERS])) == {"Landlord Ltd", "Rail Co"}
    assert set(by_id(result.lists[Kind.CUSTOMERS])) == {"Big Client plc"}

    banks = by_id(result.lists[Kind.BANK_ACCOUNTS])
    assert set(banks) == {"Assets:Bank:Current", "Liabilities:CreditCard"}  # marked ones only
    assert banks["Assets:Bank:Current"].name == "Current account"

    taxes = by_id(result.lists[Kind.TAX_CODES])
    assert taxes["S20"].name == "Standard 20%" and taxes["S20"].data == {"rate": "20.0"}
    assert taxes["OLD"].status == ItemStatus.ARCHIVED

    tracking = by_id(result.lists[Kind.TRACKING])
    assert tracking["project-x"].name == "Project X"
    assert tracking["client-visit"].name == "client-visit"

    currencies = by_id(result.lists[Kind.CURRENCIES])
    assert set(currencies) == {"GBP"} and currencies["GBP"].name == "Pound sterling"


async def test_unmarked_ledger_takes_accounts_that_pay_expenses(write_ledger, tmp_path: Path) -> None:
    ledger = write_ledger(
        """
        2024-01-01 open Assets:Checking USD
        2024-01-01 open Assets:Brokerage USD
        2024-01-01 open Liabilities:Visa USD
        2024-01-01 open Expenses:Food USD
        2024-01-01 open Income:Salary USD
        2024-01-02 * "Shop" ""
          Expenses:Food  10 USD
          Liabilities:Visa
        2024-01-03 * "Employer" ""
          Assets:Checking  100 USD
          Income:Salary
        2024-01-04 * "Deli" ""
          Expenses:Food  5 USD
          Assets:Checking
        """
    )
    result = await BeancountConnector(ledger, cache_dir=tmp_path).fetch()
    assert {i.remote_id for i in result.lists[Kind.BANK_ACCOUNTS]} == {"Assets:Checking", "Liabilities:Visa"}
    assert {i.code for i in result.lists[Kind.CURRENCIES]} == {"USD"}


async def test_a_ledger_with_errors_is_refused_with_file_and_line(write_ledger, tmp_path: Path) -> None:
    ledger = write_ledger(
        """
        2024-01-01 open Expenses:Food USD
        2024-01-01 open Assets:Cash USD
        2024-01-02 * "Shop" ""
          Expenses:Food  10 USD
          Assets:Unknown
        """
    )
    with pytest.raises(InvalidData) as err:
        await BeancountConnector(ledger, cache_dir=tmp_path).fetch()
    assert f"{ledger}:5" in str(err.value) or f"{ledger}:3" in str(err.value)
    assert "Assets:Unknown" in str(err.value)


async def test_a_malformed_tax_code_directive_is_reported(write_ledger, tmp_path: Path) -> None:
    ledger = write_ledger('2024-01-01 custom "tax-code" "S20" "Standard"\n')
    with pytest.raises(InvalidData, match=r":1: custom \"tax-code\" needs"):
        await BeancountConnector(ledger, cache_dir=tmp_path).fetch()


async def test_a_missing_ledger_is_an_expired_source(tmp_path: Path) -> None:
    with pytest.raises(ConnectionExpired, match=r"Ledger file not found: .*gone\.beancount"):
        await BeancountConnector(tmp_path / "gone.beancount").fetch()


async def test_reading_never_writes_beside_the_ledger(bean_example_ledger: Path, tmp_path: Path) -> None:
    folder = bean_example_ledger.parent
    picklecache = folder / f".{bean_example_ledger.name}.picklecache"
    picklecache.write_bytes(b"someone else's cache")  # must not be deleted either
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    cache = tmp_path / "cache"
    cache.mkdir()
    await BeancountConnector(bean_example_ledger, cache_dir=cache).fetch(isolate=True)
    await BeancountConnector(bean_example_ledger, cache_dir=cache).fetch()
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before
    picklecache.unlink()


async def test_fingerprint_notices_a_change_to_an_included_file(write_ledger, tmp_path: Path) -> None:
    write_ledger("2024-01-01 open Expenses:Food USD\n", name="accounts.beancount")
    main = write_ledger('include "accounts.beancount"\n2024-01-01 open Assets:Cash USD\n')
    connector = BeancountConnector(main, cache_dir=tmp_path)
    result = await connector.fetch()
    assert connector.unchanged_since(result.fingerprint)
    accounts = main.parent / "accounts.beancount"
    accounts.write_text("2024-01-01 open Expenses:Food USD\n2024-01-01 open Expenses:Rent USD\n")
    os.utime(accounts, ns=(1, 1))
    assert not connector.unchanged_since(result.fingerprint)
