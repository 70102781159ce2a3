from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

BEAN_EXAMPLE = "import sys; from beancount.scripts.example import main; sys.argv[0] = 'bean-example'; main()"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def service(data_dir: Path):
    from dext_tui.core.service import DextService

    svc = DextService.open(data_dir)
    yield svc
    svc.close()


@pytest.fixture
def write_ledger(tmp_path: Path) -> Callable[..., Path]:
    """Write a ledger from dedented text: `write_ledger(text, name="books.beancount")`."""

    def write(text: str, name: str = "books.beancount") -> Path:
        path = tmp_path / "ledgers" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


def make_bean_example(out: Path, seed: int) -> Path:
    """A realistic ledger from beancount's own `bean-example`, with fixed dates so it is repeatable."""
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-c",
            BEAN_EXAMPLE,
            "--seed",
            str(seed),
            "--date-begin",
            "2024-01-01",
            "--date-end",
            "2025-06-30",
            "--date-birth",
            "1980-05-12",
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="session")
def bean_example_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bean_example(tmp_path_factory.mktemp("bean-example") / "example.beancount", seed=7)


SMALL_LEDGER = """
    option "title" "Acme Widgets Ltd"
    option "operating_currency" "GBP"

    2024-01-01 open Assets:Bank:Current GBP
      bank: TRUE
      name: "Current account"
    2024-01-01 open Liabilities:CreditCard GBP
      bank: TRUE
    2024-01-01 open Assets:Receivables GBP
    2024-01-01 open Expenses:Office:Rent GBP
      name: "Office rent"
    2024-01-01 open Expenses:Travel GBP
    2024-01-01 open Expenses:Old GBP
    2024-01-01 open Income:Sales GBP
      name: "Sales"
    2024-01-01 open Equity:Opening GBP
    2024-06-30 close Expenses:Old

    2024-01-01 commodity GBP
      name: "Pound sterling"

    2024-01-01 custom "tax-code" "S20" "Standard 20%" 20.0
    2024-01-01 custom "tax-code" "Z0" "Zero rated" 0
    2024-01-01 custom "tax-code" "OLD" "Retired code" 17.5
      archived: TRUE
    2024-01-01 custom "tracking" "project-x" "Project X"

    2024-01-05 * "Landlord Ltd" "January rent" #project-x
      Expenses:Office:Rent   1000.00 GBP
      Assets:Bank:Current

    2024-01-06 * "Rail Co" "Ticket" #client-visit
      Expenses:Travel   55.00 GBP
      Liabilities:CreditCard

    2024-01-10 * "Big Client plc" "Invoice 1"
      Assets:Bank:Current   2400.00 GBP
      Income:Sales

    2024-01-11 * "" "No payee"
      Expenses:Travel   5.00 GBP
      Assets:Bank:Current
"""


@pytest.fixture
def small_ledger(write_ledger: Callable[..., Path]) -> Path:
    return write_ledger(SMALL_LEDGER)
