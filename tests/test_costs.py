"""The costs inbox with a real store and a real ledger: CSV import (bad rows by line, nothing imported),
rules filling items and saying why, editing, the pre-flight check, and merges re-pointing costs."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from dext_tui.core.costs import CostDraft, CostState, LineDraft
from dext_tui.core.domain import AutoPublish, Kind, RuleScope, RuleSpec
from dext_tui.core.errors import DextError, InvalidData, NotConnected
from dext_tui.core.publishing import ErrorClass
from dext_tui.core.service import DextService

HEADER = "date,supplier,reference,total,currency,category,tax_code,bank_account,description,paid\n"


async def connected(service: DextService, ledger: Path, name: str = "Acme"):
    ws = service.ensure_workspace(name)
    await service.connect(ws, "beancount", str(ledger))
    return ws


def write_csv(tmp_path: Path, text: str, name: str = "costs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def item(service: DextService, ws, kind: Kind, text: str) -> int:
    return service.find_item(ws, kind, text).id


async def a_travel_cost(service: DextService, ledger: Path):
    """A connected workspace and one cost ready to publish: Rail Co, 9.00 GBP, Travel."""
    ws = await connected(service, ledger)
    rail = item(service, ws, Kind.SUPPLIERS, "Rail Co")
    travel = item(service, ws, Kind.CATEGORIES, "Travel")
    draft = CostDraft(
        date=date(2024, 3, 1), supplier_id=rail, total=Decimal("9"), currency="GBP", category_id=travel
    )
    return ws, service.costs.add(ws, draft)


async def test_import_fills_items_from_rules_and_says_why(
    service, small_ledger: Path, tmp_path: Path
) -> None:
    ws = await connected(service, small_ledger)
    landlord = item(service, ws, Kind.SUPPLIERS, "Landlord Ltd")
    card = item(service, ws, Kind.BANK_ACCOUNTS, "Liabilities:CreditCard")
    service.add_rule(
        ws,
        RuleSpec(
            RuleScope.SUPPLIER,
            landlord,
            category_id=item(service, ws, Kind.CATEGORIES, "Office rent"),
            tax_code_id=item(service, ws, Kind.TAX_CODES, "S20"),
            bank_account_id=item(service, ws, Kind.BANK_ACCOUNTS, "Current account"),
            description="Monthly rent",
        ),
    )
    service.add_rule(
        ws,
        RuleSpec(
            RuleScope.PAYMENT_METHOD,
            card,
            category_id=item(service, ws, Kind.CATEGORIES, "Travel"),
            tracking_id=item(service, ws, Kind.TRACKING, "project-x"),
            auto_publish=AutoPublish.ALWAYS,
        ),
    )
    path = write_csv(
        tmp_path,
        HEADER
        + "2024-02-01,Landlord Ltd,R-1,1200.00,GBP,,,,,\n"
        + "2024-02-02,Landlord Ltd,R-2,1200.00,gbp,,Z0,Liabilities:CreditCard,,yes\n"
        + "2024-02-03,New Shop,S-9,12.50,GBP,Expenses:Travel,,,Pens,no\n",
    )

    report = service.costs.import_csv(ws, path)

    assert (report.added, report.already) == (3, 0)
    first, second, third = (service.costs.detail(ws, i) for i in report.ids)
    # The supplier's rule fills what the row leaves empty, and each field says so.
    assert first.category and first.category.name == "Office rent"
    assert first.tax_code and first.tax_code.code == "S20"
    assert first.bank_account and first.bank_account.name == "Current account"
    assert first.description == "Monthly rent"
    assert first.why["category"] == "Supplier rule for Landlord Ltd (rule 1)"
    assert first.why["total"] == "from costs.csv, line 2"
    # The payment method's rule wins over the supplier's; the row's own tax code wins over both.
    assert second.category and second.category.name == "Travel"
    assert second.why["category"] == "Payment method rule for CreditCard (rule 2)"
    assert second.tracking and second.tracking.code == "project-x"
    assert second.tax_code and second.tax_code.code == "Z0"
    assert second.why["tax_code"] == "from costs.csv, line 3"
    assert second.description == "Monthly rent"  # the card's rule says nothing of it: the supplier's does
    assert (second.currency, second.paid) == ("GBP", True)
    assert report.auto_publish == [second.id]
    # A supplier the lists do not have yet is kept by name.
    assert (third.supplier, third.supplier_name, third.supplier_label) == (None, "New Shop", "New Shop")
    assert third.total == Decimal("12.50")
    assert [r.state for r in service.costs.rows(ws)] == [CostState.READY] * 3

    # The same file again adds nothing.
    again = service.costs.import_csv(ws, path)
    assert (again.added, again.already) == (0, 3)


async def test_a_file_with_bad_rows_names_each_and_imports_nothing(
    service, small_ledger: Path, tmp_path: Path
) -> None:
    ws = await connected(service, small_ledger)
    path = write_csv(
        tmp_path,
        HEADER
        + "2024-02-01,Landlord Ltd,R-1,1200.00,GBP,,,,,\n"
        + "01/02/2024,Landlord Ltd,R-2,10,GBP,,,,,\n"
        + "2024-02-03,Rail Co,R-3,ten,GBP,,,,,\n"
        + "2024-02-04,Rail Co,R-4,10,GBP,Expenses:Nowhere,,,,\n"
        + "2024-02-05,Rail Co,R-5,-4,GBP,,,,,maybe\n",
    )
    with pytest.raises(InvalidData) as caught:
        service.costs.import_csv(ws, path)
    text = str(caught.value)
    assert "4 bad rows, nothing imported" in text
    assert "line 3: date '01/02/2024' must be YYYY-MM-DD" in text
    assert "line 4: total 'ten' is not a number" in text
    assert "line 5: no categorie 'Expenses:Nowhere'" not in text  # the list's own word
    assert "line 5: no category 'Expenses:Nowhere' in the current lists" in text
    assert "line 6: paid 'maybe' must be yes or no" in text
    assert service.costs.rows(ws) == []

    missing = write_csv(tmp_path, "date,supplier,total\n2024-01-01,x,1\n", "short.csv")
    with pytest.raises(InvalidData, match=r"missing: reference, currency"):
        service.costs.import_csv(ws, missing)


async def test_edits_are_yours_and_rules_fill_again_what_you_clear(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    rail = item(service, ws, Kind.SUPPLIERS, "Rail Co")
    travel = item(service, ws, Kind.CATEGORIES, "Travel")
    rent = item(service, ws, Kind.CATEGORIES, "Office rent")
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail, category_id=travel))
    added = service.costs.add(
        ws, CostDraft(date=date(2024, 3, 1), supplier_id=rail, total=Decimal("20"), currency="GBP")
    )
    assert added.category and added.category.id == travel
    assert added.why["category"] == f"Supplier rule for Rail Co (rule {rule.id})"
    assert added.why["date"] == "set by you"

    changed = service.costs.update(
        ws, added.id, added.draft().__class__(**{**_fields(added), "category_id": rent})
    )
    assert changed.category and changed.category.id == rent
    assert changed.why["category"] == "set by you"

    cleared = service.costs.update(
        ws, added.id, added.draft().__class__(**{**_fields(added), "category_id": None})
    )
    assert cleared.category and cleared.category.id == travel  # the rule fills it again

    service.remove_rule(ws, rule.id)
    kept = service.costs.detail(ws, added.id)
    assert kept.why["category"].endswith("(rule 1), since removed")
    assert service.costs.apply_rules(ws, [added.id]) == 1
    assert service.costs.detail(ws, added.id).category is None


def _fields(detail) -> dict:
    draft = detail.draft()
    return {name: getattr(draft, name) for name in draft.__slots__}


async def test_bad_drafts_and_wrong_items_are_refused(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    rail = item(service, ws, Kind.SUPPLIERS, "Rail Co")
    with pytest.raises(DextError, match="the total must be more than zero"):
        service.costs.add(ws, CostDraft(supplier_id=rail, total=Decimal("-1")))
    with pytest.raises(DextError, match=r"the category must be one of the categories \(item"):
        service.costs.add(ws, CostDraft(supplier_id=rail, category_id=rail))
    old = item(service, ws, Kind.CATEGORIES, "Old")
    with pytest.raises(DextError, match="is archived or from a former list"):
        service.costs.add(ws, CostDraft(supplier_id=rail, category_id=old))
    with pytest.raises(DextError, match="the lines add up to 5, the total is 6"):
        service.costs.add(
            ws,
            CostDraft(
                supplier_id=rail, total=Decimal("6"), lines=(LineDraft(Decimal("2")), LineDraft(Decimal("3")))
            ),
        )
    assert service.costs.rows(ws) == []


async def test_preflight_finds_what_would_fail_without_calling_the_software(
    service, small_ledger: Path, data_dir: Path
) -> None:
    ws = await connected(service, small_ledger)
    rail = item(service, ws, Kind.SUPPLIERS, "Rail Co")
    travel = item(service, ws, Kind.CATEGORIES, "Travel")
    s20 = item(service, ws, Kind.TAX_CODES, "S20")
    ok = service.costs.add(
        ws,
        CostDraft(
            date=date(2024, 3, 1),
            supplier_id=rail,
            total=Decimal("20"),
            currency="GBP",
            category_id=travel,
            tax_code_id=s20,
        ),
    )
    bare = service.costs.add(ws, CostDraft(supplier_id=rail, paid=True))
    euro = service.costs.add(
        ws,
        CostDraft(
            date=date(2024, 3, 1), supplier_id=rail, total=Decimal("5"), currency="EUR", category_id=travel
        ),
    )
    early = service.costs.add(
        ws,
        CostDraft(
            date=date(2023, 3, 1), supplier_id=rail, total=Decimal("5"), currency="GBP", category_id=travel
        ),
    )
    # The books' lock date and a sales-only tax code, as a refresh of cloud books stores them.
    db = sqlite3.connect(data_dir / "dext.db")
    with db:
        db.execute("UPDATE connection SET lock_date = '2023-12-31'")
        db.execute(
            "UPDATE listitem SET data = json_set(data, '$.purchases', json('false')) WHERE id = ?", (s20,)
        )
    db.close()

    found = service.costs.preflight(ws, [ok.id, bare.id, euro.id, early.id])

    assert [(p.error_class, p.message) for p in found[ok.id]] == [
        (ErrorClass.TAX_MISMATCH, "the tax code 'Standard 20%' cannot be used on purchases")
    ]
    assert {p.message for p in found[bare.id]} == {
        "no date",
        "no total",
        "no currency",
        "no category",
        "no payment method (it is marked paid: where did the money come from?)",
    }
    assert [p.error_class for p in found[euro.id]] == [ErrorClass.CURRENCY]
    assert found[euro.id][0].message == "the category 'Expenses:Travel' takes GBP only"  # open ... GBP
    assert [p.message for p in found[early.id]] == ["dated 2023-03-01, on or before the lock date 2023-12-31"]


async def test_preflight_without_a_connection_says_so(service) -> None:
    ws = service.ensure_workspace("Solo")
    added = service.costs.add(ws, CostDraft(supplier_name="Shop", total=Decimal("3")))
    with pytest.raises(NotConnected, match="no connection to publish to"):
        service.costs.preflight(ws, [added.id])


async def test_a_list_item_used_by_a_cost_cannot_be_deleted(service) -> None:
    ws = service.ensure_workspace("Own")
    category = service.find_item(ws, Kind.CATEGORIES, "400")
    added = service.costs.add(
        ws, CostDraft(supplier_name="Shop", total=Decimal("3"), category_id=category.id)
    )
    with pytest.raises(DextError, match="is used by 1 cost item; hide it instead"):
        service.delete_item(ws, category.id)
    service.costs.delete(ws, [added.id])
    service.delete_item(ws, category.id)
    assert service.costs.rows(ws) == []


OTHER_BOOKS = """
    option "title" "Other Books Ltd"
    option "operating_currency" "GBP"

    2024-01-01 open Assets:Bank:Main GBP
      bank: TRUE
    2024-01-01 open Expenses:Trains GBP
    2024-01-01 open Equity:Opening GBP

    2024-02-01 * "Rail Company" "Tickets"
      Expenses:Trains   90.00 GBP
      Assets:Bank:Main
