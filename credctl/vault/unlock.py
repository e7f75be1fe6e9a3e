"""Unlock sources, tried in the order of SPEC §5; the first that works wins.

1. ``CREDCTL_SESSION`` (from ``credctl unlock``), unless expired or ended by ``lock``
2. ``CREDCTL_KEY`` (a CI key slot: no KDF)
3. the OS keyring (after ``unlock --remember``)
4. ``CREDCTL_PASSPHRASE_FILE``
5. ``CREDCTL_PASSPHRASE``
6. a hidden prompt, only when stdin is a terminal, or when stdin carries the
   command's data (``pass show x | credctl create … --field key=@-``) and the
   process has a controlling terminal (``/dev/tty``), as ssh and sudo do

With none of them, `VaultLockedError` (exit 4) names the sources at once: a
script never hangs on a prompt.  A job without a controlling terminal (CI,
cron, a pipeline run by a service) is never asked.

Commands may narrow the list: changing key slots takes the passphrase itself
(`key add-ci --with-ci-key` also a CI key), and `unlock` never takes a session,
so that no grant outlives or outgrows the one it came from.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from credctl.errors import InvalidInput, VaultLockedError, WrongPassphraseError
from credctl.vault import crypto, keys
from credctl.vault.file import read_regular_file
from credctl.vault.format import ParsedFile
from credctl.vault.store import (
    CI_KEY_SOURCE,
    KEYRING_SOURCE,
    PASSPHRASE_SOURCE,
    SESSION_SOURCE,
    Vault,
)

Prompt = Callable[[str], str]
PROMPT_ATTEMPTS = 3
ALL_SOURCES = frozenset({SESSION_SOURCE, CI_KEY_SOURCE, KEYRING_SOURCE, PASSPHRASE_SOURCE})
_HINT_PARTS = (
    (SESSION_SOURCE, 'CREDCTL_SESSION (eval "$(credctl unlock)")'),
    (CI_KEY_SOURCE, "CREDCTL_KEY"),
    (PASSPHRASE_SOURCE, "CREDCTL_PASSPHRASE_FILE or CREDCTL_PASSPHRASE"),
)
_NAMES = (
    (PASSPHRASE_SOURCE, "the passphrase"),
    (CI_KEY_SOURCE, "a CI key (CREDCTL_KEY)"),
    (KEYRING_SOURCE, "the OS keyring entry"),
    (SESSION_SOURCE, "a session (CREDCTL_SESSION)"),
)
_VARIABLES = {SESSION_SOURCE: "CREDCTL_SESSION", CI_KEY_SOURCE: "CREDCTL_KEY"}


def sources_hint(sources: Collection[str], *, stdin_taken: str | None = None) -> str:
    """What to set so that one of `sources` unlocks (the keyring needs no variable).

    `stdin_taken` names what reads stdin (``--field key=@-``): then running "in
    a terminal" would not help, and a session started beforehand does.
    """
    parts = [text for source, text in _HINT_PARTS if source in sources]
    if stdin_taken is not None:
        first = (
            'start a session first (eval "$(credctl unlock)"), then pipe the data again; '
            if SESSION_SOURCE in sources
            else ""
        )
        return first + "or set " + ", ".join(parts)
    return "set " + ", ".join(parts) + ", or run in a terminal"


def has_controlling_terminal() -> bool:
    """True when the process can open its controlling terminal (``/dev/tty``)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def terminal_prompt(*, stdin_taken: str | None = None) -> Prompt | None:
    """A hidden prompt on the terminal, or None when there is none to ask on.

    Normally that terminal is stdin.  When stdin carries the command's data
    (`stdin_taken` names what reads it), the prompt goes to the controlling
    terminal instead: `getpass` reads and writes ``/dev/tty`` itself, never
    stdin, whenever it can open it.
    """
    if sys.stdin and sys.stdin.isatty():
        pass
    elif stdin_taken is None or not has_controlling_terminal():
        return None

    def ask(text: str) -> str:
        import getpass

        return getpass.getpass(text)

    return ask


