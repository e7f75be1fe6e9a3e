"""`credctl env` output, evaluated by the real shells and parsers, gives back every value.

The issue asks for proof, not for a quoting function that looks right: values of
arbitrary characters (quotes, ``$()``, backquotes, backslashes, newlines, a final
newline, ``%``, ``!``, a leading ``-``, Unicode, 64 KiB) are stored, then

- bash, dash, zsh and fish (Debian packages, installed by ``scripts/test``) run
  ``eval "$(credctl env …)"`` (fish: ``credctl env --shell fish … | source``), print
  each variable with ``printf '%s'`` to a file and dump their environment with
  ``env -0``; both must hold the value's UTF-8 bytes exactly;
- ``--shell dotenv`` is read back by python-dotenv's ``dotenv_values`` (with its
  default interpolation), ``--shell json`` by `json.loads`, and ``--shell github``
  by a parser that follows the rules of the ``$GITHUB_ENV`` file documented in
  `credctl.shell.github` (on Linux runners and on Windows runners);
- ``--shell powershell`` is read by a model of PowerShell's single-quoted strings,
  ``[char]`` casts and ``+`` (and by ``pwsh`` itself where it is installed).

Values are batched (one credential per value, one ``credctl env`` and one shell
per batch) so that the file runs in well under a minute.  A missing shell is
skipped loudly, naming the package that provides it.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from credctl.errors import InvalidInput
from credctl.shell import FORMATS, render
from tests.conftest import credctl_command
from tests.dotenv_support import assert_read_back, dotenv_can_hold
from tests.env_support import SessionVault
from tests.peers import which_peer

# -- values ---------------------------------------------------------------------------

# Every Unicode scalar value but NUL (no environment can hold it; `custom` refuses it).
ANY_CHARACTER = st.characters(codec="utf-8", exclude_characters="\x00")  # no surrogates
# Pieces that break naive quoting, mixed in often so that they meet each other.
TRICKY = st.sampled_from(
    ["'", '"', "$(id)", "`id`", "\\", "\n", "\r", "\r\n", "%s", "%", "!", "!!", "-", "--x",
     "$", "${HOME}", "${X:-y}", "$HOME", "{", "}", "#", " #", " ", "\t", "=", "'\\''", "\\'",
     "\u2019", "\u2018", "\u201b", "\u2028", "\x85", "\xa0", "é", "中", "\U0001f600", "\x7f",
     "\x1b[31m", "\x01", "\x83", "\uf600", "\ufdd0", "\ufeff", "ghadelimiter_", "EOF"]
)  # fmt: skip
VALUE = st.lists(st.one_of(ANY_CHARACTER, TRICKY), max_size=30).map("".join)
BATCH = st.lists(VALUE, min_size=1, max_size=8)

LONG_ASCII = ("0123456789abcdef'\"$`\\!%\n" * 2731)[:65536]  # 64 KiB exactly
LONG_MIXED = ("é中\U0001f600'\n" * 8000)[: 64 * 1024 // 4]
FIXED_VALUES = [
    "",
    "plain",
    "it's",
    "'",
    "''",
    "'\\''",
    '"double" "quotes"',
    "$(echo pwned)",
    "`echo pwned`",
    "$HOME ${HOME} ${HOME:-x} $$ $? $!",
    "back\\slash\\",
    "\\",
    "\\\\n",
    "two\nlines",
    "trailing newline\n",
    "\n\n",
    "carriage\rreturn",
    "crlf\r\n",
    "100% %s %n %%",
    "!!history! !$",
    "-n",
    "--help",
    "-",
    " leading and trailing space ",
    "\ttab",
    "# not a comment",
    "a #comment?",
    "key=value=more",
    "smart ’quotes‘ ‚ ‛ “ ” „",
    "unicode é 中文 \U0001f600 \u2028 \u2029 \x85 \ufeff",
    "controls \x01\x02\x1b[31m\x7f",
    "fish private use \uf600 \uf6ff \ufdd0 \ufdd7 \uffff \U0010ffff",
    "ghadelimiter_00000000000000000000000000000000",
    LONG_ASCII,
    LONG_MIXED,
]

# -- the shells -------------------------------------------------------------------------

# shell program → (the --shell format it reads, the Debian package that provides it)
SHELLS = {"bash": ("bash", "bash"), "dash": ("sh", "dash"), "zsh": ("zsh", "zsh"),
          "fish": ("fish", "fish")}  # fmt: skip


def require(program: str) -> str:
    """The path of `program`, or a loud skip (a failure in CI) naming the package."""
    return which_peer(program, SHELLS[program][1] if program in SHELLS else program)


def credctl_path() -> str:
    return credctl_command()[0]


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> SessionVault:
    """One session-unlocked vault; each batch adds its credentials and removes them after."""
    return SessionVault(tmp_path_factory.mktemp("env-shells"))


class Batch:
    """Values stored as one `custom` credential each, and the words that export them.

    Every third value is exported under an explicit name (``VAR=NAME.FIELD``), the
    rest under their default name ``NAME_VALUE``.
    """

    counter = 0
    lock = threading.Lock()

    def __init__(self, values: Sequence[str]) -> None:
        with Batch.lock:
            Batch.counter += 1
            number = Batch.counter
        self.names = [f"b{number}-{index}" for index in range(len(values))]
        self.values = list(values)
        self.variables: list[str] = []
        self.words: list[str] = []
        for index, name in enumerate(self.names):
            if index % 3 == 2:
                variable = f"EXPLICIT_{number}_{index}"
                self.words.append(f"{variable}={name}.value")
            else:
                variable = f"{name.upper().replace('-', '_')}_VALUE"
                self.words.append(name)
            self.variables.append(variable)

    def expected(self) -> dict[str, str]:
        return dict(zip(self.variables, self.values, strict=True))


@pytest.fixture
def stored(vault: SessionVault) -> Iterator[Stored]:
    """Store batches in the vault for one test (or one Hypothesis example), then delete."""
    store = Stored(vault)
    yield store
    store.clear()


class Stored:
    def __init__(self, vault: SessionVault) -> None:
        self.vault = vault
        self.names: list[str] = []

    def batch(self, values: Sequence[str]) -> Batch:
        batch = Batch(values)
        self.vault.create(
            [
                ("custom", name, {"value": value})
                for name, value in zip(batch.names, values, strict=True)
            ]
        )
        self.names += batch.names
        return batch

    def clear(self) -> None:
        if self.names:
            self.vault.delete(self.names)
            self.names = []


POSIX_SCRIPT = """\
out=$("$CREDCTL_BIN" env --shell "$FORMAT" {words}) || exit 97
eval "$out" || exit 98
{prints}
env -0 > "$OUT_DIR/env" || exit 99
"""
FISH_SCRIPT = """\
$CREDCTL_BIN env --shell fish {words} | source
test $pipestatus[1] -eq 0; or exit 97
{prints}
env -0 > $OUT_DIR/env; or exit 99
"""


def start_shell(program: str, batch: Batch, vault: SessionVault, folder: Path,
                locale: str, options: str = "") -> subprocess.Popen[bytes]:  # fmt: skip
    """Start `program` evaluating ``credctl env`` of `batch`, writing into `folder`.

    `options` is a first line for the script (``setopt RC_QUOTES`` …).
    """
    folder.mkdir()
    words = " ".join(shlex.quote(word) for word in batch.words)  # plain ASCII words
    if program == "fish":
        prints = "\n".join(
            f"printf '%s' ${variable} > $OUT_DIR/{index}"
            for index, variable in enumerate(batch.variables)
        )
        script = FISH_SCRIPT.format(words=words, prints=prints)
    else:
        prints = "\n".join(
            f'printf \'%s\' "${variable}" > "$OUT_DIR/{index}" || exit 96'
            for index, variable in enumerate(batch.variables)
        )
        script = POSIX_SCRIPT.format(words=words, prints=prints)
    (folder / "script").write_text(f"{options}\n{script}")
    env = {**vault.env, "LC_ALL": locale, "CREDCTL_BIN": credctl_path(),
           "OUT_DIR": str(folder), "FORMAT": SHELLS[program][0]}  # fmt: skip
    return subprocess.Popen(
        [program, str(folder / "script")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=folder,
    )


def check_shell(program: str, process: subprocess.Popen[bytes], batch: Batch,
                folder: Path) -> None:  # fmt: skip
    """What `program` printed and exported is each value's UTF-8, byte for byte."""
    _stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, f"{program} exited {process.returncode}: {stderr[-2000:]!r}"
    environment: dict[bytes, bytes] = {}
    for entry in (folder / "env").read_bytes().split(b"\0"):
        if entry:
            key, _, raw = entry.partition(b"=")
            environment[key] = raw
    for index, (variable, value) in enumerate(zip(batch.variables, batch.values, strict=True)):
        expected = value.encode("utf-8")
        printed = (folder / str(index)).read_bytes()
        assert printed == expected, f"{program}: {variable} printed {printed!r}, not {expected!r}"
        exported = environment.get(variable.encode())
        assert exported == expected, f"{program}: {variable} in env is {exported!r}"


