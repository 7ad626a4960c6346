"""`pulumi up` entry point (Pulumi.yaml: ``main: stacks/``)."""

from stacks.program import main

main()
