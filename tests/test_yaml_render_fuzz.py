"""`render` to YAML, checked against PyYAML with generated templates (issue 8, finding 7).

Each template holds ``{{$credential.c.f}}`` in some position.  The meaning the
user wrote is the template with a harmless word (`MARKER`) in place of the
reference, as PyYAML reads it.  Rendering a hostile value must either be refused
(nothing written) or give exactly that structure with the value in place of the
word: no extra keys, nothing truncated, no other type.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from credctl.errors import InvalidInput
from credctl.render import TemplateFormat, parse_template, place_references, substitute
from credctl.secret import SecretValue
from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback

R = "{{$credential.c.f}}"
MARKER = "MARKERxWORD"

# Values meant to end a scalar, open a collection, start a key, a comment, an
# anchor, an alias, a tag, a directive, or a line.
HOSTILE_VALUES = [
    "x, admin: true",
    "x}, admin: true",
    "x], admin: true",
    "]",
    "}",
    "#",
    " # c",
    "a\nadmin: true",
    "\nadmin: true",
    ": ",
    "k: v",
    "'",
    '"',
    "''",
    "*a",
    "&b",
    "!tag",
    "!!int 1",
    "%YAML 1.2",
    "@",
    "`",
    "- item",
    "? key",
    "|",
    "line\u2028admin: true",
    "line\u2029x\x85y",
    "",
    " ",
    "true",
    "1",
    "~",
    "\\",
    "\t",
    "\x1b[31m",
]

# Scalars with the reference somewhere in or next to them.
HOLES = [
    R,
    f"-{R}",
    f"?{R}",
    f":{R}",
    f"- {R}",
    f"? {R}",
    f": {R}",
    f"&a {R}",
    f"&a{R}",
    f"!!str {R}",
    f"!!str{R}",
    f"&a !!str {R}",
    f"!t {R}",
    f"*a {R}",
    f"{R}x",
    f"x{R}",
    f"x {R}",
    f"{R} x",
    f"'{R}'",
    f"'a {R} b'",
    f'"{R}"',
    f'"a\\n{R}"',
    f"{R} # c",
    f"{R}\t# c",
    f"!!str\t{R}",
    f"{R}#c",
    f"{R}:",
    f"{R}: v",
    f"{R},",
    f"[{R}]",
    f"{{{R}}}",
    f"{{ {R} }}",
    f"{R} {R}",
    f"a:{R}",
    f"a: {R}",
    f"a:b{R}",
    f"a,{R}",
    f"[a]{R}",
    f"%{R}",
    f"@{R}",
    f"`{R}",
    f"|{R}",
    f">{R}",
    f"#{R}",
    f"!{R}",
    f"&{R}",
    f"*{R}",
    f"{R}\n  more",
    f"{R}\n more",
    f"{R}\n\n  more",
    f"{R}\n  # c\n  more",
    f"{R}\n  , z",
    f"{R}\n  ]",
]
PLAIN = ["x", "'y'", '"z"', "1", "&a w", "*a", "!!str s", "[]", "{}", "~", "a b", "-x", "x\n  y"]
KEYS = ["k", "&a k", "!!str k", "&a !!str k", '"k"', "'k'", "? k", R, f"&a {R}", f"x{R}"]


@st.composite
def scalars(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(HOLES) if draw(st.booleans()) else st.sampled_from(PLAIN))


@st.composite
def flows(draw: st.DrawFn, depth: int) -> str:
    items = draw(st.lists(nodes_in_flow(depth + 1), min_size=1, max_size=3))
    separator = draw(st.sampled_from([", ", ",", " , ", ",\n  ", "\n  , "]))
    if draw(st.booleans()):
        return "[" + separator.join(items) + "]"
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=len(items), max_size=len(items)))
    colon = draw(st.sampled_from([": ", ":", " : ", ":\n  "]))
    pairs = [
        key if item == "~" else f"{key}{colon}{item}"
        for key, item in zip(keys, items, strict=True)
    ]
    return "{" + separator.join(pairs) + "}"


def nodes_in_flow(depth: int) -> st.SearchStrategy[str]:
    if depth > 2:
        return scalars()
    return st.one_of(scalars(), flows(depth))


@st.composite
def blocks(draw: st.DrawFn, indent: int, depth: int) -> str:
    pad = " " * indent
    lines: list[str] = []
    sequence = draw(st.booleans())
    for _ in range(draw(st.integers(1, 3))):
        head = "- " if sequence else draw(st.sampled_from(KEYS)) + ":"
        body = draw(block_values(indent, depth))
        if sequence and body.startswith("\n"):
            head = "-"
        elif not sequence and not body.startswith("\n"):
            head += " "
        lines.append(pad + head + body)
        if draw(st.integers(0, 5)) == 0:
            lines.append(pad + draw(st.sampled_from(["# note", "", "  # deeper note"])))
    return "\n".join(lines)


@st.composite
def block_values(draw: st.DrawFn, indent: int, depth: int) -> str:
    choice = draw(st.integers(0, 9 if depth < 2 else 5))
    if choice <= 3:
        return draw(scalars())
    if choice <= 5:
        return draw(flows(depth))
    if choice == 6:
        text = draw(st.sampled_from(["text", R, f"a {R}"]))
        return draw(st.sampled_from(["|", ">-", "|2"])) + "\n" + " " * (indent + 2) + text
    deeper = indent + draw(st.sampled_from([1, 2, 4]))
    if choice == 7:
        return "\n" + " " * deeper + draw(scalars())
    props = draw(st.sampled_from(["", " &a", " !!map", " !!seq"]))
    return props + "\n" + draw(blocks(deeper, depth + 1))


@st.composite
def templates(draw: st.DrawFn) -> str:
    body = draw(st.one_of(blocks(0, 0), flows(0), scalars()))
    start = draw(st.sampled_from(["", "--- ", "---\n", "%YAML 1.1\n---\n", "# top\n"]))
    end = draw(st.sampled_from(["", "\n", "\n...\n", "\n# end\n"]))
    return start + body + end


def replaced(node: object, value: str) -> object:
    """`node` with MARKER replaced by `value` in every string, keys included."""
    if isinstance(node, str):
        return node.replace(MARKER, value)
    if isinstance(node, list):
        return [replaced(item, value) for item in node]
    if isinstance(node, dict):
        return {replaced(key, value): replaced(item, value) for key, item in node.items()}
    return node


def render(text: str, value: str) -> str:
    template = parse_template(text)
    slots = place_references(template, TemplateFormat.YAML)
    values = {reference.key: SecretValue(value) for reference in template.references}
    return substitute(template, slots, values, TemplateFormat.YAML).text


def check(text: str, value: str) -> None:
    """Refused, or PyYAML reads the output as the template's meaning with `value` in it."""
    try:
        meant = replaced(list(yaml.safe_load_all(text.replace(R, MARKER))), value)
    except (yaml.YAMLError, RecursionError):
        # Not YAML even with a harmless word in place, or an alias inside its own
        # anchor: nothing to compare with.
        return
    try:
        output = render(text, value)
    except InvalidInput:
        return
    try:
        got = list(yaml.safe_load_all(output))
    except yaml.YAMLError as exc:
        pytest.fail(f"rendered YAML does not parse: {exc}\n--- output:\n{output}")
    assert got == meant, f"--- template:\n{text}\n--- output:\n{output}"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    text=templates(),
    value=st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=12)),
)
@example(text=f"opts: {{level: -{R}}}", value="x, admin: true")
@example(text=f"opts: [?{R}]", value="x, admin: true")
@example(text=f"&a k: {R}\n  more", value="x")
def test_rendered_yaml_means_what_the_template_says(text: str, value: str) -> None:
    check(text, value)


