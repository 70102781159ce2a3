"""One list (Categories, Suppliers, ...): filter as you type, Reload that list only, archived on demand."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Static

from dext_tui.core.domain import Kind, ListCounts
from dext_tui.core.text import printable
from dext_tui.widgets.item_table import ItemTable, TableData


def escape_filter(box: Input, table: Widget) -> None:
    """Escape on a filtered page: clear the filter (back to the table), else leave the box for the table,
    else give the keys back to the sidebar."""
    if box.value:
        box.value = ""
        table.focus()
    elif box.has_focus:
        table.focus()
    else:
        box.app.action_focus_sidebar()  # type: ignore[attr-defined]


class ListPage(Vertical):
    """The page for one list kind. Data comes from the app's service in a thread worker."""

    DEFAULT_CSS = """
    ListPage .page-title { height: auto; margin: 0 0 1 0; }
    ListPage .page-title .title { width: 1fr; text-style: bold; color: $accent; }
    ListPage .page-title .count { width: auto; color: $text-muted; }
    ListPage #filter-row { height: 1; margin: 0 0 1 0; }
    ListPage #filter-row .prompt { width: auto; color: $text-muted; }
    ListPage #filter { width: 1fr; }
    ListPage .status-line { height: 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("ctrl+r,f5", "reload", "Reload list"),
        Binding("ctrl+t,f6", "toggle_archived", "Archived"),
        Binding("enter", "item_menu", "Item…"),
        Binding("ctrl+n", "add_item", "Add item"),
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
    ]

    def __init__(self, kind: Kind) -> None:
        super().__init__(id=f"list-{kind.value}", classes="list-page")
        self.kind = kind
        self._loaded = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="page-title"):
            yield Static(f"Lists › {self.kind.label}", classes="title")
            yield Static("", id="list-count", classes="count")
        with Horizontal(id="filter-row"):
            yield Static("Filter ", classes="prompt")
            yield Input(
                placeholder="type to filter by code or name", id="filter", select_on_focus=False, compact=True
            )
        yield ItemTable(id="items")
        yield Static("", id="list-status", classes="status-line")

    @property
    def table(self) -> ItemTable:
        return self.query_one(ItemTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    def show(self, *, focus: bool = True) -> None:
        """Called when the page becomes visible: load once, then keep what was loaded."""
        if not self.is_mounted:
            self.call_after_refresh(self._show_when_composed, focus)  # just created
            return
        if not self._loaded:
            self.app.when_ready(self.load)  # type: ignore[attr-defined]
        if focus:
            self.table.focus()

    def _show_when_composed(self, focus: bool) -> None:
        # A key pressed meanwhile (escape, another page) has the last word on where focus goes.
        self.show(focus=focus and self.screen.pending_focus == self.id)  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, group="list-load")
    def load(self) -> None:
        app = self.app
        service, ws = app.service, app.workspace  # type: ignore[attr-defined]
        data = TableData.build(service.item_tuples(ws, self.kind), service.rule_counts(ws))
        app.call_from_thread(self._set_data, data)

    def _set_data(self, data: TableData) -> None:
        self._loaded = True
        self.table.set_data(data)
        overview = getattr(self.app, "overview", None)
        self.mark_attention(overview.attention_items if overview else None)
        self._update_count()
        self.app.settle_memory()  # type: ignore[attr-defined]

    def invalidate(self) -> None:
        """The list changed in the store (a refresh): reload if shown, else on next show."""
        if self.is_mounted and self.display and self.is_on_screen:
            self.load()
        else:
            self._loaded = False

    def _update_count(self) -> None:
        table = self.table
        archived = table.archived_count
        shown = table.row_count
        total_active = table.total_count - archived
        parts = []
        if table.filter_text:
            parts.append(f"{shown:,} of {total_active + (archived if table.show_archived else 0):,} shown")
        else:
            parts.append(f"{shown:,} item{'s' if shown != 1 else ''}")
        if archived:
            parts.append(f"{archived:,} archived {'shown' if table.show_archived else 'hidden'}")
        self.query_one("#list-count", Static).update(" · ".join(parts))
        self.refresh_bindings()  # the item menu applies only when a row is shown

    def mark_attention(self, ids: frozenset[int] | None) -> None:
        """Mark the items Needs attention reports (archived or hidden ones a rule or cost still uses)."""
        if not self.is_mounted:
            return
        marked = self.table.set_attention(ids or frozenset())
        if marked:
            self.set_status(
                f"▲ {marked:,} item{'s' if marked != 1 else ''} that rules or costs use but nobody can see"
                " or pick: Needs attention (a on Integrations)"
            )
            self._attention_note = True
        elif self._attention_note:  # fixed meanwhile: the note goes with the marks
            self.set_status("")

    _attention_note = False  # the status line says what the ▲ marks mean

    def set_status(self, text: str) -> None:
        self._attention_note = False
        self.query_one("#list-status", Static).update(text)

    # -- filtering --------------------------------------------------------------------------------

    @on(ItemTable.Typed)
    def _typed(self, event: ItemTable.Typed) -> None:
        box = self.filter_input
        box.focus()
        box.insert_text_at_cursor(event.character)

    def on_mount(self) -> None:
        # The rows change in the same frame as the filter text (watching the value, not Input.Changed).
        self.watch(self.filter_input, "value", self._filter_changed, init=False)

    def _filter_changed(self, value: str) -> None:
        self.table.set_filter(value)
        self._update_count()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_move(self, delta: int) -> None:
        self.table.move_cursor(delta)

    def action_page(self, direction: int) -> None:
        self.table.action_page(direction)

    def key_escape(self) -> None:
        escape_filter(self.filter_input, self.table)

    # -- actions ----------------------------------------------------------------------------------

    def action_toggle_archived(self) -> None:
        self.table.set_show_archived(not self.table.show_archived)
        self._update_count()

    def action_reload(self) -> None:
        self.app.reload_list(self.kind)  # type: ignore[attr-defined]

    def reloaded(self, counts: ListCounts) -> None:
        self.set_status(counts.summary() + (" (ledger unchanged)" if counts.unchanged_source else ""))
        self.load()

    # -- the current item: manual settings, and editing own lists ---------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_item":
            return self.app.info is None  # type: ignore[attr-defined] - own lists only while not connected
        if action == "item_menu":
            return None if self.table.current_row is None else True
        return True

    def action_item_menu(self) -> None:
        from dext_tui.widgets.menu import DropdownMenu, MenuItem

        row = self.table.current_row
        if row is None:
            return
        own = self.app.info is None  # type: ignore[attr-defined]
        connected_why = "the list comes from the connected software"
        items = [
            MenuItem("hide", "Show in pickers" if row.status == "hidden" else "Hide from pickers", "h"),
        ]
        if self.kind == Kind.CATEGORIES:
            items.append(MenuItem("tax", "Default tax code…", "t"))
        items += [
            MenuItem("rename", "Rename…", "e", enabled=own, why_disabled=connected_why),
            MenuItem("delete", "Delete…", "d", enabled=own, why_disabled=connected_why),
        ]
        region = self.table.region
        anchor = region.__class__(
            region.x + 2, region.y + 1 + self.table.cursor - round(self.table.scroll_y), region.width, 1
        )

        def chosen(choice: str | None) -> None:
            if choice == "hide":
                self._set_hidden(row.id, row.status != "hidden", row.name)
            elif choice == "tax":
                self._choose_default_tax(row.id, row.name)
            elif choice == "rename":
                self._rename(row.id, row.name, row.code or None)
            elif choice == "delete":
                self._delete(row.id, row.name)

        self.app.push_screen(DropdownMenu(items, anchor), chosen)

    def _service_call(self, call, *args, done: str) -> bool:
        from dext_tui.core.errors import DextError

        try:
            call(self.app.workspace, *args)  # type: ignore[attr-defined]
        except DextError as exc:
            self.notify(printable(str(exc)), severity="error", markup=False)
            return False
        self.notify(done, markup=False)
        self.load()
        app = self.app
        if app.info is None:  # type: ignore[attr-defined] - own lists: the Integration page counts them
            app.run_worker(app.reload_info(), group="info", exclusive=True)  # type: ignore[attr-defined]
        else:  # a hidden item, a default tax code: what needs attention may have changed
            app.references_changed()  # type: ignore[attr-defined]
        return True

    def _set_hidden(self, item_id: int, hide: bool, name: str) -> None:
        what = "hidden: not offered in pickers" if hide else "shown in pickers again"
        self._service_call(self.app.service.set_visible, item_id, not hide, done=f"{name}: {what}")  # type: ignore[attr-defined]

    @work(exclusive=True, group="list-item")
    async def _choose_default_tax(self, category_id: int, name: str) -> None:
        import asyncio

        from dext_tui.widgets.picker import Picked, PickerScreen, offered

        app = self.app
        service, ws = app.service, app.workspace  # type: ignore[attr-defined]
        rows = await asyncio.to_thread(service.item_tuples, ws, Kind.TAX_CODES)
        item = next(
            (i for i in service.items(ws, self.kind, include_archived=True) if i.id == category_id), None
        )
        picked = await app.push_screen_wait(
            PickerScreen(
                f"Default tax code for {name}",
                offered(rows),
                current=item.default_tax_code_id if item else None,
            )
        )
        if isinstance(picked, Picked):
            tax = picked.item
            done = (
                f"{name}: default tax code {printable(tax.label)}" if tax else f"{name}: no default tax code"
            )
            self._service_call(service.set_default_tax_code, category_id, tax.id if tax else None, done=done)

    def action_add_item(self) -> None:
        from dext_tui.screens.dialogs import ItemDialog

        def added(result: tuple[str, str | None] | None) -> None:
            if result:
                name, code = result
                self._service_call(self.app.service.add_item, self.kind, name, code, done=f"Added {name}")  # type: ignore[attr-defined]

        self.app.push_screen(ItemDialog(f"Add to {self.kind.label.lower()}"), added)

    def _rename(self, item_id: int, name: str, code: str | None) -> None:
        from dext_tui.screens.dialogs import ItemDialog

        def renamed(result: tuple[str, str | None] | None) -> None:
            if result:
                new_name, new_code = result
                self._service_call(
                    self.app.service.update_item,
                    item_id,
                    new_name,
                    new_code,
                    done=f"Saved {new_name}",  # type: ignore[attr-defined]
                )

        self.app.push_screen(ItemDialog(f"Rename {name}", name=name, code=code), renamed)

    def _delete(self, item_id: int, name: str) -> None:
        from dext_tui.screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self._service_call(self.app.service.delete_item, item_id, done=f"Deleted {name}")  # type: ignore[attr-defined]

        self.app.push_screen(
            ConfirmDialog(
                "Delete item", f"Delete {name} from {self.kind.label.lower()}?", "Delete", danger=True
            ),
            answered,
        )
