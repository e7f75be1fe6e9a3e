"""One declarative description of the startup-bound commands and the global options.

`get-token`, `env`, `exec` and `create` run hundreds of times a day in CI, so
they must not pay for importing Typer, rich or pydantic (SPEC §8).  Their
arguments and options are described here once.  `credctl.cli.argv` is the only
parser of these commands: it reads argv from this description and hands the
runner a typed request (`GetTokenRequest`, …).  `credctl.cli.spec_commands`
builds Typer commands from the same description, used only to format ``--help``
and to answer shell completion; they never parse or run a command line.

Adding an option: an `OptionSpec` in the command's ``options`` and a field of
the same name (``dest``), with the same default, in its request class;
``tests/test_command_line.py`` checks that the two agree.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    """Plain data with named fields, compared by value: what the spec and parser build.

    A NamedTuple costs about 70 µs to define (it compiles a `__new__`), and this
    module is imported by every command line, `--version` included; a subclass of
    this costs a few µs.  Fields are the class's annotated names, in order; a class
    attribute of the same name is the field's default.
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    _field_defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls) -> None:
        # Not inspect.get_annotations: importing inspect costs more than all of this.
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        names = tuple(name for name in own if not name.startswith("_"))
        cls._fields = names
        cls._field_defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}

    def __init__(self, *args: Any, **values: Any) -> None:
        if len(args) > len(self._fields):
            raise TypeError(f"{type(self).__name__} takes {len(self._fields)} fields")
        given = dict(zip(self._fields, args, strict=False))
        for name, value in values.items():
            if name not in self._fields or name in given:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {name!r}")
            given[name] = value
        for name in self._fields:
            if name in given:
                setattr(self, name, given[name])
            elif name not in self._field_defaults:
                raise TypeError(f"{type(self).__name__}: missing field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"

    def _replace(self, **changes: Any) -> Any:
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)


class OptionSpec(Record):
    """A ``--long``/``-s`` option; `metavar` None means a boolean flag."""

    dest: str
    flags: tuple[str, ...]
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    default: str | bool | None = None
    multiple: bool = False
    envvar: str | None = None

    @property
    def is_flag(self) -> bool:
        """True for options that take no value."""
        return self.metavar is None


class ArgumentSpec(Record):
    """A positional argument; `variadic` ones take every remaining word."""

    dest: str
    metavar: str
    help: str
    variadic: bool = False
    #: Takes the words after ``--`` (the command `exec` runs), and only those.
    after_double_dash: bool = False
    #: What shell completion offers: "credential" (names, from an open session only),
    #: "type" (credential types) or "" (nothing).
    completion: str = ""


class CommandSpec(Record):
    """A command: its words, help text, its request type and the function that runs it."""

    name: str
    summary: str
    help: str
    runner: str  # "module:function", called as function(cli_context, request)
    #: The record the parser fills: one field per argument and option ``dest``.
    request: type[Any]
    arguments: tuple[ArgumentSpec, ...] = ()
    options: tuple[OptionSpec, ...] = ()
    #: "module:function" returning extra help text; called only when Typer builds help.
    epilog_factory: str = ""


# Records, not dataclasses or NamedTuples: importing `dataclasses` costs the fast path
# several milliseconds.  Multiple-valued options and variadic arguments are tuples.


class GlobalOptions(Record):
    """The global options, which come before the command."""

    vault: str | None = None
    quiet: bool = False
    no_color: bool = False
    backend: str | None = None


class GetTokenRequest(Record):
    """A parsed ``credctl get-token`` command line."""

    ref: str
    field: str | None = None
    format: str = "raw"
    min_valid: str | None = None
    no_refresh: bool = False
    version: str | None = None
    json: bool = False


class EnvRequest(Record):
    """A parsed ``credctl env`` command line."""

    refs: tuple[str, ...] = ()
    shell: str = "sh"
    prefix: str | None = None
    verbose: bool = False


class ExecRequest(Record):
    """A parsed ``credctl exec`` command line; `command` is every word after ``--``."""

    names: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    pristine: bool = False
    mask: bool = False
    keep_unlock_env: bool = False
    verbose: bool = False


class CreateRequest(Record):
    """A parsed ``credctl create`` command line."""

    credential_type: str
    name: str
    field: tuple[str, ...] = ()
    data_file: str | None = None
    description: str = ""
    tag: tuple[str, ...] = ()
    meta: tuple[str, ...] = ()
    idempotency_key: str | None = None


GLOBAL_OPTIONS = (
    OptionSpec(
        "vault",
        ("--vault",),
        "Vault file to use (default: vault.credctl in the user data folder).",
        metavar="PATH",
        envvar="CREDCTL_VAULT",
    ),
    OptionSpec("quiet", ("--quiet", "-q"), "Only errors on stderr."),
    OptionSpec("no_color", ("--no-color",), "No colours (also NO_COLOR)."),
    OptionSpec(
        "backend",
        ("--backend",),
        "Where the encrypted records live instead of a vault file: sqlite:///PATH, "
        "postgresql://…, vault://HOST/MOUNT, awssm://REGION/PREFIX, azurekv://NAME "
        "(default: the config file's, else the vault file).",
        metavar="URL",
        envvar="CREDCTL_BACKEND",
    ),
)

