"""An SNS topic CloudWatch alarms can publish to: encrypted with a customer managed KMS key.

CloudWatch publishes to an encrypted topic only when the key's policy lets the
``cloudwatch.amazonaws.com`` principal use it (kms:Decrypt, kms:GenerateDataKey*). The AWS managed
key ``alias/aws/sns`` has a fixed policy that cannot grant that, so an alarm on a topic encrypted
with it never arrives (docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Enable
compatibility between event sources from AWS services and encrypted topics"). Every topic the
library creates for alarms comes from :func:`alarm_topic`; other publishers (a role) need the
same two KMS actions on :attr:`AlarmTopic.key_arn` in their own policy (:func:`publish_statements`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.outputs import json_document

#: What a publisher needs on the topic's key (SNS encrypts each message with a data key).
KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]


@dataclass(frozen=True)
class AlarmTopic:
    topic: aws.sns.Topic
    key_arn: pulumi.Output[str]


def key_policy(partition: pulumi.Input[str], account_id: pulumi.Input[str]) -> pulumi.Input[str]:
    """The account administers the key through IAM; CloudWatch (for alarms of this account only)
    may encrypt messages to the topic."""
    return json_document({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow",
         "Principal": {"AWS": pulumi.Output.concat("arn:", partition, ":iam::", account_id, ":root")},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow",
         "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": KEY_ACTIONS, "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
    ]})


def alarm_topic(name: str, alias: str, addresses: Sequence[str], tags: dict[str, str],
                opts: pulumi.ResourceOptions) -> AlarmTopic:
    """A topic encrypted with its own rotating key (``alias/scalepath/<alias>``: ``alias`` must be
    unique per stack), with ``addresses`` subscribed by e-mail."""
    invoke = pulumi.InvokeOutputOptions(parent=opts.parent, provider=opts.provider)
    account_id = aws.get_caller_identity_output(opts=invoke).account_id
    partition = aws.get_partition_output(opts=invoke).partition
    key = aws.kms.Key(f"{name}-key", description=f"scalepath alarm topic {alias}", enable_key_rotation=True,
                      deletion_window_in_days=30, policy=key_policy(partition, account_id), tags=tags, opts=opts)
    aws.kms.Alias(f"{name}-key-alias", name=f"alias/scalepath/{alias}", target_key_id=key.key_id, opts=opts)
    topic = aws.sns.Topic(name, kms_master_key_id=key.arn, tags=tags, opts=opts)
    for index, address in enumerate(addresses):
        aws.sns.TopicSubscription(f"{name}-{index}", topic=topic.arn, protocol="email", endpoint=address, opts=opts)
    return AlarmTopic(topic, key.arn)


def publish_statements(topic_arn: str, key_arn: str) -> list[dict[str, Any]]:
    """What a role publishing to an :func:`alarm_topic` needs: sns:Publish and the key's two actions."""
    return [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
            {"Effect": "Allow", "Action": KEY_ACTIONS, "Resource": key_arn}]
