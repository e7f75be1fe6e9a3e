"""The default vault's folder is platformdirs' user data folder, with or without platformdirs."""

from __future__ import annotations

import sys

import platformdirs
import pytest

from credctl.paths import default_vault_path, user_data_dir


@pytest.mark.parametrize("xdg", [None, "", "   ", "/srv/data", "/srv/data/", "relative/data"])
@pytest.mark.parametrize("home", [None, "/home/someone", "/home/someone/", "/", "relative"])
def test_the_linux_rule_is_platformdirs_rule(
    xdg: str | None, home: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the rule without platformdirs applies on Linux only")
    for name, value in (("XDG_DATA_HOME", xdg), ("HOME", home)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert user_data_dir() == platformdirs.user_data_dir("credctl")


def test_credctl_vault_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDCTL_VAULT", "~/somewhere/v.credctl")
    assert str(default_vault_path()).endswith("/somewhere/v.credctl")
    monkeypatch.delenv("CREDCTL_VAULT")
    assert default_vault_path().name == "vault.credctl"
    assert str(default_vault_path().parent) == platformdirs.user_data_dir("credctl")
