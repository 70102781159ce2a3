"""Xero: identity (login.xero.com, identity.xero.com), /connections and the Accounting API (api.xero.com),
as Xero's OpenAPI documents them (shapes, paging, includeArchived, If-Modified-Since, errors)."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from dext_tui.sandbox import identity, xero_invoices, xero_payments
from dext_tui.sandbox._http import (
    Request,
    Response,
    ms,
    parse_http_time,
    retry_after,
    xero_day,
    xero_expiry_text,
    xero_ms_date,
)
from dext_tui.sandbox.seed import (
    ACCOUNT_CLASS,
    EXTRA_ACCOUNT_DETAILS,
    EXTRA_ACCOUNT_TOPICS,
    STREET_LIST,
    TOWNS,
    XAccount,
    XContact,
    XeroOrg,
)
from dext_tui.sandbox.state import XERO, Grant

if TYPE_CHECKING:
    from dext_tui.sandbox.engine import Engine

API_PREFIX = "/api.xro/2.0/"
PROVIDER_NAME = "Dext TUI Sandbox"
PROBLEM_JSON = "application/problem+json; charset=utf-8"
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
NOT_FOUND = "The resource you're looking for cannot be found"

SETTINGS = ("accounting.settings", "accounting.settings.read")
CONTACTS = ("accounting.contacts", "accounting.contacts.read")
# Invoices: the broad scope of apps registered before March 2026, or the granular one that replaces it.
INVOICES_WRITE = ("accounting.transactions", "accounting.invoices")
INVOICES_READ = (*INVOICES_WRITE, "accounting.transactions.read", "accounting.invoices.read")
# Payments: the broad scope, or the granular one (accounting.invoices does not cover them).
PAYMENTS_WRITE = ("accounting.transactions", "accounting.payments")
PAYMENTS_READ = (*PAYMENTS_WRITE, "accounting.transactions.read", "accounting.payments.read")
WRITERS = {"invoices": (INVOICES_WRITE, INVOICES_READ), "payments": (PAYMENTS_WRITE, PAYMENTS_READ)}


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    """Xero's problem JSON, as its identity layer answers 401/403/429."""
    return Response.json(
        status,
        {
            "Type": None,
            "Title": title,
            "Status": status,
            "Detail": detail,
            "Instance": str(uuid.uuid4()),
            "Extensions": {},
        },
        headers,
        content_type=PROBLEM_JSON,
    )


def not_found() -> Response:
    return Response.text(404, NOT_FOUND)


def validation_error(message: str, elements: list[dict[str, Any]] | None = None) -> Response:
    return Response.json(
        400,
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": elements if elements is not None else [{"ValidationErrors": [{"Message": message}]}],
        },
    )


def envelope(engine: Engine, key: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": f"/Date({ms(engine.now())})/",
    }
    payload.update(extra)
    payload[key] = items
    return payload


# --- hosts -------------------------------------------------------------------------------------


def login(engine: Engine, req: Request) -> Response:
    if req.path.rstrip("/").lower() == "/identity/connect/authorize":
        return identity.authorize(engine, req, XERO)
    return not_found()


def identity_host(engine: Engine, req: Request) -> Response:
    path = req.path.rstrip("/").lower()
    if path == "/connect/token":
        return identity.token(engine, req, XERO)
    if path == "/connect/revocation":
        return identity.revoke(engine, req, XERO)
    return not_found()


def api(engine: Engine, req: Request) -> Response:
    path = req.path.rstrip("/")
    lowered = path.lower()
    if lowered == "/connections":
        return connections(engine, req)
    if lowered.startswith("/connections/"):
        return delete_connection(engine, req, path.split("/", 2)[2])
    if lowered.startswith(API_PREFIX.rstrip("/").lower() + "/"):
        return accounting(engine, req, path[len(API_PREFIX) :])
    return not_found()


# --- authentication ----------------------------------------------------------------------------


def _grant(engine: Engine, req: Request) -> Grant | Response:
    token = req.bearer()
    if not token:
        return problem(401, "Unauthorized", "AuthenticationUnsuccessful")
    now = engine.now()
    with engine.lock:
        record = engine.tokens.lookup(token)
        if record is None or record.kind != "access" or record.grant.revoked or record.grant.provider != XERO:
            return problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        if record.expires_at <= now:
            return problem(
                401, "Unauthorized", f"TokenExpired: token expired at {xero_expiry_text(record.expires_at)}"
            )
        return record.grant


