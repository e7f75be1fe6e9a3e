"""`credctl get-token`: the token alone on stdout.  Runs on the fast path (no Typer)."""

from __future__ import annotations

import json
import sys
from typing import Any

from credctl.cli.context import CliContext
from credctl.errors import Expired, InvalidInput


def run_get_token(cli: CliContext, values: dict[str, Any]) -> int:
    """Print the token (or one field, or a header line, or JSON) of a credential."""
    manager = cli.manager()
    ref: str = values["ref"]
    output_format: str = values.get("format") or "raw"
    if values.get("field"):
        if output_format != "raw":
            raise InvalidInput("--field prints a raw value; it cannot be combined with --format")
        _write(manager.get_field(ref, values["field"]).expose())
        return 0
    token = manager.get_token(ref)
    if values.get("min_valid"):
        _check_min_valid(token.expires_at, values["min_valid"], ref)
    if output_format == "header":
        if token.header is None:
            raise InvalidInput(
                f"{token.token_type} credentials have no header form",
                hint="use --format raw, or --field FIELD",
            )
        _write(token.header.expose())
    elif output_format == "json":
        _write(json.dumps(token.to_json()))
    else:
        _write(token.value.expose())
    return 0


def _check_min_valid(expires_at: Any, text: str, ref: str) -> None:
    import datetime as dt

    from credctl.durations import parse_duration
    from credctl.model import to_rfc3339, utc_now

    seconds = parse_duration(text, option="--min-valid")
    if expires_at is not None and expires_at - utc_now() < dt.timedelta(seconds=seconds):
        raise Expired(
            f"the token of {ref!r} expires at {to_rfc3339(expires_at)}, sooner than {text}"
        )


def _write(text: str) -> None:
    # One write of the value and its newline: nothing else ever reaches stdout.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
