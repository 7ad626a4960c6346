"""Minimal valid EKS and GKE stack configs that cluster tests extend."""

from __future__ import annotations

from typing import Any

MODEL = "Qwen/Qwen2.5-7B-Instruct"


def eks_config(environment: str = "dev", mode: str = "public", **deployment: Any) -> dict[str, Any]:
    cluster = deployment.pop("cluster", {"publicAccessCidrs": ["203.0.113.0/24"]} if mode == "public" else {})
    return {
        "aws:region": "us-east-1",
        "scalepath:environment": environment,
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"]},
        "scalepath:network": {"mode": mode},
        "scalepath:deployments": [{
            "name": "llm", "model": MODEL, "stage": "eks-vllm", "scaling": {"min": 1, "max": 3},
            "cluster": cluster, "vllm": {"modelCache": {"kind": "ephemeral"}}, **deployment}],
    }


def gke_config(environment: str = "staging", mode: str = "public", **deployment: Any) -> dict[str, Any]:
    cluster = deployment.pop("cluster", {"masterAuthorizedCidrs": ["203.0.113.0/24"]} if mode == "public" else {})
    return {
        "gcp:project": "ml-proj-123",
        "gcp:region": "us-central1",
        "scalepath:environment": environment,
        "scalepath:tags": {"team": "ml", "cost-center": "cc-1"},
        "scalepath:budget": {"monthlyUsd": 100, "notify": ["a@example.com"],
                             "gcp": {"billingAccount": "012345-6789AB-CDEF01"}},
        "scalepath:network": {"mode": mode},
        "scalepath:deployments": [{
            "name": "llm", "model": MODEL, "stage": "gke-vllm", "scaling": {"min": 1, "max": 2},
            "cluster": cluster, "vllm": {"modelCache": {"kind": "ephemeral"}}, **deployment}],
    }