def _tenant(engine: Engine, req: Request, grant: Grant, scopes: tuple[str, ...]) -> XeroOrg | Response:
    tenant = (req.header("xero-tenant-id") or "").lower()
    with engine.lock:
        org = engine.org_by_id.get(tenant)
        if org is None or (grant.client_id, tenant) not in engine.xero_connections:
            return problem(403, "Forbidden", "AuthenticationUnsuccessful")
    if not any(scope in grant.scopes for scope in scopes):
        return problem(401, "Unauthorized", "AuthorizationUnsuccessful")
    return org


def _admitted(engine: Engine, key: str, req: Request, answer: Callable[[], Response]) -> Response:
    admission = engine.limiter.admit(XERO, key, engine.options)
    if not admission.ok:
        return problem(
            429,
            "Too Many Requests",
            f"Rate limit exceeded: {admission.problem}",
            {
                "Retry-After": retry_after(admission.retry_after),
                "X-Rate-Limit-Problem": admission.problem,
            },
        )
    try:
        if req.delay:
            time.sleep(req.delay)
        response = answer()
    finally:
        engine.limiter.release(key)
    response.headers.update(admission.headers)
    return response


# --- /connections ------------------------------------------------------------------------------


def connections(engine: Engine, req: Request) -> Response:
    if req.method != "GET":
        return Response.text(405, "Method not allowed")
    grant = _grant(engine, req)
    if isinstance(grant, Response):
        return grant
    wanted = (req.arg("authEventId") or "").lower()
    with engine.lock:
        rows = [c for (client, _), c in engine.xero_connections.items() if client == grant.client_id]
    rows.sort(key=lambda c: (c["created"], c["tenantName"]))
    out = [
        identity.connection_json(
            c["tenantId"], c["tenantName"], c["id"], c["authEventId"], c["created"], c["updated"]
        )
        for c in rows
        if not wanted or c["authEventId"].lower() == wanted
    ]
    return Response.json(200, out)


def delete_connection(engine: Engine, req: Request, connection_id: str) -> Response:
    if req.method != "DELETE":
        return Response.text(405, "Method not allowed")
    grant = _grant(engine, req)
    if isinstance(grant, Response):
        return grant
    with engine.lock:
        for key, conn in list(engine.xero_connections.items()):
            if key[0] == grant.client_id and conn["id"].lower() == connection_id.lower():
                del engine.xero_connections[key]
                return Response.empty(204)
    return Response.text(404, "Resource not found")


# --- accounting --------------------------------------------------------------------------------


def accounting(engine: Engine, req: Request, rest: str) -> Response:
    parts = [p for p in rest.split("/") if p]
    if not parts or len(parts) > 2:
        return not_found()
    resource, ident = parts[0].lower(), (parts[1] if len(parts) > 1 else None)
    writing = req.method in ("PUT", "POST")
    if resource in WRITERS:
        scopes = WRITERS[resource][0] if writing else WRITERS[resource][1]
        if writing and ident is not None:
            return Response.text(405, "Method not allowed")
    elif resource in READERS:
        scopes = CONTACTS if resource == "contacts" else SETTINGS
        if writing:
            return Response.text(405, "Method not allowed")
    else:
        return not_found()
    if req.method not in ("GET", "PUT", "POST"):
        return Response.text(405, "Method not allowed")
    grant = _grant(engine, req)
    if isinstance(grant, Response):
        return grant
    org = _tenant(engine, req, grant, scopes)
    if isinstance(org, Response):
        return org

    def answer() -> Response:
        if resource == "invoices":
            if writing:
                return xero_invoices.write(engine, req, org)
            return xero_invoices.read(engine, req, org, ident)
        if resource == "payments":
            if writing:
                return xero_payments.write(engine, req, org)
            return xero_payments.read(engine, req, org, ident)
        return READERS[resource](engine, req, org, ident)

    return _admitted(engine, org.tenant_id, req, answer)


def _since_ms(req: Request) -> int | None:
    since = parse_http_time(req.header("If-Modified-Since"))
    return None if since is None else ms(since)


def _flag(req: Request, name: str) -> bool:
    return (req.arg(name) or "").strip().lower() == "true"


def _ids(req: Request) -> set[str] | None:
    value = req.arg("IDs")
    if not value:
        return None
    return {part.strip().strip('"').lower() for part in value.split(",") if part.strip()}


