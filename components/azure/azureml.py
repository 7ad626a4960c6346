"""Azure ML managed online endpoint: workspace (or an existing one), endpoint, blue/green online
deployments, autoscale, alerts, the HF token in Key Vault, and private networking.

Built on pulumi-azure-native (azurerm has no online-endpoint resource). Azure has no provider
default tags, so every taggable child gets ``azure_tags(args.tags)`` explicitly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pulumi
from pulumi_azure_native import applicationinsights as appinsights
from pulumi_azure_native import (
    authorization,
    containerregistry,
    keyvault,
    monitor,
    network,
    operationalinsights,
    privatedns,
    resources,
    storage,
)
from pulumi_azure_native import machinelearningservices as ml

from components import catalog
from components.files import load_data
from components.names import fit_name, replacement_suffix
from components.tagging import azure_tags

#: Private DNS zones a workspace private endpoint (group id ``amlworkspace``) registers in.
WORKSPACE_DNS_ZONES = ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net")
WORKSPACE_PE_GROUP = "amlworkspace"

#: Built-in role definition ids (the same GUID in every tenant).
_KV_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

_ENDPOINT_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
#: API version pulumi-azure-native's ``OnlineEndpoint`` uses (its docstring says which; a test
#: holds the two together), so the traffic template PUTs the same shape.
ENDPOINT_API_VERSION = "2025-12-01"
ARM_TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
_DEPLOYMENT_NS = f"{_ENDPOINT_NS}/deployments"

#: Online deployment names: 3..32 letters, digits and ``-`` (the stage's ``VariantName``).
DEPLOYMENT_NAME_LIMIT = 32

#: Where a registered model is mounted in the container (the server loads it from there).
MODEL_MOUNT_PATH = "/var/azureml-app/model"

_EGRESS_FILE = Path(__file__).parents[1] / "data" / "azureml_egress.yaml"


@cache
def _egress() -> dict:
    return load_data(_EGRESS_FILE)


def hf_hub_hosts() -> tuple[str, ...]:
    """Hosts a model download from the HF Hub touches (API, LFS CDNs, Xet storage)."""
    return tuple(_egress()["huggingFaceHub"]["hosts"])


def image_registry(image: str) -> str:
    """The registry host of an image reference (the config requires one, e.g. ``docker.io/...``)."""
    return image.split("/", 1)[0].split(":", 1)[0]


def known_registries() -> list[str]:
    """Public registries whose pull hosts the egress data lists."""
    return sorted(_egress()["registries"]["hosts"])


def registry_egress(image: str) -> tuple[str, ...] | None:
    """Outbound hosts a private deployment needs to pull ``image``: none for the workspace
    registry (``*.azurecr.io``, private endpoint) and Microsoft Container Registry (required
    rules of the managed network); ``None`` when the registry's hosts are unknown."""
    registry = image_registry(image)
    if registry.endswith(".azurecr.io") or registry == "mcr.microsoft.com":
        return ()
    hosts = _egress()["registries"]["hosts"].get(registry)
    return tuple(hosts) if hosts is not None else None


@dataclass(frozen=True, kw_only=True)
class AzureMlContainer:
    """The inference server container of a deployment (TGI, vLLM or another HTTP server)."""

    image: str
    """Image reference with a pinned tag or digest."""
    port: int
    """Port the server listens on; all routes use it."""
    liveness_path: str
    readiness_path: str
    scoring_path: str
    """Path Azure ML forwards ``/score`` to."""
    env: Mapping[str, str]
    """Non-secret environment variables (the HF token is added from Key Vault)."""
    openai_compatible: bool
    """The server also answers ``/v1/chat/completions`` (TGI Messages API, vLLM)."""


@dataclass(frozen=True, kw_only=True)
class AzureMlAutoscale:
    """Instance bounds and the metric targets that drive ``monitor.AutoscaleSetting``."""

    min_instances: int
    """At least 1: managed online deployments cannot scale to zero."""
    max_instances: int
    gpu_utilization_pct: int | None
    cpu_utilization_pct: int | None
    latency_p95_ms: int | None
    scale_out_cooldown_minutes: int
    scale_in_cooldown_minutes: int


