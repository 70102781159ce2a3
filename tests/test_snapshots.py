"""A handful of SVG snapshots of key screens, at 80x24 and 120x40, with fixed data and clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tui_helpers import connected_service, freeze_times, make_app, settle

SHOWN_LEDGER = "/home/bookkeeper/books/acme.beancount"


@pytest.fixture
def acme_data(data_dir: Path, small_ledger: Path) -> Path:
    async def prepare() -> None:
        service = await connected_service(data_dir, small_ledger)
        freeze_times(service, display_target=SHOWN_LEDGER)
        service.close()

    asyncio.run(prepare())
    return data_dir


async def _ready(pilot) -> None:
    await settle(pilot, pilot.app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_integration_page(snap_compare, acme_data: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(acme_data), terminal_size=size, run_before=_ready)


def test_integration_page_expired(snap_compare, acme_data: Path) -> None:
    import sqlite3

    con = sqlite3.connect(acme_data / "dext.db")
    con.execute(
        "UPDATE connection SET status = 'expired', status_reason = ?",
        (f"Ledger file not found: {SHOWN_LEDGER}",),
    )
    con.commit()
    con.close()
    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=_ready)


def test_manage_connection_menu(snap_compare, acme_data: Path) -> None:
    async def open_menu(pilot) -> None:
        await _ready(pilot)
        await pilot.press("m")
        await pilot.pause()

    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=open_menu)


def test_tax_codes_list_with_archived(snap_compare, acme_data: Path) -> None:
    async def open_list(pilot) -> None:
        await _ready(pilot)
        await pilot.press("5", "enter")
        await _ready(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()

    assert snap_compare(make_app(acme_data), terminal_size=(80, 24), run_before=open_list)
