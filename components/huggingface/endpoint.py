"""A dedicated Hugging Face Inference Endpoint (stage ``hf-endpoint``) as a Pulumi resource.

``InferenceEndpoint`` is the dynamic resource (CRUD in :mod:`components.huggingface.endpoint_provider`);
``HfInferenceEndpoint`` is the component stacks use: it validates the hardware against the
``hf`` catalogue before anything exists and outputs the endpoint URL and, for vLLM/TGI images,
the OpenAI-compatible base URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.dynamic import DynamicResource
from components.huggingface.endpoint_provider import (
    KIND,
    OWNER,
    InferenceEndpointProvider,
    openai_base_url,
    validate_hardware,
)

#: Outputs that carry secrets: the dynamic provider returns them in clear, so mark them again.
SECRET_OUTPUTS = ["token", "secrets"]


@dataclass(frozen=True, kw_only=True)
class ImageArgs:
    """A serving container instead of HF's default image."""

    engine: str
    """``vllm`` | ``tgi`` | ``tei`` | ``custom``; vLLM and TGI serve the OpenAI API under ``/v1/``."""
    url: str
    """Container image, e.g. ``vllm/vllm-openai:v0.11.0``."""
    port: int | None = None
    """Port the server listens on (the image's default when unset)."""
    health_route: str | None = None
    """Readiness route, e.g. ``/health``."""


@dataclass(frozen=True, kw_only=True)
class PrivateLinkArgs:
    """AWS PrivateLink access to a ``private`` endpoint."""

    account_id: str
    """AWS account allowed to connect through its VPC endpoint."""
    region: str
    """AWS region of the PrivateLink entry point (``us-east-1`` or ``eu-west-1``)."""


@dataclass(frozen=True, kw_only=True)
class HfInferenceEndpointArgs:
    """Everything an Inference Endpoint is made of."""

    endpoint_name: str
    """Endpoint name, unique in the namespace (lowercase, digits, ``-``; at most 32 characters)."""
    namespace: str
    """HF user or organisation that owns (and pays for) the endpoint."""
    repository: str
    """Model repository, ``org/name``."""
    token: pulumi.Input[str]
    """HF token with write access to the namespace's endpoints; a Pulumi secret."""
    vendor: str
    """Cloud vendor HF runs the endpoint on: ``aws`` | ``azure`` | ``gcp``."""
    region: str
    """Vendor region, e.g. ``us-east-1``."""
    accelerator: str
    """``cpu`` | ``gpu`` | ``neuron``; must match the hardware table."""
    instance_type: str
    """HF instance type, e.g. ``nvidia-a10g``."""
    instance_size: str
    """HF instance size, e.g. ``x1``."""
    tags: Mapping[str, str]
    """Logical cost tags; sent to HF as ``key:value`` strings."""
    revision: str | None = None
    """Model revision (commit sha) to pin; the default branch when unset."""
    task: str | None = None
    """Task, e.g. ``text-generation``; HF infers it when unset."""
    framework: str = "pytorch"
    """Model framework as HF names it (``pytorch``, ``custom``...)."""
    min_replica: int = 1
    """Fewest replicas; 0 scales to zero after ``scale_to_zero_timeout`` minutes idle."""
    max_replica: int = 1
    """Most replicas."""
    scale_to_zero_timeout: int | None = None
    """Idle minutes before scaling to zero (needs ``min_replica`` 0)."""
    scaling_metric: str | None = None
    """``pendingRequests`` | ``hardwareUsage``; HF's default when unset."""
    scaling_threshold: float | None = None
    """Threshold of ``scaling_metric`` that triggers a scale-up."""
    image: ImageArgs | None = None
    """Serving container; HF's default image when unset."""
    args: Sequence[str] = ()
    """Arguments appended to the container entrypoint."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Plain environment variables of the container."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secret environment variables (Pulumi secrets); marked secret in the resource's outputs."""
    access_type: str = "authenticated"
    """``public`` | ``authenticated`` (HF token required) | ``private`` (PrivateLink only)."""
    private_link: PrivateLinkArgs | None = None
    """PrivateLink settings for ``private`` endpoints."""
    paused: bool = False
    """Pause the endpoint (no charge, no serving) until set back to false."""
    timeout_seconds: int = 1800
    """How long create/update wait for the endpoint to serve before failing."""
    api_url: str | None = None
    """Inference Endpoints API base URL; ``$SCALEPATH_HF_ENDPOINTS_API`` or HF's default when unset."""
    provider: InferenceEndpointProvider = field(default_factory=InferenceEndpointProvider)
    """The dynamic provider (its retry and polling settings)."""


