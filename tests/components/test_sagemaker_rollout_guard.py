"""The dynamic resources around a SageMaker endpoint update (issue 14: capacity kept across
rollouts, instance-type change on an autoscaled variant, rollbacks made visible), driven against
real botocore clients whose calls are answered by botocore's ``Stubber`` — every request is
validated against the service model, and nothing leaves the process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from components.sagemaker.rollout_guard import RolloutError, preflight, resource_id, verify

NAME, VARIANT, REGION = "scalepath-prod-chat", "AllTraffic", "us-east-1"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class Clients:
    """Real clients (dummy credentials) with a Stubber each; ``factory`` is what the code calls."""

    def __init__(self) -> None:
        session = botocore.session.Session()
        self.clients = {service: session.create_client(service, region_name=REGION, aws_access_key_id="testing",
                                                       aws_secret_access_key="testing")
                        for service in ("sagemaker", "application-autoscaling")}
        self.stubs = {service: Stubber(client) for service, client in self.clients.items()}

    def factory(self, service: str, region: str) -> Any:
        assert region == REGION
        return self.clients[service]


@pytest.fixture
def aws() -> Iterator[Clients]:
    clients = Clients()
    for stub in clients.stubs.values():
        stub.activate()
    yield clients
    for stub in clients.stubs.values():
        stub.assert_no_pending_responses()  # every expected call was made
        stub.deactivate()


def _props(**overrides: Any) -> dict[str, Any]:
    return {"region": REGION, "endpointName": NAME, "variantName": VARIANT, "instanceType": "ml.g5.2xlarge",
            "minCapacity": 2, "maxCapacity": 6, **overrides}


def _endpoint(config: str = "chat-config-new", desired: int = 5, status: str = "InService", **extra: Any) -> dict:
    return {"EndpointName": NAME, "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{NAME}",
            "EndpointConfigName": config, "EndpointStatus": status,
            "CreationTime": "2026-12-01T00:00:00Z", "LastModifiedTime": "2026-12-01T00:00:00Z",
            "ProductionVariants": [{"VariantName": VARIANT, "CurrentInstanceCount": desired,
                                    "DesiredInstanceCount": desired}], **extra}


def _config(instance_type: str) -> dict:
    return {"EndpointConfigName": "chat-config-old", "EndpointConfigArn":
            f"arn:aws:sagemaker:{REGION}:123456789012:endpoint-config/chat-config-old",
            "CreationTime": "2026-12-01T00:00:00Z",
            "ProductionVariants": [{"VariantName": VARIANT, "ModelName": "chat-model", "InstanceType": instance_type,
                                    "InitialInstanceCount": 2}]}


def test_first_up_starts_at_the_minimum(aws: Clients) -> None:
    aws.stubs["sagemaker"].add_client_error("describe_endpoint", service_error_code="ValidationException",
                                            service_message=f'Could not find endpoint "{NAME}".')
    assert preflight(_props(), aws.factory) == {"desiredInstanceCount": 2, "deregistered": False}


@pytest.mark.parametrize(("live", "expected"), [(5, 5), (1, 2), (9, 6)])
def test_rollout_starts_at_the_live_count_within_bounds(aws: Clients, live: int, expected: int) -> None:
    aws.stubs["sagemaker"].add_response("describe_endpoint", _endpoint(desired=live), {"EndpointName": NAME})
    aws.stubs["sagemaker"].add_response("describe_endpoint_config", _config("ml.g5.2xlarge"),
                                        {"EndpointConfigName": "chat-config-new"})
    assert preflight(_props(), aws.factory) == {"desiredInstanceCount": expected, "deregistered": False}


def test_instance_type_change_deregisters_the_scalable_target_first(aws: Clients) -> None:
    aws.stubs["sagemaker"].add_response("describe_endpoint", _endpoint(config="chat-config-old", desired=4),
                                        {"EndpointName": NAME})
    aws.stubs["sagemaker"].add_response("describe_endpoint_config", _config("ml.g5.2xlarge"),
                                        {"EndpointConfigName": "chat-config-old"})
    target = resource_id(NAME, VARIANT)
    scaling = aws.stubs["application-autoscaling"]
    scaling.add_response("describe_scalable_targets", {"ScalableTargets": [{
        "ServiceNamespace": "sagemaker", "ResourceId": target, "ScalableDimension": DIMENSION, "MinCapacity": 2,
        "MaxCapacity": 6, "RoleARN": "arn:aws:iam::123456789012:role/aws-service-role/x",
        "CreationTime": "2026-12-01T00:00:00Z"}]},
        {"ServiceNamespace": "sagemaker", "ResourceIds": [target], "ScalableDimension": DIMENSION})
    scaling.add_response("deregister_scalable_target", {},
                         {"ServiceNamespace": "sagemaker", "ResourceId": target, "ScalableDimension": DIMENSION})
    assert preflight(_props(instanceType="ml.g6e.2xlarge"), aws.factory) == {
        "desiredInstanceCount": 4, "deregistered": True}


def test_instance_type_change_without_a_registered_target_changes_nothing(aws: Clients) -> None:
    aws.stubs["sagemaker"].add_response("describe_endpoint", _endpoint(config="chat-config-old", desired=3),
                                        {"EndpointName": NAME})
    aws.stubs["sagemaker"].add_response("describe_endpoint_config", _config("ml.g5.2xlarge"),
                                        {"EndpointConfigName": "chat-config-old"})
    aws.stubs["application-autoscaling"].add_response(
        "describe_scalable_targets", {"ScalableTargets": []},
        {"ServiceNamespace": "sagemaker", "ResourceIds": [resource_id(NAME, VARIANT)], "ScalableDimension": DIMENSION})
    assert preflight(_props(instanceType="ml.g6e.2xlarge"), aws.factory)["deregistered"] is False


def test_other_errors_are_not_taken_for_a_missing_endpoint(aws: Clients) -> None:
    aws.stubs["sagemaker"].add_client_error("describe_endpoint", service_error_code="AccessDeniedException",
                                            service_message="not authorized")
    with pytest.raises(Exception, match="not authorized"):
        preflight(_props(), aws.factory)


def test_verification_passes_when_the_new_config_serves(aws: Clients) -> None:
    aws.stubs["sagemaker"].add_response("describe_endpoint", _endpoint(), {"EndpointName": NAME})
    props = {"region": REGION, "endpointName": NAME, "endpointConfigName": "chat-config-new"}
    assert verify(props, aws.factory) == {"servingConfigName": "chat-config-new"}


def test_verification_fails_loudly_after_a_rollback(aws: Clients) -> None:
    aws.stubs["sagemaker"].add_response("describe_endpoint", _endpoint(config="chat-config-old"),
                                        {"EndpointName": NAME})
    props = {"region": REGION, "endpointName": NAME, "endpointConfigName": "chat-config-new"}
    with pytest.raises(RolloutError, match="rolled back"):
        verify(props, aws.factory)
