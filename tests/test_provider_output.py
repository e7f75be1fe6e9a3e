"""What a provider sends never drives the terminal (issue 8, finding 8; SPEC §14).

The device flow prints the provider's verification URI and user code; error
responses carry a provider's description.  A hostile provider puts escape
sequences (OSC 8 links, screen clears), bidi overrides and ``javascript:`` URLs
in them.  Control characters are escaped wherever outside text is printed, and a
URL credctl would print or open must be https (or http on loopback), without
user info or control characters; a bad one is the provider's error (exit 10)
and is not shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credctl.oauth.providers import check_url
from credctl.text import one_line, printable
from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback
from tests.local_provider import LocalProvider

ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
OSC8 = "\x1b]8;;http://evil.example/\x07"
# Characters a terminal acts on, or that reorder what the person reads.
ACTIVE = ["\x1b", "\x07", "\x9b", "\x9d", "\x7f", "\u202e", "\u2066", "\x00", "\r"]


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    started = LocalProvider()
    yield started
    started.close()


def device_login(run_cli: RunCli, provider: LocalProvider) -> Any:
    return run_cli(
        "oauth", "login", "box", "--device", "--token-url", f"{provider.url}/token",
        "--device-url", f"{provider.url}/device", "--client-id", "cli", env=ENV,
    )  # fmt: skip


def device_answer(provider: LocalProvider, **fields: str) -> None:
    body = {
        "device_code": "FAKE-device-code",
        "user_code": "WDJB-MJHT",
        "verification_uri": f"{provider.url}/verify",
        "expires_in": 600,
        "interval": 1,
    }
    provider.answer("/device", {**body, **fields})  # fmt: skip


def assert_inert(stderr: str) -> None:
    for char in ACTIVE:
        assert char not in stderr, (char, stderr)
    assert "javascript" not in stderr.lower()
    assert "evil" not in stderr


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"user_code": f"WDJB-{OSC8}MJHT\x1b]8;;\x07"}, "unusable user code"),
        ({"user_code": "\x1b[2J\x1b[HWDJB"}, "unusable user code"),
        ({"user_code": "WDJB\u202eTHJM"}, "unusable user code"),
        ({"verification_uri": "javascript:alert(document.cookie)"}, "unusable verification URI"),
        ({"verification_uri_complete": "javascript:alert(1)//https://ok.example/"},
         "unusable verification URI (complete)"),
        ({"verification_uri_complete": "data:text/html,<script>evil()</script>"},
         "unusable verification URI (complete)"),
        ({"verification_uri": "file:///etc/passwd"}, "unusable verification URI"),
        ({"verification_uri": f"https://ok.example/{OSC8}device"}, "unusable verification URI"),
        ({"verification_uri": "https://ok.example/\u202egnp.exe"}, "unusable verification URI"),
        ({"verification_uri": "https://evil.example@ok.example/"}, "unusable verification URI"),
        ({"verification_uri": "http://evil.example/device"}, "unusable verification URI"),
        ({"verification_uri": "https://ok.example/\ndevice"}, "unusable verification URI"),
    ],
)  # fmt: skip
def test_a_hostile_device_answer_is_refused_and_never_shown(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider, fields: dict[str, str],
    says: str,
) -> None:  # fmt: skip
    device_answer(provider, **fields)

    result = device_login(run_cli, provider)

    assert result.returncode == 10, result.stderr
    assert says in result.stderr
    assert "provider is misconfigured" in result.stderr
    assert result.stdout == ""
    assert_no_traceback(result)
    assert_inert(result.stderr)
    assert not any(path == "/token" for path, _ in provider.requests)  # no polling started
    assert run_cli("list", "--json", env=ENV).stdout.strip() == "[]"


def test_a_sound_device_answer_is_shown_and_the_login_completes(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider
) -> None:
    device_answer(provider, verification_uri_complete=f"{provider.url}/verify?code=WDJB-MJHT")
    provider.answer("/token", {"access_token": "FAKE-at", "token_type": "Bearer",
                               "expires_in": 3600, "refresh_token": "FAKE-rt"})  # fmt: skip

    result = device_login(run_cli, provider)

    assert result.returncode == 0, result.stderr
    assert f"open {provider.url}/verify on any device" in result.stderr
    assert "credctl:   WDJB-MJHT\n" in result.stderr
    assert f"(or open {provider.url}/verify?code=WDJB-MJHT)" in result.stderr
    assert "FAKE-" not in result.stderr


@pytest.mark.parametrize("endpoint", ["/device", "/token"])
def test_provider_error_descriptions_are_escaped(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider, endpoint: str
) -> None:
    hostile = {
        "error": "access_denied\x1b[8m",
        "error_description": f"\x1b[2J{OSC8}click here\x1b]8;;\x07 \u202eyaw siht\x9b31m",
    }
    device_answer(provider)
    provider.answer(endpoint, hostile, status=400)  # fmt: skip

    result = device_login(run_cli, provider)

    assert result.returncode in (5, 9), result.stderr
    for char in ACTIVE:
        assert char not in result.stderr, (char, result.stderr)
    assert "\\x1b[2J" in result.stderr  # shown as text, so the person sees what was sent
    assert "\\u202e" in result.stderr


def test_a_discovery_document_with_a_hostile_endpoint_is_refused(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider
) -> None:
    provider.answer("/.well-known/openid-configuration", {
        "issuer": provider.url, "token_endpoint": f"{provider.url}/token",
        "authorization_endpoint": f"https://ok.example/{OSC8}auth"})  # fmt: skip

    result = run_cli("oauth", "login", "x", "--issuer", provider.url, "--client-id", "c",
                     "--no-browser", env=ENV)  # fmt: skip

    assert result.returncode == 10, result.stderr
    assert "unusable authorization endpoint" in result.stderr
    assert_inert(result.stderr)


# -- the shared escaping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text é 😀", "plain text é 😀"),
        (f"a{OSC8}b", "a\\x1b]8;;http://evil.example/\\x07b"),
        ("\x9b31m\x7f\x00", "\\x9b31m\\x7f\\x00"),
        ("tab\tnew\nline\r", "tab\\tnew\\nline\\r"),
        ("\u202eevil\u2066\u2069\u200f", "\\u202eevil\\u2066\\u2069\\u200f"),
        ("\u2028\u2029\U000e0041", "\\u2028\\u2029\\U000e0041"),
    ],
)
def test_printable_escapes_everything_a_terminal_acts_on(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_one_line_cuts_and_ignores_what_is_not_text() -> None:
    assert one_line("  abcdefghijkl ", 5) == "abcd…"
    assert one_line({"not": "text"}) == ""
    assert one_line(" \x1b[31m ") == "\\x1b[31m"


@pytest.mark.parametrize(
    "url",
    ["https://ok.example/\x1b]8;;x\x07", "https://ok.example/a b", "https://ok.example/\t",
     "https://ök.example/", "https://ok.example/" + "a" * 2100, ""],
)  # fmt: skip
def test_check_url_refuses_what_it_could_not_print(url: str) -> None:
    from credctl.errors import InvalidInput

    with pytest.raises(InvalidInput) as raised:
        check_url(url, "issuer")
    assert "\x1b" not in raised.value.message


def test_scopes_named_in_the_not_granted_warning_are_escaped(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider
) -> None:
    """Scopes come from the command line or an earlier login stored in the vault."""
    device_answer(provider)
    provider.answer("/token", {"access_token": "FAKE-at", "token_type": "Bearer",
                               "expires_in": 3600, "scope": "openid"})  # fmt: skip

    result = run_cli(
        "oauth", "login", "box", "--device", "--token-url", f"{provider.url}/token",
        "--device-url", f"{provider.url}/device", "--client-id", "cli",
        "--scope", f"openid api{OSC8}", env=ENV,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "did not grant: api\\x1b]8;;" in result.stderr
    for char in ACTIVE:
        assert char not in result.stderr, (char, result.stderr)
