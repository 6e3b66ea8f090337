"""`Store`: the durable MVCC object store under the API server (the etcd + kine role), on one SQLite file.

What it owns: keys (resource, namespace, name) -> JSON objects, one global revision stamped into every
stored object as `metadata.resourceVersion`, the history behind consistent paged lists and watches, and
compaction of that history. It knows nothing else of Kubernetes (no uid, generation, finalizers, defaults):
those are the API server's. The table layout and why it makes every read an index scan are in `schema`.

Invariants:
* Revisions are global, strictly increasing, gap-free in commit order, and never reused (AUTOINCREMENT).
* Every write is one `BEGIN IMMEDIATE` transaction, committed before the call returns; writes are
  serialized by `_lock` (and by SQLite across processes). A write the disk refuses (full, I/O error) is
  rolled back whole and raises `WriteFailed`; the store stays usable, and writes succeed again once the
  disk takes them.
* An existing file is checked read-only before anything writes to it (`schema.check_file`).
* Commits never copy the write-ahead log into the database file (SQLite's automatic checkpoint, with its
  fsyncs, ran inside every thousandth page's COMMIT: a tenth of the API server's time under load). A
  thread of the store's own does it (`_checkpoints`), in parallel with the writes (SQLite releases the
  GIL); once the log holds more than `WAL_RESTART_BYTES` it finishes one checkpoint between two writes,
  so that the next write starts the log again from its beginning and it does not grow without bound.
  After the disk refused a write, it copies nothing until a write succeeds: a checkpoint could start the
  log again, and then writes would succeed or fail by the size of what they write and when, while until
  space is freed every write should be refused alike.
* A revision R is visible to readers only once all revisions <= R are: there is one writer at a time and a
  commit is atomic. So a watcher that reads `changes(since)` after being told of R misses nothing.
* Reads use one connection per thread, so they never wait for writers (WAL) and never see half a write.
  Reads that take several statements (list, changes) run in one read transaction: one snapshot.
* A Store opened as the file's `sole_writer` (the API server's) answers `get` of a key among its latest
  LATEST_KEPT writes from memory: the bytes it committed and their revision, kept under the write lock
  once the commit succeeded; a key written by another process then would be answered stale, hence the
  flag. For the same reason it knows the latest revision without asking SQLite, and an update or delete
  of a key it remembers finds the row it replaces without reading it first: a write is then its INSERT,
  the UPDATE that retires the row it replaces, and the COMMIT.
* Every dict a read returns is freshly decoded: callers may mutate it. A write returns the object it was
  given as stored: a shallow copy stamped with its resourceVersion, whose other values are the caller's
  own (decoding what was just encoded was 3% of the API server's time).
* Objects are stored under their own metadata.namespace/name (the API server's contract); a list with a
  `metadata.name=` or `metadata.namespace=` field selector narrows by key before decoding anything.

Thread safety: every public method may be called from any thread, including the asyncio loop's (calls
block briefly; they do no network I/O). Listeners (`add_listener`) run in the committing thread, after the
commit and outside the write lock, so two listener calls from two threads may arrive out of revision
order: treat the number as "at least this revision exists" and read `changes()` from your own cursor.
Write listeners (`on_write`) get the change itself, under the write lock, in revision order.
"""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any

import orjson

from berth.store import paging
from berth.store.errors import AlreadyExists, Conflict, Expired, NotFound, StoreError, WriteFailed
from berth.store.model import Change, ChangeType, ListPage, ResourceRef
from berth.store.schema import ADDED, DELETED, MODIFIED, check_file, connect, ensure_schema
from berth.api.selectors import FieldSelector, LabelSelector

log = logging.getLogger(__name__)

_loads = orjson.loads
_OP_NAMES: dict[int, ChangeType] = {ADDED: "ADDED", MODIFIED: "MODIFIED", DELETED: "DELETED"}
#: What a write's action did: the object as stored (returned to the caller), the operation, its encoding,
#: and the revision of the state it replaced (None for a create).
_Written = tuple[dict[str, Any], int, bytes, int | None]