GET_TOKEN = CommandSpec(
    name="get-token",
    summary="Print a credential's token on stdout, alone.",
    help=(
        "Print a credential's token on stdout, alone, with one newline.\n\n"
        "NAME|ID is a name or a numeric id.  The token is the type's main secret: "
        "api_key → key, token → token, basic_auth → base64(user:password), "
        "oauth2 → access_token, smtp → password, custom → its token_field.\n\n"
        "Examples:\n\n"
        "  TOKEN=$(credctl get-token github)\n\n"
        '  curl -H "$(credctl get-token github --format header)" https://api.github.com/user\n\n'
        "  credctl get-token aws --field secret_access_key"
    ),
    runner="credctl.cli.get_token:run_get_token",
    request=GetTokenRequest,
    arguments=(ArgumentSpec("ref", "NAME|ID", "Credential name or id.", completion="credential"),),
    options=(
        OptionSpec(
            "field",
            ("--field", "-f"),
            "Print this field of the credential instead.",
            metavar="FIELD",
        ),
        OptionSpec(
            "format",
            ("--format",),
            "raw: the value; header: an HTTP header line; "
            "json: {value, type, header, expires_at}.",
            metavar="FORMAT",
            choices=("raw", "header", "json"),
            default="raw",
        ),
        OptionSpec("json", ("--json",), "Same as --format json."),
        OptionSpec(
            "min_valid",
            ("--min-valid",),
            "Renew an OAuth token that expires sooner than this (e.g. 5m); fail (exit 7) "
            "if it still would.",
            metavar="DURATION",
        ),
        OptionSpec(
            "no_refresh",
            ("--no-refresh",),
            "Never renew an OAuth token; print the stored one while it is valid (else exit 7).",
        ),
        OptionSpec(
            "version",
            ("--version",),
            "Print kept version N instead of the current one (see `credctl history NAME`).",
            metavar="N",
        ),
    ),
)

ENV = CommandSpec(
    name="env",
    summary='Print export lines for eval: eval "$(credctl env NAME)".',
    help=(
        "Print the lines that export credentials as environment variables.\n\n"
        "Each word is NAME (every default variable of the credential, e.g. GITHUB_TOKEN), "
        "NAME.FIELD (one field, default variable name), or NAME.FIELD=VAR / VAR=NAME.FIELD "
        "(one field under the name you choose).  Values are quoted by the rules of the "
        "shell you name with --shell.  A default name that changes how programs run "
        "(LD_PRELOAD, BASH_ENV, GIT_SSH_COMMAND, NODE_OPTIONS …) is refused; name it "
        "yourself with NAME.FIELD=VAR if you mean it.\n\n"
        "--shell dotenv writes values that python-dotenv and a shell (set -a; . ./.env) "
        "both read exactly, and refuses (exit 9) what they cannot.  --shell github, run "
        "inside GitHub Actions, also prints ::add-mask:: for every secret value on stderr "
        "(the runner reads workflow commands there too), so later steps that print the "
        "variables show *** in the log.\n\n"
        "Examples:\n\n"
        '  eval "$(credctl env github aws_prod)"\n\n'
        "  credctl env --shell fish github | source\n\n"
        "  credctl env db.password=PGPASSWORD --shell dotenv > .env\n\n"
        '  credctl env --shell github deploy >> "$GITHUB_ENV"'
    ),
    runner="credctl.cli.env_command:run_env",
    request=EnvRequest,
    arguments=(
        ArgumentSpec(
            "refs", "NAME[.FIELD][=VAR]", "What to export.", variadic=True, completion="credential"
        ),
    ),
    options=(
        OptionSpec(
            "shell",
            ("--shell", "-s"),
            "Output syntax: sh (POSIX, the default), bash, zsh, fish, powershell, dotenv, "
            "json or github ($GITHUB_ENV).",
            metavar="SHELL",
            choices=("sh", "bash", "zsh", "fish", "powershell", "dotenv", "json", "github"),
            default="sh",
        ),
        OptionSpec(
            "prefix",
            ("--prefix",),
            "Put PREFIX before every default variable name.",
            metavar="PREFIX",
        ),
        OptionSpec(
            "verbose",
            ("--verbose",),
            "List the exported variable names on stderr (never the values).",
        ),
    ),
)

