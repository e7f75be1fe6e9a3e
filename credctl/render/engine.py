"""Rendering in steps: choose the format, place the references, resolve, substitute.

Every step checks everything before it fails, so one error lists every
problem of its kind, and nothing is written unless all steps succeed.  The
steps are separate so the command line can check the output path after the
template is known to be sound and before the vault is unlocked.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Final

from credctl.errors import InvalidInput, NotFound
from credctl.render.contexts import (
    Placement,
    Refusal,
    Slot,
    describe_refusals,
    scan_json,
    scan_raw,
)
from credctl.render.dotenv_context import scan_dotenv
from credctl.render.escape import UnsafeValueError, escape
from credctl.render.template import Reference, Template, count, listing, parse_template
from credctl.render.yaml_context import scan_yaml
from credctl.secret import SecretValue
from credctl.types.names import shown

if TYPE_CHECKING:
    from credctl.manager import CredentialManager


class TemplateFormat(enum.StrEnum):
    """How values are escaped: by the rules of the output's format, or not at all."""

    JSON = "json"
    YAML = "yaml"
    DOTENV = "dotenv"
    RAW = "raw"


_EXTENSIONS: Final = {
    ".json": TemplateFormat.JSON,
    ".yaml": TemplateFormat.YAML,
    ".yml": TemplateFormat.YAML,
    ".env": TemplateFormat.DOTENV,
}
# A template is often named after what it becomes: config.json.tmpl, .env.in.
_TEMPLATE_SUFFIXES: Final = (".tmpl", ".tpl", ".template", ".in")
_SCANNERS: Final[dict[TemplateFormat, Callable[[str, Sequence[Reference]], list[Placement]]]] = {
    TemplateFormat.RAW: scan_raw,
    TemplateFormat.JSON: scan_json,
    TemplateFormat.YAML: scan_yaml,
    TemplateFormat.DOTENV: scan_dotenv,
}
Values = Mapping[tuple[str, str], SecretValue]


def format_of_path(path: str) -> TemplateFormat | None:
    """The format a file name implies: ``.json``, ``.yaml``/``.yml``, ``.env``.

    ``.env`` itself and ``.env.local``-style names are dotenv; one trailing
    ``.tmpl``, ``.tpl``, ``.template`` or ``.in`` is looked through.
    """
    name = PurePath(path).name.lower()
    for suffix in _TEMPLATE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    found = _EXTENSIONS.get(PurePath(name).suffix)
    if found is None and (name == ".env" or name.startswith(".env.")):
        found = TemplateFormat.DOTENV
    return found


def choose_format(
    explicit: TemplateFormat | None, output: str | None, template: str | None
) -> tuple[TemplateFormat, bool]:
    """The format and whether it was inferred as raw for want of a known extension.

    ``--format`` wins; else the extension of OUT; else that of the template
    (``-`` names no file); else raw.
    """
    if explicit is not None:
        return explicit, False
    for path in (output, template):
        if path and path != "-":
            found = format_of_path(path)
            if found is not None:
                return found, False
    return TemplateFormat.RAW, True


def place_references(template: Template, fmt: TemplateFormat) -> tuple[Slot, ...]:
    """Where each reference stands; `InvalidInput` (exit 9) lists every refused place."""
    placements = _SCANNERS[fmt](template.text, template.references)
    refusals = [placement for placement in placements if isinstance(placement, Refusal)]
    if refusals:
        raise InvalidInput(
            f"{template.source}: {count(len(refusals), 'reference')} cannot be filled "
            f"safely in {fmt.value}:\n" + listing(describe_refusals(refusals)),
            hint=f"`credctl render --help` shows where references may stand in {fmt.value}; "
            "--format raw inserts values verbatim",
        )
    return tuple(placement for placement in placements if isinstance(placement, Slot))


def resolve(manager: CredentialManager, template: Template) -> dict[tuple[str, str], SecretValue]:
    """Every referenced field, read from one snapshot of the vault.

    The exception is an oauth2 ``access_token``: it goes through
    `CredentialManager.get_field`, which renews a token about to expire.

    `NotFound` (exit 3) lists every unresolved reference (an unknown credential
    or field) with its line and column; it never contains a value.
    """
    from credctl.manager import load_record
    from credctl.storage.base import UsageEvent

    snapshot = manager.storage.snapshot()
    values: dict[tuple[str, str], SecretValue] = {}
    used: dict[tuple[str, str], int] = {}
    renew: list[tuple[str, str]] = []
    problems: list[str] = []
    for reference in template.references:
        if reference.key in values:
            continue
        record = snapshot.get_by_name(reference.name)
        if record is None:
            problems.append(f"{reference.describe()}: no credential {shown(reference.name)}")
            continue
        kind, data = load_record(record)
        try:
            values[reference.key] = SecretValue(kind.field_value(data, reference.field))
        except NotFound as exc:
            problems.append(f"{reference.describe()}: {exc.message}")
            continue
        if record.get("type") == "oauth2" and reference.field == "access_token":
            renew.append(reference.key)
        else:
            used[reference.key] = int(record["id"])
    if problems:
        raise NotFound(
            f"{template.source}: {count(len(problems), 'reference')} cannot be resolved; "
            "nothing was written:\n" + listing(problems),
            hint="`credctl list` shows the credentials, `credctl show NAME` a credential's "
            "type; field names are those of `credctl create --help`",
        )
    for name, field_name in renew:
        # As get-token does: renewed first when about to expire (a renewal writes a
        # new generation, so this one field may come from it).
        values[(name, field_name)] = manager.get_field(name, field_name)
    now = time.time()
    for credential_id in used.values():
        manager.storage.record_usage(UsageEvent(credential_id, "get_field", now))
    return values


@dataclass(frozen=True)
class Rendered:
    """The output text (never shown by repr) and notes for stderr."""

    text: str = field(repr=False)
    format: TemplateFormat
    references: int
    warnings: tuple[str, ...] = ()


def substitute(
    template: Template, slots: Sequence[Slot], values: Values, fmt: TemplateFormat
) -> Rendered:
    """Replace every reference, escaped for its slot, in one pass (values are never re-read).

    `InvalidInput` (exit 9) lists every value its place cannot hold, naming the
    references only.
    """
    pieces: list[str] = []
    problems: list[str] = []
    last = 0
    for slot in slots:
        reference = slot.reference
        value = values[reference.key].expose()
        try:
            escaped = escape(value, slot)
        except UnsafeValueError as exc:
            problems.append(f"{reference.describe()}: {exc}")
            continue
        pieces += [template.text[last : reference.start], escaped]
        last = reference.end
    if problems:
        raise InvalidInput(
            f"{template.source}: {count(len(problems), 'value')} cannot be written safely "
            f"in {fmt.value}; nothing was written:\n" + listing(problems),
            hint="change the template as the message says, or use --format raw",
        )
    pieces.append(template.text[last:])
    return Rendered("".join(pieces), fmt, len(slots))


def render_template(
    text: str,
    manager: CredentialManager,
    fmt: TemplateFormat = TemplateFormat.RAW,
    *,
    source: str = "template",
) -> Rendered:
    """Parse, place, resolve and substitute in one call (the library entry point)."""
    template = parse_template(text, source)
    slots = place_references(template, fmt)
    return substitute(template, slots, resolve(manager, template), fmt)
