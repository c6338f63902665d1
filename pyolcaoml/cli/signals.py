"""Signals and closed pipes for every ``olcaoml`` command, in one place.

- Ctrl-C (SIGINT), SIGTERM and SIGHUP become a :class:`Interrupted`
  exception (a ``KeyboardInterrupt``) in the main thread, so that every
  ``finally`` and ``except BaseException`` on the way out runs: temporary
  files are removed whatever the signal.  The command then ends with one
  line on stderr and the shell's status for the signal, 128 + its number
  (130, 143, 129).  While that clean-up runs, further signals of these
  kinds are ignored, so a second Ctrl-C cannot cut it short.
- A reader that closes the pipe early (``olcaoml bispectrum ... | head``)
  ends the command quietly with status 141 (128 + SIGPIPE), as a C
  program killed by SIGPIPE would, instead of ``[Errno 32] Broken pipe``.

Long Fortran calls release the GIL; Python runs the handler as soon as
the call returns.  The bispectrum is computed in chunks of atoms
(:data:`pyolcaoml.bispectrum.CHUNK_CENTRES`) so that this is soon.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

#: The signals turned into :class:`Interrupted`.
HANDLED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP")
    if hasattr(signal, name)
)
#: Exit status after a closed output pipe (128 + SIGPIPE).
BROKEN_PIPE_STATUS = 128 + 13


class Interrupted(KeyboardInterrupt):
    """A handled signal (SIGINT, SIGTERM or SIGHUP) arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def status(self) -> int:
        return 128 + self.signum


#: Signals received while the handlers were installed (first one first).
_received: list[int] = []


def _raise(signum: int, frame: FrameType | None) -> None:
    # Clean-up must not be interrupted in its turn.
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)
    _received.append(signum)
    raise Interrupted(signum)


@contextmanager
def signals_to_exceptions(restore: bool = True) -> Iterator[None]:
    """Within the block, HANDLED signals raise :class:`Interrupted`; the
    previous handlers come back afterwards (``restore=False``: the signals
    are ignored afterwards, for a process that is about to exit with its
    work done).  Outside the main thread (where Python allows no
    handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    for sig in HANDLED:
        signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if not restore:
                handler = signal.SIG_IGN
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush
    does not report the closed pipe a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def run_guarded(
    command: str | Callable[[], str | None] | None,
    work: Callable[[], int],
    *,
    own_process: bool = False,
) -> int:
    """Run ``work`` with the signal handling above; return the exit status.

    ``command``: the subcommand's name for the message (or a function
    giving it, None while it is not known yet).

    ``own_process``: the command owns the process (``olcaoml`` on the
    command line, not a caller of :func:`pyolcaoml.cli.main` inside Python):
    after a signal, leave without the interpreter's shutdown, which may
    crash while TensorFlow or OpenMP threads are still running.  Output
    is flushed and temporaries are already gone at that point.
    """
    del _received[:]
    try:
        # In a process of its own, a signal that arrives after the work is
        # done (during the interpreter's shutdown) is ignored: the outputs
        # are complete, and being killed then would only change the status.
        with signals_to_exceptions(restore=not own_process):
            status = work()
            # Buffered output meets a closed pipe here, not at exit.
            sys.stdout.flush()
        if not _received:
            return status
        # The signal's exception was swallowed on the way (an import that
        # turns every error into ImportError, a generic except): the
        # command was still interrupted.
        exc: BaseException = Interrupted(_received[0])
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE_STATUS
    except KeyboardInterrupt as caught:
        exc = caught
    except Exception:
        if not _received:
            raise
        exc = Interrupted(_received[0])
    signum = getattr(exc, "signum", signal.SIGINT)
    status = 128 + int(signum)
    signame = signal.Signals(signum).name
    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signame}"
    name = command() if callable(command) else command
    prog = f"olcaoml {name}" if name else "olcaoml"
    try:
        print(f"{prog}: {what}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
    if own_process:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        os._exit(status)
    return status
