"""The decrypted body: vault settings plus an index and records that load lazily.

Layout (all lengths big-endian u32)::

    meta_len | meta (JSON object) | index_len | index | records

The index holds one line per record, ``<id>\\t<key>\\t<offset>\\t<length>\\n``,
sorted by id, with offsets into the records area.  A record's *key* is its name,
or ``<owner>/<name>`` when it belongs to an owner other than ``local`` (names are
unique per owner; see docs/FORMAT.md).  Finding one record is a
C-speed ``bytes.find`` on the index plus one small ``json.loads``; the other
records are never parsed.  That keeps ``get-token`` on 10,000 credentials
close to its cost on 1,000.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from typing import Any

from credctl.errors import VaultCorruptError

_LEN = struct.Struct(">I")
_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
#: An owner id other than ``local``: no ``/``, TAB or LF, so ``owner/name`` splits one way.
_OWNER = r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}"
RECORD_NAME = re.compile(_NAME + r"\Z")
OWNER_ID = re.compile(_OWNER + r"\Z")
#: An index key: the record's name, prefixed with ``owner/`` unless the owner is ``local``.
RECORD_KEY = re.compile(rf"(?:{_OWNER}/)?{_NAME}\Z")
_KEY_BYTES = re.compile(RECORD_KEY.pattern.encode())
_UINT = rb"(0|[1-9][0-9]{0,17})"
# One whole index line; matched in C, so checking 10,000 lines costs little.
_INDEX_LINE = re.compile(
    _UINT + rb"\t((?:" + _OWNER.encode() + rb"/)?" + _NAME.encode() + rb")\t" + _UINT + rb"\t"
    + _UINT + rb"\n"
)  # fmt: skip

Record = dict[str, Any]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


#: FORMAT.md: readers reject JSON nested deeper than this.
MAX_DEPTH = 1000
_NESTING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(raw: bytes) -> bool:
    """True when `raw` nests arrays/objects more than `MAX_DEPTH` levels deep.

    Decided here rather than by Python's recursion limit, which a program may raise.
    Counting brackets (C speed) settles almost every record; only JSON with more
    brackets than the limit is walked, skipping strings.
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    for match in _NESTING.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def load_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Parse strict JSON that must be an object; anything else is vault damage."""
    if _too_deep(raw):
        raise VaultCorruptError(f"the vault holds {what} nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise VaultCorruptError(f"the vault holds {what} that is not valid JSON") from exc
    if not isinstance(value, dict):
        raise VaultCorruptError(f"the vault holds {what} that is not a JSON object")
    return value


def dump_json(value: Any) -> bytes:
    """Compact, deterministic JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


