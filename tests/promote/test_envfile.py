"""Writing new weights into an environment file: only the weights change."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from scalepath.promote import envfile
from scalepath.promote.envfile import EnvFileError, checked_edit, with_weights, write_weights
from stacks.errors import ConfigError, ConfigIssue
from tests.support import ROOT

FLOW = """\
config:
  # the gateway in front of both stages
  scalepath:gateway:
    routes:
      - name: chat        # what clients ask for
        targets:
          - {deployment: chat-endpoint, weight: 90}   # current stage
          - {deployment: chat, weight: 10}
        fallbacks: [chat-serverless]
      - name: other
        targets:
          - deployment: big
            weight: 100   # block style
"""


def accept(text: str) -> None:
    """A stack parser that takes every file."""


def test_only_the_weight_tokens_change_and_comments_stay() -> None:
    after = with_weights(FLOW, "chat", {"chat-endpoint": 80, "chat": 20})
    assert after == FLOW.replace("weight: 90}", "weight: 80}").replace("weight: 10}", "weight: 20}")


def test_a_new_target_is_added_in_its_siblings_style() -> None:
    after = with_weights(FLOW, "chat", {"chat-endpoint": 81, "chat": 9, "chat-eks": 10})
    assert "          - {deployment: chat, weight: 9}\n          - {deployment: chat-eks, weight: 10}\n" in after
    after = with_weights(FLOW, "other", {"big": 90, "small": 10})
    assert after.endswith("            weight: 90   # block style\n"
                          "          - deployment: small\n            weight: 10\n")


def test_unknown_route_is_refused() -> None:
    with pytest.raises(EnvFileError, match="route 'nope'"):
        with_weights(FLOW, "nope", {"x": 100})


def test_write_is_atomic_and_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(FLOW)
    path.chmod(0o640)
    write_weights(path, "chat", {"chat-endpoint": 80, "chat": 20}, read_before=FLOW, check=accept)
    assert "weight: 80}" in path.read_text() and (path.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.dev.yaml"]


def test_a_symlinked_file_is_written_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "shared" / "Pulumi.dev.yaml"
    real.parent.mkdir()
    real.write_text(FLOW)
    link = tmp_path / "Pulumi.dev.yaml"
    link.symlink_to(real)
    write_weights(link, "chat", {"chat-endpoint": 80, "chat": 20}, read_before=FLOW, check=accept)
    assert link.is_symlink() and "weight: 80}" in real.read_text()


def test_a_file_changed_since_the_run_began_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    edited = FLOW.replace("          - {deployment: chat, weight: 10}\n", "")  # someone removed a target
    path.write_text(edited)
    with pytest.raises(EnvFileError, match="changed while the suite ran"):
        write_weights(path, "chat", {"chat-endpoint": 80, "chat": 20}, read_before=FLOW, check=accept)
    assert path.read_text() == edited


def test_an_edit_the_stack_parser_refuses_is_not_written(tmp_path: Path) -> None:
    def refuse(text: str) -> None:
        raise ConfigError([ConfigIssue("scalepath:gateway.routes[0].fallbacks", "not a target")])

    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(FLOW)
    with pytest.raises(EnvFileError, match=r"would not be a valid stack config(.|\n)*fallbacks"):
        write_weights(path, "chat", {"chat-endpoint": 80, "chat": 20}, read_before=FLOW, check=refuse)
    assert path.read_text() == FLOW
    assert checked_edit(FLOW, "chat", {"chat-endpoint": 80, "chat": 20}, accept) != FLOW


@pytest.mark.parametrize("routes", [
    # the same target list under two routes (anchor and alias)
    """      - name: chat
        targets: &both
          - {deployment: chat-endpoint, weight: 90}
          - {deployment: chat, weight: 10}
      - name: other
        targets: *both
""",
    # a target map shared through an anchor
    """      - name: chat
        targets:
          - &main {deployment: chat-endpoint, weight: 90}
          - {deployment: chat, weight: 10}
      - name: other
        targets: [*main, {deployment: chat, weight: 10}]
