"""Rendering templates: ``{{$credential.NAME.FIELD}}`` replaced by escaped values.

A template is UTF-8 text with references in the syntax of the Credentials
REST API (seed ``004``), blanks allowed inside the braces
(``{{ $credential.github.token }}``).  Each value is escaped for the place its
reference stands in, by the rules of the output's format, so that the format's
own parser reads back exactly the stored value:

json
    Inside a string literal only (RFC 8259 escapes; non-ASCII kept).
yaml
    Inside a double-quoted or single-quoted scalar, or as a whole value
    (``key: {{…}}``, ``- {{…}}``, a flow item), which is written as a
    double-quoted scalar.  See `credctl.render.yaml_context`.
dotenv
    Inside a double- or single-quoted value, or as a whole unquoted value,
    by python-dotenv's grammar.  See `credctl.render.dotenv_context`.
raw
    Verbatim, no escaping.

Places whose escaping cannot be guaranteed (a comment, a key, a plain value
with other text around the reference, a YAML block scalar) are refused with
their line and column, as are malformed references (all exit 9).  All
references are resolved against one snapshot of the vault, and every unknown
credential or field is listed in a single `NotFound` (exit 3).  Substitution is
one pass: a value that itself looks like a reference is never expanded.

.. versionadded:: 0.1
"""

from __future__ import annotations

from credctl.render.contexts import Context, Slot
from credctl.render.engine import (
    Rendered,
    TemplateFormat,
    choose_format,
    format_of_path,
    place_references,
    render_template,
    resolve,
    substitute,
)
from credctl.render.escape import (
    UnsafeValueError,
    json_string,
    yaml_double_quoted,
    yaml_single_quoted,
)
from credctl.render.private_file import check_output_path, write_private_file
from credctl.render.template import Reference, Template, parse_template

__all__ = [
    "Context",
    "Reference",
    "Rendered",
    "Slot",
    "Template",
    "TemplateFormat",
    "UnsafeValueError",
    "check_output_path",
    "choose_format",
    "format_of_path",
    "json_string",
    "parse_template",
    "place_references",
    "render_template",
    "resolve",
    "substitute",
    "write_private_file",
    "yaml_double_quoted",
    "yaml_single_quoted",
]
