"""QuickBooks Online: OAuth (appcenter.intuit.com, oauth.platform.intuit.com, developer.api.intuit.com)
and the v3 query endpoint (quickbooks.api.intuit.com/v3/company/{realmId}/query), with Intuit's query
language (select, where ... AND ..., IN, LIKE, ORDERBY, STARTPOSITION, MAXRESULTS, count(*)) and its
Fault answers (3200 AuthenticationFailed, 3100 authorisation, 4000 query errors, 3001 throttling).
Bills, bill payments, vendors and tax codes are created by `quickbooks_bills` (`POST .../bill`,
`.../billpayment`, `.../vendor`, `.../taxservice/taxcode`, with `requestid`); Bill, BillPayment and
Preferences can be queried."""

from __future__ import annotations

import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from dext_tui.sandbox import identity, quickbooks_bills
from dext_tui.sandbox._http import Request, Response, parse_qbo_time, qbo_time
from dext_tui.sandbox.seed import GBP_REF, QboCompany, QEntity, _qbo_person
from dext_tui.sandbox.state import QBO

if TYPE_CHECKING:
    from dext_tui.sandbox.engine import Engine

JSON_CT = "application/json;charset=UTF-8"
ENTITIES = (
    "Account",
    "Vendor",
    "Customer",
    "TaxCode",
    "TaxRate",
    "Class",
    "Department",
    "CompanyInfo",
    "Bill",
    "BillPayment",
    "Preferences",
)
TRANSACTIONS = frozenset({"Bill", "BillPayment"})  # no Active field, never renamed
DEFAULT_MAX = 100
MAX_RESULTS = 1000
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


def fault(
    engine: Engine,
    status: int,
    type_: str,
    code: str,
    message: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"Message": message}
    if detail is not None:
        error["Detail"] = detail
    error["code"] = code
    return Response.json(
        status,
        {"Fault": {"Error": [error], "type": type_}, "time": qbo_time(engine.now(), fraction=True)},
        {"intuit_tid": secrets.token_hex(16), **(headers or {})},
        content_type=JSON_CT,
    )


def auth_failed(engine: Engine) -> Response:
    return fault(
        engine,
        401,
        "AuthenticationFault",
        "3200",
        "message=AuthenticationFailed; errorCode=003200; statusCode=401",
    )


def query_error(engine: Engine, detail: str, code: str = "4000") -> Response:
    message = "Error parsing query" if code == "4000" else "Invalid query"
    return fault(engine, 400, "ValidationFault", code, message, detail)


# --- hosts -------------------------------------------------------------------------------------


def appcenter(engine: Engine, req: Request) -> Response:
    if req.path.rstrip("/").lower() == "/connect/oauth2":
        return identity.authorize(engine, req, QBO)
    return Response.text(404, "Not Found")


def oauth(engine: Engine, req: Request) -> Response:
    if req.path.rstrip("/").lower() == "/oauth2/v1/tokens/bearer":
        return identity.token(engine, req, QBO)
    return Response.text(404, "Not Found")


def revocation(engine: Engine, req: Request) -> Response:
    if req.path.rstrip("/").lower() == "/v2/oauth2/tokens/revoke":
        return identity.revoke(engine, req, QBO)
    return Response.text(404, "Not Found")


COMPANY_PATH = re.compile(
    r"^/v3/company/([^/]+)/(query|companyinfo/[^/]+|bill(?:/[^/]+)?|billpayment(?:/[^/]+)?|vendor(?:/[^/]+)?"
    r"|taxservice/taxcode)$",
    re.I,
)
WRITES = frozenset(quickbooks_bills.CREATES)