EXEC = CommandSpec(
    name="exec",
    summary="Run a command with credentials in its environment.",
    help=(
        "Run CMD with credentials in its environment; its exit code is credctl's.\n\n"
        "NAME exports a credential's default variables; --env VAR=NAME.FIELD one field "
        "under a name you choose.  Signals (INT, TERM, HUP) are passed to CMD, stdin "
        "passes through, and a terminal stays a terminal.  Secrets never appear in "
        "CMD's argv.  CMD does not receive what unlocks the vault (CREDCTL_PASSPHRASE*, "
        "CREDCTL_KEY, CREDCTL_SESSION …) unless --keep-unlock-env.\n\n"
        "Examples:\n\n"
        "  credctl exec aws_prod -- terraform plan\n\n"
        "  credctl exec --env GH_TOKEN=github.token -- gh release list\n\n"
        "  credctl exec --mask --pristine ci -- ./deploy.sh"
    ),
    runner="credctl.cli.exec_command:run_exec",
    request=ExecRequest,
    arguments=(
        ArgumentSpec(
            "names",
            "NAME",
            "Credentials to export with their default names.",
            variadic=True,
            completion="credential",
        ),
        ArgumentSpec(
            "command",
            "-- CMD…",
            "The command to run, after --.",
            variadic=True,
            after_double_dash=True,
        ),
    ),
    options=(
        OptionSpec(
            "env",
            ("--env", "-e"),
            "Export NAME.FIELD as VAR (repeatable).",
            metavar="VAR=NAME.FIELD",
            multiple=True,
        ),
        OptionSpec(
            "pristine",
            ("--pristine",),
            "Start CMD with only the credentials and a minimal PATH, HOME, TERM.",
        ),
        OptionSpec(
            "mask",
            ("--mask",),
            "Replace each secret value in CMD's stdout and stderr with ***: the exact "
            "UTF-8 bytes of the value (and of CREDCTL_PASSPHRASE, CREDCTL_KEY, "
            "CREDCTL_SESSION), not other encodings of it (base64, URL or JSON escaped).",
        ),
        OptionSpec(
            "keep_unlock_env",
            ("--keep-unlock-env",),
            "Pass CREDCTL_PASSPHRASE*, CREDCTL_KEY, CREDCTL_SESSION and the other unlock "
            "variables on to CMD (removed by default: they unlock the whole vault).",
        ),
        OptionSpec(
            "verbose",
            ("--verbose",),
            "List the variable names CMD receives on stderr (never the values).",
        ),
    ),
)

CREATE = CommandSpec(
    name="create",
    summary="Store a new credential and print its id alone on stdout.",
    help=(
        "Store a new credential and print its id alone on stdout.\n\n"
        "Secret fields never come from the command line itself: a literal such as "
        "--field token=abc is refused (exit 9).  Give them as --field KEY=@FILE (one "
        "trailing newline is dropped), --field KEY=@- (stdin), --field KEY=env:VAR, "
        "in --data-file FILE|- (a JSON object), or leave them out to be asked at a "
        "hidden prompt (only on a terminal; without one a missing secret is exit 9).  "
        "Non-secret fields take literals; to store a literal that starts with @, "
        "env: or a backslash, write one backslash before it (--field 'from_name=\\@team')."
        "\n\nExamples:\n\n"
        "  credctl create token github --field token=@~/.secrets/gh.txt\n\n"
        "  pass show github | credctl create token github --field token=@-\n\n"
        "  credctl create basic_auth ci --field username=bot --field password=env:PW\n\n"
        "  credctl create api_key sendgrid --data-file sendgrid.json --tag mail\n\n"
        "  ID=$(credctl create token ci --field token=@t.txt --idempotency-key run-42)\n\n"
        "Exit codes: 8 the name exists (or the idempotency key was used with another "
        "body), 9 invalid type, name or field."
    ),
    runner="credctl.cli.create_command:run_create",
    request=CreateRequest,
    arguments=(
        ArgumentSpec(
            "credential_type",
            "TYPE",
            "api_key, token, basic_auth, oauth2, smtp or custom.",
            completion="type",
        ),
        ArgumentSpec(
            "name", "NAME", "1–128 of A-Za-z0-9_- starting with a letter or digit; no dots."
        ),
    ),
    options=(
        OptionSpec(
            "field",
            ("--field", "-f"),
            "A field of the data. Secret fields only as KEY=@FILE, KEY=@- (stdin) or "
            "KEY=env:VAR; leave one out to be asked at a hidden prompt.",
            metavar="KEY=VALUE",
            multiple=True,
        ),
        OptionSpec(
            "data_file",
            ("--data-file",),
            "The data as one JSON object, from FILE or stdin (-).",
            metavar="FILE|-",
        ),
        OptionSpec(
            "description",
            ("--description", "-d"),
            "What the credential is for.",
            metavar="TEXT",
            default="",
        ),
        OptionSpec("tag", ("--tag", "-t"), "A tag (repeatable).", metavar="TAG", multiple=True),
        OptionSpec(
            "meta",
            ("--meta",),
            "A metadata entry, stored as a string (repeatable). Never secret.",
            metavar="KEY=VALUE",
            multiple=True,
        ),
        OptionSpec(
            "idempotency_key",
            ("--idempotency-key",),
            "Repeating a create with the same key and body prints the same id; "
            "another body exits 8.",
            metavar="KEY",
        ),
    ),
    epilog_factory="credctl.cli.credential_commands:types_epilog",
)

FAST_COMMANDS: dict[str, CommandSpec] = {c.name: c for c in (GET_TOKEN, ENV, EXEC, CREATE)}
