"""Costs › Inbox: the cost items waiting to be published, newest first.

Filter by state, error class and text; select in bulk; publish, check, fill from rules, delete; add and
edit items in a dialog. The table renders only the rows on screen (100,000 items open in a blink); the
pane below shows the highlighted item whole: every field and why it has its value, its lines, and for a
failed item what went wrong and what to do about it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.strip import Strip
from textual.widgets import Input, Static

from dext_tui.core.costs import FIELD_LABELS, CostDetail, CostRow, CostState, Problem
from dext_tui.core.domain import AutoPublish, ConnectionStatus, ItemRef
from dext_tui.core.errors import DextError
from dext_tui.core.publishing import ErrorClass
from dext_tui.core.text import printable
from dext_tui.widgets.virtual_table import VirtualTable

if TYPE_CHECKING:
    from dext_tui.core.inbox import PublishReport

CENT = Decimal("0.01")
STATE_CYCLE: tuple[CostState | None, ...] = (None, CostState.READY, CostState.FAILED, CostState.PUBLISHED)
STATE_LABELS = {
    None: "All",
    CostState.READY: "Ready",
    CostState.FAILED: "Failed",
    CostState.PUBLISHED: "Published",
}
DATE_WIDTH = 10
MARK = "●"


def money(total: str | Decimal | None, currency: str | None = None) -> str:
    """`1,234.50 GBP`: two decimals unless the amount has more."""
    if total is None:
        return "—"
    try:
        amount = Decimal(total)
        text = f"{amount:,.2f}" if amount == amount.quantize(CENT) else f"{amount:,}"
    except (InvalidOperation, ValueError):
        text = str(total)
    return printable(f"{text} {currency}" if currency else text)


def state_text(row: CostRow, findings: list[Problem] | None = None) -> str:
    """What the State column says: ready, published, or ✗ and the error class; a ready item checked by
    the pre-flight check says whether it would publish."""
    if row.state == CostState.FAILED:
        return f"✗ {row.error_class.label if row.error_class else 'failed'}"
    if row.state == CostState.READY and findings is not None:
        return f"⚠ {findings[0].error_class.label}" if findings else "ready ✓"
    return row.state.value


def _fit(text: str, width: int, *, right: bool = False) -> str:
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.rjust(width) if right else text.ljust(width)


# -- the data ----------------------------------------------------------------------------------


@dataclass(slots=True)
class InboxData:
    """Every item of the inbox, with what the table needs precomputed (built off the UI thread)."""

    rows: list[CostRow]
    totals: list[str]  # "1,000.00 GBP"
    haystacks: list[str]  # casefolded text the filter searches
    index: dict[int, int]  # item id -> position in rows
    widths: dict[str, int] = field(default_factory=dict)  # the longest text of each column

    @staticmethod
    def _hay(row: CostRow, total: str) -> str:
        parts = (
            row.supplier,
            row.reference or "",
            row.category or "",
            total,
            row.total or "",
            row.date or "",
        )
        return "\x00".join(parts).casefold()

    @classmethod
    def build(cls, rows: list[CostRow]) -> InboxData:
        formatted: dict[tuple[str | None, str | None], str] = {}  # amounts repeat (rent, subscriptions)
        totals = []
        for r in rows:
            key = (r.total, r.currency)
            text = formatted.get(key)
            if text is None:
                text = formatted[key] = money(r.total, r.currency)
            totals.append(text)
        data = cls(
            rows=rows,
            totals=totals,
            haystacks=[cls._hay(r, t) for r, t in zip(rows, totals, strict=True)],
            index={r.id: n for n, r in enumerate(rows)},
        )
        data._measure(range(len(rows)))
        return data

    @classmethod
    def empty(cls) -> InboxData:
        return cls.build([])

    def _measure(self, positions: Sequence[int] | range) -> None:
        rows = [self.rows[n] for n in positions]
        w = self.widths

        def longest(name: str, texts: object, least: int) -> None:
            w[name] = max(w.get(name, least), max(map(len, texts), default=0))  # type: ignore[call-overload]

        longest("supplier", (r.supplier for r in rows), 8)
        longest("reference", (r.reference or "" for r in rows), 9)
        longest("category", (r.category or "" for r in rows), 8)
        longest("total", (self.totals[n] for n in positions), 5)
        failed = {r.error_class for r in rows if r.state == CostState.FAILED}
        longest("state", (f"✗ {c.label if c else 'failed'}" for c in failed), 9)

    def patch(self, fresh: list[CostRow]) -> None:
        """Rows read again after a change (publish, fill, edit) take their places."""
        changed = []
        for row in fresh:
            n = self.index.get(row.id)
            if n is None:
                continue
            total = money(row.total, row.currency)
            self.rows[n], self.totals[n], self.haystacks[n] = row, total, self._hay(row, total)
            changed.append(n)
        self._measure(changed)

    def counts(self) -> Counter[CostState]:
        return Counter(r.state for r in self.rows)

    def classes(self) -> list[ErrorClass]:
        """The error classes of failed items, in the order ErrorClass lists them."""
        present = {r.error_class for r in self.rows if r.state == CostState.FAILED and r.error_class}
        return [c for c in ErrorClass if c in present]


# -- the table ---------------------------------------------------------------------------------


class CostTable(VirtualTable):
    """The inbox's rows: a selection mark, date, supplier, reference, total, category and state. Columns
    that do not fit (category first, then reference) are left to the detail pane."""

    COMPONENT_CLASSES = {
        "cost-table--selected",
        "cost-table--failed",
        "cost-table--published",
        "cost-table--warning",
        "cost-table--muted",
    }
    DEFAULT_CSS = """
    CostTable { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    CostTable > .cost-table--selected { background: $accent 20%; text-style: bold; }
    CostTable > .cost-table--failed { color: $error; }
    CostTable > .cost-table--published { color: $text-muted; }
    CostTable > .cost-table--warning { color: $warning; }
    CostTable > .cost-table--muted { color: $text-muted; text-style: italic; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = InboxData.empty()
        self.selected: set[int] = set()
        self.findings: dict[int, list[Problem]] = {}  # the last pre-flight check, per item
        self.loaded = False
        self.state: CostState | None = None
        self.error_class: ErrorClass | None = None
        self.text = ""
        self._columns_cache: tuple[tuple[int, int], list[tuple[str, int]]] | None = None
        self._version = 0

    # -- rows ------------------------------------------------------------------------------------

    @property
    def current_row(self) -> CostRow | None:
        index = self.current_index
        return None if index is None else self.data.rows[index]

    def shown_ids(self) -> list[int]:
        rows = self.data.rows
        return [rows[i].id for i in self._visible]

    def visible_rows(self) -> list[CostRow]:
        rows = self.data.rows
        return [rows[i] for i in self._visible]

    def set_data(self, data: InboxData, select: int | None = None) -> None:
        current = self.current_row
        self.data = data
        self.loaded = True
        self.selected &= set(data.index)
        self.findings = {i: p for i, p in self.findings.items() if i in data.index}
        self.apply(keep_id=select if select is not None else (current.id if current else None))

    def changed(self) -> None:
        """Rows were patched in place: filter again, keeping the cursor's item."""
        current = self.current_row
        self.apply(keep_id=current.id if current else None)

    def apply(self, *, keep_id: int | None = None, fallback: int | None = None) -> None:
        """Show the rows the filters let through."""
        self._version += 1
        data = self.data
        state, error_class = self.state, self.error_class
        needle = self.text.casefold().strip()
        rows, hay = data.rows, data.haystacks
        if state is None and error_class is None and not needle:
            visible = list(range(len(rows)))
        else:
            visible = [
                n
                for n, r in enumerate(rows)
                if (state is None or r.state == state)
                and (error_class is None or r.error_class == error_class)
                and (not needle or needle in hay[n])
            ]
        cursor = None
        if keep_id is not None and (at := data.index.get(keep_id)) is not None:
            cursor = next((pos for pos, n in enumerate(visible) if n == at), None)
        self.show_rows(
            visible, cursor if cursor is not None else (self.cursor if fallback is None else fallback)
        )

    # -- rendering -------------------------------------------------------------------------------

    def _layout(self, width: int) -> list[tuple[str, int]]:
        """(column, width) pairs that fit `width`; the supplier takes what is left."""
        key = (width, self._version)
        if self._columns_cache is not None and self._columns_cache[0] == key:
            return self._columns_cache[1]
        w = self.data.widths
        findings = [p[0].error_class.label for p in self.findings.values() if p]
        total_w = min(max(w.get("total", 5), 5), 18)
        state_w = min(max(w.get("state", 9), *(len(f) + 2 for f in findings), 9), 26)
        # " ● date supplier [reference] total [category] state "
        fixed = 3 + DATE_WIDTH + 1 + 1 + total_w + 1 + 1
        if width - fixed - state_w < 12:  # narrow: the state gives way first
            state_w = max(7, width - fixed - 12)
        avail = width - fixed - state_w
        need = {
            "supplier": min(max(w.get("supplier", 8), 8), 40),
            "reference": min(max(w.get("reference", 9), 9), 20),
            "category": min(max(w.get("category", 8), 8), 36),
        }
        least = {"supplier": min(need["supplier"], 12), "reference": min(need["reference"], 9)}
        least["category"] = min(need["category"], 12)
        chosen = ["supplier"]
        for name in ("reference", "category"):
            trial = [*chosen, name]
            if sum(least[c] for c in trial) + len(trial) - 1 <= avail:
                chosen = trial
        widths = {c: least[c] for c in chosen}
        spare = max(0, avail - sum(widths.values()) - (len(chosen) - 1))
        while spare > 0:
            grew = False
            for c in ("supplier", "category", "reference"):
                if c in widths and widths[c] < need[c] and spare > 0:
                    widths[c] += 1
                    spare -= 1
                    grew = True
            if not grew:
                break
        widths["supplier"] = max(1, widths["supplier"] + spare)
        layout = [("mark", 1), ("date", DATE_WIDTH), ("supplier", widths["supplier"])]
        if "reference" in widths:
            layout.append(("reference", widths["reference"]))
        layout.append(("total", total_w))
        if "category" in widths:
            layout.append(("category", widths["category"]))
        layout.append(("state", state_w))
        self._columns_cache = (key, layout)
        return layout

    def columns_shown(self) -> list[str]:
        return [name for name, _ in self._layout(self.scrollable_content_region.width)]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        layout = self._layout(width)
        if y == 0:
            style = base + self.get_component_rich_style("virtual-table--header")
            titles = {"mark": "", "date": "Date", "total": "Total", "state": "State"}
            cells = [
                _fit(titles[n] if n in titles else FIELD_LABELS[n], w, right=n == "total") for n, w in layout
            ]
            return Strip([Segment((" " + " ".join(cells) + " ").ljust(width)[:width], style)], width)
        position = round(self.scroll_y) + y - 1
        if position >= len(self._visible):
            if y == 1 and not self._visible:
                muted = base + self.get_component_rich_style("cost-table--muted")
                return Strip([Segment(_fit(self._empty_message(), width), muted)], width)
            return Strip.blank(width, base)
        n = self._visible[position]
        row = self.data.rows[n]
        findings = self.findings.get(row.id) if row.state == CostState.READY else None
        style: Style = base
        if row.state == CostState.PUBLISHED:
            style += self.get_component_rich_style("cost-table--published")
        selected = row.id in self.selected
        if selected:
            style += self.get_component_rich_style("cost-table--selected")
        state_style = style
        if row.state == CostState.FAILED:
            state_style += self.get_component_rich_style("cost-table--failed")
        elif findings:
            state_style += self.get_component_rich_style("cost-table--warning")
        if position == self.cursor:
            cursor = self.get_component_rich_style("virtual-table--cursor")
            style += cursor
            state_style += cursor
        values = {
            "mark": MARK if selected else " ",
            "date": row.date or "—",
            "supplier": printable(row.supplier) or "—",
            "reference": printable(row.reference),
            "total": self.data.totals[n],
            "category": printable(row.category) or "—",
        }
        cells = [_fit(values[c], w, right=c == "total") for c, w in layout[:-1]]
        state_w = layout[-1][1]
        left = " " + " ".join(cells) + " "
        right = _fit(state_text(row, findings), state_w) + " "
        segments = [Segment(left, style), Segment(right, state_style)]
        used = len(left) + len(right)
        if used < width:
            segments.append(Segment(" " * (width - used), style))
        return Strip(segments, width).crop(0, width)

    def _empty_message(self) -> str:
        if not self.loaded:
            return " Loading…"
        if self.data.rows:
            return " No cost item matches the filter"
        return " No cost items yet: n adds one (or `dext-tui items import FILE.csv`)"


# -- the detail pane -------------------------------------------------------------------------------


class CostDetailView(Static):
    """The highlighted item whole (plain Text and tables: nothing from outside is read as markup)."""

    COMPONENT_CLASSES = {
        "cost-detail--label",
        "cost-detail--why",
        "cost-detail--error",
        "cost-detail--hint",
        "cost-detail--ok",
        "cost-detail--warning",
    }
    DEFAULT_CSS = """
    CostDetailView { height: auto; }
    CostDetailView > .cost-detail--label { text-style: bold; }
    CostDetailView > .cost-detail--why { color: $text-muted; text-style: italic; }
    CostDetailView > .cost-detail--error { color: $error; text-style: bold; }
    CostDetailView > .cost-detail--hint { background: $warning 30%; color: $foreground; text-style: bold; }
    CostDetailView > .cost-detail--ok { color: $success; }
    CostDetailView > .cost-detail--warning { color: $warning; text-style: bold; }
    """

    def style_of(self, name: str) -> Style:
        return self.get_component_rich_style(f"cost-detail--{name}")

    def show(self, detail: CostDetail | None, findings: list[Problem] | None, *, connected: bool) -> None:
        self.update(self.render_detail(detail, findings, connected=connected) if detail else Text(""))

    def render_detail(
        self, d: CostDetail, findings: list[Problem] | None, *, connected: bool
    ) -> RenderableType:
        """`connected`: the connection works now (an item that failed as expired can be published again)."""
        parts: list[RenderableType] = []
        head = Text(f"Item {d.id} · ", style=self.style_of("label"))
        if d.state == CostState.PUBLISHED:
            head.append("published", style=self.style_of("ok"))
            if d.remote_id:
                head.append(f" as {printable(d.remote_id)}")
            if d.published_at:
                head.append(f" on {d.published_at:%Y-%m-%d}")
        elif d.state == CostState.FAILED:
            head.append("failed", style=self.style_of("error"))
        else:
            head.append("ready to publish")
        parts.append(head)
        if d.state == CostState.FAILED:
            error = d.error_class or ErrorClass.INVALID
            line = Text(f"✗ {error.label}", style=self.style_of("error"))
            if d.error_message:
                line.append(f": {printable(d.error_message)}", style=Style(bold=False))
            parts.append(line)
            if error != ErrorClass.EXPIRED:
                parts.append(Text(f"→ {error.remedy}"))
            elif connected:
                parts.append(Text("→ The connection works again: p publishes it again."))
            else:
                hint = " ⚠ Reconnect is on the Integration page (1, then e) — or press R to reconnect now "
                parts.append(Text(hint, style=self.style_of("hint")))
        if d.interrupted and d.state != CostState.PUBLISHED:
            parts.append(
                Text(
                    "⚠ It was on its way to the software when publishing stopped: p publishes it again"
                    " (never twice); it cannot be changed until then.",
                    style=self.style_of("warning"),
                )
            )
        if findings is not None and d.state != CostState.PUBLISHED:
            if not findings:
                parts.append(
                    Text("Pre-flight check: ✓ nothing stops it from publishing", self.style_of("ok"))
                )
            else:
                parts.append(Text("Pre-flight check: it would not publish", style=self.style_of("warning")))
                for problem in findings:
                    parts.append(Text(f"⚠ {problem.error_class.label}: {printable(problem.message)}"))
                for remedy in dict.fromkeys(p.error_class.remedy for p in findings):
                    parts.append(Text(f"→ {remedy}"))
        parts.append(self._fields(d))
        if d.lines:
            parts.append(self._lines(d))
        return Group(*parts)

    def _fields(self, d: CostDetail) -> Table:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, style=self.style_of("label"), min_width=14)
        grid.add_column(ratio=1, overflow="fold")
        why_style = self.style_of("why")

        def ref(value: ItemRef | None) -> str:
            if value is None:
                return ""
            return printable(value.label) + (" (archived)" if value.status != "active" else "")

        supplier = ref(d.supplier)
        if not supplier and d.supplier_name:
            supplier = f"{printable(d.supplier_name)} (not in the suppliers list)"
        values: dict[str, str] = {
            "date": d.date.isoformat() if d.date else "",
            "supplier": supplier,
            "reference": printable(d.reference),
            "total": money(d.total, d.currency) if d.total is not None else "",
            "tax": money(d.tax) if d.tax is not None else "",
            "currency": printable(d.currency),
            "category": ref(d.category),
            "tax_code": ref(d.tax_code),
            "bank_account": ref(d.bank_account),
            "tracking": ref(d.tracking),
            "description": printable(d.description),
            "paid": "paid" if d.paid else "unpaid",
        }
        for name, value in values.items():
            why = d.why.get(name)
            cell = Text(value or "—")
            if why:
                cell.append(f"  ← {printable(why)}", style=why_style)
            elif name == "paid" and not d.paid:
                cell.append("  ← not set", style=why_style)
            elif not value:
                cell.append("  not set: for the rules to fill", style=why_style)
            grid.add_row(FIELD_LABELS[name], cell)
        if d.auto_publish.value != "none":
            grid.add_row(FIELD_LABELS["auto_publish"], Text(d.auto_publish.value))
        return grid

    def _lines(self, d: CostDetail) -> Table:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, style=self.style_of("label"), min_width=14)
        grid.add_column(ratio=1, overflow="fold")
        why_style = self.style_of("why")
        for line in d.lines:
            text = Text(money(line.amount, d.currency))
            if line.tax is not None:
                text.append(f" (tax {money(line.tax)})")
            # A line without its own category, tax code or tracking takes the item's: say which.
            for own, item, name in (
                (line.category, d.category, "category"),
                (line.tax_code, d.tax_code, "tax code"),
                (line.tracking, d.tracking, ""),
            ):
                if own is not None:
                    text.append(f" · {printable(own.label)}")
                elif item is not None:
                    text.append(f" · {printable(item.label)}")
                    text.append(" (item's)", style=why_style)
                elif name:
                    text.append(f" · no {name}", style=why_style)
            if line.description:
                text.append(f" · “{printable(line.description)}”")
            grid.add_row(f"Line {line.position}", text)
        return grid


