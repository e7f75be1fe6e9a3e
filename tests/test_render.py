"""`credctl render`: hostile values survive every format's real parser (SPEC §3, §12).

Rendered JSON goes through `json.loads`, YAML through PyYAML's `safe_load` and
dotenv through python-dotenv's `dotenv_values` and ``set -a; . ./.env`` in dash and
bash; each must give back exactly the stored values.  Errors list every problem at
once and write nothing; output files are replaced atomically with mode 0600.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import dotenv
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from credctl import CredentialManager
from credctl.errors import InvalidInput, NotFound
from credctl.model import CredentialInput, StorageBackend
from credctl.render import (
    Context,
    TemplateFormat,
    format_of_path,
    parse_template,
    place_references,
    render_template,
    substitute,
)
from credctl.render.contexts import Refusal
from credctl.render.engine import _SCANNERS
from credctl.secret import SecretValue
from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback
from tests.dotenv_support import assert_read_back
from tests.peer_backends import lane_storage_backend

HOSTILE = {
    "quote": "say \"hi\" \\\" 'single' ''",
    "backslash": "C:\\temp\\",
    "newline": "line 1\nline 2\r\nline 3\r",
    "control": "\x01\x07\x08\t\x0b\x0c\x1b\x7f\x85\x9f",
    "unicode": "héllo wörld 😀 \u2028\u2029 \ufeff \u00a0 \U0010ffff",
    "braces": "}} {{ x }} {{",
    "reference": "{{$credential.hostile.quote}} {{ $credential.nope.gone }}",
    "spaces": "  padded  ",
    "comment": " # not a comment",
    "yamlish": "- [a]: {b} &x *y !z | > % @ ` --- ...",
    "dollar": "${HOME} $HOME",
}
# Values a YAML single-quoted scalar can hold (no line breaks, no control characters).
YAML_SINGLE_SAFE = ("quote", "backslash", "braces", "reference", "spaces", "comment", "yamlish")
GITHUB_TOKEN = "ghp_fake_token_for_render_tests"


def ref(field: str, name: str = "hostile") -> str:
    return f"{{{{$credential.{name}.{field}}}}}"


@pytest.fixture
def vault(initialized_vault: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A vault holding `hostile` (custom, every field of HOSTILE) and `github` (a token)."""
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    manager = CredentialManager.builder().storage_backend(lane_storage_backend(initialized_vault))
    results = manager.build().batch_create(
        [
            CredentialInput("custom", HOSTILE, name="hostile"),
            CredentialInput("token", {"token": GITHUB_TOKEN}, name="github"),
        ]
    )
    assert all(isinstance(result, int) for result in results), results
    return initialized_vault


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    return result


