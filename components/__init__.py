"""Reusable Pulumi components, one module per stage or cloud building block.

Components never import ``stacks`` or ``scalepath``: they must run under a bare ``pulumi up``.
"""
