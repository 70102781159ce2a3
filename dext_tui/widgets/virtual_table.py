"""A table that renders only the rows on screen (Line API): the cursor, scrolling and keys every big
table of the app shares. Subclasses hold the rows, decide which are shown (`show_rows`) and draw one
line each (`render_line`; line 0 is the header)."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView


class VirtualTable(ScrollView, can_focus=True):
    # The header and cursor look the same in every table (subclasses add their own row styles).
    COMPONENT_CLASSES = {"virtual-table--header", "virtual-table--cursor"}
    DEFAULT_CSS = """
    VirtualTable > .virtual-table--header { text-style: bold; background: $panel; }
    VirtualTable > .virtual-table--cursor { background: $block-cursor-blurred-background; }
    VirtualTable:focus > .virtual-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold;
    }
    """
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=True)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._visible: list[int] = []  # indexes into the subclass's rows, in display order

    @property
    def row_count(self) -> int:
        return len(self._visible)

    @property
    def current_index(self) -> int | None:
        """The current row's index in the data (not its position in the filtered view)."""
        if 0 <= self.cursor < len(self._visible):
            return self._visible[self.cursor]
        return None

    def show_rows(self, visible: list[int], cursor: int) -> None:
        """Show these rows (indexes into the data), with the cursor at display position `cursor`."""
        self._visible = visible
        self.virtual_size = Size(self.size.width, len(visible) + 1)
        self.cursor = min(max(cursor, 0), max(len(visible) - 1, 0))
        self._scroll_to_cursor()
        self.refresh()

    @property
    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self._page_height:
            self.scroll_to(y=self.cursor - self._page_height + 1, animate=False, immediate=True)

    def move_cursor(self, delta: int) -> None:
        if not self._visible:
            return
        self.cursor = min(max(self.cursor + delta, 0), len(self._visible) - 1)
        self._scroll_to_cursor()

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(direction * self._page_height)

    def action_jump(self, where: int) -> None:
        if self._visible:
            self.move_cursor((len(self._visible) - 1 if where < 0 else 0) - self.cursor)

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_y) + event.y - 1
        if 0 <= row < len(self._visible) and event.y >= 1:
            self.cursor = row

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._visible) + 1)
        self._scroll_to_cursor()
