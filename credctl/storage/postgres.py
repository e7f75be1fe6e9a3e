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
several vaults in one database.  Connections come from a `psycopg_pool`
pool of at most ``?pool=N`` (default 4) per process.
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
    from psycopg_pool import ConnectionPool
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


class _Txn:
    """A transaction on one pooled connection (reader, or writer with `lock`/`commit`)."""

    def __init__(self, backend: PostgresBackend, conn: Any, *, write: bool) -> None:
        self.backend = backend
        self.conn = conn
        self.space = backend.space
        self.closed = False
        level = "READ COMMITTED" if write else "REPEATABLE READ READ ONLY"
        conn.execute(f"BEGIN ISOLATION LEVEL {level}")

    def get_many(self, keys: Sequence[str]) -> dict[str, Blob]:
        if not keys:
            return {}
        rows = self.conn.execute(
            "SELECT key, data, rev FROM credctl_blobs WHERE space = %s AND key = ANY(%s)",
            (self.space, list(keys)),
        ).fetchall()
        return {key: Blob(key, bytes(data), int(rev)) for key, data, rev in rows}

    def list(self, prefix: str) -> list[Blob]:
        rows = self.conn.execute(
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
            self.conn.execute("ROLLBACK")
        self.backend.release(self.conn)

    def lock(self, timeout: float) -> None:
        """Take the space's advisory lock (exit 8 after `timeout` seconds)."""
        self.conn.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
        try:
            self.conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("credctl:" + self.space,)
            )
        except pg_errors.LockNotAvailable:
            raise VaultBusyError(
                f"another writer held {self.backend.describe()} for more than {timeout:g} s",
                hint="retry, or raise CREDCTL_LOCK_TIMEOUT (seconds)",
            ) from None

    def last_log_seq(self, log: str) -> int:
        """The log's last committed entry number, seen from this transaction."""
        row = self.conn.execute(
            "SELECT coalesce(max(seq), 0) FROM credctl_log WHERE space = %s AND log = %s",
            (self.space, log),
        ).fetchone()
        return int(row[0]) if row else 0

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int:
        """Append inside this transaction (the writer's: one commit for both)."""
        for offset, data in enumerate(entries, 1):
            cursor = self.conn.execute(
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
                cursor = self.conn.execute(
                    "DELETE FROM credctl_blobs WHERE space = %s AND key = %s AND rev = %s",
                    (self.space, key, change.expected),
                )
            elif change.expected is None:
                cursor = self.conn.execute(
                    "INSERT INTO credctl_blobs (space, key, rev, data) VALUES (%s, %s, 1, %s) "
                    "ON CONFLICT DO NOTHING",
                    (self.space, key, change.data),
                )
                tokens[key] = 1
            else:
                cursor = self.conn.execute(
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
        self._pool: ConnectionPool | None = None
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
                self._pool = ConnectionPool(
                    self.conninfo, min_size=1, max_size=self.pool_size, open=False,
                    timeout=self.timeout, kwargs={"autocommit": True, "connect_timeout": 10},
                    name="credctl",
                )  # fmt: skip
                self._pool.open(wait=False)
        try:
            conn = self._pool.getconn()
        except Exception as exc:  # noqa: BLE001 - psycopg_pool wraps every connect failure
            raise BackendUnavailableError(
                f"cannot connect to {self.describe()} ({type(exc).__name__})",
                hint="check the host, port, database and PGPASSWORD/~/.pgpass",
            ) from None
        if not self._ready:
            try:
                self._migrate(conn)
            except BaseException:
                self.release(conn)
                raise
        return conn

    def release(self, conn: Any) -> None:
        """Give a connection back to the pool."""
        if self._pool is not None:
            with contextlib.suppress(Exception):
                self._pool.putconn(conn)

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
            txn.conn.execute("COMMIT")
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
            for offset, data in enumerate(entries, 1):
                cursor = txn.conn.execute(
                    "INSERT INTO credctl_log (space, log, seq, data) "
                    "SELECT %s, %s, %s, %s WHERE (SELECT coalesce(max(seq), 0) FROM credctl_log "
                    "WHERE space = %s AND log = %s) = %s ON CONFLICT DO NOTHING",
                    (self.space, log, expected_last + offset, data, self.space, log,
                     expected_last + offset - 1),
                )  # fmt: skip
                if cursor.rowcount != 1:
                    raise BlobConflictError(f"the {log} log moved on")
        return expected_last + len(entries)

    def last_log_seq(self, log: str) -> int:
        """The log's last entry number (0 when empty)."""
        conn = self._connection()
        try:
            row = conn.execute(
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
            rows = conn.execute(
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


def _schema_version(conn: Any) -> int | None:
    try:
        row = conn.execute(
            "SELECT max(version) FROM credctl_schema WHERE to_regclass('credctl_schema') "
            "IS NOT NULL"
        ).fetchone()
    except pg_errors.UndefinedTable:
        return None
    return int(row[0]) if row and row[0] is not None else None
