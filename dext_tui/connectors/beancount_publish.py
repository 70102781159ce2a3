"""Beancount: publishing bills into a file of their own beside the ledger (docs/publishing.md).

`publish_bills` is synchronous and returns plain, picklable data: `BeancountConnector.publish` runs it in
the loader process. Every write is a whole-file atomic rewrite (temp file in the same folder, fsync,
`os.replace`, fsync the folder) under an exclusive lock, in an order that leaves a ledger beancount
accepts wherever a kill -9 lands:

1. the dedicated file `<ledger stem>.dext.beancount`, created with a header comment (first publish only);
2. `include "<dedicated file>"` appended to the main ledger (first publish only);
3. the dedicated file rewritten with the new transactions.

The ledger is then checked with beancount's loader; errors that were not there before roll it back to what
it was. Errors in the lines of a bill just written fail that bill and the rest are written again and
re-checked once more; errors anywhere else fail the whole batch.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from dext_tui.connectors.beancount_ledger import _configure_loader, _gc_paused, format_errors, missing_reason
from dext_tui.core.errors import ConnectionExpired, ConnectorError
from dext_tui.core.publishing import Bill, ErrorClass, PublishOutcome

SUFFIX = ".dext.beancount"
HEADER = (
    "; Bills published by dext-tui: one transaction per cost item, `dext-id` is the item's uid.\n"
    "; dext-tui rewrites this file when it publishes; a transaction removed here is published again.\n"
)
PAYABLE = "AccountsPayable"  # under the ledger's Liabilities root


def _paid_from(bill: Bill) -> str | None:
    """The account a paid bill's money left (its payment method); None: the bill is owed (payable)."""
    return bill.bank_account.remote_id if bill.paid and bill.bank_account is not None else None


