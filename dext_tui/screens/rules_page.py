"""Automation › Rules: every rule of the workspace; add, edit and remove them, filter as you type."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static

from dext_tui.core.domain import AutoPublish, ItemRef, RuleInfo
from dext_tui.core.text import printable

COLUMNS = ("For", "Category", "Tax code", "Bank account", "Other")


def _ref(ref: ItemRef | None) -> str:
    """Names only in the table (codes such as Expenses:Software:Accounting are long); the filter and
    the rule dialog show codes."""
    return printable(ref.name) if ref else "—"


def _other(rule: RuleInfo) -> str:
    parts = []
    if rule.tracking:
        parts.append(f"tracking {printable(rule.tracking.label)}")
    if rule.currency:
        parts.append(printable(rule.currency.code or rule.currency.name))
    if rule.paid is not None:
        parts.append("paid" if rule.paid else "unpaid")
    if rule.auto_publish != AutoPublish.NONE:
        parts.append(f"auto-publish {rule.auto_publish.value}")
    if rule.description:
        parts.append(f"“{printable(rule.description)}”")
    return ", ".join(parts)


def _haystack(rule: RuleInfo) -> str:
    refs = [rule.target, *(r for r in rule.fields().values() if r)]
    words = [rule.scope.label, rule.description or ""] + [f"{r.code or ''} {r.name}" for r in refs]
    return " ".join(words).casefold()


class RulesPage(Vertical):
    DEFAULT_CSS = """
    RulesPage .page-title { height: auto; margin: 0 0 1 0; }
    RulesPage .page-title .title { width: 1fr; text-style: bold; color: $accent; }
    RulesPage .page-title .count { width: auto; color: $text-muted; }
    RulesPage #rules-filter-row { height: 1; margin: 0 0 1 0; }
    RulesPage #rules-filter-row .prompt { width: auto; color: $text-muted; }
    RulesPage #rules-filter { width: 1fr; }
    RulesPage DataTable { height: 1fr; }
    RulesPage .status-line { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("a", "add", "Add rule"),
        Binding("enter,e", "edit", "Edit"),
        Binding("delete,d", "remove", "Remove"),
    ]

    def __init__(self) -> None:
        super().__init__(id="rules", classes="page")
        self._rules: list[RuleInfo] = []
        self._loaded = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="page-title"):
            yield Static("Automation › Rules", classes="title")
            yield Static("", id="rules-count", classes="count")
        with Horizontal(id="rules-filter-row"):
            yield Static("Filter ", classes="prompt")
            yield Input(
                placeholder="type to filter by supplier, category, code…", id="rules-filter", compact=True
            )
        yield DataTable(id="rules-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="rules-status", classes="status-line")

    @property
    def table(self) -> DataTable[str]:
        return self.query_one(DataTable)

    def show(self, *, focus: bool = True) -> None:
        if not self.is_mounted:
            self.call_after_refresh(self.show, focus=focus)
            return
        if not self._loaded:
            self.app.when_ready(self.load)  # type: ignore[attr-defined]
        if focus:
            self.table.focus()

    @work(thread=True, exclusive=True, group="rules-load")
    def load(self) -> None:
        app = self.app
        rules = app.service.rules(app.workspace)  # type: ignore[attr-defined]
        app.call_from_thread(self._set_rules, rules)

    def _set_rules(self, rules: list[RuleInfo], select: int | None = None) -> None:
        self._loaded = True
        self._rules = rules
        self._fill(select)

    def _fill(self, select: int | None = None) -> None:
        table = self.table
        current = select if select is not None else self.current_rule_id()
        needle = self.query_one("#rules-filter", Input).value.casefold().strip()
        shown = [r for r in self._rules if not needle or needle in _haystack(r)]
        table.clear(columns=True)  # columns are sized to what they show
        table.add_column("Rule", key="scope")
        for name in COLUMNS:
            table.add_column(name, key=name)
        for r in shown:
            table.add_row(
                Text(r.scope.label),
                Text(_ref(r.target)),
                Text(_ref(r.category)),
                Text(_ref(r.tax_code)),
                Text(_ref(r.bank_account)),
                Text(_other(r)),
                key=str(r.id),
            )
        if current is not None:
            for row, r in enumerate(shown):
                if r.id == current:
                    table.move_cursor(row=row)
                    break
        total = len(self._rules)
        count = (
            f"{len(shown):,} of {total:,} rules" if needle else f"{total:,} rule{'s' if total != 1 else ''}"
        )
        self.query_one("#rules-count", Static).update(count)
        if not shown:
            self.set_status("No rule matches the filter." if needle else "No rules yet: press a to add one.")
        else:
            self.set_status("")
        self.refresh_bindings()  # Edit and Remove apply only when a row is shown

    def current_rule_id(self) -> int | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key else None

    def set_status(self, text: str) -> None:
        self.query_one("#rules-status", Static).update(text)

    def invalidate(self) -> None:
        if self.is_mounted and self.display:
            self.load()
        else:
            self._loaded = False

    # -- filter -----------------------------------------------------------------------------------

    @on(Input.Changed, "#rules-filter")
    def _filter(self) -> None:
        self._fill()

    @on(Input.Submitted, "#rules-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def key_escape(self) -> None:
        from dext_tui.screens.list_page import escape_filter

        escape_filter(self.query_one("#rules-filter", Input), self.table)

    def on_key(self, event) -> None:
        # Typing on the table starts the filter (keys bound to actions excepted).
        if (
            self.table.has_focus
            and event.is_printable
            and event.character
            and event.character not in "aed \t\r\n"
        ):
            box = self.query_one("#rules-filter", Input)
            box.focus()
            box.insert_text_at_cursor(event.character)
            event.stop()

    # -- actions ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit", "remove") and self.current_rule_id() is None:
            return None
        # Letters typed in the filter are text, not commands.
        return not (action in ("add", "edit", "remove") and self.query_one("#rules-filter", Input).has_focus)

    @on(DataTable.RowSelected)
    def _row_chosen(self) -> None:  # Enter (or a click) on a row
        self.action_edit()

    def action_add(self) -> None:
        from dext_tui.screens.rule_dialog import RuleDialog

        self.app.when_ready(lambda: self.app.push_screen(RuleDialog(), self._saved))  # type: ignore[attr-defined]

    def action_edit(self) -> None:
        from dext_tui.screens.rule_dialog import RuleDialog

        rule_id = self.current_rule_id()
        rule = next((r for r in self._rules if r.id == rule_id), None)
        if rule is not None:
            self.app.push_screen(RuleDialog(rule=rule), self._saved)

    def _saved(self, rule: RuleInfo | None) -> None:
        if rule is None:
            return
        self.notify(Text(f"Saved the rule for {printable(rule.target.label)}").plain, markup=False)
        self.app.rules_changed(select=rule.id)  # type: ignore[attr-defined]

    def action_remove(self) -> None:
        from dext_tui.screens.dialogs import ConfirmDialog

        rule_id = self.current_rule_id()
        rule = next((r for r in self._rules if r.id == rule_id), None)
        if rule is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            app = self.app
            app.service.remove_rule(app.workspace, rule.id)  # type: ignore[attr-defined]
            self.notify(f"Removed the rule for {printable(rule.target.label)}", markup=False)
            app.rules_changed()  # type: ignore[attr-defined]

        message = f"Remove the rule for {rule.scope.label.lower()} {printable(rule.target.label)}?"
        self.app.push_screen(ConfirmDialog("Remove rule", message, "Remove", danger=True), answered)

    def reload(self, select: int | None = None) -> None:
        app = self.app
        rules = app.service.rules(app.workspace)  # type: ignore[attr-defined]
        self._set_rules(rules, select)
