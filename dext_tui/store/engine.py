"""The engine: one per process, owner-only file, WAL, foreign keys, busy timeout, explicit BEGINs."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from dext_tui.core.errors import DextError
from dext_tui.store import migrations

BUSY_TIMEOUT_MS = 10_000


def _touch_private(path: Path) -> None:
    """Create the database file 0600 before SQLite does (SQLite would honour the umask)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _configure(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    # We issue BEGIN ourselves (see _begin) so that transactions are exactly SQLAlchemy's.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _begin(conn) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


class Store:
    """Owns the engine. `read()` and `write()` give one Session per unit of work."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        _touch_private(db_path)
        self.engine: Engine = create_engine(
            f"sqlite:///{db_path}",
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(self.engine, "connect", _configure)
        event.listen(self.engine, "begin", _begin)
        self._writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._migrate()
        for suffix in ("-wal", "-shm"):
            side = db_path.with_name(db_path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)

    def _migrate(self) -> None:
        raw = self.engine.raw_connection()
        try:
            migrations.migrate(raw.driver_connection)
        except migrations.SchemaTooNew as exc:
            raise DextError(str(exc)) from None
        finally:
            raw.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_store(db_path: Path) -> Store:
    try:
        return Store(db_path)
    except sqlite3.DatabaseError as exc:
        raise DextError(f"cannot open the database {db_path}: {exc}") from None
