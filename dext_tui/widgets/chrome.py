"""Light widgets for the first screen: a title bar and one-line action buttons.

Textual's Header is four widgets and its Button carries some 250 lines of CSS for variants this app does
not use; on the first screen they cost a fifth of the start-up (parsing CSS, styling nodes). These do
the same job with one Static each and a few lines of CSS. Dialogs, shown later, keep Textual's Button.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static


class TitleBar(Static):
    """`≡ dext-tui — Workspace` across the top; clicking it opens the command palette."""

    DEFAULT_CSS = """
    TitleBar {
        dock: top; height: 1; width: 1fr; content-align: center middle;
        background: $panel; color: $foreground;
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "title", self._retitle)
        self.watch(self.app, "sub_title", self._retitle)

    def _retitle(self, _value: str = "") -> None:
        app = self.app
        # The app's title and sub_title are already printable text (see app.sub_title); never markup.
        self.update(Text(f"{app.title} — {app.sub_title}" if app.sub_title else app.title, no_wrap=True))

    def on_click(self) -> None:
        self.app.action_command_palette()


class ActionButton(Static, can_focus=True):
    """A one-line button: Enter, space or a click presses it (posts `ActionButton.Pressed`)."""

    DEFAULT_CSS = """
    ActionButton {
        width: auto; height: 1; padding: 0 1; margin: 0 2 0 0;
        background: $surface-lighten-2; color: $foreground; text-style: bold;
    }
    ActionButton.-success { background: $success; color: $text; }
    ActionButton.-primary { background: $primary; color: $text; }
    ActionButton:hover { background: $primary-darken-1; color: $text; }
    ActionButton:focus { text-style: bold reverse; }
    """
    BINDINGS = [Binding("enter,space", "press", "Press", show=False)]

    class Pressed(Message):
        def __init__(self, button: ActionButton) -> None:
            super().__init__()
            self.button = button

        @property
        def control(self) -> ActionButton:
            return self.button

    def __init__(self, label: str, *, id: str, variant: str = "default") -> None:
        super().__init__(Text(label, no_wrap=True), id=id, classes=f"-{variant}")

    def action_press(self) -> None:
        self.post_message(self.Pressed(self))

    def on_click(self) -> None:
        self.action_press()
