"""The sandbox: local stand-ins for Xero and QuickBooks Online that follow the providers' published
contracts, for trying the app and for tests. Standard library only; listens on 127.0.0.1 only; never
prints or keeps a token in clear (tokens are held by their SHA-256; the request log and the call log show
the method, the path without its query, and the status).

Running it
----------
    dext-tui sandbox [--port 8765] [--seed N] [--contacts N] [--accounts N] [--vendors N]
                     [--customers N] [--access-token-seconds S] [--refresh-token-days D]
                     [--rate-limit | --no-rate-limit] [--minute-limit N] [--concurrent-limit N]
                     [--day-limit N] [--quiet]
    python -m dext_tui.sandbox ...            (the same, before the CLI is wired)

It prints its URL and `export DEXT_TUI_SANDBOX_URL=http://127.0.0.1:N`, then serves until Ctrl-C (or
SIGTERM). In-process (tests, benchmarks):

    with Sandbox(port=0, contacts=250, rate_limit=False) as sb:   # port 0: a free port
        sb.url, sb.env(), sb.xero_tenants, sb.qbo_realm_id

Paths mirror the real hosts (docs/cloud-connectors.md): `https://HOST/PATH?Q` is served at
`$DEXT_TUI_SANDBOX_URL/HOST/PATH?Q`:

    GET  /login.xero.com/identity/connect/authorize       302 to redirect_uri?code&scope&state&session_state
    POST /identity.xero.com/connect/token                 authorization_code (PKCE) | refresh_token
    POST /identity.xero.com/connect/revocation            form token=<refresh token>
    GET  /api.xero.com/connections[?authEventId=]         the connected tenants
    DELETE /api.xero.com/connections/{id}                 disconnect a tenant (204)
    GET  /api.xero.com/api.xro/2.0/{Accounts,Contacts,TaxRates,TrackingCategories,Currencies,
                                    Organisation,Invoices}[/{id}]
    PUT|POST /api.xero.com/api.xro/2.0/Invoices           bills (ACCPAY) and sales invoices (ACCREC)
    GET  /appcenter.intuit.com/connect/oauth2             302 to redirect_uri?code&state&realmId
    POST /oauth.platform.intuit.com/oauth2/v1/tokens/bearer   HTTP Basic; authorization_code | refresh_token
    POST /developer.api.intuit.com/v2/oauth2/tokens/revoke    HTTP Basic; JSON {"token": ...}
    GET|POST /quickbooks.api.intuit.com/v3/company/{realmId}/query?query=...&minorversion=N
    GET  /quickbooks.api.intuit.com/v3/company/{realmId}/companyinfo/{realmId}
    POST /quickbooks.api.intuit.com/v3/company/{realmId}/{bill,vendor,taxservice/taxcode}[?requestid=]
    GET  /quickbooks.api.intuit.com/v3/company/{realmId}/{bill,vendor}/{id}

Seeded data (the same seed gives the same organisations, ids, names and dates)
-----------------------------------------------------------------------------
Xero: "Harbour Lane Design Ltd" and "Northwind Trading Ltd" (UK, GBP). Accounts: a UK chart (BANK, SALES,
REVENUE, OTHERINCOME, DIRECTCOSTS, OVERHEADS, EXPENSE, DEPRECIATN and the balance-sheet types, system
accounts; some ARCHIVED; `accounts=N` pads each chart to N). Contacts: `contacts=N` in each (about 8%
ARCHIVED; IsSupplier/IsCustomer; a few well-known UK suppliers). TaxRates: 20% VAT on Income/Expenses, 5%,
Zero Rated, Exempt, No VAT, and the old 17.5% rates ARCHIVED; CanApplyTo{Assets,Equity,Expenses,Liabilities,
Revenue} as Xero sets them (the Income rates cannot apply to expenses, the Expenses ones to revenue).
TrackingCategories: one ACTIVE (with an ARCHIVED option), one ARCHIVED. Currencies: GBP, EUR, USD. Seeded
UpdatedDateUTC values lie in 2021-2025.
QuickBooks: "Kestrel Joinery Ltd" (UK, one realm): Account (with sub-accounts), Vendor (`vendors=N`),
Customer (`customers=N`), TaxCode and TaxRate (UK VAT), Class, Department; some of each inactive;
CompanyInfo.

Behaviour (as the providers document it)
----------------------------------------
OAuth: authorise answers a GET at once (a test login). Codes are single use and last 5 minutes; the
token call must repeat the redirect_uri; a code_challenge (S256 or plain) requires the matching
code_verifier. Refresh tokens rotate: a used one is `invalid_grant`. Xero issues a refresh token only
with `offline_access`; an id_token with `openid`; access tokens are JWT-shaped (readable payload with
`authentication_event_id`; the signature is not real). Errors: 400 `{"error": "invalid_grant"}`,
`invalid_request`, `unsupported_grant_type`; `invalid_client` (400 Xero; 401 QuickBooks without HTTP
Basic). Any client id and secret are accepted. Revoking ends the whole authorisation (its access tokens
too; Xero's connections it made). Lifetimes: Xero 1800 s / 60 days, QuickBooks 3600 s / 101 days, unless
set.
Xero API: bearer token and `xero-tenant-id`. 401 problem JSON (`Detail`: `AuthenticationUnsuccessful`, or
`TokenExpired: token expired at ...`; `AuthorizationUnsuccessful` for a missing scope: Invoices need
`accounting.invoices` or the older `accounting.transactions` to write, or either's `.read` to read; Payments
`accounting.payments` or `accounting.transactions`); 403 for a
tenant not connected (or no header). Organisation shows PeriodLockDate / EndOfYearLockDate when set. Contacts:
`page=N` (100 a page; `pageSize` up to 1000; a `pagination` object; a page past the end is `[]`), without
`page` every contact; ARCHIVED only with `includeArchived=true`; `IDs`, `searchTerm`. Accounts (all statuses)
and Contacts honour `If-Modified-Since` (ISO 8601 or an HTTP date; items updated strictly after it; nothing
changed: `[]`, 200). TrackingCategories: ARCHIVED categories and options only with `includeArchived=true`.
`where`, `order` and `summaryOnly` are ignored. Answers carry Id/Status/ProviderName/DateTimeUTC, dates as
`/Date(ms+0000)/`, always JSON. Unknown paths: 404 "The resource you're looking for cannot be found".
Invoices: PUT and POST create (POST with an InvoiceID updates a DRAFT/SUBMITTED/AUTHORISED one); the contact
by ContactID or Name (a new name creates the contact); account codes, tax types, tracking and currencies
checked, totals for Exclusive/Inclusive/NoTax; refused in Xero's words: a date on or before a lock date ("The
document date cannot be before the period lock date, currently set at 31-Mar-2026"), an archived contact or
account, a TaxType the invoice's type (bill: CanApplyToExpenses; sales: ...Revenue) or its account's class may
not use, a currency the organisation has not subscribed to; errors as 400 ValidationException with
Elements[].ValidationErrors (or, with summarizeErrors=false, 200 with HasErrors per invoice). The same
`Idempotency-Key` (at most 128 characters) replays the first answer and creates nothing. GET lists them
(paged, Statuses, IDs, ContactIDs, InvoiceNumbers, If-Modified-Since) or one by id or number.
QuickBooks query: `select * | count(*) | Field, ... from ENTITY [where F op V [and ...]] [orderby F
[asc|desc]] [startposition n] [maxresults m]` with op `= != < > <= >= IN (...) LIKE '%x%'`; fields
include `Id`, `Active`, `MetaData.LastUpdatedTime` and any field of the entity. Without an `Active`
condition only active ones are listed. MAXRESULTS defaults to 100, at most 1000. Answers:
`{"QueryResponse": {"Vendor": [...], "startPosition": s, "maxResults": n}, "time": ...}`; an empty page
is `{"QueryResponse": {}}`; count(*) gives `totalCount`. Inactive names read "Name (deleted)", as
QuickBooks renames them (option `qbo_deleted_suffix`). Faults: 401 code 3200 (AuthenticationFailed;
expired, revoked or unknown token), 403 code 3100 (another realm), 400 code 4000 (query syntax) or 4001
(unknown entity or field), 429 code 3001 (ThrottleExceeded, no Retry-After). Bill and Preferences are
queryable too (Preferences: AccountingInfoPrefs.BookCloseDate when the books are closed, CurrencyPrefs).
QuickBooks writes (`quickbooks_bills`): a Bill (AccountBasedExpenseLineDetail lines; GlobalTaxCalculation
TaxExcluded | TaxInclusive with TaxInclusiveAmt | NotApplicable; TotalAmt and TxnTaxDetail worked out from
the tax codes' purchase rates), a Vendor by DisplayName, a tax code through TaxService (Sales or Purchase
rates). Refused with Intuit's faults: 610 an inactive account, vendor, tax code, class or location; 2500 one
that does not exist; 6210 a TxnDate on or before the book close date; 6140 a DocNumber the vendor already
has on a bill (duplicate bill numbers are checked); 6240 a name in use; 6000 a currency other than the home
currency (GBP) while multicurrency is off, a vendor in another currency, a line without a tax code or with
one that has no purchase rates; 2020 a required field missing; 2050 a DocNumber over 21 characters. The
same `requestid` (1 to 50 characters) replays the first successful answer and creates nothing; on another
operation it is fault 600.
Rate limits (on unless `rate_limit=False`): Xero per tenant 60 calls a minute, 5 in progress, 5000 a day,
and 10,000 a minute across tenants: 429 with `Retry-After` (seconds) and `X-Rate-Limit-Problem`
(`minute`, `concurrent`, `day`, `appminute`); every answer carries X-MinLimit-Remaining,
X-DayLimit-Remaining, X-AppMinLimit-Remaining. QuickBooks: 500 a minute and 10 in progress per realm.
A refused call does not count. Identity endpoints and /connections are not limited.

Controls: HTTP (JSON in and out, under /_sandbox/) and the same on `Sandbox`
---------------------------------------------------------------------------
    GET    /_sandbox/                what is seeded (tenant ids, realmId, counts), options, clock offset,
                                     faults waiting, calls so far, the list of controls
                                     -> sb.describe(), sb.xero_tenants, sb.qbo_realm_id
    GET    /_sandbox/options         the options
    POST   /_sandbox/options         {"access_token_seconds": 60, "rate_limit": false, ...}: change any
                                     option but the seeded ones (null restores a provider's lifetime)
                                     -> sb.set_options(**changes)
    POST   /_sandbox/reset           back to the seeded state (forgets tokens, connections, invoices,
                                     changes, faults, calls, clock); {"options": {"contacts": 5000}} to
                                     reseed differently  -> sb.reset(**options)
    POST   /_sandbox/tokens/revoke   revoke every authorisation: API 401 (QuickBooks Fault 3200), refresh
                                     invalid_grant; {"revoked": n}  -> sb.revoke_all_tokens()
    POST   /_sandbox/tokens/expire   expire every access token now ({"refresh": true}: refresh tokens
                                     too); {"expired": n}  -> sb.expire_tokens(refresh=False)
    POST   /_sandbox/tokens/issue    tokens without the browser: {"provider": "xero"|"quickbooks",
                                     "client_id"?, "scope"?: "a b", "tenants"?: [ids or names]}; the
                                     token endpoint's answer plus "tenants" (Xero) or "realmId"
                                     -> sb.issue_tokens(provider, client_id=, scopes=[...], tenants=[...])
    POST   /_sandbox/clock           {"advance_seconds": N}: move the sandbox clock (token and code
                                     expiry, UpdatedDateUTC of later changes)  -> sb.advance_clock(N)
    POST   /_sandbox/xero/connect    {"tenants": ["Harbour Lane Design Ltd"]}: the tenants the next Xero
                                     authorisations connect (null: all)  -> sb.connect_xero_tenants([...])
    POST   /_sandbox/xero/lockdate   {"date": "2026-03-31" | null, "end_of_year"?: "YYYY-MM-DD" | null,
                                     "tenant"?: id or name (default the first)}: the organisation's period
                                     lock date (and end of year one, when given); answers both
    GET    /_sandbox/xero/invoices   {"count", "invoices": [{"tenantId", ...the Invoice}]}: every invoice
                                     and bill written, in every organisation
    POST   /_sandbox/quickbooks/lockdate  {"date": "2026-03-31" | null}: the book close date
                                     (Preferences.AccountingInfoPrefs.BookCloseDate)
    POST   /_sandbox/quickbooks/multicurrency  {"enabled": true | false}: CurrencyPrefs.MultiCurrencyEnabled
    GET    /_sandbox/quickbooks/bills  {"realmId", "count", "bills": [...the Bill]}: every bill created
    GET    /_sandbox/faults          the faults waiting
    POST   /_sandbox/faults          {"kind", "count", "status", "seconds", "path", "retry_after"} (or
                                     {"faults": [...]}): the next `count` matching calls (-1: until
                                     cleared) get, by kind:
                                       status      that HTTP status (default 503) in the provider's error
                                                   shape; a 429 carries Retry-After (retry_after, or 60)
                                       slow        the normal answer after `seconds` (default 2), counted
                                                   as a call in progress
                                       malformed   the normal status with the body cut in half (bad JSON)
                                       wrong_shape valid JSON with its first list replaced by a string
                                       disconnect  the connection closed without an answer
                                     `path` (a part of "/HOST/PATH") picks the calls; without it the faults
                                     hit API calls only (api.xero.com, quickbooks.api.intuit.com), not
                                     authorise/token/revoke  -> sb.add_fault(kind, count=, status=,
                                     seconds=, path=, retry_after=)
    DELETE /_sandbox/faults          clear them  -> sb.clear_faults()
    POST   /_sandbox/changes         change the seeded lists as a user in the books would, stamping each
                                     item with the sandbox clock (Xero UpdatedDateUTC; QuickBooks
                                     MetaData.LastUpdatedTime and SyncToken); deterministic per seed:
                                       {"provider": "xero", "tenant"?: id or name (default the first),
                                        "contacts": {"add", "rename", "archive", "restore"},
                                        "accounts": {"add", "rename", "archive"}}
                                       {"provider": "quickbooks", "vendors"|"customers"|"accounts":
                                        {"add", "rename", "archive", "restore"}}
                                     answers {"changed": [{"list", "action", "id", "name", "old_name"?}]}
                                     -> sb.apply_changes("xero", contacts={"rename": 3}, ...)
    GET    /_sandbox/calls           {"total", "by_path": {"GET /api.xero.com/api.xro/2.0/Contacts": 3},
                                     "by_status", "recent": [{"method", "path", "status"}] (the last 500)};
                                     provider calls only, not the controls  -> sb.calls(),
                                     sb.call_count("/Contacts", method="GET")
    DELETE /_sandbox/calls           reset the call log (also POST /_sandbox/calls/reset)
                                     -> sb.reset_calls()

Options (`SandboxOptions`, or keywords to `Sandbox`): seed, contacts, accounts, vendors, customers,
access_token_seconds, refresh_token_days, rate_limit, xero_minute_limit, xero_concurrent_limit,
xero_day_limit, xero_app_minute_limit, qbo_minute_limit, qbo_concurrent_limit, qbo_deleted_suffix,
log_requests.
"""

from dext_tui.sandbox.command import run_sandbox
from dext_tui.sandbox.options import SandboxOptions
from dext_tui.sandbox.server import Sandbox

__all__ = ["Sandbox", "SandboxOptions", "run_sandbox"]
