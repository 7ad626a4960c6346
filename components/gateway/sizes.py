"""Which per-replica CPU/memory sizes each gateway runtime accepts (``data/container_sizes.yaml``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from components.files import load_data

_FILE = Path(__file__).resolve().parents[1] / "data" / "container_sizes.yaml"
_TABLE = {"ecs": "fargate"}
#: The metrics sidecar's own share of each replica, (vCPU, GiB), where the runtime sizes containers
#: one by one and caps their sum (ECS's collector shares the task's CPU and memory).
SIDECARS = {"cloudrun": (0.5, 0.25), "containerapps": (0.25, 0.5)}


@cache
def _sizes() -> dict[str, Any]:
    return load_data(_FILE)


def size_problem(runtime: str, cpu: float, memory_gib: float) -> str | None:
    """Why ``runtime`` would reject ``cpu`` vCPUs with ``memory_gib`` GiB per replica, or ``None``."""
    table = _sizes().get(_TABLE.get(runtime, runtime))
    if table is None:  # kubernetes: the nodes decide
        return None
    sidecar_cpu = SIDECARS.get(runtime, (0.0, 0.0))[0]
    if runtime == "containerapps":
        steps = cpu / table["cpuStep"]
        if cpu + sidecar_cpu > table["maxCpu"]:
            return (f"Container Apps (consumption) takes at most {table['maxCpu']:g} vCPU per replica, and the "
                    f"metrics sidecar takes {sidecar_cpu:g} of them: cpu at most {table['maxCpu'] - sidecar_cpu:g}")
        if abs(steps - round(steps)) > 1e-9 or memory_gib != cpu * table["gibPerCpu"]:
            return (f"Container Apps (consumption) takes vCPU in steps of {table['cpuStep']:g} up to "
                    f"{table['maxCpu']:g} with memory {table['gibPerCpu']:g} GiB per vCPU, e.g. cpu: 1, memoryGib: 2")
        return None
    sizes = table["sizes"]
    row = sizes.get(f"{cpu:g}")
    if row is None:
        return f"{runtime} takes cpu one of {', '.join(sizes)} vCPUs"
    most = max(float(c) for c in sizes)
    if cpu + sidecar_cpu > most:
        fits = max(float(c) for c in sizes if float(c) + sidecar_cpu <= most)
        return (f"{runtime} takes at most {most:g} vCPU per instance, and the metrics sidecar takes "
                f"{sidecar_cpu:g} of them: cpu at most {fits:g}")
    step = row.get("stepGib")
    offset = (memory_gib - row["minGib"]) / step if step else 0.0
    on_step = abs(offset - round(offset)) < 1e-9
    excluded = {"cpu": cpu, "gib": memory_gib} in table.get("exclude", [])
    if not (row["minGib"] <= memory_gib <= row["maxGib"]) or not on_step or excluded:
        steps = f" in steps of {step:g}" if step else ""
        return f"{runtime} with {cpu:g} vCPU takes {row['minGib']:g}..{row['maxGib']:g} GiB{steps}"
    return None