""",
    # a merge key bringing its weight from elsewhere
    """      - name: other
        targets:
          - &base {deployment: chat-endpoint, weight: 90}
          - {deployment: chat, weight: 10}
      - name: chat
        targets:
          - <<: *base
          - {deployment: chat, weight: 10}
""",
    # one weight scalar shared
    """      - name: chat
        targets:
          - {deployment: chat-endpoint, weight: &w 90}
          - {deployment: chat, weight: 10}
      - name: other
        targets:
          - {deployment: chat-endpoint, weight: *w}
          - {deployment: chat, weight: 10}
""",
], ids=["alias-list", "alias-map", "merge-key", "alias-weight"])
def test_targets_shared_through_yaml_anchors_are_refused(routes: str) -> None:
    text = "config:\n  scalepath:gateway:\n    routes:\n" + routes
    with pytest.raises(EnvFileError, match="shared through a YAML anchor"):
        with_weights(text, "chat", {"chat-endpoint": 80, "chat": 20})


def test_a_flow_style_target_list_gets_the_new_target_inside_its_brackets() -> None:
    text = ("config:\n  scalepath:gateway:\n    routes:\n      - name: chat\n"
            "        targets: [{deployment: chat-endpoint, weight: 100}]   # flow\n")
    after = with_weights(text, "chat", {"chat-endpoint": 90, "chat-sm": 10})
    assert after == text.replace("[{deployment: chat-endpoint, weight: 100}]",
                                 "[{deployment: chat-endpoint, weight: 90}, {deployment: chat-sm, weight: 10}]")


def test_a_weight_the_text_edit_cannot_rewrite_is_refused_not_corrupted(tmp_path: Path) -> None:
    # `0x5A` is YAML for 90; replacing the leading integer token `0` would write `80x5A`, a string.
    # The re-parse check catches that, and the file is left as it was (issue 29).
    hexadecimal = FLOW.replace("weight: 90}", "weight: 0x5A}")
    with pytest.raises(EnvFileError, match="could not rewrite the weights in place without changing anything else"):
        with_weights(hexadecimal, "chat", {"chat-endpoint": 80, "chat": 20})
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(hexadecimal)
    with pytest.raises(EnvFileError):
        write_weights(path, "chat", {"chat-endpoint": 80, "chat": 20}, read_before=hexadecimal, check=accept)
    assert path.read_text() == hexadecimal


ONE_LINE = """\
config:
  scalepath:gateway:
    routes:
      - name: chat
        targets: [{deployment: a, weight: 90}, {deployment: b, weight: 10}]  # both on one line
