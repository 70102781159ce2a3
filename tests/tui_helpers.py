"""Shared set-up for the Pilot and snapshot tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from dext_tui.app import DextApp
from dext_tui.core.service import DextService

FIXED_NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


async def connected_service(data_dir: Path, ledger: Path, workspace: str = "Acme") -> DextService:
    service = DextService.open(data_dir)
    ws = service.ensure_workspace(workspace)
    await service.connect(ws, "beancount", str(ledger))
    return service


def freeze_times(service: DextService, display_target: str | None = None) -> None:
    """Fixed timestamps (and, for snapshots, a fixed ledger path) so screens are repeatable."""
    with service.store.write() as s:
        conn = s.connection()
        conn.exec_driver_sql(
            "UPDATE connection SET connected_at = '2026-11-20 08:00:00.000000',"
            " last_refreshed_at = '2026-11-25 09:00:00.000000'"
        )
        conn.exec_driver_sql(
            "UPDATE listsync SET last_attempt_at = '2026-11-25 09:00:00.000000',"
            " last_success_at = '2026-11-25 09:00:00.000000'"
        )
        conn.exec_driver_sql("UPDATE connectionevent SET at = '2026-11-20 08:00:00.000000'")
        conn.exec_driver_sql("UPDATE connection SET expires_at = '2027-11-20 08:00:00.000000'")
        if display_target:
            conn.exec_driver_sql("UPDATE connection SET target = ?", (display_target,))


def make_app(data_dir: Path, workspace: str = "Acme") -> DextApp:
    return DextApp(data_dir=data_dir, workspace=workspace, clock=FIXED_NOW)


async def settle(pilot, app: DextApp) -> None:
    """Wait until start-up and any refresh have finished and the screen has caught up."""
    for _ in range(200):
        await pilot.pause()
        if app.ready and not app.refreshing:
            break
        await asyncio.sleep(0.02)
    await app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: DextApp, screen=None) -> str:
    """What the terminal shows (or one screen of the stack shows), as plain text."""
    screen = screen or app.screen
    return "\n".join(strip.text for strip in screen._compositor.render_strips())
