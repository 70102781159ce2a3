"""Shared history: which item of the former books became which item of the new ones (Merge lists).

After Change connection the business is the same; only its books changed. The same bills were paid on
the same days for the same amounts, under accounts and payees that may bear no likeness to their former
names. A transaction found in both books pairs the items it mentions, and how many transactions two items
share is the strongest evidence that they are the same thing (`core.merge.suggest` takes it as `shared`).

A connector describes its books as *history records*, plain tuples of strings so that they pickle fast
out of a loader process::

    record = (date_iso, currency, total_text, refs)
    refs   = ((kind_value, remote_id, amount_text), ...)

- `date_iso` is the transaction date (`2024-01-31`);
- `currency` and `total_text` are the sum of the transaction's positive amounts, as normalised decimal
  text (`"65"`, not `"65.00"`); a transaction in several currencies names them all, sorted and joined with
  `+`, in both fields;
- each ref is an item of a list (`Kind.value`) by the connector's remote id, with the amount the
  transaction puts on it (normalised, unsigned).

Pure functions over plain data: no beancount, no SQLite, no textual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

HistoryRef = tuple[str, str, str]  # (kind_value, remote_id, amount_text)
HistoryRecord = tuple[str, str, str, tuple[HistoryRef, ...]]  # (date_iso, currency, total_text, refs)
# {kind_value: {old remote id: {new remote id: transactions they share}}}
SharedCounts = dict[str, dict[str, dict[str, int]]]

_Key = tuple[str, str, str]


def _unique_refs(records: Iterable[HistoryRecord]) -> dict[_Key, tuple[HistoryRef, ...]]:
    """The refs of each transaction by its key (date, currency, total), for keys seen exactly once."""
    index: dict[_Key, tuple[HistoryRef, ...]] = {}
    repeated: set[_Key] = set()
    for date, currency, total, refs in records:
        key = (date, currency, total)
        if key in index:
            repeated.add(key)
        else:
            index[key] = refs
    for key in repeated:
        del index[key]
    return index


def _by_kind(refs: tuple[HistoryRef, ...]) -> dict[str, list[tuple[str, str]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for kind, remote_id, amount in refs:
        group = groups.get(kind)
        if group is None:
            groups[kind] = [(remote_id, amount)]
        else:
            group.append((remote_id, amount))
    return groups


def _once(refs: list[tuple[str, str]]) -> dict[str, str]:
    """{amount: remote id} for the amounts that only one ref of the list carries."""
    by_amount: dict[str, str] = {}
    repeated: set[str] = set()
    for remote_id, amount in refs:
        if amount in by_amount:
            repeated.add(amount)
        else:
            by_amount[amount] = remote_id
    for amount in repeated:
        del by_amount[amount]
    return by_amount


def pair_refs(
    old_refs: tuple[HistoryRef, ...], new_refs: tuple[HistoryRef, ...]
) -> list[tuple[str, str, str]]:
    """What one transaction found in both books says: (kind_value, old remote id, new remote id) pairs.

    Per list: when the transaction mentions exactly one item on each side, those two are paired (its
    supplier, its one expense account). When it mentions several (a payslip's deductions, a split bill),
    only refs whose amount is unique on both sides are paired: two lines of 12.50 cannot be told apart."""
    if not old_refs or not new_refs:
        return []
    old_groups = _by_kind(old_refs)
    new_groups = _by_kind(new_refs)
    pairs: list[tuple[str, str, str]] = []
    for kind, olds in old_groups.items():
        news = new_groups.get(kind)
        if news is None:
            continue
        if len(olds) == 1 and len(news) == 1:
            pairs.append((kind, olds[0][0], news[0][0]))
            continue
        new_by_amount = _once(news)
        if not new_by_amount:
            continue
        for amount, old_id in _once(olds).items():
            new_id = new_by_amount.get(amount)
            if new_id is not None:
                pairs.append((kind, old_id, new_id))
    return pairs


def shared_counts(old_records: Iterable[HistoryRecord], new_records: Iterable[HistoryRecord]) -> SharedCounts:
    """How many transactions each former item shares with each new item, per list.

    Transactions are matched across the two books by their key: (date, currency, total). A key that occurs
    more than once on either side is ambiguous (two 4.00 bank fees on one day, a standing order paid
    twice) and is skipped whole rather than guessed: a wrong pairing would be evidence for a wrong item,
    while a skipped one only leaves the other transactions to tell. Within a matched transaction the items
    are paired by `pair_refs`.

    Dict joins only: 100,000 x 100,000 transactions take about 0.7 s."""
    old_index = _unique_refs(old_records)
    new_index = _unique_refs(new_records)
    if len(new_index) < len(old_index):  # walk the smaller side, look up in the bigger
        matched = ((old_index.get(key), refs) for key, refs in new_index.items())
    else:
        matched = ((refs, new_index.get(key)) for key, refs in old_index.items())
    pairs: list[tuple[str, str, str]] = []
    for old_refs, new_refs in matched:
        if old_refs and new_refs:
            pairs += pair_refs(old_refs, new_refs)
    out: SharedCounts = {}
    for (kind, old_id, new_id), count in Counter(pairs).items():  # counted in C
        per_kind = out.get(kind)
        if per_kind is None:
            per_kind = out[kind] = {}
        row = per_kind.get(old_id)
        if row is None:
            per_kind[old_id] = {new_id: count}
        else:
            row[new_id] = count
    return out