def run_in_shells(
    batch: Batch,
    vault: SessionVault,
    programs: Sequence[str],
    locale: str = "C.UTF-8",
    options: str = "",
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Run `programs` on `batch` side by side (and `meanwhile` while they run); check each."""
    with tempfile.TemporaryDirectory(prefix="credctl-env-") as temp:
        started = {
            program: start_shell(program, batch, vault, Path(temp) / program, locale, options)
            for program in programs
        }
        if meanwhile is not None:
            meanwhile()
        for program, process in started.items():
            check_shell(program, process, batch, Path(temp) / program)


def installed_shells() -> list[str]:
    return [program for program in SHELLS if shutil.which(program)]


# -- readers for the other formats -----------------------------------------------------


def read_dotenv(text: str) -> dict[str, str | None]:
    """python-dotenv's own reading, interpolation included, as `load_dotenv` does it."""
    from dotenv import dotenv_values

    return dict(dotenv_values(stream=io.StringIO(text)))


def read_dotenv_everywhere(text: str) -> dict[str, str | None]:
    """`read_dotenv`, after checking that dash and bash (``set -a; . FILE``) agree."""
    values = read_dotenv(text)
    with tempfile.TemporaryDirectory(prefix="credctl-dotenv-") as temp:
        path = Path(temp) / ".env"
        path.write_bytes(text.encode("utf-8"))
        assert_read_back(path, {k: v for k, v in values.items() if v is not None})
    return values


def read_github_env(text: str, *, windows: bool) -> dict[str, str]:
    """The ``$GITHUB_ENV`` rules of `credctl.shell.github`, as the runner applies them.

    A line-for-line port of ``SetEnvFileCommand.ProcessCommand`` and ``ReadLine`` in
    actions/runner ``src/Runner.Worker/FileCommandManager.cs`` (``windows``: the
    ``OS_WINDOWS`` branch that also ends a line at CRLF).
    """
    position = 0

    def read_line() -> tuple[str | None, str]:
        nonlocal position
        if position >= len(text):
            return None, ""
        start, lf = position, text.find("\n", position)
        if lf < 0:
            position = len(text)
            return text[start:], ""
        if windows and lf > start and text[lf - 1] == "\r":
            position = lf + 1
            return text[start : lf - 1], "\r\n"
        position = lf + 1
        return text[start:lf], "\n"

    found: dict[str, str] = {}
    line, _ = read_line()
    while line is not None:
        if line:
            equals, heredoc = line.find("="), line.find("<<")
            if equals >= 0 and (heredoc < 0 or equals < heredoc):
                name, value = line.split("=", 1)
            else:
                assert heredoc >= 0, f"invalid line {line!r}"
                name, delimiter = line.split("<<", 1)
                assert name and delimiter, f"invalid header {line!r}"
                start = end = position
                current, newline = read_line()
                while current != delimiter:
                    assert current is not None, f"matching delimiter not found {delimiter!r}"
                    end = position - len(newline)
                    current, newline = read_line()
                value = text[start:end] if end > start else ""
            assert name not in found
            found[name] = value
        line, _ = read_line()
    return found


_PS_TERM = re.compile(r"'((?:[^']|'')*)'|\[char\]0x([0-9A-F]{4})")


def read_powershell(text: str) -> dict[str, str]:
    """A model of what PowerShell makes of ``credctl.shell.powershell`` output.

    Per line ``$env:NAME = TERM + TERM …``; a TERM is a single-quoted string (two
    quotes make one: about_Quoting_Rules) or ``[char]0xHHHH`` (one UTF-16 code
    unit); ``+`` with a string on the left concatenates.  The lines must be ASCII
    (what any console code page carries) and no value may span lines.
    """
    assert text.isascii()
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"\$env:([A-Za-z_][A-Za-z0-9_]*) = (.*)", line)
        assert match, f"unexpected line {line!r}"
        name, expression = match.groups()
        units = bytearray()
        terms = expression.split(" + ")
        assert terms[0].startswith("'"), "the first term must be a string"
        for term in terms:
            parsed = _PS_TERM.fullmatch(term)
            assert parsed, f"unexpected term {term!r}"
            literal, code = parsed.groups()
            if code is None:
                units += literal.replace("''", "'").encode("utf-16-le")
            else:
                units += int(code, 16).to_bytes(2, "little")
        found[name] = units.decode("utf-16-le")  # strict: surrogates must pair up
    return found


