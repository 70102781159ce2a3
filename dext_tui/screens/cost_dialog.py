"""Add or edit one cost item: date, supplier, amounts and the fields rules may fill, each list field chosen
with a picker. Fields left empty are the rules' to fill; the service's refusals show in one line and
nothing typed is lost."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, Input, Select, Static

from dext_tui.core.costs import FIELD_LABELS, CostDetail, CostDraft, parse_day
from dext_tui.core.domain import ItemRef, Kind
from dext_tui.core.errors import DextError
from dext_tui.core.text import printable
from dext_tui.screens.dialogs import DialogScreen
from dext_tui.widgets.item_table import TableData
from dext_tui.widgets.picker import Picked, PickerField, PickerScreen, offered

# The fields chosen from a list, as the dialog shows them.
PICKED: dict[str, Kind] = {
    "category": Kind.CATEGORIES,
    "tax_code": Kind.TAX_CODES,
    "bank_account": Kind.BANK_ACCOUNTS,
    "tracking": Kind.TRACKING,
}
PAID_CHOICES = [("not set", "none"), ("paid", "paid"), ("unpaid", "unpaid")]


@dataclass(frozen=True, slots=True)
class NewSupplier:
    """The supplier picker's answer when the supplier is not in the list: its name as typed."""

    name: str


class SupplierPicker(PickerScreen):
    """The suppliers list; when none matches what was typed, Enter (or ctrl+n at any time) takes the
    typed text as a new supplier's name."""

    BINDINGS = [Binding("ctrl+n", "new_name", "New supplier", priority=True)]

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(".help", Static).update(
            "Type to filter · Enter pick · ctrl+n a new supplier named as typed · ctrl+d none · Esc cancel"
        )

    def _typed(self) -> str:
        return self.query_one("#picker-filter", Input).value.strip()

    def _pick(self) -> None:
        if self.table.current_row is None and self._typed():
            self.dismiss(NewSupplier(self._typed()))  # type: ignore[arg-type]
            return
        super()._pick()

    def action_new_name(self) -> None:
        if self._typed():
            self.dismiss(NewSupplier(self._typed()))  # type: ignore[arg-type]
        else:
            self.notify("Type the new supplier's name first", severity="warning")


class SupplierField(PickerField):
    """A supplier from the list, or the name of one the list does not have."""

    def __init__(self, *, value: ItemRef | None = None, new_name: str | None = None, id: str) -> None:
        self.new_name = new_name
        super().__init__(Kind.SUPPLIERS, value=value, id=id)

    def _show(self) -> None:
        if self.value is None and self.new_name:
            self.set_class(False, "-empty")
            self.update(
                Text(f"{printable(self.new_name)}  (new supplier)  ▾", no_wrap=True, overflow="ellipsis")
            )
            return
        super()._show()

    def set_value(self, value: ItemRef | None) -> None:
        self.new_name = None
        super().set_value(value)

    def set_new_name(self, name: str) -> None:
        self.value = None
        self.new_name = name
        self._show()
        self.post_message(self.Changed(self))

    def action_clear(self) -> None:
        if self.value is not None or self.new_name:
            self.set_value(None)


def _amount(text: str, what: str) -> Decimal | None:
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"the {what} {text.strip()!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"the {what} {text.strip()!r} is not a number")
    return value


