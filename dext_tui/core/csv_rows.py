"""Reading a CSV file the way every import here does: UTF-8 (a BOM is fine) with a header row, each bad
row reported by its line number, and nothing taken from a file with any bad row."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from dext_tui.core.errors import DextError, InvalidData

MAX_ERRORS_SHOWN = 20
_T = TypeVar("_T")


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DextError(f"no such file: {path}") from None
    except OSError as exc:
        raise DextError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidData(f"{path.name}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None


def header(path: Path, reader: Any, needs: str) -> list[str]:
    """The header row's column names (trimmed, lower case, spaces as underscores)."""
    try:
        row = next(reader)
    except StopIteration:
        raise InvalidData(f"{path.name} is empty: it needs a header row with {needs}") from None
    except csv.Error as exc:
        raise InvalidData(f"{path.name}: line 1: {exc}") from None
    return [h.strip().lower().replace(" ", "_") for h in row]


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted cell may span several lines)."""
    start = reader.line_num + 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1


def read_rows(
    path: Path,
    needs: str,
    check_header: Callable[[list[str]], None],
    parse: Callable[[dict[str, str], int], _T],
    max_rows: int,
) -> list[_T]:
    """`parse(values, line)` of every non-blank row (values by column, trimmed). A ValueError from it is
    the row's problem; every problem is collected and raised as one InvalidData, so nothing is taken."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))  # quoted cells may hold line breaks
    columns = header(path, reader, needs)
    check_header(columns)
    named = [c for c in columns if c]  # blank header cells name no column
    if len(set(named)) != len(named):
        raise InvalidData(f"{path.name}: a column appears twice in the header row")
    out: list[_T] = []
    errors: list[str] = []
    try:
        for line, row in _records(reader):
            if not any(cell.strip() for cell in row):
                continue  # blank lines are fine
            if len(out) + len(errors) >= max_rows:
                raise InvalidData(f"{path.name}: more than {max_rows:,} rows")
            if len(row) != len(columns):
                errors.append(f"line {line}: {len(row)} fields, the header has {len(columns)}")
                continue
            values = {c: cell.strip() for c, cell in zip(columns, row, strict=True) if c}
            try:
                out.append(parse(values, line))
            except ValueError as exc:
                errors.append(f"line {line}: {exc}")
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: {exc}")
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = len(errors) - MAX_ERRORS_SHOWN
        raise InvalidData(
            f"{path.name}: {len(errors)} bad row{'s' if len(errors) > 1 else ''}, nothing imported: {shown}"
            + (f" (and {more} more)" if more > 0 else "")
        )
    return out