def fails(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert the exit code, nothing on stdout, no traceback, no secret; return stderr."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert_no_traceback(result)
    assert result.stderr.startswith("credctl: error: "), result.stderr
    for value in (*HOSTILE.values(), GITHUB_TOKEN):
        if len(value.strip()) > 4:
            assert value not in result.stderr
    return result.stderr


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- hostile values through real parsers -------------------------------------------------


def test_json_hostile_values_round_trip(run_cli: RunCli, vault: Path, tmp_path: Path) -> None:
    entries = [f'  "{field}": "{ref(field)}"' for field in HOSTILE]
    entries += [
        f'  "mixed": "pre {{{{ $credential.hostile.quote }}}} mid {ref("newline")} post"',
        f'  "{ref("braces")}": ["{ref("token", "github")}", 7]',
    ]
    template = tmp_path / "config.json"
    template.write_text("{\n" + ",\n".join(entries) + "\n}\n", encoding="utf-8")
    out = tmp_path / "out.json"

    ok(run_cli("render", str(template), "-o", str(out)))

    expected = dict(HOSTILE)
    expected["mixed"] = f"pre {HOSTILE['quote']} mid {HOSTILE['newline']} post"
    expected[HOSTILE["braces"]] = [GITHUB_TOKEN, 7]  # type: ignore[assignment]
    assert json.loads(out.read_text(encoding="utf-8")) == expected
    assert mode_of(out) == 0o600


def test_yaml_hostile_values_round_trip(run_cli: RunCli, vault: Path, tmp_path: Path) -> None:
    lines = ["double:"] + [f'  {field}: "{ref(field)}"' for field in HOSTILE]
    lines += ["whole:"] + [f"  {field}: {ref(field)}  # a comment" for field in HOSTILE]
    lines += ["single:"] + [f"  {field}: 'x {ref(field)} y'" for field in YAML_SINGLE_SAFE]
    lines += ["items:"] + [f"  - {ref(field)}" for field in HOSTILE]
    lines += [
        f'flow: [{ref("newline")}, "a {ref("quote")}", {{k: {ref("yamlish")}}}]',
        f"tagged: !!str {ref('dollar')}",
        "block: |",
        "  {{not a reference}} and 'quotes\"",
        f'after_block: "{ref("unicode")}"',
    ]
    template = tmp_path / "deploy.yml"
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "deploy.yaml"

    ok(run_cli("render", str(template), "-o", str(out)))

    expected = {
        "double": dict(HOSTILE),
        "whole": dict(HOSTILE),
        "single": {field: f"x {HOSTILE[field]} y" for field in YAML_SINGLE_SAFE},
        "items": list(HOSTILE.values()),
        "flow": [HOSTILE["newline"], f"a {HOSTILE['quote']}", {"k": HOSTILE["yamlish"]}],
        "tagged": HOSTILE["dollar"],
        "block": "{{not a reference}} and 'quotes\"\n",
        "after_block": HOSTILE["unicode"],
    }
    with out.open(encoding="utf-8") as handle:
        assert yaml.safe_load(handle) == expected
    assert mode_of(out) == 0o600


# Which HOSTILE values each dotenv place holds for python-dotenv and a shell alike
# (`credctl.shell.dotenv`): none ending in a backslash, with a CR or with ${…}; no
# ' in single quotes; no $ or backquote in double quotes.
DOTENV_REFUSED = {"backslash", "newline", "dollar"}
DOTENV_DOUBLE = [f for f in HOSTILE if f not in DOTENV_REFUSED | {"yamlish", "reference"}]
DOTENV_SINGLE = [f for f in HOSTILE if f not in DOTENV_REFUSED and f != "quote"]
DOTENV_WHOLE = [f for f in HOSTILE if f not in DOTENV_REFUSED]


def test_dotenv_hostile_values_round_trip(run_cli: RunCli, vault: Path, tmp_path: Path) -> None:
    lines = [f'DOUBLE_{field.upper()}="{ref(field)}"' for field in DOTENV_DOUBLE]
    lines += [f"SINGLE_{field.upper()}='{ref(field)}'" for field in DOTENV_SINGLE]
    lines += [f"export WHOLE_{field.upper()}={ref(field)}  # comment" for field in DOTENV_WHOLE]
    lines += [f'MIDDLE="{ref("backslash")}/x"', "# a comment line", "PLAIN=unchanged"]
    template = tmp_path / "env.tmpl"
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / ".env"

    result = ok(run_cli("render", str(template), "-o", str(out)))

    expected = {f"DOUBLE_{f.upper()}": HOSTILE[f] for f in DOTENV_DOUBLE}
    expected |= {f"SINGLE_{f.upper()}": HOSTILE[f] for f in DOTENV_SINGLE}
    expected |= {f"WHOLE_{f.upper()}": HOSTILE[f] for f in DOTENV_WHOLE}
    expected |= {"MIDDLE": HOSTILE["backslash"] + "/x", "PLAIN": "unchanged"}
    assert_read_back(out, expected)  # python-dotenv (interpolating), dash and bash
    assert mode_of(out) == 0o600
    assert "warning" not in result.stderr


def test_dotenv_values_no_reader_agrees_on_are_refused_all_at_once(
    run_cli: RunCli, vault: Path, tmp_path: Path
) -> None:
    lines = [f'D_{f.upper()}="{ref(f)}"' for f in HOSTILE if f not in DOTENV_DOUBLE]
    lines += [f"S_{f.upper()}='{ref(f)}'" for f in HOSTILE if f not in DOTENV_SINGLE]
    lines += [f"W_{f.upper()}={ref(f)}" for f in DOTENV_REFUSED]
    template = tmp_path / "env.tmpl"
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / ".env"
    stderr = fails(run_cli("render", str(template), "-o", str(out)), 9)
    assert f"{len(lines)} values cannot be written safely" in stderr
    assert not out.exists()


def test_raw_is_verbatim_and_values_are_never_expanded(
    run_cli: RunCli, vault: Path, tmp_path: Path
) -> None:
    template = tmp_path / "notes.txt"
    template.write_text(f"a {ref('reference')} b {ref('newline')} c", encoding="utf-8")

    out = tmp_path / "notes.out"

    result = ok(run_cli("render", str(template), "-o", str(out)))

    expected = f"a {HOSTILE['reference']} b {HOSTILE['newline']} c"
    assert out.read_bytes() == expected.encode()
    assert "verbatim" in result.stderr  # no format from the name: the user hears about it


def test_optional_inner_spaces(run_cli: RunCli, vault: Path) -> None:
    template = (
        "{{$credential.github.token}}|{{ $credential.github.token }}|"
        "{{\t$credential.github.token\t}}|{{$credential.github.token  }}"
    )

    result = ok(run_cli("render", "-", "--format", "raw", input=template))

    assert result.stdout == "|".join([GITHUB_TOKEN] * 4)


def test_stdin_template_to_stdout(run_cli: RunCli, vault: Path) -> None:
    template = '{"auth": "Bearer {{ $credential.github.token }}"}\n'

    for extra in ((), ("-o", "-")):
        result = ok(run_cli("render", "-", "--format", "json", *extra, input=template))
        assert json.loads(result.stdout) == {"auth": f"Bearer {GITHUB_TOKEN}"}


# -- errors: everything listed, nothing written ---------------------------------------------


def test_two_unknown_references_exit_3_and_write_nothing(
    run_cli: RunCli, vault: Path, tmp_path: Path
) -> None:
    template = tmp_path / "config.json"
    template.write_text(
        '{"ok": "{{$credential.github.token}}",\n'
        ' "a": "{{$credential.nope.token}}",\n'
        ' "b": "{{ $credential.github.tokn }}"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.json"

    stderr = fails(run_cli("render", str(template), "-o", str(out)), 3)

    assert "2 references cannot be resolved" in stderr
    assert "2:8 {{$credential.nope.token}}: no credential 'nope'" in stderr
    assert "3:8 {{$credential.github.tokn}}" in stderr and "'tokn'" in stderr
    assert not out.exists()
    assert [p for p in tmp_path.iterdir() if p.is_file()] == [template]  # no temporary file


def test_unknown_reference_leaves_existing_output_unchanged(
    run_cli: RunCli, vault: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.env"
    out.write_text("OLD=1\n")
    out.chmod(0o644)

    fails(run_cli("render", "-", "-o", str(out), input="A={{$credential.nope.x}}\n"), 3)

    assert out.read_text() == "OLD=1\n"
    assert mode_of(out) == 0o644


def test_malformed_references_exit_9_with_line_and_column(run_cli: RunCli, tmp_path: Path) -> None:
    # Found before any vault is opened: there is none here.
    out = tmp_path / "out.txt"
    template = "ok {{$credential.github.token}}\n  {{$credential.github}} {{$Credential.a.b}}\n"

    stderr = fails(run_cli("render", "-", "-o", str(out), input=template), 9)

    assert "2 malformed credential references" in stderr
    assert "2:3 '{{$credential.github}}'" in stderr
    assert "2:26 '{{$Credential.a.b}}'" in stderr
    assert not out.exists()


def test_refused_places_exit_9_all_listed(run_cli: RunCli) -> None:
    # Found before any vault is opened: there is none here.
    template = (
        f"url: https://{ref('quote')}\n"
        f"# {ref('quote')}\n"
        f"{ref('quote')}: key\n"
        f"script: |\n  echo {ref('quote')}\n"
    )

    stderr = fails(run_cli("render", "-", "--format", "yaml", input=template), 9)

    assert "4 references cannot be filled safely in yaml" in stderr
    for where in ("1:14", "2:3", "3:1", "5:8"):
        assert f"  {where} {{{{$credential.hostile.quote}}}}: " in stderr


def test_value_a_place_cannot_hold_exit_9_without_the_value(
    run_cli: RunCli, vault: Path, tmp_path: Path
) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(f"a: 'x {ref('newline')}'\nb: '{ref('control')}'\n")

    stderr = fails(run_cli("render", str(template)), 9)

    assert "2 values cannot be written safely in yaml" in stderr
    assert "1:7 {{$credential.hostile.newline}}" in stderr


def test_missing_template_exit_9(run_cli: RunCli, tmp_path: Path) -> None:
    stderr = fails(run_cli("render", str(tmp_path / "missing.json")), 9)

    assert "no such file" in stderr


# -- the output file -------------------------------------------------------------------------


def test_new_output_has_mode_0600_whatever_the_umask(
    run_cli: RunCli, vault: Path, tmp_path: Path
) -> None:
    out = tmp_path / "token.txt"
    old = os.umask(0)
    try:
        ok(run_cli("render", "-", "-o", str(out), input=ref("token", "github")))
    finally:
        os.umask(old)

    assert out.read_text() == GITHUB_TOKEN
    assert mode_of(out) == 0o600


def test_replaced_output_gets_mode_0600(run_cli: RunCli, vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "app.env"
    out.write_text("OLD=1\n")
    out.chmod(0o644)
    inode = out.stat().st_ino

    ok(run_cli("render", "-", "-o", str(out), input=f"TOKEN={ref('token', 'github')}\n"))

    assert dotenv.dotenv_values(out) == {"TOKEN": GITHUB_TOKEN}
    assert mode_of(out) == 0o600
    assert out.stat().st_ino != inode  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["app.env"]


def test_symlink_at_output_is_refused(run_cli: RunCli, vault: Path, tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_text("untouched\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)

    stderr = fails(run_cli("render", "-", "-o", str(link), input=ref("token", "github")), 9)

    assert "symbolic link" in stderr
    assert link.is_symlink()
    assert target.read_text() == "untouched\n"


@pytest.mark.vault_file  # the output path is the vault file
def test_output_over_the_vault_is_refused(run_cli: RunCli, vault: Path) -> None:
    before = vault.read_bytes()

    result = run_cli("render", "-", "-o", str(vault), input="x")

    assert result.returncode == 2, result.stderr
    assert "vault itself" in result.stderr
    assert vault.read_bytes() == before


def test_output_extension_wins_and_format_option_overrides(
    run_cli: RunCli, vault: Path, tmp_path: Path
) -> None:
    template = tmp_path / "t.json"
    template.write_text(f"X={ref('spaces')}\n")
    out = tmp_path / "out.env"

    ok(run_cli("render", str(template), "-o", str(out)))  # .env beats .json
    assert dotenv.dotenv_values(out) == {"X": HOSTILE["spaces"]}

    result = ok(run_cli("render", str(template), "--format", "raw"))
    assert result.stdout == f"X={HOSTILE['spaces']}\n"


def test_help_teaches_the_syntax_and_examples(run_cli: RunCli) -> None:
    result = ok(run_cli("render", "--help", vault=None))

    for text in ("{{$credential.NAME.FIELD}}", "--format", "0600", "Examples", "exit 3"):
        assert text in result.stdout


# -- the core: contexts, escaping, resolving --------------------------------------------------


def placements(text: str, fmt: TemplateFormat) -> list[Context | str]:
    template = parse_template(text)
    return [
        p.reason if isinstance(p, Refusal) else p.context
        for p in _SCANNERS[fmt](template.text, template.references)
    ]


R = "{{$credential.a.b}}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'k: "{R}"', Context.YAML_DOUBLE_QUOTED),
        (f"k: 'x{R}'", Context.YAML_SINGLE_QUOTED),
        (f"k: {R}", Context.YAML_VALUE),
        (f"k:\n  {R}\n", Context.YAML_VALUE),
        (f"- k: {R}  # c", Context.YAML_VALUE),
        (f"k: [a, {R}]", Context.YAML_VALUE),
        (f"k: &anchor {R}", Context.YAML_VALUE),
        (f'k: "multi\n  line {R}"', Context.YAML_DOUBLE_QUOTED),
        (f"- key: |\n    text\n  other: {R}", Context.YAML_VALUE),
        (f"k: https://{R}", "other text"),
        (f"k: it's {R}", "other text"),
        (f"k: foo\n  - {R}", "other text"),  # a continuation of the plain scalar "foo"
        (f"k: {R}x", "other text"),
        (f"{R}: v", "mapping key"),
        (f"# {R}", "comment"),
        (f"k: 1 # {R}", "comment"),
        (f"k: |\n  {R}", "block scalar"),
        (f"k: >-\n\n  {R}", "block scalar"),
        (f'k: "\\{R}"', "backslash"),
        (f"k: !{R} v", "tag or an anchor"),
    ],
)
def test_yaml_contexts(text: str, expected: Context | str) -> None:
    (found,) = placements(text, TemplateFormat.YAML)
    if isinstance(expected, Context):
        assert found == expected
    else:
        assert isinstance(found, str) and expected in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'A="{R}"', Context.DOTENV_DOUBLE_QUOTED),
        (f"A='{R}'", Context.DOTENV_SINGLE_QUOTED),
        (f"export A = {R}", Context.DOTENV_VALUE),
        (f"A={R} # c", Context.DOTENV_VALUE),
        (f'A="x\\\\{R}"', Context.DOTENV_DOUBLE_QUOTED),  # an escaped backslash before it
        (f"A=x{R}", "other text"),
        (f"A={R}#x", "other text"),
        (f"{R}=1", "variable name"),
        (f"# {R}", "comment"),
        (f"A=1 # {R}", "comment"),
        (f'A="\\{R}"', "backslash"),
        (f'A="x" junk {R}', "cannot parse"),
        (f'A="${R}"', "expansion"),
        (f"A='${{X:-{R}}}'", "expansion"),
        (f"A='${{X}}{R}'", Context.DOTENV_SINGLE_QUOTED),
    ],
)
def test_dotenv_contexts(text: str, expected: Context | str) -> None:
    (found,) = placements(text, TemplateFormat.DOTENV)
    if isinstance(expected, Context):
        assert found == expected
    else:
        assert isinstance(found, str) and expected in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'{{"a": "{R}"}}', Context.JSON_STRING),
        (f'{{"{R}": 1}}', Context.JSON_STRING),
        (f'// "\n{{"a": "{R}"}}', Context.JSON_STRING),
        (f'{{"a": {R}}}', "outside a JSON string"),
        (f'{{"a": "\\{R}"}}', "backslash"),
        (f'{{"a": 1}} /* "{R}" */', "comment"),
    ],
)
def test_json_contexts(text: str, expected: Context | str) -> None:
    (found,) = placements(text, TemplateFormat.JSON)
    if isinstance(expected, Context):
        assert found == expected
    else:
        assert isinstance(found, str) and expected in found


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{{$credential.a}}", "expected"),
        ("{{$credential.a.b.c}}", "expected"),
        ("{{$credential.a b.c}}", "expected"),
        ("{{$credential.a.b}", "expected"),
        ("{{ $credential . a . b }}", "expected"),
        ("{{$CREDENTIAL.a.b}}", "lower case"),
        ("{{$credential.123.token}}", "all digits"),
        ("{{$credential._a.b}}", "expected"),
    ],
)
def test_malformed_references(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem) as raised:
        parse_template(f"x\n  {text}")
    assert "2:3 " in raised.value.message