"""


async def test_change_connection_then_merge_repoints_costs_not_yet_published(
    service, small_ledger: Path, write_ledger
) -> None:
    ws, cost = await a_travel_cost(service, small_ledger)
    rail, travel = cost.supplier.id, cost.category.id
    await service.change_connection(ws, "beancount", str(write_ledger(OTHER_BOOKS, "other.beancount")))

    # Before merging, the item points at former items: the pre-flight check says so.
    found = service.costs.preflight(ws, [cost.id])[cost.id]
    assert {p.error_class for p in found} == {ErrorClass.ARCHIVED}
    assert (
        "the category 'Expenses:Travel · Travel' is from the former lists; merge lists or pick another"
        in [p.message for p in found]
    )

    trains = item(service, ws, Kind.CATEGORIES, "Expenses:Trains")
    company = item(service, ws, Kind.SUPPLIERS, "Rail Company")
    service.merge_apply(ws, {Kind.CATEGORIES: {travel: trains}, Kind.SUPPLIERS: {rail: company}})

    moved = service.costs.detail(ws, cost.id)
    assert moved.category and moved.category.id == trains
    assert moved.supplier and moved.supplier.id == company
    assert service.costs.preflight(ws, [cost.id]) == {}


async def test_changing_the_supplier_refills_what_its_old_rule_filled(service, small_ledger: Path) -> None:
    ws = await connected(service, small_ledger)
    rail, landlord = (
        item(service, ws, Kind.SUPPLIERS, "Rail Co"),
        item(service, ws, Kind.SUPPLIERS, "Landlord Ltd"),
    )
    travel, rent = (
        item(service, ws, Kind.CATEGORIES, "Travel"),
        item(service, ws, Kind.CATEGORIES, "Office rent"),
    )
    service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, rail, category_id=travel))
    rule = service.add_rule(ws, RuleSpec(RuleScope.SUPPLIER, landlord, category_id=rent))
    added = service.costs.add(
        ws, CostDraft(date=date(2024, 3, 1), supplier_id=rail, total=Decimal("20"), currency="GBP")
    )
    # The edit dialog hands back every value it shows, the rule's category too; only the supplier changed.
    edited = service.costs.update(ws, added.id, replace(added.draft(), supplier_id=landlord))
    assert edited.category and edited.category.id == rent
    assert edited.why["category"] == f"Supplier rule for Landlord Ltd (rule {rule.id})"
    # A value you set stays yours whatever the supplier.
    mine = service.costs.update(ws, added.id, replace(edited.draft(), category_id=travel))
    again = service.costs.update(ws, added.id, replace(mine.draft(), supplier_id=rail))
    assert again.category and again.category.id == travel and again.why["category"] == "set by you"


async def test_importing_rows_without_a_reference_twice_adds_them_once(
    service, small_ledger: Path, tmp_path: Path
) -> None:
    ws = await connected(service, small_ledger)
    path = write_csv(
        tmp_path,
        HEADER + "2024-03-01,Rail Co,,4.50,GBP,,,,Coffee,\n" + "2024-03-01,Rail Co,,4.50,GBP,,,,Coffee,\n",
    )
    first = service.costs.import_csv(ws, path)
    assert (first.added, first.already) == (2, 0)  # two coffees alike are two receipts
    again = service.costs.import_csv(ws, path)
    assert (again.added, again.already) == (0, 2)
    assert len(service.costs.rows(ws)) == 2


async def test_amounts_in_exponent_form_are_plain_and_huge_ones_refused(
    service, small_ledger: Path, tmp_path: Path
) -> None:
    ws = await connected(service, small_ledger)
    path = write_csv(tmp_path, HEADER + "2024-03-01,Rail Co,E-1,1e3,GBP,Travel,,,,\n")
    [cost_id] = service.costs.import_csv(ws, path).ids
    assert service.costs.rows(ws)[0].total == "1000"
    report = await service.costs.publish(ws, [cost_id])
    assert (report.published, report.failed) == (1, 0)
    assert "Expenses:Travel   1000 GBP" in (small_ledger.parent / "books.dext.beancount").read_text()

    huge = write_csv(tmp_path, HEADER + "2024-03-02,Rail Co,E-2,1e999999999,GBP,Travel,,,,\n", "huge.csv")
    with pytest.raises(InvalidData, match=r"line 2: an amount is too large \(at most 99,999,999,999.99\)"):
        service.costs.import_csv(ws, huge)
    with pytest.raises(DextError, match="an amount is too large"):
        service.costs.add(ws, CostDraft(supplier_name="Shop", total=Decimal("99999999999999999999")))
    assert len(service.costs.rows(ws)) == 1


async def test_a_ledger_that_cannot_be_written_fails_each_item_and_says_why(
    service, small_ledger: Path, tmp_path: Path
) -> None:
    ws = await connected(service, small_ledger)
    path = write_csv(
        tmp_path,
        HEADER + "2024-03-01,Rail Co,W-1,5,GBP,Travel,,,,\n" + "2024-03-02,Rail Co,W-2,6,GBP,Travel,,,,\n",
    )
    ids = service.costs.import_csv(ws, path).ids
    dedicated = small_ledger.parent / "books.dext.beancount"
    dedicated.write_bytes(b"; \xff\xfe not text\n")  # the file bills go to, no longer UTF-8

    report = await service.costs.publish(ws, ids)

    assert (report.published, report.failed) == (0, 2)
    for outcome in report.outcomes:
        assert outcome.error_class == ErrorClass.UNAVAILABLE
        assert outcome.message == f"Could not read {dedicated}: it is not UTF-8 text"
    # The error stays on each item (not only in a message that goes away); nothing was written.
    assert [r.state for r in service.costs.rows(ws)] == [CostState.FAILED] * 2
    assert (
        service.costs.detail(ws, ids[0]).error_message == f"Could not read {dedicated}: it is not UTF-8 text"
    )
    assert dedicated.read_bytes() == b"; \xff\xfe not text\n"


def test_publish_check_json_with_nothing_ready_has_the_check_shape(
    data_dir: Path, small_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dext_tui.cli import main

    assert main(["--data-dir", str(data_dir), "connect", "beancount", str(small_ledger)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "publish", "--all-ready", "--check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"checked": 0, "items": []}


async def test_an_unanswered_send_keeps_the_item_as_sent_until_a_publish_settles_it(
    service, small_ledger: Path, monkeypatch
) -> None:
    """A bill the software may have (it did not answer) must not be changed: a change would be sent as a
    new bill. A refusal is different: nothing reached the books, the item may be corrected."""
    from dext_tui.connectors.beancount_ledger import BeancountConnector
    from dext_tui.core.publishing import PublishOutcome

    ws, cost = await a_travel_cost(service, small_ledger)
    real_publish = BeancountConnector.publish

    def answering(error_class: ErrorClass, message: str):
        async def publish(self, bills, *, on_outcome=None):
            outcomes = [PublishOutcome.failed(b.item_id, error_class, message) for b in bills]
            for o in outcomes:
                on_outcome(o)
            return outcomes

        return publish

    monkeypatch.setattr(BeancountConnector, "publish", answering(ErrorClass.UNAVAILABLE, "no answer in 30 s"))
    report = await service.costs.publish(ws, [cost.id])
    assert report.outcomes[0].error_class == ErrorClass.UNAVAILABLE
    assert service.costs.detail(ws, cost.id).interrupted
    draft = service.costs.detail(ws, cost.id).draft()
    with pytest.raises(DextError, match="was on its way to the software when publishing stopped"):
        service.costs.update(ws, cost.id, draft)
    with pytest.raises(DextError, match="publish it again first"):
        service.costs.delete(ws, [cost.id])

    monkeypatch.setattr(BeancountConnector, "publish", answering(ErrorClass.INVALID, "refused"))
    await service.costs.publish(ws, [cost.id])
    refused = service.costs.detail(ws, cost.id)
    assert (refused.state, refused.interrupted) == (CostState.FAILED, False)
    service.costs.update(ws, cost.id, refused.draft())  # a refusal leaves it free to correct

    monkeypatch.setattr(BeancountConnector, "publish", answering(ErrorClass.UNAVAILABLE, "no answer"))
    await service.costs.publish(ws, [cost.id])
    monkeypatch.setattr(BeancountConnector, "publish", real_publish)
    done = await service.costs.publish(ws, [cost.id])
    assert done.published == 1
    settled = service.costs.detail(ws, cost.id)
    assert (settled.state, settled.interrupted, settled.error_class) == (CostState.PUBLISHED, False, None)


async def test_one_publish_never_sends_the_same_bill_twice_and_all_retries_failed_ones(
    service, small_ledger: Path, tmp_path: Path
) -> None:
    ws = await connected(service, small_ledger)
    path = write_csv(
        tmp_path,
        "date,supplier,reference,total,currency,category,,\n"  # blank header cells name no column
        "2024-03-01,Rail Co,T-1,9.00,GBP,Expenses:Travel,,\n"
        "2024-03-02,Rail Co,T-1,9.00,GBP,Expenses:Travel,,\n"  # the same bill, scanned twice (another day)
        "2024-03-03,Rail Co,T-2,4.00,GBP,,,\n",
    )
    first, second, bare = service.costs.import_csv(ws, path).ids
    report = await service.costs.publish(ws, service.costs.ready_ids(ws))
    by_id = {o.id: o for o in report.outcomes}
    assert by_id[first].ok
    assert by_id[second].error_class == ErrorClass.DUPLICATE
    assert by_id[second].message and f"item {first}, published with it" in by_id[second].message
    assert by_id[bare].error_class == ErrorClass.MISSING
    assert service.costs.ready_ids(ws) == []
    assert service.costs.ready_ids(ws, failed=True) == [second, bare]  # what `publish --all` retries
    written = "".join(p.read_text(encoding="utf-8") for p in small_ledger.parent.glob("*.dext.beancount"))
    assert written.count('reference: "T-1"') == 1


async def test_a_split_cost_is_imported_from_its_rows_and_published_as_its_lines(
    service, small_ledger: Path, tmp_path: Path
) -> None:
    ws = await connected(service, small_ledger)
    path = write_csv(
        tmp_path,
        "date,supplier,reference,total,currency,category,line_amount,line_category,line_tax_code,line_description\n"
        "2024-03-01,Rail Co,S-1,100.00,GBP,,60.00,Expenses:Travel,S20,Tickets\n"
        "2024-03-01,Rail Co,S-1,100.00,GBP,,40.00,Office rent,,Desk hire\n"
        "2024-03-02,Rail Co,S-2,10.00,GBP,Expenses:Travel,,,,\n",
    )
    split, plain = service.costs.import_csv(ws, path).ids
    detail = service.costs.detail(ws, split)
    assert [
        (ln.amount, ln.category.name if ln.category else None, ln.description) for ln in detail.lines
    ] == [
        (Decimal("60.00"), "Travel", "Tickets"),
        (Decimal("40.00"), "Office rent", "Desk hire"),
    ]
    assert detail.lines[0].tax_code and detail.lines[0].tax_code.code == "S20"
    assert service.costs.detail(ws, plain).lines == ()

    report = await service.costs.publish(ws, [split, plain])
    assert report.published == 2
    written = "".join(p.read_text(encoding="utf-8") for p in small_ledger.parent.glob("*.dext.beancount"))
    assert "Expenses:Travel   60.00 GBP" in written and "Expenses:Office:Rent   40.00 GBP" in written

    bad = write_csv(
        tmp_path,
        "date,supplier,reference,total,currency,line_amount,line_category\n"
        "2024-03-05,Rail Co,S-3,100.00,GBP,60.00,Expenses:Travel\n"
        "2024-03-05,Rail Co,S-3,100.00,GBP,30.00,Expenses:Travel\n"
        "2024-03-06,Rail Co,S-4,5.00,GBP,,Expenses:Travel\n",
        "bad.csv",
    )
    with pytest.raises(InvalidData) as caught:
        service.costs.import_csv(ws, bad)
    assert "line 4: a line of a split cost needs its line_amount" in str(caught.value)
    fixed = bad.read_text(encoding="utf-8").replace(",,Expenses:Travel", ",Expenses:Travel,")
    bad.write_text(fixed.replace("S-4,5.00,GBP,Expenses:Travel,", "S-4,5.00,GBP,,"), encoding="utf-8")
    with pytest.raises(InvalidData, match=r"lines 2-3: the split lines add up to 90.00, the total is 100.00"):
        service.costs.import_csv(ws, bad)
    assert len(service.costs.rows(ws)) == 2


async def test_a_bill_in_the_books_whose_payment_was_refused_stays_as_sent(
    service, small_ledger: Path, monkeypatch
) -> None:
    """The bill was created, its payment refused: changing the item would send a second bill, so it stays
    as it was sent until a publish finishes it."""
    from dext_tui.connectors.beancount_ledger import BeancountConnector
    from dext_tui.core.publishing import PublishOutcome

    ws, cost = await a_travel_cost(service, small_ledger)

    async def payment_refused(self, bills, *, on_outcome=None):
        message = "the bill is in the books unpaid (Bill 17): the account is inactive"
        outcomes = [PublishOutcome(b.item_id, "17", ErrorClass.ARCHIVED, message) for b in bills]
        for o in outcomes:
            on_outcome(o)
        return outcomes

    monkeypatch.setattr(BeancountConnector, "publish", payment_refused)
    await service.costs.publish(ws, [cost.id])
    failed = service.costs.detail(ws, cost.id)
    assert (failed.state, failed.error_class, failed.interrupted) == (
        CostState.FAILED,
        ErrorClass.ARCHIVED,
        True,
    )
    with pytest.raises(DextError, match="publish it again first"):
        service.costs.update(ws, cost.id, failed.draft())
