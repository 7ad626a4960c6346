"""Files the CLI reads and writes: regular files only, bounded in size; outputs replaced atomically.
Also the project's own YAML data files (``components/data``, cost tables), parsed with libyaml.

A config path may name ``/dev/zero`` (endless), a FIFO (blocks until a writer comes) or a huge
file; each is refused with an ``OSError`` whose ``strerror`` says why, before memory or time run
out. An output file is written to a temporary file in the same folder and renamed over the
target, so a failed write (disk full, Ctrl-C) leaves the previous file whole. Only a regular file
is replaced so: an output path naming a character device or a FIFO (``/dev/null``, ``/dev/stdout``,
a pipe), or a symlink to one, is written in place, and a symlink to a regular file is followed so
the file it names is replaced and the link stays.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml

_DATA_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (several times faster), else the Python one."""

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Largest config file read (64 MiB): far above any real stack, far below a memory problem."""


def read_regular_file(path: Path, limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of ``path``; ``OSError`` unless it is a regular file of at most ``limit`` bytes.

    Opened non-blocking so a FIFO cannot hang the open; checked on the open descriptor (fstat) so
    the file checked is the file read. ``UnicodeDecodeError`` for bytes that are not UTF-8.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a device, FIFO or socket cannot be read as config)",
                          str(path))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit // (1024 * 1024)} MiB", str(path))
    return data.decode("utf-8")


def write_atomic(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` (text as UTF-8), owner-only (0600) unless ``mode`` says otherwise:
    a plan may describe private infrastructure. Written beside the target and renamed, so readers see
    the old file or the whole new one, never a truncated one."""
    content = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    except OSError as error:  # /proc/version: the folder takes no new file, whatever the file is
        raise OSError(error.errno, f"cannot create a file in {folder} to replace it with ({error.strerror}); "
                      "choose a path in a folder you can write to", str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if mode != 0o600:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def write_output(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write a user-named output (``--out``, ``--plot``): a regular or new file (through a symlink)
    replaced atomically (:func:`write_atomic`); a character device or FIFO written in place; anything
    else refused with an ``OSError`` whose ``strerror`` says why."""
    real = Path(os.path.realpath(path))
    try:
        kind = os.stat(real).st_mode
    except FileNotFoundError:
        kind = stat.S_IFREG
    if stat.S_ISREG(kind):
        write_atomic(real, data, mode)
    elif stat.S_ISCHR(kind) or stat.S_ISFIFO(kind):
        # Non-blocking open: a FIFO with no reader fails at once (ENXIO) instead of hanging.
        try:
            fd = os.open(real, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as error:
            if error.errno != errno.ENXIO:
                raise
            raise OSError(errno.ENXIO, "a FIFO with no reader; start its reader first", str(path)) from None
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    elif stat.S_ISDIR(kind):
        raise IsADirectoryError(errno.EISDIR, "is a directory; name a file", str(path))
    else:
        raise OSError(errno.EINVAL, "not a regular file, character device or FIFO", str(path))


def load_data(path: Path) -> Any:
    """One of the project's own YAML data files (instance catalogues, price tables, limits)."""
    with path.open("rb") as handle:
        return yaml.load(handle, Loader=_DATA_LOADER)  # noqa: S506 (a safe loader)
