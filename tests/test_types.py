"""Credential types, names and SecretValue: table-driven, with a recognisable fake secret.

Every refusal is checked twice: the message names the field at fault, and neither
the message nor the hint contains the secret that was in the input.
"""

from __future__ import annotations

import base64
import copy
import logging
import pickle
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import credctl.types as registry
from credctl.errors import ExitCode, InvalidInput, NotFound, NoToken, UnsupportedType
from credctl.secret import SecretValue
from credctl.types import CredentialType, FieldSpec, get_type, type_names
from credctl.types.names import env_prefix, validate_name

SECRET = "FAKE-SECRET-7c3e9a"  # recognisable, so a leak is easy to spot
BUILTIN = ["api_key", "token", "basic_auth", "oauth2", "smtp", "custom"]
SMTP_BASE = {"host": "smtp.example.com", "username": "mailer", "password": SECRET}


def assert_no_leak(exc: BaseException) -> None:
    text = f"{exc} {getattr(exc, 'hint', '')} {exc!r}"
    assert SECRET not in text


# -- valid input normalizes as documented -------------------------------------------------

VALID: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "api_key defaults",
        "api_key",
        {"key": SECRET},
        {"key": SECRET, "param_name": "X-API-Key", "location": "header"},
    ),
    (
        "api_key alias from the seed",
        "api_key",
        {"api_key": SECRET, "param_name": "X-API-Key"},
        {"key": SECRET, "param_name": "X-API-Key", "location": "header"},
    ),
    (
        "api_key in query",
        "api_key",
        {"key": SECRET, "param_name": "api key", "location": "query"},
        {"key": SECRET, "param_name": "api key", "location": "query"},
    ),
    ("token", "token", {"token": SECRET}, {"token": SECRET}),
    (
        "basic_auth",
        "basic_auth",
        {"username": "admin", "password": SECRET},
        {"username": "admin", "password": SECRET},
    ),
    (
        "basic_auth empty password",
        "basic_auth",
        {"username": SECRET, "password": ""},
        {"username": SECRET, "password": ""},
    ),
    (
        "oauth2 as in the REST seed",
        "oauth2",
        {
            "client_id": "xxxxx.apps.googleusercontent.com",
            "client_secret": SECRET,
            "access_token": SECRET,
            "refresh_token": SECRET,
            "token_expiry": "2025-12-01T10:00:00Z",
        },
        {
            "client_id": "xxxxx.apps.googleusercontent.com",
            "client_secret": SECRET,
            "access_token": SECRET,
            "refresh_token": SECRET,
            "token_expiry": "2025-12-01T10:00:00Z",
        },
    ),
    (
        "oauth2 scopes as string, expiry with offset and nanoseconds",
        "oauth2",
        {
            "provider": "google",
            "client_id": "c",
            "scopes": "email  profile",
            "token_expiry": "2025-12-01t12:30:00.123456789+02:00",
        },
        {
            "client_id": "c",
            "token_expiry": "2025-12-01T10:30:00.123456Z",
            "scopes": ["email", "profile"],
            "provider": "google",
        },
    ),
    (
        "oauth2 scopes as list, null fields unset",
        "oauth2",
        {"access_token": SECRET, "scopes": ["email", "profile"], "refresh_token": None},
        {"access_token": SECRET, "scopes": ["email", "profile"]},
    ),
    (
        "smtp as in the REST seed",
        "smtp",
        {
            **SMTP_BASE,
            "port": 587,
            "use_tls": True,
            "from_email": "notifications@company.com",
            "from_name": "Company Notifications",
        },
        {
            **SMTP_BASE,
            "port": 587,
            "use_tls": True,
            "from_email": "notifications@company.com",
            "from_name": "Company Notifications",
        },
    ),
    (
        "smtp strings from --field, defaults",
        "smtp",
        {**SMTP_BASE, "port": "465", "use_tls": "False"},
        {**SMTP_BASE, "port": 465, "use_tls": False},
    ),
    ("smtp defaults", "smtp", SMTP_BASE, {**SMTP_BASE, "port": 587, "use_tls": True}),
    (
        "custom as in the REST seed",
        "custom",
        {"api_key": "key123", "api_secret": SECRET, "region": "us-east-1", "n": 3, "on": True},
        {"api_key": "key123", "api_secret": SECRET, "region": "us-east-1", "n": 3, "on": True},
    ),
    (
        "custom with token_field",
        "custom",
        {"a": SECRET, "b": 1.5, "token_field": "a"},
        {"a": SECRET, "b": 1.5, "token_field": "a"},
    ),
    (
        "value of exactly 64 KiB",
        "token",
        {"token": "x" * 65536},
        {"token": "x" * 65536},
    ),
]


