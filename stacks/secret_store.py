"""Config of the cloud secret store a stage keeps a token in (``secretStore`` of a deployment)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from components.secret_store import SecretStoreArgs, store_name
from stacks.config import Cloud, CloudTargets
from stacks.model import ConfigModel
from stacks.names import KMS_KEY_ARN

SecretName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,126}$")]
"""Valid as an AWS Secrets Manager, Azure Key Vault and GCP Secret Manager name."""


class AwsSecretStore(ConfigModel):
    """``secretStore.aws``: Secrets Manager details."""

    kms_key_id: Annotated[str, StringConstraints(
        pattern=rf"{KMS_KEY_ARN}|^([A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$")] | None = None
    """Key id, alias or ARN; one key, never a wildcard (``key/*``)."""
    """Customer-managed KMS key id/ARN; the account's ``aws/secretsmanager`` key when unset."""
    recovery_window_days: Annotated[int, Field(ge=0, le=30)] = 7
    """Days a deleted secret stays recoverable: 0 (delete at once) or 7..30."""

    @model_validator(mode="after")
    def _window(self) -> AwsSecretStore:
        if 0 < self.recovery_window_days < 7:
            raise ValueError("recoveryWindowDays must be 0 or 7..30 (AWS Secrets Manager's range)")
        return self


class AzureSecretStore(ConfigModel):
    """``secretStore.azure``: the existing Key Vault that receives the secret."""

    vault_name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")]
    resource_group: Annotated[str, StringConstraints(min_length=1, max_length=90)]


class SecretStoreConfig(ConfigModel):
    """``secretStore``: which cloud's secret store holds the token the application reads."""

    cloud: Cloud
    """``aws`` (Secrets Manager, in ``aws:region``), ``azure`` (Key Vault),
    ``gcp`` (Secret Manager, in ``gcp:project``)."""
    secret_name: SecretName | None = None
    """Name of the secret; ``<project>-<stack>-<deployment>-<key>`` when unset (``...-hf-token``
    for ``hfToken``)."""
    aws: AwsSecretStore = AwsSecretStore()
    azure: AzureSecretStore | None = None

    @model_validator(mode="after")
    def _azure_vault(self) -> SecretStoreConfig:
        if self.cloud == Cloud.AZURE and self.azure is None:
            raise ValueError("cloud azure needs azure.vaultName and azure.resourceGroup (an existing Key Vault)")
        return self

    def args(self, targets: CloudTargets) -> SecretStoreArgs:
        """The component args for this store in this stack."""
        return SecretStoreArgs(
            cloud=self.cloud.value,
            aws_kms_key_id=self.aws.kms_key_id,
            aws_recovery_window_days=self.aws.recovery_window_days,
            azure_vault_name=self.azure.vault_name if self.azure else None,
            azure_resource_group=self.azure.resource_group if self.azure else None,
            gcp_project=targets.gcp_project,
        )

    def name_for(self, stack_tag: str, deployment: str, key: str) -> str:
        """The name of the secret holding top-level secret ``key``: configured, or derived from the
        stack tag, the deployment and the key."""
        return self.secret_name or secret_name(stack_tag, deployment, key, self.cloud)


def secret_name(stack_tag: str, owner: str, key: str, cloud: Cloud) -> str:
    """``<stack tag>-<owner>-<key in kebab case>``: ``acme-dev-chat-hf-token`` for ``hfToken``, as
    ``cloud``'s secret store takes it (a Pulumi project name may hold ``.`` and ``_``)."""
    return store_name(cloud.value, f"{stack_tag}-{owner}-{re.sub(r'(?<!^)(?=[A-Z])', '-', key).lower()}")

