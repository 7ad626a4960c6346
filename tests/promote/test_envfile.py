"""Writing new weights into an environment file: only the weights change."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalepath.promote.envfile import EnvFileError, checked_edit, with_weights, write_weights
from stacks.errors import ConfigError, ConfigIssue

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
