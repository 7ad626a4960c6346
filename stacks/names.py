"""Cloud resource names derived from the project, stack and deployment names."""

from __future__ import annotations

import hashlib

STACK_NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
"""Stack names scalepath takes: 1..63 lowercase letters, digits and ``-``, starting with a letter.
Pulumi also allows uppercase, ``_`` and ``.``, but the names built from the stack (SageMaker
endpoints, GKE clusters, Key Vault and Secret Manager secrets, HF endpoints) take none of them."""

KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$"
"""One KMS key or alias ARN. The code puts it in IAM policies, where ``key/*`` would grant every key."""


def fit_name(name: str, limit: int) -> str:
    """``name`` if it fits ``limit`` characters, else its head and a 6-hex hash of the whole name,
    so two long names that differ anywhere (not only in the kept part) stay different."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"