def test_other_template_variables_pass_through() -> None:
    template = parse_template("{{$fetch_data.body.length}} {{ name }} {{ $env.HOME }}")
    assert template.references == ()
    with pytest.raises(InvalidInput):
        parse_template("{{$credentials.a.b}}")  # looks like ours: a typo, reported


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("config.json", TemplateFormat.JSON),
        ("CONFIG.JSON", TemplateFormat.JSON),
        ("deploy.yml", TemplateFormat.YAML),
        ("deploy.yaml.tmpl", TemplateFormat.YAML),
        (".env", TemplateFormat.DOTENV),
        (".env.local", TemplateFormat.DOTENV),
        ("app.env.in", TemplateFormat.DOTENV),
        ("notes.txt", None),
        ("-", None),
    ],
)
def test_format_of_path(name: str, expected: TemplateFormat | None) -> None:
    assert format_of_path(name) == expected


def fill(text: str, fmt: TemplateFormat, value: str) -> str:
    template = parse_template(text)
    slots = place_references(template, fmt)
    values = {reference.key: SecretValue(value) for reference in template.references}
    return substitute(template, slots, values, fmt).text


def test_nul_is_escaped_where_the_format_can_hold_it() -> None:
    value = "a\x00b"
    assert json.loads(fill(f'["{R}"]', TemplateFormat.JSON, value)) == [value]
    assert yaml.safe_load(fill(f"- {R}", TemplateFormat.YAML, value)) == [value]
    with pytest.raises(InvalidInput, match="NUL"):
        fill(f'A="{R}"', TemplateFormat.DOTENV, value)
    with pytest.raises(InvalidInput, match="control character"):
        fill(f"a: '{R}'", TemplateFormat.YAML, value)