# Positions where the reference cannot be a whole value; each is refused with
# where it stands and what to write instead.
AMBIGUOUS = [
    (f"opts: {{level: -{R}}}", "quote"),
    (f"opts: [?{R}]", "quote"),
    (f"opts: [a:{R}]", "quote"),
    (f"opts: {{a: :{R}}}", "quote"),
    (f"&a k: {R}\n  more", "next line"),
    (f"- {R}\n  more", "next line"),
    (f"k:\n  {R}\n  more", "next line"),
    (f"k: [{R}\n  more]", "next line"),
    (f"? {R}\n: v", "mapping key"),
    (f"{{ {R} }}", "mapping key"),
    (f"{{a: b, {R}}}", "mapping key"),
]


@pytest.mark.parametrize(("text", "says"), AMBIGUOUS)
def test_ambiguous_positions_are_refused(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        render(text, "x")
    assert says in raised.value.message
    assert "1:" in raised.value.message or "2:" in raised.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"k: {R}\n  # c\nj: 1", {"k": "V, x: 1", "j": 1}),
        (f"- &a k: {R}\n  j: 2", [{"k": "V, x: 1", "j": 2}]),
        (f"k: [{R}\n  , b]", {"k": ["V, x: 1", "b"]}),
        (f'{{"a":{R}}}', {"a": "V, x: 1"}),
        (f"k:\n  {R}\nj: 1", {"k": "V, x: 1", "j": 1}),
        (f"k:\n- {R}\n- b", {"k": ["V, x: 1", "b"]}),
        (f"--- {R}\n...\n", "V, x: 1"),
    ],
)
def test_whole_values_still_render(text: str, expected: object) -> None:
    assert yaml.safe_load(render(text, "V, x: 1")) == expected


def test_reviewers_template_is_refused_through_the_cli(
    run_cli: RunCli, tmp_path: Path, initialized_vault: Path
) -> None:
    env = {"CREDCTL_PASSPHRASE": PASSPHRASE}
    (tmp_path / "value").write_text("x, admin: true", encoding="utf-8")
    created = run_cli("create", "custom", "c", "--field", f"f=@{tmp_path / 'value'}", env=env)
    assert created.returncode == 0, created.stderr
    template = tmp_path / "app.yaml.tmpl"
    template.write_text(f"opts: {{level: -{R}}}\n", encoding="utf-8")
    out = tmp_path / "app.yaml"

    result = run_cli("render", str(template), "-o", str(out), env=env)

    assert result.returncode == 9, result.stderr
    assert_no_traceback(result)
    assert result.stdout == ""
    assert not out.exists()
    assert "1:16" in result.stderr and "quote" in result.stderr
    assert "admin" not in result.stderr
