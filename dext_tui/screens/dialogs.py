"""Dialogs: connect (or reconnect) a ledger, switch workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from dext_tui.connectors.beancount_ledger import missing_reason
from dext_tui.core.domain import (
    ALL_KINDS,
    ConnectionInfo,
    DisconnectChoice,
    DisconnectPreview,
    Kind,
    ListCounts,
    RefreshEvent,
    normalise_workspace_name,
    workspace_name_problem,
)
from dext_tui.core.errors import DextError
from dext_tui.core.text import printable

T = TypeVar("T")


def _expand(text: str) -> Path:
    return Path(text.strip()).expanduser()


def check_ledger_path(text: str) -> str | None:
    """None when the path looks usable, else why not (shown as the user types)."""
    if not text.strip():
        return "Give the path of the ledger file (e.g. ~/books/main.beancount)"
    return missing_reason(_expand(text).absolute())


class DialogScreen(ModalScreen[T]):
    """A centred box over the app; the look shared by every dialog."""

    DEFAULT_CSS = """
    DialogScreen { align: center middle; }
    DialogScreen .dialog {
        width: 76; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 2;
    }
    DialogScreen .title { text-style: bold; color: $accent; }
    DialogScreen .field-label { padding: 1 0 0 0; text-style: bold; }
    DialogScreen OptionList { height: auto; max-height: 10; }
    DialogScreen .check { height: auto; color: $success; }
    DialogScreen .check.error { color: $error; }
    DialogScreen .help { color: $text-muted; height: auto; }
    DialogScreen .buttons { height: auto; padding: 1 0 0 0; }
    DialogScreen .buttons Button { margin: 0 2 0 0; }
    """


@dataclass(frozen=True)
class LoginRequest:
    """The Connect dialog's answer when a cloud provider was chosen: log in to it (LoginDialog)."""

    provider: str
    how: str  # connect | change | reconnect


