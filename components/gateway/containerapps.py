"""The gateway on Azure Container Apps: a user-assigned managed identity reads its secrets from
Key Vault and calls exactly the routed Azure ML endpoints; ingress internal when private."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from components.gateway.args import KEY_ENV, LIVENESS_PATH, PORT, GatewayArgs
from components.gateway.meter_azure import alert_rules, metrics_pipeline, workbook
from components.tagging import azure_tags

#: Built-in role ids (same in every tenant): Key Vault Secrets User, AzureML Data Scientist.
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
AZUREML_DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"


def deploy_containerapps(name: str, args: GatewayArgs, secrets: dict[str, pulumi.Input[str]],
                         opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """``secrets`` maps env name -> Key Vault secret URL; returns the OpenAI base URL."""
    apps = args.containerapps
    store = args.store
    assert apps is not None and store.azure_vault_name and store.azure_resource_group
    tags = azure_tags(args.tags)
    group = azure_native.resources.ResourceGroup(f"{name}-rg", location=apps.location, tags=tags, opts=opts)
    identity = azure_native.managedidentity.UserAssignedIdentity(
        f"{name}-identity", resource_group_name=group.name, location=apps.location, tags=tags, opts=opts)

    def role(role_name: str, scope: pulumi.Input[str], role_id: str) -> azure_native.authorization.RoleAssignment:
        return azure_native.authorization.RoleAssignment(
            f"{name}-{role_name}", scope=scope, principal_id=identity.principal_id, principal_type="ServicePrincipal",
            role_definition_id=f"/subscriptions/{apps.subscription_id}/providers/Microsoft.Authorization/"
                               f"roleDefinitions/{role_id}", opts=opts)

    vault = (f"/subscriptions/{apps.subscription_id}/resourceGroups/{store.azure_resource_group}/providers/"
             f"Microsoft.KeyVault/vaults/{store.azure_vault_name}")
    reads: list[pulumi.Resource] = [role("reads-secrets", vault, KEY_VAULT_SECRETS_USER)]
    for index, endpoint in enumerate(args.grants.azureml_endpoint_ids):
        role(f"invokes-{index}", endpoint, AZUREML_DATA_SCIENTIST)
    environment = azure_native.app.ManagedEnvironment(
        f"{name}-env", resource_group_name=group.name, location=apps.location, tags=tags,
        public_network_access="Disabled" if args.private else "Enabled", opts=opts)
    refs = {env: env.lower().replace("_", "-") for env in secrets}
    sidecars: list[dict] = []
    if args.meter is not None:  # a Prometheus agent sidecar remote-writes to an Azure Monitor workspace
        workspace, sidecar, publisher = metrics_pipeline(name, args.physical_name, group.name, apps.location,
                                                         identity, apps.subscription_id, tags, opts)
        sidecars.append({**sidecar, "env": [*sidecar["env"], {"name": KEY_ENV, "secret_ref": refs[KEY_ENV]}]})
        reads.append(publisher)
        alert_rules(name, args.meter, args.physical_name, group.name, apps.location, workspace, tags, opts)
        workbook(name, args.meter, args.physical_name, group.name, apps.location, workspace, tags, opts)
    env = [{"name": k, "value": v} for k, v in args.plain_env().items()]
    env += [{"name": k, "secret_ref": ref} for k, ref in refs.items()]
    # The engine's Azure AD token for Azure ML comes from this identity (azure_ai provider).
    env.append({"name": "AZURE_CLIENT_ID", "value": identity.client_id})
    probe = {"http_get": {"path": LIVENESS_PATH, "port": PORT}, "period_seconds": 10, "timeout_seconds": 5}
    app = azure_native.app.ContainerApp(
        f"{name}-app", resource_group_name=group.name, location=apps.location, tags=tags,
        managed_environment_id=environment.id,
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        configuration={
            "ingress": {"external": not args.private, "target_port": PORT, "transport": "http",
                        "allow_insecure": False},
            "secrets": [{"name": refs[k], "key_vault_url": url, "identity": identity.id} for k, url in secrets.items()],
        },
        template={
            "containers": [{
                "name": "gateway", "image": args.image, "command": args.command()[:2], "args": args.command()[2:],
                "env": env,
                "resources": {"cpu": args.cpu, "memory": f"{args.memory_gib:g}Gi"},
                "probes": [{**probe, "type": "Startup", "failure_threshold": 10},
                           {**probe, "type": "Liveness", "failure_threshold": 3}],
            }, *sidecars],
            "scale": {"min_replicas": args.min_replicas, "max_replicas": args.max_replicas, "rules": [{
                "name": "cpu", "custom": {"type": "cpu", "metadata": {
                    "type": "Utilization", "value": str(args.target_cpu_percent)}}}]},
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=reads)))
    # The app's stable ingress name (revisions come and go behind it).
    return app.configuration.apply(lambda c: f"https://{c.ingress.fqdn if c and c.ingress else None}/v1")
