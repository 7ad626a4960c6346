"""The Pulumi program: reads stack config into a validated spec and composes components."""
