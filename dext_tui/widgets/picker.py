"""Choosing one list item: a field that shows the choice, and a picker screen to make it.

The picker lists a whole list (50,000 suppliers is ordinary) in the virtual ItemTable and filters in
memory as you type; hidden and archived items are not offered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from dext_tui.core.domain import ItemRef, Kind
from dext_tui.core.text import printable
from dext_tui.widgets.item_table import ItemTable, TableData


@dataclass(frozen=True, slots=True)
class Picked:
    """The picker's answer: an item, or `item=None` for "no value" (cancelling dismisses with None)."""

    item: ItemRef | None


def offered(rows: list[tuple]) -> TableData:
    """What a picker offers from `(id, code, name, status, visible)` rows: active, visible items."""
    return TableData.build([r for r in rows if r[3] == "active" and (len(r) < 5 or r[4])])


async def offered_items(app: Any, cache: dict[Kind, TableData], kind: Kind) -> TableData:
    """What a dialog's picker offers from one list: read once per dialog (`cache`), off the UI thread."""
    data = cache.get(kind)
    if data is None:
        rows = await asyncio.to_thread(app.service.item_tuples, app.workspace, kind)
        data = cache[kind] = await asyncio.to_thread(offered, rows)
    return data


class PickerScreen(ModalScreen[Picked | None]):
    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical {
        width: 80; max-width: 96%; height: 80%; border: thick $primary; background: $surface; padding: 0 1;
    }
    PickerScreen .title { text-style: bold; color: $accent; }
    PickerScreen .help { color: $text-muted; height: 1; }
    PickerScreen #picker-filter { margin: 1 0 0 0; }
    PickerScreen #picker-count { color: $text-muted; height: 1; }
    """
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("ctrl+d", "clear", "No value", priority=True),  # over the filter's delete-right
    ]

    def __init__(self, title: str, data: TableData, *, current: int | None = None, allow_none: bool = True):
        super().__init__()
        self._title = title
        self._data = data
        self._current = current
        self._allow_none = allow_none

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title), classes="title")
            keys = "Type to filter · ↑↓ choose · Enter pick · Esc cancel"
            yield Static(keys + (" · ctrl+d no value" if self._allow_none else ""), classes="help")
            yield Input(placeholder="filter by code or name", id="picker-filter", compact=True)
            yield ItemTable(id="picker-table")
            yield Static("", id="picker-count")

    def on_mount(self) -> None:
        table = self.query_one(ItemTable)
        table.set_data(self._data)
        if self._current is not None:
            table.select_id(self._current)
        self._count()
        box = self.query_one(Input)
        # Watch the value itself rather than wait for Input.Changed: the rows then change in the same
        # frame as the text (one repaint per keystroke, not two).
        self.watch(box, "value", self._filter, init=False)
        box.focus()

    @property
    def table(self) -> ItemTable:
        return self.query_one(ItemTable)

    def _count(self) -> None:
        table = self.table
        text = f"{table.row_count:,} of {table.total_count - table.archived_count:,}"
        self.query_one("#picker-count", Static).update(text)

    def _filter(self, value: str) -> None:
        self.table.set_filter(value)
        self._count()

    @on(ItemTable.Typed)
    def _typed(self, event: ItemTable.Typed) -> None:
        box = self.query_one(Input)
        box.focus()
        box.insert_text_at_cursor(event.character)

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self) -> None:
        self._pick()

    def on_key(self, event: events.Key) -> None:
        if event.key == "enter" and self.table.has_focus:
            event.stop()
            self._pick()

    def on_click(self, event: events.Click) -> None:
        if event.chain == 2 and isinstance(event.widget, ItemTable):
            self._pick()

    def _pick(self) -> None:
        row = self.table.current_row
        if row is None:
            self.notify("Nothing matches the filter", severity="warning")
            return
        index = self.table.current_index
        assert index is not None
        d = self._data
        self.dismiss(Picked(ItemRef(d.ids[index], d.codes[index] or None, d.names[index])))

    def action_clear(self) -> None:
        if self._allow_none:
            self.dismiss(Picked(None))

    def action_move(self, delta: int) -> None:
        self.table.move_cursor(delta)

    def action_page(self, direction: int) -> None:
        self.table.action_page(direction)


class PickerField(Static, can_focus=True):
    """A form field holding one list item: Enter (or a click) opens the picker, Delete clears it."""

    DEFAULT_CSS = """
    PickerField { width: 1fr; height: 1; background: $boost; padding: 0 1; }
    PickerField:focus { background: $primary 30%; text-style: bold; }
    PickerField.-empty { color: $text-muted; }
    """
    BINDINGS = [
        Binding("enter,space", "open", "Choose", show=False),
        Binding("delete,backspace", "clear", "Clear", show=False),
        Binding("down", "app.focus_next", "Next", show=False),
        Binding("up", "app.focus_previous", "Previous", show=False),
    ]

    class Open(Message):
        def __init__(self, field: PickerField) -> None:
            super().__init__()
            self.field = field

    class Changed(Message):
        def __init__(self, field: PickerField) -> None:
            super().__init__()
            self.field = field

    def __init__(self, kind: Kind, *, value: ItemRef | None = None, required: bool = False, id: str) -> None:
        super().__init__(id=id)
        self.kind = kind
        self.value = value
        self.required = required

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        self.set_class(self.value is None, "-empty")
        if self.value is None:
            self.update(Text("— (required: Enter to choose)" if self.required else "— (none)"))
        else:
            self.update(Text(printable(self.value.label) + "  ▾", no_wrap=True, overflow="ellipsis"))

    def set_value(self, value: ItemRef | None) -> None:
        self.value = value
        self._show()
        self.post_message(self.Changed(self))

    def action_open(self) -> None:
        self.post_message(self.Open(self))

    def action_clear(self) -> None:
        if not self.required and self.value is not None:
            self.set_value(None)

    def on_click(self) -> None:
        self.focus()
        self.action_open()
