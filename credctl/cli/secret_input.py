"""Credential data for `create` and `update`: secrets never come from argv (SPEC §3).

A command line is visible to every process on the machine (``ps``,
``/proc/PID/cmdline``) and is kept in shell history, so a secret field given as a
literal (``--field token=abc``) is refused with exit 9 and a message that names
the field, never the value, and teaches the safe forms.  Each ``--field K=V``
value takes one of these forms:

``@FILE``
    the contents of FILE (``~`` is expanded; process substitution such as
    ``@<(pass show github)`` works), minus exactly one trailing newline
    (``\\n`` or ``\\r\\n``), so ``echo`` and editors do not add one to the secret;
``@-``
    standard input, the same way; at most one field (or ``--data-file -``) may
    read it.  On a terminal this is a hidden prompt instead;
``env:VAR``
    the value of the environment variable VAR (exit 9 if it is unset);
anything else
    a literal: allowed only for fields the type does not mark secret (for
    ``custom`` every field except ``token_field`` is secret).  A literal that
    itself starts with ``@``, ``env:`` or a backslash is written with one
    leading backslash, which is removed: ``--field 'from_name=\\@team'`` stores
    ``@team``.

A required secret field that is not given is asked for at a hidden prompt when
stdin is a terminal; without a terminal it is exit 9 naming the field.
``--data-file FILE|-`` gives the whole data as one JSON object; ``--field``
adds to it (naming a key in both is an error).  The merged data is validated
by the type when the manager stores it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, NamedTuple

from credctl.errors import InvalidInput, UsageError
from credctl.types import CredentialType
from credctl.types.names import shown

STDIN: Final = "-"
# Far above any value a type accepts (64 KiB each, 100 fields): a bound, not a rule.
MAX_VALUE_READ: Final = 1024 * 1024
MAX_DATA_FILE: Final = 16 * 1024 * 1024
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Role = Literal["secret", "plain", "unknown"]
Prompt = Callable[[str], str]


def safe_forms(field_name: str, *, missing: bool = False, update: bool = False) -> str:
    """The hint that teaches every way to give a secret field."""
    if update:
        return (
            f"give it as --field {field_name}=@FILE, --field {field_name}=@- (stdin, or a "
            f"hidden prompt on a terminal) or --field {field_name}=env:VAR"
        )
    prompt = (
        "run in a terminal to be asked at a hidden prompt"
        if missing
        else "leave it out to be asked at a hidden prompt (terminal only)"
    )
    return (
        f"give it as --field {field_name}=@FILE, --field {field_name}=@- (stdin), "
        f"--field {field_name}=env:VAR, {prompt}, or put the data in --data-file FILE|- "
        "(a JSON object)"
    )


class InputContext:
    """Where values come from: environment, stdin and (on a terminal) a hidden prompt.

    A plain class, not a dataclass: `create` runs on the startup-bound path.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        stdin: BinaryIO | None = None,
        stdin_is_tty: bool = False,
        prompt: Prompt | None = None,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.stdin = stdin
        self.stdin_is_tty = stdin_is_tty
        self.prompt = prompt

    @classmethod
    def from_process(cls, stdin_is_tty: bool) -> InputContext:
        """The real environment and stdin; a getpass prompt only on a terminal."""
        stdin = sys.stdin.buffer if sys.stdin is not None else None
        return cls(os.environ, stdin, stdin_is_tty, _hidden_prompt if stdin_is_tty else None)

    def read_stdin(self, what: str, limit: int) -> str:
        """All of stdin as text; `what` names the option reading it in errors."""
        if self.stdin is None:
            raise InvalidInput(f"{what} reads stdin, but there is no stdin")
        if self.stdin_is_tty:
            from credctl.cli.output import warn

            warn(f"{what} reads the terminal: what you type is shown; end it with Ctrl-D")
        return _decode(_bounded_read(self.stdin, limit, what), what)


def stdin_reader(field_values: Sequence[str], data_file: str | None) -> str | None:
    """What on this command line reads stdin as data (``--field key=@-``), or None.

    Only a name for messages: the arguments are checked properly later.
    """
    for text in field_values:
        key, sep, raw = text.partition("=")
        if sep and raw == "@-":
            return f"--field {key}=@-"
    return "--data-file -" if data_file == STDIN else None


