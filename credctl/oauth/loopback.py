"""Browser login on a loopback redirect (RFC 8252 §7.3): the authorization code flow with PKCE.

`LoopbackListener` binds 127.0.0.1 on an ephemeral port and waits for the one request
the provider redirects the browser to, ``http://127.0.0.1:PORT/callback``.  It answers
only that path, only with the `state` of the login it waits for (compared in constant
time); anything else gets a small error page and the wait goes on, so a stray or forged
request can neither complete nor cancel the login.  The matching request is handed to
`CredentialManager.complete_interactive_flow`, and the browser is answered once the
tokens are stored (or not), with a small success or failure page.

The listener never logs a request line: the code is in the query string.  Its pages
never repeat the code, and say ``Referrer-Policy: no-referrer``.

`browser_login` puts it together: listener, `start_interactive_flow`, the browser
(Python's `webbrowser`, so ``$BROWSER`` is honoured, run without the variables that
unlock the vault: `_open`), the wait (5 minutes by default), and
`complete_interactive_flow`.
"""

from __future__ import annotations

import hmac
import html
import os
import queue
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlsplit

from credctl.errors import CredentialError, FlowExpired, InternalError
from credctl.model import BrowserAuth, CallbackData, UserContext

if TYPE_CHECKING:
    from credctl.manager import CredentialManager

CALLBACK_PATH: Final = "/callback"
DEFAULT_TIMEOUT: Final = 300.0
#: How long the browser's request waits for the code exchange before it gets a page.
_ANSWER_WAIT: Final = 60.0

