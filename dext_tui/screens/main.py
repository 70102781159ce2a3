"""The main screen: a sidebar (Integrations and the lists) beside the page it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import ContentSwitcher, OptionList
from textual.widgets.option_list import Option

from dext_tui.core.domain import ALL_KINDS, Kind
from dext_tui.screens.integration import IntegrationPage
from dext_tui.widgets.chrome import TitleBar
from dext_tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from dext_tui.screens.inbox_page import InboxPage
    from dext_tui.screens.list_page import ListPage  # imported when a list is first shown
    from dext_tui.screens.rules_page import RulesPage

PAGES: list[tuple[str, str]] = [
    ("integration", "Integrations"),
    *((f"list-{k.value}", k.label) for k in ALL_KINDS),
    ("rules", "Rules"),
    ("inbox", "Inbox"),
]


def page_key(index: int) -> str:
    """The number key of the page at `index` in PAGES: 1 to 9, then 0."""
    return str((index + 1) % 10)


class Sidebar(OptionList):
    BINDINGS = [Binding(page_key(n), f"screen.go({n})", show=False) for n in range(len(PAGES))] + [
        Binding("escape", "screen.stay", show=False)
    ]


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("m", "integration('manage_menu')", "Manage"),
        Binding("r", "integration('refresh_all')", "Refresh all"),
        Binding("c", "integration('connect')", "Connect"),
        Binding("e", "integration('reconnect')", "Reconnect"),
        Binding("l", "integration('merge_lists')", "Merge lists"),
        Binding("a", "integration('attention')", "Attention"),
        Binding("s", "integration('snapshots')", "Safety copies", show=False),
        Binding("u", "integration('undo_merge')", "Undo merge"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "integration":
            # Integration page keys: only on that page, and only when they apply to the connection.
            if self.current_page != "integration":
                return False
            return self.app.check_action(str(parameters[0]), ())
        return True

    def action_integration(self, action: str) -> None:
        getattr(self.app, f"action_{action}")()

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Horizontal(id="body"):
            options: list[Option | None] = [
                Option("Connections", id="h-connections", disabled=True),
                Option(f"1 {PAGES[0][1]}", id=PAGES[0][0]),
                None,
                Option("Lists", id="h-lists", disabled=True),
            ]
            options += [
                Option(f"{page_key(n)} {label}", id=page)
                for n, (page, label) in enumerate(PAGES)
                if page.startswith("list-")
            ]
            for heading, page in (("Automation", "rules"), ("Costs", "inbox")):
                n = next(i for i, (p, _) in enumerate(PAGES) if p == page)
                options += [None, Option(heading, id=f"h-{heading.lower()}", disabled=True)]
                options.append(Option(f"{page_key(n)} {PAGES[n][1]}", id=page))
            yield Sidebar(*options, id="sidebar")
            with ContentSwitcher(initial="integration", id="pages"):
                yield IntegrationPage()  # list pages are built when first shown (fast start-up)
        yield KeyBar()

    def on_mount(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.highlighted = sidebar.get_option_index("integration")
        sidebar.focus()

    async def reset(self) -> None:
        """Another workspace: every page is built again (list pages when they are next shown)."""
        switcher = self.query_one(ContentSwitcher)
        await switcher.remove_children()
        await switcher.mount(IntegrationPage())
        switcher.current = "integration"
        sidebar = self.query_one(Sidebar)
        with sidebar.prevent(OptionList.OptionHighlighted):
            sidebar.highlighted = sidebar.get_option_index("integration")
        sidebar.focus()
        self.refresh_bindings()

    @property
    def integration(self) -> IntegrationPage:
        return self.query_one(IntegrationPage)

    def list_page(self, kind: Kind) -> ListPage | None:
        """The page of that list, or None if it has not been shown yet."""
        pages = self.query(f"#list-{kind.value}")
        return pages.first() if pages else None  # type: ignore[return-value] - only ListPages have these ids

    def rules_page(self) -> RulesPage | None:
        """The Rules page, or None if it has not been shown yet."""
        pages = self.query("#rules")
        return pages.first() if pages else None  # type: ignore[return-value]

    def inbox_page(self) -> InboxPage | None:
        """The costs inbox, or None if it has not been shown yet."""
        pages = self.query("#inbox")
        return pages.first() if pages else None  # type: ignore[return-value]

    @property
    def current_page(self) -> str:
        return self.query_one(ContentSwitcher).current or "integration"

    pending_focus: str | None = None  # a page being built that should take focus once composed

    def action_stay(self) -> None:
        """Escape on the sidebar: focus stays here, even if a page being built wanted it."""
        self.pending_focus = None

    def action_go(self, index: int) -> None:
        self.show_page(PAGES[index][0])

    def show_page(self, page: str, *, focus: bool = True) -> None:
        from dext_tui.screens.list_page import ListPage
        from dext_tui.screens.rules_page import RulesPage

        switcher = self.query_one(ContentSwitcher)
        self.pending_focus = page if focus else None
        if page.startswith("list-") and self.list_page(Kind(page.removeprefix("list-"))) is None:
            switcher.mount(ListPage(Kind(page.removeprefix("list-"))))
        if page == "rules" and self.rules_page() is None:
            switcher.mount(RulesPage())
        if page == "inbox" and self.inbox_page() is None:
            from dext_tui.screens.inbox_page import InboxPage

            switcher.mount(InboxPage())
        switcher.current = page
        sidebar = self.query_one(Sidebar)
        with sidebar.prevent(OptionList.OptionHighlighted):
            sidebar.highlighted = sidebar.get_option_index(page)
        if page.startswith("list-") or page in ("rules", "inbox"):
            shown = self.query_one(f"#{page}")
            shown.show(focus=focus)  # type: ignore[attr-defined] - ListPage, RulesPage or InboxPage
            if not focus:
                sidebar.focus()
        elif focus:
            self.query_one(IntegrationPage).focus()
        self.refresh_bindings()

    @on(OptionList.OptionSelected, "#sidebar")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.show_page(event.option.id)

    @on(OptionList.OptionHighlighted, "#sidebar")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # Moving through the sidebar previews the page; Enter (or tab) moves into it.
        if event.option.id and event.option.id != self.current_page:
            self.show_page(event.option.id, focus=False)
