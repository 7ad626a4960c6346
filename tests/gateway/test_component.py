"""The Gateway component's outputs: the client key leaves it only as a Pulumi secret."""

from __future__ import annotations

import pulumi

from components.gateway.args import CloudRunRuntime, GatewayArgs
from components.gateway.component import Gateway
from components.secret_store import SecretStoreArgs
from scalepath.plan import RecordingMonitor


def _args() -> GatewayArgs:
    return GatewayArgs(
        config_text="model_list: []\n", env={}, image="ghcr.io/berriai/litellm:v1.100.5", cpu=1, memory_gib=2,
        min_replicas=1, max_replicas=2, target_cpu_percent=70, private=True,
        store=SecretStoreArgs(cloud="gcp", gcp_project="p"), key_secret_name="s-gateway-key",
        physical_name="p-s-gateway",
        tags={"team": "ml", "cost-center": "cc", "environment": "dev", "stack": "s", "managed-by": "scalepath"},
        cloudrun=CloudRunRuntime(project="p", region="us-central1"))


def test_client_key_is_a_secret_and_key_secret_names_the_store(recorder: RecordingMonitor):
    outputs: list = []

    @pulumi.runtime.test
    def program():
        gateway = Gateway("gateway", _args())
        return pulumi.Output.all(pulumi.Output.from_input(gateway.client_key.is_secret()), gateway.key_secret,
                                 gateway.openai_base_url).apply(outputs.extend)

    program()  # returns once every registration is done: the secret version's need not precede these outputs
    key_is_secret, key_secret, url = outputs
    assert key_is_secret
    assert key_secret == "projects/p/secrets/s-gateway-key"
    assert url.startswith("https://p-s-gateway-") and url.endswith(".a.run.app/v1")
    secret_versions = [r for r in recorder.recorded if r.type == "gcp:secretmanager/secretVersion:SecretVersion"]
    assert [r.inputs["secretData"] for r in secret_versions] == ["[secret]"]