@pytest.mark.parametrize(
    ("type_name", "data", "expected"),
    [case[1:] for case in VALID],
    ids=[case[0] for case in VALID],
)
def test_valid_input_normalizes(
    type_name: str, data: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Aliases become canonical names, defaults are filled, strings become ints and bools."""
    before = dict(data)
    assert expected == get_type(type_name).validate(data)
    assert before == data  # the caller's mapping is never changed


# -- invalid input: InvalidInput names the field, never shows the secret ---------------------

INVALID: list[tuple[str, str, Any, str]] = [
    ("api_key missing key", "api_key", {"param_name": "X-Key"}, "key"),
    ("api_key unknown field", "api_key", {"key": SECRET, "bogus": SECRET}, "bogus"),
    ("api_key key and alias", "api_key", {"key": SECRET, "api_key": SECRET}, "key"),
    ("api_key key not a string", "api_key", {"key": [SECRET]}, "key"),
    ("api_key key empty", "api_key", {"key": ""}, "key"),
    ("api_key key over 64 KiB", "api_key", {"key": SECRET * 4000}, "key"),
    ("api_key key with newline", "api_key", {"key": SECRET + "\n"}, "key"),
    ("api_key key with NUL", "api_key", {"key": SECRET + "\x00"}, "key"),
    ("api_key key lone surrogate", "api_key", {"key": SECRET + "\ud800"}, "key"),
    ("api_key bad location", "api_key", {"key": SECRET, "location": "body"}, "location"),
    ("api_key bad header name", "api_key", {"key": SECRET, "param_name": "X Key"}, "param_name"),
    ("token missing", "token", {}, "token"),
    ("token wrong type", "token", {"token": 12345}, "token"),
    ("token unknown field", "token", {"token": SECRET, "value": SECRET}, "value"),
    ("token with CR", "token", {"token": SECRET + "\r"}, "token"),
    ("basic_auth missing password", "basic_auth", {"username": "u"}, "password"),
    ("basic_auth missing username", "basic_auth", {"password": SECRET}, "username"),
    ("basic_auth colon", "basic_auth", {"username": "a:b", "password": SECRET}, "username"),
    ("basic_auth password int", "basic_auth", {"username": "u", "password": 7}, "password"),
    ("oauth2 nothing usable", "oauth2", {"provider": "google"}, "access_token"),
    (
        "oauth2 expiry not a date",
        "oauth2",
        {"access_token": SECRET, "token_expiry": SECRET},
        "token_expiry",
    ),
    (
        "oauth2 no time zone",
        "oauth2",
        {"access_token": SECRET, "token_expiry": "2025-12-01T10:00:00"},
        "token_expiry",
    ),
    (
        "oauth2 month 13",
        "oauth2",
        {"access_token": SECRET, "token_expiry": "2025-13-01T10:00:00Z"},
        "token_expiry",
    ),
    (
        "oauth2 before year 1 in UTC",
        "oauth2",
        {"access_token": SECRET, "token_expiry": "0001-01-01T00:00:00+01:00"},
        "token_expiry",
    ),
    (
        "oauth2 epoch expiry",
        "oauth2",
        {"access_token": SECRET, "token_expiry": 17e8},
        "token_expiry",
    ),
    ("oauth2 scope not str", "oauth2", {"access_token": SECRET, "scopes": ["a", 1]}, "scopes"),
    ("oauth2 scope object", "oauth2", {"access_token": SECRET, "scopes": {"a": 1}}, "scopes"),
    ("oauth2 scope with space", "oauth2", {"access_token": SECRET, "scopes": ["a b"]}, "scopes"),
    ("oauth2 unknown field", "oauth2", {"access_token": SECRET, "id_token": SECRET}, "id_token"),
    ("smtp port 0", "smtp", {**SMTP_BASE, "port": 0}, "port"),
    ("smtp port 65536", "smtp", {**SMTP_BASE, "port": 65536}, "port"),
    ("smtp port huge", "smtp", {**SMTP_BASE, "port": 10**5000}, "port"),
    ("smtp port text", "smtp", {**SMTP_BASE, "port": "smtp"}, "port"),
    ("smtp port negative text", "smtp", {**SMTP_BASE, "port": "-1"}, "port"),
    ("smtp port float", "smtp", {**SMTP_BASE, "port": 25.0}, "port"),
    ("smtp port bool", "smtp", {**SMTP_BASE, "port": True}, "port"),
    ("smtp port arabic digit", "smtp", {**SMTP_BASE, "port": "٣"}, "port"),
    ("smtp use_tls yes", "smtp", {**SMTP_BASE, "use_tls": "yes"}, "use_tls"),
    ("smtp use_tls 1", "smtp", {**SMTP_BASE, "use_tls": 1}, "use_tls"),
    ("smtp missing host", "smtp", {"username": "u", "password": SECRET}, "host"),
    ("custom nested object", "custom", {"a": {"b": SECRET}}, "a"),
    ("custom array", "custom", {"a": [SECRET]}, "a"),
    ("custom null", "custom", {"a": None}, "a"),
    ("custom NaN", "custom", {"a": float("nan")}, "a"),
    ("custom int beyond 64 bits", "custom", {"a": 2**64}, "a"),
    ("custom field with dot", "custom", {"a.b": SECRET}, "a.b"),
    ("custom field leading dash", "custom", {"-a": SECRET}, "-a"),
    ("custom field with space", "custom", {"a b": SECRET}, "a b"),
    ("custom env collision", "custom", {"a-b": SECRET, "a_b": SECRET}, "a_b"),
    ("custom case collision", "custom", {"Key": SECRET, "key": SECRET}, "key"),
    ("custom token_field missing", "custom", {"a": SECRET, "token_field": "b"}, "token_field"),
    ("custom token_field not str", "custom", {"a": SECRET, "token_field": 1}, "token_field"),
    ("custom token_field itself", "custom", {"a": 1, "token_field": "token_field"}, "token_field"),
    ("custom value over 64 KiB", "custom", {"big": SECRET * 4000}, "big"),
]


@pytest.mark.parametrize(
    ("type_name", "data", "field"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_input_names_the_field(type_name: str, data: Any, field: str) -> None:
    """Each refusal is InvalidInput (exit 9), names the field, and leaks nothing."""
    before = dict(data)
    with pytest.raises(InvalidInput) as caught:
        get_type(type_name).validate(data)
    assert repr(field) in str(caught.value)
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert_no_leak(caught.value)
    assert before == data


@pytest.mark.parametrize("type_name", BUILTIN)
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (["not", "an", "object"], "JSON object"),
        ({f"f{i}": SECRET for i in range(101)}, "100"),
        ({1: SECRET}, "not a string"),
    ],
    ids=["not a mapping", "101 fields", "non-string field name"],
)
def test_shape_errors_apply_to_every_type(type_name: str, data: Any, words: str) -> None:
    """Shape limits come before any per-type rule, the same for every type."""
    with pytest.raises(InvalidInput, match=words) as caught:
        get_type(type_name).validate(data)
    assert_no_leak(caught.value)


def test_custom_allows_exactly_100_fields() -> None:
    data = {f"f{i}": SECRET for i in range(99)} | {"token_field": "f0"}
    assert data == get_type("custom").validate(data)


def test_custom_needs_a_field() -> None:
    with pytest.raises(InvalidInput, match="no fields"):
        get_type("custom").validate({"token_field": "a"})


# -- token, header, env names and field values -------------------------------------------

BASIC = base64.b64encode(f"admin:{SECRET}".encode()).decode()
OUTPUTS: list[tuple[str, dict[str, Any], str, str | None, list[tuple[str, str]]]] = [
    (
        "api_key",
        {"api_key": SECRET, "param_name": "X-Token"},
        SECRET,
        f"X-Token: {SECRET}",
        [("MY_CRED_KEY", "key")],
    ),
    ("api_key", {"key": SECRET, "location": "query"}, SECRET, None, [("MY_CRED_KEY", "key")]),
    (
        "token",
        {"token": SECRET},
        SECRET,
        f"Authorization: Bearer {SECRET}",
        [("MY_CRED_TOKEN", "token")],
    ),
    (
        "basic_auth",
        {"username": "admin", "password": SECRET},
        BASIC,
        f"Authorization: Basic {BASIC}",
        [("MY_CRED_USERNAME", "username"), ("MY_CRED_PASSWORD", "password")],
    ),
    (
        "oauth2",
        {"access_token": SECRET, "refresh_token": "r"},
        SECRET,
        f"Authorization: Bearer {SECRET}",
        [("MY_CRED_ACCESS_TOKEN", "access_token")],
    ),
    (
        "smtp",
        {**SMTP_BASE, "from_name": "Ops"},
        SECRET,
        None,
        [
            ("MY_CRED_HOST", "host"),
            ("MY_CRED_PORT", "port"),
            ("MY_CRED_USERNAME", "username"),
            ("MY_CRED_PASSWORD", "password"),
            ("MY_CRED_USE_TLS", "use_tls"),
            ("MY_CRED_FROM_NAME", "from_name"),
        ],
    ),
    (
        "custom",
        {"zone": "eu", "api-secret": SECRET, "token_field": "api-secret"},
        SECRET,
        None,
        [("MY_CRED_API_SECRET", "api-secret"), ("MY_CRED_ZONE", "zone")],
    ),
    ("custom", {"only": 42}, "42", None, [("MY_CRED_ONLY", "only")]),
]


@pytest.mark.parametrize(
    ("type_name", "data", "token", "header", "env"),
    OUTPUTS,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(OUTPUTS)],
)
def test_token_header_env(
    type_name: str,
    data: dict[str, Any],
    token: str,
    header: str | None,
    env: list[tuple[str, str]],
) -> None:
    kind = get_type(type_name)
    stored = kind.validate(data)
    assert token == kind.token(stored)
    assert header == kind.header(stored)
    assert env == kind.env_vars("my-cred", stored)


@pytest.mark.parametrize(
    ("type_name", "data", "field", "text"),
    [
        ("api_key", {"key": SECRET}, "key", SECRET),
        ("api_key", {"key": SECRET}, "api_key", SECRET),  # the alias reads too
        ("api_key", {"key": SECRET}, "param_name", "X-API-Key"),
        ("smtp", SMTP_BASE, "port", "587"),
        ("smtp", {**SMTP_BASE, "use_tls": False}, "use_tls", "false"),
        ("smtp", SMTP_BASE, "use_tls", "true"),
        ("oauth2", {"client_id": "c", "scopes": ["a", "b:c"]}, "scopes", "a b:c"),
        ("custom", {"n": -7, "f": 0.5, "b": False}, "n", "-7"),
        ("custom", {"n": -7, "f": 0.5, "b": False}, "f", "0.5"),
        ("custom", {"n": -7, "f": 0.5, "b": False}, "b", "false"),
    ],
)
def test_field_value_renders_text(
    type_name: str, data: dict[str, Any], field: str, text: str
) -> None:
    kind = get_type(type_name)
    assert text == kind.field_value(kind.validate(data), field)


@pytest.mark.parametrize(
    ("type_name", "data", "field", "named"),
    [
        ("api_key", {"key": SECRET}, "secret", "param_name"),
        ("oauth2", {"access_token": SECRET}, "refresh_token", "access_token"),
        ("smtp", SMTP_BASE, "from_email", "host"),
        ("custom", {"a": SECRET, "b": SECRET}, "c", "a, b"),
    ],
    ids=["unknown", "unset oauth2", "unset smtp", "custom"],
)
def test_field_value_not_found(
    type_name: str, data: dict[str, Any], field: str, named: str
) -> None:
    """NotFound (exit 3) names the field asked for and the fields there are."""
    kind = get_type(type_name)
    with pytest.raises(NotFound) as caught:
        kind.field_value(kind.validate(data), field)
    assert repr(field) in str(caught.value)
    assert named in (caught.value.hint or "")
    assert caught.value.exit_code == ExitCode.NOT_FOUND
    assert_no_leak(caught.value)


@pytest.mark.parametrize(
    ("type_name", "data", "secret"),
    [
        ("api_key", {"key": SECRET}, {"key"}),
        ("token", {"token": SECRET}, {"token"}),
        ("basic_auth", {"username": "u", "password": SECRET}, {"password"}),
        (
            "oauth2",
            {"access_token": SECRET},
            {"client_secret", "access_token", "refresh_token"},
        ),
        ("smtp", SMTP_BASE, {"password"}),
        ("custom", {"a": SECRET, "b": 1, "token_field": "a"}, {"a", "b"}),
    ],
)
def test_secret_fields(type_name: str, data: dict[str, Any], secret: set[str]) -> None:
    kind = get_type(type_name)
    assert frozenset(secret) == kind.secret_fields(kind.validate(data))


def test_only_oauth2_is_refreshable() -> None:
    assert [name for name in BUILTIN if get_type(name).refreshable] == ["oauth2"]


def test_field_specs_describe_the_types() -> None:
    key = get_type("api_key").fields["key"]
    assert FieldSpec("key", "str", True, True, None, ("api_key",), key.description) == key
    assert get_type("smtp").fields["port"].kind == "int"
    assert all(get_type(name).description for name in BUILTIN)


# -- custom token_field rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "token"),
    [
        ({"a": SECRET}, SECRET),
        ({"a": "x", "b": SECRET, "token_field": "b"}, SECRET),
        ({"n": 12}, "12"),
        ({"flag": True, "token_field": "flag"}, "true"),
    ],
)
def test_custom_token(data: dict[str, Any], token: str) -> None:
    kind = get_type("custom")
    stored = kind.validate(data)
    assert token == kind.token(stored)
    assert "token_field" not in dict(kind.env_vars("c", stored)).values()
    assert "token_field" not in kind.secret_fields(stored)


def test_custom_without_token_field_has_no_token() -> None:
    """Several fields and no token_field: NoToken (exit 3), not a guess."""
    kind = get_type("custom")
    with pytest.raises(NoToken) as caught:
        kind.token(kind.validate({"a": SECRET, "b": SECRET}))
    assert caught.value.exit_code == ExitCode.NOT_FOUND
    assert_no_leak(caught.value)


def test_oauth2_without_access_token_has_no_token() -> None:
    kind = get_type("oauth2")
    stored = kind.validate({"client_id": "c", "refresh_token": SECRET})
    with pytest.raises(NoToken):
        kind.token(stored)
    with pytest.raises(NoToken):
        kind.header(stored)


# -- the registry ------------------------------------------------------------------------


def test_builtin_names() -> None:
    assert type_names()[:6] == BUILTIN
    assert all(name == get_type(name).name for name in BUILTIN)


@pytest.mark.parametrize("name", ["nope", "API_KEY", "", "api_key "])
def test_unknown_type(name: str) -> None:
    with pytest.raises(UnsupportedType) as caught:
        get_type(name)
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert all(builtin in (caught.value.hint or "") for builtin in BUILTIN)


PLUGIN = """
from credctl.types.base import CredentialType, FieldSpec, field_map

class DemoType(CredentialType):
    name = "demo"
    description = "a demo"
    fields = field_map(FieldSpec("pin", secret=True, required=True))
    env_fields = ("pin",)

    def token(self, data):
        return self.stored(data, "pin")

class Misnamed(DemoType):
    name = "other"
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """A real plugin module on sys.path and a controllable list of entry points."""
    module = f"credctl_demo_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        EntryPoint("demo", f"{module}:DemoType", "credctl.types"),
        EntryPoint("broken", f"{module}:Missing", "credctl.types"),
        EntryPoint("mismatch", f"{module}:Misnamed", "credctl.types"),
        EntryPoint("token", f"{module}:DemoType", "credctl.types"),
    ]
    with registry.testonly_entry_points(lambda: points):
        yield points
    sys.modules.pop(module, None)


