"""The store: one SQLite file, owner-only, WAL, foreign keys, busy timeout, explicit BEGINs.

Two ways in, by cost:

- `read()` gives a plain `sqlite3` connection inside one read transaction (a consistent snapshot).
  Every read path uses it: opening the store, showing a connection, a 100,000-item list. SQLAlchemy is
  never imported for them, which keeps the TUI's start-up and `dext-tui status` fast.
- `write()` gives a sqlmodel Session in one `BEGIN IMMEDIATE` transaction, committed when the block ends
  and rolled back if it raises. sqlmodel and SQLAlchemy (about half a second to import) load on the
  first write, or earlier with `load_orm()`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dext_tui.core.errors import DextError
from dext_tui.store import migrations

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

BUSY_TIMEOUT_MS = 10_000


def _touch_private(path: Path) -> None:
    """Create the database file 0600 before SQLite does (SQLite would honour the umask)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def configure(db: sqlite3.Connection) -> None:
    """The settings every connection gets, ours or SQLAlchemy's. BEGIN is always issued explicitly."""
    db.isolation_level = None
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")


def raw(session: Session) -> sqlite3.Connection:
    """The sqlite3 connection under a write session, in the same transaction: plain tuples and a bare
    `executemany`, several times faster than SQLAlchemy rows for 100,000 items."""
    return session.connection().connection.driver_connection  # type: ignore[return-value]


class NeedsSetUp(Exception):
    """`Store(..., set_up=False)`: the database is missing or needs migrating."""


class Store:
    def __init__(self, db_path: Path, *, set_up: bool = True) -> None:
        """Open the database, creating and migrating it as needed. With `set_up=False` it must exist at
        the current schema (else NeedsSetUp): opening then never writes and never waits for a lock."""
        self.db_path = db_path
        self._engine: Engine | None = None
        self._writer: Engine | None = None
        self._lock = threading.Lock()
        if not set_up and not db_path.is_file():
            raise NeedsSetUp
        if set_up:
            _touch_private(db_path)
        db = self._connect()
        try:
            if not set_up:
                if migrations.current_version(db) != migrations.SCHEMA_VERSION:
                    raise NeedsSetUp
            else:
                migrations.migrate(db)
        except migrations.SchemaTooNew as exc:
            raise DextError(str(exc)) from None
        finally:
            db.close()
        for suffix in ("-wal", "-shm"):
            side = db_path.with_name(db_path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        try:
            configure(db)
        except BaseException:
            db.close()
            raise
        return db

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A plain sqlite3 connection in one read transaction; it never writes (rolled back at the end)."""
        db = self._connect()
        try:
            db.execute("BEGIN")
            yield db
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction in plain SQL (BEGIN IMMEDIATE), for paths that need no ORM (refreshes,
        item settings): committed when the block ends, rolled back if it raises."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # -- writes (sqlmodel) ------------------------------------------------------------------------

    def load_orm(self) -> Engine:
        """Import sqlmodel and the models and build the engine (once; safe from any thread)."""
        with self._lock:
            if self._engine is None:
                from sqlalchemy import event
                from sqlmodel import create_engine

                from dext_tui.store import models  # noqa: F401 - the tables the sessions map

                engine = create_engine(f"sqlite:///{self.db_path}", creator=self._connect)
                event.listen(engine, "begin", _begin)
                self._writer = engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                self._engine = engine
            return self._engine

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        from sqlmodel import Session

        self.load_orm()
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()


def _begin(conn) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def open_store(db_path: Path, *, set_up: bool = True) -> Store:
    try:
        return Store(db_path, set_up=set_up)
    except sqlite3.DatabaseError as exc:
        raise DextError(f"cannot open the database {db_path}: {exc}") from None
