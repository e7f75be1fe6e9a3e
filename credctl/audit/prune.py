"""`audit prune --before T`: drop old entries and keep the rest verifiable.

Under the vault's lock, the trail is verified (a trail that does not verify is
not pruned: that would destroy the evidence), the last entry before T becomes
the trail's new *base* (its seq and mac, stored in the vault's settings, where
verification then starts), and an ``audit_prune`` entry is appended, all in one
vault write.  Only after that commit are the old lines removed from the files:
a crash in between leaves lines at or before the base, which verification
skips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from credctl.audit import seal
from credctl.audit.files import CURRENT, archived_name
from credctl.errors import AuditTamperedError

if TYPE_CHECKING:
    import datetime as dt

    from credctl.audit.trail import AuditTrail
    from credctl.records.activity import Actor
    from credctl.records.store import RecordStore


def prune_trail(store: RecordStore, trail: AuditTrail, actor: Actor, before: dt.datetime) -> int:
    """Remove every entry older than `before`; how many were removed."""
    from credctl._time import format_rfc3339, parse_rfc3339
    from credctl.audit.reader import read_trail
    from credctl.audit.trail import current
    from credctl.records.activity import Activity

    with store.storage.writer() as draft:
        vault_id, data_key = trail.host.trail_identity()
        config = current(draft.meta, vault_id, seal.epoch_root(data_key, vault_id))
        report = read_trail(trail, verify=True, config=config)
        if report.problem is not None:
            raise AuditTamperedError(
                report.describe(),
                hint="a trail that does not verify is not pruned (that would destroy the "
                "evidence); see `credctl audit verify`",
            )
        cut = config.base[0]
        for seq, fields in report.entries:
            if parse_rfc3339(fields["timestamp"]) >= before:
                break
            cut = seq
        removed = cut - config.base[0]
        if removed:
            config.base = (cut, report.captured[cut])
        draft.meta[seal.SETTINGS_KEY] = config.to_settings()
        detail = f"removed {removed} entries before {format_rfc3339(before)}"
        if removed:
            detail += f" (seq {cut - removed + 1}..{cut})"
        trail.append_batch([Activity("audit_prune", actor=actor, detail=detail)], draft.meta)
    if removed:
        drop_lines(trail, cut)
    return removed


def drop_lines(trail: AuditTrail, cut: int) -> None:
    """Remove the lines with seq <= `cut` from the segment files."""
    files = trail.files
    with files.locked() as folder:
        assert folder is not None
        for name in files.segments(folder):
            data = files.read(folder, name)
            lines = data.splitlines(keepends=True)
            kept = [line for line in lines if _seq(line) > cut]
            if len(kept) == len(lines):
                break  # this segment and the later ones start after the cut
            if name == CURRENT:
                files.replace(folder, name, b"".join(kept))
            elif kept:
                files.replace(folder, archived_name(_seq(kept[0])), b"".join(kept))
                files.remove(folder, name)
            else:
                files.remove(folder, name)


def _seq(line: bytes) -> int:
    head = line.split(b" ", 1)[0]
    return int(head) if head.isdigit() else 1 << 62  # a damaged line is never dropped
