"""One secret in the cloud secret store an application reads it from: AWS Secrets Manager,
Azure Key Vault or GCP Secret Manager. The value stays a Pulumi secret end to end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from components.files import load_data
from components.names import cloud_name
from components.tagging import aws_tags, azure_tags, gcp_labels

CLOUDS = ("aws", "azure", "gcp")
_NAMES_FILE = Path(__file__).parent / "data" / "secret_names.yaml"


@cache
def _name_rules() -> dict:
    return load_data(_NAMES_FILE)


def store_name(cloud: str, name: str) -> str:
    """``name`` as ``cloud``'s secret store takes it (``data/secret_names.yaml``): characters it
    refuses become ``-``, a longer name keeps its head and a hash of the whole. A ``.`` or ``_`` can
    come only from the Pulumi project name; a name the store already takes is kept as it is."""
    rules = _name_rules()[cloud]
    return cloud_name(name, rules["maxChars"], rules["allowed"])


@dataclass(frozen=True, kw_only=True)
class SecretStoreArgs:
    """Which store receives secrets, and where in it."""

    cloud: str
    """``aws`` | ``azure`` | ``gcp``."""
    aws_kms_key_id: str | None = None
    """AWS: customer-managed KMS key; the account's ``aws/secretsmanager`` key when unset."""
    aws_recovery_window_days: int = 7
    """AWS: days a deleted secret stays recoverable (0 deletes at once, 7..30 otherwise)."""
    azure_vault_name: str | None = None
    """Azure: existing Key Vault that receives the secret (required for ``azure``)."""
    azure_resource_group: str | None = None
    """Azure: resource group of that vault (required for ``azure``)."""
    gcp_project: str | None = None
    """GCP: project of the secret (required for ``gcp``)."""


@dataclass(frozen=True, kw_only=True)
class CloudSecretArgs:
    """One secret: its store, name, value and tags."""

    store: SecretStoreArgs
    """Where it goes."""
    secret_name: str
    """Name of the secret in the store, as the store takes it (:func:`store_name`)."""
    value: pulumi.Input[str]
    """The secret value; pass a Pulumi secret (``Config.require_secret``)."""
    description: str
    """What the secret is for (AWS description, GCP annotation)."""
    tags: Mapping[str, str]
    """Logical cost tags (:func:`components.tagging.cost_tags`), normalised per cloud."""


class CloudSecret(pulumi.ComponentResource):
    """A secret and its current version in the chosen cloud's secret store."""

    secret_id: pulumi.Output[str]
    """ARN (AWS), ARM id (Azure) or ``projects/<p>/secrets/<name>`` (GCP): what the app's IAM grants name."""
    secret_name: pulumi.Output[str]
    """The secret's name in the store."""

    def __init__(self, name: str, args: CloudSecretArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:CloudSecret", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        store = args.store
        if store.cloud == "aws":
            secret = aws.secretsmanager.Secret(
                f"{name}-secret", name=args.secret_name, description=args.description,
                kms_key_id=store.aws_kms_key_id, recovery_window_in_days=store.aws_recovery_window_days,
                tags=aws_tags(args.tags), opts=child)
            aws.secretsmanager.SecretVersion(
                f"{name}-version", secret_id=secret.id, secret_string=pulumi.Output.secret(args.value), opts=child)
            self.secret_id, self.secret_name = secret.arn, secret.name
        elif store.cloud == "azure":
            if not (store.azure_vault_name and store.azure_resource_group):
                raise ValueError("an Azure secret needs azure_vault_name and azure_resource_group")
            secret = azure_native.keyvault.Secret(
                f"{name}-secret", secret_name=args.secret_name, vault_name=store.azure_vault_name,
                resource_group_name=store.azure_resource_group,
                properties=azure_native.keyvault.SecretPropertiesArgs(
                    value=pulumi.Output.secret(args.value), content_type="text/plain"),
                tags=azure_tags(args.tags), opts=child)
            self.secret_id, self.secret_name = secret.id, pulumi.Output.from_input(args.secret_name)
        elif store.cloud == "gcp":
            if not store.gcp_project:
                raise ValueError("a GCP secret needs gcp_project")
            secret = gcp.secretmanager.Secret(
                f"{name}-secret", secret_id=args.secret_name, project=store.gcp_project,
                replication=gcp.secretmanager.SecretReplicationArgs(auto=gcp.secretmanager.SecretReplicationAutoArgs()),
                labels=gcp_labels(args.tags), annotations={"description": args.description}, opts=child)
            gcp.secretmanager.SecretVersion(
                f"{name}-version", secret=secret.id, secret_data=pulumi.Output.secret(args.value), opts=child)
            self.secret_id = pulumi.Output.concat("projects/", store.gcp_project, "/secrets/", args.secret_name)
            self.secret_name = pulumi.Output.from_input(args.secret_name)
        else:
            raise ValueError(f"unknown secret store cloud {store.cloud!r}; allowed: {', '.join(CLOUDS)}")
        self.register_outputs({"secret_id": self.secret_id, "secret_name": self.secret_name})
