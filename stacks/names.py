"""Cloud resource names derived from the project, stack and deployment names."""

from __future__ import annotations

STACK_NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
"""Stack names scalepath takes: 1..63 lowercase letters, digits and ``-``, starting with a letter.
Pulumi also allows uppercase, ``_`` and ``.``, but the names built from the stack (SageMaker
endpoints, GKE clusters, Key Vault and Secret Manager secrets, HF endpoints) take none of them."""

KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$"
"""One KMS key or alias ARN. The code puts it in IAM policies, where ``key/*`` would grant every key."""
