"""Entry point the engine runs (``python -u -m pulumi.policy <engine-address> .`` in this folder).

Constructing the :class:`PolicyPack` starts the analyzer gRPC server, prints its port on the
first stdout line and serves until the engine stops the process.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES

PolicyPack(
    name="scalepath",
    # Policies without their own level are mandatory; per-environment levels come from
    # policies/config/<environment>.json (--policy-pack-config).
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
    description="Guardrails for model-serving stacks along the scaling path.",
)
