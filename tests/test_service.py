from __future__ import annotations

import os
from pathlib import Path

import pytest

from dext_tui.core.domain import ConnectionStatus, Kind
from dext_tui.core.errors import ConnectionExpired, DextError, InvalidData, NotConnected
from dext_tui.core.service import DextService


def names(service, ws, kind, include_archived=False):
    return {r.name: r.status for r in service.items(ws, kind, include_archived=include_archived)}


async def test_connect_pulls_every_list(service, small_ledger: Path) -> None:
    ws = service.ensure_workspace("Acme")
    info, counts = await service.connect(ws, "beancount", str(small_ledger))
    assert info.status == ConnectionStatus.CONNECTED
    assert info.tenant_name == "Acme Widgets Ltd"
    assert {c.kind for c in counts} == set(Kind)
    assert names(service, ws, Kind.SUPPLIERS) == {"Landlord Ltd": "active", "Rail Co": "active"}
    assert "Retired code" not in names(service, ws, Kind.TAX_CODES)
    assert names(service, ws, Kind.TAX_CODES, include_archived=True)["Retired code"] == "archived"


async def test_refresh_adds_changes_archives_and_restores(service, small_ledger: Path) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    ids_before = {r.name: r.id for r in service.items(ws, Kind.SUPPLIERS)}
    text = small_ledger.read_text()
    text = text.replace('"Rail Co"', '"Train Co"').replace('"Office rent"', '"Rent of office"')
    text += '\n2024-02-01 * "New Supplier" ""\n  Expenses:Travel  1.00 GBP\n  Assets:Bank:Current\n'
    small_ledger.write_text(text)
    counts = {c.kind: c for c in await service.refresh(ws)}
    assert (counts[Kind.SUPPLIERS].added, counts[Kind.SUPPLIERS].archived) == (2, 1)
    assert counts[Kind.CATEGORIES].changed == 1
    assert counts[Kind.SUPPLIERS].summary() == "Suppliers: 2 added, 1 archived"
    assert names(service, ws, Kind.SUPPLIERS, include_archived=True)["Rail Co"] == "archived"
    after = {r.name: r.id for r in service.items(ws, Kind.SUPPLIERS, include_archived=True)}
    assert after["Landlord Ltd"] == ids_before["Landlord Ltd"]  # ids are stable

    small_ledger.write_text(text.replace('"Train Co"', '"Rail Co"'))
    counts = {c.kind: c for c in await service.refresh(ws, [Kind.SUPPLIERS])}
    assert counts[Kind.SUPPLIERS].restored == 1
    after2 = {r.name: r.id for r in service.items(ws, Kind.SUPPLIERS)}
    assert after2["Rail Co"] == ids_before["Rail Co"]  # the same item came back, not a new one


async def test_unchanged_ledger_is_not_parsed_again(service, small_ledger: Path, monkeypatch) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    from dext_tui.connectors import beancount_ledger

    def boom(*_a, **_k):
        raise AssertionError("parsed an unchanged ledger")

    monkeypatch.setattr(beancount_ledger, "load_ledger_lists", boom)
    counts = await service.refresh(ws)
    assert all(c.unchanged_source for c in counts)
    assert {c.kind: c.total for c in counts}[Kind.SUPPLIERS] == 2


async def test_reload_of_one_list_leaves_the_others(service, small_ledger: Path) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    small_ledger.write_text(
        small_ledger.read_text()
        .replace('"Rail Co"', '"Train Co"')
        .replace('"Big Client plc"', '"Bigger Client plc"')
    )
    counts = await service.refresh(ws, [Kind.CUSTOMERS])
    assert [c.kind for c in counts] == [Kind.CUSTOMERS]
    assert "Bigger Client plc" in names(service, ws, Kind.CUSTOMERS)
    assert "Rail Co" in names(service, ws, Kind.SUPPLIERS)  # not reloaded
    counts = await service.refresh(ws)  # the customers list is current, but the others are not
    assert {c.kind: c.added for c in counts}[Kind.SUPPLIERS] == 1


async def test_a_ledger_with_errors_changes_nothing(service, small_ledger: Path) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    before = {k: service.items(ws, k, include_archived=True) for k in Kind}
    small_ledger.write_text(
        small_ledger.read_text() + '\n2024-03-01 * "X" ""\n  Expenses:Nope 1 GBP\n  Assets:Bank:Current\n'
    )
    with pytest.raises(InvalidData, match=r"books\.beancount:\d+: .*Expenses:Nope"):
        await service.refresh(ws)
    assert {k: service.items(ws, k, include_archived=True) for k in Kind} == before
    assert service.connection(ws).status == ConnectionStatus.CONNECTED


async def test_connect_to_a_broken_ledger_creates_nothing(service, write_ledger) -> None:
    ws = service.ensure_workspace("Acme")
    own = service.items(ws, Kind.CATEGORIES, include_archived=True)
    assert own and all(i.origin == "local" for i in own)  # a new workspace's default chart
    bad = write_ledger("2024-01-01 open Expenses:Food\n2024-13-01 open Assets:Cash\n")
    with pytest.raises(InvalidData):
        await service.connect(ws, "beancount", str(bad))
    assert service.connection(ws) is None
    assert service.items(ws, Kind.CATEGORIES, include_archived=True) == own


