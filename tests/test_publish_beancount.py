"""Publishing bills to a Beancount ledger (docs/publishing.md), with the real beancount package and real
ledgers: what a user would notice in their books."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dext_tui.connectors import beancount_publish
from dext_tui.connectors.beancount_ledger import BeancountConnector
from dext_tui.connectors.beancount_publish import publish_bills
from dext_tui.core.errors import ConnectionExpired, ConnectorError
from dext_tui.core.publishing import Bill, BillLine, ErrorClass, PublishOutcome, RemoteRef

SMALL = """
    option "operating_currency" "GBP"

    2024-01-01 open Assets:Bank:Current GBP
    2024-01-01 open Expenses:Office GBP
    2024-01-01 open Expenses:Travel GBP
    2024-01-01 open Equity:Opening GBP

    2024-01-02 * "Opening"
      Assets:Bank:Current   5000.00 GBP
      Equity:Opening
"""


def ref(remote_id: str) -> RemoteRef:
    return RemoteRef(remote_id, None, remote_id)


def make_bill(
    n: int,
    *,
    category: str = "Expenses:Office",
    bank: str | None = "Assets:Bank:Current",
    supplier: str | None = None,
    currency: str = "GBP",
    when: date = date(2024, 11, 2),
    uid: str | None = None,
) -> Bill:
    total = Decimal("120.00") + n
    return Bill(
        item_id=n,
        uid=uid or f"uid-{n:05d}",
        date=when,
        supplier=None,
        supplier_name=supplier or f"Supplier {n}",
        reference=f"INV-{n}",
        currency=currency,
        total=total,
        tax=Decimal("20.00"),
        bank_account=ref(bank) if bank else None,
        paid=bank is not None,
        description="Office chairs",
        lines=(BillLine(total, Decimal("20.00"), ref(category), ref("S20"), ref("project-x")),),
    )


def load(ledger: Path) -> tuple[list[Any], list[Any]]:
    from beancount import loader

    loader.initialize(use_cache=False)
    entries, errors, _ = loader.load_file(str(ledger))
    return entries, errors


def uid_counts(ledger: Path) -> Counter[str]:
    from beancount.core import data

    entries, _ = load(ledger)
    txns = [e for e in entries if isinstance(e, data.Transaction)]
    return Counter(e.meta["dext-id"] for e in txns if "dext-id" in e.meta)


def dedicated(ledger: Path) -> Path:
    return ledger.with_name(f"{ledger.stem}.dext.beancount")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.endswith(".lock")}


@pytest.fixture
def small(write_ledger: Callable[..., Path]) -> Path:
    return write_ledger(SMALL)


@pytest.fixture
def example(bean_example_ledger: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "example"
    folder.mkdir()
    return Path(shutil.copy(bean_example_ledger, folder / "example.beancount"))


def example_bill(n: int, **kw: Any) -> Bill:
    kw.setdefault("category", "Expenses:Food:Restaurant")
    kw.setdefault("bank", "Assets:US:BofA:Checking")
    return make_bill(n, currency="USD", when=date(2025, 7, 1 + n % 28), **kw)


def test_first_publish_creates_the_file_and_include_and_the_ledger_checks(small: Path) -> None:
    bills = [make_bill(1), make_bill(2, bank=None), make_bill(3)]
    outcomes = publish_bills(small, bills)

    assert [o.ok for o in outcomes] == [True, True, True]
    assert [o.item_id for o in outcomes] == [1, 2, 3]
    assert not any(o.already for o in outcomes)
    target = dedicated(small)
    assert target.name == "books.dext.beancount"
    assert small.read_text().endswith('\ninclude "books.dext.beancount"\n')
    _, errors = load(small)
    assert errors == []
    assert uid_counts(small) == {"uid-00001": 1, "uid-00002": 1, "uid-00003": 1}
    lines = target.read_text().splitlines()
    for outcome, bill in zip(outcomes, bills, strict=True):
        assert outcome.remote_id is not None
        name, line = outcome.remote_id.split(":")
        assert name == "books.dext.beancount"
        assert lines[int(line) - 1].startswith(f'2024-11-02 * "{bill.supplier_name}" "Office chairs"')
    # The contract's format, exactly.
    first = int(outcomes[0].remote_id.split(":")[1]) - 1  # type: ignore[union-attr]
    assert lines[first : first + 7] == [
        '2024-11-02 * "Supplier 1" "Office chairs" #project-x',
        '  dext-id: "uid-00001"',
        '  reference: "INV-1"',
        "  Expenses:Office   121.00 GBP",
        '    tax_code: "S20"',
        '    tax: "20.00"',
        "  Assets:Bank:Current  -121.00 GBP",
    ]
    # No bank account: the payable account, opened in the dedicated file since the ledger does not.
    assert "1900-01-01 open Liabilities:AccountsPayable" in lines
    assert "  Liabilities:AccountsPayable  -122.00 GBP" in lines


def test_the_ledgers_own_payable_account_is_not_opened_again(write_ledger: Callable[..., Path]) -> None:
    ledger = write_ledger(SMALL + "    2024-01-01 open Liabilities:AccountsPayable GBP\n")
    outcomes = publish_bills(ledger, [make_bill(1, bank=None)])
    assert outcomes[0].ok
    assert "open Liabilities:AccountsPayable" not in dedicated(ledger).read_text()
    assert load(ledger)[1] == []


def test_publishing_again_adds_nothing(small: Path) -> None:
    bills = [make_bill(n) for n in range(1, 6)]
    first = publish_bills(small, bills)
    files = snapshot(small.parent)

    again = publish_bills(small, bills)

    assert [o.ok for o in again] == [True] * 5
    assert [o.already for o in again] == [True] * 5
    assert [o.remote_id for o in again] == [o.remote_id for o in first]
    assert snapshot(small.parent) == files
    assert uid_counts(small) == {b.uid: 1 for b in bills}


def test_a_new_bill_beside_published_ones_is_added_once(small: Path) -> None:
    publish_bills(small, [make_bill(1), make_bill(2)])
    outcomes = publish_bills(small, [make_bill(1), make_bill(3), make_bill(3)])
    assert [(o.ok, o.already) for o in outcomes] == [(True, True), (True, False), (True, True)]
    assert outcomes[1].remote_id == outcomes[2].remote_id
    assert small.read_text().count("include") == 1
    assert uid_counts(small) == {"uid-00001": 1, "uid-00002": 1, "uid-00003": 1}
    assert load(small)[1] == []


def test_a_bill_with_an_error_fails_with_file_and_line_and_the_others_are_written(small: Path) -> None:
    bills = [make_bill(1), make_bill(2, category="Expenses:Unopened"), make_bill(3)]
    outcomes = publish_bills(small, bills)

    assert [o.ok for o in outcomes] == [True, False, True]
    bad = outcomes[1]
    assert bad.error_class is ErrorClass.LEDGER_CHECK
    assert bad.remote_id is None
    assert bad.message is not None
    where, _, words = bad.message.partition(": ")
    path, _, line = where.rpartition(":")
    assert path == str(dedicated(small))
    assert line.isdigit()
    assert "Expenses:Unopened" in words
    assert load(small)[1] == []
    assert uid_counts(small) == {"uid-00001": 1, "uid-00003": 1}
    # The remote ids point at the transactions as they were finally written.
    lines = dedicated(small).read_text().splitlines()
    for outcome, bill in ((outcomes[0], bills[0]), (outcomes[2], bills[2])):
        line_no = int(outcome.remote_id.split(":")[1])  # type: ignore[union-attr]
        assert lines[line_no] == f'  dext-id: "{bill.uid}"'


def test_the_ledger_is_unchanged_when_every_bill_fails(small: Path) -> None:
    files = snapshot(small.parent)
    outcomes = publish_bills(small, [make_bill(1, category="Expenses:Nope"), make_bill(2, currency="EUR")])
    assert [o.error_class for o in outcomes] == [ErrorClass.LEDGER_CHECK] * 2
    assert "Expenses:Nope" in (outcomes[0].message or "")
    assert "EUR" in (outcomes[1].message or "")
    assert snapshot(small.parent) == files  # byte for byte, and no dedicated file left behind

    publish_bills(small, [make_bill(3)])  # with a dedicated file already there
    files = snapshot(small.parent)
    outcomes = publish_bills(small, [make_bill(4, category="Expenses:Nope")])
    assert not outcomes[0].ok
    assert snapshot(small.parent) == files


def test_an_error_elsewhere_fails_the_whole_batch(write_ledger: Callable[..., Path]) -> None:
    ledger = write_ledger(SMALL + "\n    2025-01-01 balance Assets:Bank:Current  5000.00 GBP\n")
    files = snapshot(ledger.parent)
    outcomes = publish_bills(ledger, [make_bill(1), make_bill(2, bank=None)])
    assert [o.error_class for o in outcomes] == [ErrorClass.LEDGER_CHECK] * 2
    assert all(f"{ledger}:" in (o.message or "") for o in outcomes)  # the balance assertion's line
    assert all("Balance failed" in (o.message or "") for o in outcomes)
    assert snapshot(ledger.parent) == files


def test_errors_already_in_the_ledger_do_not_count(write_ledger: Callable[..., Path]) -> None:
    broken = '\n    2024-03-01 * "Broken"\n      Expenses:Gone  1.00 GBP\n      Assets:Bank:Current\n'
    ledger = write_ledger(SMALL + broken)
    assert load(ledger)[1] != []
    outcomes = publish_bills(ledger, [make_bill(1)])
    assert outcomes[0].ok
    assert uid_counts(ledger) == {"uid-00001": 1}


def test_strings_are_escaped_for_beancount(small: Path) -> None:
    from beancount.core import data

    payee = 'Quote "x" \\ [red]'
    bill = make_bill(1, supplier=payee)
    assert publish_bills(small, [bill])[0].ok
    entries, errors = load(small)
    assert errors == []
    (txn,) = [e for e in entries if isinstance(e, data.Transaction) and "dext-id" in e.meta]
    assert txn.payee == payee
    assert publish_bills(small, [bill])[0].already


def test_a_missing_ledger_is_an_expired_connection(tmp_path: Path) -> None:
    with pytest.raises(ConnectionExpired, match=r"Ledger file not found: .*gone\.beancount"):
        publish_bills(tmp_path / "gone.beancount", [make_bill(1)])
    with pytest.raises(ConnectionExpired, match=r"Ledger path is not a file"):
        publish_bills(tmp_path, [make_bill(1)])


def test_a_failed_write_raises_and_leaves_the_ledger_as_it_was(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = snapshot(small.parent)
    real_replace = os.replace
    calls = []

    def replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 3:  # the dedicated file, the include line, then the transactions
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(beancount_publish.os, "replace", replace)
    with pytest.raises(ConnectorError, match=r"No space left on device.*left as it was"):
        publish_bills(small, [make_bill(1)])
    monkeypatch.undo()
    assert snapshot(small.parent) == files
    assert [p.name for p in small.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_the_main_ledgers_mode_is_kept(small: Path) -> None:
    small.chmod(0o640)
    publish_bills(small, [make_bill(1)])
    assert small.stat().st_mode & 0o777 == 0o640
    assert dedicated(small).stat().st_mode & 0o777 == 0o640


def test_publish_to_a_bean_example_ledger(example: Path) -> None:
    bills = [example_bill(n) for n in range(200)]
    bills[7] = example_bill(7, category="Expenses:Food:Caviar")
    outcomes = publish_bills(example, bills)
    assert [n for n, o in enumerate(outcomes) if not o.ok] == [7]
    assert load(example)[1] == []
    assert uid_counts(example) == {b.uid: 1 for n, b in enumerate(bills) if n != 7}


async def test_the_connector_publishes_in_the_loader_process(small: Path, tmp_path: Path) -> None:
    seen: list[PublishOutcome] = []
    connector = BeancountConnector(small, cache_dir=tmp_path)
    outcomes = await connector.publish([make_bill(1), make_bill(2, category="X:Y")], on_outcome=seen.append)
    assert seen == outcomes
    assert [o.ok for o in outcomes] == [True, False]
    assert uid_counts(small) == {"uid-00001": 1}
    again = await connector.publish([make_bill(1)], on_outcome=seen.append)
    assert again[0].already and seen[-1] == again[0]
    with pytest.raises(ConnectionExpired):
        await BeancountConnector(tmp_path / "gone.beancount").publish([make_bill(1)])


KILLED_PUBLISH = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_publish_beancount import example_bill
from dext_tui.connectors.beancount_publish import publish_bills
import beancount.loader  # imported before "ready": the delays below then fall within the publish
print("ready", flush=True)
publish_bills(Path({ledger!r}), [example_bill(n) for n in range({count})])
print("done", flush=True)
"""


