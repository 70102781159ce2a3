"""Generate a large, deterministic Beancount ledger for benchmarks.

Example::

    python benchmarks/make_ledger.py /tmp/big.beancount --payees 100000 --accounts 2000

Roughly half of the accounts are opened under Expenses, a quarter under Income and
the rest under Assets/Liabilities (every fourth of those is marked ``bank: TRUE``).
Every payee gets a unique name and is either a supplier (pays to an Expenses
account) or a customer (receives from an Income account).  The ledger also holds a
few ``tax-code`` and ``tracking`` custom directives, tags, closed accounts and a
small share of foreign-currency postings.

The generator does not import beancount; the output is meant to load with
``beancount.loader.load_file`` without errors.  Keep big outputs out of the repo
(write them under /tmp).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

START = dt.date(2023, 1, 1)
END = dt.date(2025, 12, 31)


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ADJECTIVES = words(
    "Northern Southern Eastern Western Royal Golden Silver Copper Iron Oak Maple Cedar Harbour River "
    "Summit Valley Meadow Coastal Highland Lowland Bright Swift Blue Green Red Amber Crystal Granite "
    "Willow Ash Elm Birch Hazel Thistle Rose Lotus Atlas Orbit Pioneer Heritage Modern Classic Urban "
    "Rural Prime Apex Vertex Nova Stellar Lunar Solar Coral Ivory Slate Flint Ember"
)
NOUNS = words(
    "Logistics Supplies Stationers Couriers Consulting Analytics Systems Software Foods Bakery Brewing "
    "Print Media Design Builders Joinery Plumbing Electrical Cleaning Catering Travel Motors Engineering "
    "Textiles Timber Paper Labs Digital Networks Telecom Energy Water Farms Dairy Pharmacy Optics "
    "Freight Marine Aviation Security Legal Accounting Insurance Finance Ventures Studios Workshop "
    "Outfitters Traders Merchants Holdings"
)
SUFFIXES = ("Ltd", "LLP", "& Co", "Group", "Partners", "plc", "Trading", "Services", "Limited", "& Sons")

EXPENSE_GROUPS = words(
    "Office Travel Staff Software Marketing Professional Premises Vehicles Utilities Insurance "
    "Equipment Postage Training Meals Subscriptions Finance Repairs CostOfSales Freight Licences"
)
INCOME_GROUPS = words("Sales Services Consulting Licensing Rental Commission Other Interest Grants Royalties")
LEAVES = words(
    "General Supplies Fees Hardware Services Materials Maintenance Rent Rates Fuel Parking Hotels Rail "
    "Air Meals Phones Internet Hosting Licences Printing Postage Couriers Cleaning Security Advertising "
    "Events Sponsorship Wages Pensions Bonuses Recruitment Uniforms Tools Spares Freight Duties Storage"
)
ASSET_KINDS = (
    ("Assets:Bank", "Bank account"),
    ("Assets:Receivable", "Receivables"),
    ("Assets:Cash", "Cash float"),
    ("Liabilities:CreditCard", "Credit card"),
    ("Liabilities:Loans", "Loan"),
)
TAX_CODES = (
    ("S20", "Standard rate 20%", "20.00"),
    ("R5", "Reduced rate 5%", "5.00"),
    ("Z0", "Zero rated", "0.00"),
    ("EX", "Exempt", "0.00"),
    ("NV", "No VAT", "0.00"),
    ("RC", "Reverse charge", "20.00"),
)
TRACKING = (
    ("project-alpha", "Project Alpha"),
    ("project-beta", "Project Beta"),
    ("project-gamma", "Project Gamma"),
    ("region-north", "Northern region"),
    ("region-south", "Southern region"),
    ("event-2024", "Trade show 2024"),
)
FOREIGN = (("EUR", 0.85), ("USD", 0.79))


def money(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, frac = divmod(abs(pence), 100)
    return f"{sign}{whole}.{frac:02d}"


def make_accounts(count: int) -> tuple[list[str], list[str], list[tuple[str, bool]], dict[str, str]]:
    """Return (expenses, income, balance-sheet [(account, bank?)], display names)."""
    n_exp = max(1, count // 2)
    n_inc = max(1, count // 4)
    n_bs = max(1, count - n_exp - n_inc)
    names: dict[str, str] = {}

    def build(root: str, groups: list[str], n: int) -> list[str]:
        out = []
        for i in range(n):
            group = groups[i % len(groups)]
            leaf = LEAVES[(i // len(groups)) % len(LEAVES)]
            account = f"{root}:{group}:{leaf}-{i:05d}"
            names[account] = f"{leaf} ({group.lower()}) {i}"
            out.append(account)
        return out

    expenses = build("Expenses", EXPENSE_GROUPS, n_exp)
    income = build("Income", INCOME_GROUPS, n_inc)
    balance: list[tuple[str, bool]] = []
    for i in range(n_bs):
        root, label = ASSET_KINDS[i % len(ASSET_KINDS)]
        account = f"{root}:Acct-{i:05d}"
        bank = i == 0 or (root in ("Assets:Bank", "Liabilities:CreditCard") and i % 4 < 2)
        names[account] = f"{label} {i}"
        balance.append((account, bank))
    return expenses, income, balance, names


def payee_name(i: int) -> str:
    adj = ADJECTIVES[i % len(ADJECTIVES)]
    noun = NOUNS[(i // len(ADJECTIVES)) % len(NOUNS)]
    suffix = SUFFIXES[(i * 7) % len(SUFFIXES)]
    return f"{adj} {noun} {suffix} {i:06d}"


def generate(out, payees: int, accounts: int, transactions: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    rand = rng.random
    randint = rng.randint
    expenses, income, balance, names = make_accounts(accounts)
    w = out.write

    w(f'option "title" "Benchmark ledger ({payees} payees, {accounts} accounts, seed {seed})"\n')
    w('option "operating_currency" "GBP"\n\n')
    for cur, label in (("GBP", "British pound"), ("EUR", "Euro"), ("USD", "US dollar")):
        w(f'{START} commodity {cur}\n  name: "{label}"\n\n')
    w(f"{START} open Equity:Opening-Balances\n\n")
    w(f'{START} open Liabilities:VAT\n  name: "VAT control"\n\n')
    for account, bank in balance:
        w(f"{START} open {account}\n")
        if bank:
            w("  bank: TRUE\n")
        w(f'  name: "{names[account]}"\n\n')
    for account in expenses + income:
        w(f'{START} open {account}\n  name: "{names[account]}"\n\n')
    for code, label, rate in TAX_CODES:
        w(f'{START} custom "tax-code" "{code}" "{label}" {rate}\n')
    w(f'{dt.date(2024, 6, 1)} custom "tax-code" "R5" "Reduced rate (5%)" 5.00\n')
    w(f'{dt.date(2024, 6, 1)} custom "tax-code" "FRS" "Flat rate scheme" 16.50\n  archived: TRUE\n\n')
    for tag, label in TRACKING:
        w(f'{START} custom "tracking" "{tag}" "{label}"\n')
    w("\n")

    # About 1% of the income/expense accounts are closed (archived) at the end and never posted to.
    closed = set(rng.sample(expenses, len(expenses) // 100) + rng.sample(income, len(income) // 100))
    live_exp = [a for a in expenses if a not in closed]
    live_inc = [a for a in income if a not in closed]
    banks = [a for a, bank in balance if bank]
    others = [a for a, bank in balance if not bank] or banks
    tags = [t for t, _ in TRACKING]
    n_exp, n_inc, n_banks, n_others, n_tags = len(live_exp), len(live_inc), len(banks), len(others), len(tags)

    span = (END - START).days + 1
    ordinal0 = START.toordinal()
    date_cache: dict[int, str] = {}
    counts = {"suppliers": 0, "customers": 0, "foreign": 0}
    buf: list[str] = []
    append = buf.append

    w(f'{START} * "Opening balances"\n')
    for account in banks:
        w(f"  {account}  250000.00 GBP\n")
    w("  Equity:Opening-Balances\n\n")

    for j in range(transactions):
        p = j if j < payees else randint(0, payees - 1)
        day = j * span // transactions
        date = date_cache.get(day)
        if date is None:
            date = date_cache[day] = dt.date.fromordinal(ordinal0 + day).isoformat()
        r = rand()
        tag = f" #{tags[randint(0, n_tags - 1)]}" if r < 0.05 else ""
        bank = banks[randint(0, n_banks - 1)] if r < 0.9 else others[randint(0, n_others - 1)]
        amount = randint(100, 500000)
        customer = p % 3 == 2  # one payee in three is a customer
        if customer:
            account = live_inc[randint(0, n_inc - 1)]
            narration = f"Invoice INV-{j:07d}"
            amount = -amount
        else:
            account = live_exp[randint(0, n_exp - 1)]
            narration = f"Bill {j:07d}"
        append(f'{date} * "{payee_name(p)}" "{narration}"{tag}\n')
        if r > 0.98:
            cur, rate = FOREIGN[j & 1]
            gbp = abs(round(amount * rate))
            append(f"  {account}  {money(amount)} {cur} @@ {money(gbp)} GBP\n  {bank}\n\n")
            counts["foreign"] += 1
        elif r > 0.6 and not customer:
            net = amount * 5 // 6
            append(
                f'  {account}  {money(net)} GBP\n    tax_code: "S20"\n'
                f"  Liabilities:VAT  {money(amount - net)} GBP\n  {bank}\n\n"
            )
        else:
            append(f"  {account}  {money(amount)} GBP\n  {bank}\n\n")
        if len(buf) >= 4096:
            w("".join(buf))
            buf.clear()
    w("".join(buf))
    w("\n")
    for account in sorted(closed):
        w(f"{END} close {account}\n")

    counts["suppliers"] = sum(1 for i in range(min(payees, transactions)) if i % 3 != 2)
    counts["customers"] = min(payees, transactions) - counts["suppliers"]
    counts.update(
        expenses=len(expenses),
        income=len(income),
        balance_sheet=len(balance),
        banks=len(banks),
        closed=len(closed),
        transactions=transactions,
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate a large deterministic Beancount ledger for benchmarks.",
        epilog="Example: python benchmarks/make_ledger.py /tmp/big.beancount --payees 100000 --accounts 2000",
    )
    parser.add_argument("output", type=Path, help="output .beancount file (use /tmp, not the repo)")
    parser.add_argument("--payees", type=int, default=100_000, help="distinct payees (default: %(default)s)")
    parser.add_argument("--accounts", type=int, default=2_000, help="accounts to open (default: %(default)s)")
    parser.add_argument(
        "--transactions",
        type=int,
        default=None,
        help="transactions to write (default: same as --payees, so each payee appears once)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.payees < 1 or args.accounts < 4:
        parser.error("need --payees >= 1 and --accounts >= 4")
    transactions = args.payees if args.transactions is None else args.transactions
    if transactions < 1:
        parser.error("--transactions must be >= 1")

    started = time.perf_counter()
    with open(args.output, "w", encoding="utf-8", buffering=1 << 20) as out:
        counts = generate(out, args.payees, args.accounts, transactions, args.seed)
    elapsed = time.perf_counter() - started
    size = args.output.stat().st_size
    summary = ", ".join(f"{k}={v}" for k, v in counts.items())
    print(f"wrote {args.output} ({size / 1e6:.1f} MB) in {elapsed:.2f}s: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