def test_dotenv_trailing_backslash() -> None:
    # python-dotenv reads \\" (or \\' ) at the end of a quoted value as an escaped quote,
    # and a shell reads an unquoted final backslash as a line continuation.
    with pytest.raises(InvalidInput, match="backslash"):
        fill(f'A="{R}"\nB="x"', TemplateFormat.DOTENV, "ends\\")
    with pytest.raises(InvalidInput, match="backslash"):
        fill(f"A={R}", TemplateFormat.DOTENV, "ends\\")
    assert fill(f'A="{R}/"', TemplateFormat.DOTENV, "ends\\") == 'A="ends\\\\/"'


def test_library_render_resolves_from_one_snapshot() -> None:
    manager = CredentialManager.builder().storage_backend(StorageBackend.memory()).build()
    manager.create_credential("token", {"token": "t0k"}, name="gh")
    manager.create_credential("oauth2", {"client_id": "cid", "access_token": "at"}, name="o")
    text = (
        '{"a": "{{$credential.gh.token}}", "b": "{{$credential.gh.token}}", '
        '"c": "{{$credential.o.access_token}}", "d": "{{$credential.o.client_id}}"}'
    )

    rendered = render_template(text, manager, TemplateFormat.JSON)

    assert json.loads(rendered.text) == {"a": "t0k", "b": "t0k", "c": "at", "d": "cid"}
    assert "t0k" not in repr(rendered)
    assert manager.get_credential_metrics("gh").usage_count == 1
    with pytest.raises(NotFound) as raised:
        render_template(f"{R} {R} {{{{$credential.gh.nope}}}}", manager)
    assert raised.value.message.count("\n  ") == 3  # every occurrence, in one error


