"""The SQLite file: its tables, indexes and connection settings, and nothing that reads or writes objects.

One log-structured table holds every version of every object (kine's design, reduced to what Berth needs):

    log(rev, grp, resource, ns, name, op, prev_rev, next_rev, value)

* `rev` is the global revision (= resourceVersion). It is `INTEGER PRIMARY KEY AUTOINCREMENT`, so SQLite
  records the highest one ever used in `sqlite_sequence` and never reuses it, even after the rows are
  compacted away; `revision()` reads it from there.
* Every create, update and delete appends one row; `op` says which (1 ADDED, 2 MODIFIED, 3 DELETED) and
  `value` holds the object as of that revision (for a delete: the last state, stamped with the deletion's
  revision), already carrying `metadata.resourceVersion = str(rev)`.
* A row is the key's state over the half-open interval [rev, next_rev): `prev_rev` links to the row it
  replaced, and the write that replaces a row sets that row's `next_rev`. So the state at revision R is
  exactly the rows with `rev <= R AND (next_rev IS NULL OR next_rev > R) AND op != 3`, one per live key,
  with no grouping or MAX() needed.
* `log_live`, a UNIQUE partial index on the key over rows with `next_rev IS NULL AND op != 3`, is the
  current state: gets, the latest list, count and the "already exists" check are index lookups or scans of
  it, and it makes a second live row for one key impossible.
* `log_key` (key, rev) serves lists at an older revision (continued pages, exact resourceVersion).
* `meta('compacted')` is the compacted revision: history at or below it has been deleted (see
  `Store.compact`), so reads below it are refused with Expired.

Durability: WAL with synchronous=NORMAL. A commit is in the WAL before the call returns, so a killed process
loses nothing it acknowledged; a power loss may drop the last transactions but never corrupts the file.

`PRAGMA user_version` is the schema version; a file with another version is refused rather than guessed at.
Before anything writes to an existing file, `check_file` looks at it read-only: a file that is not SQLite,
another program's SQLite database, another schema version, or a damaged store (SQLite's `quick_check`,
about 0.2 s for 100 MB) is refused with `UnusableFile`, and left exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse

from berth.store.errors import StoreError, UnusableFile

SCHEMA_VERSION = 1

# op column values
ADDED, MODIFIED, DELETED = 1, 2, 3

_DDL = """
CREATE TABLE log (
    rev      INTEGER PRIMARY KEY AUTOINCREMENT,
    grp      TEXT    NOT NULL,
    resource TEXT    NOT NULL,
    ns       TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    op       INTEGER NOT NULL,
    prev_rev INTEGER,
    next_rev INTEGER,
    value    BLOB    NOT NULL
);
CREATE UNIQUE INDEX log_live ON log (grp, resource, ns, name) WHERE next_rev IS NULL AND op != 3;
CREATE INDEX log_key ON log (grp, resource, ns, name, rev);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('compacted', 0);
"""

_BUSY_TIMEOUT_MS = 30_000


def connect(path: str | os.PathLike[str], *, writer: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread.

    The caller guarantees one thread at a time per connection: the writer is behind the store's lock,
    readers are per thread.
    """
    conn = sqlite3.connect(os.fspath(path), isolation_level=None, check_same_thread=False,
                           cached_statements=256)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA cache_size = -32768")  # 32 MiB per connection: a 10,000-object list stays cached
    conn.execute("PRAGMA temp_store = MEMORY")
    if writer:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise StoreError(f"{os.fspath(path)}: cannot switch to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA journal_size_limit = 67108864")  # shrink the WAL file back to 64 MiB after bursts
    else:
        conn.execute("PRAGMA query_only = ON")
    return conn


_SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26  # the result codes that mean the file itself is bad
_TABLES = {"log", "meta"}


def check_file(path: str | os.PathLike[str]) -> None:
    """Refuse, with `UnusableFile`, an existing file that cannot be this store; never writes to it.

    A missing or empty file passes (the store is created in it), as does an SQLite file without tables.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            header = f.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UnusableFile(f"{path} cannot be read ({exc.strerror or exc})", "unreadable") from None
    if not header:
        return
    if header != _SQLITE_HEADER:
        raise UnusableFile(f"{path} is not a Berth store: it is not an SQLite database (it does not start with "
                           "SQLite's header)", "not-sqlite")
    conn = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
    try:
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                      if not row[0].startswith("sqlite_")}
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                raise UnusableFile(f"{path} is a damaged SQLite database ({exc})", "damaged") from None
            raise UnusableFile(f"{path} cannot be read (SQLite: {exc})", "unreadable") from None
        if not tables:
            return
        if not _TABLES <= tables or version == 0:
            names = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise UnusableFile(f"{path} is not a Berth store: it is another program's SQLite database (tables "
                               f"{names})", "foreign")
        if version != SCHEMA_VERSION:
            raise UnusableFile(f"{path}: store schema version {version}, this Berth reads version {SCHEMA_VERSION}",
                               "version")
        try:
            verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            verdict = str(exc)
        verdict = "; ".join(line.strip() for line in str(verdict).splitlines()
                            if line.strip() and not line.startswith("*** in database"))
        if verdict != "ok":
            raise UnusableFile(f"{path} is a damaged Berth store (SQLite's check says: {verdict})", "damaged")
    finally:
        conn.close()


def ensure_schema(conn: sqlite3.Connection, path: str | os.PathLike[str]) -> None:
    """Create the tables in an empty file, or check the version of an existing one."""
    conn.execute("BEGIN IMMEDIATE")  # two processes opening a fresh file must not both create it
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StoreError(f"{os.fspath(path)}: not a Berth store (it has tables but no schema version)")
            for statement in _DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise StoreError(f"{os.fspath(path)}: store schema version {version}, this Berth reads "
                             f"version {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
