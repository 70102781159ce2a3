"""The Textual app: wires the service to the screens. Small on purpose; the work is in `core`."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from dext_tui.core.domain import (
    ALL_KINDS,
    DEFAULT_WORKSPACE,
    DEMO_WORKSPACE,
    ConnectionInfo,
    ConnectionStatus,
    Kind,
    ListCounts,
    RefreshEvent,
    WorkspaceOverview,
    normalise_workspace_name,
)
from dext_tui.core.text import printable
from dext_tui.screens.main import PAGES, MainScreen, page_key

if TYPE_CHECKING:
    from dext_tui.core.domain import DisconnectChoice
    from dext_tui.core.service import DextService, WorkspaceRef
    from dext_tui.screens.list_page import ListPage


ORM_IDLE_SECONDS = 2.0  # load the ORM after this long without a key press


def counts_message(counts: list[ListCounts]) -> str:
    """`Suppliers: 3 added, 1 archived` per changed list, then how many lists had no change."""
    if counts and all(c.unchanged_source for c in counts):
        if len(counts) == 1:
            return f"{counts[0].kind.label}: up to date (the ledger has not changed since the last refresh)."
        return "The ledger has not changed since the last refresh: every list is up to date."
    changed = [c for c in counts if c.error or c.added or c.changed or c.archived or c.restored]
    lines = [printable(c.summary()) for c in changed]
    quiet = len(counts) - len(changed)
    if quiet:
        lines.append(
            f"{'Other lists' if changed else 'All lists'}: no changes"
            if quiet > 1
            else printable(next(c for c in counts if c not in changed).summary())
        )
    return "\n".join(lines)


class DextApp(App[int]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "dext-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("f2,ctrl+w", "switch_workspace", "Workspace"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        *,
        data_dir: str | Path | None = None,
        workspace: str | None = None,
        demo: bool = False,
        service: DextService | None = None,
        clock: datetime | None = None,
    ) -> None:
        super().__init__()
        self._data_dir = data_dir
        self._workspace_name = workspace
        self._demo = demo
        self.service: DextService = service  # type: ignore[assignment] - set in _start
        self.workspace: WorkspaceRef = None  # type: ignore[assignment]
        self.info: ConnectionInfo | None = None
        self.own_totals: dict[Kind, int] = {}  # items in each own list, shown while nothing is connected
        self.overview = (
            WorkspaceOverview()
        )  # lists to merge, what needs attention (with or without a connection)
        self.clock = clock
        self.ready = False  # the store is open and the workspace and its connection known
        self._ready_event: asyncio.Event | None = None
        self.refreshing = False
        self._last_key = monotonic()

    # -- start-up ---------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        self._ready_event = asyncio.Event()
        self._open_quickly()  # before the screen is built, so its first paint shows the connection
        return MainScreen()

    def on_mount(self) -> None:
        if self.ready:
            self._settled()
        else:
            self._start()  # in a worker, while the first screen is painted

    def _workspace_wanted(self) -> str:
        return normalise_workspace_name(
            DEMO_WORKSPACE if self._demo else (self._workspace_name or DEFAULT_WORKSPACE)
        )

    def _open_quickly(self) -> None:
        """The usual start: the store exists at the current schema and the workspace exists, so opening
        is a few plain SQLite reads (milliseconds, no lock to wait for): do it before the first paint.
        Anything else (first run, a migration, a new workspace, making the demo, an error to report)
        is left to `_start`, which runs in the background and may take seconds."""
        from dext_tui.core.errors import DextError
        from dext_tui.core.service import DextService
        from dext_tui.store.engine import NeedsSetUp

        try:
            if self.service is None:
                self.service = DextService.open(self._data_dir, set_up=False)
            workspace = self.service.find_workspace(self._workspace_wanted())
            if workspace is None:
                return
            info = self.service.connection(workspace)
            if info is None:
                self.own_totals = self.service.list_totals(workspace)
        except (NeedsSetUp, DextError):
            return
        if self._demo and info is None and self.service.latest_connection_id(workspace) is None:
            return  # the demo workspace is connected (the first time only) by _start
        self.workspace, self.info = workspace, info
        self.sub_title = printable(workspace.name)
        self._set_ready()

    @work(exclusive=True, group="startup")
    async def _start(self) -> None:
        from dext_tui.core.errors import DextError
        from dext_tui.core.service import DextService

        try:
            if self.service is None:
                self.service = await asyncio.to_thread(DextService.open, self._data_dir)
            if self._demo:
                self.workspace = await self.service.ensure_demo(isolate=True)
            else:
                self.workspace = await asyncio.to_thread(
                    self.service.ensure_workspace, self._workspace_wanted()
                )
        except DextError as exc:
            self.exit(1, message=f"dext-tui: {printable(str(exc))}")
            return
        self.sub_title = printable(self.workspace.name)
        await self.reload_info()
        self._set_ready()
        self._settled()

    def _set_ready(self) -> None:
        self.ready = True
        assert self._ready_event is not None
        self._ready_event.set()
        self.refresh_bindings()

    def _settled(self) -> None:
        self.settle_memory()
        self.run_worker(self._load_overview(), group="overview", exclusive=True)
        # The ORM (sqlmodel, SQLAlchemy: about half a second of imports) is needed to save a rule, connect
        # or disconnect, not to read or refresh. Load it in a quiet moment (no key for a while, no
        # refresh), so it neither slows what the user is doing nor makes the first save wait.
        self._orm_timer = self.set_interval(ORM_IDLE_SECONDS / 2, self._load_orm_when_idle)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._last_key = monotonic()
        await super().on_event(event)

    def _load_orm_when_idle(self) -> None:
        if self.refreshing or monotonic() - self._last_key < ORM_IDLE_SECONDS:
            return
        self._orm_timer.stop()
        self._load_orm()

    @work(thread=True, group="startup-orm")
    def _load_orm(self) -> None:
        self.service.store.load_orm()

    def settle_memory(self) -> None:
        """Big, long-lived data (a 100,000-item list) has just arrived: move everything alive now out of
        the cyclic collector's way, so its full passes stop costing 100 ms pauses between key presses.
        Frozen objects are still freed as soon as nothing refers to them."""
        gc.freeze()

    async def wait_ready(self) -> None:
        """Actions taken in the first moments (before the store has loaded) wait for it here."""
        if not self.ready:
            assert self._ready_event is not None
            await self._ready_event.wait()

    def when_ready(self, callback: Callable[[], object]) -> None:
        """Run `callback` now if the store is open, else as soon as it is."""
        if self.ready:
            callback()
            return

        async def later() -> None:
            await self.wait_ready()
            callback()

        self.run_worker(later(), group="when-ready")

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("no main screen")

    async def _load_overview(self) -> None:
        """Lists to merge and Needs attention, read once the first screen is up (a big workspace takes a
        fraction of a second: not before the first paint)."""
        self.overview = await asyncio.to_thread(self.service.overview, self.workspace)
        self.main.integration.show_overview(self.overview)
        self.main.integration.show_info(self.info, now=self.clock or _now())
        for list_page in self._list_pages(ALL_KINDS):
            list_page.mark_attention(self.overview.attention_items)
        self.refresh_bindings()

    async def reload_info(self) -> None:
        self.info = await asyncio.to_thread(self.service.connection, self.workspace)
        if self.info is None:
            self.own_totals = await asyncio.to_thread(self.service.list_totals, self.workspace)
        # Recomputed after every refresh, reload, reconnect, change, merge, undo and disconnect (they all
        # end here): what Merge lists offers, and what needs attention.
        await self._load_overview()
        inbox = self.main.inbox_page()
        if inbox is not None:
            inbox.connection_changed()  # its remedies depend on the connection (expired: Reconnect)
        self.refresh_bindings()

    # -- what applies now -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Connection actions show only when they apply; refresh is greyed out while expired or running."""
        connection_actions = ("manage_menu", "refresh_all", "reconnect", "connect", "disconnect")
        if action not in (*connection_actions, "merge_lists", "undo_merge", "attention", "snapshots"):
            return True
        info = self.info
        if not self.ready:
            return False
        if action == "connect":
            return info is None
        if action == "merge_lists":  # with or without a connection: old items on offer are never stuck
            return self.overview.can_merge
        if action in ("attention", "snapshots"):
            return True
        if action == "undo_merge":  # a merge done with nothing connected is undone the same way
            return self.overview.can_undo
        if info is None:
            return False
        if action == "refresh_all":
            return None if self.refreshing or info.status != ConnectionStatus.CONNECTED else True
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not self.ready:
            return
        info = self.info
        if info is None:
            yield SystemCommand(
                "Connect accounting software", "Connect a Beancount ledger", self.action_connect
            )
        else:
            yield SystemCommand(
                "Refresh integration data",
                "Pull every list from the connected software",
                self.action_refresh_all,
            )
            yield SystemCommand(
                "Reconnect",
                "Connect the same books again; rules and settings are kept",
                self.action_reconnect,
            )
            yield SystemCommand(
                "Disconnect",
                "Disconnect: keep the lists, reinstate the ones from before, or merge later",
                self.action_disconnect,
            )
        if self.overview.can_merge:
            yield SystemCommand(
                "Merge lists", "Map the former lists' items to the current ones", self.action_merge_lists
            )
        if self.overview.can_undo:
            yield SystemCommand(
                "Undo last merge", "Put back what the last merge changed (asks first)", self.action_undo_merge
            )
        yield SystemCommand(
            "Needs attention",
            "Rules, settings and costs pointing at items nobody can see, and their fixes",
            self.action_attention,
        )
        yield SystemCommand(
            "Safety copies", "Lists and rules as they were: restore one", self.action_snapshots
        )
        yield SystemCommand("Add a rule", "A supplier, customer or payment-method rule", self._add_rule)
        yield SystemCommand(
            "Switch workspace", "Open or create another client workspace", self.action_switch_workspace
        )
        for n, (page, label) in enumerate(PAGES):
            yield SystemCommand(
                f"Go to {label}",
                f"Show {label} ({page_key(n)} in the sidebar)",
                lambda page=page: self.main.show_page(page),
            )
            if page.startswith("list-") and info is not None:
                kind = Kind(page.removeprefix("list-"))
                yield SystemCommand(
                    f"Reload {label}", f"Pull {label.lower()} only", lambda kind=kind: self.reload_list(kind)
                )

    # -- actions ----------------------------------------------------------------------------------

    def action_focus_sidebar(self) -> None:
        self.main.query_one("#sidebar").focus()

    def action_manage_menu(self) -> None:
        from dext_tui.widgets.menu import DropdownMenu, MenuItem

        if self.info is None:
            return
        page = self.main.integration
        button = page.query_one("#manage")
        self.main.show_page("integration")
        expired = self.info.status != ConnectionStatus.CONNECTED
        options = [
            MenuItem(
                "refresh",
                "Refresh integration data",
                "r",
                enabled=not expired and not self.refreshing,
                why_disabled="reconnect first" if expired else "already running",
            ),
            MenuItem("reconnect", "Reconnect…", "e"),
            MenuItem(
                "change",
                "Change connection…",
                "c",
                enabled=not self.refreshing,
                why_disabled="a refresh is running",
            ),
            MenuItem(
                "merge",
                "Merge lists…",
                "m",
                enabled=self.overview.can_merge,
                why_disabled="nothing to merge",
            ),
            MenuItem(
                "undo_merge",
                "Undo last merge",
                "u",
                enabled=self.service.merge_undo_available(self.workspace),
                why_disabled="no merge to undo",
            ),
            MenuItem(
                "disconnect",
                "Disconnect…",
                "d",
                enabled=not self.refreshing,
                why_disabled="a refresh is running",
            ),
        ]

        def chosen(choice: str | None) -> None:
            if choice == "refresh":
                self.action_refresh_all()
            elif choice == "reconnect":
                self.action_reconnect()
            elif choice == "disconnect":
                self.action_disconnect()
            elif choice == "change":
                self.action_change_connection()
            elif choice == "merge":
                self.action_merge_lists()
            elif choice == "undo_merge":
                self._undo_merge()

        self.push_screen(DropdownMenu(options, button.region), chosen)

    def _list_pages(self, kinds: Iterable[Kind]) -> list[ListPage]:
        """The pages of these lists that exist (a page is built when first shown)."""
        return [p for p in (self.main.list_page(k) for k in kinds) if p is not None]

    def action_refresh_all(self) -> None:
        self._refresh(ALL_KINDS)

    def reload_list(self, kind: Kind) -> None:
        self._refresh((kind,))

    @work(exclusive=True, group="refresh")
    async def _refresh(self, kinds: tuple[Kind, ...]) -> None:
        from dext_tui.core.errors import DextError

        await self.wait_ready()
        if self.info is None:
            self.notify("Nothing is connected: connect accounting software first (c).", severity="warning")
            return
        page = self.main.integration
        single = len(kinds) == 1
        self.refreshing = True
        page.refresh_started(kinds)
        for list_page in self._list_pages(kinds):
            list_page.set_status("Reloading…")

        def progress(event: RefreshEvent) -> None:
            page.refresh_progress(event)
            if event.state in ("done", "failed") and event.kind is not None and event.counts is not None:
                for list_page in self._list_pages((event.kind,)):
                    if single:
                        list_page.reloaded(event.counts)
                    else:
                        list_page.invalidate()
                        list_page.set_status(event.counts.summary())

        try:
            counts = await self.service.refresh(self.workspace, kinds, progress=progress, isolate=True)
        except Exception as exc:
            for list_page in self._list_pages(kinds):
                list_page.set_status("")
            message = str(exc) if isinstance(exc, DextError) else f"{exc.__class__.__name__}: {exc}"
            self.notify(
                printable(message), title="Refresh failed", severity="error", markup=False, timeout=10
            )
            page.refresh_finished()
            await self.reload_info()
            return
        finally:
            self.refreshing = False
        page.refresh_finished()
        await self.reload_info()
        self.inbox_changed()  # items show list items' names
        title = f"{kinds[0].label} reloaded" if single else "Integration data refreshed"
        failed = any(not c.ok for c in counts)
        self.notify(
            counts_message(counts),
            title=title + (" with errors" if failed else ""),
            severity="error" if failed else "information",
            markup=False,
            timeout=8,
        )

    def action_change_connection(self) -> None:
        from dext_tui.screens.dialogs import ConnectDialog

        if self.info is None or self.refreshing:
            return
        self.push_screen(ConnectDialog(change=self.info), self._connected)

    def action_merge_lists(self) -> None:
        from dext_tui.screens.merge_wizard import MergeWizard

        if not self.overview.can_merge:
            self.notify("Nothing to merge: former lists come with Change connection.", markup=False)
            return
        self.push_screen(MergeWizard(), self._merged)

    def action_attention(self) -> None:
        self._open_attention()

    @work(exclusive=True, group="attention")
    async def _open_attention(self) -> None:
        from dext_tui.screens.attention import AttentionScreen

        report = await asyncio.to_thread(self.service.attention, self.workspace)
        entry = await self.push_screen_wait(AttentionScreen(report))
        if entry is None:
            return
        action = entry.actions[0] if entry.actions else None
        if action == "merge":
            self.action_merge_lists()
        elif action == "edit_rule":
            self.main.show_page("rules")
        elif action in ("edit_cost", "publish"):
            self.main.show_page("inbox")
        elif action in ("show_item", "default_tax_code"):
            self.main.show_page(f"list-{entry.item.kind.value}")
        elif action == "refresh":
            self.action_refresh_all()
        elif action == "reconnect":
            self.action_reconnect()

    def action_snapshots(self) -> None:
        self._open_snapshots()

    @work(exclusive=True, group="snapshots")
    async def _open_snapshots(self) -> None:
        from dext_tui.core.errors import DextError
        from dext_tui.screens.attention import SnapshotsScreen

        copies = await asyncio.to_thread(self.service.snapshots, self.workspace)
        connected = f"{self.info.provider_label}" if self.info is not None else None
        chosen = await self.push_screen_wait(SnapshotsScreen(copies, connected))
        if chosen is None:
            return
        try:
            message = await asyncio.to_thread(self.service.restore_snapshot, self.workspace, chosen)
        except (DextError, ValueError) as exc:
            self.notify(printable(str(exc)), title="Restore", severity="error", markup=False, timeout=10)
            return
        self.notify(printable(message), title="Safety copy restored", markup=False, timeout=10)
        await self._lists_moved()

    def _merged(self, applied: bool | None) -> None:
        if applied:
            self.run_worker(self._lists_moved(), group="info", exclusive=True)

    async def _lists_moved(self) -> None:
        """Items were re-pointed, retired or set aside (merge, undo, disconnect): the Integration page,
        the Rules page and every list page follow."""
        await self.reload_info()
        self.rules_changed(overview=False)  # also invalidates every list page
        self.inbox_changed()  # cost items were re-pointed too

    def action_undo_merge(self) -> None:
        """Undo last merge (u on the Integration page; Manage Connection › Undo last merge): also with
        nothing connected, where a merge can be done too."""
        self._undo_merge()

    @work(exclusive=True, group="merge-undo")
    async def _undo_merge(self) -> None:
        from dext_tui.core.errors import DextError
        from dext_tui.screens.dialogs import ConfirmDialog

        try:  # say what it will put back (or why it cannot), then ask
            preview = await asyncio.to_thread(self.service.merge_undo_preview, self.workspace)
        except DextError as exc:
            self.notify(printable(str(exc)), title="Undo last merge", severity="error", markup=False)
            return
        if not await self.push_screen_wait(ConfirmDialog("Undo last merge", preview, "Undo merge")):
            return
        try:
            message = await asyncio.to_thread(self.service.merge_undo, self.workspace)
        except DextError as exc:
            self.notify(printable(str(exc)), title="Undo last merge", severity="error", markup=False)
            return
        self.notify(printable(message), title="Merge undone", markup=False, timeout=10)
        await self._lists_moved()

    def action_disconnect(self) -> None:
        from dext_tui.core.errors import DextError
        from dext_tui.screens.dialogs import DisconnectDialog

        if self.info is None or self.refreshing:
            return
        try:
            preview = self.service.disconnect_preview(self.workspace)
        except DextError as exc:
            self.notify(printable(str(exc)), title="Disconnect", severity="error", markup=False)
            return
        self.push_screen(DisconnectDialog(preview), self._disconnect_chosen)

    def _disconnect_chosen(self, choice: DisconnectChoice | None) -> None:
        if choice is not None:
            self._disconnect(choice)

    @work(exclusive=True, group="disconnect")
    async def _disconnect(self, choice: DisconnectChoice) -> None:
        from dext_tui.core.errors import DextError

        try:
            message = await asyncio.to_thread(self.service.disconnect, self.workspace, choice)
        except DextError as exc:
            self.notify(printable(str(exc)), title="Disconnect failed", severity="error", markup=False)
            return
        self.notify(printable(message), title="Disconnected", markup=False, timeout=10)
        await self._lists_moved()

    def _add_rule(self) -> None:
        self.main.show_page("rules")
        page = self.main.rules_page()
        if page is not None:
            page.action_add()

    def action_connect(self) -> None:
        from dext_tui.screens.dialogs import ConnectDialog

        if self.info is not None:
            return
        self.push_screen(ConnectDialog(), self._connected)

    def action_reconnect(self) -> None:
        from dext_tui.screens.dialogs import ConnectDialog

        if self.info is None:
            return
        if self.info.provider in ("xero", "quickbooks"):  # logging in again renews the authorisation
            from dext_tui.screens.login import LoginDialog

            dialog = LoginDialog(self.info.provider, how="reconnect", organisation=self.info.target)
            self.push_screen(dialog, self._connected)
            return
        self.push_screen(ConnectDialog(reconnect=self.info), self._connected)

    def _connected(self, result: object) -> None:
        from dext_tui.screens.dialogs import LoginRequest

        if result is None:
            return
        if isinstance(result, LoginRequest):
            from dext_tui.screens.login import LoginDialog

            self.push_screen(LoginDialog(result.provider, how=result.how), self._connected)
            return
        assert isinstance(result, tuple)
        info, counts = result
        if self.info is None:
            verb = "Connected"
        elif info.id == self.info.id:
            verb = "Reconnected"
        else:
            verb = "Changed connection"
        changed = self.info is not None and info.id != self.info.id
        message = counts_message(counts)
        if info.to_merge and changed:
            message += "\nThe former lists stay, with their rules, until merged (Merge lists, l)."
        elif info.to_merge and verb == "Connected":
            message += (
                "\nRules and costs on your own lists point at items set aside: Merge lists (l) maps them."
            )
        self.notify(message, title=f"{verb} to {info.provider_label}", markup=False, timeout=10)
        for c in counts:  # the dialog pulled the lists: the Progress column shows what each pull did
            self.main.integration.refresh_progress(RefreshEvent("done", c.kind, c))
        for list_page in self._list_pages(ALL_KINDS):
            list_page.invalidate()
        self.inbox_changed()
        self.run_worker(self.reload_info(), group="info", exclusive=True)
        if changed and info.to_merge:  # straight on to mapping the former lists, as Dext does
            from dext_tui.screens.merge_wizard import MergeWizard

            self.push_screen(MergeWizard(), self._merged)

    def rules_changed(self, select: int | None = None, *, overview: bool = True) -> None:
        """Rules were added, changed or removed: the Rules page, every list's rule counts and what needs
        attention follow (`overview=False` when the caller has just read it again)."""
        page = self.main.rules_page()
        if page is not None:
            page.reload(select)
        for list_page in self._list_pages(ALL_KINDS):
            list_page.invalidate()
        if overview:
            self.references_changed()

    def references_changed(self) -> None:
        """A rule, an item setting or a cost changed what it points at (an edit, hide or show, publish,
        delete): the Integration page's Needs attention count, Merge lists and the list pages' marks
        follow, as they do after a refresh or a merge."""
        self.run_worker(self._load_overview(), group="overview", exclusive=True)

    def inbox_changed(self) -> None:
        """Cost items, or the lists and connection they depend on, changed: the inbox reads them again."""
        page = self.main.inbox_page()
        if page is not None:
            page.invalidate()

    def action_switch_workspace(self) -> None:
        from dext_tui.screens.dialogs import WorkspaceDialog

        def open_dialog() -> None:
            names = [w.name for w in self.service.workspaces()]
            self.push_screen(WorkspaceDialog(names, self.workspace.name), self._switch_to)

        self.when_ready(open_dialog)

    def _switch_to(self, name: str | None) -> None:
        if not name or name == self.workspace.name:
            return
        from dext_tui.core.errors import DextError

        try:
            workspace = self.service.ensure_workspace(name)
        except DextError as exc:
            self.notify(printable(str(exc)), title="Workspace", severity="error", markup=False)
            return
        self.workers.cancel_group(self, "refresh")
        self.refreshing = False
        gc.unfreeze()  # the old workspace's pages may now be collected

        async def reopen() -> None:
            info = await asyncio.to_thread(self.service.connection, workspace)
            if info is None:
                self.own_totals = await asyncio.to_thread(self.service.list_totals, workspace)
            self.workspace, self.info = workspace, info
            self.sub_title = printable(workspace.name)
            await self.main.reset()  # the new Integration page shows self.info

        self.run_worker(reopen(), group="info", exclusive=True)
        self.notify(f"Workspace: {name}", markup=False)

    def on_unmount(self) -> None:
        if self.service is not None:
            self.service.close()


def _now() -> datetime:
    from dext_tui.core.domain import utcnow

    return utcnow()


def run_app(*, data_dir: str | None = None, workspace: str | None = None, demo: bool = False) -> int:
    app = DextApp(data_dir=data_dir, workspace=workspace, demo=demo)
    result = app.run()
    return app.return_code or result or 0  # a crash inside the app is exit 1, not 0