OPEN_DATE = "1900-01-01"
_DATE_LINE = re.compile(r"\d{4}-\d{2}-\d{2}[ \t]")
_DEXT_ID = re.compile(r'[ \t]+dext-id:[ \t]*"((?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")
_NEWLINES = re.compile(r"\r\n|\r|\n")

ErrorKey = tuple[str, str | None, int | None, str]


def dedicated_path(ledger: Path) -> Path:
    """The file published bills go to, beside the ledger."""
    return ledger.with_name(f"{ledger.stem}{SUFFIX}")


def lock_path(dedicated: Path) -> Path:
    return dedicated.with_name(f".{dedicated.name}.lock")


# -- text ---------------------------------------------------------------------------------------------


def quote(text: str) -> str:
    """A beancount string literal: backslashes and double quotes escaped, line breaks made spaces (one
    transaction line stays one line)."""
    text = _NEWLINES.sub(" ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _posting(account: str, amount: Decimal, currency: str) -> str:
    sign_pad = "" if amount.is_signed() else " "
    return f"  {account}  {sign_pad}{amount} {currency}"


def render_bill(bill: Bill, payable: str) -> list[str]:
    """The bill's transaction, one string per line (no line ends)."""
    payee = bill.supplier.remote_id if bill.supplier is not None else bill.supplier_name
    narration = bill.description or bill.reference or ""
    tags: dict[str, None] = {}
    for line in bill.lines:
        if line.tracking is not None and line.tracking.remote_id:
            tags[line.tracking.remote_id.lstrip("#")] = None
    head = f"{bill.date.isoformat()} * {quote(payee)} {quote(narration)}"
    if tags:
        head += " " + " ".join(f"#{tag}" for tag in tags)
    out = [head, f"  dext-id: {quote(bill.uid)}"]
    if bill.reference:
        out.append(f"  reference: {quote(bill.reference)}")
    for line in bill.lines:
        out.append(_posting(line.category.remote_id, line.amount, bill.currency))
        if line.tax_code is not None:
            out.append(f"    tax_code: {quote(line.tax_code.remote_id)}")
        if line.tax is not None:
            out.append(f"    tax: {quote(str(line.tax))}")
    credit = _paid_from(bill) or payable
    out.append(_posting(credit, -bill.total, bill.currency))
    return out


def published_uids(text: str | None) -> dict[str, int]:
    """The uids already in the dedicated file, each with the (1-based) line of its transaction."""
    found: dict[str, int] = {}
    if not text:
        return found
    head = 0
    for n, line in enumerate(text.split("\n"), 1):  # lines as beancount counts them
        if _DATE_LINE.match(line):
            head = n
        elif head and (m := _DEXT_ID.match(line)):
            found.setdefault(_UNESCAPE.sub(r"\1", m.group(1)), head)
    return found


@dataclass(frozen=True)
class _Span:
    index: int  # the bill's position in the batch
    first: int  # the transaction's first line (1-based)
    last: int


def _compose(
    base: str, bills: Sequence[tuple[int, Bill]], payable: str, open_payable: bool
) -> tuple[str, list[_Span]]:
    """`base` with the bills' transactions appended (and the payable account opened), and where each
    transaction landed."""
    if base and not base.endswith("\n"):
        base += "\n"
    parts = [base]
    line = base.count("\n")  # lines so far
    if open_payable:
        parts.append(f"\n{OPEN_DATE} open {payable}\n")
        line += 2
    spans = []
    for index, bill in bills:
        lines = render_bill(bill, payable)
        parts.append("\n" + "\n".join(lines) + "\n")
        spans.append(_Span(index, line + 2, line + 1 + len(lines)))
        line += 1 + len(lines)
    return "".join(parts), spans


# -- files --------------------------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot sync a folder; the data itself is synced
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


class _WriteFailed(Exception):
    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(path, cause)
        self.path = path
        self.cause = cause


def atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` with `data` all at once: a reader (or a crash) sees the old file or the new one.
    Raises _WriteFailed naming `path`."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _WriteFailed(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _WriteFailed(path, exc) from exc
        raise


@contextlib.contextmanager
def _locked(path: Path, mode: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, (mode & 0o666) | 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_error(action: str, path: Path, exc: OSError) -> ConnectorError:
    reason = exc.strerror or str(exc)
    return ConnectorError(f"Could not {action} {path} ({reason}); the ledger was left as it was")


# -- checking -----------------------------------------------------------------------------------------


@dataclass
class _Check:
    errors: list[Any]
    keys: Counter[ErrorKey]
    opened: set[str]
    included: set[str]  # real paths of every file the load read
    liabilities: str = "Liabilities"
    by_key: dict[ErrorKey, list[Any]] = field(default_factory=dict)


def _key(err: Any) -> ErrorKey:
    source = getattr(err, "source", None) or {}
    filename = source.get("filename")
    lineno = source.get("lineno")
    message = " ".join(str(getattr(err, "message", err)).split())
    return (
        type(err).__name__,
        os.path.realpath(filename) if isinstance(filename, str) and filename else None,
        lineno if isinstance(lineno, int) else None,
        message,
    )


def _check(ledger: Path, cache_dir: str | None) -> _Check:
    """Load the whole ledger with beancount, as `bean-check` would."""
    from beancount.core import data

    loader = _configure_loader(cache_dir)
    with _gc_paused():
        entries, errors, options = loader.load_file(str(ledger))
        opened = {e.account for e in entries if type(e) is data.Open}
    check = _Check(
        errors=list(errors),
        keys=Counter(),
        opened=opened,
        included={os.path.realpath(f) for f in options.get("include", [])},
        liabilities=options.get("name_liabilities", "Liabilities"),
    )
    for err in check.errors:
        key = _key(err)
        check.keys[key] += 1
        check.by_key.setdefault(key, []).append(err)
    return check


def _added(before: _Check, after: _Check) -> list[Any]:
    """The errors of `after` that `before` did not have (the same error on the same line counts once per
    time it was there)."""
    extra = after.keys - before.keys
    out: list[Any] = []
    for key, count in extra.items():
        out.extend(after.by_key[key][-count:])
    return out


def _attribute(
    errors: list[Any], dedicated: str, spans: list[_Span]
) -> tuple[dict[int, list[Any]], list[Any]]:
    """Split errors into those located in a new transaction (by bill index) and those elsewhere."""
    per_bill: dict[int, list[Any]] = {}
    elsewhere: list[Any] = []
    for err in errors:
        _, filename, lineno, _ = _key(err)
        span = None
        if filename == dedicated and lineno is not None:
            span = next((s for s in spans if s.first <= lineno <= s.last), None)
        if span is None:
            elsewhere.append(err)
        else:
            per_bill.setdefault(span.index, []).append(err)
    return per_bill, elsewhere


def _include_line(name: str) -> bytes:
    return f"include {quote(name)}\n".encode()


def _names_include(main_text: bytes, name: str) -> bool:
    pattern = rb'^[ \t]*include[ \t]+"' + re.escape(name.encode()) + rb'"'
    return re.search(pattern, main_text, re.MULTILINE) is not None


# -- publishing ---------------------------------------------------------------------------------------


def publish_bills(ledger: Path, bills: Sequence[Bill], cache_dir: str | None = None) -> list[PublishOutcome]:
    """Publish `bills` into the ledger's dedicated file; one outcome per bill, in order.

    Raises ConnectionExpired when the ledger is gone or cannot be read, ConnectorError when a file cannot
    be written (the ledger is then left as it was)."""
    ledger = Path(ledger).expanduser().absolute()
    reason = missing_reason(ledger)
    if reason:
        raise ConnectionExpired(reason)
    if not bills:
        return []
    main = Path(os.path.realpath(ledger))  # rewriting a symlink's target, not replacing the link
    dedicated = dedicated_path(ledger)
    try:
        mode = stat.S_IMODE(os.stat(main).st_mode)
    except OSError as exc:
        raise ConnectionExpired(f"Ledger file cannot be read ({exc.strerror}): {ledger}") from None
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_locked(lock_path(dedicated), mode))
        except OSError as exc:
            raise _write_error("lock", lock_path(dedicated), exc) from None
        return _publish_locked(ledger, main, dedicated, mode, bills, cache_dir)


def _publish_locked(
    ledger: Path, main: Path, dedicated: Path, mode: int, bills: Sequence[Bill], cache_dir: str | None
) -> list[PublishOutcome]:
    reason = missing_reason(ledger)  # it may have gone while we waited for the lock
    if reason:
        raise ConnectionExpired(reason)
    try:
        main_bytes = main.read_bytes()
    except OSError as exc:
        raise ConnectionExpired(f"Ledger file cannot be read ({exc.strerror}): {ledger}") from None
    try:
        old_bytes = dedicated.read_bytes() if dedicated.exists() else None
        old_text = None if old_bytes is None else old_bytes.decode("utf-8")
    except OSError as exc:
        raise ConnectorError(f"Could not read {dedicated} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConnectorError(f"Could not read {dedicated}: it is not UTF-8 text") from None

    existing = published_uids(old_text)
    name = dedicated.name
    outcomes: list[PublishOutcome | None] = [None] * len(bills)
    new: list[tuple[int, Bill]] = []
    first_of: dict[str, int] = {}  # uid -> index of its first bill in this batch
    for i, bill in enumerate(bills):
        if bill.uid in existing:
            outcomes[i] = PublishOutcome(bill.item_id, f"{name}:{existing[bill.uid]}", already=True)
        elif bill.uid not in first_of:
            first_of[bill.uid] = i
            new.append((i, bill))
    if new:
        _write_new(ledger, main, main_bytes, dedicated, old_bytes, mode, new, outcomes, cache_dir)
    for i, bill in enumerate(bills):  # the same uid twice in a batch: the second is the first's echo
        if outcomes[i] is None:
            first = outcomes[first_of[bill.uid]]
            assert first is not None
            outcomes[i] = (
                PublishOutcome(bill.item_id, first.remote_id, already=True)
                if first.ok
                else PublishOutcome.failed(
                    bill.item_id, first.error_class or ErrorClass.LEDGER_CHECK, first.message or ""
                )
            )
    return [o for o in outcomes if o is not None]


def _write_new(
    ledger: Path,
    main: Path,
    main_bytes: bytes,
    dedicated: Path,
    old_bytes: bytes | None,
    mode: int,
    new: list[tuple[int, Bill]],
    outcomes: list[PublishOutcome | None],
    cache_dir: str | None,
) -> None:
    before = _check(ledger, cache_dir)
    dedicated_real = os.path.realpath(dedicated)
    name = dedicated.name
    payable = f"{before.liabilities}:{PAYABLE}"
    open_payable = payable not in before.opened and any(_paid_from(b) is None for _, b in new)
    include_needed = dedicated_real not in before.included and not _names_include(main_bytes, name)
    if include_needed and not os.access(main, os.W_OK):
        raise _write_error("write", main, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    base = old_bytes.decode("utf-8") if old_bytes is not None else HEADER
    created = old_bytes is None
    included = False  # by this publish

    def rollback() -> None:
        # The reverse order of the writes: every step leaves a ledger beancount accepts.
        if created:
            if dedicated.exists():
                atomic_write(dedicated, HEADER.encode(), mode)
        else:
            assert old_bytes is not None
            atomic_write(dedicated, old_bytes, mode)
        if included:
            atomic_write(main, main_bytes, mode)
        if created:
            with contextlib.suppress(OSError):  # left behind, it holds the header only: harmless
                os.unlink(dedicated)
                _fsync_dir(dedicated.parent)

    def fail_all(message: str, per_bill: dict[int, list[Any]] | None = None) -> None:
        for i, bill in new:
            errors = (per_bill or {}).get(i)
            text = format_errors(errors) if errors else message
            outcomes[i] = PublishOutcome.failed(bill.item_id, ErrorClass.LEDGER_CHECK, text)

    try:
        if created:
            atomic_write(dedicated, HEADER.encode(), mode)
        if include_needed:
            sep = b"\n" if main_bytes and not main_bytes.endswith(b"\n") else b""
            atomic_write(main, main_bytes + sep + _include_line(name), mode)
            included = True
        batch = new
        failed: dict[int, list[Any]] = {}
        for attempt in range(2):
            text, spans = _compose(base, batch, payable, open_payable)
            atomic_write(dedicated, text.encode("utf-8"), mode)
            after = _check(ledger, cache_dir)
            added = _added(before, after)
            if not added:
                break
            per_bill, elsewhere = _attribute(added, dedicated_real, spans)
            if elsewhere or attempt == 1:
                rollback()
                failed.update(per_bill)
                shown = elsewhere or [e for errs in per_bill.values() for e in errs]
                fail_all(f"publishing would break the ledger: {format_errors(shown)}", failed)
                return
            failed.update(per_bill)
            batch = [(i, b) for i, b in batch if i not in per_bill]
            if not batch:
                rollback()
                fail_all("", failed)
                return
    except _WriteFailed as exc:
        with contextlib.suppress(_WriteFailed, OSError):
            rollback()
        raise _write_error("write", exc.path, exc.cause) from None
    bill_at = dict(new)
    for span in spans:
        outcomes[span.index] = PublishOutcome(bill_at[span.index].item_id, f"{name}:{span.first}")
    for i, bill in new:
        if i in failed:
            outcomes[i] = PublishOutcome.failed(
                bill.item_id, ErrorClass.LEDGER_CHECK, format_errors(failed[i])
            )