# -- properties --------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"))  # any text without surrogates


@settings(max_examples=300, deadline=None)
@given(value=TEXT, prefix=TEXT.filter(lambda t: "{{" not in t and "}" not in t))
def test_json_escaping_round_trips_any_text(value: str, prefix: str) -> None:
    inner = json.dumps(prefix, ensure_ascii=False)[1:-1]
    text = f'{{"k": "{inner}{R}", "l": ["{R}"]}}'
    expected = {"k": prefix + value, "l": [value]}
    assert json.loads(fill(text, TemplateFormat.JSON, value)) == expected


UNPRINTABLE = "\u2028\u2029\ufeff\ufffe\uffff"
YAML_TEMPLATES: list[tuple[str, Callable[[str], object]]] = [
    (f'k: "{R}"\n', lambda v: {"k": v}),
    (f"k: {R}\n", lambda v: {"k": v}),
    (f"- a: {R} # c\n  b: 'x {R}'\n", lambda v: [{"a": v, "b": f"x {v}"}]),
    (f'k: [{R}, "y {R}", {{z: {R}}}]\n', lambda v: {"k": [v, f"y {v}", {"z": v}]}),
]


@settings(max_examples=300, deadline=None)
@given(value=TEXT, which=st.sampled_from(range(len(YAML_TEMPLATES))))
def test_yaml_escaping_round_trips_any_text(value: str, which: int) -> None:
    text, expected = YAML_TEMPLATES[which]
    try:
        rendered = fill(text, TemplateFormat.YAML, value)
    except InvalidInput:
        # Only single quotes refuse, and only what they cannot hold.
        assert "'" in text
        assert any(
            (ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F or c in UNPRINTABLE
            for c in value
        )
        return
    assert yaml.safe_load(rendered) == expected(value)
