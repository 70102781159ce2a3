"""A one-line key bar: the keys that apply now, as text.

Textual's Footer builds a widget per key (and rebuilds them at every focus change), which cost this app
a third of its start-up. One Static with one Rich Text shows the same thing; the command palette key
sits at the right.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KeyBar(Static):
    COMPONENT_CLASSES = {"keybar--key", "keybar--off"}
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $footer-background; color: $footer-foreground; }
    KeyBar > .keybar--key { color: $footer-key-foreground; text-style: bold; }
    KeyBar > .keybar--off { color: $footer-foreground 50%; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self.call_after_refresh(self._changed, self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, _screen: object) -> None:
        app = self.app
        key_style = self.get_component_rich_style("keybar--key")
        off_style = self.get_component_rich_style("keybar--off")
        line = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        palette = None
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = binding
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            line.append(f" {app.get_key_display(binding)} ", style=key_style if enabled else off_style)
            line.append(f"{binding.description} ", style="" if enabled else off_style)
        if palette is not None:
            hint = Text.assemble((f" {app.get_key_display(palette)}", key_style), " palette ")
            room = self.size.width - hint.cell_len - 1
            if line.cell_len > room > 0:
                # Too many keys for the width: the palette (which lists every action) stays in view.
                line.truncate(room, overflow="ellipsis")
            pad = max(1, self.size.width - line.cell_len - hint.cell_len)
            line.append(" " * pad)
            line.append_text(hint)
        self.update(line)

    def on_resize(self) -> None:
        self._changed(self.screen)
