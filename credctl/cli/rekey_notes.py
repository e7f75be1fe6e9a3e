"""What `rekey`, `passwd` and `key remove` say about older copies and a new data key."""

from __future__ import annotations

from credctl.vault.store import RekeyResult

OLDER_COPIES = (
    "older copies of the vault file (its backups in VAULT.d/backups, git history, sync "
    "folders, other machines) still open with {what}, and the data key they give also reads "
    "this vault and every later change"
)


def describe_rekey(result: RekeyResult) -> str:
    """One line saying what a rekey ended (shared with `key remove --rekey`)."""
    parts = ["rekeyed: new data key"]
    dropped = result.dropped_ci_keys
    if dropped:
        ids = ", ".join(str(slot_id) for slot_id in dropped)
        parts.append(
            f"removed CI key{'s' if len(dropped) > 1 else ''} {ids} (a rekey cannot keep "
            "them: add new ones with `credctl key add-ci`)"
        )
    parts.append(f"ended {plural(result.sessions_ended, 'session')}")
    parts.append(f"removed {plural(result.backups_removed, 'backup')}")
    if result.keyring_forgotten:
        parts.append("forgot the keyring entry")
    return "; ".join(parts)


def plural(count: int, noun: str) -> str:
    """`1 session`, `2 sessions`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
