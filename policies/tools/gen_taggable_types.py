"""Regenerate ``policies/data/taggable_types.json`` from the installed provider SDKs.

The pack runs as its own process and must not import the provider SDKs (slow, and not its
business), so the list of resource types that take cost tags is data, built here from the
SDK sources: a type is taggable when its ``<Resource>Args`` class has the cloud's tag input.

- AWS, Azure: ``tags``.
- GCP: ``labels`` only where the resource also tracks ``effective_labels`` (on others, such as
  monitoring notification channels, ``labels`` is configuration); else ``resourceLabels``
  (GKE clusters) or ``userLabels`` (monitoring). GKE node pools label their VMs through
  ``nodeConfig.resourceLabels`` (``nodeConfig.labels`` are Kubernetes node labels).
- Kubernetes: every built-in kind with ``metadata`` (``metadata.labels``), except ``*List``
  and ``*Patch`` kinds; CustomResources are recognised by the policy from their inputs.

Run: ``python policies/tools/gen_taggable_types.py`` (needs the project venv).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "data" / "taggable_types.json"

_TOKEN = re.compile(r"super\((\w+), __self__\)\.__init__\(\s*['\"]([^'\"]+)['\"]")
_GETTER = re.compile(r'getter(?:\(name="(\w+)"\))?\n    def (\w+)\(')

#: Tag inputs nested below the top level, by type (see the module docstring).
NESTED = {"gcp:container/nodePool:NodePool": "nodeConfig.resourceLabels"}


def _class_body(source: str, name: str) -> str:
    start = source.find(f"\nclass {name}:")
    if start < 0:
        start = source.find(f"\nclass {name}(")
    if start < 0:
        return ""
    end = source.find("\nclass ", start + 1)
    return source[start:end if end > 0 else len(source)]


def _wire_names(body: str) -> set[str]:
    return {wire or python for wire, python in _GETTER.findall(body)}


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def _tag_property(provider: str, token: str, args: set[str], state: set[str]) -> str | None:
    if token in NESTED:
        return NESTED[token]
    if provider in ("aws", "azure-native"):
        return "tags" if "tags" in args else None
    if provider == "gcp":
        if "labels" in args and "effectiveLabels" in state:
            return "labels"
        for name in ("resourceLabels", "userLabels"):
            if name in args:
                return name
        return None
    if provider == "kubernetes":
        kind = token.rsplit(":", 1)[-1]
        if "metadata" in args and not kind.endswith(("List", "Patch")):
            return "metadata.labels"
    return None


def scan(package: str, provider: str) -> dict[str, str]:
    """Map each taggable type token of ``package`` to its tag input (dotted path)."""
    found: dict[str, str] = {}
    for path in sorted(_package_dir(package).rglob("*.py")):
        if path.name.startswith(("_", "get_")) or path.name in ("outputs.py",):
            continue
        source = path.read_text(encoding="utf-8")
        for cls, token in _TOKEN.findall(source):
            if not token.startswith(f"{provider}:") or token.startswith("pulumi:"):
                continue
            # Kubernetes names its args class `<Kind>InitArgs` (`<Kind>Args` is a spec type there).
            args = _wire_names(_class_body(source, f"{cls}Args") or _class_body(source, f"{cls}InitArgs"))
            state = _wire_names(_class_body(source, f"_{cls}State"))
            prop = _tag_property(provider, token, args, state)
            if prop:
                found[token] = prop
    return found


def main() -> None:
    """Write the JSON file (sorted, one type per line, so diffs stay readable)."""
    types: dict[str, str] = {}
    for package, provider in (("pulumi_aws", "aws"), ("pulumi_azure_native", "azure-native"),
                              ("pulumi_gcp", "gcp"), ("pulumi_kubernetes", "kubernetes")):
        types.update(scan(package, provider))
    OUT.write_text(json.dumps(dict(sorted(types.items())), indent=0) + "\n")
    print(f"{len(types)} taggable types -> {OUT}")


if __name__ == "__main__":
    main()
