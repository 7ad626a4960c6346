"""Standard output as the CLI's result channel: a write that fails ends the command with a code of
the exit contract, never a traceback and never a verdict's code.

Click turns a broken pipe into exit 1 (a gate's refusal), a full device into a traceback (exit
70 here), and a closed stdout (``>&-``: ``sys.stdout`` is None) made the plan vanish and then
crash on the final flush with exit 1. Now a reader that went away (``| head -c1``, EPIPE) ends the
command with 141, the status a shell shows for a process ended by SIGPIPE, printing nothing more;
any other failure (``>/dev/full``, a closed stdout, found before any work) is unusable output:
exit 2 naming it.
"""

from __future__ import annotations

import errno
import sys
from typing import Any, TextIO

#: Exit status when the reader of stdout went away (128 + SIGPIPE, as a shell reports it).
EXIT_PIPE_CLOSED = 141


class OutputFailed(BaseException):
    """Writing to stdout failed. A ``BaseException``, like ``KeyboardInterrupt``: no ``except
    Exception`` on the way takes it for a bug, and every ``finally`` (stopping children) still runs."""

    def __init__(self, error: OSError | None):
        super().__init__(error)
        self.error = error

    @property
    def reader_gone(self) -> bool:
        """The reader closed the pipe (EPIPE): nothing more to say to anyone."""
        return self.error is not None and self.error.errno == errno.EPIPE

    def message(self) -> str:
        """What went wrong, for stderr (when the reader is not simply gone)."""
        if self.error is None:
            return ("standard output is closed (>&-?); the result has nowhere to go: redirect it "
                    "(>/dev/null to discard it)")
        return f"cannot write the result to standard output: {self.error.strerror or self.error}"


class _Guarded:
    """``sys.stdout`` whose write and flush raise :class:`OutputFailed` instead of ``OSError``."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as error:
            raise OutputFailed(error) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            raise OutputFailed(error) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard() -> None:
    """Route stdout through :class:`_Guarded`; :class:`OutputFailed` at once when it is closed."""
    if sys.stdout is None:
        raise OutputFailed(None)
    if not isinstance(sys.stdout, _Guarded):
        sys.stdout = _Guarded(sys.stdout)  # type: ignore[assignment]


def flush() -> None:
    """Flush stdout (:class:`OutputFailed` when that fails), so the failure is seen before the exit."""
    if sys.stdout is not None:
        sys.stdout.flush()
