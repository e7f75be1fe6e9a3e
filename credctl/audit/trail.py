"""`AuditTrail`: the vault backend's activity log, sealed, chained and fail-closed.

Every activity the record layer logs becomes one entry in ``VAULT.d/audit/``
(format: `credctl.audit.seal`, files: `credctl.audit.files`).  An append takes
the trail's own lock, reads the tail to chain from, and writes and fsyncs the new
line(s) in one ``write``; if that fails, the error propagates and the caller
hands nothing out (fail closed).  Inside a vault write, the entries are appended
before the commit and the trail's head is recorded in the vault's settings in
that same commit, so a trail cut below the last write is detected.

A writer killed mid-append can leave a torn last line; the next append cuts it
off and logs an ``audit_repair`` entry saying so.  A trail shorter than the head
the vault recorded is never healed by later appends: they continue numbering
after the recorded head, so the gap stays visible to `audit verify`.

Reading, verifying and exporting live in other modules (not on ``get-token``'s path).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credctl.audit import seal
from credctl.audit.files import CURRENT, TrailFiles, segment_limit
from credctl.errors import VaultBusyError
from credctl.records.activity import Activity
from credctl.vault.crypto import checks_equal

if TYPE_CHECKING:
    from typing import Protocol

    # Only for type checking: building a Protocol class costs get-token time.
    class TrailHost(Protocol):
        """What the trail needs from the vault backend it belongs to."""

        def trail_identity(self) -> tuple[bytes, bytes]:
            """(vault id, data key) of the open vault, unlocking it if needed."""
            ...

        def trail_settings(self) -> Mapping[str, Any]:
            """The settings of the generation the backend last read."""
            ...


class AuditTrail:
    """The sealed trail of one vault (an `ActivityLog` and a `BatchLog`)."""

    def __init__(self, sidecar: Path, host: TrailHost) -> None:
        self.files = TrailFiles(sidecar / "audit")
        self.journal = sidecar / "usage.jsonl"
        self.host = host
        self._roots: dict[bytes, bytes] = {}

    # -- keys and settings -------------------------------------------------------------

    def _root(self, vault_id: bytes, data_key: bytes) -> bytes:
        root = self._roots.get(data_key)
        if root is None:
            root = self._roots[data_key] = seal.epoch_root(data_key, vault_id)
        return root

    def config(self) -> TrailConfig:
        """The trail's settings for the data key in use, as the vault stores them.

        A vault without them (new, or from before the trail) or rekeyed since they
        were stored gets them derived here, without a vault write (reading a
        token never rewrites the vault); the next vault write stores them.
        """
        vault_id, data_key = self.host.trail_identity()
        return current(self.host.trail_settings(), vault_id, self._root(vault_id, data_key))

    # -- ActivityLog ---------------------------------------------------------------------

    def append(self, activity: Activity) -> None:
        """Seal and append one entry; raises (and nothing is handed out) when it cannot."""
        self.append_batch([activity])

    def append_batch(
        self, activities: Sequence[Activity], settings: dict[str, Any] | None = None
    ) -> None:
        """Seal and append entries in one write.

        With `settings` (a vault write's settings, before its commit), the trail's
        settings are taken from there (and added if missing), and the new head is
        recorded in them.
        """
        if not activities:
            return
        if settings is None:
            config = self.config()
        else:
            vault_id, data_key = self.host.trail_identity()
            config = prepared(settings, vault_id, self._root(vault_id, data_key))
        head = self._write(activities, config)
        if settings is not None:
            config.head = head
            settings[seal.SETTINGS_KEY] = config.to_settings()

    def activities(self) -> Iterator[Activity]:
        """Every entry that authenticates, oldest first (see `credctl.audit.reader`)."""
        from credctl.audit.reader import read_trail

        return iter(read_trail(self, verify=False).activities())

    # -- appending -----------------------------------------------------------------------

    def _write(self, activities: Sequence[Activity], config: TrailConfig) -> tuple[int, bytes]:
        actor = activities[0].actor
        vault_id = config.vault_id
        keys = config.keys(config.epoch)
        migrated: list[Activity] = []
        with self.files.locked() as folder:
            assert folder is not None
            segment = self.files.open_current(folder)
            try:
                line, torn = segment.tail()
                prefix: list[Activity] = []
                if torn:
                    segment.cut(segment.size() - torn)
                if not line and segment.size() == 0:  # just archived: chain from the last one
                    archived = [n for n in self.files.segments(folder) if n != CURRENT]
                    if archived:
                        line = self.files.tail_of(folder, archived[-1])
                seq, prev = self._start(line, config)
                if torn:
                    prefix.append(Activity(
                        "audit_repair", actor=actor, outcome="error", error="TornTail",
                        detail=f"removed {torn} bytes of an entry cut off after seq {seq}",
                    ))  # fmt: skip
                if seq == 0:
                    migrated = self._migrated()
                    if migrated:
                        prefix.extend(migrated)
                        prefix.append(Activity(
                            "audit_start", actor=actor, detail="audit trail started; "
                            f"{len(migrated)} entries migrated from usage.jsonl",
                        ))  # fmt: skip
                size = segment.size()
                if size >= segment_limit():
                    try:
                        first = seal.parse_line(self.files.first_line(folder, CURRENT)).seq
                    except ValueError:  # a damaged first line (verify names it): order by tail
                        first = seq
                    self.files.archive_current(folder, first)
                    segment.close()
                    segment = self.files.open_current(folder)
                out = []
                for activity in (*prefix, *activities):
                    seq += 1
                    raw, prev = seal.seal_line(keys, vault_id, seq, prev, encode(activity))
                    out.append(raw)
                segment.append(b"".join(out))
            finally:
                segment.close()
        if migrated:
            with contextlib.suppress(OSError):
                self.journal.unlink()
        return seq, prev

    def _start(self, tail: bytes, config: TrailConfig) -> tuple[int, bytes]:
        """The (seq, mac) to chain from: the tail, unless the vault recorded a later head."""
        start = config.base
        if tail:
            try:
                last = seal.parse_line(tail)
            except ValueError:
                last = None  # a damaged tail: `audit verify` names it; chain from the head
            if last is not None:
                if last.epoch > config.epoch:
                    raise VaultBusyError(
                        "the vault was rekeyed while this command ran",
                        hint="run the command again",
                    )
                start = (last.seq, last.mac)
        head = config.head
        if head is not None and head[0] > start[0]:
            start = head  # entries were cut off: keep the gap visible
        return start

    def _migrated(self) -> list[Activity]:
        from credctl.audit.migrate import read_journal

        return read_journal(self.journal)


TrailConfig = seal.TrailConfig


def current(
    settings: Mapping[str, Any], vault_id: bytes, root: bytes, *, earlier: bytes | None = None
) -> TrailConfig:
    """The trail's settings in `settings`, with a new epoch for `root` if it is not the last.

    None stored: a trail that starts with `root`.  `earlier` is the root of the
    data key a rekey just replaced, when known: it becomes an epoch first if the
    vault never stored it, so entries sealed under it stay verifiable.
    """
    config = seal.TrailConfig.from_settings(settings.get(seal.SETTINGS_KEY), vault_id)
    if config is None:
        config = seal.TrailConfig.new(vault_id, earlier or root)
    if earlier is not None and not any(checks_equal(earlier, r) for r in config.epochs):
        config.epochs.append(earlier)
    if not config.is_current(root):
        config.epochs.append(root)
    return config


def prepared(
    settings: dict[str, Any], vault_id: bytes, root: bytes, *, earlier: bytes | None = None
) -> TrailConfig:
    """Store the trail's settings (see `current`) in a vault write's `settings`."""
    config = current(settings, vault_id, root, earlier=earlier)
    settings[seal.SETTINGS_KEY] = config.to_settings()
    return config


def encode(activity: Activity) -> bytes:
    """An activity's entry plaintext (never a secret: names, ids, times, error kinds)."""
    actor = activity.actor
    duration = activity.duration_ms
    name = activity.credential_name
    if name is not None and not _is_name(name):
        name = None  # a refused name may be anything the user typed: not logged
    return seal.entry_json({
        "timestamp": seal.timestamp(activity.at),
        "action": activity.action,
        "credential_id": activity.credential_id,
        "credential_name": name,
        "user": actor.user if actor else None,
        "host": actor.host if actor else None,
        "ip": actor.ip if actor else None,
        "execution_id": actor.execution_id if actor else None,
        "workflow_id": actor.workflow_id if actor else None,
        "origin": actor.origin if actor else None,
        "outcome": activity.outcome,
        "error": activity.error,
        "duration_ms": round(duration, 3) if duration is not None else None,
        "detail": activity.detail,
    })  # fmt: skip


def _is_name(text: str) -> bool:
    # SPEC §2 names; the same rule as credctl.vault.body.RECORD_NAME, without `re`.
    return (
        0 < len(text) <= 128
        and text.isascii()
        and text[0].isalnum()
        and all(c.isalnum() or c in "_-" for c in text)
    )
