"""Run a command as credctl's child with its output masked (``credctl exec --mask``).

Masking means credctl must see every byte the command prints, so here credctl
stays as the parent (without ``--mask`` it replaces itself with the command,
see `credctl.exec.launch`).  Everything a parent in between could change is
kept as the command would see it without credctl:

* **A terminal stays a terminal.**  When credctl's stdout is a terminal, the
  command runs in a new session on a pseudo-terminal (`pty.openpty`) that is
  its controlling terminal, with the real terminal's settings and window size
  (and later sizes, on SIGWINCH).  Its stdin is that pseudo-terminal too when
  credctl's stdin is the terminal: credctl puts the real terminal in raw mode
  and copies keystrokes to it, so line editing, colours, full-screen programs
  and Ctrl-C (a byte, turned into SIGINT by the pseudo-terminal) work as usual.
  The command's stderr shares the pseudo-terminal when credctl's stderr is a
  terminal, else it is a pipe masked onto credctl's stderr.
* **Otherwise pipes.**  stdout and stderr are two pipes, each masked onto the
  same stream of credctl.  stdin is credctl's own stdin, handed over as is (a
  file or pipe reaches EOF exactly as it would); only when it is the terminal
  and credctl is in the foreground is it read by credctl and written to a pipe,
  because the command runs in its own process group and may not read the
  terminal itself.
* **Signals.**  SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to
  credctl are sent on to the command's process group, once: the command is
  never in credctl's process group, so a Ctrl-C on the terminal does not reach
  it twice.  Signals credctl's caller ignored stay ignored and are not sent on.
  SIGWINCH resizes the pseudo-terminal (or is sent on, with pipes).
* **The end.**  When the command exits, what it already wrote is read (with a
  pseudo-terminal, until it reports end of file or 0.2 s pass without output),
  the maskers are flushed, the terminal is restored and its status returned.
  A background process the command left behind is not waited for, as with a
  terminal that closes.
* **credctl killed** (SIGKILL, which cannot be forwarded): on a pty the kernel
  hangs the command up (SIGHUP); with pipes, Linux sends it SIGTERM
  (``PR_SET_PDEATHSIG``).
* **A reader that goes away** (``credctl exec --mask … | head``): the pipe from
  the command is closed, so the command gets SIGPIPE just as in a plain pipeline.

Not forwarded: job control.  With pipes, Ctrl-Z stops credctl, which stops
reading, and the command blocks on its next write; ``fg`` resumes both.  With a
pseudo-terminal, Ctrl-Z is delivered to the command's own session, whose
process group the kernel does not stop (it has no job-control shell).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import subprocess
import sys
import termios
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final

from credctl._process import restore_core_limit
from credctl.exec.masking import StreamMasker
from credctl.exec.signals import SignalForwarder, copy_window_size

CHUNK: Final = 64 * 1024
MAX_PENDING_INPUT: Final = 256 * 1024
DRAIN_LIMIT: Final = 4 * 1024 * 1024  # read at most this much per stream after the exit
PTY_SETTLE: Final = 0.2  # seconds without output before a pty is taken as drained


class _Output:
    """One output of the command, masked on its way to one of credctl's."""

    __slots__ = ("is_pty", "masker", "open", "source", "target")

    def __init__(self, source: int, target: int, masker: StreamMasker, *, is_pty: bool) -> None:
        self.source, self.target, self.masker = source, target, masker
        self.is_pty = is_pty
        self.open = True


class _Input:
    """credctl's stdin copied to the command: to a pipe, or to the pty (raw mode)."""

    __slots__ = ("is_pty", "open", "pending", "reading", "target")

    def __init__(self, target: int, *, is_pty: bool) -> None:
        self.target, self.is_pty = target, is_pty
        self.pending = bytearray()
        self.reading = True
        self.open = True


class _Child:
    """The started command and credctl's ends of its streams."""

    __slots__ = ("master", "outputs", "process", "stdin")

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        outputs: list[_Output],
        stdin: _Input | None,
        master: int | None,  # the pty, when there is one
    ) -> None:
        self.process, self.outputs, self.stdin, self.master = process, outputs, stdin, master

    def close(self) -> None:
        """Close every descriptor credctl still holds."""
        fds = {out.source for out in self.outputs if out.open}
        if self.stdin is not None and self.stdin.open:
            fds.add(self.stdin.target)
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        for out in self.outputs:
            out.open = False
        if self.stdin is not None:
            self.stdin.open = False


