"""The in-process token cache of `CredentialManager` (`CacheConfig`).

Entries remember who owns the token and which storage state they came from, so
a hit is never handed to another user and never outlives a change made by
another process (the storage's `state_stamp` changes with every write).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, NamedTuple

from credctl.model import Token, utc_now


class CacheEntry(NamedTuple):
    """A cached token and what it is valid for."""

    token: Token
    owner: str
    deadline: float  # time.monotonic()
    stamp: Any  # the storage state it was read from


class TokenCache:
    """A thread-safe LRU of tokens by credential id, with names as aliases."""

    def __init__(self) -> None:
        self._entries: OrderedDict[int, CacheEntry] = OrderedDict()
        self._names: dict[str, int] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def lookup(self, credential_id: int | None, name: str | None, stamp: Any) -> CacheEntry | None:
        """A fresh entry for this id (or name) and storage state, counting hit or miss."""
        with self._lock:
            if credential_id is None and name is not None:
                credential_id = self._names.get(name)
            entry = self._entries.get(credential_id) if credential_id is not None else None
            if entry is None or not self._fresh(entry, stamp):
                self.misses += 1
                return None
            self._entries.move_to_end(entry.token.credential_id)
            self.hits += 1
            return entry

    @staticmethod
    def _fresh(entry: CacheEntry, stamp: Any) -> bool:
        if entry.deadline < time.monotonic() or stamp is None or entry.stamp != stamp:
            return False
        expires_at = entry.token.expires_at
        return expires_at is None or expires_at > utc_now()

    def store(self, name: str, entry: CacheEntry, max_size: int) -> None:
        """Remember a token; the least recently used entries go past `max_size`."""
        with self._lock:
            credential_id = entry.token.credential_id
            self._entries[credential_id] = entry
            self._entries.move_to_end(credential_id)
            self._names[name] = credential_id
            self._trim(max_size)

    def resize(self, max_size: int) -> None:
        """Drop entries beyond a new maximum."""
        with self._lock:
            self._trim(max_size)

    def _trim(self, max_size: int) -> None:
        while len(self._entries) > max(max_size, 0):
            self._entries.popitem(last=False)

    def forget(self, credential_id: int | None = None, name: str | None = None) -> None:
        """Drop one credential's entry (by id or name)."""
        with self._lock:
            if credential_id is None and name is not None:
                credential_id = self._names.get(name)
            if credential_id is None:
                return
            self._entries.pop(credential_id, None)
            for alias in [n for n, i in self._names.items() if i == credential_id]:
                del self._names[alias]

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._entries.clear()
            self._names.clear()
