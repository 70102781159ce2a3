"""Merge lists: after Change connection, map each former list item to the new item it became.

Steps: an intro (what merging does and keeps), one step per list with former items (each former item
with the new item chosen for it, pre-filled with the suggestion and how sure it is), and a summary (what
Apply will map, leave and re-point). Apply is one transaction and can be undone (Manage Connection ›
Undo last merge). Every choice is saved as it is made: quitting half-way resumes at the same step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from dext_tui.core.domain import Kind, MergeDraft, MergePlan, MergeRow
from dext_tui.core.text import printable
from dext_tui.widgets.chrome import ActionButton, TitleBar
from dext_tui.widgets.item_table import TableData
from dext_tui.widgets.keybar import KeyBar
from dext_tui.widgets.merge_table import MergeLine, MergeTable, item_label
from dext_tui.widgets.picker import Picked, PickerScreen, offered

if TYPE_CHECKING:
    from dext_tui.core.service import DextService, WorkspaceRef

DEFAULT_THRESHOLD = 0.9
SAVE_EVERY = 0.4  # seconds: choices reach the store this soon after they are made

LIST_KEYS = ("choose", "accept", "leave", "restore", "accept_sure", "threshold", "skip_list", "filter")


@dataclass
class WizardData:
    """Everything the wizard shows, loaded off the UI thread."""

    plan: MergePlan
    new_items: dict[Kind, TableData]  # what each list's dropdown offers
    new_labels: dict[Kind, dict[int, str]]  # every new item's label, offered or not
    weights: dict[int, tuple[int, int, int]]  # former item id -> (rule fields, settings, cost fields) on it
    draft: MergeDraft


def load_wizard_data(service: DextService, ws: WorkspaceRef) -> WizardData:
    plan = service.merge_plan(ws)
    new_items, new_labels = {}, {}
    for kind in plan.lists:
        rows = service.item_tuples(ws, kind)
        new_items[kind] = offered(rows)
        new_labels[kind] = {r[0]: item_label(r[1], r[2]) for r in rows}
    weights = service.merge_weights(ws)
    draft = service.merge_draft(ws)
    # A draft may name items a refresh has since removed: those choices are forgotten.
    for kind, choices in list(draft.choices.items()):
        if kind not in plan.lists:
            del draft.choices[kind]
            continue
        former = {r.old.id for r in plan.lists[kind]}
        labels = new_labels[kind]
        draft.choices[kind] = {o: n for o, n in choices.items() if o in former and (n is None or n in labels)}
    draft.skipped &= set(plan.lists)
    return WizardData(plan, new_items, new_labels, weights, draft)


# What the intro says set the old items aside (`MergePlan.origin`).
INTRO = {
    "change": "Your workspace moved to new books. Its former lists are still here, and every rule and"
    " setting still points at the former items.",
    "connect": "Your workspace is connected now: its own lists were set aside, and some rules, settings or"
    " costs still point at their items.",
    "reinstate": "The lists from before integrating are back: the connection's lists were set aside, and"
    " some costs or settings still point at their items.",
    "restore": "A safety copy was restored: the lists before it were set aside, and some rules, settings"
    " or costs still point at their items.",
    "later": "Some rules, settings or costs still point at items of lists that were replaced.",
}
INTRO_TAIL = (
    " Merging maps each old item to the current item it became: the rules, settings and costs that used"
    " it then use the current item, and the old item retires. Items you do not map stay as they are, with"
    " their rules, and stay on offer here while anything uses them. Nothing is changed until Apply, and"
    " Apply can be undone."
)


class MergeWizard(Screen[bool]):
    """Dismisses with True when a merge was applied."""

    DEFAULT_CSS = """
    MergeWizard #wizard { padding: 0 1; }
    MergeWizard #step-title { height: 1; text-style: bold; color: $accent; }
    MergeWizard #step-help { height: auto; color: $text-muted; margin: 0 0 1 0; }
    MergeWizard #step-body { height: 1fr; }
    MergeWizard #filter-row { height: 1; display: none; }
    MergeWizard #filter-row.shown { display: block; }
    MergeWizard #filter-row .prompt { width: auto; color: $text-muted; }
    MergeWizard #merge-filter { width: 1fr; }
    MergeWizard MergeTable { display: none; }
    MergeWizard MergeTable.shown { display: block; }
    MergeWizard #detail { height: 2; color: $text-muted; }
    MergeWizard #wizard-buttons { height: 1; margin: 1 0 0 0; }
    MergeWizard #step-counts { width: 1fr; color: $text-muted; content-align: right middle; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("n", "next", "Next"),
        Binding("b", "back", "Back"),
        Binding("enter", "choose", "Choose", show=False),
        Binding("space", "accept", "Accept"),
        Binding("x,delete", "leave", "Leave"),
        Binding("r", "restore", "Undecide", show=False),
        Binding("a", "accept_sure", "Accept sure"),
        Binding("plus,equals_sign", "threshold(5)", "Threshold", show=False),
        Binding("minus", "threshold(-5)", show=False),
        Binding("s", "skip_list", "Skip list"),
        Binding("slash", "filter", "Filter"),
    ]

    def __init__(self, data: WizardData | None = None) -> None:
        super().__init__()
        self._data = data
        self.threshold = DEFAULT_THRESHOLD
        self.step = "intro"
        self._dirty = False
        self._applying = False
        self._table_kind: Kind | None = None  # the list whose rows the table holds

    # -- building ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Vertical(id="wizard"):
            yield Static("Merge lists", id="step-title")
            yield Static("", id="step-help")
            with Vertical(id="step-body"):
                yield Static("Working out the suggestions…", id="step-text")
                with Horizontal(id="filter-row"):
                    yield Static("Filter ", classes="prompt")
                    yield Input(placeholder="former or new item", id="merge-filter", compact=True)
                yield MergeTable(id="merge-table")
                yield Static("", id="detail")
            with Horizontal(id="wizard-buttons"):
                yield ActionButton("◀ Back", id="back")
                yield ActionButton("Continue ▶", id="next", variant="primary")
                yield Static("", id="step-counts")
        yield KeyBar()

    def on_mount(self) -> None:
        self.watch(self.query_one("#merge-filter", Input), "value", self._filter, init=False)
        self.watch(self.query_one(MergeTable), "cursor", lambda _cursor: self._show_detail(), init=False)
        self.set_interval(SAVE_EVERY, self._save_if_dirty)
        if self._data is None:
            self.query_one("#next").display = False
            self.query_one("#back").display = False
            self._load()
        else:
            self._loaded(self._data)

    @work(thread=True, exclusive=True, group="merge-load")
    def _load(self) -> None:
        from dext_tui.core.errors import DextError

        app = self.app
        try:
            data = load_wizard_data(app.service, app.workspace)  # type: ignore[attr-defined]
        except DextError as exc:
            app.call_from_thread(self._failed, str(exc))
            return
        app.call_from_thread(self._loaded, data)

    def _failed(self, message: str) -> None:
        self.app.notify(printable(message), title="Merge lists", severity="warning", markup=False)
        self.dismiss(False)

    def _loaded(self, data: WizardData) -> None:
        self._data = data
        self.query_one("#next").display = True
        self.query_one("#back").display = True
        if not data.plan.lists:
            self._failed("Every list has been merged or skipped.")
            return
        # Resume where the user was.
        self._go(data.draft.step if data.draft.step in self.steps else "intro")

    # -- steps ------------------------------------------------------------------------------------

    @property
    def data(self) -> WizardData:
        assert self._data is not None
        return self._data

    @property
    def draft(self) -> MergeDraft:
        return self.data.draft

    @property
    def kinds(self) -> list[Kind]:
        return list(self.data.plan.lists)

    @property
    def steps(self) -> list[str]:
        return ["intro", *(k.value for k in self.kinds), "summary"]

    @property
    def kind(self) -> Kind | None:
        return Kind(self.step) if self.step not in ("intro", "summary") else None

    def _go(self, step: str) -> None:
        self._clear_list()
        self.step = step
        if self.draft.step != step:
            self.draft.step = step
            self._dirty = True
        number = self.steps.index(step) + 1
        kind = self.kind
        title = "Introduction" if step == "intro" else "Summary" if step == "summary" else kind.label  # type: ignore[union-attr]
        self.query_one("#step-title", Static).update(
            Text(f"Merge lists · step {number} of {len(self.steps)} · {title}")
        )
        table = self.query_one(MergeTable)
        text = self.query_one("#step-text", Static)
        text.display = kind is None
        table.set_class(kind is not None, "shown")
        self.query_one("#detail").display = kind is not None
        self.query_one("#back", ActionButton).disabled = step == "intro"
        next_label = "Apply merge ▶" if step == "summary" else "Continue ▶"
        self.query_one("#next", ActionButton).update(Text(next_label))
        if step == "intro":
            self._show_intro()
            self.query_one("#next").focus()
        elif step == "summary":
            self._show_summary()
            self.query_one("#next").focus()
        else:
            assert kind is not None
            table.set_lines(self._lines(kind))
            self._table_kind = kind
            table.focus()
            self._show_list_help(kind)
            self._show_detail()
        self.refresh_bindings()

    def _clear_list(self) -> None:
        """Empty the table and its filter before the step changes. A row index (the cursor's, the
        filter's) only means something in the list it was taken from: kept for the next list, a late
        filtered row pointed past its end."""
        self._table_kind = None
        self.query_one(MergeTable).set_lines([])  # no rows, no filter, the cursor at the top
        self.query_one("#merge-filter", Input).value = ""  # nothing left for it to filter
        self.query_one("#filter-row").set_class(False, "shown")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self._data is None:
            return action == "close"
        if action in LIST_KEYS:
            return self.kind is not None
        if action == "back":
            return None if self.step == "intro" else True
        return True

    # -- intro ------------------------------------------------------------------------------------

    def _show_intro(self) -> None:
        plan = self.data.plan
        self.query_one("#step-help", Static).update(
            Text(INTRO.get(plan.origin, INTRO["change"]) + INTRO_TAIL)
        )
        grid = Table.grid(padding=(0, 3))
        grid.add_column(style="bold")
        grid.add_column(justify="right")
        grid.add_column()
        grid.add_row("List", "Former items", "Suggested")
        for kind in self.kinds:
            rows = plan.lists[kind]
            sure = sum(1 for r in rows if r.suggestion and r.confidence >= self.threshold)
            grid.add_row(kind.label, f"{len(rows):,}", f"{sure:,} at {self.threshold:.0%} or surer")
        for kind, state in plan.states.items():
            if kind not in plan.lists:
                grid.add_row(Text(kind.label, style="dim"), "", Text(f"already {state}", style="dim"))
        rows = [r for kind in self.kinds for r in plan.lists[kind]]
        with_history = sum(1 for r in rows if r.reason and "shared transaction" in r.reason)
        evidence = (
            f"{with_history:,} of {len(rows):,} former items share transactions with a new item:"
            " the same bills in both books are the surest sign of what became what."
            if with_history
            else "No transactions are shared between the former and the new books (or the former"
            " books could no longer be read): the suggestions come from codes and names only."
        )
        body = Table.grid()
        body.add_row(grid)
        body.add_row("")
        body.add_row(Text(evidence, style="italic"))
        self.query_one("#step-text", Static).update(body)
        self._counts("n or Enter: Continue · Esc: close (your choices are kept)")

    # -- one list ---------------------------------------------------------------------------------

    def _rows(self, kind: Kind) -> list[MergeRow]:
        return self.data.plan.lists[kind]

    def _lines(self, kind: Kind) -> list[MergeLine]:
        weights = self.data.weights
        lines = []
        for row in self._rows(kind):
            line = MergeLine(
                row.old.id, item_label(row.old.code, row.old.name), weights.get(row.old.id, (0, 0, 0))[0]
            )
            self._describe(kind, row, line)
            lines.append(line)
        return lines

    def _describe(self, kind: Kind, row: MergeRow, line: MergeLine) -> None:
        """The right side of a row, from the draft and the suggestion."""
        choices = self.draft.choices.get(kind, {})
        if kind in self.draft.skipped:
            line.state, line.new, line.sure = "left", "", "list skipped"
        elif row.old.id in choices:
            chosen = choices[row.old.id]
            if chosen is None:
                line.state, line.new, line.sure = "left", "", "left as it is"
            else:
                line.state = "chosen"
                line.new = self.data.new_labels[kind].get(chosen, str(chosen))
                line.sure = "chosen" if not (row.suggestion and row.suggestion.id == chosen) else _sure(row)
        elif row.suggestion is not None:
            line.state, line.new, line.sure = (
                "suggested",
                item_label(row.suggestion.code, row.suggestion.name),
                _sure(row),
            )
        else:
            line.state, line.new, line.sure = "none", "", "no suggestion"

    def _show_list_help(self, kind: Kind) -> None:
        self.query_one("#step-help", Static).update(
            Text(
                f"{kind.label}: each former item and the new one it maps to. ✓ mapped on Apply ·"
                " ? a suggestion (space accepts it; a accepts all at the threshold) · Enter: choose"
                " another · x: leave it as a former item · s: skip the list"
            )
        )
        self._list_counts(kind)

    def _list_counts(self, kind: Kind) -> None:
        lines = self.query_one(MergeTable).lines
        chosen = sum(1 for line in lines if line.state == "chosen")
        left = sum(1 for line in lines if line.state == "left")
        undecided = len(lines) - chosen - left
        skipped = " · list skipped" if kind in self.draft.skipped else ""
        self._counts(
            f"{chosen:,} mapped · {left:,} left · {undecided:,} undecided{skipped}"
            f" · threshold {self.threshold:.0%} (+/-)"
        )

    def _counts(self, text: str) -> None:
        self.query_one("#step-counts", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    def _current(self) -> tuple[Kind, MergeRow, MergeLine] | None:
        kind = self.kind
        table = self.query_one(MergeTable)
        index = table.current_index
        if kind is None or index is None or kind != self._table_kind:
            return None  # not a list step, no row (the filter left none), or the table is being changed
        return kind, self._rows(kind)[index], table.lines[index]

    def _show_detail(self) -> None:
        current = self._current()
        detail = self.query_one("#detail", Static)
        if current is None:
            detail.update("")
            return
        _kind, row, line = current
        rules, settings, costs = self.data.weights.get(row.old.id, (0, 0, 0))
        leaning = []
        if rules:
            leaning.append(f"{rules:,} rule field{'s' if rules != 1 else ''}")
        if settings:
            leaning.append(f"{settings:,} setting{'s' if settings != 1 else ''}")
        if costs:
            leaning.append(f"{costs:,} cost field{'s' if costs != 1 else ''}")
        first = f"{line.old}: " + (
            ", ".join(leaning) + " use it" if leaning else "no rule or setting uses it"
        )
        if row.suggestion is not None:
            label = item_label(row.suggestion.code, row.suggestion.name)
            second = f"Suggested: {label} ({percent(row.confidence)} sure: {row.reason})"
        else:
            second = "No suggestion: Enter to choose from the new list, x to leave it."
        detail.update(Text(f"{first}\n{second}", no_wrap=True, overflow="ellipsis"))

    def _set_choice(self, kind: Kind, old_id: int, value: int | None, *, undecided: bool = False) -> None:
        """value: a new item id, or None (leave the former item); `undecided`: forget the choice."""
        choices = self.draft.choices.setdefault(kind, {})
        if undecided:
            choices.pop(old_id, None)
        else:
            choices[old_id] = value
        was_skipped = kind in self.draft.skipped
        self.draft.skipped.discard(kind)
        self._dirty = True
        self._redescribe(kind, None if was_skipped else old_id)

    def _redescribe(self, kind: Kind, only: int | None = None) -> None:
        """Rows describe the draft again: every row, or `only` the one of this former item."""
        table = self.query_one(MergeTable)
        for row, line in zip(self._rows(kind), table.lines, strict=True):
            if only is None or row.old.id == only:
                self._describe(kind, row, line)
        table.line_changed()
        self._list_counts(kind)
        self._show_detail()

    def action_choose(self) -> None:
        current = self._current()
        if current is None:
            return
        kind, row, _line = current
        if self.focused is not self.query_one(MergeTable):
            return
        chosen = self.draft.choices.get(kind, {}).get(row.old.id)
        selected = chosen if chosen is not None else (row.suggestion.id if row.suggestion else None)
        title = f"New {kind.label.lower()} item for “{printable(row.old.name)}”"

        def picked(result: Picked | None) -> None:
            if result is None:
                return
            self._set_choice(kind, row.old.id, None if result.item is None else result.item.id)
            self.query_one(MergeTable).move_cursor(1)

        self.app.push_screen(PickerScreen(title, self.data.new_items[kind], current=selected), picked)

    def action_accept(self) -> None:
        current = self._current()
        if current is None:
            return
        kind, row, line = current
        if line.state == "chosen":
            self._set_choice(kind, row.old.id, None, undecided=True)  # space again: back to a suggestion
            return
        if row.suggestion is None:
            self.notify("No suggestion for this item: Enter to choose one.", severity="warning")
            return
        self._set_choice(kind, row.old.id, row.suggestion.id)
        self.query_one(MergeTable).move_cursor(1)

    def action_leave(self) -> None:
        current = self._current()
        if current is not None:
            self._set_choice(current[0], current[1].old.id, None)
            self.query_one(MergeTable).move_cursor(1)

    def action_restore(self) -> None:
        current = self._current()
        if current is not None:
            self._set_choice(current[0], current[1].old.id, None, undecided=True)

    def action_accept_sure(self) -> None:
        kind = self.kind
        if kind is None:
            return
        choices = self.draft.choices.setdefault(kind, {})
        accepted = 0
        for row in self._rows(kind):
            if row.old.id not in choices and row.suggestion and row.confidence >= self.threshold:
                choices[row.old.id] = row.suggestion.id
                accepted += 1
        self.draft.skipped.discard(kind)
        self._dirty = True
        self._redescribe(kind)
        plural = "s" if accepted != 1 else ""
        self.notify(
            f"Accepted {accepted:,} suggestion{plural} at {self.threshold:.0%} or surer.",
            markup=False,
            timeout=3,
        )

    def action_threshold(self, delta: int) -> None:
        self.threshold = min(0.99, max(0.3, round(self.threshold + delta / 100, 2)))
        if self.kind is not None:
            self._list_counts(self.kind)

    def action_skip_list(self) -> None:
        kind = self.kind
        if kind is None:
            return
        if kind in self.draft.skipped:
            self.draft.skipped.discard(kind)
        else:
            self.draft.skipped.add(kind)
        self._dirty = True
        self._redescribe(kind)

    def action_filter(self) -> None:
        if self.kind is not None:
            self.query_one("#filter-row").set_class(True, "shown")
            self.query_one("#merge-filter", Input).focus()

    def _filter(self, value: str) -> None:
        self.query_one(MergeTable).set_filter(value)
        self._show_detail()

    @on(Input.Submitted, "#merge-filter")
    def _filter_done(self) -> None:
        self.query_one(MergeTable).focus()

    # -- summary ----------------------------------------------------------------------------------

    def _tally(self, kind: Kind) -> tuple[int, int, int, int, int, int]:
        """(mapped, left, undecided, rule fields re-pointed, settings and cost fields that follow) for one
        list."""
        rows = self._rows(kind)
        if kind in self.draft.skipped:
            return 0, len(rows), 0, 0, 0, 0
        choices = self.draft.choices.get(kind, {})
        mapped = [o for o, n in choices.items() if n is not None]
        left = sum(1 for n in choices.values() if n is None)
        weights = self.data.weights
        rules, settings, costs = (sum(weights.get(o, (0, 0, 0))[i] for o in mapped) for i in range(3))
        return len(mapped), left, len(rows) - len(mapped) - left, rules, settings, costs

    def _show_summary(self) -> None:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        for _ in range(6):
            grid.add_column(justify="right")
        grid.add_row("List", "Mapped", "Left", "Undecided", "Rules", "Settings", "Costs")
        totals = [0] * 6
        for kind in self.kinds:
            tally = self._tally(kind)
            totals = [a + b for a, b in zip(totals, tally, strict=True)]
            name = kind.label + (" (skipped)" if kind in self.draft.skipped else "")
            grid.add_row(name, *(f"{v:,}" for v in tally))
        grid.add_row(Text("Total", style="bold"), *(Text(f"{v:,}", style="bold") for v in totals))
        mapped, left, undecided, rules, settings, costs = totals
        lines = [
            f"Apply maps {mapped:,} former items to new ones and re-points {rules:,} rule fields,"
            f" {settings:,} settings and {costs:,} fields of costs not yet published; the mapped former"
            " items retire.",
            f"{left:,} former items stay as they are, with their rules.",
        ]
        if undecided:
            lines.append(
                f"{undecided:,} undecided items stay on offer: Merge lists comes back for them after Apply."
            )
        lines.append("It is one change, and Undo last merge (u on the Integration page) takes it back.")
        self.query_one("#step-help", Static).update(Text(" ".join(lines)))
        self.query_one("#step-text", Static).update(grid)
        self._counts("Enter: Apply · b: Back · Esc: close (your choices are kept)")

    def mapping(self) -> tuple[dict[Kind, dict[int, int | None]], list[Kind]]:
        """What Apply sends: each list's decided items, and the lists skipped whole."""
        skipped = [k for k in self.kinds if k in self.draft.skipped]
        mapping = {
            k: dict(self.draft.choices[k])
            for k in self.kinds
            if k not in self.draft.skipped and self.draft.choices.get(k)
        }
        return mapping, skipped

    @work(exclusive=True, group="merge-apply")
    async def _apply(self) -> None:
        import asyncio

        from dext_tui.core.errors import DextError

        mapping, skipped = self.mapping()
        if not mapping and not skipped:
            self.notify("Nothing to apply yet: map, leave or skip some items first.", severity="warning")
            return
        app = self.app
        self._applying = True
        mapped = sum(1 for pairs in mapping.values() for n in pairs.values() if n is not None)
        self._counts(f"Applying: re-pointing {mapped:,} items in one transaction…")
        try:
            message = await asyncio.to_thread(
                app.service.merge_apply,
                app.workspace,
                mapping,
                skip=skipped,  # type: ignore[attr-defined]
            )
        except DextError as exc:
            self.notify(
                printable(str(exc)), title="Merge not applied", severity="error", markup=False, timeout=15
            )
            return
        finally:
            self._applying = False
        self._dirty = False  # the service cleared the draft with the merge
        app.notify(printable(message), title="Lists merged", markup=False, timeout=10)
        self.dismiss(True)

    # -- moving between steps ---------------------------------------------------------------------

    def action_next(self) -> None:
        if self._data is None or self._applying:
            return
        if self.step == "summary":
            self._apply()
            return
        self._go(self.steps[self.steps.index(self.step) + 1])

    def action_back(self) -> None:
        if self._data is not None and self.step != "intro":
            self._go(self.steps[self.steps.index(self.step) - 1])

    def on_action_button_pressed(self, event: ActionButton.Pressed) -> None:
        event.stop()
        if event.button.id == "next":
            self.action_next()
        elif event.button.id == "back":
            self.action_back()

    def action_close(self) -> None:
        box = self.query_one("#merge-filter", Input)
        if self.focused is box or box.value:  # Esc clears the filter first, then closes
            box.value = ""
            self.query_one("#filter-row").set_class(False, "shown")
            self.query_one(MergeTable).focus()
            return
        self._save_if_dirty()
        self.dismiss(False)

    def _save_if_dirty(self) -> None:
        if self._dirty and self._data is not None:
            self._dirty = False
            self._save(self.draft.to_json())

    @work(thread=True, group="merge-draft")
    def _save(self, snapshot: dict) -> None:
        app = self.app
        app.service.save_merge_draft(app.workspace, MergeDraft.from_json(snapshot))  # type: ignore[attr-defined]


def percent(confidence: float) -> str:
    """How sure, as a bookkeeper reads it: never "100%" for a guess, however good."""
    return f"{min(round(confidence * 100), 99)}%"


def _sure(row: MergeRow) -> str:
    return f"{percent(row.confidence)} {row.reason}" if row.reason else percent(row.confidence)
