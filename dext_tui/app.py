"""The Textual app: wires the service to the screens. Small on purpose; the work is in `core`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from dext_tui.core.domain import ALL_KINDS, ConnectionInfo, ConnectionStatus, Kind, ListCounts
from dext_tui.core.text import printable
from dext_tui.screens.main import PAGES, MainScreen

if TYPE_CHECKING:
    from dext_tui.core.service import DextService, RefreshEvent, WorkspaceRef


def counts_message(counts: list[ListCounts]) -> str:
    """`Suppliers: 3 added, 1 archived` per changed list, then how many lists had no change."""
    if counts and all(c.unchanged_source for c in counts):
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
        self.clock = clock
        self.ready = False
        self.refreshing = False

    # -- start-up ---------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(MainScreen())
        self._start()

    @work(exclusive=True, group="startup")
    async def _start(self) -> None:
        import asyncio

        from dext_tui.core.errors import DextError
        from dext_tui.core.service import DEFAULT_WORKSPACE, DextService

        try:
            if self.service is None:
                self.service = await asyncio.to_thread(DextService.open, self._data_dir)
            if self._demo:
                self.workspace = await self.service.ensure_demo(isolate=True)
            else:
                self.workspace = await asyncio.to_thread(
                    self.service.ensure_workspace, self._workspace_name or DEFAULT_WORKSPACE
                )
        except DextError as exc:
            self.exit(1, message=f"dext-tui: {printable(str(exc))}")
            return
        self.ready = True
        self.sub_title = printable(self.workspace.name)
        await self.reload_info()

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("no main screen")

    async def reload_info(self) -> None:
        import asyncio

        self.info = await asyncio.to_thread(self.service.connection, self.workspace)
        self.main.integration.show_info(self.info, now=self.clock or _now())
        self.refresh_bindings()

    # -- what applies now -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Connection actions show only when they apply; refresh is greyed out while expired or running."""
        if action not in ("manage_menu", "refresh_all", "reconnect", "connect"):
            return True
        info = self.info
        if not self.ready:
            return False
        if action == "connect":
            return info is None
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
            "Switch workspace", "Open or create another client workspace", self.action_switch_workspace
        )
        for n, (page, label) in enumerate(PAGES):
            yield SystemCommand(
                f"Go to {label}",
                f"Show {label} ({n + 1} in the sidebar)",
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
        ]

        def chosen(choice: str | None) -> None:
            if choice == "refresh":
                self.action_refresh_all()
            elif choice == "reconnect":
                self.action_reconnect()

        self.push_screen(DropdownMenu(options, button.region), chosen)

    def action_refresh_all(self) -> None:
        self._refresh(ALL_KINDS)

    def reload_list(self, kind: Kind) -> None:
        self._refresh((kind,))

    @work(exclusive=True, group="refresh", exit_on_error=False)
    async def _refresh(self, kinds: tuple[Kind, ...]) -> None:
        from dext_tui.core.errors import DextError

        if not self.ready:
            return
        if self.info is None:
            self.notify("Nothing is connected: connect accounting software first (c).", severity="warning")
            return
        page = self.main.integration
        single = len(kinds) == 1
        self.refreshing = True
        page.refresh_started(kinds)
        for kind in kinds:
            self.main.list_page(kind).set_status("Reloading…")

        def progress(event: RefreshEvent) -> None:
            page.refresh_progress(event)
            if event.state in ("done", "failed") and event.kind is not None:
                list_page = self.main.list_page(event.kind)
                if event.counts is not None:
                    list_page.reloaded(event.counts) if single else list_page.invalidate()
                    if not single:
                        list_page.set_status(event.counts.summary())

        try:
            counts = await self.service.refresh(self.workspace, kinds, progress=progress, isolate=True)
        except DextError as exc:
            for kind in kinds:
                self.main.list_page(kind).set_status("")
            self.notify(
                printable(str(exc)), title="Refresh failed", severity="error", markup=False, timeout=10
            )
            page.refresh_finished()
            await self.reload_info()
            return
        finally:
            self.refreshing = False
        page.refresh_finished()
        await self.reload_info()
        title = f"{kinds[0].label} reloaded" if single else "Integration data refreshed"
        failed = any(not c.ok for c in counts)
        self.notify(
            counts_message(counts),
            title=title + (" with errors" if failed else ""),
            severity="error" if failed else "information",
            markup=False,
            timeout=8,
        )

    def action_connect(self) -> None:
        from dext_tui.screens.dialogs import ConnectDialog

        if self.info is not None:
            return
        self.push_screen(ConnectDialog(), self._connected)

    def action_reconnect(self) -> None:
        from dext_tui.screens.dialogs import ConnectDialog

        if self.info is None:
            return
        self.push_screen(ConnectDialog(reconnect=self.info), self._connected)

    def _connected(self, result: tuple[ConnectionInfo, list[ListCounts]] | None) -> None:
        if result is None:
            return
        info, counts = result
        verb = "Reconnected" if self.info is not None else "Connected"
        self.notify(counts_message(counts), title=f"{verb} to {info.provider_label}", markup=False, timeout=8)
        for kind in ALL_KINDS:
            self.main.list_page(kind).invalidate()
        self.run_worker(self.reload_info(), group="info", exclusive=True)

    def action_switch_workspace(self) -> None:
        from dext_tui.screens.dialogs import WorkspaceDialog

        if not self.ready:
            return
        names = [w.name for w in self.service.workspaces()]
        self.push_screen(WorkspaceDialog(names, self.workspace.name), self._switch_to)

    def _switch_to(self, name: str | None) -> None:
        if not name or name == self.workspace.name:
            return
        self.workers.cancel_group(self, "refresh")
        self.refreshing = False
        self.workspace = self.service.ensure_workspace(name)
        self.sub_title = printable(self.workspace.name)
        self.info = None
        self.switch_screen(MainScreen())
        self.call_after_refresh(lambda: self.run_worker(self.reload_info(), group="info", exclusive=True))
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
    return result or 0
