"""Mutation testing of the rules users rely on: mutmut per module, against the tests that exercise it.

    nice -n 19 python benchmarks/mutation.py [MODULE ...] [--minutes 20] [--show] [--list] [--only NAME ...]

For each module of :data:`MODULES` (all, or those named) it lays out a work folder under
``.cache/mutation/<module>/`` (links to the packages and tests plus a generated ``pyproject.toml``
whose ``[tool.mutmut]`` mutates that one file and selects its tests), runs ``mutmut run`` there
with one worker, and prints the module's score: killed / (killed + survived + timeouts +
suspicious); "no tests" mutants (code no selected test reaches) are printed apart, counted as
not killed. The survivors' names follow (``--show``: with the lines each one changed). ``--only``
mutates just the named functions (``_retry_after``, ``InferenceEndpointProvider.create``) of the
modules given: a part of a large module, measured in minutes instead of half an hour.

Slow (minutes per module) and CPU-bound, so not part of CI: run it by hand when a rule module
or its tests change, and update the figures in tests/README.md. mutmut mutates function
bodies only (module constants such as ``WEIGHTS_GPU_FRACTION`` and decorated functions, e.g.
pydantic validators, are left alone); the hand-made mutants of issue 29 cover those.

Property tests run with the ``mutation`` Hypothesis profile (``ci``'s fixed examples, no shrinking),
so a verdict does not depend on the draw and a killed mutant is not shrunk into a timeout.
Run it in the development environment (README: ``SCALEPATH_GATEWAY_ENGINE`` and
``SCALEPATH_CACHE_DIR`` set): the promote tests call the real gateway engine, and a test that
fails on clean code stops mutmut before any mutant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".cache" / "mutation"

COST_UNIT_TESTS = ("tests/cost", "-k", "not shipped and not code_constructs and not plan_json and not cli_plot "
                   "and not plan_adds_no_gpu_hours")
"""The cost tests that price resources directly; those that plan whole stacks (20 s and more per
mutant here) are left out: the lines they price are priced by hand-computed unit tests too."""

MODULES: dict[str, tuple[str, ...]] = {
    # config parsing and limits
    "stacks/model.py": ("tests/stages/test_spec.py",),
    # (not the property tests of the other module: a few seconds each, per mutant)
    "components/aws/api_model.py": ("tests/components/test_api_model.py", "tests/stages/test_sagemaker_realism.py",
                                    "-k", "not derived_answer_length"),
    "components/sagemaker/limits.py": ("tests/components/test_sagemaker_limits.py",
                                       "tests/stages/test_sagemaker_realism.py", "-k", "not endpoint_names"),
    # GPU fit and allocatable
    "stacks/gpu_fit.py": ("tests/stages/test_gpu_fit.py",),
    # (the formulas' own tests: the node-fit tests that plan whole stacks cost ~20 s per mutant)
    "components/clusters/allocatable.py": tuple(f"tests/stages/test_node_fit.py::{test}" for test in (
        "test_allocatable_follows_the_documented_formulas", "test_the_daemon_sets_take_their_share",
        "test_replicas_sharing_a_node_split_its_budget_rounding_down", "test_every_band_counts_down_to_the_last_unit",
        "test_an_eks_node_without_max_pods_is_a_clear_error",
        "test_every_gpu_type_of_the_catalogues_gets_requests_that_fit")),
    # budgets
    "components/budgets.py": ("tests/components/test_budgets.py",),
    # token shapes and redaction
    "components/token_shapes.py": ("tests/components/test_token_shapes.py",),
    # the policy rules (tested in process; the gRPC tests run the pack in another process)
    "policies/rules/tags.py": ("tests/policies/test_rule_functions.py",),
    "policies/rules/iam.py": ("tests/policies/test_rule_functions.py",),
    # cost lines and tables
    "scalepath/cost/lines.py": COST_UNIT_TESTS,
    "scalepath/cost/tables.py": COST_UNIT_TESTS,
    # promote's gate, weights and the env-file writer
    "scalepath/promote/gate.py": ("tests/promote",),
    "scalepath/promote/weights.py": ("tests/promote",),
    "scalepath/promote/envfile.py": ("tests/promote",),
    # the HF provider's retry and adopt logic
    "components/huggingface/endpoint_provider.py": ("tests/components/test_hf_endpoint_provider.py",),
}
"""Module -> the tests that exercise it (the gateway renderer is left out while it moves)."""

COPIED = ("environments", "Pulumi.yaml", ".github", "docs", "README.md")
"""What tests read besides the packages (ROOT is the mutants folder then)."""
LINKED = ("components", "stacks", "scalepath", "policies", "tests", *COPIED)

FORKSERVER = {"components/budgets.py"}
"""Modules whose tests run components under Pulumi mocks: forked straight from mutmut's process
(which ran them once already) they spin until the CPU bound, so each mutant starts from mutmut's
fork server instead."""
"""What the work folder links to: mutmut copies the packages into ``mutants/`` and mutates one file."""

# mutmut's exit codes per mutant (mutmut/stats.py), folded into the classes this report prints.
KILLED, SURVIVED, NO_TESTS, NOT_RUN = "killed", "survived", "no tests", "not run"
_STATUS = {1: KILLED, 3: KILLED, 37: KILLED, 0: SURVIVED, 5: NO_TESTS, 33: NO_TESTS, None: NOT_RUN}


@dataclass(frozen=True)
class Score:
    """One module's verdicts."""

    module: str
    counts: Counter[str]
    survivors: tuple[str, ...]
    minutes: float
    ending: str
    """``""`` when mutmut finished, else why not (time bound, or its failure and log)."""

    @property
    def killed_pct(self) -> float | None:
        judged = sum(n for status, n in self.counts.items() if status != NOT_RUN)
        return 100 * self.counts[KILLED] / judged if judged else None

    def line(self) -> str:
        pct = f"{self.killed_pct:.0f}%" if self.killed_pct is not None else "-"
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        ending = f" ({self.ending})" if self.ending else ""
        return f"{self.module}: {pct} killed ({counts or 'no mutant judged'}) in {self.minutes:.1f} min{ending}"


