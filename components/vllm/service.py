"""``scalepath:index:VllmService``: the vLLM OpenAI server on any Kubernetes cluster.

The caller passes the cluster's Kubernetes provider (``opts=ResourceOptions(provider=...)``);
children inherit it through ``parent=self``. Manifests come from :mod:`components.vllm.manifests`
and :mod:`components.vllm.monitoring` (plain dicts, validated in the tests against the
Kubernetes OpenAPI schema); CRDs (KEDA, prometheus-operator, GKE Managed Prometheus) are
``apiextensions.CustomResource`` so every object is visible to the plan.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.vllm import manifests, monitoring
from components.vllm.args import SERVER_PORT, VllmServiceArgs

__all__ = ["VllmService", "VllmServiceArgs"]


#: Child-name role of each scrape-config kind.
_ROLE = {"ServiceMonitor": "service-monitor", "PodMonitoring": "pod-monitoring"}

def _custom_resource(resource_name: str, manifest: dict[str, Any],
                     opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=manifest["apiVersion"], kind=manifest["kind"],
        metadata=manifest["metadata"], spec=manifest["spec"], opts=opts)


class VllmService(pulumi.ComponentResource):
    """Namespace, identity, cache, Deployment, Service, PDB, autoscaler, scrape config, alerts."""

    namespace: pulumi.Output[str]
    """Namespace of the workload."""
    service_name: pulumi.Output[str]
    """Name of the Service clients call."""
    url: pulumi.Output[str]
    """In-cluster URL, ``http://<svc>.<ns>.svc.cluster.local:8000``."""
    openai_base_url: pulumi.Output[str]
    """OpenAI-compatible base URL (``<url>/v1``)."""
    served_model_name: pulumi.Output[str]
    """What clients pass as ``model``."""

    def __init__(self, name: str, args: VllmServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scalepath:index:VllmService", name, None, opts)
        args.validate()
        child = pulumi.ResourceOptions(parent=self)

        if args.create_namespace:
            ns = k8s.core.v1.Namespace(f"{name}-namespace",
                                       metadata=manifests.namespace(name, args)["metadata"], opts=child)
            # Namespaced children wait for the namespace (they name it by string).
            child = pulumi.ResourceOptions(parent=self, depends_on=[ns])

        sa = manifests.service_account(name, args)
        k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=sa["metadata"],
                                   automount_service_account_token=sa["automountServiceAccountToken"],
                                   opts=child)

        token_secret = args.hf_token_secret_name
        if args.hf_token is not None:
            secret = manifests.token_secret_manifest(name, args)
            k8s.core.v1.Secret(
                f"{name}-hf-token", metadata=secret["metadata"], type=secret["type"],
                # Always a secret in state and plan, whether or not the caller marked it.
                string_data={args.hf_token_secret_key: pulumi.Output.secret(args.hf_token)},
                opts=child)
            token_secret = secret["metadata"]["name"]

        pvc = manifests.model_cache_pvc(name, args)
        if pvc is not None:
            k8s.core.v1.PersistentVolumeClaim(f"{name}-model-cache", metadata=pvc["metadata"],
                                              spec=pvc["spec"], opts=child)

        dep = manifests.deployment(name, args, service_account=name, token_secret=token_secret)
        # Pulumi waits for the rollout (10 min by default): allow for a GPU node to be
        # provisioned and the image pulled, plus the model-load budget of the startup probe.
        rollout = f"{args.probes.rollout_budget_seconds}s"
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment", metadata=dep["metadata"], spec=dep["spec"],
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                custom_timeouts=pulumi.CustomTimeouts(create=rollout, update=rollout))))

        svc = manifests.service(name, args)
        service = k8s.core.v1.Service(f"{name}-service", metadata=svc["metadata"], spec=svc["spec"],
                                      opts=child)

        pdb = manifests.pod_disruption_budget(name, args)
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=pdb["metadata"], spec=pdb["spec"],
                                          opts=child)

        netpol = manifests.network_policy(name, args)
        if netpol is not None:
            k8s.networking.v1.NetworkPolicy(f"{name}-network-policy", metadata=netpol["metadata"],
                                            spec=netpol["spec"], opts=child)

        after_deployment = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[deployment]))
        scaled = monitoring.scaled_object(name, args)
        if scaled is not None:
            _custom_resource(f"{name}-scaled-object", scaled, after_deployment)
        hpa = monitoring.horizontal_pod_autoscaler(name, args)
        if hpa is not None:
            k8s.autoscaling.v2.HorizontalPodAutoscaler(f"{name}-hpa", metadata=hpa["metadata"],
                                                       spec=hpa["spec"], opts=after_deployment)
        scrape = monitoring.scrape_config(name, args)
        if scrape is not None:
            _custom_resource(f"{name}-{_ROLE[scrape['kind']]}", scrape, child)
        rules = monitoring.rules_manifest(name, args)
        if rules is not None:
            _custom_resource(f"{name}-alert-rules", rules, child)

        self.namespace = pulumi.Output.from_input(args.namespace)
        self.service_name = service.metadata.apply(lambda meta: meta.name)
        self.url = self.service_name.apply(
            lambda svc_name: f"http://{svc_name}.{args.namespace}.svc.cluster.local:{SERVER_PORT}")
        self.openai_base_url = self.url.apply(lambda url: f"{url}/v1")
        self.served_model_name = pulumi.Output.from_input(args.served_model_name)
        self.register_outputs({
            "namespace": self.namespace,
            "service_name": self.service_name,
            "url": self.url,
            "openai_base_url": self.openai_base_url,
            "served_model_name": self.served_model_name,
        })
