"""Suggesting, for each item of a former list, the item of the new list it became (Merge lists).

Every signal there is, strongest first: shared history (the same bills under both books), the same code,
the same normalised name, the initials of one being the other, a fuzzy name, and for tax codes the same
rate. Each suggestion says why and how sure it is (0..1). Pure functions over plain data: the store and
the screens call them; nothing here touches SQLite.

Fuzzy names go through an inverted index of character trigrams, so 10,000 old x 10,000 new items never
compare every pair (that would be 100 million comparisons).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

LEGAL_WORDS = frozenset(
    [
        "ltd",
        "limited",
        "plc",
        "inc",
        "incorporated",
        "llc",
        "llp",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "sa",
        "sarl",
        "bv",
        "the",
    ]
)
MAX_POSTINGS = 150  # trigrams shared by more new names than this say little and cost much
FUZZY_FLOOR = 0.55  # below this trigram similarity, no fuzzy suggestion


@dataclass(frozen=True, slots=True)
class MergeItem:
    id: int
    code: str | None
    name: str
    rate: str | None = None  # tax codes: the rate in percent, as text


@dataclass(frozen=True, slots=True)
class Suggestion:
    new_id: int
    confidence: float  # 0..1
    reason: str  # "same code", "14 shared transactions", "name 92% alike"


def normalise(name: str) -> str:
    """Case, accents, punctuation, '&' and legal words (Ltd, plc, ...) do not make two names differ."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    text = text.replace("&", " and ")
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    kept = [w for w in words if w not in LEGAL_WORDS]
    return " ".join(kept or words)


def initials(normalised: str) -> str:
    words = [w for w in normalised.split() if w not in ("and", "of", "for")]
    return "".join(w[0] for w in words) if len(words) > 1 else ""


def _trigrams(normalised: str) -> set[str]:
    words = [w for w in normalised.split() if w != "and"]  # "Jones & Son" vs "Jones Son": alike
    padded = f"  {' '.join(words)} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _keys(normalised: str, grams: set[str]) -> set[str]:
    """What the candidate index files a name under: its trigrams, and each pair of its words (rare
    together even when each word is common: 'north' and 'plumbing')."""
    words = sorted({w for w in normalised.split() if w != "and"})
    pairs = {f"{a}|{b}" for i, a in enumerate(words) for b in words[i + 1 :]}
    return grams | pairs


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 0.0


def suggest(
    old: Sequence[MergeItem],
    new: Sequence[MergeItem],
    shared: Mapping[int, Mapping[int, int]] | None = None,
) -> dict[int, Suggestion]:
    """The best new item for each old item that has one, by old id.

    `shared` maps an old id to {new id: number of transactions they share} (the same supplier's bills,
    the same dated amounts): the strongest evidence, since it holds even when no name is alike."""
    by_code: dict[str, int] = {}
    by_name: dict[str, int] = {}
    by_initials: dict[str, int] = {}
    spelled_out: dict[str, int] = {}
    by_rate: defaultdict[str, list[int]] = defaultdict(list)
    grams: list[set[str]] = []
    index: defaultdict[str, list[int]] = defaultdict(list)
    for position, item in enumerate(new):
        if item.code:
            by_code.setdefault(item.code.casefold(), item.id)
        norm = normalise(item.name)
        by_name.setdefault(norm, item.id)
        if len(norm) >= 2 and " " not in norm:  # a one-word name may be the initials of an old one
            by_initials.setdefault(norm, item.id)
        if initials(norm):  # ... or its initials may be an old one-word name
            spelled_out.setdefault(initials(norm), item.id)
        if item.rate is not None:
            by_rate[item.rate].append(item.id)
        item_grams = _trigrams(norm)
        grams.append(item_grams)
        for key in _keys(norm, item_grams):
            index[key].append(position)
    useful = {g: p for g, p in index.items() if len(p) <= MAX_POSTINGS}

    out: dict[int, Suggestion] = {}
    offered = {item.id for item in new}
    for item in old:
        norm = normalise(item.name)
        candidates: list[Suggestion] = []
        # Only new items on offer may be suggested: the books may share history with an item they have
        # archived since (a closed account), which is not one to map to.
        history = {n: count for n, count in (shared or {}).get(item.id, {}).items() if n in offered}
        if history:
            ranked = sorted(history.items(), key=lambda kv: -kv[1])
            best_id, best = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0
            share = best / (best + runner_up)
            # History outweighs any likeness of names: the same bills went to both.
            confidence = round(min(0.99, 0.7 + 0.29 * share * min(1.0, best / 2)), 3)
            plural = "s" if best != 1 else ""
            candidates.append(Suggestion(best_id, confidence, f"{best} shared transaction{plural}"))
        if item.code and item.code.casefold() in by_code:
            candidates.append(Suggestion(by_code[item.code.casefold()], 0.97, "same code"))
        if norm in by_name:
            candidates.append(Suggestion(by_name[norm], 0.95, "same name"))
        short = initials(norm)
        if short and short in by_initials:
            candidates.append(Suggestion(by_initials[short], 0.7, f"initials {short.upper()}"))
        elif " " not in norm and norm in spelled_out:
            candidates.append(Suggestion(spelled_out[norm], 0.7, f"initials {norm.upper()}"))
        if not candidates or max(c.confidence for c in candidates) < 0.9:
            fuzzy = _best_fuzzy(norm, useful, grams, new)
            if fuzzy is not None:
                candidates.append(fuzzy)
        if item.rate is not None and by_rate.get(item.rate):
            same = by_rate[item.rate]
            confidence = 0.6 if len(same) == 1 else 0.35
            candidates.append(Suggestion(same[0], confidence, f"same rate {item.rate}%"))
        if not candidates:
            continue
        best_suggestion = max(candidates, key=lambda c: c.confidence)
        # Two signals agreeing make each other surer.
        agreeing = [c for c in candidates if c.new_id == best_suggestion.new_id]
        if len(agreeing) > 1:
            confidence = 1 - (1 - best_suggestion.confidence) * (
                1 - sorted(c.confidence for c in agreeing)[-2]
            )
            reason = " and ".join(dict.fromkeys(c.reason for c in agreeing))
            best_suggestion = Suggestion(best_suggestion.new_id, round(min(confidence, 0.999), 3), reason)
        out[item.id] = best_suggestion
    return out


def _best_fuzzy(
    norm: str, index: Mapping[str, list[int]], grams: Sequence[set[str]], new: Sequence[MergeItem]
) -> Suggestion | None:
    mine = _trigrams(norm)
    postings = [index[k] for k in _keys(norm, mine) if k in index]
    if not postings:
        return None
    counts = Counter(chain.from_iterable(postings))  # shared trigrams per new item, counted in C
    best_position, best_similarity = -1, 0.0
    for position, _shared in counts.most_common(8):
        similarity = _dice(mine, grams[position])
        if similarity > best_similarity:
            best_position, best_similarity = position, similarity
    if best_similarity < FUZZY_FLOOR:
        return None
    confidence = round(0.3 + 0.55 * best_similarity, 3)
    return Suggestion(new[best_position].id, confidence, f"name {round(best_similarity * 100)}% alike")
