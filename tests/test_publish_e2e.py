"""Costs end to end, as a bookkeeper runs them: import cost items, rules fill them, publish to a real
`bean-example` ledger (which still passes beancount's check, each item once, a second publish adds
nothing), and to the Xero and QuickBooks sandboxes over loopback, through an expired connection and back."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from test_cli import run
from test_cloud_e2e import HARBOUR, _browser

from dext_tui.sandbox import Sandbox


def ledger_errors(ledger: Path) -> list[str]:
    from beancount import loader

    _, errors, _ = loader.load_file(str(ledger))
    return [str(e.message) for e in errors]


def test_import_rules_fill_publish_to_bean_example_once(tmp_path: Path, bean_example_ledger: Path) -> None:
    data = tmp_path / "data"
    ledger = tmp_path / "books" / "example.beancount"
    ledger.parent.mkdir()
    shutil.copy(bean_example_ledger, ledger)
    run(data, "connect", "beancount", str(ledger))
    run(data, "rules", "add", "supplier", "Verizon Wireless", "--category", "Expenses:Home:Phone")
    costs = tmp_path / "costs.csv"
    costs.write_text(
        "date,supplier,reference,total,currency,category,description\n"
        "2025-07-02,Verizon Wireless,VZ-0702,61.20,USD,,July phone\n"
        '2025-07-03,"Corner ""Deli"" [red]x",D-1,12.40,USD,Expenses:Food:Restaurant,Lunch\n'
        "2025-07-04,Mystery Vendor,M-1,5.00,USD,,No category\n",
        encoding="utf-8",
    )
    imported = json.loads(run(data, "items", "import", str(costs), "--json").stdout)
    assert (imported["added"], imported["filled_by_rules"]) == (3, 1)
    phone, deli, mystery = imported["ids"]
    shown = json.loads(run(data, "items", "show", str(phone), "--json").stdout)
    assert shown["category"]["code"] == "Expenses:Home:Phone"
    assert shown["why"]["category"] == "Supplier rule for Verizon Wireless (rule 1)"

    # Publish everything ready: two go to the ledger, the third fails the pre-flight check (exit 1).
    proc = run(data, "publish", "--all-ready", "--json", check=1)
    report = json.loads(proc.stdout)
    assert (report["published"], report["failed"]) == (2, 1)
    by_id = {i["id"]: i for i in report["items"]}
    assert by_id[mystery]["error"]["class"] == "missing"
    assert by_id[mystery]["error"]["message"] == "no category"
    assert by_id[phone]["remote_id"].startswith("example.dext.beancount:")

    assert ledger_errors(ledger) == []
    dext_file = ledger.parent / "example.dext.beancount"
    text = dext_file.read_text(encoding="utf-8")
    uids = {json.loads(run(data, "items", "show", str(i), "--json").stdout)["uid"] for i in (phone, deli)}
    for uid in uids:
        assert text.count(f'dext-id: "{uid}"') == 1
    assert '"Corner \\"Deli\\" [red]x"' in text
    assert 'include "example.dext.beancount"' in ledger.read_text(encoding="utf-8")

    # Publishing the same items again adds nothing to the ledger.
    before = dext_file.read_bytes()
    again = json.loads(run(data, "publish", str(phone), str(deli), "--json").stdout)
    assert [i.get("skipped") for i in again["items"]] == [True, True]
    assert dext_file.read_bytes() == before

    published = json.loads(run(data, "items", "list", "--state", "published", "--json").stdout)
    assert {i["id"] for i in published} == {phone, deli}
    failed = json.loads(run(data, "items", "list", "--error-class", "missing", "--json").stdout)
    assert [(i["id"], i["state"]) for i in failed] == [(mystery, "failed")]


def _sandbox_tokens_revoked(sandbox: Sandbox) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/tokens/revoke", json={}, timeout=10).raise_for_status()


def _publish_expired_then_reconnect(tmp_path: Path, provider: str, tenant: str | None) -> None:
    data = tmp_path / "data"
    with Sandbox(port=0, contacts=60) as sandbox:
        env = sandbox.env()
        url = run(data, "connect", provider, "--print-url", env=env).stdout.strip()
        login = ["--redirect-url", _browser(url)] + (["--tenant", tenant] if tenant else [])
        run(data, "connect", provider, *login, env=env)
        suppliers = json.loads(run(data, "lists", "suppliers", "--json", env=env).stdout)
        categories = json.loads(run(data, "lists", "categories", "--json", env=env).stdout)
        expense = next(c for c in categories if c["status"] == "active")
        supplier = next(s for s in suppliers if s["status"] == "active")
        currency, category = _currency(data, env), expense["code"] or expense["name"]
        tax_codes = json.loads(run(data, "lists", "tax-codes", "--json", env=env).stdout)
        # QuickBooks wants a tax code on each line; Xero takes the account's own when none is given.
        tax = (
            next(t["code"] for t in tax_codes if t["status"] == "active") if provider == "quickbooks" else ""
        )
        path = tmp_path / "costs.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["date", "supplier", "reference", "total", "currency", "category", "tax_code"])
            writer.writerow(["2026-10-01", supplier["name"], "B-1", "120.00", currency, category, tax])
            writer.writerow(["2026-10-02", supplier["name"], "B-2", "80.00", currency, category, tax])
        ids = json.loads(run(data, "items", "import", str(path), "--json", env=env).stdout)["ids"]

        # The practice's access was revoked: publishing says "Connection is expired" on each item.
        _sandbox_tokens_revoked(sandbox)
        report = json.loads(run(data, "publish", *map(str, ids), "--json", check=1, env=env).stdout)
        assert report["expired"] and report["failed"] == 2
        for item in report["items"]:
            assert item["error"]["class"] == "expired"
            assert "Connection is expired" in item["error"]["message"]
            assert "Reconnect" in item["error"]["remedy"]
        status = json.loads(run(data, "status", "--json", env=env).stdout)
        assert status["status"] == "expired"
        failed = json.loads(run(data, "items", "list", "--state", "failed", "--json", env=env).stdout)
        assert {i["id"] for i in failed} == set(ids)

        # Reconnect, publish again: both go through and their errors are cleared.
        url = run(data, "reconnect", "--print-url", env=env).stdout.strip()
        login = ["--redirect-url", _browser(url)] + (["--tenant", tenant] if tenant else [])
        run(data, "reconnect", *login, env=env)
        report = json.loads(run(data, "publish", *map(str, ids), "--json", env=env).stdout)
        assert (report["published"], report["failed"]) == (2, 0)
        assert all(i["remote_id"] for i in report["items"])
        shown = json.loads(run(data, "items", "show", str(ids[0]), "--json", env=env).stdout)
        assert shown["state"] == "published" and shown["error"] is None

        # Publishing again sends nothing new.
        again = json.loads(run(data, "publish", *map(str, ids), "--json", env=env).stdout)
        assert all(i.get("skipped") for i in again["items"])


def _currency(data: Path, env: dict[str, str]) -> str:
    currencies = json.loads(run(data, "lists", "currencies", "--json", env=env).stdout)
    codes = [c["code"] for c in currencies]
    return "GBP" if "GBP" in codes else (codes[0] if codes else "GBP")


def test_xero_publish_expired_reconnect_publish(tmp_path: Path) -> None:
    _publish_expired_then_reconnect(tmp_path, "xero", HARBOUR)


def test_quickbooks_publish_expired_reconnect_publish(tmp_path: Path) -> None:
    _publish_expired_then_reconnect(tmp_path, "quickbooks", None)


def test_kill_9_during_publish_leaves_the_ledger_valid_and_each_item_once(
    tmp_path: Path, bean_example_ledger: Path
) -> None:
    """`dext-tui publish` killed (kill -9, the whole process group) at random moments of its run: the
    ledger always passes beancount's check, no item is in it twice, every item the store calls published
    is in it, and a publish afterwards completes every item exactly once."""
    data = tmp_path / "data"
    ledger = tmp_path / "books" / "example.beancount"
    ledger.parent.mkdir()
    shutil.copy(bean_example_ledger, ledger)
    run(data, "connect", "beancount", str(ledger))
    dext_file = ledger.parent / "example.dext.beancount"

    def import_batch(n: int) -> list[int]:
        path = tmp_path / f"costs-{n}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["date", "supplier", "reference", "total", "currency", "category"])
            for i in range(400):
                day = f"2025-07-{1 + i % 28:02d}"
                writer.writerow(
                    [day, f"Shop {i % 40}", f"K-{n}-{i}", f"{3 + i % 90}.25", "USD", "Expenses:Home:Phone"]
                )
        return json.loads(run(data, "items", "import", str(path), "--json").stdout)["ids"]

    def in_ledger() -> list[str]:
        text = dext_file.read_text(encoding="utf-8") if dext_file.exists() else ""
        return re.findall(r'dext-id: "([0-9a-f]+)"', text)

    def uids(state: str | None = None) -> set[str]:
        with sqlite3.connect(data / "dext.db") as db:
            sql = "SELECT uid FROM costitem" + (" WHERE state = ?" if state else "")
            return {u for (u,) in db.execute(sql, (state,) if state else ())}

    def publish_all() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "dext_tui", "--data-dir", str(data), "publish", "--all-ready", "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    # How long a whole publish of a batch takes here, so the kills land inside one.
    ids = import_batch(0)
    started = time.monotonic()
    assert publish_all().wait(timeout=120) == 0
    whole = time.monotonic() - started

    rng = random.Random(6)
    killed = 0
    for n in range(1, 6):
        ids += import_batch(n)
        proc = publish_all()
        time.sleep(rng.uniform(0.15, 0.9) * whole)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=30)
        time.sleep(0.2)
        assert ledger_errors(ledger) == []
        written = in_ledger()
        assert len(written) == len(set(written))  # nothing twice
        assert uids("published") <= set(written)  # the store never says published for what is not there
    assert killed >= 3  # most runs were cut short

    final = json.loads(run(data, "publish", *map(str, ids), "--json").stdout)
    assert final["failed"] == 0
    written = in_ledger()
    assert len(written) == len(set(written)) == len(ids)
    assert set(written) == uids() == uids("published")
    assert ledger_errors(ledger) == []