def run_masked(
    program: str, argv: Sequence[str], env: Mapping[str, str], secrets: Sequence[bytes]
) -> int:
    """Run the command with `secrets` masked in its output; its `Popen` return code.

    ``-N`` means the command died of signal N (`credctl.exec.launch.exit_like`
    passes that on).  Raises `OSError` if the command could not be started.
    """
    use_pty = os.isatty(1)
    with SignalForwarder(resize_pty=use_pty) as forwarder:
        child = (_start_on_pty if use_pty else _start_on_pipes)(program, argv, env, secrets)
        forwarder.attach(child.process.pid, child.master)
        raw = child.stdin is not None and child.stdin.is_pty
        try:
            with _raw_terminal(0, enabled=raw):
                _relay(child, forwarder)
        except BaseException:
            # A failure of credctl itself: do not leave the command running unseen.
            with contextlib.suppress(OSError):
                os.killpg(child.process.pid, signal.SIGTERM)
            raise
        finally:
            forwarder.detach()
            child.close()
            returncode = child.process.wait()
    return returncode


# -- starting the command -------------------------------------------------------------------


def _start_on_pty(
    program: str, argv: Sequence[str], env: Mapping[str, str], secrets: Sequence[bytes]
) -> _Child:
    import pty

    master, slave = pty.openpty()
    err_read, err_write = os.pipe() if not os.isatty(2) else (None, None)
    try:
        _copy_terminal(1, slave)
        process = subprocess.Popen(
            list(argv),
            executable=program,
            env=dict(env),
            # A terminal on stdin: the pty; else credctl's stdin (a pipe or file) as is.
            stdin=slave if os.isatty(0) else None,
            stdout=slave,
            stderr=slave if err_write is None else err_write,
            start_new_session=True,
            preexec_fn=_take_controlling_terminal,  # safe: credctl runs no threads
            close_fds=False,  # as with execve: what credctl inherited; its own fds are CLOEXEC
        )
    except BaseException:
        for fd in (master, err_read):
            if fd is not None:
                os.close(fd)
        raise
    finally:
        for fd in (slave, err_write):
            if fd is not None:
                os.close(fd)
    os.set_blocking(master, False)
    # The pty turns "\n" into "\r\n" on output (ONLCR): a multi-line secret
    # reaches the master in that form.
    on_pty = [*secrets, *(s.replace(b"\n", b"\r\n") for s in secrets if b"\n" in s)]
    outputs = [_Output(master, 1, StreamMasker(on_pty), is_pty=True)]
    if err_read is not None:
        outputs.append(_Output(err_read, 2, StreamMasker(secrets), is_pty=False))
    # Keys are relayed only by a foreground credctl; in the background the command
    # finds its pty silent, as a background job finds the terminal.
    relay_stdin = os.isatty(0) and _in_foreground(0)
    stdin = _Input(master, is_pty=True) if relay_stdin else None
    return _Child(process, outputs, stdin, master)


def _start_on_pipes(
    program: str, argv: Sequence[str], env: Mapping[str, str], secrets: Sequence[bytes]
) -> _Child:
    relay_stdin = os.isatty(0) and _in_foreground(0)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    in_read, in_write = os.pipe() if relay_stdin else (None, None)
    try:
        process = subprocess.Popen(
            list(argv),
            executable=program,
            env=dict(env),
            stdin=in_read,  # None: credctl's own stdin, as is
            stdout=out_write,
            stderr=err_write,
            process_group=0,
            preexec_fn=_end_with_credctl(os.getpid()),  # safe: credctl runs no threads
            close_fds=False,  # as with execve: what credctl inherited; its own fds are CLOEXEC
        )
    except BaseException:
        for fd in (out_read, err_read, in_write):
            if fd is not None:
                os.close(fd)
        raise
    finally:
        for fd in (out_write, err_write, in_read):
            if fd is not None:
                os.close(fd)
    outputs = [
        _Output(out_read, 1, StreamMasker(secrets), is_pty=False),
        _Output(err_read, 2, StreamMasker(secrets), is_pty=False),
    ]
    stdin = None
    if in_write is not None:
        os.set_blocking(in_write, False)
        stdin = _Input(in_write, is_pty=False)
    return _Child(process, outputs, stdin, None)


def _end_with_credctl(parent: int) -> Callable[[], None]:
    """In the child: on Linux, SIGTERM if credctl dies first (killed with SIGKILL).

    The command is in its own process group, so a SIGKILL sent to credctl's group
    would otherwise leave it running unseen.  (On a pty the kernel's SIGHUP does
    this.)  Without execve, credctl's pid *is* the command and needs none of this.
    """

    def prepare() -> None:
        restore_core_limit()  # credctl runs with 0; the command gets the user's own
        if not sys.platform.startswith("linux"):
            return
        with contextlib.suppress(Exception):  # a safety net: never a reason not to start
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
        if os.getppid() != parent:  # credctl died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return prepare