def api(engine: Engine, req: Request) -> Response:
    matched = COMPANY_PATH.match(req.path.rstrip("/"))
    if matched is None:
        return Response.text(404, "Not Found")
    realm, what = matched.group(1), matched.group(2).lower()
    token = req.bearer()
    now = engine.now()
    with engine.lock:
        record = engine.tokens.lookup(token) if token else None
        if (
            record is None
            or record.kind != "access"
            or record.grant.revoked
            or record.grant.provider != QBO
            or record.expires_at <= now
        ):
            return auth_failed(engine)
        grant = record.grant
    if realm != engine.qbo.realm_id or realm not in grant.tenants or ACCOUNTING_SCOPE not in grant.scopes:
        return fault(
            engine,
            403,
            "AuthorizationFault",
            "3100",
            "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        )
    if what == "query":
        if req.method == "GET":
            text = req.arg("query") or ""
        elif req.method == "POST":
            text = req.body.decode("utf-8", "replace")
            if "application/x-www-form-urlencoded" in (req.header("Content-Type") or ""):
                text = unquote_plus(text.partition("query=")[2])
        else:
            return Response.text(405, "Method not allowed")

        def answer() -> Response:
            return run_query(engine, text)
    elif what in WRITES:
        if req.method != "POST":
            return Response.text(405, "Method not allowed")

        def answer() -> Response:
            return quickbooks_bills.write(engine, req, what)
    elif what.startswith(("bill/", "billpayment/", "vendor/")):
        if req.method != "GET":
            return Response.text(405, "Method not allowed")
        kind, _, ident = matched.group(2).partition("/")
        kind = {"bill": "Bill", "billpayment": "BillPayment"}.get(kind.lower(), "Vendor")

        def answer() -> Response:
            return quickbooks_bills.read(engine, kind, ident)
    else:
        if req.method != "GET":
            return Response.text(405, "Method not allowed")

        def answer() -> Response:
            return Response.json(
                200,
                {"CompanyInfo": company_info(engine.qbo), "time": qbo_time(engine.now(), fraction=True)},
                content_type=JSON_CT,
            )

    return _admitted(engine, realm, req, answer)


def _admitted(engine: Engine, key: str, req: Request, answer: Callable[[], Response]) -> Response:
    admission = engine.limiter.admit(QBO, key, engine.options)
    if not admission.ok:
        return fault(
            engine,
            429,
            "SERVICE",
            "3001",
            "message=ThrottleExceeded; errorCode=003001; statusCode=429",
            "The request limit was reached.",
        )
    try:
        if req.delay:
            time.sleep(req.delay)
        return answer()
    finally:
        engine.limiter.release(key)


# --- the query language ------------------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)|(?P<word>[A-Za-z0-9_.:%*+\-]+))"
)


class QueryError(Exception):
    def __init__(self, detail: str, code: str = "4000") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


@dataclass
class Condition:
    field: str
    op: str  # = != < > <= >= in like
    values: list[Any]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None  # None: select *
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start: int = 1
    max: int = DEFAULT_MAX


def tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        matched = TOKEN.match(text, pos)
        if matched is None or matched.end() == pos:
            column = len(text[:pos]) - len(text[:pos].lstrip()) + pos + 1
            raise QueryError(
                f'QueryParserError: Encountered "{text[pos : pos + 10].strip()}" at line 1, column {column}.'
            )
        kind = matched.lastgroup or "word"
        tokens.append((kind, matched.group(kind), matched.start(kind) + 1))
        pos = matched.end()
    return tokens


