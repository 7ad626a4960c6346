"""Checks written once over every deployment of every stage, from what each deployment's model
returns (:class:`stacks.needs.Needs`) and the model facts, never from a stage's name.

``parse_spec`` runs :func:`deployment_issues` once the config is valid, before any resource
exists; each rule module holds one concern.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stacks.checks import model_fit, platform, server_env
from stacks.config import DeploymentBase
from stacks.errors import ConfigIssue


def deployment_issues(deployments: Sequence[DeploymentBase], secrets: Iterable[str]) -> dict[int, list[ConfigIssue]]:
    """deployment index -> its problems (each once, though several replica kinds share it)."""
    secrets = frozenset(secrets)
    found: dict[int, list[ConfigIssue]] = {}
    for index, deployment in enumerate(deployments):
        issues: list[ConfigIssue] = []
        for needs in deployment.needs():
            new = [*model_fit.issues(needs, deployment.name, index, secrets), *server_env.issues(needs, index),
                   *platform.issues(needs, index)]
            issues += [i for i in new if i not in issues]
        if issues:
            found[index] = issues
    return found
