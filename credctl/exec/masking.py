"""A streaming masker: replace every secret in a byte stream with ``***``.

`StreamMasker` is pure (bytes in, bytes out, no I/O) so it can be tested on
every way of cutting a stream into reads.  What it guarantees, for any chunking
of the input:

* **Same result as masking the whole stream at once.**  Every byte that belongs
  to an occurrence of a secret is hidden; each run of overlapping occurrences
  becomes one ``***``.  For secrets that do not overlap in the text this is
  ``text.replace(secret, b"***")`` applied longest secret first.
* **A secret split across reads is still caught.**  Output is held back only
  while its end could be the beginning of a secret: the longest tail of what was
  read that is a proper prefix of some secret (at most ``max(len) - 1`` bytes).
  Everything before that is written at once, so a prompt such as
  ``Password: `` reaches the terminal without waiting for more output.
* `flush` at end of stream writes what was held back; a prefix that never
  became a secret is ordinary text.

Secrets are matched as exact bytes (the UTF-8 encoding of the value).  Every
non-empty secret is masked, however short: a one-character password still does
not appear, at the cost of also hiding that character wherever else it occurs
(`credctl exec --mask` warns about values shorter than `SHORT_SECRET` bytes).
A value printed in another form (base64, URL-encoded, JSON-escaped) is a
different byte string and is not recognised.

The work per read is a regular-expression search for the secrets plus a check of
at most ``max(len) - 1`` trailing bytes, so throughput stays in the hundreds of
MB/s for a handful of secrets (see ``tests/test_masking.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

MASK: Final = b"***"
SHORT_SECRET: Final = 4


class StreamMasker:
    """Mask secrets in a stream fed in pieces: `feed` each read, `flush` at the end."""

    def __init__(self, secrets: Iterable[bytes], mask: bytes = MASK) -> None:
        unique = {bytes(secret) for secret in secrets if secret}
        # Longest first: at each position the regex then takes the longest secret.
        self._secrets = sorted(unique, key=lambda s: (-len(s), s))
        self._mask = mask
        self._first_bytes = frozenset(secret[0] for secret in self._secrets)
        self._pattern = (
            re.compile(b"|".join(re.escape(secret) for secret in self._secrets))
            if self._secrets
            else None
        )
        self._pending = b""  # read but not yet decided
        self._hidden = 0  # how many leading bytes of _pending are already under a mask

    @property
    def secrets(self) -> list[bytes]:
        """The distinct non-empty secrets, longest first."""
        return list(self._secrets)

    def feed(self, data: bytes) -> bytes:
        """What can safely be written after reading `data` (possibly nothing)."""
        if self._pattern is None:
            return data
        buffer = self._pending + data
        return self._emit(buffer, self._undecided_from(buffer))

    def flush(self) -> bytes:
        """Everything still held back, masked: call once at end of stream."""
        buffer, self._pending = self._pending, b""
        if self._pattern is None or not buffer:
            self._hidden = 0
            return buffer
        return self._emit(buffer, len(buffer))

    def _undecided_from(self, buffer: bytes) -> int:
        """The first position where a secret may start but is not complete yet."""
        longest = len(self._secrets[0])
        for start in range(max(0, len(buffer) - longest + 1), len(buffer)):
            if buffer[start] not in self._first_bytes:
                continue
            size = len(buffer) - start
            if any(
                len(secret) > size and buffer.startswith(secret[:size], start)
                for secret in self._secrets
            ):
                return start
        return len(buffer)

    def _emit(self, buffer: bytes, cut: int) -> bytes:
        """Decide every occurrence that starts before `cut`; keep `buffer[cut:]`."""
        assert self._pattern is not None
        out: list[bytes] = []
        done = covered = self._hidden  # buffer[:done] is decided; a mask is open to `covered`
        search = self._pattern.search
        found = search(buffer, 0)
        while found is not None and found.start() < cut:
            start, end = found.span()
            if start < covered:  # overlaps the open mask: extend it
                covered = max(covered, end)
            else:
                out.append(buffer[done:start])
                out.append(self._mask)
                covered = end
            done = covered
            # Overlapping occurrences start inside this one: search again one byte on.
            found = search(buffer, start + 1)
        if done < cut:
            out.append(buffer[done:cut])
            done = cut
        self._pending = buffer[cut:]
        self._hidden = done - cut
        return b"".join(out)


def mask(data: bytes, secrets: Iterable[bytes], replacement: bytes = MASK) -> bytes:
    """`data` with every secret masked, as `StreamMasker` does for a whole stream."""
    masker = StreamMasker(secrets, replacement)
    return masker.feed(data) + masker.flush()