class ConnectDialog(DialogScreen[tuple[ConnectionInfo, list[ListCounts]] | LoginRequest | None]):
    """Choose the provider and the ledger; connects (or reconnects) in a worker, errors shown inline."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, *, reconnect: ConnectionInfo | None = None, change: ConnectionInfo | None = None
    ) -> None:
        super().__init__()
        self.reconnecting = reconnect
        self.changing = change

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            if self.changing:
                yield Label("Change connection", classes="title")
                yield Static(
                    Text(
                        f"Move to other books. {self.changing.provider_label} "
                        f"({printable(self.changing.tenant_name)}) is disconnected; its lists stay as former"
                        " lists, with their rules, until you merge them into the new ones."
                    ),
                    classes="help",
                )
            elif self.reconnecting:
                yield Label("Reconnect", classes="title")
                yield Static(
                    Text(
                        f"Reconnect {self.reconnecting.provider_label} "
                        f"({printable(self.reconnecting.tenant_name)}). Rules, settings and lists are kept. "
                        "If the ledger moved, give its new path."
                    ),
                    classes="help",
                )
            else:
                yield Label("Connect accounting software", classes="title")
            if not self.reconnecting:
                yield Label("Provider (Enter on Xero or QuickBooks logs in)", classes="field-label")
                yield OptionList(
                    Option("Beancount ledger (a local file, works offline)", id="beancount"),
                    Option("Xero (log in with a browser)", id="xero"),
                    Option("QuickBooks Online (log in with a browser)", id="quickbooks"),
                    id="provider",
                )
            yield Label("Ledger file", classes="field-label")
            yield Input(
                value=(self.reconnecting.target or "") if self.reconnecting else "",
                placeholder="~/books/main.beancount",
                id="path",
            )
            yield Static("", id="path-check", classes="check")
            with Horizontal(classes="buttons"):
                yield Button(
                    "Change" if self.changing else "Reconnect" if self.reconnecting else "Connect",
                    id="go",
                    variant="success",
                    compact=True,
                )
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        if not self.reconnecting:
            self.query_one("#provider", OptionList).highlighted = 0
        self.query_one("#path", Input).focus()
        self._check(self.query_one("#path", Input).value)

    @on(OptionList.OptionSelected, "#provider")
    def _provider(self, event: OptionList.OptionSelected) -> None:
        """A cloud provider logs in in its own dialog (the app opens it); Beancount wants the path."""
        if event.option.id in ("xero", "quickbooks"):
            self.dismiss(LoginRequest(event.option.id, "change" if self.changing else "connect"))
        else:
            self.query_one("#path", Input).focus()

    @on(Input.Changed, "#path")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, value: str) -> bool:
        problem = check_ledger_path(value)
        line = self.query_one("#path-check", Static)
        line.set_class(problem is not None, "error")
        line.update(Text("✗ " + printable(problem)) if problem else Text("✓ Ledger file found"))
        return problem is None

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        value = self.query_one("#path", Input).value
        if not self._check(value):
            return
        self.query_one("#go", Button).disabled = True
        self.query_one("#path-check", Static).update("Reading the ledger…")
        self._connect(str(_expand(value).absolute()))

    @work(exclusive=True, group="connect-dialog")
    async def _connect(self, path: str) -> None:
        app = self.app
        await app.wait_ready()  # type: ignore[attr-defined]
        service, ws = app.service, app.workspace  # type: ignore[attr-defined]
        line = self.query_one("#path-check", Static)
        saved: list[Kind] = []

        def progress(event: RefreshEvent) -> None:
            """Each list as it is pulled in: "Saving suppliers… (5 of 7 lists)"."""
            if event.state == "reading":
                reading = "the former and the new books" if self.changing else "the ledger"
                line.update(Text(f"Reading {reading}…"))
            elif event.state == "applying" and event.kind is not None:
                line.update(
                    Text(f"Saving {event.kind.label.lower()}… ({len(saved)} of {len(ALL_KINDS)} lists)")
                )
            elif event.state in ("done", "failed") and event.kind is not None:
                saved.append(event.kind)

        try:
            if self.changing:
                result = await service.change_connection(
                    ws, "beancount", path, progress=progress, isolate=True
                )
            elif self.reconnecting:
                result = await service.reconnect(ws, path, progress=progress, isolate=True)
            else:
                result = await service.connect(ws, "beancount", path, progress=progress, isolate=True)
        except DextError as exc:
            line.add_class("error")
            line.update(Text("✗ " + printable(str(exc))))
            self.query_one("#go", Button).disabled = False
            return
        self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "connect-dialog")
        self.dismiss(None)


class WorkspaceDialog(DialogScreen[str | None]):
    """Pick a workspace, or type a new name to create one."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, names: list[str], current: str) -> None:
        super().__init__()
        self.names = names
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("Switch workspace", classes="title")
            yield Input(placeholder="Filter, or type a new workspace name", id="name")
            yield OptionList(id="workspaces")
            yield Static("Enter opens the highlighted workspace, or creates the one typed.", classes="help")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#name", Input).focus()

    def _fill(self, needle: str) -> None:
        options = self.query_one("#workspaces", OptionList)
        options.clear_options()
        wanted = needle.casefold().strip()
        shown = [n for n in self.names if wanted in n.casefold()]
        options.add_options(
            [Option(Text(printable(n) + ("  (current)" if n == self.current else "")), id=n) for n in shown]
        )
        if wanted and not any(n.casefold() == wanted for n in self.names):
            name = normalise_workspace_name(needle)
            problem = workspace_name_problem(name)
            if problem:
                options.add_option(Option(Text(f"Cannot create: {problem}"), id="\0bad", disabled=True))
            else:
                options.add_option(Option(Text(f'Create "{printable(name)}"'), id="\0new"))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#name")
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def key_down(self) -> None:
        self.query_one("#workspaces", OptionList).action_cursor_down()

    def key_up(self) -> None:
        self.query_one("#workspaces", OptionList).action_cursor_up()

    @on(Input.Submitted, "#name")
    def _submitted(self) -> None:
        options = self.query_one("#workspaces", OptionList)
        if options.highlighted is None or options.get_option_at_index(options.highlighted).disabled:
            return
        self._choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id == "\0new":
            self.dismiss(normalise_workspace_name(self.query_one("#name", Input).value))
        elif option_id:
            self.dismiss(option_id)


