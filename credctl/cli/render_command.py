"""`render`: fill ``{{$credential.NAME.FIELD}}`` references in a template (SPEC §3, §12).

The command reads the template, checks every reference and the place each
stands in, checks the output path, and only then unlocks the vault; the core
(`credctl.render`) does the work.  The rendered text goes to OUT (atomically,
mode 0600) or to stdout; nothing is written when anything fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Final

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.secret_input import InputContext, read_text_file
from credctl.errors import UsageError
from credctl.render import (
    TemplateFormat,
    check_output_path,
    choose_format,
    parse_template,
    place_references,
    resolve,
    substitute,
    write_private_file,
)
from credctl.types.names import shown

STDIO: Final = "-"
MAX_TEMPLATE: Final = 16 * 1024 * 1024

HELP: Final = """Fill {{$credential.NAME.FIELD}} references in a template.

Each reference is replaced by a field of a stored credential, escaped by the
rules of the output's format so that the file stays valid and every value
reads back exactly.  Blanks inside the braces are allowed:
{{ $credential.github.token }}.  TEMPLATE - reads stdin.

The format comes from --format, else from the extension of OUT, else from
that of TEMPLATE (.json; .yaml or .yml; .env, .env.local; a trailing .tmpl,
.tpl, .template or .in is looked through); anything else is raw.

Where a reference may stand:
  json    inside a string: "Bearer {{$credential.gh.token}}"
  yaml    inside "double" or 'single' quotes, or as a whole value:
          key: {{$credential.gh.token}}   - {{…}}   [{{…}}, …]
          (a whole value is written as a double-quoted scalar)
  dotenv  inside "double" or 'single' quotes, or as a whole value:
          GH_TOKEN={{$credential.gh.token}}   (written in quotes)
          read alike by python-dotenv and a shell (set -a; . ./.env)
  raw     anywhere; values are inserted verbatim

A reference in a comment, in a key, in an unquoted value with other text
(url: https://{{…}}) or in a YAML block scalar is refused: quote the whole
value instead.  A value its place cannot hold (a line break in YAML single
quotes; in dotenv a NUL, a CR, ${…}, or $ or ` in double quotes) is refused too.

Every problem is listed at once with its line:column, and nothing is written:
exit 9 for a malformed reference, a refused place or value, exit 3 when a
credential or field does not exist.  OUT is replaced atomically and gets mode
0600; a symbolic link at OUT is refused.  Values never appear in messages.

Examples:

  credctl render config.json.tmpl -o config.json
  credctl render deploy.yaml -o - | kubectl apply -f -
  credctl render .env.tmpl -o .env
  echo 'TOKEN={{$credential.ci.token}}' | credctl render - --format dotenv
"""


def register(app: typer.Typer) -> None:
    """Add `render` to the app."""
    app.command("render", help=HELP, short_help="Fill credential references in a template.")(
        render_command
    )


def render_command(
    ctx: typer.Context,
    template_path: Annotated[
        str,
        typer.Argument(
            metavar="TEMPLATE", help="The template file, or - for stdin.", show_default=False
        ),
    ],
    output_path: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="OUT",
            help="Write here (atomically, mode 0600); - or no -o writes to stdout.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        TemplateFormat | None,
        typer.Option(
            "--format",
            help="Escape values for this format instead of the one the extension implies.",
            show_default=False,
            case_sensitive=False,
        ),
    ] = None,
) -> None:
    """Run `credctl render` (its help text is `HELP`)."""
    cli: CliContext = ctx.obj
    if template_path == STDIO:
        text = InputContext.from_process(cli.stdin_is_tty).read_stdin("render -", MAX_TEMPLATE)
        source = "stdin"
    else:
        text = read_text_file(template_path, "template", MAX_TEMPLATE)
        source = shown(template_path, 80)
    chosen, guessed = choose_format(fmt, output_path, template_path)
    template = parse_template(text, source)
    slots = place_references(template, chosen)
    target = None if output_path in (None, STDIO) else Path(output_path).expanduser()
    if target is not None:
        if os.path.abspath(target) == os.path.abspath(cli.vault_path):
            raise UsageError("refusing to write the rendered text over the vault itself")
        check_output_path(target)  # before the vault is unlocked
    if guessed and template.references:
        output.info(
            "no format from the file names: values are inserted verbatim "
            "(use --format json, yaml or dotenv to escape them)",
            quiet=cli.quiet,
        )
    values = resolve(cli.manager(), template) if template.references else {}
    rendered = substitute(template, slots, values, chosen)
    for warning in rendered.warnings:
        output.warn(warning)
    data = rendered.text.encode("utf-8")
    if target is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    write_private_file(target, data)
    output.info(
        f"rendered {rendered.references} reference(s) into {shown(str(target), 80)} "
        f"({chosen.value}, mode 0600)",
        quiet=cli.quiet,
    )
