"""``.env`` output that python-dotenv and ``set -a; . ./.env`` both read exactly (issue 8).

Findings 13 and 14: ``env --shell dotenv`` wrote ``EVILPW="p$(touch /tmp/x)w"``,
which python-dotenv reads right but a shell sourcing the file runs, and ``render``
only warned about ``${…}`` (python-dotenv expands it) and wrote the file anyway.
Both commands now share one rule (`credctl.shell.dotenv`): every value they write
is read back byte for byte by python-dotenv *and* by dash and bash, nothing runs,
and what cannot be written so is refused (exit 9) with nothing written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from credctl.errors import InvalidInput
from credctl.render import TemplateFormat, parse_template, place_references, substitute
from credctl.secret import SecretValue
from tests.dotenv_support import assert_read_back, dotenv_can_hold
from tests.env_support import SessionVault

ANY_CHARACTER = st.characters(codec="utf-8", exclude_characters="\x00")
TRICKY = st.sampled_from(
    ["'", '"', "$(touch x)", "`touch x`", "\\", "\\\\", "\n", "\r", "$", "${HOME}", "${X:-y}",
     "$HOME", "{", "}", "#", " #", " ", "\t", "=", "'\\''", "\\'", '\\"', "!", "%", "é",
     "\U0001f600", "\x0b", "\x0c", "\x85", "\u2028", "export ", "a=b"]
)  # fmt: skip
VALUE = st.lists(st.one_of(ANY_CHARACTER, TRICKY), max_size=20).map("".join)
R = "{{$credential.c.f}}"
# (template line, whether the value fills the whole quoted or unquoted value)
FORMS = {
    "whole": (f"V={R}  # a comment", True),
    "single": (f"V='{R}'", True),
    "double": (f'V="{R}"', True),
    "single_text": (f"V='pre {R} post'", False),
    "double_text": (f'V="pre {R} post"', False),
}
SIMPLE = re.compile(r"[^'\"\\$`\r\x00]*\Z")  # nothing either reader treats specially


def rendered(form: str, value: str) -> str:
    """The dotenv template `form` filled with `value`, in-process (`InvalidInput` if refused)."""
    template = parse_template(FORMS[form][0] + "\n", "template")
    slots = place_references(template, TemplateFormat.DOTENV)
    values = {reference.key: SecretValue(value) for reference in template.references}
    return substitute(template, slots, values, TemplateFormat.DOTENV).text


def expected_of(form: str, value: str) -> str:
    return value if FORMS[form][1] else f"pre {value} post"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(VALUE, min_size=1, max_size=6))
@example(values=["p$(touch x)w", "`touch x`", "it's", 'say "hi"', "a\\b", "x\ny\n", "${HOME}"])
def test_render_output_reads_back_in_python_dotenv_dash_and_bash(
    tmp_path: Path, values: list[str]
) -> None:
    lines: list[str] = []
    expected: dict[str, str] = {}
    for index, value in enumerate(values):
        for form in FORMS:
            try:
                text = rendered(form, value)
            except InvalidInput:
                if form == "whole":
                    assert not dotenv_can_hold(value), value
                else:
                    assert not SIMPLE.match(value), value
                continue
            name = f"V{index}_{form}"
            lines.append(text.replace("V=", f"{name}=", 1))
            expected[name] = expected_of(form, value)
    path = tmp_path / "out.env"
    path.write_bytes("".join(lines).encode("utf-8"))
    assert_read_back(path, expected)


# value → the forms that can hold it (the others must refuse it).
ACCEPTED_IN = {
    "p$(touch x)w": {"whole", "single", "single_text"},
    "`touch x`": {"whole", "single", "single_text"},
    "$(touch x)'": set(),
    "it's": {"whole", "double", "double_text"},
    "a\\\\b": {"whole", "double", "double_text"},
    "x\\": {"single_text", "double_text"},  # a final backslash only before other text
    "${X}": set(),
    "a\rb": set(),
    "$": {"whole", "single", "single_text"},
}


@pytest.mark.parametrize("value", list(ACCEPTED_IN))
@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_reads_back_or_refuses(tmp_path: Path, form: str, value: str) -> None:
    if form not in ACCEPTED_IN[value]:
        with pytest.raises(InvalidInput, match="cannot be written safely in dotenv"):
            rendered(form, value)
        return
    path = tmp_path / "one.env"
    path.write_bytes(rendered(form, value).encode("utf-8"))
    assert_read_back(path, {"V": expected_of(form, value)})


@pytest.mark.parametrize(
    "template",
    ['V="$' + R + '"', "V='$" + R + "'", "V='${X:-" + R + "}'", 'V="${' + R + '}"'],
)
def test_a_reference_that_would_continue_an_expansion_is_refused(template: str) -> None:
    parsed = parse_template(template + "\n", "template")
    with pytest.raises(InvalidInput, match="expansion"):
        place_references(parsed, TemplateFormat.DOTENV)


# -- through the console script ------------------------------------------------------------

HOSTILE = {
    "subst": "FAKE-p$(touch MARK_subst)w",
    "backquote": "FAKE-`touch MARK_backquote`",
    "quoted": 'FAKE-it\'s "$HOME" `x`-no',  # ' with $ and `: no quoting is safe for both
    "newline": "FAKE-line1\n$(touch MARK_newline)\n",
    "dquote": 'FAKE-say "hi" \\ it\'s',
    "expand": "FAKE-${HOME}",
}
SAFE = ("subst", "backquote", "newline", "dquote")


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> SessionVault:
    made = SessionVault(tmp_path_factory.mktemp("dotenv-safety"))
    made.create([("custom", "evil", HOSTILE)])
    return made


def assert_nothing_runs(path: Path, expected: dict[str, str]) -> None:
    """Values exact in every reader; dash and bash, run in an empty folder, create no file.

    (`read_with_shell` fails if a ``MARK_*`` file, or any other, appears in its folder.)
    """
    assert_read_back(path, expected)


def test_env_dotenv_writes_nothing_a_shell_would_run(vault: SessionVault, tmp_path: Path) -> None:
    words = [f"evil.{field}" for field in SAFE]
    done = vault.run("env", "--shell", "dotenv", *words)
    path = tmp_path / ".env"
    path.write_bytes(done.stdout.encode("utf-8"))
    expected = {f"EVIL_{field.upper()}": HOSTILE[field] for field in SAFE}
    assert_nothing_runs(path, expected)


@pytest.mark.parametrize("field", ["quoted", "expand"])
def test_env_dotenv_refuses_a_value_no_quoting_makes_safe(vault: SessionVault, field: str) -> None:
    done = vault.run("env", "--shell", "dotenv", "evil.subst", f"evil.{field}", check=False)
    assert done.returncode == 9, done.stderr
    assert done.stdout == ""
    assert f"EVIL_{field.upper()}" in done.stderr
    assert HOSTILE[field] not in done.stderr


def test_render_dotenv_writes_nothing_a_shell_would_run(
    vault: SessionVault, tmp_path: Path
) -> None:
    template = tmp_path / "env.tmpl"
    lines = [f"WHOLE_{field.upper()}={{{{$credential.evil.{field}}}}}" for field in SAFE]
    lines += ["SINGLE='{{$credential.evil.subst}}'", 'DOUBLE="x {{$credential.evil.dquote}}"']
    template.write_text("\n".join(lines) + "\n")
    out = tmp_path / "rendered.env"
    done = vault.run("render", str(template), "-o", str(out))
    assert "warning" not in done.stderr
    expected = {f"WHOLE_{field.upper()}": HOSTILE[field] for field in SAFE}
    expected |= {"SINGLE": HOSTILE["subst"], "DOUBLE": "x " + HOSTILE["dquote"]}
    assert_nothing_runs(out, expected)


@pytest.mark.parametrize(
    "line",
    ["A={{$credential.evil.expand}}", "A='{{$credential.evil.expand}}'",
     'A="{{$credential.evil.subst}}"', "A={{$credential.evil.quoted}}"],
)  # fmt: skip
def test_render_dotenv_refuses_and_writes_nothing(
    vault: SessionVault, tmp_path: Path, line: str
) -> None:
    """Finding 13: ``${…}`` used to be a warning and the file was written anyway."""
    template = tmp_path / "env.tmpl"
    template.write_text(f"{line}\nB=1\n")
    out = tmp_path / "rendered.env"
    done = vault.run("render", str(template), "-o", str(out), check=False)
    assert done.returncode == 9, done.stderr
    assert not out.exists()
    assert "nothing was written" in done.stderr
    for value in HOSTILE.values():
        assert value not in done.stderr
    out.write_text("OLD=1\n")
    assert vault.run("render", str(template), "-o", str(out), check=False).returncode == 9
    assert out.read_text() == "OLD=1\n"
