"""Connections › Integrations: what is connected, its health, and what to do about it."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from dext_tui.core.domain import (
    ALL_KINDS,
    TARGET_LABELS,
    ConnectionInfo,
    ConnectionStatus,
    Kind,
    ListCounts,
    ListSyncInfo,
    RefreshEvent,
    WorkspaceOverview,
    as_utc,
    utcnow,
)
from dext_tui.core.text import printable
from dext_tui.widgets.chrome import ActionButton

STATUS_TEXT = {
    ConnectionStatus.CONNECTED: "● Connected",
    ConnectionStatus.EXPIRED: "▲ Expired",
    ConnectionStatus.DISCONNECTED: "○ Disconnected",
}


EVENT_STYLES = {"expired": "bold red", "disconnected": "yellow"}


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


RENEW_SOON_DAYS = 30


def expires_text(expires_at: datetime, now: datetime) -> Text:
    """`2027-11-25 (in 364 days)`; within a month, a warning to reconnect before it lapses."""
    days = (as_utc(expires_at) - now).days  # type: ignore[operator]
    text = Text(f"{expires_at:%Y-%m-%d} (in {days} day{'s' if days != 1 else ''})")
    if days <= RENEW_SOON_DAYS:
        text.stylize("bold yellow")
        text.append(" · reconnect (e) to renew it", style="italic")
    return text


def short_when(value: datetime | None) -> str:
    value = as_utc(value)
    return value.strftime("%d %b %H:%M") if value else "never"


class IntegrationPage(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="integration", classes="page")
        self.info: ConnectionInfo | None = None
        self._loaded = False  # show_info has been called (maybe before the table was built)
        self._built = False  # composed and mounted: show_info may touch its widgets
        self._shown: tuple[object, ...] | None = None  # what the card shows
        self._pending_now: datetime | None = None
        self._items: dict[Kind, str] = {}
        self._last: dict[Kind, str] = {}
        self._progress: dict[Kind, str] = {}
        # Each list's last pull as show_info last saw it (its last_attempt_at), and the lists whose pull
        # the page's own refresh has already reported: a pull the page did not watch (a reconnect, Change
        # connection, the CLI) shows in the Progress column from the connection's record instead.
        self._attempts: dict[Kind, datetime | None] = {}
        self._reported: set[Kind] = set()
        self._overview = WorkspaceOverview()

    def compose(self) -> ComposeResult:
        yield Static("Connections › Integrations", classes="title")
        with Vertical(id="card"):
            yield Static("Loading…", id="card-body")
            with Horizontal(id="card-actions"):
                yield ActionButton("Manage Connection ▾", id="manage")
                yield ActionButton("Reconnect", id="reconnect", variant="success")
                yield ActionButton("Merge lists…", id="merge", variant="primary")
                yield ActionButton("Connect…", id="connect", variant="primary")
        yield Static(id="lists")  # a progress bar is mounted above it while a refresh runs
        yield Static(id="timeline")

    def on_action_button_pressed(self, event: ActionButton.Pressed) -> None:
        actions = {
            "manage": "manage_menu",
            "reconnect": "reconnect",
            "connect": "connect",
            "merge": "merge_lists",
        }
        if event.button.id in actions:
            event.stop()
            getattr(self.app, f"action_{actions[event.button.id]}")()

    def on_mount(self) -> None:
        self._built = True
        app = self.app
        if self._loaded:
            self.show_info(self.info, now=self._pending_now)
        elif getattr(app, "ready", False):  # the app knew the connection before this page was built
            self.show_info(app.info, now=getattr(app, "clock", None) or utcnow())  # type: ignore[attr-defined]
        else:
            self._show_buttons(None)

    def _show_buttons(self, info: ConnectionInfo | None) -> None:
        self.query_one("#manage").display = info is not None
        self.query_one("#reconnect").display = info is not None and info.status == ConnectionStatus.EXPIRED
        self.query_one("#connect").display = info is None
        self.query_one("#merge").display = self._overview.can_merge  # also with nothing connected

    def show_overview(self, overview: WorkspaceOverview) -> None:
        """Lists to merge and what needs attention; shown with the next `show_info`."""
        if overview != self._overview:
            self._overview, self._shown = overview, None

    def _overview_rows(self, grid: Table, former: str) -> None:
        overview = self._overview
        if overview.to_merge:
            lists = ", ".join(k.label.lower() for k in overview.to_merge)
            grid.add_row("To merge", Text(f"{lists} from {former}: Merge lists (l)", style="bold yellow"))
        elif overview.can_merge:
            grid.add_row("To merge", Text("items left or skipped for later: Merge lists (l)", style="yellow"))
        if overview.attention:
            n = overview.attention
            grid.add_row(
                "Attention",
                Text(
                    f"{n:,} field{'s' if n != 1 else ''} of rules, settings or costs point"
                    f"{'s' if n == 1 else ''} at items nobody can see: Needs attention (a)",
                    style="bold yellow",
                ),
            )

    def show_info(self, info: ConnectionInfo | None, *, now: datetime | None = None) -> None:
        own = None if info else tuple(sorted((getattr(self.app, "own_totals", None) or {}).items()))
        shown = (info, when(info.last_refreshed_at, now) if info else None, own, now and now.date())
        if self._loaded and self._built and shown == self._shown:
            return  # the same as on screen (start-up reads the connection twice): no redraw
        self.info, self._loaded, self._pending_now = info, True, now
        if not self._built:
            return  # on_mount shows it
        self._shown = shown
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
            self._overview_rows(grid, "the lists set aside or replaced")
            grid.add_row(
                "", Text("Safety copies (s): lists and rules as they were, to restore.", style="dim")
            )
        else:
            label = STATUS_TEXT[info.status]
            card.add_class(info.status.value)
            grid.add_row("Provider", Text(info.provider_label))
            grid.add_row("Organisation", Text(printable(info.tenant_name)))
            if info.target:
                grid.add_row(TARGET_LABELS.get(info.provider, "Target"), Text(printable(info.target)))
            status = Text(label, style="bold")
            grid.add_row("Status", status)
            if info.status_reason:
                grid.add_row("Reason", Text(printable(info.status_reason)))
            grid.add_row("Connected since", Text(when(info.connected_at)))
            grid.add_row("Last refresh", Text(when(info.last_refreshed_at, now)))
            self._overview_rows(grid, "the former lists")
            if info.status == ConnectionStatus.CONNECTED and info.expires_at is not None:
                grid.add_row("Expires", expires_text(info.expires_at, now or utcnow()))
            if info.status == ConnectionStatus.EXPIRED:
                grid.add_row(
                    "", Text("Reconnect (e) to resume; every rule and setting is kept.", style="italic")
                )
        body.update(grid)
        self._show_buttons(info)
        syncs = {s.kind: s for s in info.lists} if info else {}
        own: dict[Kind, int] = {} if info else getattr(self.app, "own_totals", None) or {}
        if info is None:  # nothing connected: nothing is pulled, so no progress to show
            self._progress.clear()
            self._attempts.clear()
            self._reported.clear()
        for kind in ALL_KINDS:
            sync = syncs.get(kind)
            if info is None:  # the workspace's own lists
                self._items[kind] = f"{own.get(kind, 0):,}"
                self._last[kind] = "your own"
                continue
            self._items[kind] = f"{sync.total:,}" if sync and sync.last_success_at else "—"
            self._last[kind] = short_when(sync.last_success_at) if sync else ""
            self._show_pull(kind, sync)
        self._draw_lists()
        self._draw_timeline(info)
        self.refresh_bindings()

    def _draw_timeline(self, info: ConnectionInfo | None) -> None:
        """The connection's latest events, newest first: what happened, when, and why."""
        timeline = self.query_one("#timeline", Static)
        timeline.display = bool(info and info.recent)
        if not info or not info.recent:
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("Timeline", style="bold")
        text.append("  (s: safety copies of the lists before each connect and disconnect)\n", style="dim")
        for event in info.recent:
            text.append(f"{short_when(event.at):<12}  ")
            text.append(f"{event.to_status:<12}  ", style=EVENT_STYLES.get(event.to_status, ""))
            text.append(printable(event.reason or "") + "\n")
        text.rstrip()
        timeline.update(text)

    def _draw_lists(self) -> None:
        """The lists panel, as fixed columns of plain text: it is redrawn at every step of a refresh, and
        a Rich Table (let alone a DataTable) costs several times more to lay out for 8 short lines."""
        panel = Text(no_wrap=True, overflow="ellipsis")
        panel.append("Lists\n", style="bold")
        panel.append(f"{'List':<13}  {'Items':>7}  {'Refreshed':<12}  Progress\n", style="bold")
        for kind in ALL_KINDS:
            items, last = self._items.get(kind, ""), self._last.get(kind, "")
            panel.append(f"{kind.label:<13}  {items:>7}  {last:<12}  ")
            panel.append(self._progress.get(kind, ""))  # printable() already: shown literally
            panel.append("\n")
        panel.rstrip()
        self.query_one("#lists", Static).update(panel)

    # -- refresh progress -------------------------------------------------------------------------

    def _show_pull(self, kind: Kind, sync: ListSyncInfo | None) -> None:
        """The Progress column of a list from the connection's record. A refresh started here reports
        each list as it goes (refresh_progress); a reconnect or a change of connection pulls the lists
        in its dialog, whose events never reach this page: that pull shows here when the record says a
        list was read since the page last looked, and replaces whatever the column said before."""
        attempt = sync.last_attempt_at if sync else None
        seen = self._attempts.get(kind, attempt)  # the first look only notes the time
        self._attempts[kind] = attempt
        if kind in self._reported:  # this page's refresh has said what the pull did, counts and all
            self._reported.discard(kind)
        elif attempt != seen and sync is not None:
            self._progress[kind] = "" if sync.error else "✓ up to date"
        if sync and sync.error:
            self._progress[kind] = "✗ " + printable(sync.error)

    def refresh_started(self, kinds: tuple[Kind, ...]) -> None:
        from textual.widgets import ProgressBar

        self.query(".refresh-progress").remove()
        self.mount(ProgressBar(classes="refresh-progress", show_eta=False, total=len(kinds)), before="#lists")
        for kind in ALL_KINDS:
            self._progress[kind] = "waiting…" if kind in kinds else ""
        self._reported.clear()
        self._draw_lists()

    def refresh_progress(self, event: RefreshEvent) -> None:
        if event.state == "reading":
            for kind, text in self._progress.items():
                if text == "waiting…":
                    self._progress[kind] = "reading…"
        elif event.state == "waiting" and event.message:  # the provider limits calls: say so, not "reading"
            for kind, text in self._progress.items():
                if text == "reading…" or text.startswith("⏳"):
                    self._progress[kind] = "⏳ " + printable(event.message)
        elif event.state == "applying" and event.kind:
            self._progress[event.kind] = "saving…"
        elif event.state in ("done", "failed") and event.kind and event.counts:
            self._progress[event.kind] = progress_text(event.counts)
            self._reported.add(event.kind)
            if event.counts.ok:
                self._items[event.kind] = f"{event.counts.total:,}"
            for bar in self.query(".refresh-progress"):
                bar.advance(1)  # type: ignore[attr-defined] - the ProgressBar of refresh_started
        self._draw_lists()

    def refresh_finished(self) -> None:
        """The refresh ended, done or failed: a list it never reached (the connection turned out expired,
        the ledger had errors) says so, instead of "waiting…" or "reading…" until the next refresh."""
        self.query(".refresh-progress").remove()
        for kind, text in self._progress.items():
            if text.startswith(IN_PROGRESS):
                self._progress[kind] = "✗ not refreshed"
        self._draw_lists()


IN_PROGRESS = ("waiting…", "reading…", "saving…", "⏳")  # what the column says while a pull is under way


def progress_text(counts: ListCounts) -> str:
    if counts.error:
        return "✗ " + printable(counts.error)
    summary = counts.summary().split(": ", 1)[1]
    return "✓ " + ("unchanged" if counts.unchanged_source else summary)
