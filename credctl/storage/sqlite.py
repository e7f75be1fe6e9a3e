"""``sqlite:///PATH``: sealed records in one SQLite file (stdlib `sqlite3`).

Write-ahead logging lets readers run beside the one writer; a reader holds a
read transaction for its snapshot's life, so it sees one commit throughout.  A
writer starts with ``BEGIN IMMEDIATE`` and waits up to the lock timeout for
another (then exit 8); its compare-and-swap (``UPDATE … WHERE rev = ?``) then
cannot lose, and guards against writers that do not take the lock.  The file
and its folder are created 0600 / 0700.

Tables (schema version 1, in ``credctl_schema``): ``credctl_blobs(space, key,
rev, data)`` and ``credctl_log(space, log, seq, data)``; `space` (``?space=``
in the URL, default ``default``) keeps several vaults apart in one file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path

from credctl.errors import UnsupportedFormatError, VaultBusyError
from credctl.storage.blobs import (
    BackendUnavailableError,
    Blob,
    BlobConflictError,
    Capabilities,
    Change,
    check_key,
)

SCHEMA_VERSION = 1
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS credctl_schema (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS credctl_blobs (space TEXT NOT NULL, key TEXT NOT NULL, "
    "rev INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (space, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS credctl_log (space TEXT NOT NULL, log TEXT NOT NULL, "
    "seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (space, log, seq)) WITHOUT ROWID",
)


class _Reader:
    """A read transaction on its own connection (a `BlobTransaction` when writing)."""

    def __init__(self, conn: sqlite3.Connection, space: str) -> None:
        self.conn = conn
        self.space = space

    def get_many(self, keys: Sequence[str]) -> dict[str, Blob]:
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self.conn.execute(
            f"SELECT key, data, rev FROM credctl_blobs WHERE space = ? AND key IN ({marks})",  # noqa: S608 - placeholders only
            (self.space, *keys),
        ).fetchall()
        return {key: Blob(key, bytes(data), rev) for key, data, rev in rows}

    def list(self, prefix: str) -> list[Blob]:
        rows = self.conn.execute(
            "SELECT key, data, rev FROM credctl_blobs WHERE space = ? AND key >= ? AND key < ? "
            "ORDER BY key",
            (self.space, prefix, prefix + "\uffff"),
        ).fetchall()
        return [Blob(key, bytes(data), rev) for key, data, rev in rows]

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self.conn.in_transaction:
                self.conn.rollback()
            self.conn.close()

    def lock(self, timeout: float) -> None:
        """``BEGIN IMMEDIATE`` already made this the only writer."""

    def last_log_seq(self, log: str) -> int:
        """The log's last entry number, inside this transaction."""
        row = self.conn.execute(
            "SELECT max(seq) FROM credctl_log WHERE space = ? AND log = ?", (self.space, log)
        ).fetchone()
        return int(row[0] or 0)

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int:
        """Append inside this transaction (the writer's: one commit for both)."""
        if self.last_log_seq(log) != expected_last:
            raise BlobConflictError(f"the {log} log moved on")
        self.conn.executemany(
            "INSERT INTO credctl_log (space, log, seq, data) VALUES (?, ?, ?, ?)",
            [(self.space, log, expected_last + i, d) for i, d in enumerate(entries, 1)],
        )
        return expected_last + len(entries)

    def commit(self, changes: Sequence[Change]) -> dict[str, Hashable]:
        tokens: dict[str, Hashable] = {}
        for change in changes:
            key = check_key(change.key)
            if change.data is None:
                done = self.conn.execute(
                    "DELETE FROM credctl_blobs WHERE space = ? AND key = ? AND rev = ?",
                    (self.space, key, change.expected),
                ).rowcount
            elif change.expected is None:
                try:
                    self.conn.execute(
                        "INSERT INTO credctl_blobs (space, key, rev, data) VALUES (?, ?, 1, ?)",
                        (self.space, key, change.data),
                    )
                    done = 1
                except sqlite3.IntegrityError:
                    done = 0
                tokens[key] = 1
            else:
                done = self.conn.execute(
                    "UPDATE credctl_blobs SET data = ?, rev = rev + 1 "
                    "WHERE space = ? AND key = ? AND rev = ?",
                    (change.data, self.space, key, change.expected),
                ).rowcount
                tokens[key] = int(change.expected) + 1  # type: ignore[call-overload]
            if done != 1:
                raise BlobConflictError(f"{key} changed since it was read")
        return tokens


