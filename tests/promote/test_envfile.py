"""Writing new weights into an environment file: only the weights change."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalepath.promote.envfile import EnvFileError, with_weights, write_weights

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
    write_weights(path, "chat", {"chat-endpoint": 80, "chat": 20})
    assert "weight: 80}" in path.read_text() and (path.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.dev.yaml"]
