"""Cloud books end to end, as a bookkeeper on an SSH session would do it: the CLI, real loopback HTTP to the
sandbox (which follows Xero's and Intuit's published contracts), a real SQLite store."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
from test_cli import run

from dext_tui.sandbox import Sandbox

HARBOUR = "Harbour Lane Design Ltd"


def _browser(url: str) -> str:
    """What a person does in the browser: open the URL, log in (the sandbox at once), land somewhere."""
    answer = httpx.get(url, follow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["location"]


def test_xero_login_refresh_revoke_expired_then_reconnect_keeps_rules(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Sandbox(port=0, contacts=250) as sandbox:
        env = sandbox.env()
        url = run(data, "connect", "xero", "--print-url", env=env).stdout.strip()
        assert "code_challenge_method=S256" in url and "state=" in url
        landed = _browser(url)

        # The login opens two organisations: the CLI names them and keeps the login for --tenant.
        proc = run(data, "connect", "xero", "--redirect-url", landed, check=1, env=env)
        assert HARBOUR in proc.stderr and "--tenant NAME" in proc.stderr
        out = run(data, "connect", "xero", "--tenant", HARBOUR.upper(), env=env).stdout
        assert f"Connected 'Default' to Xero: {HARBOUR}" in out

        status = json.loads(run(data, "status", "--json", env=env).stdout)
        assert status["status"] == "connected" and status["organisation"] == HARBOUR
        suppliers = json.loads(run(data, "lists", "suppliers", "--json", env=env).stdout)
        categories = json.loads(run(data, "lists", "categories", "--json", env=env).stdout)
        assert len(suppliers) > 50 and categories
        supplier, category = suppliers[0]["name"], categories[0]["code"]
        run(data, "rules", "add", "supplier", supplier, "--category", category, env=env)

        # Tokens are owner-only files, and no command ever printed one.
        token_files = [p for p in (data / "tokens").iterdir() if p.is_file()]
        assert token_files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in token_files)
        assert stat.S_IMODE((data / "tokens").stat().st_mode) == 0o700
        secrets = [json.loads(p.read_text()).get("access_token") for p in token_files]
        assert all(s and s not in out for s in secrets)

        # The practice's access is revoked at Xero: the refresh fails as "Connection is expired".
        httpx.post(f"{sandbox.url}/_sandbox/tokens/revoke", json={}, timeout=10).raise_for_status()
        proc = run(data, "refresh", check=1, env=env)
        assert "Connection is expired" in proc.stderr
        assert json.loads(run(data, "status", "--json", env=env).stdout)["status"] == "expired"

        # Reconnect: log in again; the same organisation, every rule kept.
        url = run(data, "reconnect", "--print-url", env=env).stdout.strip()
        out = run(data, "reconnect", "--redirect-url", _browser(url), "--tenant", HARBOUR, env=env).stdout
        assert "Reconnected" in out
        assert json.loads(run(data, "status", "--json", env=env).stdout)["status"] == "connected"
        rules = json.loads(run(data, "rules", "list", "--json", env=env).stdout)
        assert [(r["target"]["name"], r["category"]["code"]) for r in rules] == [(supplier, category)]
        run(data, "refresh", env=env)

        # Disconnecting deletes the organisation's tokens: nothing left that could read the books.
        run(data, "disconnect", "--keep", env=env)
        assert not [p for p in (data / "tokens").iterdir() if p.suffix == ".json"]


def test_quickbooks_login_names_its_company(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Sandbox(port=0) as sandbox:
        env = sandbox.env()
        url = run(data, "connect", "quickbooks", "--print-url", env=env).stdout.strip()
        out = run(data, "connect", "quickbooks", "--redirect-url", _browser(url), env=env).stdout
        assert "Connected 'Default' to QuickBooks Online" in out
        vendors = json.loads(run(data, "lists", "suppliers", "--all", "--json", env=env).stdout)
        assert {v["status"] for v in vendors} == {"active", "archived"}  # Active IN (true,false)

        # A redirect that is not the login's (no code, another state) is refused in one line.
        url = run(data, "change", "quickbooks", "--print-url", env=env).stdout.strip()
        bad = run(
            data, "change", "quickbooks", "--redirect-url", url.replace("state=", "x="), check=1, env=env
        )
        assert bad.stderr.count("\n") == 1 and "does not answer the authorisation in progress" in bad.stderr

        # The practice moves this client from QuickBooks to Xero: the former lists stay, to be merged.
        url = run(data, "change", "xero", "--print-url", env=env).stdout.strip()
        landed = _browser(url)
        out = run(data, "change", "xero", "--redirect-url", landed, "--tenant", HARBOUR, env=env).stdout
        assert f"Changed 'Default' to Xero: {HARBOUR}" in out
        plan = json.loads(run(data, "merge", "--plan", "--json", env=env).stdout)
        assert plan["states"]["suppliers"] == "pending" and plan["lists"]["suppliers"]


async def test_refreshes_survive_outages_and_refuse_bad_payloads_without_storing_them(
    tmp_path: Path, monkeypatch
) -> None:
    """Through the service, over loopback: a token lapsing mid-session, a 429 storm and a 5xx burst are
    ridden out; a malformed answer fails the refresh in one clear line and changes nothing stored."""
    import pytest

    from dext_tui.core.domain import Kind
    from dext_tui.core.errors import InvalidData
    from dext_tui.core.service import DextService

    with Sandbox(port=0, contacts=300) as sandbox:
        monkeypatch.setenv("DEXT_TUI_SANDBOX_URL", sandbox.url)
        service = DextService.open(tmp_path / "data")
        try:
            ws = service.ensure_workspace("Acme")
            auth = service.authorisations
            login = auth.begin("xero", ws.id)
            await auth.complete("xero", ws.id, _browser(login))
            await service.connect_authorised(ws, "xero", HARBOUR)
            suppliers = {i.name for i in service.items(ws, Kind.SUPPLIERS, include_archived=True)}

            def control(path: str, body: dict) -> None:
                httpx.post(f"{sandbox.url}/_sandbox/{path}", json=body, timeout=10).raise_for_status()

            control("tokens/expire", {})  # the access token lapses: refreshed on the 401, then retried
            control("faults", {"faults": [{"kind": "status", "status": 429, "count": 2, "retry_after": 1}]})
            control("faults", {"faults": [{"kind": "status", "status": 503, "count": 2}]})
            events = []
            counts = await service.refresh(ws, force=True, progress=events.append)
            assert all(c.ok for c in counts)
            waits = [e.message for e in events if e.state == "waiting"]
            assert waits and waits[0] == "Xero limits calls: waiting 1 second"  # the screen says why
            assert service.connection(ws).status.value == "connected"

            control("faults", {"faults": [{"kind": "malformed", "count": 1, "path": "Contacts"}]})
            with pytest.raises(InvalidData, match=r"Xero.*Contacts"):
                await service.refresh(ws, force=True)
            after = {i.name for i in service.items(ws, Kind.SUPPLIERS, include_archived=True)}
            assert after == suppliers  # nothing half-stored
            counts = await service.refresh(ws, force=True)  # and the next refresh is whole again
            assert all(c.ok for c in counts)
        finally:
            service.close()


async def test_a_token_that_lapses_in_the_middle_of_a_refresh_is_renewed_and_the_refresh_completes(
    tmp_path: Path, monkeypatch
) -> None:
    import asyncio

    from dext_tui.core.service import DextService

    with Sandbox(port=0, contacts=2500, rate_limit=False) as sandbox:  # 3 pages of contacts
        monkeypatch.setenv("DEXT_TUI_SANDBOX_URL", sandbox.url)
        service = DextService.open(tmp_path / "data")
        try:
            ws = service.ensure_workspace("Acme")
            auth = service.authorisations
            await auth.complete("xero", ws.id, _browser(auth.begin("xero", ws.id)))
            await service.connect_authorised(ws, "xero", HARBOUR)
            sandbox.reset_calls()
            # The first page of contacts answers slowly; meanwhile every access token expires, so the
            # next pages meet a 401.
            sandbox.add_fault("slow", seconds=1.0, path="Contacts", count=1)

            async def expire_soon() -> None:
                await asyncio.sleep(0.4)
                await asyncio.to_thread(sandbox.expire_tokens)

            expiring = asyncio.create_task(expire_soon())
            counts = await service.refresh(ws, force=True)
            await expiring
            assert all(c.ok for c in counts)
            calls = sandbox.calls()["by_path"]
            assert calls.get("POST /identity.xero.com/connect/token", 0) >= 1  # renewed on the way
            assert any(k.endswith("/Contacts") for k in calls)
        finally:
            service.close()


def test_reconnecting_to_another_organisation_is_refused_and_leaves_no_tokens(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Sandbox(port=0, contacts=20) as sandbox:
        env = sandbox.env()
        url = run(data, "connect", "xero", "--print-url", env=env).stdout.strip()
        run(data, "connect", "xero", "--redirect-url", _browser(url), "--tenant", HARBOUR, env=env)
        before = sorted(p.name for p in (data / "tokens").iterdir())

        url = run(data, "reconnect", "--print-url", env=env).stdout.strip()
        proc = run(
            data,
            "reconnect",
            "--redirect-url",
            _browser(url),
            "--tenant",
            "Northwind Trading Ltd",
            check=1,
            env=env,
        )
        assert "another organisation" in proc.stderr and proc.stderr.count("\n") == 1
        assert sorted(p.name for p in (data / "tokens").iterdir()) == before  # nothing saved for Northwind
        url = run(data, "connect", "xero", "--print-url", env=env).stdout.strip()
        proc = run(
            data,
            "connect",
            "xero",
            "--redirect-url",
            _browser(url),
            "--tenant",
            "Northwind Trading Ltd",
            check=1,
            env=env,
        )
        assert "already connected" in proc.stderr
        assert sorted(p.name for p in (data / "tokens").iterdir()) == before
        assert json.loads(run(data, "status", "--json", env=env).stdout)["status"] == "connected"


def test_a_connect_that_fails_leaves_no_tokens_and_can_be_retried_without_logging_in_again(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with Sandbox(port=0, contacts=20) as sandbox:
        env = sandbox.env()
        url = run(data, "connect", "xero", "--print-url", env=env).stdout.strip()
        sandbox.add_fault("malformed", path="Accounts", count=1)
        proc = run(
            data, "connect", "xero", "--redirect-url", _browser(url), "--tenant", HARBOUR, check=1, env=env
        )
        assert "Accounts" in proc.stderr and proc.stderr.count("\n") == 1
        assert not [p for p in (data / "tokens").iterdir() if p.suffix == ".json"]  # nothing connected
        assert json.loads(run(data, "status", "--json", env=env).stdout)["status"] == "disconnected"
        out = run(data, "connect", "xero", "--tenant", HARBOUR, env=env).stdout  # the login is still good
        assert f"Connected 'Default' to Xero: {HARBOUR}" in out
