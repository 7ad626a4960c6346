"""The pack's policies. Names are a contract (configs, CI and reports refer to them)."""

from . import budgets, encryption, gpu, iam, k8s, network, scaling, secrets, tags

POLICIES = [
    tags.POLICY,
    budgets.POLICY,
    gpu.POLICY,
    scaling.SCALING_CAPS,
    network.POLICY,
    encryption.POLICY,
    secrets.POLICY,
    k8s.POLICY,
    scaling.NON_PROD_SCALE_TO_ZERO,
    iam.POLICY,
]
