"""Add or edit one automation rule: who it is for, and the fields it sets, each chosen with a picker."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, Input, Select, Static

from dext_tui.core.domain import RULE_FIELDS, AutoPublish, ItemRef, Kind, RuleInfo, RuleScope, RuleSpec
from dext_tui.core.errors import DextError
from dext_tui.core.text import printable
from dext_tui.screens.dialogs import DialogScreen
from dext_tui.widgets.item_table import TableData
from dext_tui.widgets.picker import Picked, PickerField, PickerScreen, offered_items

FIELD_LABELS = {
    "category": "Category",
    "tax_code": "Tax code",
    "bank_account": "Bank account",
    "tracking": "Tracking",
    "currency": "Currency",
}
PAID_CHOICES = [("not set", "none"), ("paid", "paid"), ("unpaid", "unpaid")]


class RuleDialog(DialogScreen[RuleInfo | None]):
    """Dismisses with the saved rule, or None when cancelled."""

    DEFAULT_CSS = """
    RuleDialog .dialog { width: 84; }
    RuleDialog Grid { grid-size: 2; grid-columns: 15 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
    RuleDialog Grid > .label { text-style: bold; }
    RuleDialog Grid > Input, RuleDialog Grid > Select { height: 1; }
    RuleDialog #rule-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, *, rule: RuleInfo | None = None, scope: RuleScope = RuleScope.SUPPLIER) -> None:
        super().__init__()
        self.rule = rule
        self.scope = rule.scope if rule else scope
        self._cache: dict[Kind, TableData] = {}

    def compose(self) -> ComposeResult:
        rule = self.rule
        with Vertical(classes="dialog"):
            yield Static(f"Edit rule {rule.id}" if rule else "Add a rule", classes="title")
            with Grid():
                yield Static("Rule for", classes="label")
                yield Select(
                    [(s.label, s.value) for s in RuleScope],
                    value=self.scope.value,
                    allow_blank=False,
                    compact=True,
                    id="scope",
                    disabled=rule is not None,
                )
                yield Static("Who", classes="label", id="target-label")
                yield PickerField(
                    self.scope.target_kind, value=rule.target if rule else None, required=True, id="target"
                )
                for name, kind in RULE_FIELDS.items():
                    yield Static(FIELD_LABELS[name], classes="label")
                    yield PickerField(kind, value=rule.fields()[name] if rule else None, id=f"f-{name}")
                yield Static("Description", classes="label")
                yield Input(
                    value=rule.description or "" if rule else "",
                    placeholder="what costs are described as (optional)",
                    max_length=500,
                    compact=True,
                    id="description",
                )
                yield Static("Paid", classes="label")
                paid = "none" if not rule or rule.paid is None else ("paid" if rule.paid else "unpaid")
                yield Select(PAID_CHOICES, value=paid, allow_blank=False, compact=True, id="paid")
                yield Static("Auto-publish", classes="label")
                yield Select(
                    [(a.value, a.value) for a in AutoPublish],
                    value=(rule.auto_publish if rule else AutoPublish.NONE).value,
                    allow_blank=False,
                    compact=True,
                    id="auto-publish",
                )
            yield Static("", id="rule-error")
            yield Static("Enter on a field opens its list · Delete clears it · ctrl+s saves", classes="help")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="success", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._label_target()
        self.query_one("#target" if self.rule is None else "#f-category").focus()

    def _label_target(self) -> None:
        label = {RuleScope.PAYMENT_METHOD: "Paid from"}.get(self.scope, self.scope.label)
        self.query_one("#target-label", Static).update(label)

    @on(Select.Changed, "#scope")
    def _scope_changed(self, event: Select.Changed) -> None:
        scope = RuleScope(str(event.value))
        if scope == self.scope:
            return
        self.scope = scope
        target = self.query_one("#target", PickerField)
        target.kind = scope.target_kind
        target.set_value(None)
        self._label_target()

    # -- pickers ----------------------------------------------------------------------------------

    @on(PickerField.Open)
    def _open_picker(self, event: PickerField.Open) -> None:
        self._pick(event.field)

    @work(exclusive=True, group="rule-picker")
    async def _pick(self, field: PickerField) -> None:
        data = await offered_items(self.app, self._cache, field.kind)
        if field.id == "target":
            title = f"Rule for which {self.scope.label.lower()}?"
            if self.scope == RuleScope.PAYMENT_METHOD:
                title = "Rule for which payment method (bank account)?"
        else:
            title = f"Choose the {FIELD_LABELS[field.id.removeprefix('f-')].lower()}"
        current = field.value.id if field.value else None
        picked = await self.app.push_screen_wait(
            PickerScreen(title, data, current=current, allow_none=not field.required)
        )
        if isinstance(picked, Picked):
            field.set_value(picked.item)
        field.focus()

    # -- save -------------------------------------------------------------------------------------

    def _spec(self) -> RuleSpec | str:
        target = self.query_one("#target", PickerField).value
        if target is None:
            return f"Choose who the rule is for ({self.scope.label.lower()})."
        ids: dict[str, int | None] = {}
        for name in RULE_FIELDS:
            value: ItemRef | None = self.query_one(f"#f-{name}", PickerField).value
            ids[f"{name}_id"] = value.id if value else None
        paid = str(self.query_one("#paid", Select).value)
        return RuleSpec(
            self.scope,
            target.id,
            description=self.query_one("#description", Input).value.strip() or None,
            paid=None if paid == "none" else paid == "paid",
            auto_publish=AutoPublish(str(self.query_one("#auto-publish", Select).value)),
            **ids,
        )

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        spec = self._spec()
        if isinstance(spec, str):
            self._error(spec)
            return
        app = self.app
        service, ws = app.service, app.workspace  # type: ignore[attr-defined]
        try:
            saved = service.update_rule(ws, self.rule.id, spec) if self.rule else service.add_rule(ws, spec)
        except DextError as exc:
            self._error(str(exc))
            return
        self.dismiss(saved)

    def _error(self, message: str) -> None:
        self.query_one("#rule-error", Static).update(Text("✗ " + printable(message)))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
