"""Cloud resource names derived from the project, stack and deployment names."""

from __future__ import annotations

STACK_NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
"""Stack names scalepath takes: 1..63 lowercase letters, digits and ``-``, starting with a letter.
Pulumi also allows uppercase, ``_`` and ``.``, but the names built from the stack (SageMaker
endpoints, GKE clusters, Key Vault and Secret Manager secrets, HF endpoints) take none of them."""

PROJECT_NAME_PATTERN = r"^[A-Za-z_.][A-Za-z0-9_.-]{0,99}$"
"""Project names (``name`` in Pulumi.yaml) as Pulumi takes them: ``tokens.IsName`` (a letter, ``_``
or ``.``, then letters, digits, ``_``, ``.`` and ``-``; pulumi/pulumi sdk/go/common/tokens/names.go)
and at most 100 characters (its backends refuse ``len(project) > 100``). scalepath takes all of
them, unlike stack names: a project is renamed only with all its stacks, so the names built from
``<project>-<stack>`` are fitted to each cloud instead (``components.names.cloud_name``)."""

KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$"
"""One KMS key or alias ARN. The code puts it in IAM policies, where ``key/*`` would grant every key."""