def _page(req: Request) -> tuple[int | None, int]:
    size = PAGE_SIZE
    try:
        if req.arg("pageSize"):
            size = max(1, min(MAX_PAGE_SIZE, int(req.arg("pageSize") or PAGE_SIZE)))
    except ValueError:
        size = PAGE_SIZE
    raw = req.arg("page")
    if raw is None:
        return None, size
    try:
        return max(1, int(raw)), size
    except ValueError:
        return 1, size


def paged(
    engine: Engine, key: str, rows: list[Any], req: Request, render: Callable[[Any], dict[str, Any]]
) -> Response:
    page, size = _page(req)
    if page is None:
        return Response.json(200, envelope(engine, key, [render(r) for r in rows]))
    chunk = rows[(page - 1) * size : page * size]
    pagination = {"page": page, "pageSize": size, "pageCount": -(-len(rows) // size), "itemCount": len(rows)}
    return Response.json(200, envelope(engine, key, [render(r) for r in chunk], pagination=pagination))


def get_contacts(engine: Engine, req: Request, org: XeroOrg, ident: str | None) -> Response:
    with engine.lock:
        if ident is not None:
            contact = org.contacts_by_id.get(ident.lower())
            if contact is None:
                return not_found()
            return Response.json(200, envelope(engine, "Contacts", [render_contact(org, contact)]))
        rows = org.contacts_sorted()
        ids = _ids(req)
        if ids is not None:
            rows = [c for c in rows if c.id in ids]
        elif not _flag(req, "includeArchived"):
            rows = [c for c in rows if c.status == "ACTIVE"]
        since = _since_ms(req)
        if since is not None:
            rows = [c for c in rows if c.updated_ms > since]
        term = (req.arg("searchTerm") or "").strip().lower()
        if term:
            rows = [c for c in rows if term in c.name.lower()]
        return paged(engine, "Contacts", rows, req, lambda c: render_contact(org, c))


def get_accounts(engine: Engine, req: Request, org: XeroOrg, ident: str | None) -> Response:
    with engine.lock:
        rows = list(org.accounts)
        if ident is not None:
            rows = [a for a in rows if a.id == ident.lower()]
            if not rows:
                return not_found()
        since = _since_ms(req)
        if since is not None:
            rows = [a for a in rows if a.updated_ms > since]
        return Response.json(200, envelope(engine, "Accounts", [render_account(a) for a in rows]))


def get_tax_rates(engine: Engine, req: Request, org: XeroOrg, ident: str | None) -> Response:
    rows = org.tax_rates
    if ident is not None:
        rows = [r for r in rows if r["TaxType"].lower() == ident.lower()]
        if not rows:
            return not_found()
    return Response.json(200, envelope(engine, "TaxRates", [dict(r) for r in rows]))


def get_tracking(engine: Engine, req: Request, org: XeroOrg, ident: str | None) -> Response:
    archived = _flag(req, "includeArchived")
    allowed = ("ACTIVE", "ARCHIVED") if archived else ("ACTIVE",)
    out = []
    with engine.lock:
        for category in org.tracking:
            if ident is not None and category["TrackingCategoryID"] != ident.lower():
                continue
            if ident is None and category["Status"] not in allowed:
                continue
            out.append(
                {
                    "Name": category["Name"],
                    "Status": category["Status"],
                    "TrackingCategoryID": category["TrackingCategoryID"],
                    "Options": [dict(o) for o in category["Options"] if o["Status"] in allowed],
                }
            )
    if ident is not None and not out:
        return not_found()
    return Response.json(200, envelope(engine, "TrackingCategories", out))


def get_currencies(engine: Engine, req: Request, org: XeroOrg, ident: str | None) -> Response:
    return Response.json(200, envelope(engine, "Currencies", [dict(c) for c in org.currencies]))


def get_organisation(engine: Engine, req: Request, org: XeroOrg, ident: str | None) -> Response:
    locks: dict[str, str] = {}  # shown only when set, as Xero does
    if org.period_lock_date:
        locks["PeriodLockDate"] = xero_day(org.period_lock_date)
    if org.end_of_year_lock_date:
        locks["EndOfYearLockDate"] = xero_day(org.end_of_year_lock_date)
    return Response.json(
        200,
        envelope(
            engine,
            "Organisations",
            [
                {
                    "OrganisationID": org.tenant_id,
                    "APIKey": "",
                    "Name": org.name,
                    "LegalName": org.legal_name,
                    "PaysTax": True,
                    "Version": "UK",
                    "OrganisationType": "COMPANY",
                    "BaseCurrency": "GBP",
                    "CountryCode": "GB",
                    "IsDemoCompany": False,
                    "OrganisationStatus": "ACTIVE",
                    "FinancialYearEndDay": 31,
                    "FinancialYearEndMonth": 3,
                    "SalesTaxBasis": "ACCRUALS",
                    "SalesTaxPeriod": "QUARTERLY1",
                    "DefaultSalesTax": "Tax Exclusive",
                    "DefaultPurchasesTax": "Tax Inclusive",
                    **locks,
                    "CreatedDateUTC": xero_ms_date(org.created_ms),
                    "OrganisationEntityType": "COMPANY",
                    "Timezone": "GMTSTANDARDTIME",
                    "ShortCode": org.short_code,
                    "Edition": "BUSINESS",
                    "Class": "STANDARD",
                }
            ],
        ),
    )


READERS: dict[str, Callable[[Engine, Request, XeroOrg, str | None], Response]] = {
    "accounts": get_accounts,
    "contacts": get_contacts,
    "taxrates": get_tax_rates,
    "trackingcategories": get_tracking,
    "currencies": get_currencies,
    "organisation": get_organisation,
}


# --- rendering ---------------------------------------------------------------------------------


def render_contact(org: XeroOrg, c: XContact) -> dict[str, Any]:
    r = random.Random(org.seed * 1_000_003 + c.n)
    town = r.choice(TOWNS)
    slug = "".join(ch for ch in c.name.lower() if ch.isalnum())[:24] or "contact"
    out: dict[str, Any] = {"ContactID": c.id, "ContactStatus": c.status, "Name": c.name}
    if c.first:
        out["FirstName"] = c.first
        out["LastName"] = c.last
        out["EmailAddress"] = f"{c.first.lower()}.{c.last.lower()}@example.com"
    else:
        out["EmailAddress"] = f"accounts@{slug}.example"
    if c.account_number:
        out["AccountNumber"] = c.account_number
    out["BankAccountDetails"] = ""
    if c.vat:
        out["TaxNumber"] = c.vat
    out["Addresses"] = [
        {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""},
        {
            "AddressType": "POBOX",
            "AddressLine1": f"{r.randrange(1, 240)} {r.choice(STREET_LIST)}",
            "City": town,
            "Region": "",
            "PostalCode": f"{town[:2].upper()}{r.randrange(1, 30)} {r.randrange(1, 9)}"
            f"{r.choice('ABDEFGHJLNPQRSTUWXYZ')}{r.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            "Country": "United Kingdom",
        },
    ]
    out["Phones"] = [
        {"PhoneType": "DDI", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
        {
            "PhoneType": "DEFAULT",
            "PhoneNumber": f"496 {r.randrange(0, 1000):04d}",
            "PhoneAreaCode": "0113",
            "PhoneCountryCode": "44",
        },
        {"PhoneType": "FAX", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
        {
            "PhoneType": "MOBILE",
            "PhoneNumber": f"07700 900{r.randrange(0, 1000):03d}" if c.first else "",
            "PhoneAreaCode": "",
            "PhoneCountryCode": "",
        },
    ]
    out["UpdatedDateUTC"] = xero_ms_date(c.updated_ms)
    out["ContactGroups"] = []
    out["IsSupplier"] = c.supplier
    out["IsCustomer"] = c.customer
    if c.supplier and r.random() < 0.3:
        out["AccountsPayableTaxType"] = "INPUT2"
        out["PurchasesDefaultAccountCode"] = r.choice(("310", "429", "461", "485"))
    if c.customer and r.random() < 0.3:
        out["AccountsReceivableTaxType"] = "OUTPUT2"
        out["SalesDefaultAccountCode"] = "200"
    out["SalesTrackingCategories"] = []
    out["PurchasesTrackingCategories"] = []
    out["ContactPersons"] = []
    out["HasAttachments"] = False
    out["HasValidationErrors"] = False
    return out


def render_account(a: XAccount) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AccountID": a.id,
        "Code": a.code,
        "Name": a.name,
        "Status": a.status,
        "Type": a.type,
        "TaxType": a.tax_type,
        "Class": ACCOUNT_CLASS[a.type],
        "EnablePaymentsToAccount": False,
        "ShowInExpenseClaims": a.expense_claims,
    }
    if a.type == "BANK":
        out["BankAccountNumber"] = a.bank_number
        out["BankAccountType"] = "BANK"
        out["CurrencyCode"] = a.currency or "GBP"
    else:
        out["Description"] = a.description
    if a.system:
        out["SystemAccount"] = a.system
    out["ReportingCode"] = a.reporting_code or _reporting_code(a)
    out["ReportingCodeName"] = out["ReportingCode"].split(".")[0].title()
    out["HasAttachments"] = False
    out["UpdatedDateUTC"] = xero_ms_date(a.updated_ms)
    out["AddToWatchlist"] = a.type == "BANK"
    return out


def _reporting_code(a: XAccount) -> str:
    return {"ASSET": "ASS", "LIABILITY": "LIA", "EQUITY": "EQU", "EXPENSE": "EXP", "REVENUE": "REV"}[
        ACCOUNT_CLASS[a.type]
    ]


# --- changes between refreshes -----------------------------------------------------------------


def _count(spec: dict[str, Any], name: str) -> int:
    value = spec.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a whole number")
    return value


def apply_changes(engine: Engine, spec: dict[str, Any]) -> dict[str, Any]:
    """Add, rename, archive or restore contacts and accounts in one organisation (default: the first);
    each change bumps the item's UpdatedDateUTC to the sandbox clock. Called under the lock."""
    tenant = spec.get("tenant")
    org = engine.org_by_id[engine.resolve_tenants([tenant])[0]] if tenant else engine.xero_orgs[0]
    rng = random.Random(f"xero-changes:{org.seed}:{engine.change_round}")
    now_ms = ms(engine.now())
    changed: list[dict[str, Any]] = []
    contacts = spec.get("contacts") or {}
    accounts = spec.get("accounts") or {}
    unknown = set(spec) - {"provider", "tenant", "contacts", "accounts"}
    if unknown or not isinstance(contacts, dict) or not isinstance(accounts, dict):
        raise ValueError(
            "Xero changes take tenant, contacts {add, rename, archive, restore} and accounts "
            "{add, rename, archive}"
        )
    touched: set[str] = set()

    def pick(rows: list[Any], n: int, ok: Callable[[Any], bool]) -> list[Any]:
        candidates = [r for r in rows if ok(r) and r.id not in touched]
        chosen = rng.sample(candidates, min(n, len(candidates)))
        touched.update(r.id for r in chosen)
        return chosen

    for _ in range(_count(contacts, "add")):
        name, first, last = org.names.make()
        contact = XContact(
            engine.new_id(),
            len(org.contacts),
            name,
            first,
            last,
            "ACTIVE",
            True,
            rng.random() < 0.3,
            now_ms,
            "",
            "",
        )
        org.contacts.append(contact)
        org.contacts_by_id[contact.id] = contact
        touched.add(contact.id)
        changed.append({"list": "contacts", "action": "add", "id": contact.id, "name": name})
    for c in pick(org.contacts, _count(contacts, "rename"), lambda c: c.status == "ACTIVE"):
        old = c.name
        c.name, c.first, c.last = org.names.make()
        c.updated_ms = now_ms
        changed.append({"list": "contacts", "action": "rename", "id": c.id, "name": c.name, "old_name": old})
    for c in pick(org.contacts, _count(contacts, "archive"), lambda c: c.status == "ACTIVE"):
        c.status, c.updated_ms = "ARCHIVED", now_ms
        changed.append({"list": "contacts", "action": "archive", "id": c.id, "name": c.name})
    for c in pick(org.contacts, _count(contacts, "restore"), lambda c: c.status == "ARCHIVED"):
        c.status, c.updated_ms = "ACTIVE", now_ms
        changed.append({"list": "contacts", "action": "restore", "id": c.id, "name": c.name})

    names = {a.name.lower() for a in org.accounts}
    for _ in range(_count(accounts, "add")):
        code = str(max([int(a.code) for a in org.accounts if a.code.isdigit()] + [4999]) + 1)
        name = f"{rng.choice(EXTRA_ACCOUNT_TOPICS)} - {rng.choice(EXTRA_ACCOUNT_DETAILS)}"
        if name.lower() in names:
            name = f"{name} {code}"
        names.add(name.lower())
        account = XAccount(
            engine.new_id(),
            code,
            name,
            "OVERHEADS",
            "INPUT2",
            "ACTIVE",
            now_ms,
            description=name,
            expense_claims=True,
        )
        org.accounts.append(account)
        touched.add(account.id)
        changed.append({"list": "accounts", "action": "add", "id": account.id, "name": name, "code": code})

    def editable(a: XAccount) -> bool:
        return a.status == "ACTIVE" and not a.system and a.type != "BANK"

    for a in pick(org.accounts, _count(accounts, "rename"), editable):
        old = a.name
        a.name = f"{old} (renamed)" if f"{old} (renamed)".lower() not in names else f"{old} ({a.code})"
        names.add(a.name.lower())
        a.updated_ms = now_ms
        changed.append(
            {
                "list": "accounts",
                "action": "rename",
                "id": a.id,
                "name": a.name,
                "old_name": old,
                "code": a.code,
            }
        )
    for a in pick(org.accounts, _count(accounts, "archive"), editable):
        a.status, a.updated_ms = "ARCHIVED", now_ms
        changed.append({"list": "accounts", "action": "archive", "id": a.id, "name": a.name, "code": a.code})
    org.version += 1
    return {
        "provider": XERO,
        "tenantId": org.tenant_id,
        "tenantName": org.name,
        "at": xero_ms_date(now_ms),
        "changed": changed,
    }


# --- controls: lock dates, what was published ------------------------------------------------------


def _lock_day(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is a date (YYYY-MM-DD) or null")
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{name} is a date (YYYY-MM-DD) or null, not {value!r}") from None


def set_lock_date(engine: Engine, spec: dict[str, Any]) -> dict[str, Any]:
    """`{"date": "YYYY-MM-DD" | null, "end_of_year"?: "YYYY-MM-DD" | null, "tenant"?: id or name}`: the
    organisation's period lock date (and, when given, its end of year lock date)."""
    unknown = set(spec) - {"date", "end_of_year", "tenant"}
    if unknown or "date" not in spec:
        raise ValueError('the Xero lock date takes {"date": "YYYY-MM-DD" | null, "end_of_year"?, "tenant"?}')
    period = _lock_day(spec["date"], "date")
    end_of_year = _lock_day(spec.get("end_of_year"), "end_of_year")
    tenant = spec.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise ValueError("tenant is a tenant id or name")
    with engine.lock:
        org = engine.org_by_id[engine.resolve_tenants([tenant])[0]] if tenant else engine.xero_orgs[0]
        org.period_lock_date = period
        if "end_of_year" in spec:
            org.end_of_year_lock_date = end_of_year
        return {
            "tenantId": org.tenant_id,
            "tenantName": org.name,
            "PeriodLockDate": org.period_lock_date,
            "EndOfYearLockDate": org.end_of_year_lock_date,
        }


def set_account_status(engine: Engine, spec: dict[str, Any]) -> dict[str, Any]:
    """`{"code": "090", "status": "ARCHIVED" | "ACTIVE", "tenant"?: id or name}`: archive or restore one
    account (a bank account too, which the changes control leaves alone); bumps its UpdatedDateUTC."""
    unknown = set(spec) - {"code", "status", "tenant"}
    status = spec.get("status")
    if unknown or not isinstance(spec.get("code"), str) or status not in ("ARCHIVED", "ACTIVE"):
        raise ValueError(
            'the Xero account control takes {"code": "...", "status": "ARCHIVED"|"ACTIVE", "tenant"?}'
        )
    tenant = spec.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise ValueError("tenant is a tenant id or name")
    with engine.lock:
        org = engine.org_by_id[engine.resolve_tenants([tenant])[0]] if tenant else engine.xero_orgs[0]
        found = [a for a in org.accounts if a.code == spec["code"]]
        if not found:
            raise ValueError(f"no account with the code {spec['code']!r} in {org.name}")
        account = found[0]
        account.status, account.updated_ms = status, ms(engine.now())
        org.version += 1
        return {"tenantId": org.tenant_id, "account": render_account(account)}


def published_invoices(engine: Engine) -> dict[str, Any]:
    """Every invoice written, in every organisation (tests count them)."""
    with engine.lock:
        rows = [
            {"tenantId": org.tenant_id, **invoice["json"]}
            for org in engine.xero_orgs
            for invoice in org.invoices.values()
        ]
    return {"count": len(rows), "invoices": json.loads(json.dumps(rows))}
