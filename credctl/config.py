"""The config file (SPEC §13): ``config.toml`` in the user config folder, or ``CREDCTL_CONFIG``.

It holds defaults a user would otherwise repeat on every command line; flags and
environment variables always win over it.  Keys:

- ``backend``: where the encrypted records live (a backend URL, SPEC §13);
- ``vault``: the vault file when no backend is chosen.

It is read with `tomllib` and written with `tomli-w` by ``credctl config
set|get|list|unset``, mode 0600.  `get-token` runs hundreds of times a day and
importing `tomllib` alone costs ~10 ms, so the command line never parses the
file on its fast path when a flag or variable already decides, and otherwise
reads a small JSON copy of the parsed values (``config-cache.json`` in the user
state folder), valid while the file's inode, size and modification time are
unchanged.  Without a config file it costs one ``stat``.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from credctl.errors import InvalidInput

#: Every key the config file may hold, with what it means (`config list` shows them).
KEYS: dict[str, str] = {
    "backend": "where the encrypted records live: sqlite:///PATH, postgresql://…, "
    "vault://HOST/MOUNT, awssm://REGION/PREFIX or azurekv://NAME",
    "vault": "the vault file used when no backend is chosen",
}
CACHE_NAME = "config-cache.json"


def _xdg(variable: str, fallback: str, kind: str) -> Path:
    """An XDG folder of credctl without importing platformdirs on Linux (as
    `credctl.paths.user_data_dir` does: platformdirs costs every command milliseconds)."""
    import sys

    if sys.platform.startswith("linux"):
        value, home = os.environ.get(variable, ""), os.environ.get("HOME", "")
        if os.path.isabs(value):
            return Path(value) / "credctl"
        if os.path.isabs(home):
            return Path(home) / fallback / "credctl"
    import platformdirs

    found = getattr(platformdirs, f"user_{kind}_dir")("credctl")
    return Path(str(found))


def config_path() -> Path:
    """``CREDCTL_CONFIG``, else ``config.toml`` in ``platformdirs.user_config_dir``."""
    configured = os.environ.get("CREDCTL_CONFIG")
    if configured:
        return Path(configured).expanduser()
    return _xdg("XDG_CONFIG_HOME", ".config", "config") / "config.toml"


def _cache_path() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state", "state") / CACHE_NAME


def _stamp(info: os.stat_result) -> list[int]:
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def load(path: Path | None = None) -> dict[str, Any]:
    """The config file's values ({} when there is none); exit 9 when it does not parse."""
    path = path or config_path()
    try:
        info = path.stat()
    except OSError:
        return {}
    cache = _cache_path()
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        cached = json.loads(cache.read_bytes())
        if cached["path"] == str(path) and cached["stamp"] == _stamp(info):
            values = cached["values"]
            if isinstance(values, dict):
                return values
    values = parse(path)
    _write_cache(path, info, values)
    return values


def parse(path: Path) -> dict[str, Any]:
    """Parse the TOML file itself (exit 9 when it is not valid TOML)."""
    import tomllib

    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            f"the config file {path} is not valid TOML ({exc})",
            hint="fix it, or rewrite it with `credctl config set KEY VALUE`",
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read the config file {path} ({exc.strerror})") from None
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise InvalidInput(
            f"the config file {path} has unknown keys: {', '.join(unknown)}",
            hint="known keys: " + ", ".join(KEYS),
        )
    for key, value in values.items():
        if not isinstance(value, str):
            raise InvalidInput(f"{key} in the config file {path} must be a string")
    return values


def _write_cache(path: Path, info: os.stat_result, values: dict[str, Any]) -> None:
    cache = _cache_path()
    with contextlib.suppress(OSError):
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = cache.with_name(f"{CACHE_NAME}.{os.getpid()}.tmp")
        data = json.dumps({"path": str(path), "stamp": _stamp(info), "values": values})
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
        os.replace(temporary, cache)


def check_value(key: str, value: str) -> str:
    """Refuse an unknown key, or a value that cannot be right (exit 9)."""
    if key not in KEYS:
        raise InvalidInput(f"unknown config key {key!r}", hint="known keys: " + ", ".join(KEYS))
    if not value:
        raise InvalidInput(f"{key} needs a value", hint=f"`credctl config unset {key}` removes it")
    if key == "backend":
        from urllib.parse import urlsplit

        from credctl.model import StorageBackend

        StorageBackend.from_url(value)  # an unknown scheme is exit 9
        if urlsplit(value).password:
            raise InvalidInput(
                "the backend URL holds a password; the config file must not",
                hint="give PostgreSQL's password with PGPASSWORD or ~/.pgpass",
            )
    return value


def save(values: dict[str, Any], path: Path | None = None) -> Path:
    """Write the values as TOML (0600, atomically); the path written."""
    import tomli_w

    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, tomli_w.dumps(values).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    with contextlib.suppress(OSError):
        _write_cache(path, path.stat(), values)
    return path


class Location:
    """Where a command's vault is: a backend URL, or a vault file path."""

    __slots__ = ("backend", "origin", "vault")

    def __init__(self, backend: str | None, vault: Path | None, origin: str) -> None:
        self.backend = backend
        self.vault = vault
        self.origin = origin

    def __repr__(self) -> str:
        return f"Location(backend={self.backend!r}, vault={self.vault!r}, origin={self.origin!r})"


def locate(flag_vault: str | None, flag_backend: str | None) -> Location:
    """Flags, then environment, then the config file, then the default vault file."""
    if flag_vault and flag_backend:
        from credctl.errors import UsageError

        raise UsageError(
            "--vault and --backend name two different places; give one",
            hint="a vault file is --vault PATH; a shared backend is --backend URL",
        )
    if flag_backend:
        return _backend(flag_backend, "--backend")
    if flag_vault:
        return Location(None, Path(flag_vault).expanduser(), "--vault")
    env_backend = os.environ.get("CREDCTL_BACKEND")
    if env_backend:
        return _backend(env_backend, "CREDCTL_BACKEND")
    env_vault = os.environ.get("CREDCTL_VAULT")
    if env_vault:
        return Location(None, Path(env_vault).expanduser(), "CREDCTL_VAULT")
    values = load()
    if values.get("backend"):
        return _backend(str(values["backend"]), "the config file")
    if values.get("vault"):
        return Location(None, Path(str(values["vault"])).expanduser(), "the config file")
    return Location(None, None, "default")


def _backend(url: str, origin: str) -> Location:
    """A ``file:`` URL or a plain path given as a backend is a vault file."""
    if url.startswith("file:"):
        path = url[5:]
        return Location(None, Path(path[2:] if path.startswith("//") else path), origin)
    if ":" not in url:
        return Location(None, Path(url).expanduser(), origin)
    return Location(url, None, origin)