class Body:
    """Vault settings (`meta`) and records addressed by id and by name."""

    def __init__(self, meta: dict[str, Any], index: bytes = b"", records: bytes = b"") -> None:
        self.meta = meta
        self._index = b"\n" + index
        self._records = records
        # Materialised only when the body is changed: id -> (name, raw JSON | parsed).
        self._table: dict[int, tuple[str, bytes | Record]] | None = None
        self._ids_by_name: dict[str, int] = {}
        self._changed = False
        self._meta_json: bytes | None = None

    # -- reading -------------------------------------------------------------------

    def get_by_name(self, name: str) -> tuple[int, Record] | None:
        """The record with this key (see `RECORD_KEY`), parsing only that record."""
        if not RECORD_KEY.match(name):
            return None
        if self._table is not None:
            record_id = self._ids_by_name.get(name)
            return None if record_id is None else (record_id, self._record(record_id))
        needle = b"\t" + name.encode() + b"\t"
        position = self._index.find(needle)
        while position >= 0:
            start = self._index.rfind(b"\n", 0, position) + 1
            # The needle can also match the offset field of a digit-only name.
            if self._line_at(start)[1] == needle[1:-1]:
                return self._entry_at(start)
            position = self._index.find(needle, position + 1)
        return None

    def get_by_id(self, record_id: int) -> tuple[str, Record] | None:
        """The record with this id and its name."""
        if self._table is not None:
            if record_id not in self._table:
                return None
            return self._table[record_id][0], self._record(record_id)
        position = self._index.find(b"\n" + str(record_id).encode() + b"\t")
        if position < 0:
            return None
        found_id, record = self._entry_at(position + 1)
        name = self._line_at(position + 1)[1].decode()
        assert found_id == record_id
        return name, record

    def entries(self) -> Iterator[tuple[int, str, Record]]:
        """Every record in id order (parses them all)."""
        table = self._materialise()
        for record_id in sorted(table):
            yield record_id, table[record_id][0], self._record(record_id)

    def names(self) -> dict[str, int]:
        """Key -> id for every record, without parsing any record."""
        self._materialise()
        return dict(self._ids_by_name)

    def __len__(self) -> int:
        return len(self._materialise())

    def copy(self) -> Body:
        """A body over the same bytes with settings of its own, for one more reader.

        For a generation cached by the storage (`VaultStorage`): each reader gets
        a copy whose records and settings it may parse and even change without
        affecting the others.  Only for a body that was never changed.
        """
        if self._changed:
            raise ValueError("only an unchanged body can be copied")
        if self._meta_json is None:
            self._meta_json = dump_json(self.meta)
        copied = Body(load_json_object(self._meta_json, "a settings block"), b"", self._records)
        copied._index = self._index  # immutable bytes, shared
        copied._meta_json = self._meta_json
        return copied

    # -- changing ------------------------------------------------------------------

    def put(self, record_id: int, name: str, record: Record) -> None:
        """Insert or replace a record under its key (`RECORD_KEY`); keys must stay unique."""
        if not RECORD_KEY.match(name):
            raise ValueError(f"invalid record key {name!r}")
        table = self._materialise()
        self._changed = True
        if self._ids_by_name.get(name, record_id) != record_id:
            raise ValueError(f"record name {name!r} is already used")
        previous = table.get(record_id)
        if previous is not None:
            del self._ids_by_name[previous[0]]
        table[record_id] = (name, record)
        self._ids_by_name[name] = record_id

    def delete(self, record_id: int) -> bool:
        """Remove a record; False if it was not there."""
        removed = self._materialise().pop(record_id, None)
        if removed is None:
            return False
        self._changed = True
        del self._ids_by_name[removed[0]]
        return True

    # -- serialisation -------------------------------------------------------------

    def encode(self) -> bytes:
        """Serialise in canonical form (records in id order, contiguous)."""
        table = self._materialise()
        index_lines: list[bytes] = []
        chunks: list[bytes] = []
        offset = 0
        for record_id in sorted(table):
            name, value = table[record_id]
            raw = value if isinstance(value, bytes) else dump_json(value)
            index_lines.append(f"{record_id}\t{name}\t{offset}\t{len(raw)}\n".encode())
            chunks.append(raw)
            offset += len(raw)
        meta = dump_json(self.meta)
        index = b"".join(index_lines)
        return _LEN.pack(len(meta)) + meta + _LEN.pack(len(index)) + index + b"".join(chunks)

    @classmethod
    def decode(cls, plaintext: bytes) -> Body:
        """Split a decrypted body; records are checked when they are read."""
        try:
            (meta_len,) = _LEN.unpack_from(plaintext, 0)
            meta_end = _LEN.size + meta_len
            (index_len,) = _LEN.unpack_from(plaintext, meta_end)
        except struct.error as exc:
            raise VaultCorruptError("vault body is truncated") from exc
        index_start = meta_end + _LEN.size
        index_end = index_start + index_len
        if index_end > len(plaintext):
            raise VaultCorruptError("vault body index runs past its end")
        meta = load_json_object(plaintext[_LEN.size : meta_end], "a settings block")
        index = plaintext[index_start:index_end]
        if index and not index.endswith(b"\n"):
            raise VaultCorruptError("vault body index is malformed")
        return cls(meta, index, plaintext[index_end:])

    def validate(self) -> None:
        """Parse every index line and record (`credctl doctor`).

        Writes check only the index: records they do not touch are carried over
        byte for byte, and they were authenticated when the body was decrypted.
        """
        table = self._materialise()
        for record_id in table:
            self._record(record_id)

    # -- internals -----------------------------------------------------------------

    def _line_at(self, start: int) -> list[bytes]:
        end = self._index.find(b"\n", start)
        parts = self._index[start:end].split(b"\t")
        if end < 0 or len(parts) != 4:
            raise VaultCorruptError("vault body index is malformed")
        return parts

    def _entry_at(self, start: int) -> tuple[int, Record]:
        id_raw, name_raw, offset_raw, length_raw = self._line_at(start)
        record_id, offset, length = (_parse_uint(v) for v in (id_raw, offset_raw, length_raw))
        if not _KEY_BYTES.match(name_raw):
            raise VaultCorruptError("vault body index holds an invalid name")
        if offset + length > len(self._records):
            raise VaultCorruptError("vault body index points past the records")
        raw = self._records[offset : offset + length]
        return record_id, load_json_object(raw, "a credential record")

    def _record(self, record_id: int) -> Record:
        assert self._table is not None
        name, value = self._table[record_id]
        if isinstance(value, bytes):
            value = load_json_object(value, "a credential record")
            self._table[record_id] = (name, value)
        return value

    def _materialise(self) -> dict[int, tuple[str, bytes | Record]]:
        if self._table is not None:
            return self._table
        table: dict[int, tuple[str, bytes | Record]] = {}
        ids_by_name: dict[str, int] = {}
        index = self._index
        position = 1  # after the leading newline __init__ adds
        expected_offset = 0
        for match in _INDEX_LINE.finditer(index, 1):
            if match.start() != position:
                raise VaultCorruptError("vault body index is malformed")
            record_id, offset, length = int(match[1]), int(match[3]), int(match[4])
            name = match[2].decode()
            if record_id in table or name in ids_by_name or offset != expected_offset:
                raise VaultCorruptError("vault body index is not canonical")
            table[record_id] = (name, self._records[offset : offset + length])
            ids_by_name[name] = record_id
            expected_offset = offset + length
            position = match.end()
        if position != len(index):
            raise VaultCorruptError("vault body index is malformed")
        if expected_offset != len(self._records):
            raise VaultCorruptError("vault body records do not match the index")
        self._table = table
        self._ids_by_name = ids_by_name
        return table


def _parse_uint(raw: bytes) -> int:
    if not raw.isdigit() or (len(raw) > 1 and raw.startswith(b"0")) or len(raw) > 18:
        raise VaultCorruptError("vault body index holds an invalid number")
    return int(raw)