async def test_a_vanished_ledger_expires_the_connection(service, small_ledger: Path) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    before = service.items(ws, Kind.SUPPLIERS)
    moved = small_ledger.with_name("moved.beancount")
    os.rename(small_ledger, moved)
    with pytest.raises(ConnectionExpired, match="Ledger file not found"):
        await service.refresh(ws)
    info = service.connection(ws)
    assert info.status == ConnectionStatus.EXPIRED
    assert info.status_reason == f"Ledger file not found: {small_ledger}"
    assert service.items(ws, Kind.SUPPLIERS) == before
    with pytest.raises(ConnectionExpired, match="reconnect first"):
        await service.refresh(ws)

    info, _ = await service.reconnect(ws, str(moved))
    assert info.status == ConnectionStatus.CONNECTED and info.target == str(moved)
    assert service.items(ws, Kind.SUPPLIERS) == before  # same ids, same items
    assert [e.to_status for e in service.events(info.id)] == ["connected", "expired", "connected"]


async def test_reconnect_to_other_books_is_refused(service, small_ledger: Path, write_ledger) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    other = write_ledger('option "title" "Someone Else Ltd"\n', name="other.beancount")
    with pytest.raises(DextError, match="Change connection"):
        await service.reconnect(ws, str(other))
    assert service.connection(ws).target == str(small_ledger)


async def test_refresh_without_connection_says_so(service) -> None:
    ws = service.ensure_workspace()
    with pytest.raises(NotConnected, match="no connection"):
        await service.refresh(ws)


async def test_a_failing_list_is_rolled_back_and_reported(service, small_ledger: Path, monkeypatch) -> None:
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    small_ledger.write_text(
        small_ledger.read_text()
        .replace('"Rail Co"', '"Train Co"')
        .replace('"Big Client plc"', '"Bigger Client plc"')
    )
    from dext_tui.core import lists
    from dext_tui.core import service as service_module

    real = lists.apply_remote_list

    def failing(conn, **kw):
        counts = real(conn, **kw)  # writes, then fails before commit
        if kw["kind"] == Kind.SUPPLIERS:
            raise RuntimeError("disk on fire")
        return counts

    monkeypatch.setattr(service_module, "apply_remote_list", failing)
    counts = {c.kind: c for c in await service.refresh(ws)}
    assert "disk on fire" in counts[Kind.SUPPLIERS].error
    assert "Rail Co" in names(service, ws, Kind.SUPPLIERS)  # as before
    assert "Train Co" not in names(service, ws, Kind.SUPPLIERS, include_archived=True)
    assert "Bigger Client plc" in names(service, ws, Kind.CUSTOMERS)  # other lists went ahead
    info = service.connection(ws)
    assert {s.kind: s.error for s in info.lists}[Kind.SUPPLIERS].endswith("disk on fire")


async def test_workspaces_are_separate(service, small_ledger: Path) -> None:
    a = service.ensure_workspace("Client A")
    b = service.ensure_workspace("Client B")
    await service.connect(a, "beancount", str(small_ledger))
    assert service.connection(b) is None
    assert service.items(b, Kind.SUPPLIERS) == []
    assert [w.name for w in service.workspaces()] == ["Client A", "Client B"]
    assert service.ensure_workspace("  Client   A ") == a


async def test_demo_workspace_is_made_once(service) -> None:
    ws = await service.ensure_demo()
    info = service.connection(ws)
    assert info.status == ConnectionStatus.CONNECTED
    assert Path(info.target).is_relative_to(service.paths.data_dir)
    assert len(service.items(ws, Kind.SUPPLIERS)) >= 20
    assert len(service.items(ws, Kind.TAX_CODES)) >= 3
    assert len(service.items(ws, Kind.BANK_ACCOUNTS)) >= 2
    again = await service.ensure_demo()
    assert again == ws and service.connection(ws).id == info.id
    # Disconnected by the user, the demo stays disconnected: opening it again does not reconnect it.
    from dext_tui.core.domain import DisconnectChoice

    service.disconnect(ws, DisconnectChoice.KEEP)
    await service.ensure_demo()
    assert service.connection(ws) is None


async def test_quick_open_reads_only_an_existing_store(tmp_path: Path, small_ledger: Path) -> None:
    from dext_tui.store.engine import NeedsSetUp

    data_dir = tmp_path / "data"
    with pytest.raises(NeedsSetUp):
        DextService.open(data_dir, set_up=False)
    assert not (data_dir / "dext.db").exists()  # nothing created: the full open does that
    service = DextService.open(data_dir)
    ws = service.ensure_workspace("Acme")
    await service.connect(ws, "beancount", str(small_ledger))
    service.close()
    quick = DextService.open(data_dir, set_up=False)
    assert quick.find_workspace("Acme") == ws
    assert quick.connection(ws) is not None and quick.connection(ws).tenant_name == "Acme Widgets Ltd"
    assert quick.find_workspace("Nobody") is None
    quick.close()