def _pyproject(module: str, tests: tuple[str, ...]) -> str:
    config = {
        "source_paths": ["components", "stacks", "scalepath", "policies"],
        "only_mutate": [module],
        "also_copy": list(COPIED),
        "pytest_add_cli_args_test_selection": list(tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
        "use_git_change_detection": False,
        "process_isolation": "forkserver" if module in FORKSERVER else "fork",
    }
    lines = ["[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    # The project's pytest settings minus `pythonpath`: mutmut puts mutants/ first on sys.path itself.
    lines += ["", "[tool.pytest.ini_options]", 'filterwarnings = ["ignore::DeprecationWarning:pulumi_aws.*", '
              '"ignore::DeprecationWarning:pulumi_gcp.*", "ignore::DeprecationWarning:pulumi_azure_native.*"]']
    return "\n".join(lines) + "\n"


def _prepare(module: str, tests: tuple[str, ...]) -> Path:
    work = WORK / module.replace("/", ".").removesuffix(".py")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in LINKED:
        (work / name).symlink_to(ROOT / name)
    (work / "pyproject.toml").write_text(_pyproject(module, tests))
    return work


def _verdicts(work: Path, module: str) -> dict[str, int | None]:
    meta = work / "mutants" / f"{module}.meta"
    return json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}


def _mutant_globs(module: str, functions: Sequence[str]) -> list[str]:
    """mutmut's names for the mutants of ``functions`` (``f`` or ``Class.method``) of ``module``."""
    prefix = module.replace("/", ".").removesuffix(".py")
    return [f"{prefix}.xǁ{name.replace('.', 'ǁ')}__mutmut_*" if "." in name else f"{prefix}.x_{name}__mutmut_*"
            for name in functions]


def measure(module: str, tests: tuple[str, ...], minutes: float, only: Sequence[str] = ()) -> Score:
    """Run mutmut on ``module`` (one worker, at most ``minutes``; only the mutants of the functions
    ``only`` names, if any) and read its verdicts."""
    work = _prepare(module, tests)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
    env["HYPOTHESIS_PROFILE"] = "mutation"  # ci's examples, no shrinking (tests/support/profiles.py)
    mutmut = Path(sys.executable).with_name("mutmut")
    started = time.monotonic()
    with open(work / "mutmut.log", "w") as log:
        process = subprocess.Popen([str(mutmut), "run", "--max-children", "1", *_mutant_globs(module, only)],
                                   cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=minutes * 60)
            ending = "" if code == 0 else f"mutmut exited {code}: see {log.name}"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)  # mutmut and the workers it forked, nothing else
            process.wait()
            ending = f"stopped at the {minutes:g} min bound: partial"
    verdicts = _verdicts(work, module)
    counts = Counter(_STATUS.get(code, "timeout or suspicious") for code in verdicts.values())
    survivors = tuple(sorted(name for name, code in verdicts.items() if _STATUS.get(code) == SURVIVED))
    return Score(module, counts, survivors, (time.monotonic() - started) / 60, ending)


def _diff(module: str, name: str) -> str:
    """The lines ``mutmut show`` says the mutant changed."""
    work = WORK / module.replace("/", ".").removesuffix(".py")
    shown = subprocess.run([str(Path(sys.executable).with_name("mutmut")), "show", name], cwd=work,
                           capture_output=True, text=True).stdout
    return "\n".join(f"    {line}" for line in shown.splitlines() if line.startswith(("- ", "+ ")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules to measure (default: all of MODULES)")
    parser.add_argument("--minutes", type=float, default=20, help="time bound per module")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests, run nothing")
    parser.add_argument("--show", action="store_true", help="print each survivor's changed lines")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME",
                        help="mutate only these functions (f or Class.method) of the modules given")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"not in MODULES: {', '.join(unknown)}")
    for module in args.modules or list(MODULES):
        if args.list:
            print(module, " ".join(MODULES[module]))
            continue
        score = measure(module, MODULES[module], args.minutes, args.only)
        print(score.line(), flush=True)
        for name in score.survivors:
            print(f"  survived: {name}", flush=True)
            if args.show:
                print(_diff(module, name), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
