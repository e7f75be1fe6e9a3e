"""Rendering in steps: choose the format, place the references, resolve, substitute.

Every step checks everything before it fails, so one error lists every
problem of its kind, and nothing is written unless all steps succeed.  The
steps are separate so the command line can check the output path after the
template is known to be sound and before the vault is unlocked.
"""

from __future__ import annotations

import enum
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
    """Every referenced field, read through the record layer from one snapshot.

    An oauth2 ``access_token`` is renewed first when it is about to expire and
    refused (`Expired`, exit 7) when it has expired, as ``get-token`` decides.
    `NotFound` (exit 3) lists every unresolved reference (an unknown credential
    or field) with its line and column; it never contains a value.
    """
    from credctl.records.secrets import SecretWant

    references: dict[tuple[str, str], Reference] = {}
    for reference in template.references:
        references.setdefault(reference.key, reference)
    wants = [SecretWant(name, (field_name,)) for name, field_name in references]
    # The wants are built from `references`, in its order: zip pairs them back.
    missing: list[tuple[SecretWant, NotFound]] = []
    secrets = manager.read_secrets(wants, missing=missing)
    values: dict[tuple[str, str], SecretValue] = {}
    for reference, secret in zip(references.values(), secrets, strict=True):
        if secret is not None:
            values[reference.key] = SecretValue(secret.field(reference.field))
    problems = [
        (references[(str(want.ref), want.fields[0])], exc.message)
        for want, exc in missing
        if isinstance(want.fields, tuple)
    ]
    if problems:
        # In template order, every occurrence of an unresolved reference.
        unresolved = {reference.key: why for reference, why in problems}
        lines = [
            f"{reference.describe()}: {unresolved[reference.key]}"
            for reference in template.references
            if reference.key in unresolved
        ]
        raise NotFound(
            f"{template.source}: {count(len(lines), 'reference')} cannot be resolved; "
            "nothing was written:\n" + listing(lines),
            hint="`credctl list` shows the credentials, `credctl show NAME` a credential's "
            "type; field names are those of `credctl create --help`",
        )
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