# Compaction deletes history in transactions of at most this many revisions, so writers wait at most one
# short batch for the write lock while a long backlog is compacted.
_COMPACT_BATCH = 2000

_LIVE = "next_rev IS NULL AND op != 3"  # the literal terms of log_live's WHERE: keep them in sync with schema
_SQL_CURRENT = ("SELECT rev, value FROM log INDEXED BY log_live "
                f"WHERE grp = ? AND resource = ? AND ns = ? AND name = ? AND {_LIVE}")
#: The live row's revision alone, without its value (the row's last column: its overflow pages stay unread).
_SQL_CURRENT_REV = ("SELECT rev FROM log INDEXED BY log_live "
                    f"WHERE grp = ? AND resource = ? AND ns = ? AND name = ? AND {_LIVE}")
_SQL_INSERT = ("INSERT INTO log (rev, grp, resource, ns, name, op, prev_rev, next_rev, value) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)")
_SQL_SUPERSEDE = "UPDATE log SET next_rev = ? WHERE rev = ?"
_SQL_AT = "SELECT value FROM log WHERE rev = ?"
_SQL_REVISION = "SELECT seq FROM sqlite_sequence WHERE name = 'log'"
_SQL_COMPACTED = "SELECT value FROM meta WHERE key = 'compacted'"

_WARN_EVERY_S = 60.0
#: How many of its latest writes a sole writer keeps to answer `get` from memory (the objects a pipeline
#: reads back are the ones it has just written: a workload's pod is bound a moment after it is created).
LATEST_KEPT = 10_000

#: How often the checkpoint thread copies the write-ahead log into the database (when anything was written).
CHECKPOINT_EVERY_S = 0.25
#: A log longer than this is finished between two writes (holding the write lock), so that it starts again.
WAL_RESTART_BYTES = 64 << 20
_SQLITE_FULL, _SQLITE_IOERR = 13, 10  # primary result codes (the low byte of an extended code)


