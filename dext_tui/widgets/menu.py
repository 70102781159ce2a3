"""A dropdown menu: a modal OptionList placed under the widget that opened it, with a key per entry."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class MenuItem:
    id: str
    label: str
    key: str
    enabled: bool = True
    why_disabled: str = ""


class DropdownMenu(ModalScreen[str | None]):
    """Dismisses with the chosen item's id, or None (escape, or a click outside the menu)."""

    DEFAULT_CSS = """
    DropdownMenu { align: left top; background: $background 0%; }
    DropdownMenu > OptionList {
        width: auto; min-width: 34; max-width: 70; height: auto; max-height: 14;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, items: list[MenuItem], anchor: Region) -> None:
        super().__init__()
        self.items = items
        self._anchor = anchor

    def compose(self) -> ComposeResult:
        options = []
        for item in self.items:
            label = Text.assemble((f"{item.key}  ", "bold"), item.label)
            if not item.enabled and item.why_disabled:
                label.append(f"  ({item.why_disabled})", style="italic")
            options.append(Option(label, id=item.id, disabled=not item.enabled))
        yield OptionList(*options, id="menu")

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        width, height = self.app.size
        x = min(self._anchor.x, max(0, width - 50))
        y = self._anchor.bottom
        if y + len(self.items) + 2 > height:
            y = max(0, self._anchor.y - len(self.items) - 2)
        menu.styles.offset = (x, y)
        menu.focus()

    def on_key(self, event: events.Key) -> None:
        for item in self.items:
            if event.key == item.key and item.enabled:
                event.stop()
                self.dismiss(item.id)
                return

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_click(self, event: events.Click) -> None:
        if event.widget is self:
            self.dismiss(None)
