"""SQLite store (sqlmodel): tables, engine with the right pragmas, versioned migrations."""

from dext_tui.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