def _take_controlling_terminal() -> None:
    """In the child, after setsid: make the pty on fd 1 its controlling terminal.

    Also gives the command the user's core-file limit back, as `_end_with_credctl` does.
    """
    import fcntl

    restore_core_limit()
    fcntl.ioctl(1, termios.TIOCSCTTY, 0)


def _copy_terminal(source: int, target: int) -> None:
    """Give the pty the real terminal's settings and window size."""
    with contextlib.suppress(OSError, termios.error):
        termios.tcsetattr(target, termios.TCSANOW, termios.tcgetattr(source))
    copy_window_size(source, target)


def _in_foreground(fd: int) -> bool:
    """True if credctl's process group is the terminal's foreground group."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


@contextlib.contextmanager
def _raw_terminal(fd: int, *, enabled: bool) -> Iterator[None]:
    """The terminal in raw mode (keys go to the command unchanged); restored after."""
    if not enabled:
        yield
        return
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSADRAIN)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# -- relaying -------------------------------------------------------------------------------


def _relay(child: _Child, forwarder: SignalForwarder) -> None:
    """Copy output (masked) and input until the command exits, then drain its output."""
    stdin = child.stdin
    while child.process.poll() is None:
        readers = [forwarder.wakeup] + [out.source for out in child.outputs if out.open]
        writers = []
        if stdin is not None and stdin.open:
            if stdin.reading and len(stdin.pending) < MAX_PENDING_INPUT:
                readers.append(0)
            if stdin.pending:
                writers.append(stdin.target)
        readable, writable, _ = select.select(readers, writers, [])
        if forwarder.wakeup in readable:
            forwarder.drain()
        for out in child.outputs:
            if out.open and out.source in readable:
                _read_output(child, out)
        if stdin is not None and stdin.open:
            if 0 in readable:
                _read_input(stdin)
            if stdin.target in writable or (not stdin.reading and not stdin.pending):
                _write_input(child, stdin)
    forwarder.detach()  # reaped: its pid may be reused, send nothing more
    for out in child.outputs:
        _drain(child, out)


def _read_output(child: _Child, out: _Output) -> None:
    try:
        data = os.read(out.source, CHUNK)
    except BlockingIOError:
        return
    except OSError as exc:
        if exc.errno != errno.EIO:  # EIO: the pty's last user closed it (end of output)
            raise
        data = b""
    if data:
        _deliver(child, out, out.masker.feed(data))
    else:
        _deliver(child, out, out.masker.flush())
        _close_output(child, out)


def _drain(child: _Child, out: _Output) -> None:
    """After the command's exit: what it already wrote, then the masker's held bytes."""
    budget = DRAIN_LIMIT
    timeout = PTY_SETTLE if out.is_pty else 0.0
    while out.open and budget > 0:  # the budget: a descendant may keep on writing
        readable, _, _ = select.select([out.source], [], [], timeout)
        if not readable:
            break
        _read_output(child, out)
        budget -= CHUNK
    if out.open:
        _deliver(child, out, out.masker.flush())
        _close_output(child, out)


def _deliver(child: _Child, out: _Output, data: bytes) -> None:
    """Write masked bytes to credctl's stream; a reader that went away ends that stream."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(out.target, view) :]
        except BlockingIOError:  # a non-blocking stdout (some CI runners): wait for room
            select.select([], [out.target], [])
        except (BrokenPipeError, OSError) as exc:
            if isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.EIO):
                # As in a plain pipeline: closing our end gives the command SIGPIPE.
                _close_output(child, out)
                return
            raise


def _close_output(child: _Child, out: _Output) -> None:
    if not out.open:
        return
    out.open = False
    stdin = child.stdin
    if stdin is not None and stdin.target == out.source:
        stdin.open = False  # the pty carried both ways
    with contextlib.suppress(OSError):
        os.close(out.source)


def _read_input(stdin: _Input) -> None:
    try:
        data = os.read(0, CHUNK)
    except BlockingIOError:
        return
    except OSError as exc:
        if exc.errno != errno.EIO:
            raise
        data = b""
    if data:
        stdin.pending += data
    else:
        stdin.reading = False


def _write_input(child: _Child, stdin: _Input) -> None:
    if stdin.pending:
        try:
            written = os.write(stdin.target, stdin.pending)
        except BlockingIOError:
            return
        except OSError as exc:
            if not isinstance(exc, BrokenPipeError) and exc.errno not in (errno.EPIPE, errno.EIO):
                raise
            stdin.pending.clear()  # the command stopped reading: drop the rest
            stdin.reading = False
            written = 0
        del stdin.pending[:written]
    if not stdin.reading and not stdin.pending and not stdin.is_pty:
        # End of credctl's stdin: the command's stdin pipe ends too.
        stdin.open = False
        with contextlib.suppress(OSError):
            os.close(stdin.target)