def github_can_hold(value: str) -> bool:
    """The documented limit of ``--shell github``: no CR at the very end."""
    return not value.endswith("\r")


def check_formats(batch: Batch, vault: SessionVault) -> None:
    """dotenv, json, github and powershell output of `batch`, read back, equal the values."""
    expected = batch.expected()
    words = dict(zip(batch.variables, batch.words, strict=True))
    readers: dict[str, tuple[Callable[[str], object], Callable[[str], bool]]] = {
        "json": (json.loads, lambda _value: True),
        "dotenv": (read_dotenv_everywhere, dotenv_can_hold),
        "github": (lambda text: read_github_env(text, windows=False), github_can_hold),
        "powershell": (read_powershell, lambda _value: True),
    }
    for shell, (reader, can_hold) in readers.items():
        held = {variable: value for variable, value in expected.items() if can_hold(value)}
        if held:
            result = vault.run("env", "--shell", shell, *(words[v] for v in held))
            assert reader(result.stdout) == held, shell
            if shell == "github":
                assert read_github_env(result.stdout, windows=True) == held
        for variable in set(expected) - set(held):
            refused = vault.run("env", "--shell", shell, words[variable], check=False)
            assert refused.returncode == 9, (shell, refused.stderr)
            assert refused.stdout == ""
            assert variable in refused.stderr
            if len(expected[variable]) >= 8:
                assert expected[variable] not in refused.stderr


