"""SQLite store: tables (`models`), engine with the right pragmas (`engine`), versioned `migrations`, and
plain-sqlite3 read `queries`. Import the submodule you need: `queries` and `migrations` stay free of
sqlmodel/SQLAlchemy so the TUI can paint before those load."""
