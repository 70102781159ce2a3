"""A virtual table for big lists: renders only the rows on screen (Line API), filters in memory.

The built-in DataTable measures every cell of every row (~12 s at 100k rows). This one keeps the rows as
plain tuples and a list of indexes for the current filter, so opening a 100,000-item list and filtering it
both take milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip

from dext_tui.core.text import printable
from dext_tui.widgets.virtual_table import VirtualTable

STATUS_WIDTH = 8
RULES_WIDTH = 5


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row as shown (code and name made printable)."""

    id: int
    code: str
    name: str
    status: str  # active | archived | hidden
    rules: int = 0


@dataclass(frozen=True, slots=True)
class TableData:
    """A whole list as parallel columns: cheap to build for 100,000 rows, and built off the UI thread."""

    ids: list[int]
    codes: list[str]
    names: list[str]
    archived: list[bool]
    haystacks: list[str]  # casefolded "code\0name", what the filter searches
    code_width: int
    name_width: int
    hidden: list[bool] | None = None  # a manual setting: not offered in pickers
    rules: list[int] | None = None  # how many rules use each item (None: no Rules column)

    @classmethod
    def build(cls, rows: Sequence[tuple], rule_counts: dict[int, int] | None = None) -> TableData:
        """From `(id, code, name, status[, visible])` tuples, sorted as they should show; with
        `rule_counts` the table gets a Rules column."""
        ids = [r[0] for r in rows]
        codes = [r[1] or "" for r in rows]
        names = [r[2] for r in rows]
        return cls(
            ids=ids,
            codes=codes,
            names=names,
            archived=[r[3] == "archived" for r in rows],
            haystacks=[f"{c}\x00{n}".casefold() for c, n in zip(codes, names, strict=True)],
            code_width=max(map(len, codes), default=0),
            name_width=max(map(len, names), default=4),
            hidden=[not r[4] for r in rows] if rows and len(rows[0]) > 4 else None,
            rules=[rule_counts.get(i, 0) for i in ids] if rule_counts is not None else None,
        )

    @classmethod
    def empty(cls) -> TableData:
        return cls.build([])


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)