class ConfirmDialog(DialogScreen[bool]):
    """A question with a confirm and a cancel button; Enter confirms only on the confirm button."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, title: str, message: str, confirm: str, *, danger: bool = False) -> None:
        super().__init__()
        self._title, self._message, self._confirm, self._danger = title, message, confirm, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title), classes="title")
            yield Static(Text(self._message), classes="help")
            with Horizontal(classes="buttons"):
                yield Button(
                    self._confirm, id="confirm", variant="error" if self._danger else "success", compact=True
                )
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel" if self._danger else "#confirm", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _no(self) -> None:
        self.dismiss(False)


class DisconnectDialog(DialogScreen[DisconnectChoice | None]):
    """The three ways to disconnect, each saying what it touches; merge-later needs a tick to confirm."""

    DEFAULT_CSS = """
    DisconnectDialog RadioSet { width: 1fr; border: none; padding: 0; background: $surface; }
    DisconnectDialog #what { height: auto; min-height: 3; padding: 1 0 0 0; }
    DisconnectDialog #what.danger { color: $error; text-style: bold; }
    DisconnectDialog #understood { display: none; }
    DisconnectDialog #understood.shown { display: block; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, preview: DisconnectPreview) -> None:
        super().__init__()
        self.preview = preview

    def compose(self) -> ComposeResult:
        p = self.preview
        with Vertical(classes="dialog"):
            yield Static(Text(f"Disconnect {p.provider_label} ({printable(p.tenant_name)})"), classes="title")
            yield Static("What should happen to your lists, rules and settings?", classes="help")
            with RadioSet(id="choice"):
                yield RadioButton("Keep the current lists", value=True, id="keep")
                yield RadioButton(
                    "Reinstate the lists from before integrating",
                    id="reinstate",
                    disabled=p.snapshot_taken_at is None,
                )
                yield RadioButton("Merge my list data later", id="merge-later")
            yield Static("", id="what")
            yield Checkbox(
                f"I understand: {p.rules:,} rules and all manual settings will be removed", id="understood"
            )
            with Horizontal(classes="buttons"):
                yield Button("Disconnect", id="go", variant="error", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._describe()
        self.query_one(RadioSet).focus()

    @property
    def choice(self) -> DisconnectChoice:
        pressed = self.query_one(RadioSet).pressed_button
        return DisconnectChoice(pressed.id if pressed and pressed.id else "keep")

    @on(RadioSet.Changed)
    @on(Checkbox.Changed)
    def _describe(self) -> None:
        choice = self.choice
        what = self.query_one("#what", Static)
        what.update(Text(self.preview.describe(choice)))
        danger = choice == DisconnectChoice.MERGE_LATER
        what.set_class(danger, "danger")
        box = self.query_one("#understood", Checkbox)
        box.set_class(danger, "shown")
        self.query_one("#go", Button).disabled = danger and not box.value

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        choice = self.choice
        if choice == DisconnectChoice.MERGE_LATER and not self.query_one("#understood", Checkbox).value:
            return
        self.dismiss(choice)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ItemDialog(DialogScreen[tuple[str, str | None] | None]):
    """Name and code of an item of an own list (add or rename); dismisses with (name, code) or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, *, name: str = "", code: str | None = None) -> None:
        super().__init__()
        self._title, self._name, self._code = title, name, code

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title), classes="title")
            yield Label("Name", classes="field-label")
            yield Input(value=self._name, max_length=200, id="item-name")
            yield Label("Code (optional)", classes="field-label")
            yield Input(value=self._code or "", max_length=64, id="item-code")
            yield Static("", id="item-check", classes="check error")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="success", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#item-name", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        from dext_tui.core.own_lists import check_item_text

        name = self.query_one("#item-name", Input).value.strip()
        code = self.query_one("#item-code", Input).value.strip() or None
        problem = check_item_text(name, code)
        if problem:
            self.query_one("#item-check", Static).update(Text("✗ " + problem.capitalize()))
            return
        self.dismiss((name, code))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
