"""The Merge lists wizard's table: each former item on the left, the new item it maps to on the right.

A row's right side is in one of four states:
- chosen: the user (or "accept the sure ones") picked the new item: it will be mapped on Apply;
- suggested: only a suggestion, shown with how sure it is; not mapped unless accepted;
- left: the user chose to leave the former item as it is (with its rules);
- none: no suggestion and no choice yet.
Thousands of rows: rendered by line, filtered in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from dext_tui.core.text import printable
from dext_tui.widgets.item_table import _fit
from dext_tui.widgets.virtual_table import VirtualTable

SURE_WIDTH = 22
RULES_WIDTH = 5
MARKS = {"chosen": "✓", "suggested": "?", "left": "–", "none": " "}


@dataclass(slots=True)
class MergeLine:
    """One former item as the table shows it (text already printable)."""

    old_id: int
    old: str  # "code  name" or the name
    rules: int  # rule fields and settings that lean on it
    new: str = ""  # the chosen or suggested new item's label
    state: str = "none"  # chosen | suggested | left | none
    sure: str = ""  # "97% same code", "chosen", "left as a former item"

    @property
    def haystack(self) -> str:
        return f"{self.old}\x00{self.new}".casefold()


def item_label(code: str | None, name: str) -> str:
    """An item as one line of text: its code and its name, or only the code when the name is part of it
    (a ledger's Expenses:Home:Phone is named Home:Phone)."""
    name = printable(name)
    if not code:
        return name
    code = printable(code)
    return code if code.endswith(name) else f"{code}  {name}"


class MergeTable(VirtualTable):
    COMPONENT_CLASSES = {
        "merge-table--chosen",
        "merge-table--suggested",
        "merge-table--muted",
    }
    DEFAULT_CSS = """
    MergeTable { height: 1fr; }
    MergeTable > .merge-table--chosen { color: $success; }
    MergeTable > .merge-table--suggested { color: $warning; text-style: italic; }
    MergeTable > .merge-table--muted { color: $text-muted; text-style: italic; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[MergeLine] = []
        self._filter = ""

    def set_lines(self, lines: list[MergeLine]) -> None:
        self.lines = lines
        self._filter = ""
        self.show_rows(list(range(len(lines))), 0)

    def set_filter(self, text: str) -> None:
        needle = text.casefold().strip()
        if needle == self._filter:
            return
        keep = self.current_index
        self._filter = needle
        visible = [i for i, line in enumerate(self.lines) if needle in line.haystack] if needle else None
        if visible is None:
            visible = list(range(len(self.lines)))
        position = visible.index(keep) if keep in visible else 0
        self.show_rows(visible, position)

    @property
    def current_line(self) -> MergeLine | None:
        index = self.current_index
        return None if index is None else self.lines[index]

    def line_changed(self) -> None:
        """A row's choice changed (the caller updated its MergeLine): draw it again."""
        self.refresh()

    def _widths(self, width: int) -> tuple[int, int, int]:
        """(former item, new item, how sure): names get the room; the detail line under the table
        gives the whole reason."""
        sure_w = min(SURE_WIDTH, max(10, width // 6))
        free = width - sure_w - RULES_WIDTH - 9  # margins, the arrow, the mark and the gaps
        old_w = max(8, free // 2)
        return old_w, max(8, free - old_w), sure_w

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        old_w, new_w, sure_w = self._widths(width)
        if y == 0:
            style = base + self.get_component_rich_style("virtual-table--header")
            text = (
                f" {_fit('Former item', old_w)}    {_fit('New item', new_w)} {_fit('How sure', sure_w)}"
                f" {'Rules':>{RULES_WIDTH}} "
            )
            return Strip([Segment(text[:width].ljust(width), style)], width)
        position = round(self.scroll_y) + y - 1
        if position >= len(self._visible):
            if y == 1 and not self._visible:
                message = f" No former item matches “{self._filter}”" if self._filter else " Nothing to merge"
                muted = base + self.get_component_rich_style("merge-table--muted")
                return Strip([Segment(_fit(printable(message), width), muted)], width)
            return Strip.blank(width, base)
        line = self.lines[self._visible[position]]
        style: Style = base
        if position == self.cursor:
            style += self.get_component_rich_style("virtual-table--cursor")
        right_style = style
        if line.state == "chosen":
            right_style = base + self.get_component_rich_style("merge-table--chosen")
        elif line.state == "suggested":
            right_style = base + self.get_component_rich_style("merge-table--suggested")
        elif line.state in ("left", "none"):
            right_style = base + self.get_component_rich_style("merge-table--muted")
        if position == self.cursor:
            right_style += self.get_component_rich_style("virtual-table--cursor")
        new = line.new if line.state in ("chosen", "suggested") else ""
        if line.state == "left":
            new = "(left as a former item)"
        elif line.state == "none":
            new = "— (Enter to choose)"
        rules = f"{line.rules:,}" if line.rules else ""
        segments = [
            Segment(f" {_fit(line.old, old_w)} → ", style),
            Segment(f"{MARKS[line.state]} {_fit(new, new_w)} {_fit(line.sure, sure_w)}", right_style),
            Segment(f" {rules:>{RULES_WIDTH}} ", style),
        ]
        return Strip(segments).adjust_cell_length(width, style)