def test_plugin_type_is_loaded_from_entry_point(plugins: list[EntryPoint]) -> None:
    demo = get_type("demo")
    assert isinstance(demo, CredentialType)
    assert demo is get_type("demo")  # loaded once
    assert demo.env_vars("x", demo.validate({"pin": SECRET})) == [("X_PIN", "pin")]
    assert type_names()[6:] == ["broken", "demo", "mismatch"]


@pytest.mark.parametrize("name", ["broken", "mismatch"])
def test_bad_plugin_is_unsupported(plugins: list[EntryPoint], name: str) -> None:
    with pytest.raises(UnsupportedType, match=name):
        get_type(name)


def test_builtin_wins_and_never_reads_entry_points() -> None:
    def fail() -> list[EntryPoint]:
        raise AssertionError("entry points read for a built-in type")

    with registry.testonly_entry_points(fail):
        assert get_type("token").name == "token"
        assert type(get_type("token")).__name__ == "TokenType"


def test_entry_point_seam_restores_the_installed_plugins(plugins: list[EntryPoint]) -> None:
    assert get_type("demo").name == "demo"
    with registry.testonly_entry_points(list), pytest.raises(UnsupportedType):
        get_type("demo")  # neither read from `list` nor left loaded from before
    assert get_type("demo").name == "demo"