"""


def test_targets_on_one_line_are_rewritten_right_to_left() -> None:
    # Rewriting `90` as `100` first would move `10` one column to the right of where it was read.
    assert with_weights(ONE_LINE, "chat", {"a": 100, "b": 0}) == ONE_LINE.replace(
        "weight: 90}, {deployment: b, weight: 10}", "weight: 100}, {deployment: b, weight: 0}")
    assert with_weights(ONE_LINE, "chat", {"a": 5, "b": 95}) == ONE_LINE.replace(
        "weight: 90}, {deployment: b, weight: 10}", "weight: 5}, {deployment: b, weight: 95}")


def test_a_file_without_a_final_newline_gets_the_new_target_on_its_own_line() -> None:
    after = with_weights(FLOW.rstrip("\n"), "other", {"big": 90, "small": 10})
    assert after == FLOW.replace("weight: 100   # block style\n", "weight: 90   # block style\n"
                                 "          - deployment: small\n            weight: 10\n")


@pytest.mark.parametrize(("text", "message"), [
    ("config:\n  scalepath:environment: dev\n", "no config.scalepath:gateway.routes in the environment file"),
    (FLOW.replace("targets:\n          - deployment: big\n            weight: 100   # block style", "targets: []"),
     "scalepath:gateway route 'other': targets must be a list of {deployment, weight} maps"),
    (FLOW.replace("- deployment: big\n            weight: 100   # block style", "- big"),
     "scalepath:gateway route 'other': targets must be a list of {deployment, weight} maps"),
    (FLOW.replace("weight: 100", 'weight: "100"'), "scalepath:gateway route 'other': the weight of 'big' is not a "
                                                     "plain integer"),
], ids=["no-routes", "no-targets", "targets-not-maps", "quoted-weight"])
def test_files_the_writer_cannot_edit_are_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(EnvFileError) as caught:
        with_weights(text, "other", {"big": 100})
    assert str(caught.value) == message


# -- Races and odd files around --write (the probe issue 27 left "not tried") ------------------------

NEW = {"chat-endpoint": 80, "chat": 20}
PASSWD = "root:x:0:0:root:/root:/bin/bash\nme:x:1000:1000::/home/me:/bin/sh\n"


def _between_read_and_write(monkeypatch: pytest.MonkeyPatch, act: Callable[[], None]) -> None:
    """Run ``act`` once, right after write_weights read the file for the last time: the race made
    deterministic (the edit is parsed and checked in the window, then the new file written)."""
    read = envfile.read_regular

    def read_then_act(*args, **kwargs):
        result = read(*args, **kwargs)
        act()
        return result

    monkeypatch.setattr(envfile, "read_regular", read_then_act)


def _swap_for_symlink(path: Path, victim: Path) -> None:
    path.unlink()
    path.symlink_to(victim)


def _replace(path: Path, text: str) -> None:  # as an editor saves: a new file renamed over the old
    (path.parent / "editor.tmp").write_text(text)
    os.replace(path.parent / "editor.tmp", path)


@pytest.mark.parametrize("race", ["symlink-to-a-users-file", "edited-same-size", "replaced-same-text", "removed"])
def test_a_file_that_changes_between_read_and_write_is_left_as_it_became(tmp_path: Path, monkeypatch, race) -> None:
    """Someone who can write the folder swaps the file for a symlink to another file of the user's (a
    passwd-like file), edits it, saves it anew, or deletes it while promote checks the edit: nothing
    is written, through the link or over it, and nothing is recreated."""
    path, victim = tmp_path / "Pulumi.dev.yaml", tmp_path / "passwd"
    path.write_text(FLOW)
    victim.write_text(PASSWD)
    edited = FLOW.replace("current stage", "CURRENT STAGE")  # same size: mtime granularity cannot hide it
    act = {"symlink-to-a-users-file": lambda: _swap_for_symlink(path, victim),
           "edited-same-size": lambda: path.write_text(edited),
           "replaced-same-text": lambda: _replace(path, FLOW),
           "removed": path.unlink}[race]
    _between_read_and_write(monkeypatch, act)
    with pytest.raises(EnvFileError, match=r"changed while the new weights were being written; nothing was written"):
        write_weights(path, "chat", NEW, read_before=FLOW, check=accept)
    assert victim.read_text() == PASSWD
    after = {"symlink-to-a-users-file": lambda: path.is_symlink() and os.readlink(path) == str(victim),
             "edited-same-size": lambda: path.read_text() == edited,
             "replaced-same-text": lambda: path.read_text() == FLOW,
             "removed": lambda: not path.exists()}[race]
    assert after()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == [], "a temporary file was left"


def test_a_symlink_to_a_file_outside_the_folder_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    """A link the user made on purpose (the env file kept in another checkout): its target is
    replaced atomically with its mode kept, and the link is not turned into a regular file."""
    outside = tmp_path / "elsewhere" / "Pulumi.dev.yaml"
    outside.parent.mkdir()
    outside.write_text(FLOW)
    outside.chmod(0o640)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.dev.yaml").symlink_to(outside)
    write_weights(project / "Pulumi.dev.yaml", "chat", NEW, read_before=FLOW, check=accept)
    assert (project / "Pulumi.dev.yaml").is_symlink() and "weight: 80}" in outside.read_text()
    assert stat.S_IMODE(outside.stat().st_mode) == 0o640
    assert sorted(p.name for p in outside.parent.iterdir()) == ["Pulumi.dev.yaml"]


def test_a_hard_linked_file_is_refused_and_both_names_keep_their_text(tmp_path: Path) -> None:
    path, other = tmp_path / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev-copy.yaml"
    path.write_text(FLOW)
    os.link(path, other)
    with pytest.raises(EnvFileError, match="has 2 hard links: replacing it would leave the other names with the old "
                                           "weights"):
        write_weights(path, "chat", NEW, read_before=FLOW, check=accept)
    assert path.read_text() == other.read_text() == FLOW and path.stat().st_nlink == 2


ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a file another user owns")


@ROOT_ONLY
def test_root_writing_a_users_file_keeps_its_owner_group_and_mode(tmp_path: Path) -> None:
    """CI running as root on a checkout a user owns: the new file is the user's, not root's."""
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(FLOW)
    os.chown(path, 4242, 4343)
    path.chmod(0o664)
    write_weights(path, "chat", NEW, read_before=FLOW, check=accept)
    info = path.stat()
    assert "weight: 80}" in path.read_text()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4242, 4343, 0o664)


def _as_user(uid: int, call: Callable[[], str]) -> str:
    """``call()`` in a forked child that has dropped to ``uid`` (gid the same); its result or error text."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            text = call()
        except BaseException as error:  # noqa: BLE001 (everything goes back to the parent as text)
            text = f"{type(error).__name__}: {error}"
        os.write(write, text.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(child, 0)
    return text


@ROOT_ONLY
def test_a_user_who_cannot_keep_the_owner_is_refused_and_the_file_is_untouched() -> None:
    """A group-writable file of another user in a shared folder: the new file would be the writer's, so
    promote refuses instead of silently taking the file over."""
    shared = Path(tempfile.mkdtemp(prefix="scalepath-shared-", dir="/tmp"))  # a folder uid 4242 can reach
    try:
        shared.chmod(0o777)
        path = shared / "Pulumi.dev.yaml"
        path.write_text(FLOW)
        os.chown(path, 4343, 4343)
        path.chmod(0o666)

        def promote_as_another_user() -> str:
            try:
                write_weights(path, "chat", NEW, read_before=FLOW, check=accept)
            except EnvFileError as error:
                return str(error)
            return "written"

        assert _as_user(4242, promote_as_another_user) == (
            f"cannot write the new weights to {path}: it belongs to uid 4343 gid 4343, and a file written by uid 4242 "
            "cannot be given that owner; run as its owner; the file is unchanged")
        assert path.read_text() == FLOW and path.stat().st_uid == 4343
        assert sorted(p.name for p in shared.iterdir()) == ["Pulumi.dev.yaml"]
    finally:
        shutil.rmtree(shared)


CRASH = """
import os, signal, sys
from pathlib import Path
from scalepath.promote.envfile import write_weights
write = os.write
def half_then_die(fd, data):  # the machine dies halfway through writing the new file
    write(fd, bytes(data[: len(data) // 2]))
    os.kill(os.getpid(), signal.SIGKILL)
os.write = half_then_die
path = Path(sys.argv[1])
write_weights(path, "chat", {"chat-endpoint": 80, "chat": 20}, read_before=path.read_text(), check=lambda text: None)
"""


def test_a_crash_halfway_through_the_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(FLOW)
    out = subprocess.run([sys.executable, "-c", CRASH, str(path)], capture_output=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert path.read_bytes() == FLOW.encode()
    # SIGKILL leaves no chance to clean up: the half-written temporary file stays beside it, hidden.
    (left,) = [p for p in tmp_path.iterdir() if p != path]
    assert left.name.startswith(".Pulumi.dev.yaml.") and left.name.endswith(".tmp")
    assert stat.S_IMODE(left.stat().st_mode) == 0o600