class FieldArgument(NamedTuple):
    """One ``--field KEY=VALUE`` argument, split but not yet resolved."""

    key: str
    raw: str

    def __repr__(self) -> str:  # the raw text may be a refused literal secret
        return f"FieldArgument(key={self.key!r})"

    @property
    def source(self) -> Literal["file", "stdin", "env", "literal"]:
        """Which form the value takes (see the module docstring)."""
        if self.raw == "@-":
            return "stdin"
        if self.raw.startswith("@"):
            return "file"
        if self.raw.startswith("env:"):
            return "env"
        return "literal"


def split_assignment(text: str, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` split at the first ``=``; the value is never quoted in errors."""
    key, sep, value = text.partition("=")
    if not sep:
        # The whole argument may be a secret typed without its key: never show it.
        raise UsageError(
            f"{option} expects KEY=VALUE, and this argument has no '='",
            hint=f"for example {option} name=value",
        )
    if not key:
        raise UsageError(f"{option} expects KEY=VALUE, and this argument has no key before '='")
    return key, value


def parse_field_arguments(values: Sequence[str]) -> list[FieldArgument]:
    """Split every ``--field`` argument; a key given twice is an error."""
    found: dict[str, FieldArgument] = {}
    for text in values:
        key, raw = split_assignment(text, "--field")
        if key in found:
            raise InvalidInput(f"field {shown(key)} is given twice with --field")
        found[key] = FieldArgument(key, raw)
    return list(found.values())


def field_role(kind: CredentialType, key: str) -> Role:
    """Whether `key` is a secret field of `kind`, a plain one, or not one of its fields."""
    for spec in kind.fields.values():
        if key == spec.name or key in spec.aliases:
            return "secret" if spec.secret else "plain"
    # Types with free-form fields (custom) say which are secret for given data.
    if key in kind.secret_fields({key: ""}):
        return "secret"
    return "unknown"


def collect_data(
    kind: CredentialType,
    field_values: Sequence[str],
    data_file: str | None,
    *,
    credential_name: str,
    io: InputContext,
    prompt_missing: bool = True,
) -> dict[str, Any]:
    """The credential data from ``--data-file`` and ``--field``, following the rules above.

    Every argument is checked before any file, variable or stdin is read, so a
    refused literal never waits on input.  The result is not yet validated by
    the type (the manager does that); missing required fields are reported or
    asked for here because only here can a prompt be offered.
    """
    arguments = checked_arguments(kind, field_values, data_file)
    data: dict[str, Any] = read_data_file(data_file, io) if data_file is not None else {}
    for argument in arguments:
        if argument.key in data:
            raise InvalidInput(
                f"field {shown(argument.key)} is given both in --data-file and with --field"
            )
        data[argument.key] = resolve_value(argument, io, credential_name=credential_name)
    if prompt_missing:
        _fill_missing(kind, data, credential_name, io)
    return data


def checked_arguments(
    kind: CredentialType,
    field_values: Sequence[str],
    data_file: str | None = None,
    *,
    update: bool = False,
) -> list[FieldArgument]:
    """The ``--field`` arguments, each a field of `kind`, no secret given as a literal,
    and at most one input reading stdin; nothing is read yet."""
    arguments = parse_field_arguments(field_values)
    readers = [a.key for a in arguments if a.source == "stdin"]
    if data_file == STDIN:
        readers.append("--data-file -")
    if len(readers) > 1:
        raise UsageError(
            "only one input can read stdin, but "
            + " and ".join(f"{r}" if r.startswith("--") else f"--field {r}=@-" for r in readers)
            + " both do",
            hint="read the others from files: --field KEY=@FILE",
        )
    for argument in arguments:
        role = field_role(kind, argument.key)
        if role == "unknown":
            raise InvalidInput(
                f"unknown field {shown(argument.key)} for type {kind.name}",
                hint=f"{kind.name} fields: {', '.join(kind.fields)}",
            )
        if role == "secret" and argument.source == "literal":
            raise InvalidInput(
                f"refusing secret field {shown(argument.key)} as a literal on the command line "
                "(other processes and shell history can read it)",
                hint=safe_forms(argument.key, update=update),
            )
    return arguments


def collect_changes(
    kind: CredentialType, field_values: Sequence[str], *, credential_name: str, io: InputContext
) -> dict[str, str]:
    """Single fields for ``update --field``, by their canonical names, read safely."""
    return {
        kind_field(kind, argument.key): resolve_value(
            argument, io, credential_name=credential_name
        )
        for argument in checked_arguments(kind, field_values, update=True)
    }


def resolve_value(argument: FieldArgument, io: InputContext, *, credential_name: str) -> str:
    """The text a ``--field`` value stands for."""
    key, raw = argument.key, argument.raw
    source = argument.source
    if source == "stdin":
        if io.stdin_is_tty and io.prompt is not None:
            return io.prompt(f"{key} for {credential_name} (input hidden): ")
        return strip_one_newline(io.read_stdin(f"--field {key}=@-", MAX_VALUE_READ))
    if source == "file":
        return strip_one_newline(read_text_file(raw[1:], f"--field {key}", MAX_VALUE_READ))
    if source == "env":
        name = raw[len("env:") :]
        if not _ENV_NAME.match(name):
            raise InvalidInput(
                f"--field {key}=env:VAR needs a variable name, got {shown(name)}",
                hint="a name of letters, digits and '_', for example env:GITHUB_TOKEN",
            )
        value = io.env.get(name)
        if value is None:
            raise InvalidInput(
                f"environment variable {name} is not set (for field {shown(key)})",
                hint=f"export {name} first, or use --field {key}=@FILE",
            )
        return value
    return raw[1:] if raw.startswith("\\") else raw


def _fill_missing(
    kind: CredentialType, data: dict[str, Any], credential_name: str, io: InputContext
) -> None:
    given = {kind_field(kind, key) for key in data}
    missing = [spec for spec in kind.fields.values() if spec.required and spec.name not in given]
    for spec in missing:
        if not spec.secret:
            raise InvalidInput(
                f"missing required field {shown(spec.name)} for type {kind.name}",
                hint=f"add --field {spec.name}=VALUE",
            )
    for spec in missing:
        if io.prompt is None:
            raise InvalidInput(
                f"missing secret field {shown(spec.name)} for type {kind.name}, "
                "and there is no terminal to ask for it",
                hint=safe_forms(spec.name, missing=True),
            )
        data[spec.name] = io.prompt(f"{spec.name} for {credential_name} (input hidden): ")


def kind_field(kind: CredentialType, key: str) -> str:
    """The canonical name of a field given under `key` (resolving aliases)."""
    for spec in kind.fields.values():
        if key in spec.aliases:
            return spec.name
    return key


def read_data_file(path: str, io: InputContext) -> dict[str, Any]:
    """A ``--data-file`` (or stdin for ``-``): one JSON object."""
    if path == STDIN:
        text = io.read_stdin("--data-file -", MAX_DATA_FILE)
        where = "stdin"
    else:
        text = read_text_file(path, "--data-file", MAX_DATA_FILE)
        where = shown(path, 80)
    return parse_json_object(text, f"--data-file {where}")


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """A JSON object; errors give the position only (the text may hold secrets)."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except (ValueError, RecursionError):
        raise InvalidInput(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{what} must hold a JSON object of fields",
            hint='for example {"token": "…"}',
        )
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def read_text_file(path: str, what: str, limit: int) -> str:
    """A file's text (UTF-8), or `InvalidInput` that names the path, never the contents."""
    if not path:
        raise InvalidInput(
            f"{what}: '@' must be followed by a file name", hint="for example @token.txt"
        )
    expanded = Path(path).expanduser()
    try:
        with expanded.open("rb") as handle:
            raw = _bounded_read(handle, limit, f"{what} file {shown(path, 80)}")
    except FileNotFoundError:
        raise InvalidInput(f"cannot read {what} file {shown(path, 80)}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"cannot read {what} file {shown(path, 80)}: it is a folder") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidInput(f"cannot read {what} file {shown(path, 80)}: {reason}") from None
    return _decode(raw, f"{what} file {shown(path, 80)}")


def _bounded_read(handle: BinaryIO, limit: int, what: str) -> bytes:
    raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise InvalidInput(f"{what} is larger than {limit // 1024} KiB")
    return raw


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} is not UTF-8 text") from None


def strip_one_newline(text: str) -> str:
    """`text` without one trailing ``\\n`` or ``\\r\\n`` (what echo and editors add)."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def parse_metadata(values: Sequence[str]) -> dict[str, str]:
    """``--meta KEY=VALUE`` arguments as a dict of strings; a key given twice is an error."""
    metadata: dict[str, str] = {}
    for text in values:
        key, value = split_assignment(text, "--meta")
        if key in metadata:
            raise InvalidInput(f"metadata key {shown(key)} is given twice with --meta")
        metadata[key] = value
    return metadata


def _hidden_prompt(prompt: str) -> str:
    """`getpass.getpass`, imported only when a terminal is asked (not on ``create … =@-``)."""
    import getpass

    return getpass.getpass(prompt)