# -- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "Z", "0a", "1password", "github-ci", "aws_prod", "a-", "a_", "x" * 128]
)
def test_valid_names(name: str) -> None:
    assert name == validate_name(name)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("123", "all digits"),
        ("0", "all digits"),
        ("a.b", "dot"),
        ("x" * 129, "129 characters"),
        ("-a", "start with"),
        ("_a", "start with"),
        ("ünïcode", "'ü'"),
        ("a b", "' '"),
        ("a\n", "'\\n'"),
        ("a/b", "'/'"),
        ("٣", "'٣'"),
    ],
)
def test_invalid_names(name: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_name(name)
    assert reason in str(caught.value)
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert caught.value.hint


@pytest.mark.parametrize(
    ("name", "prefix"), [("github", "GITHUB"), ("aws-prod", "AWS_PROD"), ("My_Key", "MY_KEY")]
)
def test_env_prefix(name: str, prefix: str) -> None:
    assert prefix == env_prefix(name)


# -- SecretValue -------------------------------------------------------------------------


def test_secret_value_never_shows_itself(caplog: pytest.LogCaptureFixture) -> None:
    secret = SecretValue(SECRET)
    shown = [
        str(secret),
        repr(secret),
        format(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>10}",
        "%s %r" % (secret, secret),  # noqa: UP031 (printf style is what logging uses)
        "{}".format(secret),  # noqa: UP032
        repr([secret]),
        repr({"token": secret}),
    ]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("credctl.test").debug("token %s %r", secret, secret)
        logging.getLogger("credctl.test").info("token=%(t)s", {"t": secret})
    assert all(SECRET not in text for text in shown)
    assert "***" == str(secret) == repr(secret)
    assert f"{secret:>10}" == "       ***"
    assert SECRET not in caplog.text
    assert "***" in caplog.text


def test_secret_value_expose_and_equality() -> None:
    secret = SecretValue(SECRET)
    assert secret.expose() == SECRET
    assert SecretValue(SECRET) == secret
    assert SecretValue("other") != secret
    assert secret != SECRET  # never equal to the bare string
    assert hash(SecretValue(SECRET)) == hash(secret)
    assert len({secret, SecretValue(SECRET)}) == 1
    assert SecretValue("\ud800") == SecretValue("\ud800")


def test_secret_value_is_immutable_and_wraps_str_only() -> None:
    secret = SecretValue(SECRET)
    with pytest.raises(AttributeError):
        secret._value = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        SecretValue(b"bytes")  # type: ignore[arg-type]


def test_secret_value_copies_share_and_pickling_refuses() -> None:
    secret = SecretValue(SECRET)
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"t": secret})["t"] is secret
    with pytest.raises(TypeError) as caught:
        pickle.dumps(secret)
    assert_no_leak(caught.value)
