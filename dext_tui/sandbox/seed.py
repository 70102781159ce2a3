"""Seeded organisations: the same seed gives the same organisations, lists, ids and dates every time."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dext_tui.sandbox.options import SandboxOptions

SEED_START = datetime(2021, 1, 4, tzinfo=UTC).timestamp()  # seeded UpdatedDateUTC values fall in
SEED_END = datetime(2025, 6, 30, tzinfo=UTC).timestamp()  # this span: before any change made later

SURNAMES = (  # noqa: SIM905 - a word list reads best as text
    "Abbott Ainsley Ashworth Bainbridge Barlow Beckett Blackwood Bramley Brook Carver Chadwick "
    "Clayton Cooper Cresswell Dalton Denholm Draper Eastwood Ellison Fairbairn Farrow Fletcher "
    "Garside Gilmore Goodwin Greaves Hadley Halliday Harding Hartley Hawthorne Holloway Ingram "
    "Jarvis Kendal Kershaw Lambert Lockwood Lowther Marsden Mellor Merriman Moorcroft Naylor Oakley "
    "Ormerod Padgett Pemberton Pickering Prescott Quarmby Radcliffe Ramsden Redfern Rowntree "
    "Sandford Sheldon Shuttleworth Sowerby Stainton Sutcliffe Tattersall Thornton Threlfall Townsend "
    "Underwood Varley Wadsworth Walmsley Webster Whitaker Wilde Wolstenholme Worthington Yardley "
    "Yates"
).split()
FIRST_NAMES = (  # noqa: SIM905 - a word list reads best as text
    "Amelia Oliver Isla George Ava Harry Mia Noah Freya Jack Grace Leo Lily Oscar Ella Arthur Sophie "
    "Charlie Evie Theo Poppy Alfie Ruby Henry Florence Archie Rosie Thomas Imogen Joshua Alice "
    "William Martha James Hannah Samuel Priya Arjun Aisha Omar Zara Kwame Chloe Daniel Niamh Callum "
    "Eilidh Rhys"
).split()
TRADES = (  # noqa: SIM905 - a word list reads best as text
    "Plumbing|Joinery|Catering|Print|Logistics|Electrical|Signs|Cleaning Services|Office Supplies|"
    "Hire|Couriers|Stationers|Timber|Glass|Roofing|Scaffolding|Design|Media|Consulting|Accountants|"
    "Solicitors|Insurance Brokers|Telecom|IT Services|Software|Packaging|Paper|Coffee|Bakery|"
    "Florists|Builders Merchants|Tool Hire|Van Hire|Fuel|Security|Waste Management|Recruitment|"
    "Photography|Translation|Engineering|Fabrications|Metals|Textiles|Furniture|Lighting|"
    "Audio Visual|Events|Travel|Garage|Landscaping|Decorators|Surveyors|Architects|Marketing|"
    "Web Studio|Freight|Removals|Upholstery"
).split("|")
TOWNS = (  # noqa: SIM905 - a word list reads best as text
    "Leeds|Bradford|Halifax|Harrogate|York|Sheffield|Manchester|Salford|Bolton|Preston|Lancaster|"
    "Kendal|Carlisle|Durham|Newcastle|Sunderland|Hull|Lincoln|Nottingham|Derby|Leicester|Coventry|"
    "Birmingham|Worcester|Hereford|Gloucester|Bristol|Bath|Exeter|Plymouth|Truro|Reading|Oxford|"
    "Cambridge|Norwich|Ipswich|Brighton|Canterbury|Guildford|Southampton|Cardiff|Swansea|Glasgow|"
    "Edinburgh|Aberdeen|Belfast"
).split("|")
ADJECTIVES = (  # noqa: SIM905 - a word list reads best as text
    "Blue Red Green Golden Silver Northern Southern Old New Bright Little Great Quiet Wild"
).split()
NOUNS = (  # noqa: SIM905 - a word list reads best as text
    "Heron Fox Oak Willow Anchor Lantern Harbour Meadow Falcon Thistle Beacon Kestrel Acorn"
).split()
SUFFIXES = ("Ltd", "Ltd", "Ltd", "Limited", "& Co", "LLP", "")
WELL_KNOWN = (  # noqa: SIM905 - a word list reads best as text
    "HMRC|Amazon UK|BT Business|Royal Mail|Screwfix|Staples UK|Vodafone UK|Octopus Energy|"
    "Google Workspace|Microsoft UK|Adobe Systems|Zoom Video|Uber UK|Trainline|Costa Coffee|"
    "Tesco Stores|Shell UK|DPD UK|Travis Perkins|Companies House"
).split("|")
STREETS = "Mill Lane|High Street|Station Road|Church Street|Victoria Road|Park Avenue|King Street|Canal Wharf"
STREET_LIST = STREETS.split("|")


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seeded_ms(rng: random.Random) -> int:
    return int((SEED_START + rng.random() * (SEED_END - SEED_START)) * 1000)


class NameMaker:
    """Unique, plausible UK business and person names from a seeded generator."""

    def __init__(self, rng: random.Random, taken: set[str] | None = None) -> None:
        self.rng = rng
        self.taken: set[str] = taken if taken is not None else set()

    def _candidate(self) -> tuple[str, str, str]:
        r = self.rng
        pattern = r.randrange(10)
        suffix = r.choice(SUFFIXES)
        if pattern <= 2:
            name = f"{r.choice(SURNAMES)} {r.choice(TRADES)} {suffix}"
        elif pattern == 3:
            name = f"{r.choice(SURNAMES)} & {r.choice(SURNAMES)} {suffix}"
        elif pattern <= 5:
            name = f"{r.choice(TOWNS)} {r.choice(TRADES)} {suffix}"
        elif pattern == 6:
            name = f"{r.choice(ADJECTIVES)} {r.choice(NOUNS)} {r.choice(TRADES)}"
        else:
            first, last = r.choice(FIRST_NAMES), r.choice(SURNAMES)
            return f"{first} {last}", first, last
        return " ".join(name.split()), "", ""

    def make(self) -> tuple[str, str, str]:
        for _ in range(6):
            name, first, last = self._candidate()
            if name.lower() not in self.taken:
                self.taken.add(name.lower())
                return name, first, last
        base = name
        n = 2
        while f"{base} {n}".lower() in self.taken:
            n += 1
        name = f"{base} {n}"
        self.taken.add(name.lower())
        return name, first, last

    def reserve(self, name: str) -> bool:
        if name.lower() in self.taken:
            return False
        self.taken.add(name.lower())
        return True


# --- Xero ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class XContact:
    id: str
    n: int  # its number in the organisation: seeds its address and phone
    name: str
    first: str
    last: str
    status: str  # ACTIVE | ARCHIVED
    supplier: bool
    customer: bool
    updated_ms: int
    vat: str
    account_number: str


@dataclass(slots=True)
class XAccount:
    id: str
    code: str
    name: str
    type: str
    tax_type: str
    status: str  # ACTIVE | ARCHIVED
    updated_ms: int
    description: str = ""
    system: str = ""
    bank_number: str = ""
    currency: str = ""
    expense_claims: bool = False
    reporting_code: str = ""


@dataclass
class XeroOrg:
    tenant_id: str
    name: str
    legal_name: str
    short_code: str
    created_ms: int
    seed: int
    contacts: list[XContact]
    accounts: list[XAccount]
    tax_rates: list[dict[str, Any]]
    tracking: list[dict[str, Any]]
    currencies: list[dict[str, Any]]
    names: NameMaker
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoice_updated: dict[str, int] = field(default_factory=dict)
    idempotency: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # key -> (status, body)
    next_invoice: int = 1
    # The books' lock dates (YYYY-MM-DD, None: not set): nothing dated on or before them may be written.
    period_lock_date: str | None = None  # all users but advisers
    end_of_year_lock_date: str | None = None  # every user
    version: int = 0  # bumped by every change: invalidates sorted views
    _sorted: tuple[int, list[XContact]] | None = None
    contacts_by_id: dict[str, XContact] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.contacts_by_id = {c.id: c for c in self.contacts}

    def contacts_sorted(self) -> list[XContact]:
        """Contacts in Xero's order for lists and pages: by name."""
        if self._sorted is None or self._sorted[0] != self.version:
            self._sorted = (self.version, sorted(self.contacts, key=lambda c: (c.name.lower(), c.id)))
        return self._sorted[1]


