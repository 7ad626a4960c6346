"""encryption-at-rest: customer-managed keys where model data, captures and secrets rest."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .common import get, items

# SageMaker instance types whose storage is local NVMe: AWS encrypts it in hardware and
# CreateEndpointConfig rejects a `KmsKeyId` for them, so `kmsKeyArn` cannot be asked for.
DEFAULT_NVME_INSTANCE_PATTERNS = ["ml.g4dn.*", "ml.g5.*", "ml.g6.*", "ml.g6e.*", "ml.p4d.*",
                                  "ml.p4de.*", "ml.p5.*", "ml.p5e.*", "ml.p5en.*"]


def _all_nvme(props: Mapping[str, Any], nvme_patterns: list[str]) -> bool:
    types = [get(v, "instanceType") for v in items(get(props, "productionVariants"))]
    return bool(types) and all(
        isinstance(t, str) and any(fnmatch.fnmatchcase(t, p) for p in nvme_patterns) for t in types)


def unencrypted(resource_type: str, props: Mapping[str, Any], require_workspace_cmk: bool,
                nvme_patterns: list[str]) -> Iterator[str]:
    """What rests without a customer-managed key, one sentence each."""
    if resource_type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
        if not get(props, "kmsKeyArn") and not _all_nvme(props, nvme_patterns):
            yield "`kmsKeyArn` is not set: the ML storage volumes use an AWS-managed key"
        capture = get(props, "dataCaptureConfig")
        if capture is not None and get(capture, "enableCapture", True) and not get(capture, "kmsKeyId"):
            yield "`dataCaptureConfig.kmsKeyId` is not set: captured requests and responses land unencrypted by a CMK"
    elif resource_type == "aws:eks/cluster:Cluster":
        config = get(props, "encryptionConfig", {})  # one object in pulumi-aws v7
        if not ("secrets" in items(get(config, "resources")) and get(config, "provider.keyArn")):
            yield "`encryptionConfig` does not encrypt `secrets` with a KMS key (`provider.keyArn`)"
    elif resource_type == "gcp:container/cluster:Cluster":
        if get(props, "databaseEncryption.state") != "ENCRYPTED" or not get(props, "databaseEncryption.keyName"):
            yield "`databaseEncryption` is not `ENCRYPTED` with a Cloud KMS `keyName` (etcd secrets)"
    elif resource_type == "gcp:vertex/aiEndpoint:AiEndpoint":
        if not get(props, "encryptionSpec.kmsKeyName"):
            yield "`encryptionSpec.kmsKeyName` is not set"
    elif resource_type == "azure-native:machinelearningservices:Workspace" and require_workspace_cmk:
        if not get(props, "encryption.keyVaultProperties.keyIdentifier"):
            yield ("`encryption.keyVaultProperties.keyIdentifier` is not set "
                   "(workspace data uses a Microsoft-managed key)")


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    require = bool(config.get("requireAzureWorkspaceCmk", False))
    nvme = list(config.get("nvmeInstancePatterns", DEFAULT_NVME_INSTANCE_PATTERNS))
    for problem in unencrypted(args.resource_type, args.props, require, nvme):
        report_violation(problem[0].upper() + problem[1:] + ".", None)


POLICY = ResourceValidationPolicy(
    name="encryption-at-rest",
    description="Model volumes, data capture, cluster secrets and endpoints are encrypted with customer-managed keys.",
    validate=_validate,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={
        "requireAzureWorkspaceCmk": {"type": "boolean", "default": False,
                                     "description": "Also require a customer-managed key on Azure ML workspaces."},
        "nvmeInstancePatterns": {"type": "array", "items": {"type": "string", "minLength": 1},
                                 "default": DEFAULT_NVME_INSTANCE_PATTERNS,
                                 "description": "SageMaker instance types (globs) with local NVMe storage, "
                                                "where AWS forbids `kmsKeyArn`."},
    }),
    remediation_steps=(
        "Create a KMS key (AWS KMS, Cloud KMS, Key Vault) with the stack and pass it: SageMaker "
        "`kmsKeyArn` and `dataCaptureConfig.kmsKeyId`, EKS `encryptionConfig` for `secrets`, GKE "
        "`databaseEncryption`, Vertex `encryptionSpec`, Azure ML workspace `encryption`."
    ),
)
