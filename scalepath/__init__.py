"""scalepath tooling: the CLI, the offline plan engine and the cost model."""
