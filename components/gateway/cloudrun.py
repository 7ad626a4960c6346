"""The gateway on Cloud Run: a service account allowed to predict on exactly the routed Vertex
endpoints and to read its two secrets; ingress internal-only when private."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.gateway.args import KEY_ENV, LIVENESS_PATH, PORT, GatewayArgs
from components.gateway.kubernetes import gateway_account_id, grant_vertex
from components.gateway.meter_gcp import alert_policies, collector_container, dashboard, writer_grant
from components.names import dns_label
from components.tagging import gcp_labels


def deploy_cloudrun(name: str, args: GatewayArgs, secrets: dict[str, pulumi.Input[str]],
                    opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """``secrets`` maps env name -> Secret Manager secret id; returns the OpenAI base URL."""
    run = args.cloudrun
    assert run is not None
    account = gcp.serviceaccount.Account(f"{name}-sa", account_id=gateway_account_id(args.physical_name, "run"),
                                         project=run.project,
                                         display_name="scalepath gateway (Cloud Run)", opts=opts)
    member = pulumi.Output.concat("serviceAccount:", account.email)
    grants: list[pulumi.Resource] = [
        gcp.secretmanager.SecretIamMember(f"{name}-reads-{env.lower().replace('_', '-')}", secret_id=secret,
                                          project=run.project, role="roles/secretmanager.secretAccessor",
                                          member=member, opts=opts)
        for env, secret in secrets.items()]
    grant_vertex(name, args, account.email, run.project, opts)
    sidecars: list[dict] = []
    if args.meter is not None:  # a collector sidecar exports to Managed Prometheus as the service account
        grants.append(writer_grant(name, run.project, member, opts))
        sidecars.append(collector_container(args.physical_name, run.project, secrets[KEY_ENV]))
        labels = gcp_labels(args.tags)
        alert_policies(name, args.meter, args.physical_name, run.project, labels, opts)
        dashboard(name, args.meter, args.physical_name, run.project, labels, opts)
    env = [{"name": k, "value": v} for k, v in args.plain_env().items()]
    env += [{"name": k, "value_source": {"secret_key_ref": {"secret": secret, "version": "latest"}}}
            for k, secret in secrets.items()]
    probe = {"http_get": {"path": LIVENESS_PATH, "port": PORT}, "period_seconds": 10, "timeout_seconds": 5}
    service = gcp.cloudrunv2.Service(
        f"{name}-service", name=dns_label(args.physical_name, 49), location=run.region, project=run.project,
        ingress="INGRESS_TRAFFIC_INTERNAL_ONLY" if args.private else "INGRESS_TRAFFIC_ALL",
        # The gateway checks its own client key; Cloud Run's IAM invoker check would need Google
        # identity tokens that OpenAI clients do not send.
        invoker_iam_disabled=True, deletion_protection=False, labels=gcp_labels(args.tags),
        template={
            "service_account": account.email, "timeout": "600s", "max_instance_request_concurrency": 80,
            "scaling": {"min_instance_count": args.min_replicas, "max_instance_count": args.max_replicas},
            "labels": gcp_labels(args.tags),
            "containers": [{
                "name": "gateway", "image": args.image, "commands": args.command()[:2], "args": args.command()[2:],
                "envs": env,
                "ports": {"container_port": PORT},
                "resources": {"limits": {"cpu": str(args.cpu), "memory": f"{int(args.memory_gib * 1024)}Mi"},
                              "cpu_idle": False},
                "startup_probe": {**probe, "failure_threshold": 30},
                "liveness_probe": {**probe, "failure_threshold": 3},
            }, *sidecars],
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=grants)))
    return pulumi.Output.concat(service.uri, "/v1")
