"""``postgresql://…``: sealed records in PostgreSQL (psycopg 3 and psycopg-pool).

One table of blobs (``credctl_blobs``: space, key HMAC, revision, sealed blob)
and one of log entries (``credctl_log``), created and migrated by credctl under
an advisory lock (``credctl_schema`` holds the version).  A writer holds an
advisory transaction lock on its space, so writers take turns (waiting up to
the lock timeout, then exit 8); every write is still a compare-and-swap
(``UPDATE … WHERE rev = %s``), so a writer that skipped the lock cannot win.
A reader holds a ``REPEATABLE READ`` transaction for its snapshot's life: one
commit throughout.  Log entries are appended with ``INSERT … WHERE max(seq) =
expected``, and the primary key refuses a second entry *n*.

The URL is libpq's (``postgresql://USER@HOST:PORT/DB``; ``PGPASSWORD`` or
``~/.pgpass`` for the password, which is never printed); ``?space=NAME`` keeps
several vaults in one database.  Each process keeps at most ``?pool=N``
(default 4) connections, made on demand in the thread that needs one and kept
for reuse (`_Pool`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from credctl.errors import UnsupportedFormatError, VaultBusyError
from credctl.storage.blobs import (
    BackendUnavailableError,
    Blob,
    BlobConflictError,
    Capabilities,
    Change,
    MissingExtraError,
    check_key,
)

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.pq import TransactionStatus
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingExtraError("PostgreSQL", "postgres", exc.name or "psycopg") from None

SCHEMA_VERSION = 1
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE credctl_blobs (space TEXT NOT NULL, key TEXT NOT NULL, "
        "rev BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (space, key))",
        "CREATE TABLE credctl_log (space TEXT NOT NULL, log TEXT NOT NULL, seq BIGINT NOT NULL, "
        "data BYTEA NOT NULL, PRIMARY KEY (space, log, seq))",
    ),
}
_OWN_PARAMS = {"space", "pool"}


def redact(url: str) -> str:
    """The URL without its password or query."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"postgresql://{user}{host}{port}{parts.path}"