def parse_query(text: str) -> Query:
    tokens = tokenize(text)
    i = 0

    def peek(offset: int = 0) -> tuple[str, str, int] | None:
        return tokens[i + offset] if i + offset < len(tokens) else None

    def unexpected(tok: tuple[str, str, int] | None, expecting: str) -> QueryError:
        if tok is None:
            return QueryError(f'QueryParserError: Encountered "<EOF>" at line 1. Was expecting: {expecting}')
        return QueryError(
            f'QueryParserError: Encountered "{tok[1]}" at line 1, column {tok[2]}. Was expecting: {expecting}'
        )

    def word(expected: str) -> None:
        nonlocal i
        tok = peek()
        if tok is None or tok[0] != "word" or tok[1].lower() != expected:
            raise unexpected(tok, f'"{expected}"')
        i += 1

    def is_word(value: str) -> bool:
        tok = peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() == value

    def value() -> Any:
        nonlocal i
        tok = peek()
        if tok is None:
            raise unexpected(tok, "a value")
        i += 1
        if tok[0] == "str":
            return re.sub(r"\\(.)", r"\1", tok[1][1:-1])
        if tok[0] == "word":
            lowered = tok[1].lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            try:
                return float(tok[1]) if "." in tok[1] else int(tok[1])
            except ValueError:
                pass
        raise unexpected(tok, "a value")

    word("select")
    query = Query(entity="")
    tok = peek()
    if tok is not None and tok[1] == "*":
        i += 1
    elif tok is not None and tok[0] == "word" and tok[1].lower() == "count":
        i += 1
        for expected in ("(", "*", ")"):
            tok = peek()
            if tok is None or tok[1] != expected:
                raise unexpected(tok, f'"{expected}"')
            i += 1
        query.count = True
    else:
        query.fields = []
        while True:
            tok = peek()
            if tok is None or tok[0] != "word":
                raise unexpected(tok, "a field name")
            query.fields.append(tok[1])
            i += 1
            tok = peek()
            if tok is not None and tok[1] == ",":
                i += 1
                continue
            break
    word("from")
    tok = peek()
    if tok is None or tok[0] != "word":
        raise unexpected(tok, "an entity name")
    i += 1
    names = {e.lower(): e for e in ENTITIES}
    if tok[1].lower() not in names:
        raise QueryError(f"QueryValidationError: Entity '{tok[1]}' is not supported by this query", "4001")
    query.entity = names[tok[1].lower()]

    if is_word("where"):
        i += 1
        while True:
            tok = peek()
            if tok is None or tok[0] != "word":
                raise unexpected(tok, "a field name")
            name = tok[1]
            i += 1
            tok = peek()
            if tok is None:
                raise unexpected(tok, "an operator")
            if tok[0] == "op" and tok[1] in ("=", "!=", "<>", "<", ">", "<=", ">="):
                i += 1
                query.where.append(Condition(name, "!=" if tok[1] == "<>" else tok[1], [value()]))
            elif tok[0] == "word" and tok[1].lower() == "in":
                i += 1
                tok = peek()
                if tok is None or tok[1] != "(":
                    raise unexpected(tok, '"("')
                i += 1
                values = [value()]
                while peek() is not None and peek()[1] == ",":  # type: ignore[index]
                    i += 1
                    values.append(value())
                tok = peek()
                if tok is None or tok[1] != ")":
                    raise unexpected(tok, '")"')
                i += 1
                query.where.append(Condition(name, "in", values))
            elif tok[0] == "word" and tok[1].lower() == "like":
                i += 1
                query.where.append(Condition(name, "like", [value()]))
            else:
                raise unexpected(tok, "an operator")
            if is_word("and"):
                i += 1
                continue
            break

    if is_word("orderby") or (is_word("order") and peek(1) is not None and peek(1)[1].lower() == "by"):  # type: ignore[index]
        i += 2 if is_word("order") else 1
        while True:
            tok = peek()
            if tok is None or tok[0] != "word":
                raise unexpected(tok, "a field name")
            i += 1
            descending = False
            if is_word("desc") or is_word("asc"):
                descending = is_word("desc")
                i += 1
            query.order.append((tok[1], descending))
            tok = peek()
            if tok is not None and tok[1] == ",":
                i += 1
                continue
            break

    for keyword in ("startposition", "maxresults"):
        if is_word(keyword):
            i += 1
            number = value()
            if not isinstance(number, int) or isinstance(number, bool):
                raise QueryError(f"QueryParserError: {keyword.upper()} takes a whole number")
            if keyword == "startposition":
                query.start = max(1, number)
            else:
                query.max = max(0, min(MAX_RESULTS, number))
    if peek() is not None:
        raise unexpected(peek(), '"where", "orderby", "startposition", "maxresults" or the end')
    return query


