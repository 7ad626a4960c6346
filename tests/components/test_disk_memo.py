"""The on-disk memo of library answers: keyed by installed versions, never a source of failure."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from components.disk_memo import CACHE_DIR_ENV, DiskMemo


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    return tmp_path


def test_an_answer_survives_the_process_in_a_file_named_by_the_package_versions(folder: Path) -> None:
    DiskMemo("answers", ("botocore", "pulumi")).put("image/x", "uri-1")
    (path,) = folder.iterdir()
    assert path.name == f"answers-botocore{metadata.version('botocore')}-pulumi{metadata.version('pulumi')}.json"
    assert DiskMemo("answers", ("botocore", "pulumi")).get("image/x") == "uri-1"  # a later run reads it
    assert DiskMemo("answers", ("botocore",)).get("image/x") is None  # other packages, other file


def test_answers_of_concurrent_runs_are_merged(folder: Path) -> None:
    first, second = DiskMemo("answers", ("botocore",)), DiskMemo("answers", ("botocore",))
    assert first.get("a") is None and second.get("b") is None  # both read the empty memo
    first.put("a", 1)
    second.put("b", 2)
    assert DiskMemo("answers", ("botocore",)).get("a") == 1


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[1, 2]"])
def test_a_damaged_file_is_an_empty_memo_and_is_rewritten(folder: Path, content: bytes) -> None:
    memo = DiskMemo("answers", ("botocore",))
    memo.put("a", 1)
    (path,) = folder.iterdir()
    path.write_bytes(content)
    fresh = DiskMemo("answers", ("botocore",))
    assert fresh.get("a") is None
    fresh.put("a", 2)
    assert json.loads(path.read_text()) == {"a": 2}


def test_an_empty_folder_setting_turns_it_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    memo = DiskMemo("answers", ("botocore",))
    memo.put("a", 1)
    assert memo.get("a") == 1  # still remembered in this process
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_written_costs_only_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocker / "memo"))  # below a file: mkdir fails
    memo = DiskMemo("answers", ("botocore",))
    memo.put("a", 1)
    assert memo.get("a") == 1


def test_an_uninstalled_package_keys_nothing(folder: Path) -> None:
    memo = DiskMemo("answers", ("no-such-distribution-scalepath",))
    memo.put("a", 1)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("value", ["one", [], ["a", 1], {"a": "b"}])
def test_a_remembered_list_of_another_shape_is_no_answer(folder: Path, value: object) -> None:
    DiskMemo("answers", ("botocore",)).put("versions", value)
    assert DiskMemo("answers", ("botocore",)).strings("versions") is None
    DiskMemo("answers", ("botocore",)).put("versions", ["3.0", "3.1"])
    assert DiskMemo("answers", ("botocore",)).strings("versions") == ["3.0", "3.1"]
