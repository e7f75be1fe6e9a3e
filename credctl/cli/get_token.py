"""`credctl get-token`: the token alone on stdout.  Runs on the fast path (no Typer)."""

from __future__ import annotations

import json
from typing import Any

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.spec import GetTokenRequest
from credctl.errors import Expired, InvalidInput, UsageError


def run_get_token(cli: CliContext, request: GetTokenRequest) -> int:
    """Print the token (or one field, or a header line, or JSON) of a credential."""
    manager = cli.manager()
    ref = request.ref
    output_format = request.format
    version = _version(request.version)
    if request.json:
        if output_format not in ("raw", "json"):
            raise UsageError(f"--json and --format {output_format} contradict each other")
        output_format = "json"
    if request.field is not None:
        if output_format != "raw":
            raise InvalidInput("--field prints a raw value; it cannot be combined with --format")
        output.data(manager.get_field(ref, request.field, version=version).expose())
        return 0
    min_valid = _min_valid(request.min_valid)
    token = manager.get_token(
        ref, min_valid=min_valid, refresh=not request.no_refresh, version=version
    )
    if min_valid is not None:
        _check_min_valid(token.expires_at, min_valid, str(request.min_valid), ref)
    if output_format == "header":
        if token.header is None:
            raise InvalidInput(
                f"{token.token_type} credentials have no header form",
                hint="use --format raw, or --field FIELD",
            )
        output.data(token.header.expose())
    elif output_format == "json":
        output.data(json.dumps(token.to_json()))
    else:
        output.data(token.value.expose())
    return 0


def _version(text: str | None) -> int | None:
    """``--version N``: a kept version number (1 or more)."""
    if text is None:
        return None
    if not (text.isascii() and text.isdecimal()) or int(text) < 1 or len(text) > 9:
        from credctl.errors import UsageError

        raise UsageError(f"--version expects a version number (1, 2, …), got {text[:20]!r}")
    return int(text)


def _min_valid(text: str | None) -> Any:
    """``--min-valid`` as a timedelta (None when not given)."""
    if not text:
        return None
    import datetime as dt

    from credctl.durations import parse_duration

    return dt.timedelta(seconds=parse_duration(text, option="--min-valid"))


def _check_min_valid(expires_at: Any, min_valid: Any, text: str, ref: str) -> None:
    from credctl.model import to_rfc3339, utc_now

    if expires_at is not None and expires_at - utc_now() < min_valid:
        raise Expired(
            f"the token of {ref!r} expires at {to_rfc3339(expires_at)}, sooner than {text}"
        )
