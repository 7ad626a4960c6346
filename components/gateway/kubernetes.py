"""The gateway on the stack's EKS or GKE cluster: Deployment, Service, HPA, PodDisruptionBudget.

Backend credentials come from the pod's identity: EKS Pod Identity (an IAM role that may invoke
exactly the routed SageMaker endpoints) or GKE Workload Identity (a service account with
``roles/aiplatform.user`` on exactly the routed Vertex endpoints). The client key and HF token
are a Kubernetes Secret read through ``secretKeyRef``.
"""

from __future__ import annotations

import hashlib
import json

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.gateway.args import LIVENESS_PATH, PORT, READINESS_PATH, GatewayArgs
from components.gateway.ecs import attach_invoke_policies
from components.gateway.meter_aws import alert_topic, publish_policy
from components.gateway.meter_gcp import alert_policies, dashboard
from components.gateway.meter_k8s import (
    alertmanager_config,
    dashboard_config_map,
    pod_monitoring,
    prometheus_rule,
    secret_reader,
    service_monitor,
)
from components.tagging import aws_tags, gcp_labels, k8s_labels

NAMESPACE = "scalepath-gateway"
SERVICE_ACCOUNT = "gateway"
_ASSUME_PODS = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
    "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
#: Load balancer annotations that keep the Service internal to the network, per cloud: on EKS
#: the one its own cloud controller reads (the stack installs no AWS Load Balancer Controller,
#: the only reader of aws-load-balancer-scheme; without it the Service got an internet-facing ELB).
_INTERNAL = {"aws": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
             "gcp": {"networking.gke.io/load-balancer-type": "Internal"}}


def secret_key(env: str) -> str:
    """``HF_TOKEN`` -> ``hf-token``: a backend secret's key in the Kubernetes Secret and its child name."""
    return env.lower().replace("_", "-")


def gateway_account_id(physical_name: str, runtime: str) -> str:
    """A service account id (6-30 characters, unique in the GCP project) for this stack's gateway:
    ``gw-``, a hash of its physical name (which names the project and stack) and the runtime."""
    return f"gw-{hashlib.sha256(physical_name.encode()).hexdigest()[:12]}-{runtime}"


def _identity(name: str, args: GatewayArgs,
              opts: pulumi.ResourceOptions) -> tuple[dict[str, str], list[pulumi.Resource]]:
    """Cloud identity of the pods; returns the ServiceAccount's annotations and what the pods wait
    for (EKS adds the Pod Identity credentials only to pods started after the association)."""
    cluster = args.kubernetes
    assert cluster is not None
    if cluster.cloud == "aws":
        role = aws.iam.Role(f"{name}-pod-role", assume_role_policy=_ASSUME_PODS, tags=aws_tags(args.tags), opts=opts)
        attach_invoke_policies(name, role, args, opts)
        association = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity", cluster_name=cluster.cluster_name, namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT, role_arn=role.arn, tags=aws_tags(args.tags), opts=opts)
        return {}, [association]
    project = cluster.gcp_project or ""
    account = gcp.serviceaccount.Account(f"{name}-sa", account_id=gateway_account_id(args.physical_name, "k8s"),
                                         project=project, display_name="scalepath gateway", opts=opts)
    gcp.serviceaccount.IAMMember(
        f"{name}-wi", service_account_id=account.name, role="roles/iam.workloadIdentityUser",
        member=f"serviceAccount:{project}.svc.id.goog[{NAMESPACE}/{SERVICE_ACCOUNT}]", opts=opts)
    grant_vertex(name, args, account.email, project, opts)
    return {"iam.gke.io/gcp-service-account": account.email}, []


def grant_vertex(name: str, args: GatewayArgs, email: pulumi.Input[str], project: str,
                 opts: pulumi.ResourceOptions) -> None:
    """``roles/aiplatform.user`` for the service account on exactly the routed Vertex endpoints."""
    for index, endpoint in enumerate(args.grants.vertex_endpoints):
        gcp.vertex.AiEndpointIamMember(
            f"{name}-vertex-{index}", endpoint=endpoint, location=args.grants.vertex_location, project=project,
            role="roles/aiplatform.user", member=pulumi.Output.concat("serviceAccount:", email), opts=opts)


