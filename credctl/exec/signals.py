"""Signals for a masked command: sent on to its process group, and the relay woken up.

`SignalForwarder` installs, for the time the command runs, handlers that send
SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 on to the command's
process group (signals credctl's caller ignored stay ignored and are not sent
on: the command inherits that), copy the terminal's size to the pty on
SIGWINCH (or send SIGWINCH on, with pipes), and wake the relay loop through
`signal.set_wakeup_fd` on every signal, SIGCHLD included, so that the loop
never sleeps through the command's exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import termios
from types import FrameType
from typing import Any, Final

FORWARDED: Final = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def copy_window_size(source: int, target: int) -> None:
    """Give `target` (a pty) the window size of the terminal `source`."""
    import fcntl

    with contextlib.suppress(OSError):
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)


class SignalForwarder:
    """Send signals on to the command's process group; wake the relay loop on each signal."""

    def __init__(self, *, resize_pty: bool) -> None:
        self._resize_pty = resize_pty
        self._pid: int | None = None
        self._master: int | None = None
        self._early: list[int] = []
        self._saved: dict[int, Any] = {}
        self._saved_wakeup = -1
        self.wakeup = -1
        self._wakeup_write = -1

    def __enter__(self) -> SignalForwarder:
        self.wakeup, self._wakeup_write = os.pipe()
        os.set_blocking(self.wakeup, False)
        os.set_blocking(self._wakeup_write, False)
        self._saved_wakeup = signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        for number in FORWARDED:
            if signal.getsignal(number) != signal.SIG_IGN:
                self._saved[number] = signal.signal(number, self._forward)
        winch = self._resize if self._resize_pty else self._forward
        self._saved[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, winch)
        self._saved[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _wake_only)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self._saved.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._saved_wakeup)
        os.close(self.wakeup)
        os.close(self._wakeup_write)

    def attach(self, pid: int, master: int | None) -> None:
        """The command is running: send it what arrived while it was starting."""
        self._pid, self._master = pid, master
        for number in self._early:
            self._forward(number, None)
        self._early.clear()
        if master is not None:
            self._resize(signal.SIGWINCH, None)

    def detach(self) -> None:
        """The command is gone: its pid may be reused, send nothing more."""
        self._pid = self._master = None

    def drain(self) -> None:
        """Empty the wake-up pipe."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wakeup, 512):
                pass

    def _forward(self, number: int, frame: FrameType | None) -> None:
        if self._pid is None:
            self._early.append(number)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._pid, number)

    def _resize(self, number: int, frame: FrameType | None) -> None:
        # The kernel sends SIGWINCH to the pty's foreground group when its size changes.
        if self._master is not None:
            copy_window_size(1, self._master)


def _wake_only(number: int, frame: FrameType | None) -> None:
    """SIGCHLD: nothing to do but wake the relay loop (through the wake-up fd)."""
