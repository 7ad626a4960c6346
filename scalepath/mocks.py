"""Mock engine responses: realistic ids and outputs per resource type so ``apply`` chains run.

Used by ``scalepath plan`` and by the tests. A resource gets its inputs back plus what the
cloud would add: an id, an ARN / self link / ARM id, and a name when the inputs had none.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi

from scalepath.wire import SIG_KEY

ACCOUNT_ID = "123456789012"
DEPLOYER_ROLE = "scalepath-deploy"
"""The role the mocked `pulumi up` runs as (an assumed-role session, as CI's OIDC login gives)."""
AZURE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
AZURE_TENANT = "11111111-1111-1111-1111-111111111111"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


_EC2_ID_PREFIX = {
    "securitygroup": "sg", "vpcendpoint": "vpce", "routetable": "rtb", "internetgateway": "igw",
    "natgateway": "nat", "eip": "eipalloc", "launchtemplate": "lt",
}


def _aws_outputs(args: pulumi.runtime.MockResourceArgs, region: str) -> dict[str, Any]:
    # "aws:sagemaker/endpoint:Endpoint" -> service "sagemaker", kind "endpoint"
    module = args.typ.split(":")[1]
    service, kind = (module.split("/") + [""])[:2]
    name = args.inputs.get("name") or f"{args.name}-{_short_hash(args.name)}"
    arn_service = {"iam": "iam", "budgets": "budgets", "s3": "s3"}.get(service, service)
    arn_region = "" if arn_service in ("iam", "s3", "budgets") else region
    out: dict[str, Any] = {
        "name": name,
        "arn": f"arn:aws:{arn_service}:{arn_region}:{ACCOUNT_ID}:{kind.lower()}/{name}",
    }
    if service == "s3":
        out.update(bucket=args.inputs.get("bucket") or name, arn=f"arn:aws:s3:::{name}")
    if service == "ec2":
        prefix = _EC2_ID_PREFIX.get(kind.lower(), kind.lower())
        out["id"] = f"{prefix}-0{_short_hash(args.name)}00000000"
    if service == "kms" and kind == "key":
        out["keyId"] = f"{_short_hash(args.name)}-0000-4000-8000-000000000000"
    if service == "eks" and kind == "cluster":
        out.update(
            endpoint=f"https://{_short_hash(name).upper()}.gr7.{region}.eks.amazonaws.com",
            certificateAuthority={"data": "LS0tLS1CRUdJTi...mock"},
            identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/MOCK"}]}],
            # EKS creates the cluster security group; nodes' launch templates attach it.
            vpcConfig={"clusterSecurityGroupId": f"sg-0{_short_hash(name)}eks00000",
                       "vpcId": f"vpc-0{_short_hash(name)}00000000"},
        )
    if service == "ec2" and kind == "launchTemplate":
        out.update(latestVersion=1, defaultVersion=1)
    if service == "lb" and kind == "loadBalancer":
        # CloudWatch names a load balancer by its ARN's suffix (alarm and dashboard dimensions).
        suffix = f"app/{name}/{_short_hash(args.name)}0000000000"
        out.update(arn=f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/{suffix}",
                   arnSuffix=suffix)
    return out


GCP_PROJECT_NUMBER = "123456789012"


def _numeric_id(text: str, digits: int = 19) -> str:
    """A stable numeric id, as GCP assigns to endpoints, channels and alert policies."""
    return str(int(hashlib.sha256(text.encode()).hexdigest(), 16) % 10 ** (digits - 1) + 10 ** (digits - 1))


def _vertex_model_garden(args: pulumi.runtime.MockResourceArgs, project: str) -> dict[str, Any]:
    endpoint_config = dict(args.inputs.get("endpointConfig") or {})
    psc = dict(endpoint_config.get("privateServiceConnectConfig") or {})
    if psc.get("enablePrivateServiceConnect"):
        region = args.inputs.get("location", "us-central1")
        automation = dict(psc.get("pscAutomationConfigs") or {})
        if automation:
            automation.update(
                ipAddress="10.40.0.5", state="PSC_AUTOMATION_STATE_SUCCESSFUL",
                forwardingRule=f"projects/{project}/regions/{region}/forwardingRules/"
                f"sca-auto-fr-{_short_hash(args.name)}")
            psc["pscAutomationConfigs"] = automation
        psc["serviceAttachment"] = (f"projects/{_short_hash(args.name)}-tp/regions/{region}/"
                                    f"serviceAttachments/gkedpm-{_short_hash(args.name)}")
        endpoint_config["privateServiceConnectConfig"] = psc
    return {
        "endpoint": _numeric_id(args.name),
        "deployedModelId": _numeric_id(args.name + "/model"),
        "deployedModelDisplayName": (args.inputs.get("modelConfig") or {}).get("modelDisplayName", args.name),
        "endpointConfig": endpoint_config,
    }


def _gcp_outputs(args: pulumi.runtime.MockResourceArgs, project: str) -> dict[str, Any]:
    project = args.inputs.get("project", project)
    name = args.inputs.get("name") or f"{args.name}-{_short_hash(args.name)}"
    kind = args.typ.split(":")[-1].lower()
    module = args.typ.split(":")[1].split("/")[0]
    out: dict[str, Any] = {
        "name": name,
        "project": project,
        "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/{kind}s/{name}",
    }
    if module == "compute" and kind == "network":
        out["id"] = f"projects/{project}/global/networks/{name}"
    elif module == "compute" and kind == "subnetwork":
        out["id"] = f"projects/{project}/regions/{args.inputs.get('region')}/subnetworks/{name}"
    elif module == "monitoring" and kind in ("notificationchannel", "alertpolicy"):
        collection = {"notificationchannel": "notificationChannels", "alertpolicy": "alertPolicies"}[kind]
        out["name"] = out["id"] = f"projects/{project}/{collection}/{_numeric_id(args.name)}"
    elif module == "secretmanager" and kind == "secret":
        out["name"] = out["id"] = f"projects/{GCP_PROJECT_NUMBER}/secrets/{args.inputs.get('secretId')}"
    elif module == "secretmanager" and kind == "secretversion":
        out["name"] = out["id"] = f"{args.inputs.get('secret')}/versions/1"
        out["version"] = "1"
    elif module == "projects" and kind == "serviceidentity":
        service = str(args.inputs.get("service", "")).split(".")[0]
        email = f"service-{GCP_PROJECT_NUMBER}@gcp-sa-{service}.iam.gserviceaccount.com"
        out.update(email=email, member=f"serviceAccount:{email}")
    elif module == "vertex" and kind == "aiendpointwithmodelgardendeployment":
        out.update(_vertex_model_garden(args, project))
    if args.typ == "gcp:container/cluster:Cluster":
        out.update(
            endpoint=f"10.{int(_short_hash(name)[:2], 16)}.0.2",
            masterAuth={"clusterCaCertificate": "LS0tLS1CRUdJTi...mock"},
            id=f"projects/{project}/locations/{args.inputs.get('location', 'global')}/clusters/{name}",
        )
    if args.typ == "gcp:cloudrunv2/service:Service":
        out["uri"] = f"https://{name}-{_short_hash(name)}-uc.a.run.app"
    if args.typ == "gcp:serviceaccount/account:Account":
        account = args.inputs.get("accountId", name)
        out.update(email=f"{account}@{project}.iam.gserviceaccount.com",
                   name=f"projects/{project}/serviceAccounts/{account}@{project}.iam.gserviceaccount.com")
    return out


#: azure-native module -> ARM resource provider namespace.
_AZURE_NAMESPACES = {
    "applicationinsights": "Insights", "authorization": "Authorization", "consumption": "Consumption",
    "containerregistry": "ContainerRegistry", "keyvault": "KeyVault",
    "machinelearningservices": "MachineLearningServices", "monitor": "Insights",
    "network": "Network", "operationalinsights": "OperationalInsights", "privatedns": "Network",
    "storage": "Storage", "app": "App", "managedidentity": "ManagedIdentity", "resources": "Resources",
    "alertsmanagement": "AlertsManagement",
}

#: Input that holds a resource's own name when it is not ``<kind>Name`` (``vaultName``...).
_AZURE_NAME_KEYS = {"OnlineEndpoint": "endpointName", "OnlineDeployment": "deploymentName",
                    "StorageAccount": "accountName", "PrivateEndpoint": "privateEndpointName",
                    "MetricAlert": "ruleName", "Component": "resourceName", "EnvironmentVersion": "name",
                    "PrometheusRuleGroup": "ruleGroupName", "Workbook": "resourceName"}


def _azure_id(module: str, kind: str, name: str, inputs: dict[str, Any]) -> str:
    """The ARM id the resource would get, nested under its parents where it has some."""
    sub = f"/subscriptions/{AZURE_SUBSCRIPTION}"
    if kind == "ResourceGroup":
        return f"{sub}/resourceGroups/{name}"
    base = f"{sub}/resourceGroups/{inputs.get('resourceGroupName', 'rg')}/providers/" \
           f"Microsoft.{_AZURE_NAMESPACES.get(module, module)}"
    ws = f"{base}/workspaces/{inputs.get('workspaceName')}"
    nested = {
        ("machinelearningservices", "OnlineEndpoint"): f"{ws}/onlineEndpoints/{name}",
        ("machinelearningservices", "OnlineDeployment"):
            f"{ws}/onlineEndpoints/{inputs.get('endpointName')}/deployments/{name}",
        ("machinelearningservices", "EnvironmentVersion"):
            f"{ws}/environments/{name}/versions/{inputs.get('version', '1')}",
        ("keyvault", "Secret"): f"{base}/vaults/{inputs.get('vaultName')}/secrets/{name}",
        ("privatedns", "PrivateZone"): f"{base}/privateDnsZones/{name}",
        ("privatedns", "VirtualNetworkLink"):
            f"{base}/privateDnsZones/{inputs.get('privateZoneName')}/virtualNetworkLinks/{name}",
        ("network", "Subnet"): f"{base}/virtualNetworks/{inputs.get('virtualNetworkName')}/subnets/{name}",
        ("monitor", "AzureMonitorWorkspace"): f"{base.rsplit('/', 1)[0]}/Microsoft.Monitor/accounts/{name}",
    }
    plural = f"{kind[0].lower()}{kind[1:-1]}ies" if kind.endswith("y") else f"{kind[0].lower()}{kind[1:]}s"
    return nested.get((module, kind), f"{base}/{plural}/{name}")


def _azure_outputs(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    module, kind = args.typ.split(":")[1:3]
    inputs = args.inputs
    name_key = _AZURE_NAME_KEYS.get(kind, f"{kind[0].lower()}{kind[1:]}Name")
    name = inputs.get(name_key) or args.name
    out: dict[str, Any] = {"name": name, "id": _azure_id(module, kind, name, inputs)}
    principal = {"principalId": f"{_short_hash(args.name)}-0000-4000-8000-000000000001",
                 "tenantId": AZURE_TENANT}
    if "identity" in inputs:
        identity = dict(inputs["identity"])
        if isinstance(identity.get("userAssignedIdentities"), list):
            # Requests name user-assigned identities as a list; ARM answers with a map id -> ids.
            identity["userAssignedIdentities"] = {
                uid: {"principalId": principal["principalId"], "clientId": principal["principalId"]}
                for uid in identity["userAssignedIdentities"] if isinstance(uid, str)}
        out["identity"] = {**identity, **principal}
    if (module, kind) == ("managedidentity", "UserAssignedIdentity"):
        out.update(principalId=principal["principalId"], tenantId=AZURE_TENANT,
                   clientId=f"{_short_hash(args.name)}-0000-4000-8000-000000000002")
    if (module, kind) == ("app", "ContainerApp"):
        config = dict(inputs.get("configuration") or {})
        if "ingress" in config:
            config["ingress"] = {**config["ingress"], "fqdn": f"{name}.{_short_hash(name)}."
                                 f"{inputs.get('location', 'eastus')}.azurecontainerapps.io"}
        out["configuration"] = config
    if (module, kind) == ("monitor", "DataCollectionEndpoint"):
        out["metricsIngestion"] = {"endpoint": f"https://{name}-{_short_hash(name)}."
                                               f"{inputs.get('location', 'eastus')}-1.metrics.ingest.monitor.azure.com"}
    if (module, kind) == ("monitor", "DataCollectionRule"):
        out["immutableId"] = f"dcr-{hashlib.sha256(name.encode()).hexdigest()[:32]}"
    if (module, kind) == ("machinelearningservices", "OnlineEndpoint"):
        host = f"https://{name}.{inputs.get('location', 'eastus')}.inference.ml.azure.com"
        out["properties"] = {**inputs.get("properties", {}), "scoringUri": f"{host}/score",
                             "swaggerUri": f"{host}/swagger.json", "provisioningState": "Succeeded"}
    if (module, kind) == ("keyvault", "Vault"):
        out["properties"] = {**inputs.get("properties", {}), "vaultUri": f"https://{name}.vault.azure.net/"}
    if (module, kind) == ("keyvault", "Secret"):
        uri = f"https://{inputs.get('vaultName')}.vault.azure.net/secrets/{name}"
        props = inputs.get("properties", {})
        if SIG_KEY in props:  # the object holds a secret, so it arrives wrapped whole
            props = props.get("value", {})
        # ARM never returns a secret's value.
        props = {k: v for k, v in props.items() if k != "value"}
        out["properties"] = {**props, "secretUri": uri,
                             "secretUriWithVersion": f"{uri}/{hashlib.sha256(name.encode()).hexdigest()[:32]}"}
    return out


def _dynamic_outputs(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    # Dynamic resources share one type; ours say what they are in the `kind` input.
    inputs = args.inputs
    if inputs.get("kind") == "sagemaker:EndpointPreflight":  # a first `up`: no live endpoint yet
        return {"desiredInstanceCount": max(int(inputs.get("minCapacity") or 1), 1), "deregistered": False}
    if inputs.get("kind") == "sagemaker:EndpointVerification":
        return {"servingConfigName": inputs.get("endpointConfigName")}
    if inputs.get("kind") != "huggingface:InferenceEndpoint":
        return {}
    url = (f"https://{_short_hash(args.name)}{_short_hash(inputs.get('endpointName', ''))}."
           f"{inputs.get('region')}.{inputs.get('vendor')}.endpoints.huggingface.cloud")
    image = inputs.get("image") or {}
    state = "paused" if inputs.get("paused") else (
        "scaledToZero" if inputs.get("minReplica") == 0 else "running")
    return {"url": url, "status": state,
            "openaiBaseUrl": f"{url}/v1/" if image.get("engine") in ("vllm", "tgi") else None}


class ScalepathMocks(pulumi.runtime.Mocks):
    """Echo inputs and add realistic cloud-generated outputs, by type prefix."""

    def __init__(self, aws_region: str = "us-east-1", gcp_project: str = "mock-project"):
        self.aws_region = aws_region
        self.gcp_project = gcp_project

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = dict(args.inputs)
        provider = args.typ.split(":")[0]
        if provider == "aws":
            extra = _aws_outputs(args, self.aws_region)
        elif provider == "gcp":
            extra = _gcp_outputs(args, self.gcp_project)
        elif provider == "azure-native":
            extra = _azure_outputs(args)
        elif provider == "pulumi-python":
            extra = _dynamic_outputs(args)
        elif args.typ == "random:index/randomPassword:RandomPassword":
            # A marked stand-in; the SDK marks `result` secret, so the plan never shows it.
            extra = {"result": f"mock-generated-password-{_short_hash(args.name)}"}
        elif provider == "kubernetes":
            meta = dict(args.inputs.get("metadata") or {})
            meta.setdefault("name", f"{args.name}-{_short_hash(args.name)}")
            extra = {"metadata": meta}
        else:
            extra = {}
        for key, value in extra.items():
            if key in ("properties", "identity"):
                # Azure: computed properties (URIs, identities) replace the echoed input objects,
                # which also drops values ARM never returns (a Key Vault secret's value).
                outputs[key] = value
            elif isinstance(value, dict) and isinstance(outputs.get(key), dict):
                # The cloud fills computed fields into input objects (a PSC endpoint's IP, EKS
                # vpcConfig.clusterSecurityGroupId).
                outputs[key] = {**outputs[key], **value}
            else:
                outputs.setdefault(key, value)
        resource_id = str(outputs.get("id") or f"{args.name}-id")
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        # (outputs, check failures): the mock monitor iterates the failures, so never None.
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "userId": "AROAMOCK:pulumi",
                    "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{DEPLOYER_ROLE}/pulumi"}, []
        if token == "aws:iam/getSessionContext:getSessionContext":
            # The IAM role behind an assumed-role session ARN; other ARNs are their own issuer.
            arn = str(args.args.get("arn", ""))
            parts = arn.split(":", 5)
            if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
                _, role, session = parts[5].split("/", 2)
                return {"arn": arn, "issuerArn": f"arn:aws:iam::{parts[4]}:role/{role}", "issuerName": role,
                        "issuerId": "AROAMOCK", "sessionName": session}, []
            return {"arn": arn, "issuerArn": arn, "issuerName": "", "issuerId": "", "sessionName": ""}, []
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.aws_region, "region": self.aws_region, "id": self.aws_region}, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = [f"{self.aws_region}{s}" for s in "abc"]
            return {"names": zones, "zoneIds": zones, "id": self.aws_region}, []
        if token == "azure-native:authorization:getClientConfig":
            return {"clientId": "22222222-2222-2222-2222-222222222222", "objectId":
                    "33333333-3333-3333-3333-333333333333", "subscriptionId": AZURE_SUBSCRIPTION,
                    "tenantId": AZURE_TENANT}, []
        if token == "gcp:organizations/getProject:getProject":
            return {"projectId": self.gcp_project, "number": GCP_PROJECT_NUMBER}, []
        return dict(args.args), []