class CostDialog(DialogScreen[CostDetail | None]):
    """Dismisses with the saved item, or None when cancelled."""

    DEFAULT_CSS = """
    CostDialog .dialog { width: 84; }
    CostDialog .note { color: $text-muted; height: auto; }
    CostDialog Grid {
        grid-size: 2; grid-columns: 15 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; margin: 1 0 0 0;
    }
    CostDialog Grid > .label { text-style: bold; }
    CostDialog Grid > Input, CostDialog Grid > Select { height: 1; }
    CostDialog #amounts { height: 1; }
    CostDialog #amounts Input { width: 1fr; }
    CostDialog #amounts #currency { width: 7; }
    CostDialog #amounts .label { width: auto; padding: 0 1; color: $text-muted; }
    CostDialog #cost-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, *, detail: CostDetail | None = None) -> None:
        super().__init__()
        self.detail = detail
        self._cache: dict[Kind, TableData] = {}

    def compose(self) -> ComposeResult:
        d = self.detail
        with Vertical(classes="dialog"):
            title = f"Edit cost item {d.id}" if d else "Add a cost item"
            yield Static(title, classes="title")
            yield Static(
                "Fields left empty are for the rules to fill (the supplier's and the payment method's rules);"
                " clear a field to let them fill it again.",
                classes="note",
            )
            with Grid():
                yield Static(FIELD_LABELS["date"], classes="label")
                yield Input(
                    value=d.date.isoformat() if d and d.date else "",
                    placeholder="YYYY-MM-DD",
                    max_length=10,
                    compact=True,
                    id="date",
                )
                yield Static(FIELD_LABELS["supplier"], classes="label")
                yield SupplierField(
                    value=d.supplier if d else None,
                    new_name=d.supplier_name if d and not d.supplier else None,
                    id="supplier",
                )
                yield Static(FIELD_LABELS["reference"], classes="label")
                yield Input(
                    value=d.reference or "" if d else "", max_length=500, compact=True, id="reference"
                )
                yield Static(FIELD_LABELS["total"], classes="label")
                with Horizontal(id="amounts"):
                    total = "" if not d or d.total is None else str(d.total)
                    yield Input(value=total, placeholder="incl. tax", compact=True, id="total")
                    yield Static("tax", classes="label")
                    tax = "" if not d or d.tax is None else str(d.tax)
                    yield Input(value=tax, placeholder="optional", compact=True, id="tax")
                    yield Static("currency", classes="label")
                    yield Input(
                        value=d.currency or "" if d else "",
                        placeholder="GBP",
                        max_length=3,
                        compact=True,
                        id="currency",
                    )
                for name, kind in PICKED.items():
                    yield Static(FIELD_LABELS[name], classes="label")
                    yield PickerField(kind, value=getattr(d, name) if d else None, id=f"f-{name}")
                yield Static(FIELD_LABELS["description"], classes="label")
                yield Input(
                    value=d.description or "" if d else "", max_length=500, compact=True, id="description"
                )
                yield Static(FIELD_LABELS["paid"], classes="label")
                paid = "none" if not d or "paid" not in d.why else ("paid" if d.paid else "unpaid")
                yield Select(PAID_CHOICES, value=paid, allow_blank=False, compact=True, id="paid")
            if d and d.lines:
                yield Static(
                    f"Split in {len(d.lines)} lines: they stay as they are, and must add up to the total.",
                    classes="note",
                )
            yield Static("", id="cost-error")
            yield Static(
                "Enter on a list field opens its list · Delete clears it · ctrl+s saves", classes="help"
            )
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="success", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#date" if self.detail is None else "#supplier").focus()

    # -- moving between fields ---------------------------------------------------------------------

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    def key_down(self) -> None:
        if isinstance(self.focused, Input):
            self.focus_next()

    def key_up(self) -> None:
        if isinstance(self.focused, Input):
            self.focus_previous()

    # -- pickers ------------------------------------------------------------------------------------

    @on(PickerField.Open)
    def _open_picker(self, event: PickerField.Open) -> None:
        self._pick(event.field)

    @work(exclusive=True, group="cost-picker")
    async def _pick(self, field: PickerField) -> None:
        data = self._cache.get(field.kind)
        if data is None:  # each list is read once per dialog, off the UI thread
            app = self.app
            service, ws = app.service, app.workspace  # type: ignore[attr-defined]
            rows = await asyncio.to_thread(service.item_tuples, ws, field.kind)
            data = self._cache[field.kind] = await asyncio.to_thread(offered, rows)
        current = field.value.id if field.value else None
        if isinstance(field, SupplierField):
            picker: PickerScreen = SupplierPicker("Choose the supplier", data, current=current)
        else:
            label = FIELD_LABELS[str(field.id).removeprefix("f-")].lower()
            picker = PickerScreen(f"Choose the {label}", data, current=current)
        picked = await self.app.push_screen_wait(picker)
        if isinstance(picked, NewSupplier) and isinstance(field, SupplierField):
            field.set_new_name(picked.name)
        elif isinstance(picked, Picked):
            field.set_value(picked.item)
        field.focus()

    # -- save ---------------------------------------------------------------------------------------

    def _text(self, field_id: str) -> str | None:
        return self.query_one(f"#{field_id}", Input).value.strip() or None

    def draft(self) -> CostDraft:
        """What the form says, as a draft; ValueError says what cannot be read."""
        date_text = self._text("date")
        supplier = self.query_one("#supplier", SupplierField)
        paid = str(self.query_one("#paid", Select).value)
        currency = self._text("currency")
        ids = {}
        for name in PICKED:
            value = self.query_one(f"#f-{name}", PickerField).value
            ids[f"{name}_id"] = value.id if value else None
        return CostDraft(
            date=parse_day(date_text) if date_text else None,
            supplier_id=supplier.value.id if supplier.value else None,
            supplier_name=None if supplier.value else supplier.new_name,
            reference=self._text("reference"),
            description=self._text("description"),
            total=_amount(self.query_one("#total", Input).value, "total"),
            tax=_amount(self.query_one("#tax", Input).value, "tax"),
            currency=currency.upper() if currency else None,
            paid=None if paid == "none" else paid == "paid",
            lines=self.detail.draft().lines if self.detail else (),
            **ids,
        )

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        try:
            draft = self.draft()
        except ValueError as exc:
            self._error(str(exc))
            return
        if not draft.given():
            self._error("Nothing to save: give at least the supplier, the date or the total.")
            return
        self.query_one("#save", Button).disabled = True
        self._save(draft)

    @work(exclusive=True, group="cost-save")
    async def _save(self, draft: CostDraft) -> None:
        app = self.app
        costs, ws = app.service.costs, app.workspace  # type: ignore[attr-defined]
        try:
            if self.detail is not None:
                saved = await asyncio.to_thread(costs.update, ws, self.detail.id, draft)
            else:
                saved = await asyncio.to_thread(costs.add, ws, draft)
        except DextError as exc:
            self._error(str(exc))
            self.query_one("#save", Button).disabled = False
            return
        self.dismiss(saved)

    def _error(self, message: str) -> None:
        text = printable(message)
        self.query_one("#cost-error", Static).update(Text("✗ " + text[:1].upper() + text[1:]))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