def deploy_kubernetes(name: str, args: GatewayArgs, key: pulumi.Input[str],
                      opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """The workload and its Service; returns the OpenAI base URL (the load balancer's address)."""
    cluster = args.kubernetes
    assert cluster is not None
    annotations, identity = _identity(name, args, opts)
    k8s_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
        provider=cluster.provider, depends_on=list(cluster.ready)))
    # `stage` names the cluster's stage: it decides what the cloud bills for the LoadBalancer Service.
    labels = {**k8s_labels({**args.tags, "stage": cluster.stage}),
              "app.kubernetes.io/name": "scalepath-gateway"}
    selector = {"app.kubernetes.io/name": "scalepath-gateway"}
    meta = {"namespace": NAMESPACE, "labels": labels}
    namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": NAMESPACE, "labels": labels},
                                      opts=k8s_opts)
    ns_opts = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[namespace]))
    k8s.core.v1.ServiceAccount(f"{name}-sa", metadata={**meta, "name": SERVICE_ACCOUNT, "annotations": annotations},
                               opts=ns_opts)
    secret_values = {"client-key": key, **{secret_key(env): s.value for env, s in args.secrets.items()}}
    secret = k8s.core.v1.Secret(f"{name}-secret", metadata={**meta, "name": "gateway-secrets"}, type="Opaque",
                                string_data={k: pulumi.Output.secret(v) for k, v in secret_values.items()},
                                opts=ns_opts)
    env = [{"name": k, "value": v} for k, v in args.plain_env().items()]
    env.append({"name": "SCALEPATH_GATEWAY_KEY",
                "value_from": {"secret_key_ref": {"name": secret.metadata.name, "key": "client-key"}}})
    env += [{"name": name, "value_from": {"secret_key_ref": {"name": secret.metadata.name, "key": secret_key(name)}}}
            for name in sorted(args.secrets)]
    probe = {"http_get": {"path": LIVENESS_PATH, "port": PORT}, "period_seconds": 10, "timeout_seconds": 5}
    memory = f"{int(args.memory_gib * 1024)}Mi"
    # No `replicas`: the HPA below owns the count (Kubernetes HPA docs), so re-applying the
    # Deployment on a route-weight change never scales it back to the minimum under load.
    k8s.apps.v1.Deployment(f"{name}-deployment", metadata={**meta, "name": "gateway"}, spec={
        "selector": {"match_labels": selector},
        "strategy": {"rolling_update": {"max_unavailable": 0, "max_surge": 1}},
        "template": {"metadata": {"labels": labels}, "spec": {
            "service_account_name": SERVICE_ACCOUNT,
            "termination_grace_period_seconds": 60,
            "containers": [{
                "name": "gateway", "image": args.image, "command": args.command(), "env": env,
                "ports": [{"name": "http", "container_port": PORT}],
                "resources": {"requests": {"cpu": str(args.cpu), "memory": memory}, "limits": {"memory": memory}},
                "startup_probe": {**probe, "failure_threshold": 30},
                "liveness_probe": {**probe, "failure_threshold": 3},
                "readiness_probe": {**probe, "http_get": {"path": READINESS_PATH, "port": PORT}},
                "security_context": {"allow_privilege_escalation": False},
            }],
        }},
    }, opts=pulumi.ResourceOptions.merge(ns_opts, pulumi.ResourceOptions(depends_on=identity)))
    service = k8s.core.v1.Service(f"{name}-service", metadata={
        **meta, "name": "gateway",
        "annotations": _INTERNAL[cluster.cloud] if args.private else {}}, spec={
        "type": "LoadBalancer", "selector": selector,
        "ports": [{"name": "http", "port": 80, "target_port": PORT}]}, opts=ns_opts)
    if args.meter is not None:
        _meter(name, args, labels, selector, pulumi.ResourceOptions.merge(
            ns_opts, pulumi.ResourceOptions(depends_on=[secret])), opts)
    k8s.autoscaling.v2.HorizontalPodAutoscaler(f"{name}-hpa", metadata={**meta, "name": "gateway"}, spec={
        "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": "gateway"},
        "min_replicas": args.min_replicas, "max_replicas": args.max_replicas,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "average_utilization": args.target_cpu_percent}}}]}, opts=ns_opts)
    k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata={**meta, "name": "gateway"}, spec={
        "max_unavailable": 1, "selector": {"match_labels": selector}}, opts=ns_opts)
    address = service.status.apply(lambda s: _lb_address(s))
    return pulumi.Output.concat("http://", address, "/v1")


