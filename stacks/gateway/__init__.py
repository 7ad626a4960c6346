"""The stack's gateway: one OpenAI-compatible endpoint (the LiteLLM proxy, "the engine") in front of its deployments.

- :mod:`stacks.gateway.config` — ``scalepath:gateway``: routes, targets, fallbacks, runtime;
- :mod:`stacks.gateway.targets` — what each route target must offer, checked from its contract;
- :mod:`stacks.gateway.backends` — how the engine calls each deployment, from its contract;
- :mod:`stacks.gateway.engine_config` — the engine's ``config.yaml``;
- :mod:`stacks.gateway.build` — the ``Gateway`` component in the stack program.
"""
