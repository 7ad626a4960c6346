"""``scalepath advise --plot``: monthly cost vs volume per stage, crossovers marked (matplotlib, no display)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402 (the backend must be chosen first)

from components.files import write_output  # noqa: E402
from scalepath.cost.advisor import Advice, stage_curve, volume_range  # noqa: E402
from stacks.config import Stage  # noqa: E402


def plot_path_problem(path: Path) -> str | None:
    """Why ``path`` cannot take a plot (no such folder, a format matplotlib does not write), or None."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"folder {folder} does not exist; create it or choose another path"
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    extension = path.suffix.lstrip(".").lower()
    if extension not in formats:
        return (f"unknown image format {path.suffix or '(no extension)'!r}; end the name with one of "
                f"{', '.join('.' + f for f in sorted(formats))}")
    return None


def plot_advice(advice: Advice, path: Path, points: int = 120) -> None:
    """Write a PNG of cost per stage over 1/1000x..1000x the volume (log-log), the switches of the
    cheapest stage as dashed lines and the reported volumes as dots."""
    lo, hi = volume_range(advice.workload.requests_per_month)
    grid = sorted({round(lo * (hi / lo) ** (i / (points - 1))) for i in range(points)})
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
    for report in advice.stages:
        if not report.available:
            continue
        curve = stage_curve(Stage(report.stage), advice.workload)
        style = "-" if report.eligible else ":"
        label = report.stage + ("" if report.eligible else " (excluded)")
        (line,) = ax.plot(grid, [curve(v).monthly_usd for v in grid], style, label=label, linewidth=1.8)
        ax.plot([e.requests_per_month for e in report.estimates], [e.monthly_usd for e in report.estimates],
                "o", color=line.get_color(), markersize=5)
    for switch in advice.switches:
        ax.axvline(switch.requests_per_month, color="grey", linestyle="--", linewidth=1)
        ax.annotate(f"{switch.from_stage} → {switch.to_stage}\n~{switch.requests_per_month:,}/month",
                    (switch.requests_per_month, ax.get_ylim()[0]), xytext=(4, 8), textcoords="offset points",
                    fontsize=8, color="dimgrey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("requests per month")
    ax.set_ylabel("USD per month")
    w = advice.workload
    ax.set_title(f"{w.model.name}: {w.input_tokens} in / {w.output_tokens} out tokens per request", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    # Drawn in memory, then written whole: a full disk must not truncate the previous image.
    image = io.BytesIO()
    fig.savefig(image, format=path.suffix.lstrip(".").lower())
    plt.close(fig)
    write_output(path, image.getvalue(), mode=0o644)
