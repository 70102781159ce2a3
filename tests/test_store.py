from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from dext_tui.core.errors import DextError
from dext_tui.paths import app_paths
from dext_tui.store import models  # noqa: F401 - models register their tables
from dext_tui.store.engine import open_store, raw
from dext_tui.store.migrations import SCHEMA_VERSION


def test_data_dir_and_database_are_owner_only(tmp_path: Path) -> None:
    paths = app_paths(tmp_path / "data")
    store = open_store(paths.db_path)
    store.close()
    assert stat.S_IMODE(paths.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.db_path.stat().st_mode) == 0o600


def test_env_variable_chooses_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEXT_TUI_DATA_DIR", str(tmp_path / "from-env"))
    assert app_paths().data_dir == tmp_path / "from-env"
    assert app_paths(tmp_path / "flag").data_dir == tmp_path / "flag"  # --data-dir wins


def test_pragmas_are_on_for_every_connection(tmp_path: Path) -> None:
    store = open_store(tmp_path / "dext.db")
    with store.read() as db, store.write() as s:
        for conn in (db, raw(s)):
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    store.close()


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    open_store(tmp_path / "dext.db").close()
    db = sqlite3.connect(tmp_path / "dext.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    for table in SQLModel.metadata.sorted_tables:
        columns = {row[1]: (row[3], row[5] > 0) for row in db.execute(f"PRAGMA table_info({table.name})")}
        assert set(columns) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert columns[column.name][0] == (not column.nullable) or column.primary_key, (
                table.name,
                column.name,
            )


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    store = open_store(tmp_path / "dext.db")
    with pytest.raises(Exception, match="FOREIGN KEY"), store.write() as s:
        s.connection().exec_driver_sql(
            "INSERT INTO listitem (workspace_id, kind, generation, name, status, visible, origin,"
            " created_at, updated_at) VALUES (999, 'suppliers', 0, 'x', 'active', 1, 'local', '', '')"
        )
    store.close()


def test_a_database_from_a_newer_release_is_refused_clearly(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "dext.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(DextError, match="newer than this dext-tui knows"):
        open_store(tmp_path / "dext.db")


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "dext.db").write_bytes(b"not a database at all, just text" * 100)
    with pytest.raises(DextError, match="cannot open the database"):
        open_store(tmp_path / "dext.db")


def test_a_version_3_database_gains_the_merge_columns_with_its_sessions_kept(tmp_path: Path) -> None:
    """v3 -> v4: an open merge from before keeps its progress and gets empty shared history and draft."""
    from dext_tui.store import migrations

    path = tmp_path / "dext.db"
    db = sqlite3.connect(path)
    for version, statements in enumerate(migrations.MIGRATIONS[:3], start=1):
        for statement in statements:
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {version}")
    db.execute("INSERT INTO workspace (id, name, created_at) VALUES (1, 'Acme', '2025-01-01 00:00:00')")
    db.execute(
        "INSERT INTO mergesession (workspace_id, from_generation, to_generation, created_at, state, progress)"
        """ VALUES (1, 1, 2, '2025-01-01 00:00:00', 'open', '{"suppliers": "pending"}')"""
    )
    db.commit()
    db.close()

    open_store(path).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 4
        row = db.execute("SELECT state, progress, shared, draft FROM mergesession").fetchone()
        assert row == ("open", '{"suppliers": "pending"}', "{}", "{}")
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            db.execute("UPDATE mergesession SET shared = NULL")
    finally:
        db.close()


def test_a_partial_list_updates_what_came_and_keeps_the_rest(tmp_path) -> None:
    """An incremental refresh (Xero's If-Modified-Since) brings only what changed: nothing else is archived,
    an item archived at the source counts as archived, and the total stays the list's whole size."""
    from dext_tui.core.domain import ItemStatus, Kind, RemoteItem
    from dext_tui.core.lists import apply_remote_list
    from dext_tui.store.engine import open_store

    store = open_store(tmp_path / "dext.db", set_up=True)
    with store.transaction() as db:
        db.execute("INSERT INTO workspace (id, name, created_at) VALUES (1, 'Acme', '2026-01-01')")
        db.execute(
            "INSERT INTO connection (id, workspace_id, provider, status, connected_at, generation)"
            " VALUES (1, 1, 'xero', 'connected', '2026-01-01', 1)"
        )
        args = {"workspace_id": 1, "connection_id": 1, "generation": 1, "kind": Kind.SUPPLIERS}
        whole = [RemoteItem(f"c{i}", None, f"Supplier {i}") for i in range(5)]
        apply_remote_list(db, items=whole, fingerprint="t1", **args)
        delta = [
            RemoteItem("c1", None, "Supplier 1 renamed"),
            RemoteItem("c2", None, "Supplier 2", ItemStatus.ARCHIVED),
            RemoteItem("c9", None, "New supplier"),
        ]
        counts = apply_remote_list(db, items=delta, fingerprint="t2", partial=True, **args)
        # A delta saying an item it never had left the list stores nothing (a customer-only contact).
        never = [RemoteItem("c77", None, "A customer", ItemStatus.ARCHIVED)]
        apply_remote_list(db, items=never, fingerprint="t3", partial=True, **args)
        rows = dict(db.execute("SELECT remote_id, status || ' ' || name FROM listitem").fetchall())
    store.close()
    assert (counts.added, counts.changed, counts.archived, counts.total) == (1, 1, 1, 6)
    assert rows["c0"] == "active Supplier 0" and rows["c4"] == "active Supplier 4"  # not in the delta: kept
    assert rows["c1"] == "active Supplier 1 renamed" and rows["c2"] == "archived Supplier 2"
    assert "c77" not in rows