# --- evaluation --------------------------------------------------------------------------------


def render(entity: QEntity, suffix: bool) -> dict[str, Any]:
    out = dict(entity.data)
    if entity.kind not in TRANSACTIONS:
        out["Active"] = entity.active
    if not entity.active and suffix and entity.name_field:
        out[entity.name_field] = f"{out[entity.name_field]} (deleted)"
        if "FullyQualifiedName" in out:
            out["FullyQualifiedName"] = f"{out['FullyQualifiedName']} (deleted)"
    out["Id"] = entity.id
    out["SyncToken"] = str(entity.sync)
    out["MetaData"] = {"CreateTime": qbo_time(entity.created), "LastUpdatedTime": qbo_time(entity.updated)}
    return out


def company_info(company: QboCompany) -> dict[str, Any]:
    return {
        "CompanyName": company.name,
        "LegalName": company.legal_name,
        "CompanyAddr": {
            "Id": "1",
            "Line1": "4 Canal Wharf",
            "City": "Leeds",
            "Country": "GB",
            "PostalCode": "LS11 5PS",
        },
        "Country": "GB",
        "Email": {"Address": "accounts@kestrel-joinery.example"},
        "SupportedLanguages": "en",
        "FiscalYearStartMonth": "April",
        "CompanyStartDate": qbo_time(company.created)[:10],
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "1",
        "MetaData": {"CreateTime": qbo_time(company.created), "LastUpdatedTime": qbo_time(company.created)},
        "NameValue": [{"Name": "OfferingSku", "Value": "QuickBooks Online Plus"}],
    }


def _lookup(entity: QEntity, rendered: dict[str, Any] | None, path: str, suffix: bool) -> tuple[bool, Any]:
    lowered = path.lower()
    if lowered == "id":
        return True, entity.id_number
    if lowered == "active":
        return True, entity.active
    if lowered == "metadata.lastupdatedtime":
        return True, entity.updated
    if lowered == "metadata.createtime":
        return True, entity.created
    node: Any = rendered if rendered is not None else render(entity, suffix)
    for part in lowered.split("."):
        if not isinstance(node, dict):
            return False, None
        keys = {k.lower(): k for k in node}
        if part not in keys:
            return False, None
        node = node[keys[part]]
    return True, node


def _coerce(path: str, value: Any) -> Any:
    lowered = path.lower()
    if lowered in ("metadata.lastupdatedtime", "metadata.createtime"):
        if not isinstance(value, str) or parse_qbo_time(value) is None:
            raise QueryError(f"QueryValidationError: value {value!r} is not a date-time", "4001")
        return parse_qbo_time(value)
    if lowered == "id":
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise QueryError(f"QueryValidationError: value {value!r} is not an Id", "4001") from exc
    return value


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if op == "like":
        pattern = "^" + ".*".join(re.escape(p) for p in str(wanted).split("%")) + "$"
        return re.match(pattern, str(actual), re.I | re.S) is not None
    if isinstance(actual, str) and isinstance(wanted, str):
        actual_cmp, wanted_cmp = actual.lower(), wanted.lower()
    else:
        actual_cmp, wanted_cmp = actual, wanted
    try:
        return {
            "=": lambda: actual_cmp == wanted_cmp,
            "!=": lambda: actual_cmp != wanted_cmp,
            "<": lambda: actual_cmp < wanted_cmp,
            ">": lambda: actual_cmp > wanted_cmp,
            "<=": lambda: actual_cmp <= wanted_cmp,
            ">=": lambda: actual_cmp >= wanted_cmp,
        }[op]()
    except TypeError:
        return False


