"""Minimal valid AWS and GCP stack configs, and the EKS and GKE stacks cluster tests extend."""

from __future__ import annotations

from typing import Any

MODEL = "Qwen/Qwen2.5-7B-Instruct"
TAGS = {"team": "ml", "cost-center": "cc-1"}


def aws_config(environment: str = "dev", mode: str = "public", *deployments: dict[str, Any],
              **network: Any) -> dict[str, Any]:
    """An AWS stack config with these deployments; ``network`` adds keys under ``scalepath:network``."""
    return {
        "aws:region": "us-east-1",
        "scalepath:environment": environment,
        "scalepath:tags": dict(TAGS),
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"]},
        "scalepath:network": {"mode": mode, **network},
        "scalepath:deployments": list(deployments),
    }


def gcp_config(environment: str = "dev", mode: str = "public", *deployments: dict[str, Any]) -> dict[str, Any]:
    """A GCP stack config (with a billing account for its budget) with these deployments."""
    return {
        "gcp:project": "ml-proj-123",
        "gcp:region": "us-central1",
        "scalepath:environment": environment,
        "scalepath:tags": dict(TAGS),
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"],
                             "gcp": {"billingAccount": "012345-6789AB-CDEF01"}},
        "scalepath:network": {"mode": mode},
        "scalepath:deployments": list(deployments),
    }


def eks_config(environment: str = "dev", mode: str = "public", **deployment: Any) -> dict[str, Any]:
    cluster = deployment.pop("cluster", {"publicAccessCidrs": ["203.0.113.0/24"]} if mode == "public" else {})
    return aws_config(environment, mode, {
        "name": "llm", "model": MODEL, "stage": "eks-vllm", "scaling": {"min": 1, "max": 3},
        "cluster": cluster, "vllm": {"modelCache": {"kind": "ephemeral"}}, **deployment})


def gke_config(environment: str = "staging", mode: str = "public", **deployment: Any) -> dict[str, Any]:
    cluster = deployment.pop("cluster", {"masterAuthorizedCidrs": ["203.0.113.0/24"]} if mode == "public" else {})
    return gcp_config(environment, mode, {
        "name": "llm", "model": MODEL, "stage": "gke-vllm", "scaling": {"min": 1, "max": 2},
        "cluster": cluster, "vllm": {"modelCache": {"kind": "ephemeral"}}, **deployment})


def wake_stack(environment: str = "staging", *, fallbacks: tuple[str, ...] = ("chat-serverless",),
               cloud: str = "aws", **deployment: Any) -> dict[str, Any]:
    """One vLLM deployment ``llm`` at ``scaling.min: 0`` behind the gateway's ``chat`` route (the
    cluster's own runtime), with an HF serverless fallback ``chat-serverless``; set
    ``scalepath:hfToken`` before planning."""
    settings = {"scaling": {"min": 0, "max": 1}, **deployment}
    cfg = eks_config(environment, **settings) if cloud == "aws" else gke_config(environment, **settings)
    cfg["scalepath:deployments"].append({
        "name": "chat-serverless", "model": MODEL, "stage": "hf-serverless", "provider": "auto",
        "secretStore": {"cloud": cloud}})
    cfg["scalepath:gateway"] = {"routes": [
        {"name": "chat", "targets": [{"deployment": "llm", "weight": 100}], "fallbacks": list(fallbacks)}]}
    return cfg
