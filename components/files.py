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
import secrets
import stat
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
    return read_regular(path, limit)[0]


def read_regular(path: Path, limit: int = MAX_INPUT_BYTES, *, dir_fd: int | None = None,
                 follow: bool = True) -> tuple[str, os.stat_result]:
    """:func:`read_regular_file`, with the ``fstat`` of the file read: which file it was (device and
    inode), its owner, mode and links, for a writer that must replace that very file. ``follow=False``
    refuses a symlink (``ELOOP``)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags, dir_fd=dir_fd)
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
    return data.decode("utf-8"), info


class FileChanged(OSError):
    """The file to replace is no longer the one read (edited, replaced, or swapped for a symlink)."""


def write_atomic(path: Path, data: str | bytes, mode: int = 0o600, *,
                 replaces: tuple[os.stat_result, str] | None = None) -> None:
    """Replace ``path`` with ``data`` (text as UTF-8), owner-only (0600) unless ``mode`` says otherwise:
    a plan may describe private infrastructure. Written beside the target, fsynced and renamed (then
    the folder fsynced), so readers and a crash see the old file or the whole new one, never a
    truncated one. Every step works on the folder opened once, so a folder swapped for a symlink
    meanwhile cannot move the write elsewhere; the rename replaces whatever name is there, never
    writing through a symlink.

    ``replaces`` is the ``fstat`` and text of the file as read: the new file gets its owner and group
    (``PermissionError`` when this user cannot give them), and the rename happens only if that same
    file, with that same text, is still there (else :class:`FileChanged`)."""
    content = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent if str(path.parent) else Path(".")
    temp = f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                         0o600, dir_fd=dir_fd)
        except BaseException:
            os.close(dir_fd)
            raise
    except OSError as error:  # /proc/version: the folder takes no new file, whatever the file is
        raise OSError(error.errno, f"cannot create a file in {folder} to replace it with ({error.strerror}); "
                      "choose a path in a folder you can write to", str(path)) from None
    try:
        try:
            try:
                _write_all(fd, content)
                os.fchmod(fd, mode)
                if replaces is not None:
                    _give_owner(fd, replaces[0], path)
                os.fsync(fd)
            finally:
                os.close(fd)
            if replaces is not None:
                _still_there(path.name, dir_fd, *replaces)
            os.replace(temp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            raise
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view):]


def _give_owner(fd: int, read: os.stat_result, path: Path) -> None:
    """The new file gets the old one's owner and group (a root CI job must not leave a user's file root's)."""
    made = os.fstat(fd)
    if (read.st_uid, read.st_gid) == (made.st_uid, made.st_gid):
        return
    try:
        os.fchown(fd, read.st_uid, read.st_gid)
    except PermissionError:
        raise PermissionError(errno.EPERM, f"it belongs to uid {read.st_uid} gid {read.st_gid}, and a file written "
                              f"by uid {os.geteuid()} cannot be given that owner; run as its owner",
                              str(path)) from None


def _still_there(name: str, dir_fd: int, read: os.stat_result, text: str) -> None:
    """:class:`FileChanged` unless ``name`` is still the file read (same device and inode, not a
    symlink) with the same text."""
    try:
        now, info = read_regular(Path(name), dir_fd=dir_fd, follow=False)
    except OSError:  # gone, or a symlink or something else now
        now, info = None, None
    if info is None or (info.st_dev, info.st_ino) != (read.st_dev, read.st_ino) or now != text:
        raise FileChanged(errno.ESTALE, "it changed while the new file was being written (edited, replaced or "
                          "swapped for a link); nothing was written", name)


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