def _custom(name: str, manifest: dict, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(name, api_version=manifest["apiVersion"], kind=manifest["kind"],
                                            metadata=manifest["metadata"], spec=manifest["spec"], opts=opts)


def _meter(name: str, args: GatewayArgs, labels: dict[str, str], selector: dict[str, str],
           k8s_opts: pulumi.ResourceOptions, opts: pulumi.ResourceOptions) -> None:
    """The scrape, alerts and dashboard: on EKS the cluster's prometheus-operator (ServiceMonitor,
    PrometheusRule, an AlertmanagerConfig to the alert topic, a Grafana ConfigMap); on GKE Managed
    Prometheus (PodMonitoring) with Cloud Monitoring alert policies and dashboard."""
    meter, cluster, gateway = args.meter, args.kubernetes, args.physical_name
    assert meter is not None and cluster is not None
    scrape = (NAMESPACE, labels, selector, "http", "gateway-secrets", "client-key", gateway)
    if cluster.cloud == "gcp":
        project = cluster.gcp_project or ""
        _custom(f"{name}-pod-monitoring", pod_monitoring(*scrape), k8s_opts)
        role, binding = secret_reader(NAMESPACE, labels, "gateway-secrets")
        k8s.rbac.v1.Role(f"{name}-key-reader", metadata=role["metadata"], rules=role["rules"], opts=k8s_opts)
        k8s.rbac.v1.RoleBinding(f"{name}-key-reader", metadata=binding["metadata"], role_ref=binding["roleRef"],
                                subjects=binding["subjects"], opts=k8s_opts)
        cost_labels = gcp_labels(args.tags)
        alert_policies(name, meter, gateway, project, cost_labels, opts)
        dashboard(name, meter, gateway, project, cost_labels, opts)
        return
    _custom(f"{name}-service-monitor", service_monitor(*scrape), k8s_opts)
    _custom(f"{name}-rules", prometheus_rule(meter, NAMESPACE, labels, gateway), k8s_opts)
    board = dashboard_config_map(meter, NAMESPACE, labels, gateway)
    k8s.core.v1.ConfigMap(f"{name}-dashboard", metadata=board["metadata"], data=board["data"], opts=k8s_opts)
    # Alertmanager publishes to the topic the budget's addresses subscribe to with the role the
    # cluster gives it through Pod Identity before it starts (components/clusters/eks.py): an IAM
    # policy added here applies to the running pod, an association added here would not.
    assert cluster.alertmanager_role is not None, "EKS clusters give Alertmanager a Pod Identity role"
    alerts = alert_topic(name, args, aws_tags(args.tags), opts)
    topic = alerts.topic
    aws.iam.RolePolicy(f"{name}-alertmanager-publish", role=cluster.alertmanager_role,
                       policy=pulumi.Output.all(topic.arn, alerts.key_arn).apply(lambda a: publish_policy(*a)),
                       opts=opts)
    route = topic.arn.apply(lambda arn: alertmanager_config(labels, gateway, arn, cluster.aws_region or ""))
    k8s.apiextensions.CustomResource(
        f"{name}-alert-route", api_version="monitoring.coreos.com/v1alpha1", kind="AlertmanagerConfig",
        metadata=route.apply(lambda m: m["metadata"]), spec=route.apply(lambda m: m["spec"]), opts=k8s_opts)


def _lb_address(status: object) -> str:
    ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
    first = ingress[0] if ingress else None
    return (getattr(first, "hostname", None) or getattr(first, "ip", None) or "pending") if first else "pending"