class _Pool:
    """At most `size` connections, made on demand in the calling thread, kept when idle.

    No background threads (psycopg_pool's workers made a pool that was dropped
    without `close` fail in the garbage collector when it ran in one of them).
    """

    def __init__(self, conninfo: str, size: int, timeout: float) -> None:
        self._conninfo = conninfo
        self._timeout = timeout
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def get(self) -> Any:
        """A connection (autocommit): an idle one, else a new one; waits for a free slot."""
        if not self._slots.acquire(timeout=self._timeout):
            raise TimeoutError("every connection of the pool stayed busy")
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            return conn
        try:
            return psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
        except BaseException:
            self._slots.release()
            raise

    def put(self, conn: Any) -> None:
        """Keep an idle, healthy connection for reuse; close any other."""
        try:
            if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                with self._lock:
                    self._idle.append(conn)
                    return
            with contextlib.suppress(Exception):
                conn.close()
        finally:
            with contextlib.suppress(ValueError):  # taken from a pool closed since
                self._slots.release()

    def close(self) -> None:
        """Close the idle connections (ones in use are closed when given back)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


class _Txn:
    """A transaction on one pooled connection (reader, or writer with `lock`/`commit`)."""

    def __init__(self, backend: PostgresBackend, conn: Any, *, write: bool) -> None:
        self.backend = backend
        self.conn = conn
        self.space = backend.space
        self.closed = False
        level = "READ COMMITTED" if write else "REPEATABLE READ READ ONLY"
        conn.execute(f"BEGIN ISOLATION LEVEL {level}")

    def _run(self, sql: str, params: Any = None) -> Any:
        return _execute(self.backend, self.conn, sql, params)

    def get_many(self, keys: Sequence[str]) -> dict[str, Blob]:
        if not keys:
            return {}
        rows = self._run(
            "SELECT key, data, rev FROM credctl_blobs WHERE space = %s AND key = ANY(%s)",
            (self.space, list(keys)),
        ).fetchall()
        return {key: Blob(key, bytes(data), int(rev)) for key, data, rev in rows}

    def list(self, prefix: str) -> list[Blob]:
        rows = self._run(
            "SELECT key, data, rev FROM credctl_blobs WHERE space = %s AND key LIKE %s "
            "ORDER BY key",
            (self.space, prefix.replace("%", "").replace("_", "\\_") + "%"),
        ).fetchall()
        return [Blob(key, bytes(data), int(rev)) for key, data, rev in rows]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self._run("ROLLBACK")
        self.backend.release(self.conn)

    def lock(self, timeout: float) -> None:
        """Take the space's advisory lock (exit 8 after `timeout` seconds)."""
        self._run(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
        try:
            self._run(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                ("credctl:" + self.space,),
            )
        except pg_errors.LockNotAvailable:
            raise VaultBusyError(
                f"another writer held {self.backend.describe()} for more than {timeout:g} s",
                hint="retry, or raise CREDCTL_LOCK_TIMEOUT (seconds)",
            ) from None

    def last_log_seq(self, log: str) -> int:
        """The log's last committed entry number, seen from this transaction."""
        row = self._run(
            "SELECT coalesce(max(seq), 0) FROM credctl_log WHERE space = %s AND log = %s",
            (self.space, log),
        ).fetchone()
        return int(row[0]) if row else 0

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int:
        """Append inside this transaction (the writer's: one commit for both)."""
        for offset, data in enumerate(entries, 1):
            cursor = self._run(
                "INSERT INTO credctl_log (space, log, seq, data) "
                "SELECT %s, %s, %s, %s WHERE (SELECT coalesce(max(seq), 0) FROM credctl_log "
                "WHERE space = %s AND log = %s) = %s ON CONFLICT DO NOTHING",
                (self.space, log, expected_last + offset, data, self.space, log,
                 expected_last + offset - 1),
            )  # fmt: skip
            if cursor.rowcount != 1:
                raise BlobConflictError(f"the {log} log moved on")
        return expected_last + len(entries)

    def commit(self, changes: Sequence[Change]) -> dict[str, Hashable]:
        tokens: dict[str, Hashable] = {}
        for change in changes:
            key = check_key(change.key)
            if change.data is None:
                cursor = self._run(
                    "DELETE FROM credctl_blobs WHERE space = %s AND key = %s AND rev = %s",
                    (self.space, key, change.expected),
                )
            elif change.expected is None:
                cursor = self._run(
                    "INSERT INTO credctl_blobs (space, key, rev, data) VALUES (%s, %s, 1, %s) "
                    "ON CONFLICT DO NOTHING",
                    (self.space, key, change.data),
                )
                tokens[key] = 1
            else:
                cursor = self._run(
                    "UPDATE credctl_blobs SET data = %s, rev = rev + 1 "
                    "WHERE space = %s AND key = %s AND rev = %s",
                    (change.data, self.space, key, change.expected),
                )
                tokens[key] = int(change.expected) + 1  # type: ignore[call-overload]
            if cursor.rowcount != 1:
                raise BlobConflictError(f"{key} changed since it was read")
        return tokens


class PostgresBackend:
    """A `BlobBackend` in a PostgreSQL database."""

    capabilities = Capabilities(cas="exact", atomic_commit=True, consistent_reads=True,
                                max_blob=1 << 30)  # fmt: skip

    def __init__(self, url: str, *, space: str = "default", timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query))
        self.space = space
        self.timeout = timeout
        self.pool_size = max(1, int(params.get("pool", "4")) if params.get("pool", "4").isdigit()
                             else 4)  # fmt: skip
        kept = urlencode({k: v for k, v in params.items() if k not in _OWN_PARAMS})
        self.conninfo = parts._replace(scheme="postgresql", query=kept).geturl()
        self._url = url
        self._pool: _Pool | None = None
        self._guard = threading.Lock()
        self._ready = False

    def describe(self) -> str:
        """``postgresql://USER@HOST:PORT/DB`` (no password), and the space if not default."""
        suffix = "" if self.space == "default" else f"?space={self.space}"
        return redact(self._url) + suffix

    # -- connections ---------------------------------------------------------------------

    def _connection(self) -> Any:
        with self._guard:
            if self._pool is None:
                self._pool = _Pool(self.conninfo, self.pool_size, self.timeout)
            pool = self._pool
        try:
            conn = pool.get()
        except Exception as exc:  # noqa: BLE001 - every connect failure is the same to a user
            raise BackendUnavailableError(
                f"cannot connect to {self.describe()} ({type(exc).__name__})",
                hint="check the host, port, database and PGPASSWORD/~/.pgpass",
            ) from None
        if not self._ready:
            try:
                self._migrate(conn)
            except psycopg.Error as exc:
                self.release(conn)
                raise BackendUnavailableError(
                    f"cannot create or check credctl's tables in {self.describe()} "
                    f"({type(exc).__name__})",
                    hint="the database user needs CREATE on the schema the first time",
                ) from None
            except BaseException:
                self.release(conn)
                raise
        return conn

    def release(self, conn: Any) -> None:
        """Give a connection back to the pool."""
        pool = self._pool
        if pool is not None:
            pool.put(conn)
        else:  # closed meanwhile
            with contextlib.suppress(Exception):
                conn.close()

    def _migrate(self, conn: Any) -> None:
        """Create or upgrade the schema (once per process); refuse a newer one."""
        version = _schema_version(conn)
        if version != SCHEMA_VERSION:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('credctl-schema', 0))")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS credctl_schema (version INTEGER NOT NULL)"
                )
                row = conn.execute("SELECT max(version) FROM credctl_schema").fetchone()
                version = int(row[0]) if row and row[0] is not None else 0
                if version > SCHEMA_VERSION:
                    raise UnsupportedFormatError(
                        f"{self.describe()} has credctl schema version {version}, newer than "
                        f"this credctl supports ({SCHEMA_VERSION})",
                        hint="upgrade credctl",
                    )
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[step]:
                        conn.execute(statement)
                    conn.execute("INSERT INTO credctl_schema (version) VALUES (%s)", (step,))
        self._ready = True

    def reader(self) -> _Txn:
        """A ``REPEATABLE READ`` transaction held until `close`."""
        txn: _Txn = self._guarded(lambda conn: _Txn(self, conn, write=False))
        return txn

    def _guarded(self, make: Any) -> Any:
        conn = self._connection()
        try:
            return make(conn)
        except psycopg.OperationalError as exc:
            self.release(conn)
            raise BackendUnavailableError(
                f"{self.describe()} failed ({type(exc).__name__})"
            ) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Txn]:
        """A read-write transaction, committed when the block ends normally."""
        txn: _Txn = self._guarded(lambda conn: _Txn(self, conn, write=True))
        try:
            yield txn
            txn._run("COMMIT")
        except psycopg.OperationalError as exc:
            raise BackendUnavailableError(
                f"{self.describe()} failed ({type(exc).__name__})"
            ) from None
        finally:
            txn.close()

    # -- the log ---------------------------------------------------------------------------

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int:
        """Append after `expected_last`; `BlobConflictError` when another appended first."""
        with self.transaction() as txn:
            return txn.append_log(log, expected_last, entries)

    def last_log_seq(self, log: str) -> int:
        """The log's last entry number (0 when empty)."""
        conn = self._connection()
        try:
            row = _execute(
                self,
                conn,
                "SELECT coalesce(max(seq), 0) FROM credctl_log WHERE space = %s AND log = %s",
                (self.space, log),
            ).fetchone()
        finally:
            self.release(conn)
        return int(row[0]) if row else 0

    def read_log(self, log: str, after: int = 0) -> Iterator[tuple[int, bytes]]:
        """Entries above `after`, in order."""
        conn = self._connection()
        try:
            rows = _execute(
                self,
                conn,
                "SELECT seq, data FROM credctl_log WHERE space = %s AND log = %s AND seq > %s "
                "ORDER BY seq",
                (self.space, log, after),
            ).fetchall()
        finally:
            self.release(conn)
        for seq, data in rows:
            yield int(seq), bytes(data)

    # -- doctor ----------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Reachable, schema version, and the privileges credctl needs."""
        try:
            conn = self._connection()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return [str(exc)]
        try:
            problems = []
            version = _schema_version(conn)
            if version != SCHEMA_VERSION:
                problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
            for table in ("credctl_blobs", "credctl_log"):
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                    row = conn.execute(
                        "SELECT has_table_privilege(current_user, %s, %s)", (table, privilege)
                    ).fetchone()
                    if not (row and row[0]):
                        problems.append(f"the database user lacks {privilege} on {table}")
            return problems
        finally:
            self.release(conn)

    def close(self) -> None:
        """Close the pool."""
        with self._guard:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _execute(backend: PostgresBackend, conn: Any, sql: str, params: Any = None) -> Any:
    """Run one statement; a database error is `BackendUnavailableError` (never a traceback).

    A lock timeout stays itself: `_Txn.lock` answers it with exit 8.
    """
    try:
        return conn.execute(sql, params)
    except pg_errors.LockNotAvailable:
        raise
    except psycopg.Error as exc:
        state = f", SQLSTATE {exc.sqlstate}" if exc.sqlstate else ""
        # The server's own message may quote a row: only its kind is shown.
        raise BackendUnavailableError(
            f"{backend.describe()} refused the request ({type(exc).__name__}{state})",
            hint="check the database's permissions, triggers and disk (`credctl doctor`)",
        ) from None


def _schema_version(conn: Any) -> int | None:
    try:
        row = conn.execute(
            "SELECT max(version) FROM credctl_schema WHERE to_regclass('credctl_schema') "
            "IS NOT NULL"
        ).fetchone()
    except pg_errors.UndefinedTable:
        return None
    return int(row[0]) if row and row[0] is not None else None
