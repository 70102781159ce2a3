"""Generate the bundled demo ledger ``dext_tui/data/demo.beancount``.

The ledger describes a fictional Bristol design studio, "Harbour Lane Design Ltd",
for the calendar year 2025.  Output is fully deterministic (fixed seed), so running
this script again produces a byte-identical file::

    python benchmarks/make_demo_ledger.py            # writes dext_tui/data/demo.beancount
    python benchmarks/make_demo_ledger.py OUT.beancount

Only the standard library is used; the result is meant to pass ``bean-check``.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20250101
YEAR = 2025
START = dt.date(YEAR, 1, 1)

CURRENT = "Assets:Bank:Current"
SAVINGS = "Assets:Bank:Savings"
CARD = "Liabilities:CreditCard:Barclaycard"
PETTY = "Assets:Cash:Petty"
VAT = "Liabilities:HMRC:VAT"
DIRECTOR = "Liabilities:Director-Loan"
EQUITY = "Equity:Opening-Balances"

# (account, display name, bank?)
BALANCE_SHEET = [
    (CURRENT, "Barclays business current account", True),
    (SAVINGS, "Barclays business savings", True),
    (CARD, "Barclaycard business credit card", True),
    (PETTY, "Petty cash tin", False),
    (VAT, "VAT control (HMRC)", False),
    (DIRECTOR, "Director's loan account", False),
]

INCOME = [
    ("Income:Sales:Design", "Design fees"),
    ("Income:Sales:Branding", "Branding projects"),
    ("Income:Sales:Web", "Website design & build"),
    ("Income:Sales:Retainers", "Monthly retainers"),
    ("Income:Sales:Print-Management", "Print management"),
    ("Income:Sales:Consulting", "Creative consulting"),
    ("Income:Other:Interest", "Bank interest received"),
    ("Income:Other:Reimbursed", "Rebilled expenses"),
    ("Income:Other:Grants", "Grants received"),
]

EXPENSES = [
    ("Expenses:Office:Rent", "Office rent"),
    ("Expenses:Office:Rates", "Business rates"),
    ("Expenses:Office:Electricity", "Electricity"),
    ("Expenses:Office:Water", "Water rates"),
    ("Expenses:Office:Cleaning", "Office cleaning"),
    ("Expenses:Office:Repairs", "Repairs & maintenance"),
    ("Expenses:Office:Stationery", "Printing & stationery"),
    ("Expenses:Office:Fax-Line", "Fax line rental"),
    ("Expenses:Telecom:Broadband", "Broadband"),
    ("Expenses:Telecom:Mobile", "Mobile phones"),
    ("Expenses:Software:Subscriptions", "Software subscriptions"),
    ("Expenses:Software:Accounting", "Accounting software"),
    ("Expenses:Software:Hosting", "Web hosting & domains"),
    ("Expenses:Staff:Salaries", "Salaries"),
    ("Expenses:Staff:Employer-NI", "Employer's NI"),
    ("Expenses:Staff:Pensions", "Workplace pensions"),
    ("Expenses:Staff:Training", "Staff training"),
    ("Expenses:Travel:Rail", "Rail travel"),
    ("Expenses:Travel:Air", "Air travel"),
    ("Expenses:Travel:Accommodation", "Hotels & accommodation"),
    ("Expenses:Travel:Taxis-Parking", "Taxis & parking"),
    ("Expenses:Meals:Subsistence", "Subsistence"),
    ("Expenses:Meals:Entertainment", "Client entertainment"),
    ("Expenses:Professional:Accountancy", "Accountancy fees"),
    ("Expenses:Professional:Legal", "Legal fees"),
    ("Expenses:Professional:Freelancers", "Freelancers & subcontractors"),
    ("Expenses:CostOfSales:Print", "Print production"),
    ("Expenses:CostOfSales:Stock-Imagery", "Stock imagery & fonts"),
    ("Expenses:Marketing:Advertising", "Advertising"),
    ("Expenses:Marketing:Events", "Events & exhibitions"),
    ("Expenses:Marketing:Memberships", "Memberships & subscriptions"),
    ("Expenses:Postage", "Postage & couriers"),
    ("Expenses:Insurance", "Insurance"),
    ("Expenses:Bank:Charges", "Bank charges"),
    ("Expenses:Equipment:Computers", "Computer equipment"),
    ("Expenses:Equipment:Furniture", "Furniture & fittings"),
]

# Archived (closed) accounts: account -> close date.  No postings after that date.
CLOSED = {
    "Expenses:Office:Fax-Line": dt.date(YEAR, 3, 31),
    "Income:Other:Grants": dt.date(YEAR, 6, 30),
}

# (date, code, display name, rate %, archived?)
TAX_CODES = [
    (START, "S20", "Standard rate 20%", "20.00", False),
    (START, "R5", "Reduced rate", "5.00", False),
    (START, "Z0", "Zero rated", "0.00", False),
    (START, "EX", "Exempt", "0.00", False),
    (START, "NV", "No VAT", "0.00", False),
    (START, "RC", "Reverse charge 20%", "20.00", False),
    (START, "FRS", "Flat rate scheme 16.5%", "16.50", False),
    # Later directives with the same code update the earlier one.
    (dt.date(YEAR, 2, 1), "R5", "Reduced rate 5%", "5.00", False),
    (dt.date(YEAR, 4, 1), "FRS", "Flat rate scheme 16.5%", "16.50", True),
]
VAT_RATES = {"S20": 20, "R5": 5}

TRACKING = [
    ("bramble-rebrand", "Bramble & Oak rebrand"),
    ("northwind-web", "Northwind website build"),
    ("saltmarsh-launch", "Saltmarsh Gin launch"),
    ("studio-fitout", "Studio fit-out"),
    ("open-studio", "Open Studio event"),
]

COMMODITIES = [("GBP", "British pound"), ("EUR", "Euro"), ("USD", "US dollar")]

MONTHS = [calendar.month_name[m] for m in range(13)]


def money(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, frac = divmod(abs(pence), 100)
    return f"{sign}{whole}.{frac:02d}"


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Posting:
    account: str
    pence: int | None = None  # None -> amount left for beancount to infer (GBP)
    currency: str = "GBP"
    gbp_total: int | None = None  # for foreign currency: total price in GBP pence (@@)
    tax_code: str | None = None

    @property
    def weight(self) -> int:
        assert self.pence is not None
        if self.currency == "GBP":
            return self.pence
        assert self.gbp_total is not None
        return self.gbp_total if self.pence > 0 else -self.gbp_total


@dataclass
class Txn:
    date: dt.date
    payee: str | None
    narration: str
    postings: list[Posting]
    tags: tuple[str, ...] = ()
    order: int = 0
    meta: dict[str, str] = field(default_factory=dict)

    def weights(self) -> dict[str, int]:
        out: dict[str, int] = {}
        total = 0
        for p in self.postings[:-1]:
            out[p.account] = out.get(p.account, 0) + p.weight
            total += p.weight
        last = self.postings[-1].account
        out[last] = out.get(last, 0) - total
        return out


class Ledger:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.txns: list[Txn] = []

    # -- helpers -----------------------------------------------------------
    def day(self, month: int, lo: int = 1, hi: int = 28) -> dt.date:
        return dt.date(YEAR, month, self.rng.randint(lo, hi))

    def any_day(self, first: int = 1, last: int = 12) -> dt.date:
        return self.day(self.rng.randint(first, last))

    def pence(self, lo: float, hi: float) -> int:
        return self.rng.randint(round(lo * 100), round(hi * 100))

    def add(self, txn: Txn) -> Txn:
        txn.order = len(self.txns)
        self.txns.append(txn)
        return txn

    def purchase(
        self,
        date: dt.date,
        payee: str,
        narration: str,
        account: str,
        gross: int,
        code: str,
        paid_from: str = CURRENT,
        tags: tuple[str, ...] = (),
    ) -> Txn:
        """A GBP purchase; ``gross`` includes VAT for S20/R5 codes."""
        rate = VAT_RATES.get(code)
        if rate:
            net = round(gross * 100 / (100 + rate))
            postings = [
                Posting(account, net, tax_code=code),
                Posting(VAT, gross - net),
                Posting(paid_from),
            ]
        else:
            postings = [Posting(account, gross, tax_code=code), Posting(paid_from)]
        return self.add(Txn(date, payee, narration, postings, tags))

    def fx_purchase(
        self,
        date: dt.date,
        payee: str,
        narration: str,
        account: str,
        amount: int,
        currency: str,
        gbp: int,
        paid_from: str = CARD,
        code: str = "RC",
    ) -> Txn:
        postings = [Posting(account, amount, currency, gbp, tax_code=code), Posting(paid_from)]
        return self.add(Txn(date, payee, narration, postings))

    def sale(
        self,
        date: dt.date,
        customer: str,
        narration: str,
        account: str,
        net: int,
        code: str = "S20",
        tags: tuple[str, ...] = (),
        currency: str = "GBP",
        gbp: int | None = None,
        invoice: bool = True,
    ) -> Txn:
        """Customer payment received into the current account (net + VAT)."""
        if currency != "GBP":
            postings = [Posting(account, -net, currency, gbp, tax_code=code), Posting(CURRENT)]
        else:
            rate = VAT_RATES.get(code, 0)
            vat = round(net * rate / 100)
            postings = [Posting(account, -net, tax_code=code)]
            if vat:
                postings.append(Posting(VAT, -vat))
            postings.append(Posting(CURRENT))
        txn = self.add(Txn(date, customer, narration, postings, tags))
        if invoice:
            txn.meta["invoice"] = "pending"
        return txn

    def transfer(
        self, date: dt.date, payee: str | None, narration: str, to: str, frm: str, amount: int
    ) -> Txn:
        return self.add(Txn(date, payee, narration, [Posting(to, amount), Posting(frm)]))

    # -- the year ----------------------------------------------------------
    def build(self) -> None:
        self.opening()
        self.overheads()
        self.staff()
        self.software()
        self.day_to_day()
        self.projects_costs()
        self.sales()
        self.banking()
        self.settlements()

    def opening(self) -> None:
        self.add(
            Txn(
                START,
                None,
                "Opening balances brought forward",
                [
                    Posting(CURRENT, 3842055),
                    Posting(SAVINGS, 2500000),
                    Posting(CARD, -124318),
                    Posting(PETTY, 15000),
                    Posting(VAT, -481240),
                    Posting(EQUITY),
                ],
            )
        )

    def overheads(self) -> None:
        rng = self.rng
        for q, month in enumerate((1, 4, 7, 10), start=1):
            self.purchase(
                dt.date(YEAR, month, 1),
                "Harbour Lane Properties Ltd",
                f"Rent Q{q} {YEAR} - Unit 4, Harbour Lane",
                "Expenses:Office:Rent",
                810000,
                "S20",
            )
            self.purchase(
                self.day(month, 10, 20),
                "Wessex Water",
                "Water and sewerage charges",
                "Expenses:Office:Water",
                self.pence(68, 112),
                "Z0",
            )
            self.purchase(
                self.day(month + 1, 5, 25),
                "Whitfield & Marsh Accountants",
                f"Quarterly bookkeeping review Q{q}",
                "Expenses:Professional:Accountancy",
                90000,
                "S20",
            )
        for month in range(1, 13):
            if month != 2 and month != 3:
                self.purchase(
                    dt.date(YEAR, month, 15),
                    "Bristol City Council",
                    "Business rates instalment",
                    "Expenses:Office:Rates",
                    41200,
                    "NV",
                )
            kwh = self.pence(160, 320)
            if month in (1, 2, 3, 11, 12):
                kwh += self.pence(60, 140)
            self.purchase(
                dt.date(YEAR, month, 6),
                "Octopus Energy",
                f"Electricity - {MONTHS[month]}",
                "Expenses:Office:Electricity",
                kwh,
                "R5",
            )
            self.purchase(
                dt.date(YEAR, month, 12),
                "BT Business",
                "Business fibre broadband",
                "Expenses:Telecom:Broadband",
                6480,
                "S20",
            )
            if month <= 3:
                self.purchase(
                    dt.date(YEAR, month, 12),
                    "BT Business",
                    "Fax line rental",
                    "Expenses:Office:Fax-Line",
                    1440,
                    "S20",
                )
            self.purchase(
                dt.date(YEAR, month, 18),
                "Vodafone Business",
                "Mobile contracts x3",
                "Expenses:Telecom:Mobile",
                self.pence(112, 140),
                "S20",
            )
            self.purchase(
                dt.date(YEAR, month, 28),
                "Brightwell Cleaning Services",
                "Office cleaning",
                "Expenses:Office:Cleaning",
                21600,
                "S20",
            )
            self.purchase(
                dt.date(YEAR, month, 28),
                "Barclays Bank UK PLC",
                "Account fees",
                "Expenses:Bank:Charges",
                self.pence(8.5, 24),
                "EX",
            )
        self.purchase(
            dt.date(YEAR, 1, 8),
            "Hiscox Insurance",
            "Professional indemnity and office cover 2025",
            "Expenses:Insurance",
            138400,
            "EX",
        )
        self.purchase(
            dt.date(YEAR, 3, 20),
            "Keystone Legal LLP",
            "Lease renewal review",
            "Expenses:Professional:Legal",
            144000,
            "S20",
        )
        self.purchase(
            dt.date(YEAR, 9, 9),
            "Keystone Legal LLP",
            "Client contract templates",
            "Expenses:Professional:Legal",
            78000,
            "S20",
        )
        self.purchase(
            dt.date(YEAR, 12, 15),
            "Whitfield & Marsh Accountants",
            "Year-end accounts and corporation tax",
            "Expenses:Professional:Accountancy",
            252000,
            "S20",
        )
        self.purchase(
            dt.date(YEAR, 2, 3),
            "Chartered Society of Designers",
            "Annual membership",
            "Expenses:Marketing:Memberships",
            39500,
            "EX",
            paid_from=CARD,
        )
        self.purchase(
            dt.date(YEAR, 5, 14),
            "Federation of Small Businesses",
            "Annual membership",
            "Expenses:Marketing:Memberships",
            21500,
            "EX",
            paid_from=CARD,
        )
        for _ in range(4):
            self.purchase(
                self.any_day(2, 11),
                "Screwfix",
                rng.choice(["Light fittings", "Door closer", "Shelf brackets", "Paint and fillers"]),
                "Expenses:Office:Repairs",
                self.pence(18, 140),
                "S20",
                paid_from=CARD,
            )

    def staff(self) -> None:
        for month in range(1, 13):
            last = calendar.monthrange(YEAR, month)[1]
            pay_day = dt.date(YEAR, month, min(last, 27))
            salaries = 985000 if month < 6 else 1062500  # junior designer pay rise in June
            self.add(
                Txn(
                    pay_day,
                    None,
                    f"Salaries - {MONTHS[month]}",
                    [Posting("Expenses:Staff:Salaries", salaries), Posting(CURRENT)],
                )
            )
            self.purchase(
                dt.date(YEAR, month, 19),
                "HM Revenue & Customs",
                f"Employer's NI - {MONTHS[month]}",
                "Expenses:Staff:Employer-NI",
                round(salaries * 0.118),
                "NV",
            )
            self.purchase(
                dt.date(YEAR, month, 22),
                "Nest Pensions",
                f"Employer pension contributions - {MONTHS[month]}",
                "Expenses:Staff:Pensions",
                round(salaries * 0.05),
                "NV",
            )
        self.purchase(
            dt.date(YEAR, 3, 11),
            "General Assembly",
            "UX design short course",
            "Expenses:Staff:Training",
            95000,
            "S20",
            paid_from=CARD,
        )
        self.purchase(
            dt.date(YEAR, 10, 2),
            "Chartered Society of Designers",
            "CPD workshop tickets",
            "Expenses:Staff:Training",
            18000,
            "S20",
            paid_from=CARD,
        )

    def software(self) -> None:
        rng = self.rng
        for month in range(1, 13):
            self.purchase(
                dt.date(YEAR, month, 3),
                "Adobe Systems Software Ireland Ltd",
                "Creative Cloud - 3 seats",
                "Expenses:Software:Subscriptions",
                25197,
                "S20",
                paid_from=CARD,
            )
            self.fx_purchase(
                dt.date(YEAR, month, 9),
                "Figma Inc",
                "Figma Professional - 3 editors",
                "Expenses:Software:Subscriptions",
                4500,
                "USD",
                round(4500 * rng.uniform(0.77, 0.81)),
            )
            self.fx_purchase(
                dt.date(YEAR, month, 14),
                "GitHub Inc",
                "GitHub Team",
                "Expenses:Software:Hosting",
                1200,
                "USD",
                round(1200 * rng.uniform(0.77, 0.81)),
            )
            self.fx_purchase(
                dt.date(YEAR, month, 21),
                "Dropbox International Unlimited",
                "Dropbox Business storage",
                "Expenses:Software:Subscriptions",
                3600,
                "EUR",
                round(3600 * rng.uniform(0.83, 0.87)),
            )
            self.fx_purchase(
                dt.date(YEAR, month, 24),
                "Mailchimp",
                "Mailchimp Standard plan",
                "Expenses:Marketing:Advertising",
                2000,
                "USD",
                round(2000 * rng.uniform(0.77, 0.81)),
            )
            self.purchase(
                dt.date(YEAR, month, 5),
                "Google Cloud EMEA Ltd",
                "Google Workspace - 4 users",
                "Expenses:Software:Subscriptions",
                5520,
                "S20",
                paid_from=CARD,
            )
            self.purchase(
                dt.date(YEAR, month, 16),
                "Xero (UK) Ltd",
                "Xero Standard subscription",
                "Expenses:Software:Accounting",
                3780,
                "S20",
                paid_from=CARD,
            )
            self.purchase(
                dt.date(YEAR, month, 1),
                "Krystal Hosting Ltd",
                "Client website hosting",
                "Expenses:Software:Hosting",
                3000,
                "S20",
                paid_from=CARD,
            )

    def day_to_day(self) -> None:
        rng = self.rng
        stationers = [("Ryman", 6, 85), ("Viking Direct", 35, 190)]
        for _ in range(22):
            name, lo, hi = rng.choice(stationers)
            src = PETTY if hi < 100 and rng.random() < 0.5 else CARD
            self.purchase(
                self.any_day(),
                name,
                rng.choice(
                    [
                        "Printer paper and toner",
                        "Notebooks and pens",
                        "Mounting board",
                        "Sketchbooks and markers",
                        "Envelopes and labels",
                        "Presentation folders",
                    ]
                ),
                "Expenses:Office:Stationery",
                self.pence(lo, hi),
                "S20",
                paid_from=src,
            )
        for _ in range(12):
            self.purchase(
                self.any_day(),
                "Royal Mail",
                "Postage stamps",
                "Expenses:Postage",
                self.pence(3, 38),
                "EX",
                paid_from=PETTY,
            )
        for _ in range(10):
            self.purchase(
                self.any_day(),
                "DPD UK",
                "Courier - proofs to client",
                "Expenses:Postage",
                self.pence(9, 32),
                "S20",
                paid_from=CARD,
            )
        for _ in range(14):
            self.purchase(
                self.any_day(),
                "Pret A Manger",
                rng.choice(["Team lunch", "Lunch at client workshop", "Coffees - client meeting"]),
                "Expenses:Meals:Subsistence",
                self.pence(6, 48),
                "S20",
                paid_from=rng.choice([PETTY, CARD]),
            )
        for month in (3, 6, 9, 12):
            self.purchase(
                self.day(month),
                "Hotel du Vin",
                "Client dinner",
                "Expenses:Meals:Entertainment",
                self.pence(90, 260),
                "NV",
                paid_from=CARD,
            )
        for _ in range(16):
            self.purchase(
                self.any_day(),
                "Uber",
                rng.choice(["Taxi to client meeting", "Taxi from Temple Meads", "Taxi - late studio finish"]),
                "Expenses:Travel:Taxis-Parking",
                self.pence(8, 34),
                "S20",
                paid_from=CARD,
            )
        for _ in range(8):
            self.purchase(
                self.any_day(),
                "NCP Car Parks",
                "Parking - client site visit",
                "Expenses:Travel:Taxis-Parking",
                self.pence(6, 22),
                "S20",
                paid_from=CARD,
            )
        for _ in range(12):
            self.purchase(
                self.any_day(),
                "Trainline",
                rng.choice(
                    [
                        "Bristol - London Paddington return",
                        "Bristol - Cardiff return",
                        "Bristol - Birmingham return",
                    ]
                ),
                "Expenses:Travel:Rail",
                self.pence(28, 190),
                "Z0",
                paid_from=CARD,
            )
        for month in (5, 10):
            self.purchase(
                self.day(month),
                "easyJet",
                "Flights Bristol - Edinburgh (client workshop)",
                "Expenses:Travel:Air",
                self.pence(120, 260),
                "Z0",
                paid_from=CARD,
            )
        self.purchase(
            dt.date(YEAR, 6, 4),
            "British Airways",
            "Flights London - Oslo (Fjord Outdoor)",
            "Expenses:Travel:Air",
            48640,
            "Z0",
            paid_from=CARD,
        )
        for _ in range(6):
            self.purchase(
                self.any_day(),
                "Premier Inn",
                "Hotel - overnight client visit",
                "Expenses:Travel:Accommodation",
                self.pence(72, 148),
                "S20",
                paid_from=CARD,
            )
        for _ in range(5):
            self.purchase(
                self.any_day(2, 12),
                "LinkedIn Ireland Unlimited",
                "Sponsored posts",
                "Expenses:Marketing:Advertising",
                self.pence(80, 250),
                "RC",
                paid_from=CARD,
            )
        # Petty cash expenses reimbursed via director's loan (mileage etc.)
        for month in (2, 5, 8, 11):
            self.add(
                Txn(
                    self.day(month),
                    None,
                    "Director mileage claim",
                    [
                        Posting("Expenses:Travel:Taxis-Parking", self.pence(40, 95), tax_code="NV"),
                        Posting(DIRECTOR),
                    ],
                )
            )

    def projects_costs(self) -> None:
        rng = self.rng
        # Studio fit-out in February / March
        fitout = [
            ("IKEA", "Desks and storage", "Expenses:Equipment:Furniture", 184500),
            ("IKEA", "Meeting room chairs", "Expenses:Equipment:Furniture", 62000),
            ("Screwfix", "Cable trays and sockets", "Expenses:Office:Repairs", 14850),
            ("Apple Store", "MacBook Pro 14-inch", "Expenses:Equipment:Computers", 239900),
            ("Apple Store", "Studio Display", "Expenses:Equipment:Computers", 149900),
        ]
        for payee, narration, account, gross in fitout:
            self.purchase(
                self.day(rng.choice((2, 3))),
                payee,
                narration,
                account,
                gross,
                "S20",
                paid_from=CURRENT,
                tags=("studio-fitout",),
            )
        self.purchase(
            dt.date(YEAR, 8, 19),
            "Apple Store",
            "iPad Pro for client presentations",
            "Expenses:Equipment:Computers",
            109900,
            "S20",
            paid_from=CARD,
        )
        # Freelancers and direct costs per project
        projects = [
            ("bramble-rebrand", 2, 7),
            ("northwind-web", 4, 10),
            ("saltmarsh-launch", 8, 12),
        ]
        freelancers = [
            ("Sam Okafor Illustration", "Illustration", "NV", 35000, 160000),
            ("Pixel & Type Studio Ltd", "Front-end development", "S20", 90000, 360000),
            ("Lena Moreau Photography", "Product photography", "NV", 45000, 140000),
        ]
        for tag, first, last in projects:
            for payee, what, code, lo, hi in [*rng.sample(freelancers, 2), rng.choice(freelancers)]:
                self.purchase(
                    self.any_day(first, last),
                    payee,
                    f"{what} - {tag.split('-')[0].title()}",
                    "Expenses:Professional:Freelancers",
                    rng.randint(lo, hi) // 500 * 500,
                    code,
                    tags=(tag,),
                )
            for _ in range(2):
                self.purchase(
                    self.any_day(first, last),
                    "Getty Images",
                    "Image licences",
                    "Expenses:CostOfSales:Stock-Imagery",
                    self.pence(45, 380),
                    "S20",
                    paid_from=CARD,
                    tags=(tag,),
                )
        for tag, first, last, vendor in (
            ("bramble-rebrand", 4, 6, "Moo Print Ltd"),
            ("saltmarsh-launch", 9, 12, "Printed.com"),
            ("saltmarsh-launch", 10, 12, "Moo Print Ltd"),
        ):
            self.purchase(
                self.any_day(first, last),
                vendor,
                "Printed brochures and leaflets",
                "Expenses:CostOfSales:Print",
                self.pence(240, 1400),
                "Z0",
                tags=(tag,),
            )
            self.purchase(
                self.any_day(first, last),
                vendor,
                "Business cards and swing tags",
                "Expenses:CostOfSales:Print",
                self.pence(90, 420),
                "S20",
                tags=(tag,),
            )
        for _ in range(3):
            self.purchase(
                self.any_day(4, 11),
                "Moo Print Ltd",
                "Studio business cards",
                "Expenses:Office:Stationery",
                self.pence(35, 95),
                "S20",
                paid_from=CARD,
            )
        # Open Studio event in September
        self.purchase(
            dt.date(YEAR, 9, 2),
            "Eventbrite",
            "Open Studio ticketing fees",
            "Expenses:Marketing:Events",
            4800,
            "S20",
            paid_from=CARD,
            tags=("open-studio",),
        )
        self.purchase(
            dt.date(YEAR, 9, 18),
            "Boston Tea Party",
            "Open Studio catering",
            "Expenses:Marketing:Events",
            64500,
            "S20",
            tags=("open-studio",),
        )
        self.purchase(
            dt.date(YEAR, 9, 16),
            "Printed.com",
            "Open Studio posters",
            "Expenses:Marketing:Events",
            18600,
            "S20",
            paid_from=CARD,
            tags=("open-studio",),
        )
        self.purchase(
            dt.date(YEAR, 9, 17),
            "Ryman",
            "Display boards",
            "Expenses:Marketing:Events",
            7450,
            "S20",
            paid_from=CARD,
            tags=("open-studio",),
        )

    def sales(self) -> None:
        rng = self.rng
        # Monthly retainers
        for customer, amount, first in (
            ("Kestrel Architects LLP", 225000, 1),
            ("Atlas Physio Clinics", 145000, 1),
            ("Halden Estates Ltd", 240000, 4),
        ):
            for month in range(first, 13):
                self.sale(
                    self.day(month, 1, 10),
                    customer,
                    f"{MONTHS[month]} design retainer",
                    "Income:Sales:Retainers",
                    amount,
                )
        # Project work: (customer, account, count, months, lo, hi, tag, what)
        jobs = [
            (
                "Bramble & Oak Coffee Ltd",
                "Income:Sales:Branding",
                5,
                (2, 8),
                1800,
                6500,
                "bramble-rebrand",
                [
                    "Brand discovery workshop",
                    "Identity design - stage 1",
                    "Identity design - stage 2",
                    "Packaging design",
                    "Brand guidelines",
                ],
            ),
            (
                "Northwind Brewing Co",
                "Income:Sales:Web",
                5,
                (4, 11),
                2000,
                7500,
                "northwind-web",
                [
                    "Website discovery",
                    "UX and wireframes",
                    "Visual design",
                    "Build milestone",
                    "Launch and handover",
                ],
            ),
            (
                "Saltmarsh Gin Distillery",
                "Income:Sales:Branding",
                4,
                (8, 12),
                2500,
                8000,
                "saltmarsh-launch",
                ["Label design", "Launch campaign creative", "Bottle artwork", "Campaign roll-out"],
            ),
            (
                "Saltmarsh Gin Distillery",
                "Income:Sales:Print-Management",
                2,
                (10, 12),
                1200,
                4200,
                "saltmarsh-launch",
                ["Print management - launch collateral", "Print management - POS"],
            ),
            (
                "Greyfriars Books",
                "Income:Sales:Design",
                4,
                (1, 12),
                450,
                1800,
                None,
                ["Event poster", "Catalogue layout", "Window display graphics", "Newsletter template"],
            ),
            (
                "Meridian Sailing Club",
                "Income:Sales:Design",
                3,
                (2, 9),
                600,
                2400,
                None,
                ["Regatta programme", "Membership leaflet", "Signage design"],
            ),
            (
                "Tidewater Yoga Studio",
                "Income:Sales:Web",
                2,
                (3, 7),
                1500,
                3800,
                None,
                ["Website refresh", "Booking page design"],
            ),
            (
                "Copperleaf Bakery",
                "Income:Sales:Design",
                3,
                (1, 12),
                350,
                1600,
                None,
                ["Menu design", "Seasonal signage", "Social media templates"],
            ),
            (
                "Copperleaf Bakery",
                "Income:Sales:Print-Management",
                2,
                (3, 11),
                500,
                1400,
                None,
                ["Print management - menus", "Print management - bags"],
            ),
            (
                "Halden Estates Ltd",
                "Income:Sales:Consulting",
                2,
                (5, 11),
                1200,
                3200,
                None,
                ["Brand audit", "Marketing strategy workshop"],
            ),
            (
                "Bluebell Nursery School",
                "Income:Sales:Design",
                2,
                (3, 9),
                400,
                1200,
                None,
                ["Prospectus design", "Playground signage"],
            ),
            (
                "Orbit Cycles",
                "Income:Sales:Web",
                3,
                (2, 11),
                1800,
                5200,
                None,
                ["E-commerce design", "Product page templates", "Checkout UX review"],
            ),
            (
                "Wexford & Lyle Solicitors",
                "Income:Sales:Branding",
                3,
                (5, 12),
                1500,
                4800,
                None,
                ["Brand refresh", "Stationery suite", "Office signage"],
            ),
        ]
        for customer, account, count, (first, last), lo, hi, tag, whats in jobs:
            months = sorted(rng.randint(first, last) for _ in range(count))
            for month, what in zip(months, whats, strict=True):
                net = rng.randint(lo * 8, hi * 8) // 125 * 2500  # x1.6, rounded to GBP 25
                self.sale(self.day(month), customer, what, account, net, tags=(tag,) if tag else ())
        # Overseas clients: zero rated, paid in foreign currency
        for month, usd, what in (
            (3, 420000, "Trail map illustrations"),
            (7, 630000, "Catalogue design"),
            (11, 285000, "Store signage concepts"),
        ):
            self.sale(
                self.day(month),
                "Pacific Trail Co",
                what,
                "Income:Sales:Design",
                usd,
                "Z0",
                currency="USD",
                gbp=round(usd * rng.uniform(0.76, 0.80)),
            )
        for month, eur, what in (
            (5, 525000, "Nordic brand refresh"),
            (6, 390000, "Brand workshop Oslo"),
            (9, 465000, "Packaging range"),
        ):
            self.sale(
                self.day(month),
                "Fjord Outdoor AS",
                what,
                "Income:Sales:Branding",
                eur,
                "Z0",
                currency="EUR",
                gbp=round(eur * rng.uniform(0.83, 0.87)),
            )
        # Rebilled expenses
        for month, customer, tag in (
            (6, "Northwind Brewing Co", "northwind-web"),
            (11, "Saltmarsh Gin Distillery", "saltmarsh-launch"),
        ):
            self.sale(
                self.day(month),
                customer,
                "Rebilled travel and proofs",
                "Income:Other:Reimbursed",
                self.pence(120, 480),
                tags=(tag,),
            )
        # Grant (account closed mid-year)
        self.sale(
            dt.date(YEAR, 3, 14),
            "Creative Industries Fund",
            "Digital skills grant",
            "Income:Other:Grants",
            500000,
            "NV",
            invoice=False,
        )

    def banking(self) -> None:
        for month in (4, 7, 10):
            self.transfer(dt.date(YEAR, month, 30), None, "Transfer to savings", SAVINGS, CURRENT, 500000)
        for month in range(1, 13):
            last = calendar.monthrange(YEAR, month)[1]
            interest = 6000 + month * 230
            self.add(
                Txn(
                    dt.date(YEAR, month, last),
                    None,
                    "Savings interest",
                    [Posting("Income:Other:Interest", -interest, tax_code="EX"), Posting(SAVINGS)],
                )
            )

    def settlements(self) -> None:
        """Credit-card repayments, VAT returns, petty-cash top-ups and invoice numbers."""
        self.txns.sort(key=lambda t: (t.date, t.order))
        # Invoice numbers in date order
        number = 1041
        for t in self.txns:
            if t.meta.pop("invoice", None):
                t.narration = f"Invoice HLD-{number} - {t.narration}"
                number += 1
        # Card: pay last month's charges (and the opening balance) on the 3rd of each month
        charges = {m: 0 for m in range(13)}
        for t in self.txns:
            w = t.weights().get(CARD, 0)
            charges[0 if t.date == START and t.payee is None else t.date.month] += w
        for month in range(1, 13):
            owed = -charges[month - 1]
            if owed:
                self.transfer(
                    dt.date(YEAR, month, 3), "Barclaycard", "Card statement payment", CARD, CURRENT, owed
                )
        # VAT: opening liability paid in Feb, then quarterly returns
        vat_by_quarter = {q: 0 for q in range(5)}
        for t in self.txns:
            w = t.weights().get(VAT, 0)
            if t.date == START and t.payee is None:
                vat_by_quarter[0] += w
            else:
                vat_by_quarter[(t.date.month - 1) // 3 + 1] += w
        for q, pay in (
            (0, dt.date(YEAR, 2, 7)),
            (1, dt.date(YEAR, 5, 7)),
            (2, dt.date(YEAR, 8, 7)),
            (3, dt.date(YEAR, 11, 7)),
        ):
            label = "Q4 2024" if q == 0 else f"Q{q} {YEAR}"
            amount = -vat_by_quarter[q]
            narration = f"VAT return {label}" if amount > 0 else f"VAT repayment {label}"
            self.transfer(pay, "HM Revenue & Customs", narration, VAT, CURRENT, amount)
        # Petty cash: top up from the bank whenever it would drop below GBP 20
        self.txns.sort(key=lambda t: (t.date, t.order))
        balance = 0
        topups: list[Txn] = []
        for t in self.txns:
            w = t.weights().get(PETTY, 0)
            if w < 0 and balance + w < 2000:
                topups.append(
                    Txn(
                        t.date,
                        None,
                        "Petty cash top-up",
                        [Posting(PETTY, 20000), Posting(CURRENT)],
                        order=t.order - 1,
                    )
                )
                balance += 20000
            balance += w
        for t in topups:
            self.txns.append(t)
        self.txns.sort(key=lambda t: (t.date, t.order))

    # -- output ------------------------------------------------------------
    def balances_before(self, date: dt.date, accounts: list[str]) -> dict[str, int]:
        out = {a: 0 for a in accounts}
        for t in self.txns:
            if t.date >= date:
                break
            for a, w in t.weights().items():
                if a in out:
                    out[a] += w
        return out

    def render(self) -> str:
        lines: list[str] = [
            "; Harbour Lane Design Ltd - demo ledger for dext-tui.",
            "; Fictional data from benchmarks/make_demo_ledger.py - edit the generator, not this file.",
            "",
            'option "title" "Harbour Lane Design Ltd"',
            'option "operating_currency" "GBP"',
            "",
            "; --- Currencies -------------------------------------------------------",
            "",
        ]
        for cur, name in COMMODITIES:
            lines += [f"{START} commodity {cur}", f"  name: {quote(name)}", ""]
        lines += ["; --- Balance sheet accounts --------------------------------------------", ""]
        for account, name, bank in BALANCE_SHEET:
            lines.append(f"{START} open {account} GBP")
            if bank:
                lines.append("  bank: TRUE")
            lines += [f"  name: {quote(name)}", ""]
        lines += [f"{START} open {EQUITY} GBP", ""]
        lines += ["; --- Income and expense categories -------------------------------------", ""]
        for account, name in INCOME + EXPENSES:
            lines += [f"{START} open {account}", f"  name: {quote(name)}", ""]
        lines += ["; --- Tax codes ---------------------------------------------------------", ""]
        for date, code, name, rate, archived in TAX_CODES:
            lines.append(f'{date} custom "tax-code" {quote(code)} {quote(name)} {rate}')
            if archived:
                lines.append("  archived: TRUE")
        lines += ["", "; --- Tracking categories -----------------------------------------------", ""]
        for tag, name in TRACKING:
            lines.append(f'{START} custom "tracking" {quote(tag)} {quote(name)}')
        lines += ["", "; --- Transactions ------------------------------------------------------", ""]

        checkpoints = [dt.date(YEAR, m, 1) for m in (4, 7, 10)] + [dt.date(YEAR, 12, 31)]
        banks = [a for a, _, bank in BALANCE_SHEET if bank]
        # (event date, due before transactions dated >= this, lines); balance assertions apply at the
        # start of their day, closes after the end of theirs.
        events: list[tuple[dt.date, dt.date, list[str]]] = []
        for d in checkpoints:
            text = [f"{d} balance {a} {money(p)} GBP" for a, p in self.balances_before(d, banks).items()]
            events.append((d, d, text))
        for account, d in CLOSED.items():
            events.append((d, d + dt.timedelta(days=1), [f"{d} close {account}"]))
        events.sort(key=lambda e: e[0])

        def flush(until: dt.date | None) -> None:
            while events and (until is None or events[0][1] <= until):
                lines.extend(events.pop(0)[2] + [""])

        for t in self.txns:
            flush(t.date)
            head = f"{t.date} *"
            if t.payee is not None:
                head += f" {quote(t.payee)}"
            head += f" {quote(t.narration)}"
            for tag in t.tags:
                head += f" #{tag}"
            lines.append(head)
            for p in t.postings:
                if p.pence is None:
                    lines.append(f"  {p.account}")
                    continue
                amount = f"{money(p.pence)} {p.currency}"
                if p.currency != "GBP":
                    amount += f" @@ {money(p.gbp_total or 0)} GBP"
                lines.append(f"  {p.account:<40} {amount:>14}")
                if p.tax_code:
                    lines.append(f"    tax_code: {quote(p.tax_code)}")
            lines.append("")
        flush(None)
        return "\n".join(lines).rstrip() + "\n"

    def check(self) -> None:
        """Sanity checks: bank accounts never overdrawn, closed accounts unused after closing."""
        balance = {CURRENT: 0, SAVINGS: 0, PETTY: 0}
        for t in self.txns:
            for a, w in t.weights().items():
                if a in balance:
                    balance[a] += w
                    if balance[a] < 0:
                        raise SystemExit(f"{a} overdrawn on {t.date}: {money(balance[a])}")
                if a in CLOSED and t.date > CLOSED[a]:
                    raise SystemExit(f"{a} used after closing on {t.date}")


def main(argv: list[str] | None = None) -> None:
    default = Path(__file__).resolve().parent.parent / "dext_tui" / "data" / "demo.beancount"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "output", nargs="?", type=Path, default=default, help=f"output file (default: {default})"
    )
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    ledger = Ledger(args.seed)
    ledger.build()
    ledger.check()
    text = ledger.render()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text.encode()):,} bytes, {len(ledger.txns)} transactions)")


if __name__ == "__main__":
    main()