def _write_failed(path: str, exc: sqlite3.Error) -> WriteFailed | None:
    """The WriteFailed for an SQLite error that says the disk refused the write, else None (a bug: re-raise)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == _SQLITE_FULL:
        return WriteFailed(f"the disk holding {path} is full, so nothing was written (SQLite: {exc})", disk_full=True)
    if code == _SQLITE_IOERR:
        return WriteFailed(f"the disk holding {path} failed to write, so nothing was written (SQLite: {exc})",
                           disk_full=False)
    return None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic collector while decoding many objects.

    Decoding a 10,000-object list allocates hundreds of thousands of objects that all survive, so the
    collector would run repeated full collections over the whole heap meanwhile (measured: a 10k list took
    2-3x longer). Reference counting still frees everything; only cycle detection waits until the decode
    is done, and then runs once over the new objects. Only the thread that turned the collector off turns it back on, so concurrent decodes and a program
    that runs with the collector off are left as they were.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _stamp(obj: dict[str, Any], revision: int) -> tuple[dict[str, Any], bytes]:
    """`obj` as stored at `revision`: a shallow copy whose metadata.resourceVersion is str(revision), and its
    encoding."""
    if not isinstance(obj, dict):
        raise TypeError(f"a stored object must be a dict, not {type(obj).__name__}")
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise StoreError(f"metadata must be an object, not {type(metadata).__name__}")
    stamped = {**obj, "metadata": {**metadata, "resourceVersion": str(revision)}}
    return stamped, orjson.dumps(stamped)


def _list_query(ref: ResourceRef, namespace: str | None, field_selector: FieldSelector | None,
                after: tuple[str, str] | None, at: int, latest: int) -> tuple[str, tuple[Any, ...]] | None:
    """`FROM ... WHERE ...` and its parameters for the keys of a list at revision `at`, sorted by the index,
    starting after key `after`; None when nothing can follow `after`.

    The terms are chosen so that SQLite walks one index in (ns, name) order and can stop at LIMIT: the
    current state through log_live, older states through log_key. A fixed namespace must be an equality
    followed by `name > ?`: combined with a row-value range SQLite would sort the whole rest of the range.
    """
    terms = ["grp = ?", "resource = ?"]
    params: list[Any] = [ref.group, ref.resource]
    if namespace is None and field_selector is not None:
        namespace = field_selector.required_value("metadata.namespace")
    name = field_selector.required_value("metadata.name") if field_selector is not None else None
    if namespace is not None:
        terms.append("ns = ?")
        params.append(namespace)
        if after is not None and after[0] > namespace:
            return None
        if after is not None and after[0] == namespace:
            terms.append("name > ?")
            params.append(after[1])
    elif after is not None:
        terms.append("(ns, name) > (?, ?)")
        params += after
    if name is not None:
        terms.append("name = ?")
        params.append(name)
    if at == latest:
        index = "log_live"
        terms.append(_LIVE)
    else:  # the row that was current at `at`: written at or before it, not yet replaced, not a deletion
        index = "log_key"
        terms.append("rev <= ? AND (next_rev IS NULL OR next_rev > ?) AND op != 3")
        params += (at, at)
    return f"FROM log INDEXED BY {index} WHERE {' AND '.join(terms)}", tuple(params)


def _changes_query(since: int, ref: ResourceRef | None, namespace: str | None,
                   limit: int | None) -> tuple[str, tuple[Any, ...]]:
    """The log rows after `since` in revision order, each with the row it replaced (its `previous`).

    NOT INDEXED keeps SQLite on the rowid (= revision) range even when a resource filter would tempt it
    into log_key and a sort: a watcher asks for the few newest revisions, not for a resource's history.
    """
    terms = ["l.rev > ?"]
    params: list[Any] = [since]
    if ref is not None:
        terms.append("l.grp = ? AND l.resource = ?")
        params += (ref.group, ref.resource)
    if namespace is not None:
        terms.append("l.ns = ?")
        params.append(namespace)
    sql = ("SELECT l.rev, l.op, l.grp, l.resource, l.ns, l.name, l.value, p.value "
           "FROM log AS l NOT INDEXED LEFT JOIN log AS p ON p.rev = l.prev_rev "
           f"WHERE {' AND '.join(terms)} ORDER BY l.rev")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(limit, 0))
    return sql, tuple(params)


def _key_text(ref: ResourceRef, namespace: str, name: str) -> str:
    return f'{ref} "{namespace}/{name}"' if namespace else f'{ref} "{name}"'


class Store:
    """The object store on one SQLite file. See the module docstring for guarantees."""

    def __init__(self, path: str | os.PathLike[str], *, keep_revisions: int = 10_000,
                 sole_writer: bool = False) -> None:
        """`sole_writer`: nothing else writes the file while this Store is open (the API server, which holds
        its data directory's lock), so `get` may answer what this Store last wrote from memory."""
        if keep_revisions < 0:
            raise ValueError("keep_revisions must be >= 0")
        self._path = os.fspath(path)
        self._keep = keep_revisions
        self._lock = threading.Lock()  # serializes writes on _writer
        check_file(self._path)
        self._writer = connect(self._path, writer=True)
        try:
            ensure_schema(self._writer, self._path)
        except BaseException:
            self._writer.close()
            raise
        self._local = threading.local()
        self._readers: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._readers_lock = threading.Lock()
        self._listeners: tuple[Callable[[int], None], ...] = ()
        self._on_write: tuple[Callable[[Change, dict[str, Any]], None], ...] = ()
        self._refs: dict[tuple[str, str], ResourceRef] = {}
        self._closed = False
        self._opened_at = self.revision()
        self._written: dict[ResourceRef, int] = {}  # the last revision this Store wrote, by resource
        #: A sole writer's latest writes, as stored, by (group, resource, namespace, name): `get` answers from
        #: them (updated under the write lock after each commit; at most LATEST_KEPT, the oldest written go).
        self._latest: dict[tuple[str, str, str, str], tuple[int, bytes]] | None = {} if sole_writer else None
        #: A sole writer's latest revision (None: ask SQLite each time, as another process may have written).
        self._revision: int | None = self._opened_at if sole_writer else None
        self._warned_at = -_WARN_EVERY_S  # when a refused write was last logged
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")  # `_checkpoints` does it, off the writers' path
        self._page_size = self._writer.execute("PRAGMA page_size").fetchone()[0]
        self._writes = 0  # commits so far, for the checkpoint thread to see whether there is anything to copy
        self._refused = False  # the last write was refused by the disk: no checkpoint until one succeeds
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoints, name="store-checkpoint", daemon=True)
        self._checkpointer.start()

    # --- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection. Calls made afterwards, or still running in other threads, fail."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._checkpointer is not threading.current_thread():
            self._checkpointer.join()
        with self._lock:
            self._writer.close()
        with self._readers_lock:
            for _, conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_listener(self, callback: Callable[[int], None]) -> None:
        """Call `callback(revision)` after every commit, from the committing thread (see module docstring).

        An exception in a callback is logged and swallowed: the write has happened and must be reported.
        """
        with self._readers_lock:
            self._listeners = (*self._listeners, callback)

    def on_write(self, callback: Callable[..., None], *, with_object: bool = False) -> None:
        """Call `callback(change)` with every change this Store writes, in revision order: from the committing
        thread, after the commit and under the write lock, so it must be quick and must not write. The
        change carries the object as stored, and its previous state as a sole writer kept it, else read from
        the store when asked.

        With `with_object`, `callback(change, obj)`: `obj` is the object as stored at the change's revision,
        as a dict (the one the write is about to return to its caller), for a listener that needs a few of
        every change's fields without decoding each change: read it during the call, never keep or change it.

        This sees only this Store's own writes: another process writing the same file is seen by `changes()`
        alone. An exception in a callback is logged and swallowed.
        """
        listener = callback if with_object else (lambda change, _: callback(change))
        with self._readers_lock:
            self._on_write = (*self._on_write, listener)

    # --- connections -----------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        conn = connect(self._path, writer=False)
        with self._readers_lock:
            if self._closed:
                conn.close()
                raise StoreError("the store is closed")
            # Connections of threads that have ended are closed here, so a pool that churns threads
            # does not accumulate them.
            alive = []
            for thread_ref, other in self._readers:
                thread = thread_ref()
                if thread is not None and thread.is_alive():
                    alive.append((thread_ref, other))
                else:
                    other.close()
            alive.append((weakref.ref(threading.current_thread()), conn))
            self._readers = alive
        self._local.conn = conn
        return conn

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees the same committed state."""
        conn = self._reader()
        if conn.in_transaction:  # nested use from the same thread: already one snapshot
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _write(self, action: Callable[[sqlite3.Connection, int, tuple[int, bytes] | None], _Written],
               ref: ResourceRef, namespace: str, name: str) -> dict[str, Any]:
        """Run `action(conn, new_revision, remembered)` on the key in one immediate transaction, commit, then
        tell the listeners. `remembered` is the key's live revision and value as a sole writer last wrote
        them, or None when it does not have them (the action then reads the row)."""
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._revision is None:
                    row = conn.execute(_SQL_REVISION).fetchone()
                    revision = (row[0] if row else 0) + 1
                else:
                    revision = self._revision + 1
                latest, key = self._latest, (ref.group, ref.resource, namespace, name)
                remembered = None if latest is None else latest.get(key)
                result, op, value, previous = action(conn, revision, remembered)
                conn.execute("COMMIT")
                self._written[ref] = revision
                self._writes += 1
                self._refused = False
                replaced = None  # the state this write replaced, as a sole writer remembers it
                if latest is not None:
                    self._revision = revision
                    replaced = self._remember(key, None if op == DELETED else (revision, value))
            except sqlite3.Error as exc:
                self._rollback(conn)
                failed = _write_failed(self._path, exc)
                if failed is None:
                    raise
                self._refused = True
                self._warn(failed)
                raise failed from None
            except BaseException:
                self._rollback(conn)
                raise
            if self._on_write:
                change = Change(_OP_NAMES[op], revision, ref, namespace, name, value,
                                None if previous is None else replaced or partial(self._stored_at, previous))
                for on_write in self._on_write:
                    try:
                        on_write(change, result)
                    except Exception:
                        log.exception("store write listener %r failed for revision %d", on_write, revision)
        for callback in self._listeners:
            try:
                callback(revision)
            except Exception:
                log.exception("store listener %r failed for revision %d", callback, revision)
        return result

    def _remember(self, key: tuple[str, str, str, str], written: tuple[int, bytes] | None) -> bytes | None:
        """Keep what a sole writer just committed under the key, with its revision (None: it is gone), newest
        last; what it kept there before (the state this write replaced), if it still had it."""
        latest = self._latest
        assert latest is not None
        replaced = latest.pop(key, None)
        if written is not None:
            latest[key] = written
            if len(latest) > LATEST_KEPT:
                del latest[next(iter(latest))]
        return None if replaced is None else replaced[1]

    def _stored_at(self, revision: int) -> bytes | None:
        """The object written at `revision` as stored, or None once compaction removed it."""
        row = self._reader().execute(_SQL_AT, (revision,)).fetchone()
        return row[0] if row else None

    def _checkpoints(self) -> None:
        """Copy the write-ahead log into the database, on a connection of its own, every CHECKPOINT_EVERY_S
        while anything is written (see the module docstring). A checkpoint the disk refuses is tried again
        next time; the log keeps every commit meanwhile."""
        conn = connect(self._path, writer=False)
        warned_at = -_WARN_EVERY_S
        try:
            done, finish = self._writes, False
            while not self._stop.wait(CHECKPOINT_EVERY_S):
                if (self._writes == done and not finish) or self._refused:
                    continue
                done = self._writes
                try:
                    # Finishing holds the write lock: no commit meanwhile, so every frame is copied and the
                    # next write starts the log again.
                    with self._lock if finish else nullcontext():
                        if self._closed:
                            return
                        frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                except Exception as exc:  # noqa: BLE001 - a full disk, say: the log keeps everything meanwhile
                    if time.monotonic() - warned_at >= _WARN_EVERY_S:
                        warned_at = time.monotonic()
                        log.warning("copying the write-ahead log into %s failed (tried again shortly; said at most "
                                    "once a minute): %s", self._path, exc)
                    continue
                finish = not finish and frames * self._page_size > WAL_RESTART_BYTES
        finally:
            conn.close()

    def _warn(self, failed: WriteFailed) -> None:
        """Say in the server's log that writes are refused (the clients are told each time): at most once a
        minute, as clients that retry would fill the log, and that log may be on the same full disk."""
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning("%s (writes are refused meanwhile; said at most once a minute)", failed)

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        """End a failed write's transaction. SQLite may already have rolled it back (a full disk does), and
        a ROLLBACK that fails too (the disk again) must not hide the first error: the connection is then
        left to SQLite, which rolls back on the next BEGIN."""
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("rollback of a failed write failed", exc_info=True)

    def _ref(self, group: str, resource: str) -> ResourceRef:
        ref = self._refs.get((group, resource))
        if ref is None:
            ref = self._refs.setdefault((group, resource), ResourceRef(group, resource))
        return ref

    # --- revisions -------------------------------------------------------------------------------------

    def revision(self) -> int:
        """The latest committed revision; 0 for a store that has never been written."""
        row = self._reader().execute(_SQL_REVISION).fetchone()
        return row[0] if row else 0

    def last_write(self, ref: ResourceRef) -> int:
        """A revision at or after the last change to any object of `ref`: what a cache of a rarely written
        kind checks before it answers. Only writes through this Store count: the API server is the one
        writer of its store."""
        return self._written.get(ref, self._opened_at)

    def compacted_revision(self) -> int:
        """History at or below this revision is gone: reads from before it raise Expired."""
        return self._reader().execute(_SQL_COMPACTED).fetchone()[0]

    # --- single objects --------------------------------------------------------------------------------

    def get(self, ref: ResourceRef, namespace: str, name: str) -> dict[str, Any] | None:
        """The current object under the key (namespace "" for cluster-scoped), or None."""
        if self._latest is not None:
            kept = self._latest.get((ref.group, ref.resource, namespace, name))
            if kept is not None:
                return _loads(kept[1])
        row = self._reader().execute(_SQL_CURRENT, (ref.group, ref.resource, namespace, name)).fetchone()
        return _loads(row[1]) if row else None

    def create(self, ref: ResourceRef, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store `obj` under a new key at a new revision; AlreadyExists if the key is live."""

        def action(conn: sqlite3.Connection, revision: int, _: tuple[int, bytes] | None) -> _Written:
            stamped, value = _stamp(obj, revision)
            try:
                conn.execute(_SQL_INSERT, (revision, ref.group, ref.resource, namespace, name, ADDED, None, value))
            except sqlite3.IntegrityError:  # log_live is unique: the key already has a live row
                raise AlreadyExists(f"{_key_text(ref, namespace, name)} already exists") from None
            return stamped, ADDED, value, None

        return self._write(action, ref, namespace, name)

    def update(self, ref: ResourceRef, namespace: str, name: str, obj: dict[str, Any], *,
               expected_rv: int | None = None) -> dict[str, Any]:
        """Replace the object; NotFound if missing, Conflict if `expected_rv` is not its revision."""

        def action(conn: sqlite3.Connection, revision: int, remembered: tuple[int, bytes] | None) -> _Written:
            current = self._live_row(conn, _SQL_CURRENT_REV, ref, namespace, name, expected_rv, remembered)[0]
            stamped, value = _stamp(obj, revision)
            conn.execute(_SQL_SUPERSEDE, (revision, current))
            conn.execute(_SQL_INSERT,
                         (revision, ref.group, ref.resource, namespace, name, MODIFIED, current, value))
            return stamped, MODIFIED, value, current

        return self._write(action, ref, namespace, name)

    def delete(self, ref: ResourceRef, namespace: str, name: str, *,
               expected_rv: int | None = None) -> dict[str, Any]:
        """Remove the key; returns its last state stamped with the deletion's revision."""

        def action(conn: sqlite3.Connection, revision: int, remembered: tuple[int, bytes] | None) -> _Written:
            current, old = self._live_row(conn, _SQL_CURRENT, ref, namespace, name, expected_rv, remembered)
            stamped, value = _stamp(_loads(old), revision)
            conn.execute(_SQL_SUPERSEDE, (revision, current))
            conn.execute(_SQL_INSERT,
                         (revision, ref.group, ref.resource, namespace, name, DELETED, current, value))
            return stamped, DELETED, value, current

        return self._write(action, ref, namespace, name)

    @staticmethod
    def _live_row(conn: sqlite3.Connection, sql: str, ref: ResourceRef, namespace: str, name: str,
                  expected_rv: int | None, remembered: tuple[int, bytes] | None) -> tuple[Any, ...]:
        """The key's live row as `sql` selects it (revision first), or as a sole writer remembers it, checked
        against the caller's precondition."""
        row = remembered or conn.execute(sql, (ref.group, ref.resource, namespace, name)).fetchone()
        if row is None:
            raise NotFound(f"{_key_text(ref, namespace, name)} not found")
        if expected_rv is not None and expected_rv != row[0]:
            raise Conflict(f"{_key_text(ref, namespace, name)} is at resourceVersion {row[0]}, "
                           f"not {expected_rv}: the object has been modified", current_rv=row[0])
        return row

    # --- lists -----------------------------------------------------------------------------------------

    def count(self, ref: ResourceRef, namespace: str | None = None) -> int:
        """Live objects of the resource (in one namespace, or all when None)."""
        sql = f"SELECT count(*) FROM log INDEXED BY log_live WHERE grp = ? AND resource = ? AND {_LIVE}"
        params: tuple[str, ...] = (ref.group, ref.resource)
        if namespace is not None:
            sql += " AND ns = ?"
            params += (namespace,)
        return self._reader().execute(sql, params).fetchone()[0]

    def object_counts(self) -> dict[tuple[str, str], int]:
        """Live objects of every resource that has any, by (group, resource): one scan of the live index."""
        sql = f"SELECT grp, resource, count(*) FROM log INDEXED BY log_live WHERE {_LIVE} GROUP BY grp, resource"
        return {(group, resource): count for group, resource, count in self._reader().execute(sql)}

    def size_bytes(self) -> int:
        """Bytes the store's files take on disk: the database and its write-ahead log."""
        total = 0
        for path in (self._path, self._path + "-wal"):
            try:
                total += os.stat(path).st_size
            except OSError:
                pass
        return total

    def list(self, ref: ResourceRef, namespace: str | None, *, label_selector: LabelSelector | None = None,
             field_selector: FieldSelector | None = None, limit: int | None = None,
             continue_token: str | None = None, resource_version: int | None = None) -> ListPage:
        """Objects sorted by (namespace, name), as of one revision.

        Without `continue_token` or `resource_version` the revision is the latest; a page's token carries
        its revision so that every following page is read at it. `limit` <= 0 or None means no limit.
        Expired if the revision has been compacted away; StoreError for a malformed token, a token together
        with `resource_version`, or a revision not reached yet.
        """
        start: tuple[str, str] | None = None
        at = resource_version
        if continue_token is not None:
            if resource_version is not None:
                raise StoreError("specifying resource version is not allowed when using continue")
            at, start_ns, start_name = paging.decode(continue_token)
            start = (start_ns, start_name)
        if limit is not None and limit <= 0:
            limit = None
        if label_selector is not None and label_selector.empty():
            label_selector = None
        if field_selector is not None and field_selector.empty():
            field_selector = None

        with self._snapshot() as conn:
            row = conn.execute(_SQL_REVISION).fetchone()
            latest = row[0] if row else 0
            if at is None:
                at = latest
            else:
                compacted = conn.execute(_SQL_COMPACTED).fetchone()[0]
                if at < compacted:
                    raise Expired(at, compacted)
                if at > latest:
                    raise StoreError(f"too large resource version: {at}, current: {latest}")

            query = _list_query(ref, namespace, field_selector, start, at, latest)
            if query is None:
                return ListPage([], at, None, None)
            if label_selector is None and field_selector is None:
                items, last = self._read_plain(conn, *query, limit)
            else:
                items, last = self._read_filtered(conn, *query, limit, label_selector, field_selector)
            if last is None:
                return ListPage(items, at, None, None)
            remaining = None
            if label_selector is None and field_selector is None:
                rest = _list_query(ref, namespace, None, last, at, latest)
                if rest is None:
                    remaining = 0
                else:
                    remaining = conn.execute(f"SELECT count(*) {rest[0]}", rest[1]).fetchone()[0]
            return ListPage(items, at, paging.encode(at, *last), remaining)

    @staticmethod
    def _read_plain(conn: sqlite3.Connection, base: str, params: tuple[Any, ...],
                    limit: int | None) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        """A page without selectors: SQL does the limit; (items, key of the last item if more follow)."""
        if limit is None:
            rows = conn.execute(f"SELECT value {base} ORDER BY ns, name", params).fetchall()
            with _gc_paused():
                return [_loads(v) for (v,) in rows], None
        rows = conn.execute(f"SELECT value, ns, name {base} ORDER BY ns, name LIMIT ?",
                            (*params, limit + 1)).fetchall()
        last = None
        if len(rows) > limit:
            del rows[limit:]
            last = (rows[-1][1], rows[-1][2])
        with _gc_paused():
            return [_loads(r[0]) for r in rows], last

    @staticmethod
    def _read_filtered(conn: sqlite3.Connection, base: str, params: tuple[Any, ...], limit: int | None,
                       label_selector: LabelSelector | None, field_selector: FieldSelector | None,
                       ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        """A page with selectors: up to `limit` matching items; a token if any key follows the last one."""
        items: list[dict[str, Any]] = []
        last: tuple[str, str] | None = None
        cursor = conn.execute(f"SELECT value, ns, name {base} ORDER BY ns, name", params)
        try:
            with _gc_paused():
                for value, ns, name in cursor:
                    if limit is not None and len(items) >= limit:
                        return items, last  # a further key exists: the page ends at `last`
                    obj = _loads(value)
                    if label_selector is not None:
                        metadata = obj.get("metadata")
                        labels = metadata.get("labels") if isinstance(metadata, dict) else None
                        if not label_selector.matches(labels):
                            continue
                    if field_selector is not None and not field_selector.matches(obj):
                        continue
                    items.append(obj)
                    last = (ns, name)
        finally:
            cursor.close()
        return items, None

    # --- changes ---------------------------------------------------------------------------------------

    def changes(self, since: int, ref: ResourceRef | None = None, namespace: str | None = None,
                limit: int | None = None) -> list[Change]:
        """Every change with revision > `since`, oldest first, optionally of one resource and/or namespace.

        Expired if `since` is below the compacted revision (the changes right after it are gone).
        """
        sql, params = _changes_query(since, ref, namespace, limit)
        with self._snapshot() as conn:
            compacted = conn.execute(_SQL_COMPACTED).fetchone()[0]
            if since < compacted:
                raise Expired(since, compacted)
            rows = conn.execute(sql, params).fetchall()
        ref_of = self._ref
        return [Change(_OP_NAMES[op], rev, ref_of(grp, resource), ns, name, value, previous)
                for rev, op, grp, resource, ns, name, value, previous in rows]

    # --- compaction ------------------------------------------------------------------------------------

    def compact(self, keep: int | None = None) -> int:
        """Forget history older than `revision() - keep` (default: keep_revisions); returns the compacted
        revision.

        At compacted revision C the store keeps exactly what reads at C or later need: every row current at
        C, and every row written after C together with the row it replaced (a change's `previous`). Rows
        replaced at or before C and deletions at or before C go. Work is done in short transactions of at
        most _COMPACT_BATCH revisions, each advancing C, so writers and readers carry on meanwhile; a paged
        list whose revision falls below C gets Expired on its next page.
        """
        keep = self._keep if keep is None else keep
        if keep < 0:
            raise ValueError("keep must be >= 0")
        target = self.revision() - keep
        done = self.compacted_revision()
        while done < target:
            with self._lock:
                if self._closed:
                    raise StoreError("the store is closed")
                conn = self._writer
                conn.execute("BEGIN IMMEDIATE")
                try:
                    done = conn.execute(_SQL_COMPACTED).fetchone()[0]  # another thread may have compacted
                    upto = min(done + _COMPACT_BATCH, target)
                    if upto > done:
                        # Rows replaced by a write in (done, upto], then deletions in (done, upto]. The first
                        # statement must run before the second, which removes rows it reads prev_rev from.
                        conn.execute("DELETE FROM log WHERE rev IN (SELECT prev_rev FROM log NOT INDEXED "
                                     "WHERE rev > ? AND rev <= ? AND prev_rev IS NOT NULL)", (done, upto))
                        conn.execute("DELETE FROM log NOT INDEXED WHERE rev > ? AND rev <= ? AND op = 3",
                                     (done, upto))
                        conn.execute("UPDATE meta SET value = ? WHERE key = 'compacted'", (upto,))
                        done = upto
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        return max(done, self.compacted_revision())
