"""Our dynamic resources leave ``pickle`` as they found it, so any number fit in one process."""

from __future__ import annotations

import pickle

import pulumi
from pulumi.dynamic import CreateResult, ResourceProvider

from components.dynamic import DynamicResource


class _Echo(ResourceProvider):
    def __init__(self) -> None:
        super().__init__()
        self.settings = {"b": 2, "a": 1}  # a dict to pickle: the leaked wrappers run on it

    def create(self, props: dict) -> CreateResult:
        return CreateResult(id_="echo", outs=props)


@pulumi.runtime.test
def test_many_dynamic_resources_in_one_process() -> None:
    before = {attr: pickle._Pickler.__dict__[attr] for attr in ("_batch_setitems", "save_dict")}  # noqa: SLF001
    # The SDK alone wraps pickle's dict writer once per resource and overflows the stack near 970.
    resources = [DynamicResource(_Echo(), f"echo-{i}", {"n": i}) for i in range(1500)]
    assert {attr: pickle._Pickler.__dict__[attr] for attr in before} == before  # noqa: SLF001

    def registered(urn: str) -> None:
        assert urn.endswith("::echo-1499"), urn

    return resources[-1].urn.apply(registered)