# -- through the real shells --------------------------------------------------------------


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=BATCH)
@example(values=["it's", "$(id)", "`id`", "back\\", "two\nlines\n", "100% !", "-n", "é中😀"])
def test_generated_values_survive_every_shell_and_format(
    vault: SessionVault, stored: Stored, values: list[str]
) -> None:
    batch = stored.batch(values)
    try:
        # A missing shell is reported by test_shell_is_there.
        run_in_shells(
            batch, vault, installed_shells(), meanwhile=lambda: check_formats(batch, vault)
        )
    finally:
        stored.clear()


@pytest.mark.parametrize("program", list(SHELLS))
def test_shell_is_there(program: str) -> None:
    """Each shell of the issue is installed; otherwise this skips loudly, naming the package."""
    require(program)


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
@pytest.mark.parametrize("program", list(SHELLS))
def test_hostile_and_long_values_in_each_shell(
    vault: SessionVault, stored: Stored, program: str, locale: str
) -> None:
    """The fixed examples of the issue, 64 KiB values included, in UTF-8 and C locales."""
    require(program)
    run_in_shells(stored.batch(FIXED_VALUES), vault, [program], locale)


@pytest.mark.parametrize(
    ("program", "options"),
    [
        ("zsh", "setopt RC_QUOTES"),  # '' inside quotes means ' (zshmisc QUOTING)
        ("bash", "set -o history -o histexpand"),  # ! history expansion switched on
        ("zsh", "setopt SH_WORD_SPLIT GLOB_SUBST"),  # unquoted expansions would split/glob
    ],
)
def test_shell_options_that_change_quoting_do_not_matter(
    vault: SessionVault, stored: Stored, program: str, options: str
) -> None:
    require(program)
    run_in_shells(stored.batch(FIXED_VALUES[:-2]), vault, [program], options=options)


