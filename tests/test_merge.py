"""Merge-list suggestions: each signal finds what a bookkeeper would, says why, and is only as sure as it
should be."""

from __future__ import annotations

from dext_tui.core.merge import MergeItem, normalise, suggest

NEW = [
    MergeItem(10, "Expenses:Home:Power", "Light, Power and Heat"),
    MergeItem(11, None, "MTA"),
    MergeItem(12, None, "ACME WIDGETS LIMITED"),
    MergeItem(13, "VAT20", "VAT on expenses 20%", "20"),
    MergeItem(14, None, "Jones and Son Plumbing"),
    MergeItem(15, "Expenses:Travel", "Travel costs"),
    MergeItem(16, "ZR", "Zero rated", "0"),
    MergeItem(17, "EX", "Exempt", "0"),
]


def test_names_that_differ_only_in_case_punctuation_and_legal_words_are_the_same() -> None:
    assert normalise("Acme Widgets Ltd.") == normalise("ACME WIDGETS LIMITED") == "acme widgets"
    assert normalise("Jones & Sons") == "jones and sons"
    assert normalise("Café Nero") == "cafe nero"
    got = suggest([MergeItem(1, None, "Acme Widgets Ltd")], NEW)[1]
    assert (got.new_id, got.reason) == (12, "same name")


def test_the_same_code_wins_over_a_different_name() -> None:
    got = suggest([MergeItem(1, "expenses:travel", "Trips")], NEW)[1]
    assert (got.new_id, got.reason) == (15, "same code")
    assert got.confidence >= 0.95


def test_initials_find_a_spelled_out_name_and_back() -> None:
    assert suggest([MergeItem(1, None, "Metro Transport Authority")], NEW)[1].new_id == 11
    spelled = [MergeItem(20, None, "Metro Transport Authority")]
    got = suggest([MergeItem(2, None, "MTA")], spelled)[2]
    assert (got.new_id, got.reason) == (20, "initials MTA")


def test_a_fuzzy_name_is_suggested_with_how_alike_it_is() -> None:
    got = suggest([MergeItem(1, None, "Jones & Sons Plumbing")], NEW)[1]
    assert got.new_id == 14 and got.reason.startswith("name ") and got.reason.endswith("% alike")
    assert 0.5 < got.confidence < 0.9  # surer than a guess, less sure than the same name


def test_nothing_alike_gets_no_suggestion() -> None:
    assert suggest([MergeItem(1, None, "Quixotic Zebra Holdings")], NEW) == {}


def test_tax_codes_match_by_rate_when_unique_and_less_surely_when_not() -> None:
    got = suggest([MergeItem(1, "S", "Standard", "20")], NEW)
    assert (got[1].new_id, got[1].reason) == (13, "same rate 20%")
    unsure = suggest([MergeItem(2, "Z", "Nil", "0")], NEW)[2]
    assert unsure.confidence < got[1].confidence


def test_shared_history_beats_names_and_says_how_much_was_shared() -> None:
    old = [MergeItem(1, "Expenses:Utilities:Electricity", "Electricity")]
    assert 1 not in suggest(old, NEW)  # no name signal at all
    got = suggest(old, NEW, shared={1: {10: 14, 15: 1}})[1]
    assert (got.new_id, got.reason) == (10, "14 shared transactions")
    assert got.confidence > 0.9
    torn = suggest(old, NEW, shared={1: {10: 3, 15: 3}})[1]
    assert torn.confidence < got.confidence  # evidence split two ways is weaker


def test_signals_that_agree_make_a_surer_suggestion() -> None:
    old = [MergeItem(1, None, "Jones & Sons Plumbing")]
    alone = suggest(old, NEW)[1]
    both = suggest(old, NEW, shared={1: {14: 1, 15: 1}})[1]  # history alone cannot tell
    assert both.new_id == alone.new_id == 14
    assert both.confidence > alone.confidence and "shared" in both.reason and "alike" in both.reason