class SqliteBackend:
    """A `BlobBackend` in one SQLite file."""

    capabilities = Capabilities(cas="exact", atomic_commit=True, consistent_reads=True,
                                max_blob=1 << 30)  # fmt: skip

    def __init__(self, path: Path, *, space: str = "default", timeout: float = 10.0) -> None:
        self.path = path
        self.space = space
        self.timeout = timeout
        self._ready = False

    def describe(self) -> str:
        """``sqlite:///PATH``."""
        suffix = "" if self.space == "default" else f"?space={self.space}"
        return f"sqlite://{self.path}{suffix}"

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self._prepare()
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise BackendUnavailableError(f"cannot open {self.describe()}: {exc}") from None
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        return conn

    def _prepare(self) -> None:
        """Create the file (0600, folder 0700) and the schema; refuse a newer schema."""
        folder = self.path.parent
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True)
        if not self.path.exists():
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            if self._schema_version(conn) == SCHEMA_VERSION:
                self._ready = True  # the usual case: no write, so no wait for a writer
                return
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT max(version) FROM credctl_schema").fetchone()
            version = row[0] if row else None
            if version is None:
                conn.execute("INSERT INTO credctl_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version > SCHEMA_VERSION:
                raise UnsupportedFormatError(
                    f"{self.describe()} has schema version {version}, newer than this "
                    f"credctl supports ({SCHEMA_VERSION})",
                    hint="upgrade credctl",
                )
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        finally:
            conn.close()
        self._ready = True

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int | None:
        try:
            row = conn.execute("SELECT max(version) FROM credctl_schema").fetchone()
        except sqlite3.OperationalError:
            return None  # no table yet
        return int(row[0]) if row and row[0] is not None else None

    def reader(self) -> _Reader:
        """A read transaction: one commit for the reader's whole life."""
        conn = self._connect()
        conn.execute("BEGIN")
        return _Reader(conn, self.space)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Reader]:
        """``BEGIN IMMEDIATE``: the only writer until commit (8 after the timeout)."""
        conn = self._connect()
        txn = _Reader(conn, self.space)
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _busy(exc) from None
            yield txn
            conn.execute("COMMIT")
        finally:
            txn.close()

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int:
        """Append after `expected_last` (conflict when another appended first)."""
        with self.transaction() as txn:
            if self._last(txn.conn, log) != expected_last:
                raise BlobConflictError(f"the {log} log moved on")
            txn.conn.executemany(
                "INSERT INTO credctl_log (space, log, seq, data) VALUES (?, ?, ?, ?)",
                [(self.space, log, expected_last + i, d) for i, d in enumerate(entries, 1)],
            )
        return expected_last + len(entries)

    def _last(self, conn: sqlite3.Connection, log: str) -> int:
        row = conn.execute(
            "SELECT max(seq) FROM credctl_log WHERE space = ? AND log = ?", (self.space, log)
        ).fetchone()
        return int(row[0] or 0)

    def last_log_seq(self, log: str) -> int:
        """The log's last entry number (0 when empty)."""
        conn = self._connect()
        try:
            return self._last(conn, log)
        finally:
            conn.close()

    def read_log(self, log: str, after: int = 0) -> Iterator[tuple[int, bytes]]:
        """Entries above `after`, in order."""
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT seq, data FROM credctl_log WHERE space = ? AND log = ? AND seq > ? "
                "ORDER BY seq",
                (self.space, log, after),
            ).fetchall()
        finally:
            conn.close()
        for seq, data in rows:
            yield int(seq), bytes(data)

    def check(self) -> list[str]:
        """The file's permissions and the journal mode."""
        problems = []
        try:
            info = self.path.stat()
        except OSError as exc:
            return [f"{self.describe()}: cannot read the file ({exc.strerror})"]
        if stat.S_IMODE(info.st_mode) & 0o077:
            problems.append(f"{self.path} can be read by other users (chmod 600 it)")
        if info.st_uid != os.geteuid():
            problems.append(f"{self.path} belongs to another user")
        return problems

    def close(self) -> None:
        """Connections are per reader: nothing is pooled."""


def _busy(exc: sqlite3.OperationalError) -> Exception:
    if "locked" in str(exc) or "busy" in str(exc):
        return VaultBusyError(
            "another writer held the SQLite database past the lock timeout",
            hint="retry, or raise CREDCTL_LOCK_TIMEOUT (seconds)",
        )
    return BackendUnavailableError(f"SQLite refused the operation: {exc}")
