"""End-to-end: the `dext-tui` command as a script or cron job runs it, on ledgers from `bean-example`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_bean_example

EXE = [sys.executable, "-m", "dext_tui"]


def run(
    data_dir: Path, *args: str, check: int | None = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*EXE, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env} if env else None,
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc


def test_connect_status_refresh_and_lists_on_bean_example(tmp_path: Path, bean_example_ledger: Path) -> None:
    data = tmp_path / "data"
    status = json.loads(run(data, "status", "--json").stdout)
    assert status["status"] == "disconnected" and status["provider"] is None

    out = run(data, "connect", "beancount", str(bean_example_ledger)).stdout
    assert "Connected 'Default' to Beancount: Example Beancount file" in out
    assert "Suppliers:" in out

    status = json.loads(run(data, "status", "--json").stdout)
    assert status["status"] == "connected" and status["reason"] is None
    assert status["organisation"] == "Example Beancount file"
    assert status["target"] == str(bean_example_ledger)
    assert status["lists"]["suppliers"]["items"] > 10

    suppliers = json.loads(run(data, "lists", "suppliers", "--json").stdout)
    assert {"id", "code", "name", "status"} <= set(suppliers[0])
    names = {s["name"] for s in suppliers}
    assert "Verizon Wireless" in names
    categories = json.loads(run(data, "lists", "categories", "--json").stdout)
    assert all(c["code"].startswith(("Expenses:", "Income:")) for c in categories)
    codes = {c["code"] for c in categories}
    assert "Expenses:Food:Restaurant" in codes
    assert any(code.startswith("Income:US:") and code.endswith(":Salary") for code in codes)
    text = run(data, "lists", "bank-accounts").stdout
    assert "Assets:US:BofA:Checking" in text and "Liabilities:US:Chase:Slate" in text

    refreshed = json.loads(run(data, "refresh", "--json").stdout)
    assert all(item["unchanged_source"] for item in refreshed["lists"])

    with bean_example_ledger.open("a") as f:
        f.write(
            '\n2025-06-30 * "Brand New Stationers" "Paper"\n  Expenses:Food:Groceries  3.00 USD\n'
            "  Assets:US:BofA:Checking\n"
        )
    try:
        refreshed = json.loads(run(data, "refresh", "--list", "suppliers", "--json").stdout)
        assert refreshed["lists"] == [
            {
                "list": "suppliers",
                "added": 1,
                "changed": 0,
                "archived": 0,
                "restored": 0,
                "total": len(suppliers) + 1,
                "unchanged_source": False,
                "error": None,
            }
        ]
        assert "Brand New Stationers" in run(data, "lists", "suppliers").stdout
    finally:
        text = bean_example_ledger.read_text()
        bean_example_ledger.write_text(text[: text.index('\n2025-06-30 * "Brand New Stationers"')])


def test_moved_ledger_expires_then_reconnects(tmp_path: Path) -> None:
    ledger = make_bean_example(tmp_path / "books" / "main.beancount", seed=3)
    data = tmp_path / "data"
    run(data, "connect", "beancount", str(ledger))
    before = run(data, "lists", "suppliers", "--json").stdout
    moved = tmp_path / "elsewhere.beancount"
    shutil.move(ledger, moved)

    proc = run(data, "refresh", check=1)
    assert proc.stderr.strip() == f"dext-tui: Ledger file not found: {ledger}"
    status = json.loads(run(data, "status", "--json").stdout)
    assert (status["status"], status["reason"]) == ("expired", f"Ledger file not found: {ledger}")
    assert "Status:          expired" in run(data, "status").stdout
    assert run(data, "lists", "suppliers", "--json").stdout == before  # lists untouched

    run(data, "reconnect", str(moved))
    assert json.loads(run(data, "status", "--json").stdout)["status"] == "connected"
    assert run(data, "lists", "suppliers", "--json").stdout == before  # same ids


def test_a_ledger_with_errors_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    ledger = make_bean_example(tmp_path / "main.beancount", seed=5)
    data = tmp_path / "data"
    run(data, "connect", "beancount", str(ledger))
    before = {k: run(data, "lists", k, "--all", "--json").stdout for k in ("suppliers", "categories")}
    good = ledger.read_text()
    ledger.write_text(
        good + '\n2025-07-01 * "Nobody" ""\n  Expenses:Not:Opened  1 USD\n  Assets:US:BofA:Checking\n'
    )
    proc = run(data, "refresh", "--json", check=1)
    line = proc.stderr.strip()
    assert line.startswith("dext-tui: the ledger has errors: ") and f"{ledger}:" in line
    assert "Expenses:Not:Opened" in line and "\n" not in line
    assert proc.stdout == ""
    assert {k: run(data, "lists", k, "--all", "--json").stdout for k in before} == before
    assert json.loads(run(data, "status", "--json").stdout)["status"] == "connected"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lists", "vendors"], "unknown list 'vendors'; choose one of: categories, suppliers"),
        (["lists", "import", "vendors", "x.csv"], "unknown list 'vendors'"),
        (["lists", "import", "suppliers"], "usage: dext-tui lists import KIND FILE.csv"),
        (["rules", "add", "vendor", "X"], "invalid choice: 'vendor'"),
        (["disconnect"], "one of the arguments --keep --reinstate --merge-later is required"),
        (["connect", "sage", "x"], "invalid choice: 'sage'"),
        (["refresh", "--list"], "expected one argument"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["connect", "beancount"], "connect beancount needs the ledger file"),
        (["connect", "xero"], "log in first: dext-tui connect xero --print-url"),
        (["connect", "xero", "books.beancount"], "xero takes no PATH"),
        (["connect", "beancount", "x", "--print-url"], "are for xero and quickbooks"),
        (["change", "quickbooks", "--print-url", "--tenant", "X"], "--print-url is step 1 on its own"),
    ],
)
def test_usage_errors_exit_2_without_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run(tmp_path / "data", *args, check=2)
    assert message in proc.stderr


def test_operation_failures_exit_1_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = run(data, "refresh", check=1)
    assert proc.stderr.strip() == (
        "dext-tui: workspace 'Default' has no connection; connect one first (dext-tui connect beancount PATH)"
    )
    proc = run(data, "connect", "beancount", str(tmp_path / "missing.beancount"), check=1)
    assert proc.stderr.strip() == f"dext-tui: Ledger file not found: {tmp_path / 'missing.beancount'}"
    assert json.loads(run(data, "status", "--json").stdout)["status"] == "disconnected"


def test_workspace_option_keeps_clients_apart(tmp_path: Path, bean_example_ledger: Path) -> None:
    data = tmp_path / "data"
    run(data, "--workspace", "Client A", "connect", "beancount", str(bean_example_ledger))
    assert (
        json.loads(run(data, "--workspace", "Client B", "status", "--json").stdout)["status"]
        == "disconnected"
    )
    assert (
        json.loads(run(data, "--workspace", "Client A", "status", "--json").stdout)["status"] == "connected"
    )
    assert run(data, "workspaces").stdout.split("\n")[:2] == ["Client A", "Client B"]


def test_env_variable_sets_the_data_dir(tmp_path: Path, bean_example_ledger: Path) -> None:
    env = {**os.environ, "DEXT_TUI_DATA_DIR": str(tmp_path / "env-data")}
    subprocess.run(
        [*EXE, "connect", "beancount", str(bean_example_ledger)], env=env, check=True, capture_output=True
    )
    assert (tmp_path / "env-data" / "dext.db").exists()
    assert oct((tmp_path / "env-data").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "env-data" / "dext.db").stat().st_mode & 0o777) == "0o600"


def test_control_characters_in_names_are_shown_escaped(tmp_path: Path) -> None:
    ledger = tmp_path / "evil.beancount"
    ledger.write_text(
        "2024-01-01 open Expenses:X USD\n2024-01-01 open Assets:Y USD\n"
        '2024-01-02 * "Evil\x1b[2J\x07Co" ""\n  Expenses:X  1 USD\n  Assets:Y\n'
    )
    data = tmp_path / "data"
    run(data, "connect", "beancount", str(ledger))
    out = run(data, "lists", "suppliers").stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "Evil\\x1b[2J\\x07Co" in out
    as_json = json.loads(run(data, "lists", "suppliers", "--json").stdout)
    assert as_json[0]["name"] == "Evil\x1b[2J\x07Co"  # JSON keeps the exact name, safely encoded


def _snapshot(db: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(db)
    try:
        return {
            kind: con.execute(
                "SELECT id, remote_id, name, status FROM listitem WHERE kind = ? ORDER BY id", (kind,)
            ).fetchall()
            for (kind,) in con.execute("SELECT DISTINCT kind FROM listitem")
        }
    finally:
        con.close()


def test_kill_9_during_refresh_leaves_each_list_before_or_after(tmp_path: Path) -> None:
    """Kill a refreshing process at many moments: every list is exactly as before or as after."""
    gen = Path(__file__).resolve().parents[1] / "benchmarks" / "make_ledger.py"
    ledger = tmp_path / "big.beancount"
    subprocess.run(
        [sys.executable, str(gen), str(ledger), "--payees", "20000", "--accounts", "300"],
        check=True,
        capture_output=True,
    )
    base = tmp_path / "base"
    run(base, "connect", "beancount", str(ledger))
    # Change every list a little: rename payees, drop accounts' names, add a tag.
    text = ledger.read_text()
    changed = text.replace('* "', '* "Renamed ', 400)
    ledger.write_text(
        changed + '\n2030-01-01 * "Late Supplier" "" #late-tag\n'
        f"  {_first_expense(text)}  1 EUR\n  {_first_asset(text)}\n"
    )
    before = _snapshot(base / "dext.db")
    after_dir = tmp_path / "after"
    shutil.copytree(base, after_dir)
    start = time.perf_counter()
    run(after_dir, "refresh")
    full = time.perf_counter() - start
    after = _snapshot(after_dir / "dext.db")
    assert before != after

    outcomes = set()
    for fraction in (0.4, 0.6, 0.8, 0.88, 0.94, 0.98):
        victim = tmp_path / f"victim-{fraction}"
        shutil.copytree(base, victim)
        proc = subprocess.Popen(
            [*EXE, "--data-dir", str(victim), "refresh"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = _snapshot(victim / "dext.db")
        for kind in after:
            assert state.get(kind, []) in (before.get(kind, []), after[kind]), (fraction, kind)
            outcomes.add("before" if state.get(kind, []) == before.get(kind, []) else "after")
        con = sqlite3.connect(victim / "dext.db")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    assert "before" in outcomes  # the kills did land before the end


def _first_expense(text: str) -> str:
    return next(line.split()[2] for line in text.splitlines() if " open Expenses:" in line)


def _first_asset(text: str) -> str:
    return next(line.split()[2] for line in text.splitlines() if " open Assets:" in line)


def test_an_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run(blocker / "data", "status", check=1)
    assert proc.stderr.strip() == f"dext-tui: cannot use the data dir {blocker / 'data'}: Not a directory"
