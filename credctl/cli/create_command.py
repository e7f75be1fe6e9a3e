"""`credctl create`: store a credential, print its id.  Runs on the fast path (no Typer)."""

from __future__ import annotations

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.secret_input import InputContext, collect_data, parse_metadata, stdin_reader
from credctl.cli.spec import CreateRequest
from credctl.errors import DuplicateCredential
from credctl.types import get_type, validate_name
from credctl.types.names import shown


def run_create(cli: CliContext, request: CreateRequest) -> int:
    """Validate, collect the secret fields safely, store, and print the new id."""
    kind = get_type(request.credential_type)
    name = request.name
    validate_name(name)
    metadata = parse_metadata(request.meta)
    idempotency_key = request.idempotency_key
    cli.stdin_taken = stdin_reader(request.field, request.data_file)
    manager = cli.manager()
    # Unlock and check the name before asking for any secret: nobody should type a
    # secret only to learn that the vault is locked or the name taken.
    if idempotency_key is None and manager.name_in_use(name):
        raise DuplicateCredential(
            f"a credential named {shown(name)} already exists",
            hint="choose another name, or `credctl update` the existing one",
        )
    data = collect_data(
        kind,
        request.field,
        request.data_file,
        credential_name=name,
        io=InputContext.from_process(cli.stdin_is_tty),
    )
    credential_id = manager.create_credential_idempotent(
        kind.name,
        data,
        None,
        idempotency_key,
        name=name,
        description=request.description,
        tags=request.tag,
        metadata=metadata,
    )
    output.data(str(credential_id))
    output.info(f"created {kind.name} {shown(name)} (id {credential_id})", quiet=cli.quiet)
    return 0