class ItemTable(VirtualTable):
    """Rows of code, name and status; a cursor; filter with `set_filter`."""

    COMPONENT_CLASSES = {
        "item-table--archived",
    }
    DEFAULT_CSS = """
    ItemTable { height: 1fr; }
    ItemTable > .item-table--archived { color: $text-muted; text-style: italic; }
    """

    class Typed(Message):
        """A printable key on the table: the page starts (or continues) the filter with it."""

        def __init__(self, character: str) -> None:
            super().__init__()
            self.character = character

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._data = TableData.empty()
        self._filter = ""
        self._show_archived = False
        self.attention: frozenset[int] = (
            frozenset()
        )  # items marked ▲: something points at them (Needs attention)

    # -- data -------------------------------------------------------------------------------------

    @property
    def total_count(self) -> int:
        return len(self._data.ids)

    @property
    def archived_count(self) -> int:
        return sum(self._data.archived)

    @property
    def show_archived(self) -> bool:
        return self._show_archived

    @property
    def filter_text(self) -> str:
        return self._filter

    def _row(self, index: int) -> TableRow:
        d = self._data
        status = "archived" if d.archived[index] else "hidden" if d.hidden and d.hidden[index] else "active"
        rules = d.rules[index] if d.rules else 0
        return TableRow(d.ids[index], printable(d.codes[index]), printable(d.names[index]), status, rules)

    def select_id(self, item_id: int) -> None:
        """Put the cursor on this item if it is shown."""
        self._apply(keep_id=item_id, fallback=self.cursor)

    @property
    def current_row(self) -> TableRow | None:
        if 0 <= self.cursor < len(self._visible):
            return self._row(self._visible[self.cursor])
        return None

    def _current_id(self) -> int | None:
        if 0 <= self.cursor < len(self._visible):
            return self._data.ids[self._visible[self.cursor]]
        return None

    def visible_rows(self) -> list[TableRow]:
        return [self._row(i) for i in self._visible]

    def set_data(self, data: TableData) -> None:
        """Replace the data; the cursor stays on the same item (by id) when it is still shown."""
        keep, old_cursor = self._current_id(), self.cursor
        self._data = data
        self._apply(keep_id=keep, fallback=old_cursor)

    def set_filter(self, text: str) -> None:
        if text == self._filter:
            return
        keep = self._current_id()
        self._filter = text
        self._apply(keep_id=keep, fallback=0)

    def set_show_archived(self, show: bool) -> None:
        keep = self._current_id()
        self._show_archived = show
        self._apply(keep_id=keep, fallback=self.cursor)

    def _apply(self, *, keep_id: int | None, fallback: int) -> None:
        needle = self._filter.casefold().strip()
        data = self._data
        hay = data.haystacks
        if self._show_archived:
            visible = [i for i, h in enumerate(hay) if needle in h] if needle else list(range(len(hay)))
        else:
            archived = data.archived
            if needle:
                visible = [i for i, h in enumerate(hay) if needle in h and not archived[i]]
            else:
                visible = [i for i, a in enumerate(archived) if not a]
        cursor = None
        if keep_id is not None:
            ids = data.ids
            cursor = next((pos for pos, i in enumerate(visible) if ids[i] == keep_id), None)
        self.show_rows(visible, fallback if cursor is None else cursor)

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character and event.character not in "\t\r\n":
            event.stop()
            event.prevent_default()
            self.post_message(self.Typed(event.character))

    # -- rendering --------------------------------------------------------------------------------

    def _columns(self, width: int) -> tuple[int, int]:
        fixed = STATUS_WIDTH + (RULES_WIDTH + 1 if self._data.rules is not None else 0)
        available = width - fixed - 4
        longest_code, longest_name = self._data.code_width, self._data.name_width
        # Codes as wide as they need while names fit; when both cannot, at most half for the code.
        code_w = (
            min(max(4, longest_code), max(available // 2, available - longest_name)) if longest_code else 0
        )
        name_w = max(1, width - code_w - fixed - (4 if code_w else 3))
        return code_w, name_w

    def _line(self, code: str, name: str, status: str, width: int, rules: str = "") -> str:
        code_w, name_w = self._columns(width)
        code_part = f"{_fit(code, code_w)} " if code_w else ""
        rules_part = f"{rules:>{RULES_WIDTH}} " if self._data.rules is not None else ""
        line = f" {code_part}{_fit(name, name_w)} {rules_part}{_fit(status, STATUS_WIDTH)} "
        return line[:width].ljust(width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("virtual-table--header")
            return Strip([Segment(self._line("Code", "Name", "Status", width, "Rules"), style)], width)
        index = round(self.scroll_y) + y - 1
        if index >= len(self._visible):
            if y == 1 and not self._visible:
                message = f" No item matches “{self._filter}”" if self._filter else " This list is empty"
                muted = base + self.get_component_rich_style("item-table--archived")
                return Strip([Segment(_fit(printable(message), width), muted)], width)
            return Strip.blank(width, base)
        row = self._row(self._visible[index])
        style: Style = base
        if row.status != "active":
            style += self.get_component_rich_style("item-table--archived")
        if index == self.cursor:
            style += self.get_component_rich_style("virtual-table--cursor")
        rules = f"{row.rules:,}" if row.rules else ""
        name = f"▲ {row.name}" if row.id in self.attention else row.name
        return Strip([Segment(self._line(row.code, name, row.status, width, rules), style)], width)

    def set_attention(self, ids: frozenset[int]) -> int:
        """Mark these items; returns how many of this list's items are marked."""
        self.attention = ids
        self.refresh()
        return sum(1 for i in self._data.ids if i in ids) if ids else 0
