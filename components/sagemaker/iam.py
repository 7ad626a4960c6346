"""The least-privilege execution role of one SageMaker endpoint.

No ``*FullAccess`` managed policy: one inline policy lists exactly what the container and the
endpoint need — pull its own image repository, write its own log group and metrics, read its
weights prefix, write its capture/async prefixes, publish to its topics, use its KMS key and
(in a VPC) manage its network interfaces. Actions that AWS only authorises on ``*``
(``ecr:GetAuthorizationToken``, ``cloudwatch:PutMetricData``, EC2 ``Describe*``) are named
one by one, and narrowed by condition keys where AWS offers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.outputs import json_document


@dataclass(frozen=True, kw_only=True)
class RoleScope:
    """What the role may touch; every ARN belongs to this endpoint."""

    partition: str
    region: str
    account_id: pulumi.Input[str]
    endpoint_name: str
    ecr_repository_arn: str
    """The image's repository (the DLC registry account's, not ours)."""
    kms_key_arn: pulumi.Input[str] | None
    weights_kms_key_arn: str | None = None
    """SSE-KMS key of the weights bucket: decrypt through S3 only."""
    read_s3_prefixes: Sequence[pulumi.Input[str]] = ()
    """``bucket/prefix`` the container reads (weights; async inputs)."""
    write_s3_prefixes: Sequence[pulumi.Input[str]] = ()
    """``bucket/prefix`` SageMaker writes (data capture, async output and failures)."""
    sns_topic_arns: Sequence[pulumi.Input[str]] = ()
    vpc_arn: pulumi.Input[str] | None = None
    """Set in private mode: ENI management limited to this VPC."""


def _bucket_and_prefix(path: str) -> tuple[str, str]:
    bucket, _, prefix = path.partition("/")
    return bucket, prefix


def _s3_statements(scope: RoleScope) -> pulumi.Output[list[dict[str, Any]]]:
    def build(reads: list[str], writes: list[str]) -> list[dict[str, Any]]:
        p = scope.partition
        statements: list[dict[str, Any]] = []
        if reads:
            statements.append({
                "Sid": "ReadModelObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
                "Resource": [f"arn:{p}:s3:::{path.rstrip('/')}/*" for path in reads],
            })
            for path in reads:
                bucket, prefix = _bucket_and_prefix(path)
                statements.append({
                    "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:{p}:s3:::{bucket}",
                    "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"] if prefix else ["*"]}},
                })
        if writes:
            statements.append({
                "Sid": "WriteOutputObjects", "Effect": "Allow", "Action": ["s3:PutObject"],
                "Resource": [f"arn:{p}:s3:::{path.rstrip('/')}/*" for path in writes],
            })
        return statements

    return pulumi.Output.all(
        pulumi.Output.all(*scope.read_s3_prefixes), pulumi.Output.all(*scope.write_s3_prefixes)
    ).apply(lambda args: build(list(args[0]), list(args[1])))


def execution_policy(scope: RoleScope) -> pulumi.Output[str]:
    """The inline policy document (JSON) of the execution role."""
    p, region = scope.partition, scope.region
    log_group = pulumi.Output.concat(
        f"arn:{p}:logs:{region}:", scope.account_id, f":log-group:/aws/sagemaker/Endpoints/{scope.endpoint_name}"
    )
    statements: list[Any] = [
        {"Sid": "PullImage", "Effect": "Allow",
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
         "Resource": scope.ecr_repository_arn},
        # GetAuthorizationToken is account-wide by design: AWS only accepts Resource "*" for it.
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "WriteOwnLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": [log_group, pulumi.Output.concat(log_group, ":log-stream:*")]},
        # PutMetricData has no resource type; the namespace condition keeps it to SageMaker's.
        {"Sid": "PutEndpointMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
         "Condition": {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}}},
    ]
    if scope.kms_key_arn is not None:
        statements.append({"Sid": "UseOwnKey", "Effect": "Allow",
                           "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                           "Resource": scope.kms_key_arn})
    if scope.weights_kms_key_arn is not None:
        # Objects under SSE-KMS need kms:Decrypt on the bucket's key besides s3:GetObject; the
        # key's own policy must also admit this role (not ours to change: docs/cloud-limits.md).
        statements.append({"Sid": "DecryptWeights", "Effect": "Allow", "Action": ["kms:Decrypt"],
                           "Resource": scope.weights_kms_key_arn,
                           "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}})
    if scope.sns_topic_arns:
        statements.append({"Sid": "NotifyOwnTopics", "Effect": "Allow", "Action": ["sns:Publish"],
                           "Resource": list(scope.sns_topic_arns)})
    if scope.vpc_arn is not None:
        statements += [
            {"Sid": "DescribeNetwork", "Effect": "Allow", "Resource": "*",
             "Action": ["ec2:DescribeVpcEndpoints", "ec2:DescribeDhcpOptions", "ec2:DescribeVpcs",
                        "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"]},
            {"Sid": "ManageEnisInOwnVpc", "Effect": "Allow", "Resource": "*",
             "Action": ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                        "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
             "Condition": {"ArnEquals": {"ec2:Vpc": scope.vpc_arn}}},
        ]
    return _s3_statements(scope).apply(
        lambda s3: json_document({"Version": "2012-10-17", "Statement": statements + s3}))


def assume_role_policy(partition: str, account_id: pulumi.Input[str], region: str) -> pulumi.Input[str]:
    """Only SageMaker, and only on behalf of this account (confused-deputy guard)."""
    return json_document({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {
                    "aws:SourceArn": pulumi.Output.concat(f"arn:{partition}:sagemaker:{region}:", account_id, ":*"),
                },
            },
        }],
    })

