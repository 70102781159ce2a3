"""Logging in to cloud books from the terminal: the URL (copied to the clipboard with OSC 52, so it reaches
the desktop over SSH), a loopback listener for the redirect, or the redirect URL pasted in; then the
organisation, when the login opens several; then connect, reconnect or change."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from dext_tui.connectors.loopback import CALLBACK_PATH, LOOPBACK_HOST, LOOPBACK_PORT
from dext_tui.core.domain import PROVIDER_LABELS, ConnectionInfo, ListCounts, RefreshEvent
from dext_tui.core.errors import DextError
from dext_tui.core.text import printable
from dext_tui.screens.dialogs import DialogScreen


class LoginDialog(DialogScreen[tuple[ConnectionInfo, list[ListCounts]] | None]):
    DEFAULT_CSS = """
    LoginDialog #url { color: $accent; height: auto; margin: 0 0 1 0; }
    LoginDialog #organisations { height: auto; max-height: 8; display: none; }
    LoginDialog #organisations.shown { display: block; }
    LoginDialog #state { height: auto; min-height: 1; }
    LoginDialog #state.error { color: $error; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, provider: str, *, how: str = "connect", organisation: str | None = None) -> None:
        """`organisation`: for a reconnect, the one connected (chosen at once when the login opens it)."""
        super().__init__()
        self.provider, self.how, self.organisation = provider, how, organisation
        self.label = PROVIDER_LABELS.get(provider, provider)
        self._busy = False

    def compose(self) -> ComposeResult:
        verb = {"connect": "Connect", "reconnect": "Reconnect", "change": "Change connection to"}[self.how]
        with Vertical(classes="dialog"):
            yield Label(f"{verb} {self.label}", classes="title")
            yield Static(
                Text(
                    "1. Open this address in a browser, log in and allow access. It is on your clipboard"
                    " (if your terminal allows it)."
                ),
                classes="help login-step",
            )
            yield Static("", id="url", classes="login-step")
            yield Static(
                Text(
                    f"2. The login comes back here by itself on {LOOPBACK_HOST}:{LOOPBACK_PORT} (over SSH:"
                    f" ssh -L {LOOPBACK_PORT}:{LOOPBACK_HOST}:{LOOPBACK_PORT} this-server). Or paste the"
                    " address the browser landed on:"
                ),
                classes="help login-step",
            )
            yield Input(
                placeholder=f"http://{LOOPBACK_HOST}:{LOOPBACK_PORT}{CALLBACK_PATH}?code=…", id="redirect"
            )
            yield OptionList(id="organisations")
            yield Static("", id="state")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        app = self.app
        try:
            url = app.service.authorisations.begin(self.provider, app.workspace.id)  # type: ignore[attr-defined]
        except DextError as exc:
            self._say(str(exc), error=True)
            return
        self.query_one("#url", Static).update(Text(url))  # the URL carries no secret (PKCE)
        app.copy_to_clipboard(url)
        self.query_one("#redirect", Input).focus()
        self._listen()

    def _say(self, message: str, *, error: bool = False) -> None:
        state = self.query_one("#state", Static)
        state.set_class(error, "error")
        state.update(Text(printable(message)))

    @work(exclusive=True, group="login-listen")
    async def _listen(self) -> None:
        from dext_tui.connectors.loopback import RedirectListener

        try:
            async with RedirectListener() as listener:
                self._say(f"Waiting for the login on {LOOPBACK_HOST}:{listener.port}…")
                url = await listener.url()
        except DextError as exc:
            self._say(str(exc))
            return
        self._complete(url)

    @on(Input.Submitted, "#redirect")
    def _pasted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._complete(event.value.strip())

    @work(exclusive=True, group="login-complete")
    async def _complete(self, redirect_url: str) -> None:
        if self._busy:
            return
        self._busy = True
        app = self.app
        self._say("Logging in…")
        try:
            organisations = await app.service.authorisations.complete(  # type: ignore[attr-defined]
                self.provider,
                app.workspace.id,
                redirect_url,  # type: ignore[attr-defined]
            )
        except DextError as exc:
            self._busy = False
            self._say(str(exc), error=True)
            return
        self.workers.cancel_group(self, "login-listen")
        for widget in self.query(".login-step"):
            widget.display = False  # logged in: the URL and the paste box have done their job
        known = [o for o in organisations if o.id == self.organisation]
        if len(organisations) == 1 or known:
            await self._connect((known or organisations)[0].id)
            return
        menu = self.query_one("#organisations", OptionList)
        menu.add_options([Option(Text(printable(o.name)), id=o.id) for o in organisations])
        menu.add_class("shown")
        menu.highlighted = 0
        menu.focus()
        self._say("That login opens several organisations: choose one (Enter).")

    @on(OptionList.OptionSelected, "#organisations")
    async def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self._connect_worker(event.option.id)

    @work(exclusive=True, group="login-connect")
    async def _connect_worker(self, organisation: str) -> None:
        await self._connect(organisation)

    async def _connect(self, organisation: str) -> None:
        app = self.app
        self._say("Pulling the lists…")
        try:
            result = await app.service.connect_authorised(  # type: ignore[attr-defined]
                app.workspace,  # type: ignore[attr-defined]
                self.provider,
                organisation,
                how=self.how,
                progress=self._progress,
                isolate=True,
            )
        except DextError as exc:
            self._busy = False
            self._say(str(exc), error=True)
            return
        self.dismiss(result)

    def _progress(self, event: RefreshEvent) -> None:
        if event.state == "waiting" and event.message:
            self._say(f"Pulling the lists… {event.message}")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "login-listen")
        self.workers.cancel_group(self, "login-complete")
        self.dismiss(None)
