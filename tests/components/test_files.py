"""Outputs the CLI writes: a regular file replaced whole, a device or FIFO written in place, a
symlink followed, and a failure that says what went wrong."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from components.files import write_output


def test_a_fifo_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    while True:  # the reader's open must come first, or the writer finds no reader (ENXIO)
        try:
            write_output(fifo, "{}\n")
            break
        except OSError as error:
            assert "no reader" in str(error)
    reader.join()
    assert received == [b"{}\n"] and fifo.is_fifo()


def test_a_fifo_without_reader_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="a FIFO with no reader"):
        write_output(fifo, "{}\n")
    assert fifo.is_fifo()


def test_a_symlink_to_a_regular_file_stays_a_link_and_its_file_is_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "plan.json"
    link.symlink_to(real)
    write_output(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "real.json"]


def test_a_symlink_to_a_character_device_is_written_through(tmp_path: Path) -> None:
    link = tmp_path / "plan.json"
    link.symlink_to("/dev/null")
    write_output(link, "{}\n")
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    full = tmp_path / "full.json"
    full.symlink_to("/dev/full")
    with pytest.raises(OSError) as caught:
        write_output(full, "{}\n")
    assert caught.value.strerror == "No space left on device" and full.is_symlink()


def test_a_folder_that_takes_no_new_file_is_named_as_the_problem() -> None:
    with pytest.raises(OSError) as caught:
        write_output(Path("/proc/version"), "{}\n")
    assert caught.value.strerror is not None and "cannot create a file in /proc" in caught.value.strerror
