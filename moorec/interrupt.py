"""Ctrl-C that is never lost.

Python runs a signal handler at the next bytecode of the main thread, and raises its
``KeyboardInterrupt`` there. When that bytecode belongs to a callback the interpreter calls from C
(a ``gc.callbacks`` entry, as JAX registers, or a finaliser), the exception cannot propagate: it
is printed as "Exception ignored in ..." and dropped, and the program goes on as if no key had
been pressed. A long training then runs to its end.

:func:`catch` installs a handler that also records the request, and :func:`check`, called by the
training loops at every epoch boundary, raises it again if it was swallowed. Library code that
calls :func:`check` without :func:`catch` active pays one global read and never raises.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

__all__ = ["catch", "check", "requested"]

_requested = False


def requested() -> bool:
    """Whether Ctrl-C was pressed under :func:`catch` since it was entered."""
    return _requested


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed under :func:`catch`.

    Called at safe points (the end of each epoch); a no-op outside :func:`catch`.
    """
    if _requested:
        raise KeyboardInterrupt


def _handler(signum, frame):
    global _requested
    _requested = True
    raise KeyboardInterrupt


@contextlib.contextmanager
def catch() -> Iterator[None]:
    """Record SIGINT while the block runs, so that :func:`check` can raise it again.

    The handler is installed only where Python's own is (the main thread, SIGINT not ignored:
    a job started in the background with SIGINT ignored stays so), and the previous handler is
    restored on exit. While it is active, a swallowed ``KeyboardInterrupt`` is not printed as
    "Exception ignored in ..." with its traceback (it is recorded instead); every other
    unraisable exception still goes to the previous ``sys.unraisablehook``.
    """
    global _requested
    installed = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    _requested = False
    if not installed:
        yield
        return
    previous_hook = sys.unraisablehook

    def hook(unraisable):
        if not (_requested and unraisable.exc_type is KeyboardInterrupt):
            previous_hook(unraisable)

    signal.signal(signal.SIGINT, _handler)
    sys.unraisablehook = hook
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = previous_hook
        _requested = False