def run_query(engine: Engine, text: str) -> Response:
    try:
        if not text.strip():
            raise QueryError("QueryParserError: the query is empty")
        query = parse_query(text)
    except QueryError as exc:
        return query_error(engine, exc.detail, exc.code)
    suffix = engine.options.qbo_deleted_suffix
    with engine.lock:
        if query.entity == "CompanyInfo":
            rows = [company_info(engine.qbo)]
            return _answer(engine, query, rows, len(rows))
        if query.entity == "Preferences":  # one per company; no Active field
            rows = [quickbooks_bills.preferences(engine)][query.start - 1 : query.start - 1 + query.max]
            if query.fields is not None:
                rows = [_sparse(row, query.fields) for row in rows]
            return _answer(engine, query, rows, 1)
        entities = list(engine.qbo.entities.get(query.entity, []))
        rendered: dict[str, dict[str, Any]] = {}
        try:
            conditions = [(c, [_coerce(c.field, v) for v in c.values]) for c in query.where]
        except QueryError as exc:
            return query_error(engine, exc.detail, exc.code)
        if not any(c.field.lower() == "active" for c in query.where):
            entities = [e for e in entities if e.active]  # QuickBooks lists only active names by default
        needs_render = any(c.field.lower() not in SHORTCUTS for c in query.where) or any(
            f.lower() not in SHORTCUTS for f, _ in query.order
        )
        kept = []
        for e in entities:
            r = render(e, suffix) if needs_render else None
            if r is not None:
                rendered[e.id] = r
            ok = True
            for condition, values in conditions:
                found, actual = _lookup(e, r, condition.field, suffix)
                if not found:
                    return query_error(
                        engine, f"QueryValidationError: property '{condition.field}' is not queryable", "4001"
                    )
                if condition.op == "in":
                    ok = any(_compare(actual, "=", v) for v in values)
                else:
                    ok = _compare(actual, condition.op, values[0])
                if not ok:
                    break
            if ok:
                kept.append(e)
        if query.order:
            for name, descending in reversed(query.order):
                kept.sort(
                    key=lambda e, n=name: _sort_key(e, rendered.get(e.id), n, suffix), reverse=descending
                )
        else:
            kept.sort(key=lambda e: e.id_number)
        if query.count:
            return _answer(engine, query, [], len(kept))
        page = kept[query.start - 1 : query.start - 1 + query.max]
        rows = [rendered.get(e.id) or render(e, suffix) for e in page]
    if query.fields is not None:
        rows = [_sparse(row, query.fields) for row in rows]
    return _answer(engine, query, rows, len(kept))


SHORTCUTS = frozenset({"id", "active", "metadata.lastupdatedtime", "metadata.createtime"})


def _sort_key(entity: QEntity, rendered: dict[str, Any] | None, name: str, suffix: bool) -> tuple[int, Any]:
    found, value = _lookup(entity, rendered, name, suffix)
    if not found or value is None:
        return (1, "")
    return (0, value.lower() if isinstance(value, str) else value)


