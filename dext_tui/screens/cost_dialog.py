"""Add or edit one cost item: date, supplier, amounts and the fields rules may fill, each list field chosen
with a picker. Fields left empty are the rules' to fill; the service's refusals show in one line and
nothing typed is lost.

An item may be split into lines (ctrl+l adds one, ctrl+r removes the one with the cursor), each with its
amount, category, tax code, optional tax and description; the lines' sum shows against the total as it is
typed. A line without its own category or tax code takes the item's. No lines: the item is not split; a
single line is refused (it would only repeat the item)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Select, Static

from dext_tui.core.costs import (
    FIELD_LABELS,
    CostDetail,
    CostDraft,
    CostLineInfo,
    LineDraft,
    parse_amount,
    parse_day,
)
from dext_tui.core.domain import ItemRef, Kind
from dext_tui.core.errors import DextError
from dext_tui.core.text import printable
from dext_tui.screens.dialogs import DialogScreen
from dext_tui.screens.inbox_page import money
from dext_tui.widgets.item_table import TableData
from dext_tui.widgets.picker import Picked, PickerField, PickerScreen, offered_items

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
    """An amount field: None when empty, else as the import reads one (`parse_amount`)."""
    return parse_amount(text, f"the {what}") if text.strip() else None


def _plain(value: Decimal) -> str:
    """An amount to type over: `30.00` (two decimals unless it has more)."""
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else format(value, "f")


class LinePicker(PickerField):
    """A line's category or tax code; left empty it shows the item's, which the line then takes."""

    def __init__(
        self, kind: Kind, name: str, *, value: ItemRef | None, fallback: str | None, id: str
    ) -> None:
        self.field_name = name
        self.fallback = fallback
        super().__init__(kind, value=value, id=id)

    def _show(self) -> None:
        if self.value is not None:
            super()._show()
            return
        self.set_class(True, "-empty")
        item = printable(self.fallback) if self.fallback else "none"
        self.update(Text(f"item's: {item}", no_wrap=True, overflow="ellipsis"))

    def set_fallback(self, label: str | None) -> None:
        self.fallback = label
        if self.is_mounted:
            self._show()


class LineRow(Vertical):
    """One line of a split, in two rows: amount and category; tax code, tax and description."""

    def __init__(
        self, key: int, *, line: CostLineInfo | None, amount: str, fallbacks: dict[str, str | None]
    ) -> None:
        super().__init__(classes="line")
        self.key = key
        self.line = line
        self._amount = amount
        self._fallbacks = fallbacks
        # Tracking is not asked line by line here: a line's own (given by the CLI) is kept as it is.
        self.tracking_id = line.tracking.id if line and line.tracking else None

    def compose(self) -> ComposeResult:
        ln, k = self.line, self.key
        with Horizontal():
            yield Static("Line", classes="line-no")
            yield Input(value=self._amount, placeholder="amount", compact=True, classes="line-amount")
            yield Static("category", classes="label")
            yield LinePicker(
                Kind.CATEGORIES,
                "category",
                value=ln.category if ln else None,
                fallback=self._fallbacks.get("category"),
                id=f"line-{k}-category",
            )
        with Horizontal():
            yield Static("", classes="line-no")
            yield Static("tax code", classes="label")
            yield LinePicker(
                Kind.TAX_CODES,
                "tax_code",
                value=ln.tax_code if ln else None,
                fallback=self._fallbacks.get("tax_code"),
                id=f"line-{k}-tax_code",
            )
            tax = "" if not ln or ln.tax is None else format(ln.tax, "f")
            yield Input(value=tax, placeholder="tax (opt.)", compact=True, classes="line-tax")
            yield Input(
                value=ln.description or "" if ln else "",
                placeholder="description",
                max_length=500,
                compact=True,
                classes="line-description",
            )

    @property
    def amount(self) -> Input:
        return self.query_one(".line-amount", Input)

    def picker(self, name: str) -> LinePicker:
        return self.query_one(f"#line-{self.key}-{name}", LinePicker)

    def number(self, position: int) -> None:
        self.query_one(".line-no", Static).update(f"Line {position}")

    def blank(self) -> bool:
        """Nothing typed or chosen: the line is left out."""
        typed = [self.query_one(f".line-{n}", Input).value.strip() for n in ("amount", "tax", "description")]
        chosen = [self.picker(n).value for n in ("category", "tax_code")]
        return not any(typed) and not any(chosen) and self.tracking_id is None

    def draft(self, position: int) -> LineDraft:
        """The line as typed; ValueError says what cannot be read."""
        amount = _amount(self.amount.value, f"amount of line {position}")
        if amount is None:
            raise ValueError(f"line {position} has no amount")
        category, tax_code = self.picker("category").value, self.picker("tax_code").value
        return LineDraft(
            amount=amount,
            tax=_amount(self.query_one(".line-tax", Input).value, f"tax of line {position}"),
            category_id=category.id if category else None,
            tax_code_id=tax_code.id if tax_code else None,
            tracking_id=self.tracking_id,
            description=self.query_one(".line-description", Input).value.strip() or None,
        )


class CostDialog(DialogScreen[CostDetail | None]):
    """Dismisses with the saved item, or None when cancelled."""

    DEFAULT_CSS = """
    CostDialog .dialog { width: 84; }
    CostDialog #cost-form { height: auto; scrollbar-size-vertical: 1; }
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
    CostDialog #split-bar { height: 1; margin: 1 0 0 0; }
    CostDialog #split-title { text-style: bold; width: auto; margin: 0 2 0 0; }
    CostDialog #lines { height: auto; }
    CostDialog .line { height: auto; }
    CostDialog .line Horizontal { height: 1; }
    CostDialog .line .line-no { width: 7; text-style: bold; }
    CostDialog .line LinePicker { width: 2fr; }
    CostDialog .line .label { width: auto; padding: 0 1; color: $text-muted; }
    CostDialog .line .line-amount { width: 12; }
    CostDialog .line .line-tax { width: 11; margin: 0 0 0 1; }
    CostDialog .line .line-description { width: 1fr; margin: 0 0 0 1; }
    CostDialog #split-sum { height: auto; color: $text-muted; }
    CostDialog #split-sum.-off { color: $error; }
    CostDialog #split-sum.-even { color: $success; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+l", "add_line", "Add line"),
        Binding("ctrl+r", "remove_line", "Remove line"),
    ]

    def __init__(self, *, detail: CostDetail | None = None) -> None:
        super().__init__()
        self.detail = detail
        self._cache: dict[Kind, TableData] = {}
        self._keys = 0  # numbers the line rows' ids; never reused

    def compose(self) -> ComposeResult:
        d = self.detail
        with Vertical(classes="dialog"):
            title = f"Edit cost item {d.id}" if d else "Add a cost item"
            yield Static(title, classes="title")
            with VerticalScroll(id="cost-form", can_focus=False):
                yield from self._form(d)
            yield Static("", id="split-sum")
            yield Static("", id="cost-error")
            yield Static(
                "Enter on a list field opens its list · Delete clears it · ctrl+l adds a line,"
                " ctrl+r removes it · ctrl+s saves",
                classes="help",
            )
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="success", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _form(self, d: CostDetail | None) -> ComposeResult:
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
            yield Input(value=d.reference or "" if d else "", max_length=500, compact=True, id="reference")
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
        with Horizontal(id="split-bar"):
            yield Static("Split into lines", id="split-title")
            yield Button("Add line", id="add-line", compact=True)
        yield Static(
            "Each line has its amount; a line without its own category or tax code takes the item's.",
            classes="note",
        )
        fallbacks = {
            n: (getattr(d, n).label if d and getattr(d, n) else None) for n in ("category", "tax_code")
        }
        with Vertical(id="lines"):
            for line in d.lines if d else ():
                amount = format(line.amount, "f")
                yield LineRow(self._next_key(), line=line, amount=amount, fallbacks=fallbacks)

    def on_mount(self) -> None:
        self._number_lines()
        self._show_sum()
        self.query_one("#date" if self.detail is None else "#supplier").focus()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """The form scrolls between the title and the buttons, which stay in view (80x24 included)."""
        dialog = self.query_one(".dialog", Vertical)
        form = self.query_one("#cost-form", VerticalScroll)
        around = sum(w.outer_size.height for w in dialog.children if w is not form)
        room = int(self.size.height * 0.9) - dialog.styles.gutter.height - around
        form.styles.max_height = max(room, 4)

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
        data = await offered_items(self.app, self._cache, field.kind)
        current = field.value.id if field.value else None
        if isinstance(field, SupplierField):
            picker: PickerScreen = SupplierPicker("Choose the supplier", data, current=current)
        elif isinstance(field, LinePicker):
            row = next(a for a in field.ancestors if isinstance(a, LineRow))
            label = FIELD_LABELS[field.field_name].lower()
            title = f"Choose the {label} of line {self._rows().index(row) + 1} (ctrl+d: the item's)"
            picker = PickerScreen(title, data, current=current)
        else:
            label = FIELD_LABELS[str(field.id).removeprefix("f-")].lower()
            picker = PickerScreen(f"Choose the {label}", data, current=current)
        picked = await self.app.push_screen_wait(picker)
        if isinstance(picked, NewSupplier) and isinstance(field, SupplierField):
            field.set_new_name(picked.name)
        elif isinstance(picked, Picked):
            field.set_value(picked.item)
        field.focus()

    @on(PickerField.Changed)
    def _item_field_changed(self, event: PickerField.Changed) -> None:
        if event.field.id in ("f-category", "f-tax_code"):
            fallbacks = self._fallbacks()
            for picker in self.query(LinePicker):
                picker.set_fallback(fallbacks[picker.field_name])

    def _fallbacks(self) -> dict[str, str | None]:
        """The item's category and tax code as chosen now: what a line without its own takes."""
        out: dict[str, str | None] = {}
        for name in ("category", "tax_code"):
            value = self.query_one(f"#f-{name}", PickerField).value
            out[name] = value.label if value else None
        return out

    # -- the split ----------------------------------------------------------------------------------

    def _next_key(self) -> int:
        self._keys += 1
        return self._keys

    def _rows(self) -> list[LineRow]:
        return list(self.query(LineRow))

    def _number_lines(self) -> None:
        for n, row in enumerate(self._rows(), 1):
            row.number(n)

    def _sums(self) -> tuple[Decimal, Decimal | None]:
        """The lines' sum and the total as typed; ValueError says what cannot be read."""
        total = _amount(self.query_one("#total", Input).value, "total")
        amounts = [_amount(r.amount.value, f"amount of line {n}") for n, r in enumerate(self._rows(), 1)]
        return sum((a for a in amounts if a is not None), Decimal(0)), total

    @on(Input.Changed, "#total")
    @on(Input.Changed, ".line-amount")
    def _show_sum(self) -> None:
        line = self.query_one("#split-sum", Static)
        line.set_class(False, "-off")
        line.set_class(False, "-even")
        rows = self._rows()
        if not rows:
            line.update("Not split: ctrl+l (or Add line) splits it into lines.")
            return
        try:
            lines, total = self._sums()
        except ValueError as exc:
            line.add_class("-off")
            text = printable(str(exc))
            line.update(Text(text[:1].upper() + text[1:]))
            return
        text = f"Lines: {money(lines)}"
        if total is None:
            text += " — give the total they add up to"
        elif lines < total:
            text += f" of {money(total)} — {money(total - lines)} left"
        elif lines > total:
            text += f" of {money(total)} — {money(lines - total)} too much"
            line.add_class("-off")
        else:
            text += f" of {money(total)} ✓"
            line.add_class("-even")
        if len(rows) == 1:
            text += " · one line: add another"
        line.update(Text(text))

    @on(Button.Pressed, "#add-line")
    async def action_add_line(self) -> None:
        """A new line below the others, its amount what is left of the total (typing replaces it)."""
        amount = ""
        try:
            lines, total = self._sums()
        except ValueError:
            pass
        else:
            if total is not None and total > lines:
                amount = _plain(total - lines)
        row = LineRow(self._next_key(), line=None, amount=amount, fallbacks=self._fallbacks())
        await self.query_one("#lines", Vertical).mount(row)
        self._number_lines()
        self._show_sum()
        row.amount.focus(scroll_visible=False)
        self.call_after_refresh(self.query_one("#cost-form", VerticalScroll).scroll_to_widget, row)

    async def action_remove_line(self) -> None:
        """Remove the line the cursor is on; the cursor goes to the next line."""
        focused = self.focused
        row = (
            next((w for w in focused.ancestors_with_self if isinstance(w, LineRow)), None)
            if focused
            else None
        )
        if row is None:
            self.notify("Put the cursor on a line first, then ctrl+r removes it.", severity="warning")
            return
        at = self._rows().index(row)
        await row.remove()
        rest = self._rows()
        self._number_lines()
        self._show_sum()
        if rest:
            rest[min(at, len(rest) - 1)].amount.focus()
        else:
            self.query_one("#add-line", Button).focus()

    def _line_drafts(self, total: Decimal | None) -> tuple[LineDraft, ...]:
        drafts = tuple(row.draft(n) for n, row in enumerate(self._rows(), 1) if not row.blank())
        if len(drafts) == 1:
            raise ValueError(
                "a split needs two lines or more: add another (ctrl+l), or remove this one (ctrl+r)"
                " to keep the item whole"
            )
        if drafts and total is None:
            raise ValueError("give the total: the lines must add up to it")
        return drafts

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
        total = _amount(self.query_one("#total", Input).value, "total")
        return CostDraft(
            date=parse_day(date_text) if date_text else None,
            supplier_id=supplier.value.id if supplier.value else None,
            supplier_name=None if supplier.value else supplier.new_name,
            reference=self._text("reference"),
            description=self._text("description"),
            total=total,
            tax=_amount(self.query_one("#tax", Input).value, "tax"),
            currency=currency.upper() if currency else None,
            paid=None if paid == "none" else paid == "paid",
            lines=self._line_drafts(total),
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
        self.call_after_refresh(self._fit)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
