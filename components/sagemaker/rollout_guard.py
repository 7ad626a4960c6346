"""What the AWS provider does not do around a SageMaker endpoint update, as two dynamic resources.

``UpdateEndpoint`` as the provider calls it (no ``RetainAllVariantProperties``) has three
consequences the stack must handle itself:

* **Capacity.** The new fleet starts at the new config's ``InitialInstanceCount``, not at the
  count autoscaling reached. :class:`EndpointPreflight` reads the live ``DesiredInstanceCount``
  before the new endpoint configuration is created, and the stage uses it as that config's
  initial count (clamped to the scaling bounds).
* **Instance type of an autoscaled variant.** AWS refuses the update while the variant is a
  registered scalable target ("deregister ... before they can ... have their instance type
  updated"). The preflight deregisters it when the instance type changes; the Pulumi target and
  policy carry the instance type as their replacement trigger (delete before replace), so they
  are registered again after the update.
* **Auto-rollback is silent.** A rolled-back update ends ``InService`` on the *old* config and
  the provider reports success. :class:`EndpointVerification` runs after the update and fails the
  ``up`` when the endpoint does not serve the expected config, naming the rollback. Configs and
  models are kept on delete (``retain_on_delete``), so the config a rollback returned to is never
  deleted from under the endpoint.

Dynamic providers run only in a real ``pulumi up`` (never under mocks); their logic is tested
against botocore's ``Stubber`` (requests validated against the service model).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ResourceProvider, UpdateResult

from components.dynamic import DynamicResource

PREFLIGHT_KIND = "sagemaker:EndpointPreflight"
VERIFICATION_KIND = "sagemaker:EndpointVerification"
"""Values of the ``kind`` input: how plans and policies tell these dynamic resources apart."""

ClientFactory = Callable[[str, str], Any]
"""``(service, region) -> botocore client``."""


def _boto3_client(service: str, region: str) -> Any:
    import boto3  # noqa: PLC0415 (only a real `pulumi up` calls AWS)

    return boto3.client(service, region_name=region)


def _not_found(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    message = str(error)
    return code in ("ValidationException", "ResourceNotFound") and "Could not find" in message


def resource_id(endpoint_name: str, variant: str) -> str:
    """Application Auto Scaling's id of a SageMaker variant."""
    return f"endpoint/{endpoint_name}/variant/{variant}"


def preflight(props: Mapping[str, Any], client: ClientFactory = _boto3_client) -> dict[str, Any]:
    """Read the live count; deregister the scalable target if the instance type is changing.

    Returns the outputs: ``desiredInstanceCount`` (clamped to ``minCapacity``..``maxCapacity``,
    at least 1) and ``deregistered``."""
    region, name, variant = props["region"], props["endpointName"], props["variantName"]
    floor, ceiling = max(int(props["minCapacity"]), 1), max(int(props["maxCapacity"]), 1)
    sagemaker = client("sagemaker", region)
    try:
        live = sagemaker.describe_endpoint(EndpointName=name)
    except Exception as error:  # botocore ClientError; the first `up` has no endpoint yet
        if _not_found(error):
            return {"desiredInstanceCount": floor, "deregistered": False}
        raise
    summary = next((v for v in live.get("ProductionVariants", []) if v["VariantName"] == variant), {})
    count = summary.get("DesiredInstanceCount") or summary.get("CurrentInstanceCount") or floor
    deregistered = False
    if props.get("instanceType"):
        config = sagemaker.describe_endpoint_config(EndpointConfigName=live["EndpointConfigName"])
        current = next((v.get("InstanceType") for v in config["ProductionVariants"]
                        if v["VariantName"] == variant), None)
        if current is not None and current != props["instanceType"]:
            scaling = client("application-autoscaling", region)
            target = resource_id(name, variant)
            found = scaling.describe_scalable_targets(
                ServiceNamespace="sagemaker", ResourceIds=[target],
                ScalableDimension="sagemaker:variant:DesiredInstanceCount")["ScalableTargets"]
            if found:
                # Also removes its scaling policies; Pulumi registers both again after the update.
                scaling.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=target,
                                                   ScalableDimension="sagemaker:variant:DesiredInstanceCount")
                deregistered = True
    return {"desiredInstanceCount": min(max(int(count), floor), ceiling), "deregistered": deregistered}


class RolloutError(Exception):
    """The endpoint does not serve what this update deployed."""


def verify(props: Mapping[str, Any], client: ClientFactory = _boto3_client) -> dict[str, Any]:
    """Fail unless the endpoint is ``InService`` on the expected endpoint configuration."""
    live = client("sagemaker", props["region"]).describe_endpoint(EndpointName=props["endpointName"])
    serving, status = live.get("EndpointConfigName"), live.get("EndpointStatus")
    if serving != props["endpointConfigName"] or status != "InService":
        reason = live.get("FailureReason") or "an alarm fired during the blue/green rollout"
        raise RolloutError(
            f"endpoint {props['endpointName']} is {status} on config {serving!r}, not the deployed "
            f"{props['endpointConfigName']!r}: the update was rolled back ({reason}). The previous config "
            "and model are kept; check the latency/5xx alarms and the endpoint's CloudWatch logs, then "
            "run `pulumi up` again to retry")
    return {"servingConfigName": serving}


class _Provider(ResourceProvider):
    """Runs ``step`` on create and on every update (both must see the live endpoint)."""

    def __init__(self, step: Callable[[Mapping[str, Any]], dict[str, Any]]):
        super().__init__()
        self._step = step

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['kind']}:{props['endpointName']}", outs={**props, **self._step(props)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, **self._step(news)})


class EndpointPreflight(DynamicResource):
    """Before the endpoint configuration is created: live capacity, deregistration on a type change.

    Type ``pulumi-python:dynamic:Resource``, input ``kind`` = ``sagemaker:EndpointPreflight``."""

    # Dynamic resources expose their outputs under the property names (camelCase on the wire).
    desiredInstanceCount: pulumi.Output[int]
    deregistered: pulumi.Output[bool]

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(_Provider(preflight), name,
                         {**props, "kind": PREFLIGHT_KIND, "desiredInstanceCount": None, "deregistered": None}, opts)


class EndpointVerification(DynamicResource):
    """After the endpoint update: fail loudly when the endpoint rolled back.

    Type ``pulumi-python:dynamic:Resource``, input ``kind`` = ``sagemaker:EndpointVerification``."""

    servingConfigName: pulumi.Output[str]

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(_Provider(verify), name,
                         {**props, "kind": VERIFICATION_KIND, "servingConfigName": None}, opts)
