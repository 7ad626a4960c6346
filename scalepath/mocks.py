"""Mock engine responses: realistic ids and outputs per resource type so ``apply`` chains run.

Used by ``scalepath plan`` and by the tests. A resource gets its inputs back plus what the
cloud would add: an id, an ARN / self link / ARM id, and a name when the inputs had none.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
AZURE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


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
    return out


def _gcp_outputs(args: pulumi.runtime.MockResourceArgs, project: str) -> dict[str, Any]:
    project = args.inputs.get("project", project)
    name = args.inputs.get("name") or f"{args.name}-{_short_hash(args.name)}"
    kind = args.typ.split(":")[-1].lower()
    out: dict[str, Any] = {
        "name": name,
        "project": args.inputs.get("project", project),
        "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/{kind}s/{name}",
    }
    if args.typ == "gcp:container/cluster:Cluster":
        out.update(
            endpoint=f"10.{int(_short_hash(name)[:2], 16)}.0.2",
            masterAuth={"clusterCaCertificate": "LS0tLS1CRUdJTi...mock"},
            id=f"projects/{project}/locations/{args.inputs.get('location', 'global')}/clusters/{name}",
        )
    if args.typ == "gcp:serviceaccount/account:Account":
        account = args.inputs.get("accountId", name)
        out.update(email=f"{account}@{project}.iam.gserviceaccount.com",
                   name=f"projects/{project}/serviceAccounts/{account}@{project}.iam.gserviceaccount.com")
    return out


def _azure_outputs(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    provider, kind = args.typ.split(":")[1:3]
    rg = args.inputs.get("resourceGroupName", "rg")
    name = args.name
    return {
        "name": name,
        "id": f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{rg}/providers/"
        f"Microsoft.{provider}/{kind}/{name}",
    }


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
        elif provider == "kubernetes":
            meta = dict(args.inputs.get("metadata") or {})
            meta.setdefault("name", f"{args.name}-{_short_hash(args.name)}")
            extra = {"metadata": meta}
        else:
            extra = {}
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(outputs.get(key), dict):
                # Computed sub-fields of an input block (EKS vpcConfig.clusterSecurityGroupId).
                outputs[key] = {**value, **outputs[key]}
            else:
                outputs.setdefault(key, value)
        resource_id = str(outputs.get("id") or f"{args.name}-id")
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        # The SDK's MockMonitor iterates the failures, so "no failures" must be [] (not None).
        result, failures = self._call(args)
        return result, failures or []

    def _call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
                    "userId": "AIDMOCK"}, None
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.aws_region, "region": self.aws_region, "id": self.aws_region}, None
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, None
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = [f"{self.aws_region}{s}" for s in "abc"]
            return {"names": zones, "zoneIds": zones, "id": self.aws_region}, None
        if token == "gcp:organizations/getProject:getProject":
            return {"projectId": self.gcp_project, "number": "123456789012"}, None
        return dict(args.args), None