def test_kill_9_during_a_publish_leaves_a_ledger_that_checks(example: Path) -> None:
    rng = random.Random(9)
    tests = str(Path(__file__).resolve().parent)
    finished = 0
    for attempt in range(6):
        count = 400 * (attempt + 1)  # each attempt has bills not yet written
        code = KILLED_PUBLISH.format(tests=tests, ledger=str(example), count=count)
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 1.0))
        proc.send_signal(signal.SIGKILL)
        finished += proc.stdout.read().strip() == "done"
        proc.wait()
        _, errors = load(example)
        assert errors == []
        counts = uid_counts(example)
        assert all(c == 1 for c in counts.values())
    assert finished < 6  # at least one publish was cut short

    bills = [example_bill(n) for n in range(2400)]
    outcomes = publish_bills(example, bills)
    assert all(o.ok for o in outcomes)
    assert load(example)[1] == []
    assert uid_counts(example) == {b.uid: 1 for b in bills}
    assert example.read_text().count('include "example.dext.beancount"') == 1


def test_a_paid_bill_leaves_its_payment_method_and_an_unpaid_one_is_owed(small: Path) -> None:
    """Paid: the money left the payment method's account. Unpaid, even with a payment method named (how
    it will be paid): the supplier is owed, on Liabilities:AccountsPayable."""
    from dataclasses import replace

    from beancount.core import data

    paid = make_bill(1)
    owed = replace(make_bill(2, uid="uid-owed"), paid=False)
    assert all(o.ok for o in publish_bills(small, [paid, owed]))
    entries, errors = load(small)
    assert errors == []
    credit = {
        e.meta["dext-id"]: [p.account for p in e.postings if p.units.number < 0]
        for e in entries
        if isinstance(e, data.Transaction) and "dext-id" in e.meta
    }
    assert credit == {paid.uid: ["Assets:Bank:Current"], owed.uid: ["Liabilities:AccountsPayable"]}
