"""Binding and running the server: where it may listen, and how it stops.

- Loopback (127.0.0.1, the default; ``::1``; ``localhost``) needs nothing more.
  Any other address carries tokens and credential data over the network, so it
  needs TLS (``--tls-cert``/``--tls-key``), or ``--insecure-bind`` from someone who
  knows why (a TLS proxy on the same host), which is warned about at every start.
- A Unix socket (``--uds PATH``) is created 0600: only this user can connect.
- Imported only by ``credctl serve`` when it starts (uvicorn, FastAPI).
- The socket is bound here, before uvicorn starts, so that a busy port is a clear
  error (exit 8) and ``--port 0`` picks a free port that is then announced.
- Only the names the server listens on are accepted in ``Host`` (DNS rebinding);
  a wildcard bind must name its host names with ``--allow-host``.
- SIGTERM and SIGINT stop it gracefully: no new connections, requests under way
  are answered (up to `GRACE` seconds), and a write under way always finishes.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import signal
import socket
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import uvicorn

from credctl.errors import AccessDenied, InvalidInput, UsageError, VaultBusyError

if TYPE_CHECKING:
    from credctl.manager import CredentialManager

LOOPBACK_NAMES: Final = frozenset({"127.0.0.1", "localhost", "[::1]"})
#: Seconds requests under way get to finish after SIGTERM.
GRACE: Final = 30


class Listener:
    """A bound socket, the URL it answers at, and the Host names it accepts."""

    def __init__(
        self, sock: socket.socket, url: str, allowed_hosts: frozenset[str] | None
    ) -> None:
        self.sock = sock
        self.url = url
        self.allowed_hosts = allowed_hosts


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def check_bind(
    host: str, *, tls: bool, insecure_bind: bool, allow_hosts: list[str], uds: str | None
) -> frozenset[str] | None:
    """The Host names to accept, or a `UsageError` when the bind is unsafe."""
    if uds is not None:
        return None  # a Unix socket is not reachable from a browser: any Host
    extra = frozenset(name.lower() for name in allow_hosts)
    if "*" in extra:
        return None
    if is_loopback(host):
        return LOOPBACK_NAMES | extra
    if not tls and not insecure_bind:
        raise UsageError(
            f"refusing to serve credentials over plain HTTP on {host}: anyone on the "
            "network path could read bearer tokens and credential data",
            hint="give --tls-cert and --tls-key, or --insecure-bind if a TLS proxy on this "
            "host terminates the connections",
        )
    if _unspecified(host):
        if not extra:
            raise UsageError(
                f"--host {host} listens on every interface: name the host names clients will use",
                hint="add --allow-host NAME for each (DNS rebinding protection), or "
                "--allow-host '*' if a proxy in front checks Host",
            )
        return LOOPBACK_NAMES | extra
    literal = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return frozenset({literal.lower()}) | extra


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket, or a clear error (busy port: exit 8)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)  # fmt: skip
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise _bind_error(f"{host}:{port}", exc) from None
    sock.set_inheritable(True)
    return sock


def bind_unix(path: str) -> socket.socket:
    """A listening Unix socket at `path`, 0600; a stale socket left by a crash is replaced."""
    target = Path(path)
    with contextlib.suppress(FileNotFoundError):
        info = target.lstat()
        if not stat.S_ISSOCK(info.st_mode):
            raise UsageError(f"{path} exists and is not a socket", hint="choose another --uds")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            target.unlink()  # nobody listens: left behind by a server that died
        else:
            raise VaultBusyError(f"another server is listening on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise _bind_error(path, exc) from None
    finally:
        os.umask(old)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _bind_error(where: str, exc: OSError) -> Exception:
    if exc.errno == errno.EADDRINUSE:
        return VaultBusyError(f"cannot listen on {where}: the address is in use",
                              hint="stop the other server, or choose another --port")  # fmt: skip
    if exc.errno == errno.EACCES:
        return AccessDenied(
            f"cannot listen on {where}: permission denied",
            hint="ports below 1024 need privileges; choose --port 8000",
        )
    return UsageError(f"cannot listen on {where}: {exc.strerror}")


def listen(
    host: str,
    port: int,
    *,
    uds: str | None,
    tls: bool,
    insecure_bind: bool,
    allow_hosts: list[str],
) -> Listener:
    """Check the bind, bind the socket, and say where it answers."""
    allowed = check_bind(host, tls=tls, insecure_bind=insecure_bind, allow_hosts=allow_hosts,
                         uds=uds)  # fmt: skip
    if uds is not None:
        return Listener(bind_unix(uds), f"unix:{uds}", allowed)
    sock = bind_tcp(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return Listener(sock, f"{'https' if tls else 'http'}://{shown}:{bound_port}", allowed)


def logging_config(access_log: bool) -> dict[str, Any]:
    """Method, path and status per request (never headers or bodies), on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "credctl: %(message)s"},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": 'credctl: %(client_addr)s "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            "plain": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn.error": {"handlers": ["plain"], "level": "WARNING", "propagate": False},
            "uvicorn.access": {
                "handlers": ["access"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
            "credctl.server": {"handlers": ["plain"], "level": "INFO", "propagate": False},
        },
    }


def run(
    manager: CredentialManager,
    listener: Listener,
    *,
    tls_cert: str | None,
    tls_key: str | None,
    max_body: int,
    access_log: bool,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully."""
    import ssl

    from credctl.server.app import create_app

    app = create_app(manager, allowed_hosts=listener.allowed_hosts, max_body=max_body)
    config = uvicorn.Config(
        app,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        proxy_headers=False,  # the client address in the audit trail is the peer's
        server_header=False,
        access_log=access_log,
        log_config=logging_config(access_log),
        timeout_graceful_shutdown=GRACE,
        lifespan="off",
    )
    try:
        config.load()
    except (ssl.SSLError, OSError) as exc:
        raise InvalidInput(f"cannot use the TLS certificate or key: {exc}") from None
    server = _Server(config, listener.url)
    # uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again for the
    # handler that was there before it started.  That handler asks for the same
    # graceful stop: a signal that comes before uvicorn took over is not lost, and one
    # re-raised afterwards ends with exit 0 instead of death by the signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.stop_soon)
    server.run(sockets=[listener.sock])
    app.state.credctl.close()


class _Server(uvicorn.Server):
    """uvicorn's server, announcing its address once it really listens."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # its signal handlers are in place: SIGTERM is graceful now
            sys.stderr.write(f"credctl: serving the REST API on {self.url}\n")
            sys.stderr.flush()

    def stop_soon(self, sig: int, frame: object) -> None:
        """Ask for the graceful stop (a signal handler)."""
        self.should_exit = True