@dataclass(frozen=True, kw_only=True)
class AzureMlVariant:
    """One online deployment behind the endpoint (``blue``, ``green``...)."""

    name: str
    traffic: int
    """Percent of live traffic (all variants sum to 100, or 0 while nothing is routed yet)."""
    mirror_traffic: int
    """Percent of traffic copied to this variant, responses discarded (0..50 in total)."""
    instance_type: str
    """VM SKU, validated against ``components/data/instances/azureml.yaml``."""
    container: AzureMlContainer
    autoscale: AzureMlAutoscale
    registered_model: str | None = None
    """Azure ML model asset id (``azureml://...``) mounted at ``model_mount_path`` instead of
    downloading from the HF Hub."""
    model_mount_path: str = MODEL_MOUNT_PATH

    @property
    def deployment_name(self) -> str:
        """The online deployment's name: the variant's and a suffix of its instance type, which the
        API cannot update (``replacements.yaml``: create-only inside ``properties``, which
        azure-native would PUT and Azure refuse). A new instance type is thus a new deployment,
        created first; the traffic split follows it and the old one is deleted after."""
        return fit_name(f"{self.name}-{replacement_suffix(self.instance_type)}", DEPLOYMENT_NAME_LIMIT)


@dataclass(frozen=True, kw_only=True)
class AzureMlProbes:
    """Liveness/readiness probes; big models need a long initial delay and failure threshold."""

    initial_delay_seconds: int
    period_seconds: int
    timeout_seconds: int
    failure_threshold: int


@dataclass(frozen=True, kw_only=True)
class AzureMlAlerts:
    """Metric alerts on the endpoint, e-mailed through an action group."""

    latency_p95_ms: int
    errors_5xx_per_minute: float
    notify: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class CustomerManagedKey:
    """A Key Vault key the workspace encrypts its data with."""

    key_vault_id: str
    """ARM id of the Key Vault holding the key (purge protection on)."""
    key_uri: str
    """Key identifier, ``https://<vault>.vault.azure.net/keys/<name>/<version>``."""


@dataclass(frozen=True, kw_only=True)
class AzureMlPrivateNetwork:
    """Where the workspace private endpoint goes and the DNS zones it registers in."""

    resource_group_name: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    dns_zone_ids: Mapping[str, pulumi.Input[str]]
    """Zone name (each of :data:`WORKSPACE_DNS_ZONES`) -> private DNS zone id."""


@dataclass(frozen=True, kw_only=True)
class AzureMlEndpointArgs:
    """Everything one Azure ML endpoint needs."""

    location: str
    subscription_id: str
    auth_mode: str
    """``Key`` or ``AADToken``."""
    variants: Sequence[AzureMlVariant]
    request_timeout_ms: int
    max_concurrent_requests_per_instance: int
    probes: AzureMlProbes
    alerts: AzureMlAlerts
    tags: Mapping[str, str]
    """Logical cost tags (:func:`components.tagging.cost_tags`)."""
    existing_workspace_id: str | None = None
    """Use this workspace instead of creating one (and its storage, Key Vault, registry...)."""
    resource_group_name: str | None = None
    """Existing resource group for created resources; a new one when unset."""
    customer_managed_key: CustomerManagedKey | None = None
    private_network: AzureMlPrivateNetwork | None = None
    """Set in private mode: no public endpoint, managed network, deployment egress disabled."""
    hf_token: pulumi.Input[str] | None = None
    """HF token (a Pulumi secret); stored in Key Vault and injected by reference."""
    log_retention_days: int = 30
    key_vault_retention_days: int = 90
    """Soft-delete retention of the Key Vault (7..90 days)."""
    extra_outbound_fqdns: Sequence[str] = field(default_factory=tuple)
    """More hosts the managed network may reach in private mode (e.g. the image registry)."""


def global_name(prefix: str, seed: str, max_len: int) -> str:
    """A lowercase alphanumeric name, unique per seed, for globally unique Azure names
    (storage accounts, registries, vaults)."""
    base = re.sub(r"[^a-z0-9]", "", prefix.lower())
    digest = hashlib.sha256(seed.encode()).hexdigest()[:8]
    return base[: max_len - len(digest)] + digest


def _iso_seconds(seconds: float) -> str:
    return f"PT{seconds:g}S"


def _autoscaled(scale: AzureMlAutoscale) -> bool:
    """An autoscale setting moves the instance count (bounds differ)."""
    return scale.max_instances > scale.min_instances