_PAGE: Final = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>credctl: {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;}}
h1{{font-size:1.4rem;color:{color};}}</style></head>
<body><h1>{title}</h1><p>{text}</p></body></html>
"""


def page(title: str, text: str, *, ok: bool) -> bytes:
    """A small self-contained HTML page (no scripts, no external resources)."""
    return _PAGE.format(
        title=html.escape(title), text=html.escape(text), color="#1a7f37" if ok else "#cf222e"
    ).encode()


class Answer:
    """How the main thread tells the waiting browser request what happened."""

    def __init__(self) -> None:
        self._decided = threading.Event()
        self._sent = threading.Event()
        self.ok = False
        self.text = "credctl stopped before the login finished."

    def succeed(self, text: str) -> None:
        """The login worked: show a success page."""
        self.ok, self.text = True, text
        self._settle()

    def fail(self, text: str) -> None:
        """The login failed: show why (a message without secrets)."""
        self.ok, self.text = False, text
        self._settle()

    def _settle(self) -> None:
        self._decided.set()
        self._sent.wait(2.0)  # let the page reach the browser before the process ends

    def wait(self) -> None:
        """(Request thread) wait for the outcome."""
        self._decided.wait(_ANSWER_WAIT)

    def sent(self) -> None:
        """(Request thread) the page is written."""
        self._sent.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    listener: LoopbackListener


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "credctl"
    sys_version = ""
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Never log: the request line carries the authorization code."""

    def do_GET(self) -> None:
        """The redirect from the provider (or anything else that knocks)."""
        listener = self.server.listener
        parts = urlsplit(self.path)
        if parts.path != listener.path:
            self._send(404, page("Not found", "credctl only answers the login redirect.",
                                 ok=False))  # fmt: skip
            return
        params = parse_qs(parts.query, keep_blank_values=True)
        callback, problem = listener.accept(params)
        if callback is None:
            self._send(400, page("Login not completed", problem, ok=False))
            return
        answer = Answer()
        listener.hand_over(callback, answer)
        answer.wait()
        title = "Logged in" if answer.ok else "Login failed"
        self._send(200 if answer.ok else 400, page(title, answer.text, ok=answer.ok))
        answer.sent()

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class LoopbackListener:
    """A one-shot redirect receiver on 127.0.0.1 with an ephemeral port."""

    def __init__(
        self, *, path: str = CALLBACK_PATH, on_refused: Callable[[str], None] | None = None
    ) -> None:
        self.path = path
        self._on_refused = on_refused
        self._expected: str | None = None
        self._taken = False
        self._lock = threading.Lock()
        self._callbacks: queue.Queue[tuple[CallbackData, Answer]] = queue.Queue()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.listener = self
        self.port: int = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="credctl-loopback", daemon=True
        )
        self._thread.start()

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:PORT/callback``: the address, not ``localhost`` (RFC 8252 §8.3)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def expect(self, state: str) -> None:
        """Accept only callbacks that carry this `state`."""
        self._expected = state

    def accept(self, params: Mapping[str, list[str]]) -> tuple[CallbackData | None, str]:
        """(Request thread) the callback if it is the awaited one, else why not."""
        if any(len(values) != 1 for values in params.values()):
            return self._refuse("The sign-in response repeats a parameter.")
        given = {key: values[0] for key, values in params.items()}
        state = given.get("state", "")
        expected = self._expected
        if not expected or not hmac.compare_digest(state.encode(), expected.encode()):
            return self._refuse("This sign-in response does not belong to the login credctl "
                                "is waiting for.")  # fmt: skip
        with self._lock:
            if self._taken:
                return None, "This sign-in response was already used."
            self._taken = True
        return CallbackData.from_query(given), ""

    def _refuse(self, why: str) -> tuple[None, str]:
        if self._on_refused is not None:
            self._on_refused(why)
        return None, why

    def hand_over(self, callback: CallbackData, answer: Answer) -> None:
        """(Request thread) pass the awaited callback to the main thread."""
        self._callbacks.put((callback, answer))

    def wait(self, timeout: float) -> tuple[CallbackData, Answer]:
        """The awaited callback, or `FlowExpired` after `timeout` seconds."""
        try:
            return self._callbacks.get(timeout=timeout)
        except queue.Empty:
            raise FlowExpired(
                f"no sign-in response arrived within {_minutes(timeout)}",
                hint="run the command again and finish the login in the browser; with "
                "--no-browser credctl prints the URL to open yourself",
            ) from None

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _minutes(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"


def browser_login(
    manager: CredentialManager,
    given: Mapping[str, Any],
    *,
    open_browser: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    notify: Callable[[str], None] = lambda message: None,
    context: UserContext | None = None,
) -> int:
    """Log in through the browser and store the tokens; the credential's id.

    `given` is `start_interactive_flow`'s input without ``redirect_uri`` and ``flow``.
    `notify` receives the lines a person should read (the URL, what is awaited).
    """
    with LoopbackListener(
        on_refused=lambda why: notify(f"warning: refused a request to the login listener: {why}")
    ) as listener:
        flow = manager.start_interactive_flow(
            "oauth2",
            {**given, "redirect_uri": listener.redirect_uri, "flow": "browser",
             "expires_in": int(timeout) + 60},
            context,
        )  # fmt: skip
        interaction = flow.interaction_type
        if not isinstance(interaction, BrowserAuth) or flow.state is None:
            raise InternalError("the browser flow did not produce an authorization URL")
        listener.expect(flow.state)
        url = interaction.auth_url
        if open_browser and _open(url):
            notify(f"opened a browser to log in; if nothing appears, open this URL:\n  {url}")
        elif open_browser:
            notify("no browser could be started; open this URL in a browser on this machine "
                   f"(no browser here at all? log in with --device):\n  {url}")  # fmt: skip
        else:
            notify(f"open this URL in a browser on this machine to log in:\n  {url}")
        notify(f"waiting for the browser (up to {_minutes(timeout)}) …")
        try:
            callback, answer = listener.wait(timeout)
        except FlowExpired:
            manager.cancel_interactive_flow(flow.id)
            raise
        try:
            credential_id = manager.complete_interactive_flow(flow.id, callback)
        except CredentialError as exc:
            answer.fail(f"{exc} — see the terminal for what to do next.")
            raise
        except BaseException:
            answer.fail("credctl failed; see the terminal.")
            raise
        answer.succeed("credctl stored the login. You can close this tab.")
        return credential_id


# Run in a separate Python: `webbrowser` chooses the browser as usual.
_OPEN_BROWSER: Final = (
    "import sys, webbrowser\n"
    "try:\n    opened = webbrowser.open(sys.argv[1], new=1)\n"
    "except webbrowser.Error:\n    opened = False\n"
    "sys.exit(0 if opened else 1)\n"
)


def _open(url: str) -> bool:
    """Start the user's browser on `url`; False if none could be started.

    Python's `webbrowser` picks the browser (``$BROWSER`` first, then xdg-open,
    gio … or the platform's own) and starts it with `subprocess`, which passes on
    ``os.environ`` — the passphrase, CI key or session that unlocks the vault
    included (SPEC §14).  It offers no way to pass another environment, and
    changing ``os.environ`` around the call would race with the listener's
    thread.  So `webbrowser` runs in a short-lived Python of its own (isolated
    mode: no ``PYTHON*`` variables, no user site, not the current folder on
    ``sys.path``) whose environment has the unlock variables removed
    (`credctl.child_env.scrub`); the browser inherits that.  As before, this
    waits for a ``$BROWSER`` command to return.
    """
    import subprocess
    import sys

    from credctl.child_env import scrub

    if not sys.executable:
        return False
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _OPEN_BROWSER, url],
            env=scrub(os.environ).environment,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0
