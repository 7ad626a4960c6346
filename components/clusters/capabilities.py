"""What runs on a cluster the stack creates, and what a workload's settings need running: a
scaler's metric source, a monitor's or rule's operator, the controller an annotation speaks to.
Each cluster component says what it installs (``INSTALLS``); the stack refuses a workload that
needs something else."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from functools import cache
from pathlib import Path

from components.config_model import ConfigModel
from components.files import load_data

ANNOTATIONS_FILE = Path(__file__).parent.parent / "data" / "service_annotations.yaml"
AWS_LB_PREFIX = "service.beta.kubernetes.io/aws-load-balancer-"


class Capability(str, Enum):
    """Something a workload may need running on its cluster."""

    KEDA = "KEDA (ScaledObject)"
    PROMETHEUS_OPERATOR = "the Prometheus operator (ServiceMonitor, PrometheusRule) and a Prometheus"
    MANAGED_PROMETHEUS = "GKE Managed Prometheus (PodMonitoring, Rules)"
    CUSTOM_METRICS_ADAPTER = "a custom-metrics adapter (an HPA's Pods/External metric)"
    RESOURCE_METRICS = "the resource metrics API (metrics-server: an HPA on CPU or memory)"
    AWS_LOAD_BALANCER_CONTROLLER = "the AWS Load Balancer Controller"


class _AwsCloudController(ConfigModel):
    annotations: frozenset[str]
    types: frozenset[str]


class _Annotations(ConfigModel):
    source: str
    as_of: str
    aws_cloud_controller: _AwsCloudController


@cache
def _annotations() -> _Annotations:
    return _Annotations.model_validate(load_data(ANNOTATIONS_FILE))


def annotation_needs(annotations: Mapping[str, str]) -> dict[str, Capability]:
    """Annotation -> the controller only it is read by, for those EKS's cloud controller ignores."""
    aws = _annotations().aws_cloud_controller
    return {key: Capability.AWS_LOAD_BALANCER_CONTROLLER for key, value in annotations.items()
            if key.startswith(AWS_LB_PREFIX) and (key not in aws.annotations or (
                key == f"{AWS_LB_PREFIX}type" and value not in aws.types))}