def _parse_workspace_id(workspace_id: str) -> tuple[str, str]:
    match = re.match(r"^/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/"
                     r"Microsoft.MachineLearningServices/workspaces/([^/]+)$", workspace_id, re.I)
    if not match:
        raise ValueError(f"not an Azure ML workspace id: {workspace_id!r}")
    return match.group(1), match.group(2)


class AzureMlEndpoint(pulumi.ComponentResource):
    """An Azure ML managed online endpoint with blue/green deployments, autoscale and alerts."""

    endpoint_name: pulumi.Output[str]
    endpoint_id: pulumi.Output[str]
    """ARM id of the online endpoint (role assignments for callers such as the gateway)."""
    scoring_uri: pulumi.Output[str]
    openai_base_url: pulumi.Output[str | None]
    """``<endpoint>/v1`` when every variant serves the OpenAI API, else ``None``."""
    workspace_name: pulumi.Output[str]

    def __init__(self, name: str, args: AzureMlEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:AzureMlEndpoint", name, None, opts)
        self._name, self._args = name, args
        self._tags = azure_tags(args.tags)
        self._seed = f"{args.tags.get('stack', '')}/{name}"
        for variant in args.variants:
            catalog.load("azureml").get(variant.instance_type)  # UnknownInstanceType names the known SKUs

        vault: keyvault.Vault | None = None
        network_ready: list[pulumi.Resource] = []
        """What deployments wait for besides the endpoint: outbound rules of the managed network."""
        workspace_name: pulumi.Input[str]
        self._rg: pulumi.Input[str]
        if args.existing_workspace_id:
            rg_name, ws_name = _parse_workspace_id(args.existing_workspace_id)
            self._rg, workspace_name = rg_name, ws_name
            if args.hf_token is not None:  # a vault of our own for the token
                vault = self._key_vault(global_name(f"{name}kv", self._seed, 24))
                if args.private_network:
                    network_ready.append(self._vault_outbound_rule(ws_name, vault))
        else:
            self._rg = args.resource_group_name or resources.ResourceGroup(
                f"{name}-rg", location=args.location, tags=self._tags, opts=self._child()).name
            vault = self._key_vault(global_name(f"{name}kv", self._seed, 24))
            workspace = self._workspace(vault)
            workspace_name = workspace.name
            if args.private_network:
                self._workspace_private_endpoint(workspace, args.private_network)

        endpoint = self._endpoint(workspace_name)
        hf_secret_uri: pulumi.Output[str] | None = None
        grants: list[pulumi.Resource] = []
        if args.hf_token is not None and vault is not None:
            hf_secret_uri = self._hf_token_secret(vault)
            grants.append(self._grant_secret_read(
                vault, endpoint.identity.apply(lambda i: i.principal_id if i else None)))
        action_group = self._action_group()
        deployments = []
        for variant in args.variants:
            deployment = self._deployment(variant, endpoint, workspace_name, hf_secret_uri,
                                          [*grants, *network_ready])
            self._autoscale(variant, endpoint, deployment)
            deployments.append(deployment)
        self._traffic(endpoint, workspace_name, deployments)
        self._alerts(endpoint, action_group)

        self.endpoint_name = endpoint.name
        self.endpoint_id = endpoint.id
        self.workspace_name = pulumi.Output.from_input(workspace_name)
        self.scoring_uri = endpoint.properties.apply(lambda p: p.scoring_uri)
        openai = all(v.container.openai_compatible and v.container.scoring_path == "/" for v in args.variants)
        # The endpoint forwards every path to the container, so the server's /v1 routes sit next
        # to /score on the same host.
        self.openai_base_url = self.scoring_uri.apply(
            lambda uri: re.sub(r"/score$", "/v1", uri) if openai and uri else None)
        self.register_outputs({
            "endpoint_name": self.endpoint_name, "endpoint_id": self.endpoint_id, "scoring_uri": self.scoring_uri,
            "openai_base_url": self.openai_base_url, "workspace_name": self.workspace_name,
        })

    # -- helpers -----------------------------------------------------------------------------

    def _child(self, **kwargs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    @property
    def _private(self) -> bool:
        return self._args.private_network is not None

    def _role_id(self, role: str) -> str:
        return (f"/subscriptions/{self._args.subscription_id}/providers/"
                f"Microsoft.Authorization/roleDefinitions/{role}")

    # -- workspace and what it needs --------------------------------------------------------

    def _key_vault(self, vault_name: str) -> keyvault.Vault:
        args, private = self._args, self._private
        return keyvault.Vault(
            f"{self._name}-kv",
            vault_name=vault_name,
            resource_group_name=self._rg,
            location=args.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=authorization.get_client_config_output().tenant_id,
                sku=keyvault.SkuArgs(family="A", name=keyvault.SkuName.STANDARD),
                # RBAC instead of access policies: the endpoint identity gets one data-plane role.
                # `pulumi up` writes the HF token through ARM (vaults/secrets/write), which the
                # deployer's Contributor role covers and the vault firewall does not block.
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                # A deleted vault keeps its (deterministic) name for this long; purge it with
                # `az keyvault purge` before re-creating a destroyed stack sooner.
                soft_delete_retention_in_days=args.key_vault_retention_days,
                public_network_access="Disabled" if private else "Enabled",
                network_acls=keyvault.NetworkRuleSetArgs(
                    bypass="AzureServices", default_action="Deny" if private else "Allow"),
            ),
            tags=self._tags,
            opts=self._child(),
        )

    def _workspace(self, vault: keyvault.Vault) -> ml.Workspace:
        args, name, private = self._args, self._name, self._private
        logs = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=self._rg,
            location=args.location,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=args.log_retention_days,
            tags=self._tags,
            opts=self._child(),
        )
        insights = appinsights.Component(
            f"{name}-insights",
            resource_group_name=self._rg,
            location=args.location,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=logs.id,
            tags=self._tags,
            opts=self._child(),
        )
        account = storage.StorageAccount(
            f"{name}-storage",
            account_name=global_name(f"{name}st", self._seed, 24),
            resource_group_name=self._rg,
            location=args.location,
            kind="StorageV2",
            sku=storage.SkuArgs(name="Standard_LRS"),  # available in every region
            allow_blob_public_access=False,
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            public_network_access="Disabled" if private else "Enabled",
            tags=self._tags,
            opts=self._child(),
        )
        registry = containerregistry.Registry(
            f"{name}-acr",
            registry_name=global_name(f"{name}acr", self._seed, 50),
            resource_group_name=self._rg,
            location=args.location,
            # Premium is the only tier with private endpoints (the managed network needs them).
            sku=containerregistry.SkuArgs(name="Premium" if private else "Standard"),
            admin_user_enabled=False,
            public_network_access="Disabled" if private else "Enabled",
            tags=self._tags,
            opts=self._child(),
        )
        cmk = args.customer_managed_key
        return ml.Workspace(
            f"{name}-workspace",
            workspace_name=f"{name[:30]}-ws",  # workspace names: at most 33 characters
            resource_group_name=self._rg,
            location=args.location,
            identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
            sku=ml.SkuArgs(name="Basic", tier="Basic"),
            storage_account=account.id,
            key_vault=vault.id,
            application_insights=insights.id,
            container_registry=registry.id,
            public_network_access="Disabled" if private else "Enabled",
            managed_network=self._managed_network() if private else None,
            # Online deployments fail with WorkspaceManagedNetworkNotReady until the managed
            # network exists; it is otherwise provisioned lazily by the first compute. The
            # deployments depend on this workspace, so they are created after it.
            provision_network_now=True if private else None,
            encryption=ml.EncryptionPropertyArgs(
                status="Enabled",
                key_vault_properties=ml.KeyVaultPropertiesArgs(
                    key_vault_arm_id=cmk.key_vault_id, key_identifier=cmk.key_uri),
            ) if cmk is not None else None,
            # CMK workspaces keep less diagnostic data on Microsoft-managed storage.
            hbi_workspace=cmk is not None,
            v1_legacy_mode=False,  # managed online endpoints need the v2 API surface
            tags=self._tags,
            opts=self._child(),
        )

    def _managed_network(self) -> ml.ManagedNetworkSettingsArgs:
        hub = any(v.registered_model is None for v in self._args.variants)  # weights from the HF Hub
        fqdns = [*(hf_hub_hosts() if hub else ()), *self._args.extra_outbound_fqdns]
        return ml.ManagedNetworkSettingsArgs(
            isolation_mode="AllowOnlyApprovedOutbound",
            # FQDN rules are enforced by an Azure Firewall that the managed network creates.
            firewall_sku="Standard" if fqdns else None,
            outbound_rules={
                f"fqdn-{re.sub(r'[^a-z0-9]+', '-', host)}": ml.FqdnOutboundRuleArgs(
                    type="FQDN", category="UserDefined", destination=host)
                for host in fqdns
            } or None,
        )

    def _workspace_private_endpoint(self, workspace: ml.Workspace, net: AzureMlPrivateNetwork) -> None:
        endpoint = network.PrivateEndpoint(
            f"{self._name}-ws-pe",
            resource_group_name=net.resource_group_name,
            location=self._args.location,
            subnet=network.SubnetArgs(id=net.subnet_id),
            private_link_service_connections=[network.PrivateLinkServiceConnectionArgs(
                name=f"{self._name}-ws",
                private_link_service_id=workspace.id,
                group_ids=[WORKSPACE_PE_GROUP],
            )],
            tags=self._tags,
            opts=self._child(),
        )
        network.PrivateDnsZoneGroup(
            f"{self._name}-ws-dns",
            resource_group_name=net.resource_group_name,
            private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[
                network.PrivateDnsZoneConfigArgs(name=zone.replace(".", "-"),
                                                 private_dns_zone_id=net.dns_zone_ids[zone])
                for zone in WORKSPACE_DNS_ZONES
            ],
            opts=self._child(),
        )

    def _vault_outbound_rule(self, workspace_name: str, vault: keyvault.Vault) -> ml.ManagedNetworkSettingsRule:
        # An existing private workspace reaches only approved destinations: add a private
        # endpoint from its managed network to our vault so secret injection can read the token.
        return ml.ManagedNetworkSettingsRule(
            f"{self._name}-kv-outbound",
            rule_name=f"{self._name}-kv",
            workspace_name=workspace_name,
            resource_group_name=self._rg,
            properties=ml.PrivateEndpointOutboundRuleArgs(
                type="PrivateEndpoint", category="UserDefined",
                destination=ml.PrivateEndpointDestinationArgs(service_resource_id=vault.id,
                                                              subresource_target="vault")),
            opts=self._child(),
        )

    # -- HF token ---------------------------------------------------------------------------

    def _hf_token_secret(self, vault: keyvault.Vault) -> pulumi.Output[str]:
        secret = keyvault.Secret(
            f"{self._name}-hf-token",
            secret_name="hf-token",
            vault_name=vault.name,
            resource_group_name=self._rg,
            properties=keyvault.SecretPropertiesArgs(
                value=pulumi.Output.secret(self._args.hf_token), content_type="text/plain"),
            tags=self._tags,
            opts=self._child(),
        )
        return secret.properties.apply(lambda p: p.secret_uri_with_version)

    def _grant_secret_read(self, vault: keyvault.Vault, principal: pulumi.Input[str]) -> authorization.RoleAssignment:
        return authorization.RoleAssignment(
            f"{self._name}-kv-endpoint",
            principal_id=principal,
            principal_type="ServicePrincipal",
            role_definition_id=self._role_id(_KV_SECRETS_USER),
            scope=vault.id,
            opts=self._child(),
        )

    # -- endpoint and deployments ------------------------------------------------------------

    def _endpoint_properties(self) -> dict[str, str]:
        """The endpoint's properties other than traffic, in ARM's wire form: the endpoint resource
        and the traffic template declare the same endpoint and must agree."""
        return {"authMode": self._args.auth_mode,
                "publicNetworkAccess": "Disabled" if self._private else "Enabled",
                "description": f"scalepath {self._name}"}

    def _endpoint(self, workspace_name: pulumi.Input[str]) -> ml.OnlineEndpoint:
        args, props = self._args, self._endpoint_properties()
        # Endpoint names are DNS labels unique per region: the stack hash keeps stacks apart.
        endpoint_name = f"{self._name[:23]}-{hashlib.sha256(self._seed.encode()).hexdigest()[:8]}"
        return ml.OnlineEndpoint(
            f"{self._name}-endpoint",
            endpoint_name=endpoint_name,
            workspace_name=workspace_name,
            resource_group_name=self._rg,
            location=args.location,
            identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
            # No traffic here: ARM rejects traffic for deployments that do not exist yet, and
            # the deployments need the endpoint first. The split is set by the traffic template
            # (_traffic) once they exist, in the same `up`.
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode=props["authMode"],
                public_network_access=props["publicNetworkAccess"],
                description=props["description"],
            ),
            tags=self._tags,
            # The template owns the split: a refresh reads it back into this resource's state,
            # which must not turn into a diff that puts the endpoint back to no traffic.
            opts=self._child(ignore_changes=["properties.traffic", "properties.mirrorTraffic"]),
        )

    def _traffic(self, endpoint: ml.OnlineEndpoint, workspace_name: pulumi.Input[str],
                 deployments: Sequence[ml.OnlineDeployment]) -> resources.Deployment:
        """Set the live and mirrored split once every deployment exists: an ARM template
        deployment (incremental) that PUTs the endpoint again, with traffic, ordered after the
        deployments. pulumi-azure-native has no traffic resource and no partial update."""
        args = self._args
        endpoint_resource = {
            "type": _ENDPOINT_NS,
            "apiVersion": ENDPOINT_API_VERSION,
            "name": pulumi.Output.concat(workspace_name, "/", endpoint.name),
            "location": args.location,
            "identity": {"type": "SystemAssigned"},
            "tags": self._tags,
            "properties": {
                **self._endpoint_properties(),
                "traffic": {v.deployment_name: v.traffic for v in args.variants},
                "mirrorTraffic": {v.deployment_name: v.mirror_traffic for v in args.variants if v.mirror_traffic},
            },
        }
        return resources.Deployment(
            f"{self._name}-traffic",
            deployment_name=endpoint.name.apply(lambda n: f"{n}-traffic"),
            resource_group_name=self._rg,
            properties=resources.DeploymentPropertiesArgs(
                mode=resources.DeploymentMode.INCREMENTAL,
                template={"$schema": ARM_TEMPLATE_SCHEMA, "contentVersion": "1.0.0.0",
                          "resources": [endpoint_resource]},
            ),
            tags=self._tags,
            opts=self._child(depends_on=list(deployments)),
        )

    def _deployment(self, variant: AzureMlVariant, endpoint: ml.OnlineEndpoint,
                    workspace_name: pulumi.Input[str], hf_secret_uri: pulumi.Output[str] | None,
                    depends_on: list[pulumi.Resource]) -> ml.OnlineDeployment:
        args, c = self._args, variant.container
        environment = ml.EnvironmentVersion(
            f"{self._name}-{variant.name}-env",
            name=f"{self._name}-{variant.name}",
            # Environment versions are immutable: any change of image or routes is a new version.
            version=hashlib.sha256(repr((c.image, c.port, c.liveness_path, c.readiness_path,
                                         c.scoring_path)).encode()).hexdigest()[:12],
            workspace_name=workspace_name,
            resource_group_name=self._rg,
            properties=ml.EnvironmentVersionPropertiesArgs(
                image=c.image,
                os_type="Linux",
                inference_config=ml.InferenceContainerPropertiesArgs(
                    liveness_route=ml.RouteArgs(path=c.liveness_path, port=c.port),
                    readiness_route=ml.RouteArgs(path=c.readiness_path, port=c.port),
                    scoring_route=ml.RouteArgs(path=c.scoring_path, port=c.port),
                ),
                tags=self._tags,
            ),
            opts=self._child(),
        )
        env: dict[str, pulumi.Input[str]] = dict(c.env)
        if hf_secret_uri is not None:
            # Secret injection: Azure ML resolves the reference with the endpoint identity when
            # the container starts; the token never appears in the deployment definition.
            env["HF_TOKEN"] = hf_secret_uri.apply(lambda uri: f"${{{{keyvault:{uri}}}}}")
        probe = ml.ProbeSettingsArgs(
            initial_delay=_iso_seconds(args.probes.initial_delay_seconds),
            period=_iso_seconds(args.probes.period_seconds),
            timeout=_iso_seconds(args.probes.timeout_seconds),
            failure_threshold=args.probes.failure_threshold,
            success_threshold=1,
        )
        return ml.OnlineDeployment(
            f"{self._name}-{variant.name}",
            deployment_name=variant.deployment_name,
            endpoint_name=endpoint.name,
            workspace_name=workspace_name,
            resource_group_name=self._rg,
            location=args.location,
            # Capacity is the starting instance count; the autoscale setting moves it.
            sku=ml.SkuArgs(name="Default", capacity=variant.autoscale.min_instances),
            properties=ml.ManagedOnlineDeploymentArgs(
                endpoint_compute_type="Managed",
                instance_type=variant.instance_type,
                environment_id=environment.id,
                model=variant.registered_model,
                model_mount_path=variant.model_mount_path if variant.registered_model else None,
                environment_variables=env,
                request_settings=ml.OnlineRequestSettingsArgs(
                    request_timeout=_iso_seconds(args.request_timeout_ms / 1000),
                    max_concurrent_requests_per_instance=args.max_concurrent_requests_per_instance,
                ),
                liveness_probe=probe,
                readiness_probe=probe,
                scale_settings=ml.DefaultScaleSettingsArgs(scale_type="Default"),
                app_insights_enabled=True,
                egress_public_network_access="Disabled" if self._private else "Enabled",
            ),
            tags=self._tags,
            # The endpoint identity must be able to read the token (and, in an existing private
            # workspace, reach the vault) before the container starts. With autoscale, the
            # autoscale setting owns the instance count: an update must not reset it to min,
            # and a refresh must not report it as drift.
            opts=self._child(depends_on=depends_on,
                             ignore_changes=["sku.capacity"] if _autoscaled(variant.autoscale) else None),
        )

    # -- autoscale and alerts ---------------------------------------------------------------

    def _autoscale(self, variant: AzureMlVariant, endpoint: ml.OnlineEndpoint,
                   deployment: ml.OnlineDeployment) -> None:
        scale = variant.autoscale
        if not _autoscaled(scale):
            return  # fixed capacity: nothing to scale
        rules: list[monitor.ScaleRuleArgs] = []

        def pair(metric: str, resource_id: pulumi.Input[str], namespace: str, target: float,
                 dimensions: list[monitor.ScaleRuleMetricDimensionArgs] | None = None) -> None:
            # Scale out above the target, scale in below half of it: the gap keeps the
            # deployment from flapping while a new instance loads weights.
            for operator, threshold, direction, cooldown in (
                ("GreaterThan", target, "Increase", scale.scale_out_cooldown_minutes),
                ("LessThan", target / 2, "Decrease", scale.scale_in_cooldown_minutes),
            ):
                rules.append(monitor.ScaleRuleArgs(
                    metric_trigger=monitor.MetricTriggerArgs(
                        metric_name=metric, metric_namespace=namespace, metric_resource_uri=resource_id,
                        operator=operator, statistic="Average", time_aggregation="Average",
                        threshold=threshold, time_grain="PT1M", time_window="PT5M", dimensions=dimensions),
                    scale_action=monitor.ScaleActionArgs(
                        direction=direction, type="ChangeCount", value="1", cooldown=f"PT{cooldown}M"),
                ))

        if scale.gpu_utilization_pct is not None:
            pair("GpuUtilizationPercentage", deployment.id, _DEPLOYMENT_NS, scale.gpu_utilization_pct)
        if scale.cpu_utilization_pct is not None:
            pair("CpuUtilizationPercentage", deployment.id, _DEPLOYMENT_NS, scale.cpu_utilization_pct)
        if scale.latency_p95_ms is not None:
            pair("RequestLatency_P95", endpoint.id, _ENDPOINT_NS, scale.latency_p95_ms, [
                monitor.ScaleRuleMetricDimensionArgs(dimension_name="deployment", operator="Equals",
                                                     values=[variant.deployment_name])])
        monitor.AutoscaleSetting(
            f"{self._name}-{variant.name}-autoscale",
            resource_group_name=self._rg,
            location=self._args.location,
            target_resource_uri=deployment.id,
            enabled=True,
            profiles=[monitor.AutoscaleProfileArgs(
                name="default",
                capacity=monitor.ScaleCapacityArgs(
                    minimum=str(scale.min_instances), maximum=str(scale.max_instances),
                    default=str(scale.min_instances)),
                rules=rules,
            )],
            tags=self._tags,
            opts=self._child(),
        )

    def _action_group(self) -> monitor.ActionGroup:
        return monitor.ActionGroup(
            f"{self._name}-alerts",
            resource_group_name=self._rg,
            location="global",
            enabled=True,
            group_short_name=self._name[:12],
            email_receivers=[
                monitor.MicrosoftCommonEmailReceiverArgs(name=f"email-{i}", email_address=address,
                                                         use_common_alert_schema=True)
                for i, address in enumerate(self._args.alerts.notify)
            ],
            tags=self._tags,
            opts=self._child(),
        )

    def _alerts(self, endpoint: ml.OnlineEndpoint, action_group: monitor.ActionGroup) -> None:
        alerts = self._args.alerts
        # Metric alerts cannot divide two metrics, so the 5xx alert is on 5xx requests per
        # minute (RequestsPerMinute split by statusCodeClass), not on a ratio.
        for role, criterion, description in (
            ("latency-p95", monitor.MetricCriteriaArgs(
                name="latency-p95", criterion_type="StaticThresholdCriterion",
                metric_namespace=_ENDPOINT_NS, metric_name="RequestLatency_P95",
                operator="GreaterThan", threshold=alerts.latency_p95_ms, time_aggregation="Average"),
             f"p95 request latency above {alerts.latency_p95_ms} ms"),
            ("errors-5xx", monitor.MetricCriteriaArgs(
                name="errors-5xx", criterion_type="StaticThresholdCriterion",
                metric_namespace=_ENDPOINT_NS, metric_name="RequestsPerMinute",
                dimensions=[monitor.MetricDimensionArgs(name="statusCodeClass", operator="Include",
                                                        values=["5xx"])],
                operator="GreaterThan", threshold=alerts.errors_5xx_per_minute, time_aggregation="Average"),
             f"more than {alerts.errors_5xx_per_minute:g} 5xx responses per minute"),
        ):
            monitor.MetricAlert(
                f"{self._name}-{role}",
                resource_group_name=self._rg,
                location="global",
                description=f"{self._name}: {description}",
                enabled=True,
                severity=2,
                scopes=[endpoint.id],
                target_resource_type=_ENDPOINT_NS,
                evaluation_frequency="PT1M",
                window_size="PT5M",
                auto_mitigate=True,
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    all_of=[criterion]),
                actions=[monitor.MetricAlertActionArgs(action_group_id=action_group.id)],
                tags=self._tags,
                opts=self._child(),
            )


