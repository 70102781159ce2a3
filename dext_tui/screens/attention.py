"""Needs attention (a on the Integration page) and Safety copies (s): two modal lists with their actions.

Needs attention lists every rule field, item setting and unpublished cost field that points at an item
nobody can see or use, with the reason and the fix; `enter` takes the first step of the fix (Merge lists,
the rule, the cost, the list). Safety copies lists the snapshots and restores one after a confirmation.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from dext_tui.core.text import printable

if TYPE_CHECKING:
    from dext_tui.core.attention import Attention, Entry
    from dext_tui.core.snapshots import SnapshotInfo

SHOWN = 500  # rows in the table; the CLI lists every one

PROBLEM_STYLE = {"former": "yellow", "set-aside": "yellow", "archived": "red", "hidden": "dim"}


def where_text(e: Entry) -> str:
    field = e.field.replace("_", " ")
    if e.where == "rule":
        return f"Rule {e.owner}: {field}"
    if e.where == "setting":
        return f"Item {e.owner}: {field}"
    return f"Cost {e.owner}{f' line {e.line}' if e.line else ''}: {field}"


class _ListModal(ModalScreen[Any]):
    DEFAULT_CSS = """
    _ListModal { align: center middle; }
    _ListModal > Vertical {
        width: 96%; max-width: 130; height: 90%; border: thick $primary; background: $surface; padding: 0 1;
    }
    _ListModal .title { text-style: bold; color: $accent; }
    _ListModal .help { color: $text-muted; height: auto; }
    _ListModal DataTable { height: 1fr; }
    _ListModal #detail { height: auto; min-height: 2; padding: 1 0 0 0; }
    """


class AttentionScreen(_ListModal):
    """Every reference to an item nobody can see or use, with its fix."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("enter", "fix", "Fix", priority=True),
    ]

    def __init__(self, report: Attention) -> None:
        super().__init__()
        self.report = report
        self.entries = report.entries()[:SHOWN]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Needs attention", classes="title")
            more = len(self.report.entries()) - len(self.entries)
            tail = f" The first {SHOWN:,} are shown ({more:,} more: dext-tui attention)." if more > 0 else ""
            yield Static(Text(self.report.summary() + tail), classes="help")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="entries")
            yield Static(id="detail")
            yield Static(Text("enter: take the fix  ·  escape: close"), classes="help")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Where", "Item", "Problem")
        for n, e in enumerate(self.entries):
            item = Text(f"{e.item.kind.singular}: {printable(e.item.label)}")
            problem = Text(e.problem, style=PROBLEM_STYLE.get(e.problem, ""))
            table.add_row(Text(where_text(e)), item, problem, key=str(n))
        table.focus()
        self._show(0)

    def _show(self, row: int) -> None:
        detail = self.query_one("#detail", Static)
        if not self.entries:
            detail.update(Text("Every rule, setting and cost points at an item you can see.", style="green"))
            return
        e = self.entries[min(row, len(self.entries) - 1)]
        detail.update(Text(f"Fix: {printable(e.fix)}"))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def action_fix(self) -> None:
        if not self.entries:
            self.dismiss(None)
            return
        row = self.query_one(DataTable).cursor_row
        self.dismiss(self.entries[row])


class SnapshotsScreen(_ListModal):
    """The safety copies; enter restores one (after a confirmation), with nothing connected."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("enter", "restore", "Restore", priority=True),
    ]

    def __init__(self, copies: list[SnapshotInfo], connected: str | None) -> None:
        super().__init__()
        self.copies = copies
        self.connected = connected  # the connection's label, when one is live (restore then refused)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Safety copies", classes="title")
            yield Static(
                Text(
                    "Lists, rules and settings as they were before a connect, a disconnect or a restore."
                    " Restoring one keeps a safety copy of now first."
                    + (
                        f" Connected to {self.connected}: disconnect first to restore one."
                        if self.connected
                        else ""
                    )
                ),
                classes="help",
            )
            yield DataTable(cursor_type="row", zebra_stripes=True, id="copies")
            yield Static(Text("enter: restore  ·  escape: close"), classes="help")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "Taken", "What", "Items", "Rules", "Settings")
        for c in self.copies:
            table.add_row(
                str(c.id),
                f"{c.taken_at:%Y-%m-%d %H:%M}",
                Text(printable(c.what)),
                f"{c.items:,}",
                f"{c.rules:,}",
                f"{c.settings:,}",
                key=str(c.id),
            )
        table.focus()

    def action_restore(self) -> None:
        if not self.copies:
            self.dismiss(None)
            return
        if self.connected:  # the service would refuse: say so before asking anything
            self.notify(
                f"Connected to {self.connected}: disconnect first (Disconnect › Keep the current lists),"
                " then restore a safety copy.",
                title="Restore",
                severity="warning",
                markup=False,
            )
            return
        self._confirm(self.copies[self.query_one(DataTable).cursor_row])

    @work(group="snapshot-restore", exclusive=True)
    async def _confirm(self, copy: SnapshotInfo) -> None:
        from dext_tui.screens.dialogs import ConfirmDialog

        message = (
            f"Bring back safety copy {copy.id} ({copy.what}, {copy.taken_at:%Y-%m-%d %H:%M}):"
            f" {copy.items:,} items, {copy.rules:,} rules and {copy.settings:,} settings. The current lists"
            " and rules are kept as a safety copy first."
        )
        if await self.app.push_screen_wait(ConfirmDialog("Restore a safety copy", message, "Restore")):
            await asyncio.sleep(0)
            self.dismiss(copy.id)