# -- the page ----------------------------------------------------------------------------------------


class InboxPage(Vertical):
    """The costs inbox. Data comes from `service.costs` in workers; the UI never waits on SQLite."""

    DEFAULT_CSS = """
    InboxPage .page-title { height: 1; }
    InboxPage .page-title .title { width: auto; text-style: bold; color: $accent; padding: 0 2 0 0; }
    InboxPage #inbox-counts { width: 1fr; text-align: right; color: $text-muted; }
    InboxPage #inbox-filter-row { height: 1; }
    InboxPage #inbox-filter-row .prompt { width: auto; color: $text-muted; }
    InboxPage #inbox-filter { width: 1fr; }
    InboxPage #inbox-shown-row { height: 1; }
    InboxPage #inbox-shown { width: 1fr; color: $accent; }
    InboxPage #inbox-progress { width: auto; color: $warning; text-style: bold; }
    InboxPage CostTable { height: 1fr; min-height: 4; }
    InboxPage #inbox-detail {
        height: 45%; min-height: 5; max-height: 18;
        border-top: solid $foreground 25%; padding: 0 0;
    }
    InboxPage #inbox-detail:focus { border-top: solid $accent; }
    InboxPage.-zoom CostTable { height: 5; min-height: 5; }
    InboxPage.-zoom #inbox-detail { height: 1fr; max-height: 100%; }
    """
    BINDINGS = [
        # In the key bar's order: what a bookkeeper does most comes first (at 80 columns the rest is cut).
        Binding("R", "reconnect", "Reconnect"),
        Binding("p", "publish", "Publish"),
        Binding("c", "check", "Check"),
        Binding("space", "toggle", "Select", key_display="spc"),
        Binding("a", "select_all", "All"),
        Binding("s", "cycle_state", "State"),
        Binding("x", "cycle_class", "Error"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("e", "edit", "Edit"),
        Binding("n", "add", "New"),
        Binding("d,delete", "delete", "Delete"),
        Binding("f", "fill", "Fill from rules"),
        Binding("enter", "zoom", "Detail"),
    ]
    LETTER_ACTIONS = {
        "reconnect",
        "publish",
        "check",
        "toggle",
        "select_all",
        "edit",
        "add",
        "delete",
        "fill",
        "cycle_state",
        "cycle_class",
        "focus_filter",
        "zoom",
    }
    ON_ITEMS = {"publish", "check", "edit", "delete", "fill", "toggle", "zoom"}

    def __init__(self) -> None:
        super().__init__(id="inbox", classes="page")
        self._loaded = False
        self._detail: CostDetail | None = None
        self._detail_id: int | None = None
        self.busy: str | None = None  # "publishing", "checking", ...: one bulk action at a time
        self._counts_width = 0

    def compose(self) -> ComposeResult:
        with Horizontal(classes="page-title"):
            yield Static("Costs › Inbox", classes="title")
            yield Static("", id="inbox-counts")
        with Horizontal(id="inbox-filter-row"):
            yield Static("/ ", classes="prompt")
            yield Input(
                placeholder="filter by supplier, reference, category, total…",
                id="inbox-filter",
                select_on_focus=False,
                compact=True,
            )
        with Horizontal(id="inbox-shown-row"):
            yield Static("", id="inbox-shown")
            yield Static("", id="inbox-progress")
        yield CostTable(id="costs")
        with VerticalScroll(id="inbox-detail"):
            yield CostDetailView(id="inbox-detail-text")

    @property
    def table(self) -> CostTable:
        return self.query_one(CostTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#inbox-filter", Input)

    @property
    def detail(self) -> CostDetail | None:
        """The highlighted item as the detail pane shows it."""
        return self._detail

    def on_mount(self) -> None:
        self.watch(self.filter_input, "value", self._text_changed, init=False)
        self.watch(self.table, "cursor", self._on_cursor, init=False)
        self._describe()

    def show(self, *, focus: bool = True) -> None:
        """Called when the page becomes visible: load once, then keep what was loaded."""
        if not self.is_mounted:
            self.call_after_refresh(self._show_when_composed, focus)
            return
        if not self._loaded:
            self.app.when_ready(self.load)  # type: ignore[attr-defined]
        if focus:
            self.table.focus()

    def _show_when_composed(self, focus: bool) -> None:
        self.show(focus=focus and self.screen.pending_focus == self.id)  # type: ignore[attr-defined]

    def invalidate(self) -> None:
        """Items or the lists they point at changed (a refresh, a merge, a reconnect)."""
        if self.is_mounted and self.display:
            self.app.when_ready(self.load)  # type: ignore[attr-defined]
        else:
            self._loaded = False

    # -- loading ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="inbox-load")
    def load(self, select: int | None = None) -> None:
        app = self.app
        if not self._loaded:
            app.call_from_thread(self.set_progress, "Loading…")
        rows = app.service.costs.rows(app.workspace)  # type: ignore[attr-defined]
        data = InboxData.build(rows)
        app.call_from_thread(self._set_data, data, select)

    def _set_data(self, data: InboxData, select: int | None = None) -> None:
        if not self._loaded:
            self.set_progress("")
        self._loaded = True
        self.table.set_data(data, select)
        self._describe()
        self._cursor_moved(force=True)
        self.app.settle_memory()  # type: ignore[attr-defined]

    async def _patch(self, ids: Sequence[int]) -> None:
        """Read these items again (after publish, fill, edit) and show them where they are."""
        app = self.app
        rows = await asyncio.to_thread(app.service.costs.rows, app.workspace, ids=ids)  # type: ignore[attr-defined]
        self.table.data.patch(rows)
        self.table.changed()
        self._describe()
        self._cursor_moved(force=True)
        app.references_changed()  # type: ignore[attr-defined] - what needs attention follows the costs

    def _on_cursor(self, _cursor: int) -> None:
        self._cursor_moved()

    def _cursor_moved(self, *, force: bool = False) -> None:
        row = self.table.current_row
        item_id = row.id if row else None
        if item_id == self._detail_id and not force:
            return
        self._detail_id = item_id
        if item_id is None:
            self._detail = None
            self._show_detail()
            return
        self._load_detail(item_id)

    @work(thread=True, exclusive=True, group="inbox-detail")
    def _load_detail(self, item_id: int) -> None:
        app = self.app
        try:
            detail = app.service.costs.detail(app.workspace, item_id)  # type: ignore[attr-defined]
        except DextError:
            detail = None
        app.call_from_thread(self._detail_loaded, item_id, detail)

    def _detail_loaded(self, item_id: int, detail: CostDetail | None) -> None:
        if item_id != self._detail_id:
            return  # the cursor moved on meanwhile
        self._detail = detail
        self._show_detail()

    def connection_changed(self) -> None:
        """The connection's status changed (expired, reconnected): the detail's hints follow."""
        if self.is_mounted:
            self._show_detail()

    def _show_detail(self) -> None:
        d = self._detail
        findings = self.table.findings.get(d.id) if d else None
        view = self.query_one(CostDetailView)
        info = self.app.info  # type: ignore[attr-defined]
        view.show(d, findings, connected=info is not None and info.status == ConnectionStatus.CONNECTED)
        pane = self.query_one("#inbox-detail", VerticalScroll)
        pane.scroll_home(animate=False)
        self.refresh_bindings()

    # -- what is shown ---------------------------------------------------------------------------

    def _describe(self) -> None:
        """The counts per state (the current filter highlighted) and the line saying what is shown."""
        table = self.table
        counts = table.data.counts()
        total = len(table.data.rows)
        line = Text(no_wrap=True, overflow="ellipsis")
        for n, state in enumerate(STATE_CYCLE):
            if n:
                line.append(" · ")
            number = total if state is None else counts.get(state, 0)
            text = f"{STATE_LABELS[state]} {number:,}"
            line.append(text, style="bold reverse" if state == table.state else "")
        self.query_one("#inbox-counts", Static).update(line)
        self._fit_title(line.cell_len)
        parts = [STATE_LABELS[table.state]]
        if table.error_class is not None:
            parts.append(table.error_class.label)
        if table.text.strip():
            parts.append(f"“{printable(table.text.strip())}”")
        parts.append(f"{table.row_count:,} of {total:,}")
        if table.selected:
            hidden = len(table.selected - set(table.shown_ids())) if table.row_count < total else 0
            parts.append(f"{len(table.selected):,} selected" + (f" ({hidden:,} not shown)" if hidden else ""))
        self.query_one("#inbox-shown", Static).update(
            Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")
        )
        self.refresh_bindings()

    def _fit_title(self, counts_width: int | None = None) -> None:
        """The page title gives way to the counts when both do not fit (a narrow terminal, big numbers)."""
        if counts_width is not None:
            self._counts_width = counts_width
        title = self.query_one(".title", Static)
        title.display = len("Costs › Inbox") + 2 + self._counts_width <= self.size.width

    def on_resize(self) -> None:
        self._fit_title()

    def set_progress(self, text: str) -> None:
        self.query_one("#inbox-progress", Static).update(text)

    def _text_changed(self, value: str) -> None:
        self.table.text = value
        self.table.apply(keep_id=self._detail_id, fallback=0)
        self._describe()

    # -- keys -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in self.LETTER_ACTIONS:
            return True
        if self.filter_input.has_focus:
            return False  # letters typed in the filter are text, not commands
        if action == "reconnect":
            return self._expired_here()
        if action in self.ON_ITEMS and self.table.current_row is None and not self.table.selected:
            return None
        if self.busy and action in ("publish", "check", "edit", "delete", "fill"):
            return None
        return True

    def _expired_here(self) -> bool:
        info = self.app.info  # type: ignore[attr-defined]
        if info is None:
            return False
        d = self._detail
        return info.status == ConnectionStatus.EXPIRED or (
            d is not None and d.error_class == ErrorClass.EXPIRED
        )

    def key_escape(self) -> None:
        """Escape backs out one step: the filter text, then the selection, then the state filters, then
        the keys go back to the sidebar."""
        from dext_tui.screens.list_page import escape_filter

        box, table = self.filter_input, self.table
        if box.value or box.has_focus:
            escape_filter(box, table)
        elif table.selected:
            table.selected.clear()
            table.refresh()
            self._describe()
        elif table.state is not None or table.error_class is not None:
            table.state = table.error_class = None
            table.apply(keep_id=self._detail_id)
            self._describe()
        else:
            self.app.action_focus_sidebar()  # type: ignore[attr-defined]

    @on(Input.Submitted, "#inbox-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_focus_filter(self) -> None:
        self.filter_input.focus()

    def action_zoom(self) -> None:
        self.toggle_class("-zoom")

    def action_cycle_state(self) -> None:
        table = self.table
        table.state = STATE_CYCLE[(STATE_CYCLE.index(table.state) + 1) % len(STATE_CYCLE)]
        if table.state not in (None, CostState.FAILED):
            table.error_class = None
        table.apply(keep_id=self._detail_id, fallback=0)
        self._describe()

    def action_cycle_class(self) -> None:
        table = self.table
        classes = table.data.classes()
        if not classes:
            self.notify("No failed items: nothing to filter by error class.", markup=False)
            return
        cycle: list[ErrorClass | None] = [None, *classes]
        at = cycle.index(table.error_class) if table.error_class in cycle else 0
        table.error_class = cycle[(at + 1) % len(cycle)]
        if table.error_class is not None:
            table.state = CostState.FAILED
        table.apply(keep_id=self._detail_id, fallback=0)
        self._describe()

    def action_toggle(self) -> None:
        table = self.table
        row = table.current_row
        if row is None:
            return
        table.selected.symmetric_difference_update({row.id})
        table.move_cursor(1)
        table.refresh()
        self._describe()

    def action_select_all(self) -> None:
        table = self.table
        shown = set(table.shown_ids())
        if shown and shown <= table.selected:
            table.selected.clear()
        else:
            table.selected |= shown
        table.refresh()
        self._describe()

    def _targets(self) -> list[int]:
        """The selection (in the order shown), else the highlighted item."""
        table = self.table
        if table.selected:
            rows = table.data.rows
            return sorted(table.selected, key=lambda i: table.data.index.get(i, len(rows)))
        row = table.current_row
        return [row.id] if row else []

    def action_reconnect(self) -> None:
        self.app.action_reconnect()  # type: ignore[attr-defined]

    # -- publish and check ------------------------------------------------------------------------

    def action_publish(self) -> None:
        ids = self._targets()
        if ids and not self.busy:
            self.busy = "publishing"
            self.refresh_bindings()
            self._publish(ids)

    @work(exclusive=True, group="inbox-publish")
    async def _publish(self, ids: list[int]) -> None:
        app = self.app
        of = len(ids)
        self.set_progress(f"Publishing 0 of {of}…")

        def progress(done: int, total: int) -> None:
            text = f"Publishing {done} of {total}…"
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # a connector calling back from its own thread
                app.call_from_thread(self.set_progress, text)
                return
            self.set_progress(text)

        report: PublishReport | None = None
        try:
            report = await app.service.costs.publish(app.workspace, ids, progress=progress)  # type: ignore[attr-defined]
        except DextError as exc:
            self.notify(printable(str(exc)), title="Publish", severity="error", markup=False, timeout=10)
        except Exception as exc:  # a connector that fails unexpectedly: say so, keep the app
            message = f"{exc.__class__.__name__}: {exc}"
            self.notify(
                printable(message), title="Publishing failed", severity="error", markup=False, timeout=10
            )
        finally:
            self.busy = None
            self.set_progress("")
        self.table.findings = {i: p for i, p in self.table.findings.items() if i not in set(ids)}
        await self._patch(ids)
        if report is None:
            return
        self.table.selected -= {o.id for o in report.outcomes if o.ok}
        self._describe()
        failed = report.failed
        title = (
            "Published" if not failed else "Published, with failures" if report.published else "Not published"
        )
        lines = [printable(report.summary())]
        if failed:
            lines.append("Each failed item says why and what to do (the pane below the table).")
        if report.expired:
            lines.append("R reconnects.")
        self.notify(
            "\n".join(lines),
            title=title,
            severity="error" if report.expired else "warning" if failed else "information",
            markup=False,
            timeout=10,
        )
        if report.expired:
            await app.reload_info()  # type: ignore[attr-defined]
            self.refresh_bindings()

    async def _costs(self, title: str, method: str, *args: Any) -> Any:
        """`service.costs.METHOD(workspace, *args)` off the UI thread; a refusal is said in a notification
        (and None returned), never a traceback."""
        app = self.app
        try:
            return await asyncio.to_thread(getattr(app.service.costs, method), app.workspace, *args)  # type: ignore[attr-defined]
        except DextError as exc:
            self.notify(printable(str(exc)), title=title, severity="error", markup=False, timeout=10)
            return None

    def action_check(self) -> None:
        ids = self._targets()
        if ids and not self.busy:
            self.busy = "checking"
            self._check(ids)

    @work(exclusive=True, group="inbox-check")
    async def _check(self, ids: list[int]) -> None:
        self.set_progress(f"Checking {len(ids):,}…")
        try:
            found = await self._costs("Pre-flight check", "preflight", ids)
        finally:
            self.busy = None
            self.set_progress("")
        if found is None:
            return
        table = self.table
        rows = table.data.rows
        checked = [
            i for i in ids if i in table.data.index and rows[table.data.index[i]].state != CostState.PUBLISHED
        ]
        for item_id in checked:
            table.findings[item_id] = found.get(item_id, [])
        table.changed()
        self._show_detail()
        bad = sum(1 for i in checked if found.get(i))
        if not checked:
            message = "Nothing to check: the items are published."
        elif not bad:
            them = "it" if len(checked) == 1 else "them"
            message = f"{len(checked):,} checked: nothing stops {them} from publishing."
        else:
            message = (
                f"{len(checked):,} checked: {bad:,} would not publish (⚠ in the table; the pane says why)."
            )
        self.notify(
            message, title="Pre-flight check", severity="warning" if bad else "information", markup=False
        )

    # -- change items -----------------------------------------------------------------------------

    def action_fill(self) -> None:
        ids = self._targets()
        if ids and not self.busy:
            self.busy = "filling"
            self._fill(ids)

    @work(exclusive=True, group="inbox-fill")
    async def _fill(self, ids: list[int]) -> None:
        try:
            changed = await self._costs("Fill from rules", "apply_rules", ids)
        finally:
            self.busy = None
        if changed is None:
            return
        for item_id in ids:
            self.table.findings.pop(item_id, None)
        await self._patch(ids)
        items = f"{len(ids):,} item{'s' if len(ids) != 1 else ''}"
        if changed:
            message = f"{changed:,} field{'s' if changed != 1 else ''} changed on {items}."
        else:
            message = f"Nothing changed on {items} (fields set by you or by the import stay as they are)."
        self.notify(message, title="Filled from today's rules", markup=False)

    def action_delete(self) -> None:
        from dext_tui.screens.dialogs import ConfirmDialog

        ids = self._targets()
        if not ids or self.busy:
            return
        if len(ids) == 1:
            data = self.table.data
            at = data.index[ids[0]]
            row = data.rows[at]
            what = f"cost item {row.id} ({printable(row.supplier) or 'no supplier'}, {data.totals[at]})"
        else:
            what = f"the {len(ids):,} selected cost items"

        def answered(yes: bool | None) -> None:
            if yes:
                self.busy = "deleting"
                self._delete(ids)

        self.app.push_screen(
            ConfirmDialog(
                "Delete", f"Delete {what}? Published items cannot be deleted.", "Delete", danger=True
            ),
            answered,
        )

    @work(exclusive=True, group="inbox-delete")
    async def _delete(self, ids: list[int]) -> None:
        try:
            gone = await self._costs("Not deleted", "delete", ids)
        finally:
            self.busy = None
        if gone is None:
            return
        self.table.selected -= set(ids)
        self.notify(f"Deleted {gone:,} cost item{'s' if gone != 1 else ''}.", markup=False)
        self.load()
        self.app.references_changed()  # type: ignore[attr-defined]

    def action_add(self) -> None:
        from dext_tui.screens.cost_dialog import CostDialog

        self.app.when_ready(lambda: self.app.push_screen(CostDialog(), self._saved))  # type: ignore[attr-defined]

    def action_edit(self) -> None:
        row = self.table.current_row
        if row is None or self.busy:
            return
        if row.state == CostState.PUBLISHED:
            self.notify(
                f"Cost item {row.id} is published: it stays as the record of what is in the books.",
                severity="warning",
                markup=False,
            )
            return
        self._edit(row.id)

    @work(exclusive=True, group="inbox-edit")
    async def _edit(self, item_id: int) -> None:
        from dext_tui.screens.cost_dialog import CostDialog

        app = self.app
        detail = self._detail if self._detail and self._detail.id == item_id else None
        if detail is None:
            detail = await self._costs("Edit", "detail", item_id)
            if detail is None:
                return
        app.push_screen(CostDialog(detail=detail), self._saved)

    def _saved(self, detail: CostDetail | None) -> None:
        if detail is None:
            return
        self.table.findings.pop(detail.id, None)
        if detail.id in self.table.data.index:
            self.notify(f"Saved cost item {detail.id}.", markup=False)
            self.run_worker(self._patch([detail.id]), group="inbox-patch")
        else:
            self.notify(f"Added cost item {detail.id}.", markup=False)
            self.load(select=detail.id)
            self.app.references_changed()  # type: ignore[attr-defined]
            if detail.auto_publish == AutoPublish.ALWAYS and not self.busy:
                # Its rule says to publish at once, as an import does.
                self.busy = "publishing"
                self.refresh_bindings()
                self._publish([detail.id])
