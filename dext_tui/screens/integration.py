"""Connections › Integrations: what is connected, its health, and what to do about it."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Label, ProgressBar, Static

from dext_tui.core.domain import ALL_KINDS, ConnectionInfo, ConnectionStatus, Kind, ListCounts, as_utc
from dext_tui.core.service import RefreshEvent
from dext_tui.core.text import printable

STATUS_TEXT = {
    ConnectionStatus.CONNECTED: "● Connected",
    ConnectionStatus.EXPIRED: "▲ Expired",
    ConnectionStatus.DISCONNECTED: "○ Disconnected",
}


def when(value: datetime | None, now: datetime | None = None) -> str:
    value = as_utc(value)
    if value is None:
        return "never"
    stamp = value.strftime("%Y-%m-%d %H:%M UTC")
    if now is None:
        return stamp
    seconds = int((now - value).total_seconds())
    if seconds < 60:
        ago = "just now"
    elif seconds < 3600:
        ago = f"{seconds // 60} min ago"
    elif seconds < 86400:
        ago = f"{seconds // 3600} h ago"
    else:
        ago = f"{seconds // 86400} days ago"
    return f"{stamp} ({ago})"


def short_when(value: datetime | None) -> str:
    value = as_utc(value)
    return value.strftime("%d %b %H:%M") if value else "never"


class IntegrationPage(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="integration", classes="page")
        self.info: ConnectionInfo | None = None
        self._loaded = False  # show_info has been called (maybe before the table was built)
        self._table_ready = False
        self._pending_now: datetime | None = None

    def compose(self) -> ComposeResult:
        yield Label("Connections › Integrations", classes="title")
        with Vertical(id="card"):
            yield Static("Loading…", id="card-body")
            with Horizontal(id="card-actions"):
                yield Button("Manage Connection ▾", id="manage", variant="default", compact=True)
                yield Button("Reconnect", id="reconnect", variant="success", compact=True)
                yield Button("Connect…", id="connect", variant="primary", compact=True)
        yield Label("Lists", classes="subtitle")
        yield ProgressBar(id="refresh-progress", show_eta=False, total=len(ALL_KINDS))
        table: DataTable[str | Text] = DataTable(id="lists", cursor_type="none", zebra_stripes=False)
        yield table

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"manage": "manage_menu", "reconnect": "reconnect", "connect": "connect"}
        if event.button.id in actions:
            event.stop()
            getattr(self.app, f"action_{actions[event.button.id]}")()

    def on_mount(self) -> None:
        table = self.query_one("#lists", DataTable)
        table.add_column("List", key="list", width=13)
        table.add_column("Items", key="items", width=7)
        table.add_column("Refreshed", key="last", width=12)
        table.add_column("Progress", key="progress", width=34)
        for kind in ALL_KINDS:
            table.add_row(kind.label, "", "", "", key=kind.value)
        self.query_one("#refresh-progress").display = False
        self._table_ready = True
        self.show_info(self.info, now=self._pending_now) if self._loaded else self._show_buttons(None)

    def _show_buttons(self, info: ConnectionInfo | None) -> None:
        self.query_one("#manage").display = info is not None
        self.query_one("#reconnect").display = info is not None and info.status == ConnectionStatus.EXPIRED
        self.query_one("#connect").display = info is None

    def show_info(self, info: ConnectionInfo | None, *, now: datetime | None = None) -> None:
        self.info, self._loaded, self._pending_now = info, True, now
        if not self._table_ready:
            return  # on_mount shows it
        body = self.query_one("#card-body", Static)
        card = self.query_one("#card")
        card.remove_class("connected", "expired", "disconnected")
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        if info is None:
            card.add_class("disconnected")
            grid.add_row("Status", Text("○ Not connected", style="bold"))
            grid.add_row("", Text("Connect accounting software to pull its lists (c)."))
        else:
            label = STATUS_TEXT[info.status]
            card.add_class(info.status.value)
            grid.add_row("Provider", Text(info.provider_label))
            grid.add_row("Organisation", Text(printable(info.tenant_name)))
            if info.target:
                grid.add_row(
                    "Ledger" if info.provider == "beancount" else "Target", Text(printable(info.target))
                )
            status = Text(label, style="bold")
            grid.add_row("Status", status)
            if info.status_reason:
                grid.add_row("Reason", Text(printable(info.status_reason)))
            grid.add_row("Connected since", Text(when(info.connected_at)))
            grid.add_row("Last refresh", Text(when(info.last_refreshed_at, now)))
            if info.status == ConnectionStatus.EXPIRED:
                grid.add_row(
                    "", Text("Reconnect (e) to resume; every rule and setting is kept.", style="italic")
                )
        body.update(grid)
        self._show_buttons(info)
        table = self.query_one("#lists", DataTable)
        syncs = {s.kind: s for s in info.lists} if info else {}
        for kind in ALL_KINDS:
            sync = syncs.get(kind)
            table.update_cell(
                kind.value, "items", f"{sync.total:,}" if sync and sync.last_success_at else "—"
            )
            table.update_cell(kind.value, "last", short_when(sync.last_success_at) if sync else "")
            if sync and sync.error:
                table.update_cell(kind.value, "progress", Text("✗ " + printable(sync.error)))
        self.refresh_bindings()

    # -- refresh progress -------------------------------------------------------------------------

    def refresh_started(self, kinds: tuple[Kind, ...]) -> None:
        bar = self.query_one("#refresh-progress", ProgressBar)
        bar.update(total=len(kinds), progress=0)
        bar.display = True
        table = self.query_one("#lists", DataTable)
        for kind in ALL_KINDS:
            table.update_cell(kind.value, "progress", "waiting…" if kind in kinds else "")

    def refresh_progress(self, event: RefreshEvent) -> None:
        table = self.query_one("#lists", DataTable)
        bar = self.query_one("#refresh-progress", ProgressBar)
        if event.state == "reading":
            for row_key in list(table.rows):
                if table.get_cell(row_key, "progress") == "waiting…":
                    table.update_cell(row_key, "progress", "reading…")
        elif event.state == "applying" and event.kind:
            table.update_cell(event.kind.value, "progress", "saving…")
        elif event.state in ("done", "failed") and event.kind and event.counts:
            table.update_cell(event.kind.value, "progress", Text(progress_text(event.counts)))
            if event.counts.ok:
                table.update_cell(event.kind.value, "items", f"{event.counts.total:,}")
            bar.advance(1)

    def refresh_finished(self) -> None:
        self.query_one("#refresh-progress").display = False


def progress_text(counts: ListCounts) -> str:
    if counts.error:
        return "✗ " + printable(counts.error)
    summary = counts.summary().split(": ", 1)[1]
    return "✓ " + ("unchanged" if counts.unchanged_source else summary)
