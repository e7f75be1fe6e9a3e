"""The in-process token cache of `CredentialManager` (`CacheConfig`).

Entries remember who owns the token and which storage state they came from, so
a hit is never handed to another user and never outlives a change made by
another process (the storage's `state_stamp` changes with every write).  The
cache follows its `CacheConfig`: `max_size` entries at most, evicted as its
`strategy` says (LRU, the one strategy there is).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, NamedTuple

from credctl.errors import InvalidInput
from credctl.manager_config import CacheConfig, CacheStrategy
from credctl.model import Token, utc_now


class CacheEntry(NamedTuple):
    """A cached token and what it is valid for."""

    token: Token
    owner: str
    deadline: float  # time.monotonic()
    stamp: Any  # the storage state it was read from


class TokenCache:
    """A thread-safe LRU of tokens by credential id, with names as aliases."""

    def __init__(self, config: CacheConfig | None = None) -> None:
        self._entries: OrderedDict[int, CacheEntry] = OrderedDict()
        self._names: dict[str, int] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.max_size = 0
        self.strategy = CacheStrategy.LRU
        self.configure(config or CacheConfig())

    def configure(self, config: CacheConfig) -> None:
        """Follow `config`: its strategy, and no more than `max_size` entries from now on."""
        if config.strategy is not CacheStrategy.LRU:
            raise InvalidInput(f"cache strategy {config.strategy!r} is not supported")
        with self._lock:
            self.strategy = config.strategy
            self.max_size = config.max_size
            self._trim()

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

    def store(self, name: str, entry: CacheEntry) -> None:
        """Remember a token; past `max_size`, the least recently used entries go."""
        with self._lock:
            credential_id = entry.token.credential_id
            self._entries[credential_id] = entry
            self._entries.move_to_end(credential_id)
            self._names[name] = credential_id
            self._trim()

    def _trim(self) -> None:
        while len(self._entries) > max(self.max_size, 0):
            evicted, _ = self._entries.popitem(last=False)  # LRU: the oldest use goes
            for alias in [n for n, i in self._names.items() if i == evicted]:
                del self._names[alias]

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