class InferenceEndpoint(DynamicResource):
    """The endpoint itself.

    Type ``pulumi-python:dynamic:Resource``, input ``kind`` = ``huggingface:InferenceEndpoint``.
    """

    url: pulumi.Output[str]
    """Endpoint URL once deployed."""
    status: pulumi.Output[str]
    """Endpoint state (``running``, ``scaledToZero``, ``paused``...)."""

    def __init__(self, name: str, props: Mapping[str, Any], provider: InferenceEndpointProvider,
                 opts: pulumi.ResourceOptions | None = None):
        outputs = {"url": None, "status": None, "openaiBaseUrl": None}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS))
        super().__init__(provider, name, {**props, **outputs}, opts)


def _image_props(image: ImageArgs | None) -> dict[str, Any] | None:
    if image is None:
        return None
    return {"engine": image.engine, "url": image.url, "port": image.port, "healthRoute": image.health_route}


def endpoint_props(args: HfInferenceEndpointArgs, owner: str) -> dict[str, Any]:
    """The dynamic resource's camelCase inputs (what policies and the plan see); ``owner`` names the
    resource (``<project>/<stack>/<name>``) for the provider's create marker."""
    props: dict[str, Any] = {
        "kind": KIND,
        OWNER: owner,
        "endpointName": args.endpoint_name,
        "namespace": args.namespace,
        "repository": args.repository,
        "revision": args.revision,
        "task": args.task,
        "framework": args.framework,
        "vendor": args.vendor,
        "region": args.region,
        "accelerator": args.accelerator,
        "instanceType": args.instance_type,
        "instanceSize": args.instance_size,
        "minReplica": args.min_replica,
        "maxReplica": args.max_replica,
        "scaleToZeroTimeout": args.scale_to_zero_timeout,
        "scalingMetric": args.scaling_metric,
        "scalingThreshold": args.scaling_threshold,
        "image": _image_props(args.image),
        "args": list(args.args),
        "env": dict(args.env),
        "secrets": pulumi.Output.secret(dict(args.secrets)),
        "type": args.access_type,
        "privateLink": None if args.private_link is None else {
            "accountId": args.private_link.account_id, "region": args.private_link.region,
        },
        "tags": dict(args.tags),
        "paused": args.paused,
        "timeoutSeconds": args.timeout_seconds,
        "token": pulumi.Output.secret(args.token),
    }
    if args.api_url:
        props["apiUrl"] = args.api_url
    return props


class HfInferenceEndpoint(pulumi.ComponentResource):
    """A dedicated HF Inference Endpoint, validated against the ``hf`` hardware table."""

    endpoint_name: pulumi.Output[str]
    """Endpoint name in its namespace."""
    url: pulumi.Output[str]
    """Endpoint URL."""
    openai_base_url: pulumi.Output[str | None]
    """``<url>/v1/`` for vLLM/TGI images (OpenAI-compatible clients), else None."""
    status: pulumi.Output[str]
    """Endpoint state after the last create/update/refresh."""

    def __init__(self, name: str, args: HfInferenceEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:HfInferenceEndpoint", name, None, opts)
        # Fail before any resource exists, naming the valid hardware.
        validate_hardware(args.vendor, args.accelerator, args.instance_type, args.instance_size)
        owner = f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}"
        endpoint = InferenceEndpoint(f"{name}-endpoint", endpoint_props(args, owner), args.provider,
                                     pulumi.ResourceOptions(parent=self))
        image = _image_props(args.image)
        self.endpoint_name = pulumi.Output.from_input(args.endpoint_name)
        self.url = endpoint.url
        self.openai_base_url = endpoint.url.apply(lambda url: openai_base_url(url, image))
        self.status = endpoint.status
        self.register_outputs({"endpoint_name": self.endpoint_name, "url": self.url,
                               "openai_base_url": self.openai_base_url, "status": self.status})