def _sparse(row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    keys = {k.lower(): k for k in row}
    out = {keys[f.lower()]: row[keys[f.lower()]] for f in fields if f.lower() in keys}
    out.update({"domain": "QBO", "sparse": True, "Id": row.get("Id"), "SyncToken": row.get("SyncToken")})
    return out


def _answer(engine: Engine, query: Query, rows: list[dict[str, Any]], total: int) -> Response:
    body: dict[str, Any]
    if query.count:
        body = {"totalCount": total}
    elif rows:
        body = {query.entity: rows, "startPosition": query.start, "maxResults": len(rows)}
    else:
        body = {}  # QuickBooks answers an empty page with an empty QueryResponse
    return Response.json(
        200, {"QueryResponse": body, "time": qbo_time(engine.now(), fraction=True)}, content_type=JSON_CT
    )


# --- changes between refreshes -----------------------------------------------------------------

CHANGE_LISTS = {"vendors": "Vendor", "customers": "Customer", "accounts": "Account"}


def apply_changes(engine: Engine, spec: dict[str, Any]) -> dict[str, Any]:
    """Add, rename, make inactive or active again vendors, customers and accounts; each change bumps
    MetaData.LastUpdatedTime and SyncToken. Called under the lock."""
    unknown = set(spec) - {"provider", *CHANGE_LISTS}
    if unknown:
        raise ValueError(
            "QuickBooks changes take vendors, customers and accounts, each {add, rename, archive, restore}"
        )
    company = engine.qbo
    rng = random.Random(f"qbo-changes:{company.seed}:{engine.change_round}")
    now = engine.now()
    changed: list[dict[str, Any]] = []
    touched: set[tuple[str, str]] = set()
    for list_name, kind in CHANGE_LISTS.items():
        counts = spec.get(list_name) or {}
        if not isinstance(counts, dict) or set(counts) - {"add", "rename", "archive", "restore"}:
            raise ValueError(f"{list_name} takes add, rename, archive and restore counts")
        for action in ("add", "rename", "archive", "restore"):
            n = counts.get(action, 0)
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"{list_name}.{action} must be a whole number")
            if action == "add":
                for _ in range(n):
                    entity = _new_entity(company, kind, rng, now)
                    touched.add((kind, entity.id))
                    changed.append(
                        {
                            "list": list_name,
                            "action": "add",
                            "id": entity.id,
                            "name": entity.data[entity.name_field or "Name"],
                        }
                    )
                continue
            want_active = action != "restore"
            candidates = [
                e
                for e in company.entities.get(kind, [])
                if e.active == want_active
                and (kind, e.id) not in touched
                and not (
                    kind == "Account"
                    and e.data.get("AccountType") in ("Accounts Receivable", "Accounts Payable")
                )
            ]
            for e in rng.sample(candidates, min(n, len(candidates))):
                touched.add((kind, e.id))
                name_field = e.name_field or "Name"
                old = e.data[name_field]
                if action == "rename":
                    new = company.names.make()[0] if kind != "Account" else f"{old} (renamed)"
                    e.data[name_field] = new
                    if kind == "Vendor" or kind == "Customer":
                        e.data["PrintOnCheckName"] = new
                        if "CompanyName" in e.data:
                            e.data["CompanyName"] = new
                    if "FullyQualifiedName" in e.data:
                        prefix = e.data["FullyQualifiedName"].rpartition(":")[0]
                        e.data["FullyQualifiedName"] = f"{prefix}:{new}" if prefix else new
                    entry = {"list": list_name, "action": "rename", "id": e.id, "name": new, "old_name": old}
                else:
                    e.active = action == "restore"
                    entry = {"list": list_name, "action": action, "id": e.id, "name": old}
                e.sync += 1
                e.updated = now
                changed.append(entry)
    return {"provider": QBO, "realmId": company.realm_id, "at": qbo_time(now), "changed": changed}


def _new_entity(company: QboCompany, kind: str, rng: random.Random, now: float) -> QEntity:
    if kind == "Account":
        company.next_id["Account"] = company.next_id.get("Account", 1)
        number = company.next_id["Account"]
        company.next_id["Account"] += 1
        name = f"New Expense {number}"
        data: dict[str, Any] = {
            "Name": name,
            "SubAccount": False,
            "FullyQualifiedName": name,
            "Classification": "Expense",
            "AccountType": "Expense",
            "AccountSubType": "OtherMiscellaneousServiceCost",
            "AcctNum": f"9{number:03d}",
            "CurrentBalance": 0,
            "CurrentBalanceWithSubAccounts": 0,
            "CurrencyRef": dict(GBP_REF),
            "domain": "QBO",
            "sparse": False,
        }
        entity = QEntity(kind, str(number), data, True, now, now, name_field="Name")
    else:
        number = company.next_id.get("Name", 1)
        company.next_id["Name"] = number + 1
        data, _ = _qbo_person(rng, company.names, kind, number)
        entity = QEntity(kind, str(number), data, True, now, now, name_field="DisplayName")
    company.add(entity)
    return entity