ACCOUNT_CLASS = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "EQUITY": "EQUITY",
    "DEPRECIATN": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "OTHERINCOME": "REVENUE",
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
}

# (code, name, type, tax type, status, system account)
UK_CHART: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("090", "Business Current Account", "BANK", "NONE", "ACTIVE", ""),
    ("091", "Business Savings Account", "BANK", "NONE", "ACTIVE", ""),
    ("200", "Sales", "SALES", "OUTPUT2", "ACTIVE", ""),
    ("260", "Other Revenue", "REVENUE", "OUTPUT2", "ACTIVE", ""),
    ("270", "Interest Income", "OTHERINCOME", "NONE", "ACTIVE", ""),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT2", "ACTIVE", ""),
    ("320", "Direct Wages", "DIRECTCOSTS", "NONE", "ACTIVE", ""),
    ("325", "Direct Expenses", "DIRECTCOSTS", "INPUT2", "ACTIVE", ""),
    ("330", "Subcontractors", "DIRECTCOSTS", "INPUT2", "ACTIVE", ""),
    ("400", "Advertising & Marketing", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("401", "Audit & Accountancy fees", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("404", "Bank Charges", "OVERHEADS", "EXEMPTINPUT", "ACTIVE", ""),
    ("408", "Cleaning", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("412", "Consulting", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("416", "Depreciation", "DEPRECIATN", "NONE", "ACTIVE", ""),
    ("418", "Charitable and Political Donations", "OVERHEADS", "EXEMPTINPUT", "ACTIVE", ""),
    ("420", "Entertainment-100% business", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("424", "Entertainment - Non deductible", "OVERHEADS", "NONE", "ARCHIVED", ""),
    ("425", "Postage, Freight & Courier", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("429", "General Expenses", "EXPENSE", "INPUT2", "ACTIVE", ""),
    ("430", "Subsistence", "EXPENSE", "INPUT2", "ACTIVE", ""),
    ("433", "Insurance", "OVERHEADS", "EXEMPTINPUT", "ACTIVE", ""),
    ("437", "Interest Paid", "OVERHEADS", "EXEMPTINPUT", "ACTIVE", ""),
    ("441", "Legal Expenses", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("445", "Light, Power, Heating", "OVERHEADS", "RRINPUT", "ACTIVE", ""),
    ("449", "Motor Vehicle Expenses", "EXPENSE", "INPUT2", "ACTIVE", ""),
    ("457", "Operating Lease Payments", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("461", "Printing & Stationery", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("463", "IT Software and Consumables", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("465", "Rates", "OVERHEADS", "NONE", "ACTIVE", ""),
    ("469", "Rent", "OVERHEADS", "EXEMPTINPUT", "ACTIVE", ""),
    ("473", "Repairs & Maintenance", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("477", "Salaries", "OVERHEADS", "NONE", "ACTIVE", ""),
    ("478", "Directors' Remuneration", "OVERHEADS", "NONE", "ACTIVE", ""),
    ("479", "Employers National Insurance", "OVERHEADS", "NONE", "ACTIVE", ""),
    ("480", "Staff Training", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("482", "Pensions Costs", "OVERHEADS", "NONE", "ACTIVE", ""),
    ("485", "Subscriptions", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("486", "Fax & Pager", "OVERHEADS", "INPUT2", "ARCHIVED", ""),
    ("489", "Telephone & Internet", "OVERHEADS", "INPUT2", "ACTIVE", ""),
    ("493", "Travel - National", "EXPENSE", "INPUT2", "ACTIVE", ""),
    ("494", "Travel - International", "EXPENSE", "ZERORATEDINPUT", "ACTIVE", ""),
    ("495", "Travel (old)", "EXPENSE", "INPUT2", "ARCHIVED", ""),
    ("497", "Bank Revaluations", "OVERHEADS", "NONE", "ACTIVE", "BANKCURRENCYGAIN"),
    ("498", "Unrealised Currency Gains", "OVERHEADS", "NONE", "ACTIVE", "UNREALISEDCURRENCYGAIN"),
    ("499", "Realised Currency Gains", "OVERHEADS", "NONE", "ACTIVE", "REALISEDCURRENCYGAIN"),
    ("500", "Corporation Tax", "OVERHEADS", "NONE", "ACTIVE", ""),
    ("610", "Accounts Receivable", "CURRENT", "NONE", "ACTIVE", "DEBTORS"),
    ("620", "Prepayments", "PREPAYMENT", "NONE", "ACTIVE", ""),
    ("630", "Inventory", "INVENTORY", "NONE", "ACTIVE", ""),
    ("710", "Office Equipment", "FIXED", "INPUT2", "ACTIVE", ""),
    ("720", "Computer Equipment", "FIXED", "INPUT2", "ACTIVE", ""),
    ("800", "Accounts Payable", "CURRLIAB", "NONE", "ACTIVE", "CREDITORS"),
    ("820", "VAT", "CURRLIAB", "NONE", "ACTIVE", "GST"),
    ("825", "PAYE Payable", "CURRLIAB", "NONE", "ACTIVE", ""),
    ("840", "Historical Adjustment", "CURRLIAB", "NONE", "ACTIVE", "HISTORICAL"),
    ("860", "Rounding", "CURRLIAB", "NONE", "ACTIVE", "ROUNDING"),
    ("900", "Loan", "TERMLIAB", "NONE", "ACTIVE", ""),
    ("950", "Capital - Ordinary Shares", "EQUITY", "NONE", "ACTIVE", ""),
    ("960", "Retained Earnings", "EQUITY", "NONE", "ACTIVE", "RETAINEDEARNINGS"),
    ("970", "Owner A Funds Introduced", "EQUITY", "NONE", "ACTIVE", ""),
)
NORTHWIND_EXTRA = (
    ("092", "USD Account", "BANK", "NONE", "ACTIVE", ""),
    ("315", "Freight Inwards", "DIRECTCOSTS", "INPUT2", "ACTIVE", ""),
    ("316", "Import Duty", "DIRECTCOSTS", "NONE", "ACTIVE", ""),
    ("470", "Warehouse Rent", "OVERHEADS", "EXEMPTINPUT", "ACTIVE", ""),
    ("471", "Warehouse Rent (old lease)", "OVERHEADS", "EXEMPTINPUT", "ARCHIVED", ""),
)
EXTRA_ACCOUNT_TOPICS = (
    "Travel",
    "Subscriptions",
    "Software",
    "Materials",
    "Marketing",
    "Equipment Hire",
    "Training",
    "Professional Fees",
    "Vehicle",
    "Premises",
    "Events",
    "Samples",
    "Packaging",
    "Couriers",
)
EXTRA_ACCOUNT_DETAILS = (
    "Client Visits",
    "Design Tools",
    "Site Visits",
    "Trade Shows",
    "Online Ads",
    "Print",
    "Staff",
    "Projects",
    "Warehouse",
    "Studio",
    "North Office",
    "South Office",
    "Contractors",
    "Overseas",
)

# UK tax rates: (name, TaxType, ReportTaxType, rate, status, can apply to: assets, equity, expenses,
# liabilities, revenue)
UK_TAX_RATES: tuple[tuple[str, str, str, float, str, tuple[bool, ...]], ...] = (
    ("20% (VAT on Income)", "OUTPUT2", "OUTPUT", 20.0, "ACTIVE", (True, True, False, True, True)),
    ("20% (VAT on Expenses)", "INPUT2", "INPUT", 20.0, "ACTIVE", (True, True, True, True, False)),
    ("5% (VAT on Income)", "RROUTPUT", "OUTPUT", 5.0, "ACTIVE", (True, True, False, True, True)),
    ("5% (VAT on Expenses)", "RRINPUT", "INPUT", 5.0, "ACTIVE", (True, True, True, True, False)),
    ("Zero Rated Income", "ZERORATEDOUTPUT", "OUTPUT", 0.0, "ACTIVE", (True, True, False, True, True)),
    ("Zero Rated Expenses", "ZERORATEDINPUT", "INPUT", 0.0, "ACTIVE", (True, True, True, True, False)),
    ("Exempt Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", 0.0, "ACTIVE", (True, True, False, True, True)),
    ("Exempt Expenses", "EXEMPTINPUT", "EXEMPTINPUT", 0.0, "ACTIVE", (True, True, True, True, False)),
    ("No VAT", "NONE", "NONE", 0.0, "ACTIVE", (True, True, True, True, True)),
    ("17.5% (VAT on Expenses)", "INPUT", "INPUT", 17.5, "ARCHIVED", (True, True, True, True, False)),
    ("17.5% (VAT on Income)", "OUTPUT", "OUTPUT", 17.5, "ARCHIVED", (True, True, False, True, True)),
)

CURRENCIES = (("GBP", "British Pound"), ("EUR", "Euro"), ("USD", "United States Dollar"))

# (category, status, [(option, status)])
TRACKING = {
    0: (
        (
            "Region",
            "ACTIVE",
            (("North", "ACTIVE"), ("South", "ACTIVE"), ("London", "ACTIVE"), ("Scotland", "ARCHIVED")),
        ),
        ("Project", "ARCHIVED", (("Rebrand 2022", "ACTIVE"), ("Showroom fit-out", "ACTIVE"))),
    ),
    1: (
        (
            "Department",
            "ACTIVE",
            (("Sales", "ACTIVE"), ("Warehouse", "ACTIVE"), ("Admin", "ACTIVE"), ("Wholesale", "ARCHIVED")),
        ),
        ("Old Region", "ARCHIVED", (("East", "ACTIVE"), ("West", "ACTIVE"))),
    ),
}

XERO_ORGS = (
    ("Harbour Lane Design Ltd", "Harbour Lane Design Limited"),
    ("Northwind Trading Ltd", "Northwind Trading Limited"),
)


def _xero_contacts(rng: random.Random, names: NameMaker, count: int) -> list[XContact]:
    contacts: list[XContact] = []
    well_known = [n for n in WELL_KNOWN if names.reserve(n)]
    for n in range(count):
        if n < len(well_known) and n % 3 == 0:
            name, first, last = well_known[n], "", ""
        else:
            name, first, last = names.make()
        roll = rng.random()
        supplier = roll < 0.6 or roll > 0.92
        customer = roll >= 0.55
        if rng.random() < 0.05:
            supplier = customer = False  # contacts with no invoices yet
        status = "ARCHIVED" if rng.random() < 0.08 else "ACTIVE"
        vat = f"GB{rng.randrange(100_000_000, 999_999_999)}" if supplier and rng.random() < 0.3 else ""
        account = f"CUST-{n + 1:05d}" if customer and rng.random() < 0.4 else ""
        contacts.append(
            XContact(
                new_uuid(rng), n, name, first, last, status, supplier, customer, seeded_ms(rng), vat, account
            )
        )
    return contacts


def _xero_accounts(rng: random.Random, org_index: int, total: int) -> list[XAccount]:
    chart = list(UK_CHART) + (list(NORTHWIND_EXTRA) if org_index == 1 else [])
    chart.sort(key=lambda row: row[0])
    accounts: list[XAccount] = []
    for code, name, type_, tax, status, system in chart:
        account = XAccount(new_uuid(rng), code, name, type_, tax, status, seeded_ms(rng), system=system)
        if type_ == "BANK":
            account.bank_number = (
                f"{rng.randrange(10, 99)}{rng.randrange(1000, 9999)}{rng.randrange(10**7, 10**8)}"
            )
            account.currency = "USD" if name.startswith("USD") else "GBP"
        else:
            account.description = f"{name} ({ACCOUNT_CLASS[type_].lower()})"
            account.expense_claims = ACCOUNT_CLASS[type_] == "EXPENSE" and type_ != "DEPRECIATN"
        accounts.append(account)
    taken = {a.name.lower() for a in accounts}
    code = 5000
    while len(accounts) < total:
        name = f"{rng.choice(EXTRA_ACCOUNT_TOPICS)} - {rng.choice(EXTRA_ACCOUNT_DETAILS)}"
        if name.lower() in taken:
            name = f"{name} {code}"
        taken.add(name.lower())
        type_ = rng.choice(("OVERHEADS", "OVERHEADS", "EXPENSE", "DIRECTCOSTS"))
        status = "ARCHIVED" if rng.random() < 0.06 else "ACTIVE"
        accounts.append(
            XAccount(
                new_uuid(rng),
                str(code),
                name,
                type_,
                "INPUT2",
                status,
                seeded_ms(rng),
                description=name,
                expense_claims=True,
            )
        )
        code += 1
    return accounts


def _xero_tax_rates() -> list[dict[str, Any]]:
    rates = []
    for name, tax_type, report, rate, status, applies in UK_TAX_RATES:
        rates.append(
            {
                "Name": name,
                "TaxType": tax_type,
                "ReportTaxType": report,
                "CanApplyToAssets": applies[0],
                "CanApplyToEquity": applies[1],
                "CanApplyToExpenses": applies[2],
                "CanApplyToLiabilities": applies[3],
                "CanApplyToRevenue": applies[4],
                "DisplayTaxRate": rate,
                "EffectiveRate": rate,
                "Status": status,
                "TaxComponents": [
                    {"Name": "VAT", "Rate": rate, "IsCompound": False, "IsNonRecoverable": False}
                ],
            }
        )
    return rates


def _xero_tracking(rng: random.Random, org_index: int) -> list[dict[str, Any]]:
    categories = []
    for name, status, options in TRACKING[org_index]:
        category_id = new_uuid(rng)
        categories.append(
            {
                "TrackingCategoryID": category_id,
                "Name": name,
                "Status": status,
                "Options": [
                    {"TrackingOptionID": new_uuid(rng), "Name": option, "Status": option_status}
                    for option, option_status in options
                ],
            }
        )
    return categories


def seed_xero(options: SandboxOptions) -> list[XeroOrg]:
    orgs = []
    for index, (name, legal) in enumerate(XERO_ORGS):
        org_seed = options.seed * 1000 + index
        rng = random.Random(f"xero:{org_seed}")
        tenant_id = new_uuid(rng)
        names = NameMaker(random.Random(f"xero-names:{org_seed}"))
        accounts = _xero_accounts(rng, index, max(0, options.accounts))
        tracking = _xero_tracking(rng, index)
        contacts = _xero_contacts(rng, names, max(0, options.contacts))
        orgs.append(
            XeroOrg(
                tenant_id=tenant_id,
                name=name,
                legal_name=legal,
                short_code=f"!{''.join(rng.choice('abcdefghjkmnpqrstvwxyz23456789') for _ in range(5))}",
                created_ms=int(SEED_START * 1000) - 86400000 * (400 + index * 90),
                seed=org_seed,
                contacts=contacts,
                accounts=accounts,
                tax_rates=_xero_tax_rates(),
                tracking=tracking,
                currencies=[{"Code": code, "Description": desc} for code, desc in CURRENCIES],
                names=names,
            )
        )
    return orgs


# --- QuickBooks Online --------------------------------------------------------------------------


@dataclass
class QEntity:
    """One QuickBooks object: `data` is its JSON without Id, SyncToken, MetaData, Active and the
    (deleted) suffix, which `quickbooks.render` adds."""

    kind: str
    id: str
    data: dict[str, Any]
    active: bool
    created: float
    updated: float
    sync: int = 0
    name_field: str | None = None  # the field that takes " (deleted)" when inactive

    @property
    def id_number(self) -> int:
        return int(self.id)


@dataclass
class QboCompany:
    realm_id: str
    name: str
    legal_name: str
    created: float
    seed: int
    entities: dict[str, list[QEntity]]
    names: NameMaker
    next_id: dict[str, int] = field(default_factory=dict)
    by_id: dict[tuple[str, str], QEntity] = field(default_factory=dict)
    # Preferences (`quickbooks_bills.preferences`): AccountingInfoPrefs.BookCloseDate (YYYY-MM-DD or None),
    # CurrencyPrefs.HomeCurrency and MultiCurrencyEnabled, and Expenses' "Warn if duplicate bill number is
    # used" (on: a bill repeating a DocNumber of the same vendor is refused with fault 6140).
    book_close_date: str | None = None
    home_currency: str = "GBP"
    multicurrency: bool = False
    warn_duplicate_bill_number: bool = True
    prefs_updated: float | None = None  # when a preference last changed (MetaData.LastUpdatedTime)
    prefs_sync: int = 0  # the Preferences' SyncToken: bumped by every change
    # requestid -> (the operation, its status, its body): a repeat gets the same answer, creates nothing
    request_ids: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {(e.kind, e.id): e for items in self.entities.values() for e in items}

    def add(self, entity: QEntity) -> None:
        self.entities.setdefault(entity.kind, []).append(entity)
        self.by_id[(entity.kind, entity.id)] = entity


QBO_COMPANY = ("Kestrel Joinery Ltd", "Kestrel Joinery Limited")
GBP_REF = {"value": "GBP", "name": "British Pound Sterling"}

# (name, AccountType, AccountSubType, Classification, AcctNum, active, parent name)
QBO_ACCOUNTS: tuple[tuple[str, str, str, str, str, bool, str], ...] = (
    ("Current Account", "Bank", "Checking", "Asset", "1200", True, ""),
    ("Savings Account", "Bank", "Savings", "Asset", "1210", True, ""),
    ("Old Building Society Account", "Bank", "Savings", "Asset", "1220", False, ""),
    ("Debtors", "Accounts Receivable", "AccountsReceivable", "Asset", "1100", True, ""),
    ("Stock", "Other Current Asset", "Inventory", "Asset", "1001", True, ""),
    ("Tools and Machinery", "Fixed Asset", "MachineryAndEquipment", "Asset", "0030", True, ""),
    ("Creditors", "Accounts Payable", "AccountsPayable", "Liability", "2100", True, ""),
    ("VAT Control", "Other Current Liability", "GlobalTaxPayable", "Liability", "2202", True, ""),
    ("Business Credit Card", "Credit Card", "CreditCard", "Liability", "2300", True, ""),
    ("Share Capital", "Equity", "OwnersEquity", "Equity", "3000", True, ""),
    ("Retained Earnings", "Equity", "RetainedEarnings", "Equity", "3200", True, ""),
    ("Sales - Joinery", "Income", "SalesOfProductIncome", "Revenue", "4000", True, ""),
    ("Sales - Fitting", "Income", "ServiceFeeIncome", "Revenue", "4010", True, ""),
    ("Sales - Repairs (old)", "Income", "ServiceFeeIncome", "Revenue", "4020", False, ""),
    ("Interest Received", "Other Income", "InterestEarned", "Revenue", "4900", True, ""),
    ("Timber", "Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense", "5000", True, ""),
    ("Ironmongery", "Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense", "5010", True, ""),
    ("Subcontractors", "Cost of Goods Sold", "CostOfLabourCos", "Expense", "5100", True, ""),
    ("Advertising", "Expense", "AdvertisingPromotional", "Expense", "6100", True, ""),
    ("Bank Charges", "Expense", "BankCharges", "Expense", "7900", True, ""),
    ("Insurance", "Expense", "Insurance", "Expense", "7100", True, ""),
    ("Legal and Professional Fees", "Expense", "LegalProfessionalFees", "Expense", "7600", True, ""),
    (
        "Accountancy",
        "Expense",
        "LegalProfessionalFees",
        "Expense",
        "7601",
        True,
        "Legal and Professional Fees",
    ),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses", "Expense", "7500", True, ""),
    (
        "Stationery",
        "Expense",
        "OfficeGeneralAdministrativeExpenses",
        "Expense",
        "7501",
        True,
        "Office Expenses",
    ),
    ("Rent", "Expense", "RentOrLeaseOfBuildings", "Expense", "7000", True, ""),
    ("Repairs and Maintenance", "Expense", "RepairMaintenance", "Expense", "7800", True, ""),
    ("Telephone and Internet", "Expense", "Utilities", "Expense", "7550", True, ""),
    ("Utilities", "Expense", "Utilities", "Expense", "7200", True, ""),
    ("Motor Expenses", "Expense", "Auto", "Expense", "7300", True, ""),
    ("Fuel", "Expense", "Auto", "Expense", "7301", True, "Motor Expenses"),
    ("Travel", "Expense", "Travel", "Expense", "7400", True, ""),
    ("Meals and Entertainment", "Expense", "EntertainmentMeals", "Expense", "7410", True, ""),
    ("Subscriptions", "Expense", "DuesSubscriptions", "Expense", "7700", True, ""),
    ("Fax and Telex", "Expense", "Utilities", "Expense", "7560", False, ""),
    ("Depreciation", "Other Expense", "Depreciation", "Expense", "8000", True, ""),
)

# (name, description, rate, active, taxable)
QBO_TAX_CODES: tuple[tuple[str, str, float, bool, bool], ...] = (
    ("20.0% S", "Standard rate 20%", 20.0, True, True),
    ("5.0% R", "Reduced rate 5%", 5.0, True, True),
    ("0.0% Z", "Zero rated", 0.0, True, True),
    ("Exempt", "Exempt from VAT", 0.0, True, False),
    ("No VAT", "Outside the scope of VAT", 0.0, True, False),
    ("20.0% ECG", "EC goods standard rate", 20.0, True, True),
    ("17.5% S", "Standard rate 17.5% (before 2011)", 17.5, False, True),
)
QBO_CLASSES = (
    ("Joinery", True, ""),
    ("Fitting", True, ""),
    ("Kitchens", True, "Fitting"),
    ("Wardrobes", True, "Fitting"),
    ("Repairs", False, ""),
    ("Trade Counter", True, ""),
)
QBO_DEPARTMENTS = (("Workshop", True), ("Site", True), ("Showroom", True), ("Old Yard", False))


def _qbo_person(rng: random.Random, names: NameMaker, kind: str, n: int) -> tuple[dict[str, Any], bool]:
    name, first, last = names.make()
    town = rng.choice(TOWNS)
    data: dict[str, Any] = {
        "domain": "QBO",
        "sparse": False,
        "DisplayName": name,
        "PrintOnCheckName": name,
        "CurrencyRef": dict(GBP_REF),
        "Balance": 0,
        "BillAddr": {
            "Id": str(1000 + n),
            "Line1": f"{rng.randrange(1, 240)} {rng.choice(STREET_LIST)}",
            "City": town,
            "Country": "United Kingdom",
            "PostalCode": f"{town[:2].upper()}{rng.randrange(1, 30)} {rng.randrange(1, 9)}"
            f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
        },
    }
    if first:
        data["GivenName"] = first
        data["FamilyName"] = last
    else:
        data["CompanyName"] = name
    if rng.random() < 0.7:
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:24] or "contact"
        data["PrimaryEmailAddr"] = {"Address": f"accounts@{slug}.example"}
    if rng.random() < 0.6:
        data["PrimaryPhone"] = {"FreeFormNumber": f"0113 496 {rng.randrange(0, 1000):04d}"}
    if kind == "Vendor":
        data["Vendor1099"] = False
        if rng.random() < 0.3:
            data["AcctNum"] = f"ACC{rng.randrange(10000, 99999)}"
    else:
        data.update(
            {
                "FullyQualifiedName": name,
                "Taxable": True,
                "Job": False,
                "BillWithParent": False,
                "BalanceWithJobs": 0,
                "PreferredDeliveryMethod": "Print",
                "IsProject": False,
                "ClientEntityId": "0",
            }
        )
    active = rng.random() >= 0.08
    return data, active


def seed_quickbooks(options: SandboxOptions) -> QboCompany:
    seed = options.seed * 1000 + 500
    rng = random.Random(f"qbo:{seed}")
    realm = str(9341450000000000 + rng.randrange(10**9))
    names = NameMaker(random.Random(f"qbo-names:{seed}"))
    entities: dict[str, list[QEntity]] = {}
    counters: dict[str, int] = {}

    def add(
        kind: str, data: dict[str, Any], active: bool, name_field: str | None, *, id_base: int = 1
    ) -> QEntity:
        counters[kind] = counters.get(kind, id_base - 1) + 1
        created = SEED_START + rng.random() * (SEED_END - SEED_START) * 0.5
        updated = created + rng.random() * (SEED_END - created)
        entity = QEntity(kind, str(counters[kind]), data, active, created, updated, name_field=name_field)
        entities.setdefault(kind, []).append(entity)
        return entity

    by_name: dict[str, QEntity] = {}
    for name, atype, subtype, classification, number, active, parent in QBO_ACCOUNTS:
        data: dict[str, Any] = {
            "Name": name,
            "SubAccount": bool(parent),
            "FullyQualifiedName": f"{parent}:{name}" if parent else name,
            "Classification": classification,
            "AccountType": atype,
            "AccountSubType": subtype,
            "AcctNum": number,
            "CurrentBalance": 0,
            "CurrentBalanceWithSubAccounts": 0,
            "CurrencyRef": dict(GBP_REF),
            "domain": "QBO",
            "sparse": False,
        }
        if parent:
            data["ParentRef"] = {"value": by_name[parent].id}
        by_name[name] = add("Account", data, active, "Name")

    for name, description, rate, active, taxable in QBO_TAX_CODES:
        rate_id = str(len(entities.get("TaxRate", [])) + 1)
        for direction in ("Sales", "Purchase"):
            add(
                "TaxRate",
                {
                    "Name": f"{name} ({direction})",
                    "Description": description,
                    "RateValue": rate,
                    "AgencyRef": {"value": "1"},
                    "SpecialTaxType": "NONE",
                    "DisplayType": "ReadOnly",
                    "domain": "QBO",
                    "sparse": False,
                },
                active,
                None,
            )
        detail = {"TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}
        add(
            "TaxCode",
            {
                "Name": name,
                "Description": description,
                "Hidden": False,
                "Taxable": taxable,
                "TaxGroup": True,
                "SalesTaxRateList": {
                    "TaxRateDetail": [{"TaxRateRef": {"value": rate_id, "name": f"{name} (Sales)"}, **detail}]
                },
                "PurchaseTaxRateList": {
                    "TaxRateDetail": [
                        {
                            "TaxRateRef": {"value": str(int(rate_id) + 1), "name": f"{name} (Purchase)"},
                            **detail,
                        }
                    ]
                },
                "TaxCodeConfigType": "SYSTEM_GENERATED",
                "domain": "QBO",
                "sparse": False,
            },
            active,
            None,
        )

    class_ids: dict[str, str] = {}
    for name, active, parent in QBO_CLASSES:
        data = {
            "Name": name,
            "SubClass": bool(parent),
            "FullyQualifiedName": f"{parent}:{name}" if parent else name,
            "domain": "QBO",
            "sparse": False,
        }
        if parent:
            data["ParentRef"] = {"value": class_ids[parent]}
        entity = add("Class", data, active, "Name", id_base=5000000000000001)
        class_ids[name] = entity.id
    for name, active in QBO_DEPARTMENTS:
        add(
            "Department",
            {
                "Name": name,
                "SubDepartment": False,
                "FullyQualifiedName": name,
                "domain": "QBO",
                "sparse": False,
            },
            active,
            "Name",
        )

    # Vendors and customers share QuickBooks' name list (a name is unique across both) and its ids.
    for kind, count in (("Vendor", options.vendors), ("Customer", options.customers)):
        for n in range(max(0, count)):
            data, active = _qbo_person(rng, names, kind, n)
            counters["Name"] = counters.get("Name", 0) + 1
            created = SEED_START + rng.random() * (SEED_END - SEED_START) * 0.5
            updated = created + rng.random() * (SEED_END - created)
            entity = QEntity(
                kind, str(counters["Name"]), data, active, created, updated, name_field="DisplayName"
            )
            entities.setdefault(kind, []).append(entity)

    company = QboCompany(
        realm_id=realm,
        name=QBO_COMPANY[0],
        legal_name=QBO_COMPANY[1],
        created=SEED_START - 86400 * 500,
        seed=seed,
        entities=entities,
        names=names,
    )
    company.next_id = {k: v + 1 for k, v in counters.items()}
    return company
