"""A small versioned migration runner on `PRAGMA user_version`.

Each migration is a list of SQL statements that takes the schema from version N-1 to N. They run in one
transaction each, so a database is always at a whole version. Never edit a released migration: append one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[list[str]] = [
    # 1: the first release
    [
        """CREATE TABLE workspace (
            id INTEGER NOT NULL PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            created_at DATETIME NOT NULL
        )""",
        """CREATE TABLE connection (
            id INTEGER NOT NULL PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspace (id),
            provider VARCHAR NOT NULL,
            target VARCHAR,
            tenant_id VARCHAR,
            tenant_name VARCHAR,
            status VARCHAR NOT NULL,
            status_reason VARCHAR,
            connected_at DATETIME NOT NULL,
            expires_at DATETIME,
            last_refreshed_at DATETIME,
            disconnected_at DATETIME,
            generation INTEGER NOT NULL
        )""",
        "CREATE INDEX ix_connection_workspace_id ON connection (workspace_id)",
        """CREATE TABLE listitem (
            id INTEGER NOT NULL PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspace (id),
            kind VARCHAR NOT NULL,
            connection_id INTEGER REFERENCES connection (id),
            generation INTEGER NOT NULL,
            remote_id VARCHAR,
            code VARCHAR,
            name VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            visible BOOLEAN NOT NULL,
            data VARCHAR,
            origin VARCHAR NOT NULL,
            created_at DATETIME NOT NULL,
            updated_at DATETIME NOT NULL
        )""",
        "CREATE INDEX ix_listitem_display ON listitem"
        " (workspace_id, kind, name COLLATE NOCASE, code COLLATE NOCASE, id, status)",
        "CREATE UNIQUE INDEX ux_listitem_remote ON listitem (connection_id, kind, remote_id)",
        """CREATE TABLE listsync (
            connection_id INTEGER NOT NULL REFERENCES connection (id),
            kind VARCHAR NOT NULL,
            last_attempt_at DATETIME,
            last_success_at DATETIME,
            added INTEGER NOT NULL,
            changed INTEGER NOT NULL,
            archived INTEGER NOT NULL,
            total INTEGER NOT NULL,
            error VARCHAR,
            fingerprint VARCHAR,
            PRIMARY KEY (connection_id, kind)
        )""",
        """CREATE TABLE connectionevent (
            id INTEGER NOT NULL PRIMARY KEY,
            connection_id INTEGER NOT NULL REFERENCES connection (id),
            at DATETIME NOT NULL,
            from_status VARCHAR,
            to_status VARCHAR NOT NULL,
            reason VARCHAR
        )""",
        "CREATE INDEX ix_connectionevent_connection_id ON connectionevent (connection_id)",
    ],
    # 2: rules, manual settings, own lists (the workspace's current generation), snapshots
    [
        # The generation of lists the workspace uses now: 0 for its own lists before any connection, the
        # connection's generation once connected (and after a disconnect that keeps its lists).
        "ALTER TABLE workspace ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
        "UPDATE workspace SET generation = COALESCE((SELECT max(c.generation) FROM connection c"
        " WHERE c.workspace_id = workspace.id AND c.status != 'disconnected'), 0)",
        "ALTER TABLE listitem ADD COLUMN default_tax_code_id INTEGER REFERENCES listitem (id)",
        "DROP INDEX ix_listitem_display",
        "CREATE INDEX ix_listitem_display ON listitem (workspace_id, generation, kind, name COLLATE NOCASE,"
        " code COLLATE NOCASE, id, status, visible)",
        """CREATE TABLE rule (
            id INTEGER NOT NULL PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspace (id),
            scope VARCHAR NOT NULL,
            target_item_id INTEGER NOT NULL REFERENCES listitem (id),
            category_id INTEGER REFERENCES listitem (id),
            tax_code_id INTEGER REFERENCES listitem (id),
            bank_account_id INTEGER REFERENCES listitem (id),
            tracking_id INTEGER REFERENCES listitem (id),
            currency_id INTEGER REFERENCES listitem (id),
            description VARCHAR,
            paid BOOLEAN,
            auto_publish VARCHAR NOT NULL,
            created_at DATETIME NOT NULL,
            updated_at DATETIME NOT NULL
        )""",
        "CREATE UNIQUE INDEX ux_rule_target ON rule (workspace_id, scope, target_item_id)",
        """CREATE TABLE snapshot (
            id INTEGER NOT NULL PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspace (id),
            reason VARCHAR NOT NULL,
            generation INTEGER NOT NULL,
            taken_at DATETIME NOT NULL,
            payload VARCHAR NOT NULL
        )""",
        "CREATE INDEX ix_snapshot_workspace_id ON snapshot (workspace_id)",
    ],
    # 3: Change connection leaves former lists to merge into the new ones
    [
        """CREATE TABLE mergesession (
            id INTEGER NOT NULL PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspace (id),
            from_generation INTEGER NOT NULL,
            to_generation INTEGER NOT NULL,
            created_at DATETIME NOT NULL,
            state VARCHAR NOT NULL,
            progress VARCHAR NOT NULL
        )""",
        "CREATE INDEX ix_mergesession_workspace_id ON mergesession (workspace_id)",
    ],
    # 4: a merge keeps the shared history behind its suggestions, and the wizard's draft choices
    [
        # JSON {old item id: {new item id: transactions they share}}, ids as text keys
        "ALTER TABLE mergesession ADD COLUMN shared TEXT NOT NULL DEFAULT '{}'",
        # JSON: the Merge lists wizard's choices saved so far, not applied yet
        "ALTER TABLE mergesession ADD COLUMN draft TEXT NOT NULL DEFAULT '{}'",
        # A merge re-points "categories defaulting to this tax code" per mapped item: without this
        # index each of them scanned every item (5,000 mapped suppliers: half a minute).
        "CREATE INDEX ix_listitem_default_tax_code ON listitem (default_tax_code_id)"
        " WHERE default_tax_code_id IS NOT NULL",
    ],
    # 5: the costs inbox (cost items and their split lines) and the books' lock date
    [
        "ALTER TABLE connection ADD COLUMN lock_date VARCHAR",  # YYYY-MM-DD, from the software
        """CREATE TABLE costitem (
            id INTEGER NOT NULL PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspace (id),
            uid VARCHAR NOT NULL UNIQUE,
            date VARCHAR,
            supplier_id INTEGER REFERENCES listitem (id),
            supplier_name VARCHAR,
            reference VARCHAR,
            description VARCHAR,
            total VARCHAR,
            tax VARCHAR,
            currency VARCHAR,
            category_id INTEGER REFERENCES listitem (id),
            tax_code_id INTEGER REFERENCES listitem (id),
            bank_account_id INTEGER REFERENCES listitem (id),
            tracking_id INTEGER REFERENCES listitem (id),
            paid BOOLEAN NOT NULL,
            sources VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            remote_id VARCHAR,
            published_at DATETIME,
            published_to INTEGER REFERENCES connection (id),
            error_class VARCHAR,
            error_message VARCHAR,
            error_at DATETIME,
            sending VARCHAR,
            created_at DATETIME NOT NULL,
            updated_at DATETIME NOT NULL
        )""",
        "CREATE INDEX ix_costitem_inbox ON costitem (workspace_id, state, date, id)",
        "CREATE INDEX ix_costitem_supplier ON costitem (supplier_id)",
        """CREATE TABLE costline (
            id INTEGER NOT NULL PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES costitem (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            amount VARCHAR NOT NULL,
            tax VARCHAR,
            category_id INTEGER REFERENCES listitem (id),
            tax_code_id INTEGER REFERENCES listitem (id),
            tracking_id INTEGER REFERENCES listitem (id),
            description VARCHAR
        )""",
        "CREATE INDEX ix_costline_item_id ON costline (item_id)",
    ],
    # 6: lifecycle integrity: what opened a merge, the items left for later, and the undo of the last
    # Apply (exactly the rows it changed, before and after)
    [
        # change (the former lists of a change of connection) | connect (own lists set aside by a
        # connection) | reinstate (a connection's lists set aside by reinstate) | restore
        "ALTER TABLE mergesession ADD COLUMN origin VARCHAR NOT NULL DEFAULT 'change'",
        "ALTER TABLE mergesession ADD COLUMN left_ids TEXT NOT NULL DEFAULT '[]'",  # JSON [item id]
        "ALTER TABLE mergesession ADD COLUMN undo TEXT",  # JSON, see core/merge_undo.py
        "CREATE INDEX ix_rule_workspace ON rule (workspace_id)",
        "CREATE INDEX ix_listitem_generation ON listitem (workspace_id, generation, kind, status)",
        # Items carrying a manual setting: Needs attention and Merge lists read them on every status
        "CREATE INDEX ix_listitem_settings ON listitem (workspace_id)"
        " WHERE NOT visible OR default_tax_code_id IS NOT NULL",
        "CREATE INDEX ix_costitem_open ON costitem (workspace_id) WHERE state != 'published'",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    pass


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version found before."""
    found = current_version(conn)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database is at schema version {found}, newer than this dext-tui knows ({SCHEMA_VERSION});"
            " upgrade dext-tui"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if current_version(conn) >= version:
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found
