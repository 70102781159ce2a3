"""End-to-end: rules, own lists (CSV import) and disconnect, through the `dext-tui` command.

Every test runs the real CLI as a subprocess on a real SQLite store and real Beancount ledgers. The only
step that does not go through the CLI is hiding an item (a manual setting the CLI has no command for):
it calls the service the TUI calls.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from test_cli import EXE, run

KINDS = ("categories", "suppliers", "customers", "tax-codes", "bank-accounts", "tracking", "currencies")
ITEM_TABLES = ("workspace", "connection", "connectionevent", "listitem", "rule", "snapshot")


def js(data: Path, *args: str) -> Any:
    """Run a command with --json and parse what it printed."""
    return json.loads(run(data, *args, "--json").stdout)


def all_lists(data: Path) -> dict[str, list[dict[str, Any]]]:
    return {kind: js(data, "lists", kind, "--all") for kind in KINDS}


def ref(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a rule shows it."""
    return {"id": item["id"], "code": item["code"], "name": item["name"]}


def by(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    (found,) = [i for i in items if i[key] == value]
    return found


def hide(data: Path, item_id: int) -> None:
    """Hide one item of the Default workspace (a manual setting), as the TUI does."""
    from dext_tui.core.service import DextService

    service = DextService.open(data)
    try:
        service.set_visible(service.ensure_workspace(), item_id, False)
    finally:
        service.close()


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _connected_with_rules(data: Path, ledger: Path) -> None:
    """Connect to the bean-example ledger and add a supplier rule and a payment-method rule."""
    run(data, "connect", "beancount", str(ledger))
    run(data, "rules", "add", "supplier", "Verizon Wireless", "--category", "Expenses:Home:Phone")
    run(data, "rules", "add", "payment-method", "Assets:US:BofA:Checking", "--currency", "USD")


# -- rules on a real ledger, then each disconnect choice -----------------------------------------------


def test_rules_and_each_disconnect_choice_on_bean_example(tmp_path: Path, bean_example_ledger: Path) -> None:
    base = tmp_path / "base"
    own = all_lists(base)  # a new workspace's own lists, before any connection
    assert len(own["categories"]) == 22 and len(own["tax-codes"]) == 6
    assert {i["origin"] for i in own["categories"] + own["tax-codes"]} == {"local"}
    assert by(own["categories"], "code", "429")["name"] == "General Expenses"
    assert all(own[k] == [] for k in ("suppliers", "customers", "bank-accounts", "tracking", "currencies"))

    run(base, "connect", "beancount", str(bean_example_ledger))
    lists = all_lists(base)
    assert {i["origin"] for kind in KINDS for i in lists[kind]} == {"remote"}
    assert not {i["id"] for i in lists["categories"]} & {i["id"] for i in own["categories"]}
    supplier = by(lists["suppliers"], "name", "Verizon Wireless")
    phone = by(lists["categories"], "code", "Expenses:Home:Phone")
    usd = by(lists["currencies"], "code", "USD")
    checking = by(lists["bank-accounts"], "code", "Assets:US:BofA:Checking")
    tag = lists["tracking"][0]

    added = js(
        base,
        "rules",
        "add",
        "supplier",
        supplier["name"],
        "--category",
        phone["code"],
        "--currency",
        usd["code"],
        "--description",
        "Phone bill",
        "--paid",
        "--auto-publish",
        "always",
    )
    # Without --json, `rules add` prints the new rule's id; a category may be given by its name.
    out = run(
        base,
        "rules",
        "add",
        "payment-method",
        checking["code"],
        "--category",
        phone["name"],
        "--tracking",
        tag["code"],
        "--unpaid",
    ).stdout
    second_id = int(out.strip())
    supplier_rule = {
        "id": added["id"],
        "scope": "supplier",
        "target": ref(supplier),
        "category": ref(phone),
        "tax_code": None,
        "bank_account": None,
        "tracking": None,
        "currency": ref(usd),
        "description": "Phone bill",
        "paid": True,
        "auto_publish": "always",
    }
    assert added == supplier_rule
    payment_rule = {
        "id": second_id,
        "scope": "payment-method",
        "target": ref(checking),
        "category": ref(phone),
        "tax_code": None,
        "bank_account": None,
        "tracking": ref(tag),
        "currency": None,
        "description": None,
        "paid": False,
        "auto_publish": "none",
    }
    rules = js(base, "rules", "list")
    assert rules == [supplier_rule, payment_rule]
    assert second_id != added["id"]

    suppliers = js(base, "lists", "suppliers")
    assert {s["name"]: s["rules"] for s in suppliers if s["rules"]} == {"Verizon Wireless": 1}
    assert by(js(base, "lists", "categories"), "id", phone["id"])["rules"] == 2
    assert by(js(base, "lists", "bank-accounts"), "id", checking["id"])["rules"] == 1

    hidden = next(s for s in suppliers if s["name"] != "Verizon Wireless")
    hide(base, hidden["id"])
    connected = all_lists(base)
    assert by(connected["suppliers"], "id", hidden["id"])["visible"] is False

    def as_local(items: list[dict[str, Any]], **changes: Any) -> list[dict[str, Any]]:
        return [{**i, "origin": "local", **changes} for i in items]

    for choice in ("keep", "reinstate", "merge-later"):
        data = tmp_path / choice
        shutil.copytree(base, data)
        extra = ["--yes"] if choice == "merge-later" else []
        report = js(data, "disconnect", f"--{choice}", *extra)
        assert report["choice"] == choice
        assert report["before"]["rules"] == 2 and report["before"]["settings"] == 1, choice
        assert report["before"]["items"] == sum(len(v) for v in connected.values())
        assert report["before"]["pre_integration"]["items"] == 28  # 22 categories and 6 tax codes
        assert report["before"]["pre_integration"]["rules"] == 0
        status = js(data, "status")
        assert status["status"] == "disconnected", choice
        assert "no connection" in run(data, "disconnect", "--keep", check=1).stderr

        after = all_lists(data)
        if choice == "keep":  # the lists stay as they were, now the workspace's own; rules and settings stay
            assert after == {k: as_local(v) for k, v in connected.items()}
            assert by(after["suppliers"], "id", hidden["id"])["visible"] is False
            assert js(data, "rules", "list") == rules
        elif choice == "reinstate":  # exactly the lists from before connecting, and their (no) rules
            assert after == own
            assert js(data, "rules", "list") == []
        else:  # merge-later: the lists stay, every rule and manual setting goes
            assert after == {k: as_local(v, visible=True, rules=0) for k, v in connected.items()}
            assert js(data, "rules", "list") == []


# -- --merge-later needs --yes -------------------------------------------------------------------------


def _tables(db: Path) -> dict[str, list[tuple]]:
    """The content of the tables a disconnect touches, without timestamps (they differ run to run)."""
    con = sqlite3.connect(db)
    try:
        out = {}
        for table in ITEM_TABLES:
            columns = [
                r[1]
                for r in con.execute(f"PRAGMA table_info({table})")
                if r[1] != "at" and not r[1].endswith("_at")
            ]
            out[table] = con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()
        return out
    finally:
        con.close()


def test_merge_later_without_yes_warns_and_changes_nothing(tmp_path: Path, bean_example_ledger: Path) -> None:
    data = tmp_path / "data"
    _connected_with_rules(data, bean_example_ledger)
    rules = js(data, "rules", "list")
    assert len(rules) == 2
    lists = all_lists(data)
    before = _tables(data / "dext.db")

    for extra in ([], ["--json"]):
        proc = run(data, "disconnect", "--merge-later", *extra, check=2)
        assert proc.stdout == ""
        line = proc.stderr.strip()
        assert "\n" not in line
        assert "REMOVES all 2 rules" in line and "--yes" in line

    assert _tables(data / "dext.db") == before
    assert js(data, "rules", "list") == rules
    assert all_lists(data) == lists
    assert js(data, "status")["status"] == "connected"


# -- rules add refuses unknown items and duplicates; rules remove --------------------------------------


def test_rules_add_refuses_unknown_items_and_a_second_rule(tmp_path: Path, bean_example_ledger: Path) -> None:
    data = tmp_path / "data"
    run(data, "connect", "beancount", str(bean_example_ledger))
    unknown = ["supplier", "Nobody Ltd", "--category", "Expenses:Nope", "--currency", "USD"]
    proc = run(data, "rules", "add", *unknown, check=1)
    line = proc.stderr.strip()
    assert "\n" not in line and proc.stdout == ""
    assert "'Nobody Ltd'" in line and "'Expenses:Nope'" in line
    assert "USD" not in line  # the known one is not blamed
    assert js(data, "rules", "list") == []

    proc = run(data, "rules", "add", "supplier", "Verizon Wireless", "--category", "Expenses:Nope", check=1)
    assert "'Expenses:Nope'" in proc.stderr and "Verizon" not in proc.stderr
    assert js(data, "rules", "list") == []

    first = js(data, "rules", "add", "supplier", "Verizon Wireless", "--category", "Expenses:Home:Phone")
    again = ["supplier", "verizon wireless", "--category", "Expenses:Food:Restaurant"]
    proc = run(data, "rules", "add", *again, check=1)
    assert "already has a rule" in proc.stderr and f"rule {first['id']}" in proc.stderr
    assert js(data, "rules", "list") == [first]
    assert by(js(data, "lists", "suppliers"), "name", "Verizon Wireless")["rules"] == 1

    # A payment method is a bank account: a supplier's name is not one.
    proc = run(data, "rules", "add", "payment-method", "Verizon Wireless", check=1)
    assert "'Verizon Wireless'" in proc.stderr
    assert js(data, "rules", "list") == [first]


def test_rules_remove(tmp_path: Path, bean_example_ledger: Path) -> None:
    data = tmp_path / "data"
    _connected_with_rules(data, bean_example_ledger)
    supplier_rule, payment_rule = js(data, "rules", "list")
    assert supplier_rule["target"]["name"] == "Verizon Wireless"

    assert run(data, "rules", "remove", str(supplier_rule["id"])).stdout.strip() == (
        f"Removed rule {supplier_rule['id']}"
    )
    assert js(data, "rules", "list") == [payment_rule]
    assert by(js(data, "lists", "suppliers"), "name", "Verizon Wireless")["rules"] == 0
    assert by(js(data, "lists", "categories"), "code", "Expenses:Home:Phone")["rules"] == 0

    for missing in (supplier_rule["id"], 9999):
        proc = run(data, "rules", "remove", str(missing), check=1)
        assert proc.stderr.strip() == f"dext-tui: no rule {missing} in workspace 'Default'"
    assert js(data, "rules", "list") == [payment_rule]
    run(data, "rules", "remove", "not-a-number", check=2)


# -- lists import --------------------------------------------------------------------------------------


def test_lists_import_categories(tmp_path: Path, bean_example_ledger: Path) -> None:
    data = tmp_path / "data"
    before = js(data, "lists", "categories", "--all")
    tax_codes = js(data, "lists", "tax-codes")
    good = write_csv(
        tmp_path / "csv" / "categories.csv",
        "code,name,status,default_tax_code\n"
        "400,Advertising and PR,,20\n"  # an existing code: updated
        "999,Crypto losses,archived,\n"  # new, archived
        "404,Bank Fees,,\n"  # exactly as it is: unchanged
        "\n"
        "998,Donations,active,ex\n",  # new, with a default tax code (codes match in any case)
    )
    report = js(data, "lists", "import", "categories", str(good))
    assert report == {"workspace": "Default", "list": "categories", "added": 2, "updated": 1, "unchanged": 1}
    assert (
        "Categories: 0 added, 0 updated, 4 unchanged"
        in run(data, "lists", "import", "categories", str(good)).stdout
    )

    after = js(data, "lists", "categories", "--all")
    assert len(after) == 24 and len(js(data, "lists", "categories")) == 23
    old_400 = by(before, "code", "400")
    new_400 = by(after, "code", "400")
    assert new_400["id"] == old_400["id"] and new_400["name"] == "Advertising and PR"
    assert new_400["default_tax_code_id"] == by(tax_codes, "code", "20")["id"]
    assert by(after, "code", "999")["status"] == "archived"
    donations = by(after, "code", "998")
    assert (donations["name"], donations["status"], donations["origin"]) == ("Donations", "active", "local")
    assert donations["default_tax_code_id"] == by(tax_codes, "code", "EX")["id"]
    assert by(after, "code", "404") == by(before, "code", "404")

    bad = write_csv(
        tmp_path / "csv" / "bad.csv",
        "code,name,status\n"
        "997,A good row,\n"
        "996,,active\n"  # line 3: no name
        "995,Another good row,\n"
        "994,Bad status,deleted\n",  # line 5: not a status
    )
    proc = run(data, "lists", "import", "categories", str(bad), check=1)
    line = proc.stderr.strip()
    assert "\n" not in line and "line 3" in line and "line 5" in line and "nothing imported" in line
    assert "line 2" not in line and "line 4" not in line
    assert js(data, "lists", "categories", "--all") == after

    unknown_tax = write_csv(
        tmp_path / "csv" / "unknown-tax.csv", "code,name,default_tax_code\n993,Fine,\n992,Taxed,ZZ\n"
    )
    proc = run(data, "lists", "import", "categories", str(unknown_tax), check=1)
    assert "line 3" in proc.stderr and "'ZZ'" in proc.stderr
    assert js(data, "lists", "categories", "--all") == after

    run(data, "connect", "beancount", str(bean_example_ledger))
    connected = js(data, "lists", "categories", "--all")
    fresh = write_csv(tmp_path / "csv" / "fresh.csv", "code,name\n991,Brand new\n")
    proc = run(data, "lists", "import", "categories", str(fresh), check=1)
    assert "while connected" in proc.stderr
    assert js(data, "lists", "categories", "--all") == connected


def test_lists_import_keeps_a_cell_with_a_line_break_apart(tmp_path: Path) -> None:
    """A spreadsheet cell holding two lines ("Acme" / "Ltd") is not glued into one word."""
    data = tmp_path / "data"
    path = write_csv(tmp_path / "suppliers.csv", 'code,name\n,"Acme\nLtd"\n,Paper & Co\n')
    proc = run(data, "lists", "import", "suppliers", str(path), check=None)
    names = [s["name"] for s in js(data, "lists", "suppliers", "--all")]
    assert "AcmeLtd" not in names, names
    if proc.returncode == 1:  # refused: the row is named by its line, and nothing is imported
        assert "line 2" in proc.stderr and names == []
    else:
        assert proc.returncode == 0 and {"Acme Ltd", "Acme\nLtd"} & set(names), names


# -- reinstating after a second integration ------------------------------------------------------------


def test_reinstate_after_a_second_integration_gives_back_what_was_there_before_it(
    tmp_path: Path, bean_example_ledger: Path
) -> None:
    data = tmp_path / "data"
    run(data, "connect", "beancount", str(bean_example_ledger))
    run(data, "disconnect", "--reinstate")

    # Working on its own lists again: rename a category, add one, add a supplier and a rule.
    cats = write_csv(tmp_path / "categories.csv", "code,name\n429,General costs\n777,Subcontractors\n")
    run(data, "lists", "import", "categories", str(cats))
    run(data, "lists", "import", "suppliers", str(write_csv(tmp_path / "s.csv", "code,name\n,Paper & Co\n")))
    run(data, "rules", "add", "supplier", "Paper & Co", "--category", "777", "--description", "Subcontract")
    own = all_lists(data)
    own_rules = js(data, "rules", "list")
    assert len(own_rules) == 1 and by(own["categories"], "code", "429")["name"] == "General costs"

    run(data, "connect", "beancount", str(bean_example_ledger))
    run(data, "rules", "add", "supplier", "Verizon Wireless", "--category", "Expenses:Home:Phone")
    report = js(data, "disconnect", "--reinstate")
    assert js(data, "rules", "list") == own_rules
    assert all_lists(data) == own
    assert report["before"]["pre_integration"]["rules"] == len(own_rules)


# -- the counts a disconnect shows ---------------------------------------------------------------------


def test_disconnect_counts_the_settings_of_the_current_lists(
    tmp_path: Path, bean_example_ledger: Path
) -> None:
    """A default tax code set on the workspace's own category before connecting is not a setting of the
    connected lists: hiding one connected supplier is the one setting a disconnect keeps or removes."""
    data = tmp_path / "data"
    path = write_csv(tmp_path / "categories.csv", "code,name,default_tax_code\n429,General Expenses,20\n")
    run(data, "lists", "import", "categories", str(path))
    run(data, "connect", "beancount", str(bean_example_ledger))
    supplier = js(data, "lists", "suppliers")[0]
    hide(data, supplier["id"])
    connected = all_lists(data)
    items = [i for kind in KINDS for i in connected[kind]]
    settings = sum(1 for i in items if not i["visible"] or i["default_tax_code_id"] is not None)
    assert settings == 1

    proc = run(data, "disconnect", "--merge-later", check=2)
    assert "the manual settings of 1 items" in proc.stderr
    report = js(data, "disconnect", "--keep")
    assert report["before"]["settings"] == 1
    assert "with 0 rules and 1 item settings" in report["message"]


# -- kill -9 during a disconnect -----------------------------------------------------------------------


def test_kill_9_during_disconnect_leaves_the_store_before_or_after(tmp_path: Path) -> None:
    """Kill a disconnecting process at many moments: the store is exactly as before or as after."""
    gen = Path(__file__).resolve().parents[1] / "benchmarks" / "make_ledger.py"
    ledger = tmp_path / "big.beancount"
    subprocess.run(
        [sys.executable, str(gen), str(ledger), "--payees", "60000", "--accounts", "300"],
        check=True,
        capture_output=True,
    )
    base = tmp_path / "base"
    run(base, "connect", "beancount", str(ledger))
    supplier = js(base, "lists", "suppliers")[0]
    category = js(base, "lists", "categories")[0]
    fields = ["--category", category["code"], "--tax-code", "S20"]
    run(base, "rules", "add", "supplier", supplier["name"], *fields)
    bank = js(base, "lists", "bank-accounts")[0]
    run(base, "rules", "add", "payment-method", bank["code"], "--category", category["code"])
    hide(base, js(base, "lists", "customers")[0]["id"])

    before = _tables(base / "dext.db")
    after_dir = tmp_path / "after"
    shutil.copytree(base, after_dir)
    args = ["disconnect", "--merge-later", "--yes"]
    start = time.perf_counter()
    run(after_dir, *args)
    full = time.perf_counter() - start
    after = _tables(after_dir / "dext.db")
    assert before != after
    assert after["rule"] == [] and before["rule"] != []

    outcomes = []
    for fraction in (0.3, 0.55, 0.7, 0.8, 0.9, 0.97):
        victim = tmp_path / f"victim-{fraction}"
        shutil.copytree(base, victim)
        proc = subprocess.Popen(
            [*EXE, "--data-dir", str(victim), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = _tables(victim / "dext.db")
        assert state in (before, after), fraction
        outcomes.append("before" if state == before else "after")
        con = sqlite3.connect(victim / "dext.db")
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
        shutil.rmtree(victim)
    assert "before" in outcomes, outcomes  # the kills did land before the end