@dataclass(frozen=True, kw_only=True)
class AzurePrivateNetworkArgs:
    """A VNet and subnet for private endpoints, with the workspace's private DNS zones."""

    location: str
    vnet_cidr: str
    subnet_cidr: str
    tags: Mapping[str, str]
    resource_group_name: str | None = None
    """Existing resource group; a new one when unset."""


class AzurePrivateNetwork(pulumi.ComponentResource):
    """The customer-side network of private Azure ML endpoints: VNet, private-endpoint subnet,
    private DNS zones linked to the VNet. One per stack, shared by its Azure ML deployments."""

    resource_group_name: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    dns_zone_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AzurePrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:AzurePrivateNetwork", name, None, opts)
        tags = azure_tags(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        rg: pulumi.Input[str] = args.resource_group_name or resources.ResourceGroup(
            f"{name}-rg", location=args.location, tags=tags, opts=child).name
        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=rg,
            location=args.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[args.vnet_cidr]),
            tags=tags,
            opts=child,
        )
        subnet = network.Subnet(
            f"{name}-endpoints",
            resource_group_name=rg,
            virtual_network_name=vnet.name,
            address_prefix=args.subnet_cidr,
            # NSGs and route tables apply to private endpoints only with policies enabled.
            private_endpoint_network_policies="Enabled",
            default_outbound_access=False,
            opts=child,
        )
        self.dns_zone_ids = {}
        for zone in WORKSPACE_DNS_ZONES:
            role = zone.split(".")[1]
            private_zone = privatedns.PrivateZone(
                f"{name}-{role}-zone",
                private_zone_name=zone,
                resource_group_name=rg,
                location="global",
                tags=tags,
                opts=child,
            )
            privatedns.VirtualNetworkLink(
                f"{name}-{role}-link",
                private_zone_name=private_zone.name,
                resource_group_name=rg,
                location="global",
                virtual_network=privatedns.SubResourceArgs(id=vnet.id),
                registration_enabled=False,
                tags=tags,
                opts=child,
            )
            self.dns_zone_ids[zone] = private_zone.id
        self.resource_group_name = pulumi.Output.from_input(rg)
        self.subnet_id = subnet.id
        self.register_outputs({"resource_group_name": self.resource_group_name, "subnet_id": self.subnet_id,
                               "dns_zone_ids": self.dns_zone_ids})