def test_hostile_and_long_values_in_every_format(vault: SessionVault, stored: Stored) -> None:
    check_formats(stored.batch(FIXED_VALUES), vault)


def test_values_in_pwsh(vault: SessionVault, stored: Stored, tmp_path: Path) -> None:
    """PowerShell itself, where it is installed (not a Debian package)."""
    # Not a Debian package: missing, it skips loudly even in CI; the output is then
    # checked only against the model of PowerShell's quoting above.
    pwsh = which_peer("pwsh")
    batch = stored.batch(FIXED_VALUES)
    prints = "\n".join(
        f"[IO.File]::WriteAllText('{tmp_path}/{index}', $env:{variable})"
        for index, variable in enumerate(batch.variables)
    )
    script = (
        f"$out = & $env:CREDCTL_BIN env --shell powershell {' '.join(batch.words)} | Out-String\n"
        "if ($LASTEXITCODE -ne 0) { exit 97 }\nInvoke-Expression $out\n" + prints + "\n"
    )
    done = subprocess.run(
        [pwsh, "-NoProfile", "-NonInteractive", "-Command", script],
        env={**vault.env, "CREDCTL_BIN": credctl_path()},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for index, value in enumerate(batch.values):
        # PowerShell before 7.5 removes a variable set to ''; WriteAllText writes '' then.
        assert (tmp_path / str(index)).read_bytes() == value.encode("utf-8")


# -- the formatters themselves, many more examples, in-process --------------------------


def assignments(values: Sequence[str]) -> list[tuple[str, str]]:
    return [(f"V{index}", value) for index, value in enumerate(values)]


@settings(max_examples=200, deadline=None)
@given(values=BATCH)
def test_posix_output_reads_back_with_shlex(values: list[str]) -> None:
    """`shlex` in POSIX mode implements §2.2's quoting: a second, in-process check."""
    for shell in ("sh", "bash", "zsh"):
        lines = render(shell, assignments(values))
        words = shlex.split(lines, posix=True)
        assert words == [part for n, v in assignments(values) for part in ("export", f"{n}={v}")]


@settings(max_examples=200, deadline=None)
@given(values=BATCH)
def test_dotenv_output_reads_back_with_python_dotenv(values: list[str]) -> None:
    pairs = [(name, value) for name, value in assignments(values) if dotenv_can_hold(value)]
    assert read_dotenv(render("dotenv", pairs)) == dict(pairs)
    for name, value in assignments(values):
        if not dotenv_can_hold(value):
            with pytest.raises(InvalidInput, match=name):
                render("dotenv", [(name, value)])


def test_dotenv_output_reads_back_from_a_file(tmp_path: Path) -> None:
    """From a file: python-dotenv opens it in text mode; dash and bash source it."""
    pairs = [(n, v) for n, v in assignments(FIXED_VALUES) if dotenv_can_hold(v)]
    path = tmp_path / ".env"
    path.write_bytes(render("dotenv", pairs).encode("utf-8"))
    assert_read_back(path, dict(pairs))


@pytest.mark.parametrize(
    "value",
    ["${HOME}", "x${A:-b}y", "${}", "a\\\nb\\", " a\\", "a #b\\", "a\\", "x\ry", "it's $x",
     "`id`'", "a\\\\b $HOME"],
)  # fmt: skip
def test_dotenv_refuses_what_python_dotenv_and_a_shell_cannot_both_read(value: str) -> None:
    with pytest.raises(InvalidInput, match="the value of SECRET contains") as caught:
        render("dotenv", [("SECRET", value)])
    assert value not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(values=BATCH)
def test_json_output_reads_back(values: list[str]) -> None:
    text = render("json", assignments(values))
    assert text.isascii() and text.count("\n") == 1
    assert json.loads(text) == dict(assignments(values))


@settings(max_examples=200, deadline=None)
@given(values=BATCH)
def test_github_output_reads_back_on_linux_and_windows_runners(values: list[str]) -> None:
    pairs = [(name, value) for name, value in assignments(values) if github_can_hold(value)]
    text = render("github", pairs)
    assert read_github_env(text, windows=False) == dict(pairs)
    assert read_github_env(text, windows=True) == dict(pairs)


def test_github_refuses_a_final_carriage_return_that_windows_runners_drop() -> None:
    """Rule 3: on Windows the CR before the delimiter's line break is eaten."""
    text = "A<<D\nx\r\nD\n"
    assert read_github_env(text, windows=False) == {"A": "x\r"}
    assert read_github_env(text, windows=True) == {"A": "x"}
    with pytest.raises(InvalidInput, match="the value of A contains a carriage return"):
        render("github", [("A", "x\r")])
    assert read_github_env(render("github", [("A", "x\r\ny")]), windows=True) == {"A": "x\r\ny"}


def test_github_delimiter_never_occurs_in_the_value() -> None:
    """A value that holds the first delimiter drawn gets another one."""
    from credctl.shell import github

    draws = iter([b"\x00" * 16, b"\x01" * 16])
    taken = "ghadelimiter_" + "00" * 16
    chosen = github.delimiter_for(f"x\n{taken}\ny", draw=lambda _n: next(draws))
    assert chosen == "ghadelimiter_" + "01" * 16


@settings(max_examples=200, deadline=None)
@given(values=BATCH)
def test_powershell_output_reads_back(values: list[str]) -> None:
    assert read_powershell(render("powershell", assignments(values))) == dict(assignments(values))


def test_powershell_never_puts_a_smart_quote_inside_a_literal() -> None:
    """PowerShell ends a '…' string at ’ ‘ ‚ ‛ too (CharTraits.cs IsSingleQuote)."""
    text = render("powershell", [("A", "it’s ‘x’ ‚y‛ 'z'")])
    assert text == (
        "$env:A = 'it' + [char]0x2019 + 's ' + [char]0x2018 + 'x' + [char]0x2019 + ' ' "
        "+ [char]0x201A + 'y' + [char]0x201B + ' ''z'''\n"
    )


# -- what every format refuses -------------------------------------------------------------


@pytest.mark.parametrize("shell", list(FORMATS))
def test_every_format_refuses_nul_naming_the_variable_only(shell: str) -> None:
    with pytest.raises(InvalidInput, match="DB_PASSWORD") as caught:
        render(shell, [("OK", "fine"), ("DB_PASSWORD", "FAKE\x00secret")])
    assert "FAKE" not in str(caught.value) and "secret" not in str(caught.value)
    assert caught.value.exit_code == 9


@pytest.mark.parametrize("shell", list(FORMATS))
@pytest.mark.parametrize("name", ["1PASSWORD_TOKEN", "MY-VAR", "", "A B", "É", "A=B", "a.b"])
def test_every_format_refuses_an_invalid_variable_name(shell: str, name: str) -> None:
    with pytest.raises(InvalidInput, match="not a valid environment variable name"):
        render(shell, [(name, "value")])


@pytest.mark.parametrize("shell", list(FORMATS))
def test_every_format_refuses_a_variable_twice(shell: str) -> None:
    with pytest.raises(InvalidInput, match="given twice"):
        render(shell, [("A", "1"), ("A", "2")])


def test_the_shell_package_imports_only_the_standard_library() -> None:
    """credctl.shell is on the fast path: nothing but the stdlib and credctl.errors."""
    code = (
        "import sys; before = set(sys.modules)\n"
        "import credctl.shell as s\n"
        "for name in s.FORMATS: s.renderer(name)\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    credctl_modules = {"credctl", "credctl._version", "credctl.errors", "credctl.shell",
                       "credctl.shell._checks"}  # fmt: skip
    credctl_modules |= {f"credctl.shell.{module}" for module in FORMATS.values()}
    assert {m for m in loaded if m.split(".")[0] == "credctl"} <= credctl_modules
    others = {m.split(".")[0] for m in loaded} - {"credctl"}
    assert others <= set(sys.stdlib_module_names), others - set(sys.stdlib_module_names)
