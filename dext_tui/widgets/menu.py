"""A dropdown menu: a modal OptionList placed under the widget that opened it."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class DropdownMenu(ModalScreen[str | None]):
    """Dismisses with the chosen option's id, or None (escape, or a click outside)."""

    DEFAULT_CSS = """
    DropdownMenu { align: left top; background: $background 0%; }
    DropdownMenu > OptionList {
        width: auto; min-width: 30; max-width: 60; height: auto; max-height: 12;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", show=True)]

    def __init__(self, options: list[Option], anchor: Region) -> None:
        super().__init__()
        self._options = options
        self._anchor = anchor

    def compose(self) -> ComposeResult:
        yield OptionList(*self._options, id="menu")

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        width, height = self.app.size
        x = min(self._anchor.x, max(0, width - 40))
        y = self._anchor.bottom
        if y + len(self._options) + 2 > height:
            y = max(0, self._anchor.y - len(self._options) - 2)
        menu.styles.offset = (x, y)
        menu.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_click(self, event: events.Click) -> None:
        if event.widget is self:
            self.dismiss(None)