def read_passphrase_file(path: str, warn: Callable[[str], None] | None = None) -> bytes:
    """A passphrase file's contents without one trailing newline.

    `warn` is told when others may read the file (the library itself prints nothing).
    """
    try:
        raw = read_regular_file(Path(path), missing=FileNotFoundError(path))
    except FileNotFoundError:
        raise InvalidInput(f"passphrase file {path!r} does not exist") from None
    if warn is not None:
        problem = passphrase_file_problem(path)
        if problem is not None:
            warn(problem)
    if raw.endswith(b"\r\n"):
        return raw[:-2]
    return raw[:-1] if raw.endswith(b"\n") else raw


def passphrase_file_problem(path: str) -> str | None:
    """Why a passphrase file is too open (group or others may read or write it), or None."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"passphrase file {path} has mode {mode:04o}: other users may read it; "
        f"`chmod 600 {path}` keeps it yours"
    )


#: How each passphrase source is named in a "wrong passphrase" message.
_PASSPHRASE_FROM = {
    "passphrase-file": "from CREDCTL_PASSPHRASE_FILE",
    "passphrase-env": "from CREDCTL_PASSPHRASE",
    "prompt": "typed at the prompt",
}


class EnvironmentUnlocker:
    """The standard unlock sources, read from an environment mapping."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        prompt: Prompt | None = None,
        passphrase_only: bool = False,
        *,
        sources: Collection[str] | None = None,
        stdin_taken: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """`sources` narrows the list (names from `ALL_SOURCES`); `passphrase_only`
        is short for ``sources={PASSPHRASE_SOURCE}``.  The passphrase sources
        include the prompt.  `stdin_taken` names what reads stdin as data (for
        the message when nothing unlocks: stdin cannot carry the passphrase)."""
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.prompt = prompt
        if sources is None:
            sources = {PASSPHRASE_SOURCE} if passphrase_only else ALL_SOURCES
        unknown = set(sources) - ALL_SOURCES
        if unknown:
            raise ValueError(f"unknown unlock sources: {sorted(unknown)}")
        self.sources = frozenset(sources)
        self.notes: list[str] = []
        self.used_passphrase: bytes | None = None
        self.stdin_taken = stdin_taken
        self.warn = warn

    @property
    def passphrase_only(self) -> bool:
        """True when only the passphrase (variables or prompt) may unlock."""
        return self.sources == {PASSPHRASE_SOURCE}

    def __repr__(self) -> str:
        return f"EnvironmentUnlocker(sources={sorted(self.sources)})"

    def unlock(self, vault: Vault, parsed: ParsedFile) -> tuple[bytes, str]:
        """Return (data key, source) or raise (4 locked, 5 wrong key, 6 damaged)."""
        header = parsed.header
        found = None
        if SESSION_SOURCE in self.sources:
            found = self._from_session(vault, parsed)
        if not found and CI_KEY_SOURCE in self.sources:
            found = self._from_ci_key(parsed)
        if not found and KEYRING_SOURCE in self.sources:
            found = self._from_keyring(vault, parsed)
        if found:
            return found
        if PASSPHRASE_SOURCE not in self.sources:
            raise self._locked(vault)
        passphrase, source = self.passphrase()
        if passphrase is not None:
            try:
                data_key, _slot = keys.unwrap_with_passphrase(header, passphrase)
            except WrongPassphraseError:
                raise self._wrong(source) from None
            self.used_passphrase = passphrase
            return data_key, source
        if self.prompt is not None:
            for attempt in range(PROMPT_ATTEMPTS):
                entered = self.prompt(f"Passphrase for {vault.path}: ").encode()
                try:
                    data_key, _slot = keys.unwrap_with_passphrase(header, entered)
                except WrongPassphraseError:
                    if attempt + 1 == PROMPT_ATTEMPTS:
                        raise self._wrong("prompt") from None
                    sys.stderr.write("credctl: wrong passphrase, try again\n")
                    continue
                self.used_passphrase = entered
                return data_key, "prompt"
        raise self._locked(vault)

    def _wrong(self, source: str) -> WrongPassphraseError:
        """ "wrong passphrase", naming where it came from and what to do about that."""
        where = _PASSPHRASE_FROM.get(source, source)
        if source == "passphrase-file":
            where += f"={self.env.get('CREDCTL_PASSPHRASE_FILE')}"
            hint = "fix the file, or unset CREDCTL_PASSPHRASE_FILE to be asked"
        elif source == "passphrase-env":
            hint = "CREDCTL_PASSPHRASE is set in this environment: fix it, or unset it to be asked"
        else:
            where += f", {PROMPT_ATTEMPTS} times"
            hint = (
                "check the keyboard layout and Caps Lock; the passphrase was set at `credctl init`"
            )
        return WrongPassphraseError(f"wrong passphrase ({where})", hint=hint)

    def _locked(self, vault: Vault) -> VaultLockedError:
        reasons = "; ".join(self.notes)
        if self.stdin_taken is not None and PASSPHRASE_SOURCE in self.sources:
            message = (
                f"the vault is locked, and stdin carries the data ({self.stdin_taken}), so "
                "the passphrase cannot be read from it; there is no terminal to ask on either"
            )
        elif self.sources == ALL_SOURCES:
            message = "the vault is locked and no unlock source is available"
        else:
            wanted = [text for name, text in _NAMES if name in self.sources]
            offered = [text for name, text in _NAMES
                       if name not in self.sources and self._offered(name, vault)]  # fmt: skip
            message = "this command needs " + " or ".join(wanted)
            if offered:
                verb = "is" if len(offered) == 1 else "are"
                message += f"; {' and '.join(offered)} {verb} not enough for it"
        return VaultLockedError(
            message + (f" ({reasons})" if reasons else ""),
            hint=sources_hint(self.sources, stdin_taken=self.stdin_taken),
        )

    def _offered(self, source: str, vault: Vault) -> bool:
        """Whether the environment holds `source` (to say why it was not used)."""
        if source == KEYRING_SOURCE:
            return vault.file.has_keyring_marker()
        return bool(self.env.get(_VARIABLES.get(source, "")))

    def passphrase(self) -> tuple[bytes | None, str]:
        """The passphrase from CREDCTL_PASSPHRASE_FILE or CREDCTL_PASSPHRASE, if set."""
        path = self.env.get("CREDCTL_PASSPHRASE_FILE")
        if path:
            return read_passphrase_file(path, self.warn), "passphrase-file"
        value = self.env.get("CREDCTL_PASSPHRASE")
        if value:
            return os.fsencode(value), "passphrase-env"
        return None, ""

    def _from_session(self, vault: Vault, parsed: ParsedFile) -> tuple[bytes, str] | None:
        text = self.env.get("CREDCTL_SESSION")
        if not text:
            return None
        from credctl.vault.sessions import open_session

        data_key, reason = open_session(vault.file, text, parsed.header.vault_id)
        if data_key is None:
            self.notes.append(reason)
            return None
        if not _key_fits(parsed, data_key):
            self.notes.append("CREDCTL_SESSION predates a `credctl rekey`")
            return None
        return data_key, "session"

    def _from_ci_key(self, parsed: ParsedFile) -> tuple[bytes, str] | None:
        text = self.env.get("CREDCTL_KEY")
        if not text:
            return None
        return keys.unwrap_with_ci_key(parsed.header, keys.CiKey.parse(text)), "ci-key"

    def _from_keyring(self, vault: Vault, parsed: ParsedFile) -> tuple[bytes, str] | None:
        if not vault.file.has_keyring_marker():
            return None
        from credctl.vault.keyring_store import recall

        data_key = recall(vault.file, parsed.header.vault_id)
        if data_key is None or not _key_fits(parsed, data_key):
            self.notes.append("the OS keyring holds no usable key for this vault")
            return None
        return data_key, "keyring"


def _key_fits(parsed: ParsedFile, data_key: bytes) -> bool:
    """Whether a remembered data key belongs to this generation (no decryption needed)."""
    expected = keys.data_key_check(data_key, parsed.header.vault_id)
    return crypto.checks_equal(expected, parsed.header.data_key_check)
