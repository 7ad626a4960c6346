"""``scalepath promote`` end to end against local OpenAI-compatible stand-ins: the step is written
only on a pass, the file stays byte for byte on a refusal, and the report names the criterion."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from scalepath.children import DIE_WITH_PARENT
from scalepath.cli import EXIT_CONFIG, EXIT_CRASH, EXIT_OK, EXIT_VIOLATIONS, app
from tests.support import ROOT
from tests.support.gateway_serve import SHUTDOWN_SECONDS, STARTUP_SECONDS, alive
from tests.support.openai_standin import Reply, StandIn
from tests.support.raw_http import RawServer, answer, redirect

runner = CliRunner()
GATEWAY = """\
  # The gateway: HF endpoint today, serverless as the candidate.
  scalepath:gateway:
    runtime: ecs
    routes:
      - name: chat   # what clients ask for
        targets:
          - {deployment: chat-endpoint, weight: 100}   # today's stage
        gate: {minPassRate: 0.9, p95LatencyMs: GATE_P95}
"""


def environment(tmp_path: Path, p95_ms: int = 60000) -> Path:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text((ROOT / "environments" / "Pulumi.dev.yaml").read_text() + GATEWAY.replace("GATE_P95", str(p95_ms)))
    return path


def suite(tmp_path: Path, cases: int = 10) -> Path:
    path = tmp_path / "suite.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "messages": [{"role": "user", "content": f"capital {i}"}],
                                        "expect": {"contains": "Paris"}}) + "\n" for i in range(cases)))
    return path


@pytest.fixture(autouse=True)
def in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def baseline() -> Iterator[StandIn]:
    with StandIn("server", reply=lambda body: Reply("Paris.")) as server:
        yield server


def promote(env: Path, suite_file: Path, backends: dict[str, str], *extra: str):
    args = ["promote", "--stack", "dev", "--config", str(env), "--route", "chat", "--to", "chat-serverless",
            "--suite", str(suite_file), "--timeout", "30"]
    for name, url in backends.items():
        args += ["--backend", f"{name}={url}"]
    return runner.invoke(app, [*args, *extra])


def test_a_good_candidate_gets_exactly_its_step_written_with_comments_kept(tmp_path: Path, baseline: StandIn) -> None:
    env = environment(tmp_path)
    before = env.read_text()
    with StandIn("candidate", reply=lambda body: Reply("It is Paris")) as candidate:
        result = promote(env, suite(tmp_path), {"chat-endpoint": baseline.url,
                                                "chat-serverless": candidate.url}, "--write", "--step", "25")
    assert result.exit_code == EXIT_OK, result.output
    assert env.read_text() == before.replace(
        "          - {deployment: chat-endpoint, weight: 100}   # today's stage\n",
        "          - {deployment: chat-endpoint, weight: 75}   # today's stage\n"
        "          - {deployment: chat-serverless, weight: 25}\n")
    assert candidate.requests == 10 and baseline.requests == 10
    # The request names the deployment's model, as a vLLM/TGI server expects.
    assert candidate.bodies[0]["model"] == "meta-llama/Llama-3.1-8B-Instruct"


def test_without_write_the_new_weights_are_only_reported(tmp_path: Path, baseline: StandIn) -> None:
    env = environment(tmp_path)
    before = env.read_bytes()
    with StandIn("candidate", reply=lambda body: Reply("Paris")) as candidate:
        result = promote(env, suite(tmp_path), {"chat-endpoint": baseline.url,
                                                "chat-serverless": candidate.url}, "--json")
    assert result.exit_code == EXIT_OK, result.output
    document = json.loads(result.stdout)
    assert document["promoted"] is True and document["baseline"]["deployment"] == "chat-endpoint"
    assert document["weightsAfter"] == {"chat-endpoint": 90, "chat-serverless": 10}
    assert env.read_bytes() == before


@pytest.mark.parametrize(("reply", "p95_ms", "failed"), [
    (Reply("Lyon"), 60000, {"minPassRate", "maxRegression"}),
    (Reply("Paris", delay_s=0.3), 100, {"p95LatencyMs"}),
    (Reply(status=500), 60000, {"minPassRate", "maxRegression", "p95LatencyMs", "maxErrorRate"}),
], ids=["wrong-answers", "slow", "errors"])
def test_a_failing_candidate_is_refused_and_the_file_is_untouched(
        tmp_path: Path, baseline: StandIn, reply: Reply, p95_ms: int, failed: set[str]) -> None:
    env = environment(tmp_path, p95_ms)
    before = env.read_bytes()
    with StandIn("candidate", reply=lambda body: reply) as candidate:
        result = promote(env, suite(tmp_path), {"chat-endpoint": baseline.url,
                                                "chat-serverless": candidate.url}, "--write", "--json")
    assert result.exit_code == EXIT_VIOLATIONS, result.output
    document = json.loads(result.stdout)
    assert {c["name"] for c in document["criteria"] if not c["passed"]} == failed
    assert document["weightsAfter"] == document["weightsBefore"] == {"chat-endpoint": 100}
    assert document["worstCases"] and all(not case["passed"] or "p95LatencyMs" in failed
                                          for case in document["worstCases"])
    assert env.read_bytes() == before
    text = promote(env, suite(tmp_path), {"chat-endpoint": baseline.url, "chat-serverless": "http://127.0.0.1:9/v1"})
    assert text.exit_code == EXIT_VIOLATIONS and "FAIL maxErrorRate" in text.output and "refused" in text.output


@pytest.mark.parametrize(("args", "says"), [
    (["--route", "nope"], "--route: 'nope' is not a route"),
    (["--to", "ghost"], "--to: 'ghost' is not a deployment"),
    (["--backend", "chat-endpoint"], "--backend"),
])
def test_unusable_input_exits_2_naming_the_flag(tmp_path: Path, args: list[str], says: str) -> None:
    env = environment(tmp_path)
    before = env.read_bytes()
    base = ["promote", "--stack", "dev", "--config", str(env), "--route", "chat", "--to", "chat-serverless",
            "--suite", str(suite(tmp_path))]
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in base:
            base[base.index(flag) + 1] = value
        else:
            base += [flag, value]
    result = runner.invoke(app, base)
    assert result.exit_code == EXIT_CONFIG, result.output
    assert says in " ".join(result.output.split()) and "Traceback" not in result.output
    assert env.read_bytes() == before


def test_a_bad_suite_exits_2_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "q"}], "expect": {"regex": "("}}\n')
    result = promote(environment(tmp_path), bad, {})
    assert result.exit_code == EXIT_CONFIG and "line 1: expect.regex" in " ".join(result.output.split())


def test_a_stack_without_gateway_exits_2(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "environments" / "Pulumi.dev.yaml").read_text())
    document["config"].pop("scalepath:gateway", None)
    env = tmp_path / "Pulumi.dev.yaml"
    env.write_text(yaml.safe_dump(document))
    result = runner.invoke(app, ["promote", "--stack", "dev", "--config", str(env), "--route", "chat",
                                 "--to", "chat-endpoint", "--suite", str(suite(tmp_path))])
    assert result.exit_code == EXIT_CONFIG and "no gateway" in result.output


def test_a_deployment_without_backend_is_called_through_the_real_engine_with_its_own_auth(
        tmp_path: Path, baseline: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    # chat-serverless is an hf-serverless deployment: the engine calls the URL the deployed stack
    # exported for it (here the stand-in, in `pulumi stack output --json` form) with the HF token.
    monkeypatch.setenv("HF_TOKEN", "test-hub-token")
    outputs = tmp_path / "outputs.json"
    with StandIn("candidate", reply=lambda body: Reply("Paris")) as candidate:
        outputs.write_text(json.dumps({"environment": "dev", "chat-serverless": {"openaiBaseUrl": candidate.url,
                                                                                 "apiKey": "[secret]"}}))
        result = promote(environment(tmp_path), suite(tmp_path, cases=4), {"chat-endpoint": baseline.url},
                         "--outputs", str(outputs), "--json")
    assert result.exit_code == EXIT_OK, result.output
    assert json.loads(result.stdout)["candidate"]["passRate"] == 1.0
    assert candidate.requests == 4
    assert set(candidate.authorization) == {"Bearer test-hub-token"}


def test_a_candidate_that_redirects_the_engine_elsewhere_gets_nothing_sent_there(
        tmp_path: Path, baseline: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real engine, started by promote with the HF token for the candidate: the candidate's 307 to
    another port is refused inside the engine (scalepath_hooks), so the other server sees no request,
    no prompt, no token; the cases fail and the gate refuses."""
    monkeypatch.setenv("HF_TOKEN", "test-hub-token")
    outputs = tmp_path / "outputs.json"
    with RawServer(answer("200 OK", "application/json", b"{}")) as attacker, \
            RawServer(redirect("307 Temporary Redirect", lambda path: f"http://127.0.0.1:{attacker.port}{path}")) \
            as candidate:
        outputs.write_text(json.dumps({"chat-serverless": {"openaiBaseUrl": candidate.url}}))
        result = promote(environment(tmp_path), suite(tmp_path, cases=2), {"chat-endpoint": baseline.url},
                         "--outputs", str(outputs), "--json")
    assert candidate.requests == 2 and attacker.requests == 0, attacker.heads
    assert result.exit_code == EXIT_VIOLATIONS, result.output
    assert json.loads(result.stdout)["candidate"]["errorRate"] == 1.0


def test_outputs_that_lack_what_the_engine_needs_exit_2(tmp_path: Path, baseline: StandIn,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "test-hub-token")
    monkeypatch.delenv("SCALEPATH_CHAT_SERVERLESS_API_BASE", raising=False)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"chat-serverless": {"model": "x"}}))
    result = promote(environment(tmp_path), suite(tmp_path), {"chat-endpoint": baseline.url},
                     "--outputs", str(outputs))
    assert result.exit_code == EXIT_CONFIG and "--outputs" in result.output and "openaiBaseUrl" in result.output


def test_the_promote_workflow_calls_the_command_with_flags_it_has() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "promote.yml").read_text())
    steps = workflow["jobs"]["promote"]["steps"]
    script = next(step["run"] for step in steps if "scalepath promote" in step.get("run", ""))
    call = script[script.index("scalepath promote"):].split(">")[0]
    used = set(re.findall(r"(--[a-z-]+)", call))
    command = typer.main.get_command(app).commands["promote"]
    known = {opt for param in command.params for opt in param.opts}
    assert used and used <= known, used - known
    assert {"--write", "--outputs", "--suite", "--to", "--route", "--stack", "--step"} <= used
    # `on: workflow_dispatch` parses as the key True in YAML 1.1.
    assert set(workflow[True]["workflow_dispatch"]["inputs"]) >= {"stack", "route", "candidate", "step"}


HF_TOKEN_SHAPED = "hf_" + "Q7" * 16
BACKEND_KEY = "local-backend-key-not-token-shaped"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_the_report_never_prints_a_token_from_the_suite_or_the_backend_key_a_candidate_echoes(
        tmp_path: Path, baseline: StandIn, monkeypatch: pytest.MonkeyPatch, as_json: bool) -> None:
    monkeypatch.setenv("SCALEPATH_BACKEND_KEY", BACKEND_KEY)
    cases = tmp_path / "suite.jsonl"
    user = [{"role": "user", "content": "q"}]
    cases.write_text("\n".join(json.dumps(c) for c in [
        {"id": f"case-{HF_TOKEN_SHAPED}", "messages": user,
         "expect": {"equals": f"{HF_TOKEN_SHAPED} {HF_TOKEN_SHAPED}"}},
        {"id": "schema", "messages": user, "expect": {"jsonSchema": {"type": "object"}}},
    ]) + "\n")

    def echo(body: dict) -> Reply:  # a candidate that answers with what it was sent, key included
        return Reply(json.dumps(f"Authorization: Bearer {BACKEND_KEY} {HF_TOKEN_SHAPED}"))

    with StandIn("candidate", reply=echo) as candidate:
        result = promote(environment(tmp_path), cases, {"chat-endpoint": baseline.url,
                                                        "chat-serverless": candidate.url},
                         *(["--json"] if as_json else []))
    assert result.exit_code == EXIT_VIOLATIONS, result.output
    assert "[redacted]" in result.output
    assert HF_TOKEN_SHAPED not in result.output and BACKEND_KEY not in result.output
    assert candidate.authorization[0] == f"Bearer {BACKEND_KEY}"  # the key did go where it belongs


def test_a_promotion_the_stack_parser_would_refuse_is_stopped_before_the_run(tmp_path: Path,
                                                                             baseline: StandIn) -> None:
    # The candidate is the route's fallback: taking all the weight, every weighted target would be
    # a fallback too (a failed request retried on the deployment that just failed): invalid config.
    env = environment(tmp_path)
    env.write_text(env.read_text().replace("        gate:", "        fallbacks: [chat-serverless]\n        gate:"))
    before = env.read_bytes()
    with StandIn("candidate", reply=lambda body: Reply("Paris")) as candidate:
        result = promote(env, suite(tmp_path), {"chat-endpoint": baseline.url, "chat-serverless": candidate.url},
                         "--write", "--step", "100")
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "would not be a valid stack config" in result.output and "is also a fallback" in result.output
    assert candidate.requests == 0 and env.read_bytes() == before


def test_an_edit_made_while_the_suite_runs_is_kept_and_nothing_is_written(tmp_path: Path,
                                                                         baseline: StandIn) -> None:
    env = environment(tmp_path)
    edited = env.read_text().replace("# what clients ask for", "# edited by a colleague meanwhile")

    def answer_and_edit(body: dict) -> Reply:
        env.write_text(edited)
        return Reply("Paris")

    with StandIn("candidate", reply=answer_and_edit) as candidate:
        result = promote(env, suite(tmp_path), {"chat-endpoint": baseline.url, "chat-serverless": candidate.url},
                         "--write")
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "changed while the suite ran" in result.output
    assert env.read_text() == edited


def test_a_full_disk_on_write_says_what_happened_and_keeps_the_file(tmp_path: Path, baseline: StandIn,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(tmp_path)
    before = env.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("components.files.os.fsync", full)
    with StandIn("candidate", reply=lambda body: Reply("Paris")) as candidate:
        result = promote(env, suite(tmp_path), {"chat-endpoint": baseline.url, "chat-serverless": candidate.url},
                         "--write")
    assert result.exit_code == EXIT_CONFIG, result.output
    said = " ".join(result.output.split())
    assert f"cannot write the new weights to {env}: No space left on device; the file is unchanged" in said
    assert env.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.dev.yaml",
                                                                                         "suite.jsonl"]


# --- Signals, crashes and leftovers: promote in a process of its own -----------------------------

def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _start_promote(tmp_path: Path, backends: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], Path]:
    """``scalepath promote`` as a program, with a private $TMPDIR (returned) to find leftovers in."""
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    boot = DIE_WITH_PARENT + "sys.argv = sys.argv[1:]\nfrom scalepath.cli import app\napp()\n"
    args = [sys.executable, "-c", boot, str(os.getpid()), "promote", "--stack", "dev", "--config",
            str(environment(tmp_path)), "--route", "chat", "--to", "chat-serverless", "--suite",
            str(suite(tmp_path, cases=2)), "--timeout", "300", *extra]
    for name, url in backends.items():
        args += ["--backend", f"{name}={url}"]
    env = {**os.environ, "TMPDIR": str(scratch), "HF_TOKEN": "test-hub-token", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    return process, scratch


def _wait_for_request(server: StandIn, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while server.requests == 0:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "promote sent no request"
        time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_a_stalled_request_exits_130_or_143(tmp_path: Path, baseline: StandIn,
                                                                sig: signal.Signals) -> None:
    with StandIn("candidate", mode="stall", stall_seconds=600) as candidate:
        process, _ = _start_promote(tmp_path, {"chat-endpoint": baseline.url, "chat-serverless": candidate.url})
        try:
            _wait_for_request(candidate, process)
            process.send_signal(sig)
            _, stderr = process.communicate(timeout=SHUTDOWN_SECONDS)
        finally:
            process.kill()
    assert process.returncode == 128 + sig, stderr
    assert f"interrupted by {sig.name}; nothing was written" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_promote_leaves_no_engine_and_no_file(tmp_path: Path, baseline: StandIn,
                                                       sig: signal.Signals) -> None:
    outputs = tmp_path / "outputs.json"
    with StandIn("candidate", mode="stall", stall_seconds=600) as candidate:
        outputs.write_text(json.dumps({"chat-serverless": {"openaiBaseUrl": candidate.url}}))
        process, scratch = _start_promote(tmp_path, {"chat-endpoint": baseline.url}, "--outputs", str(outputs))
        engines: list[int] = []
        try:
            _wait_for_request(candidate, process)  # through the engine: it is up and serving
            engines = _children(process.pid)
            assert engines
            process.send_signal(sig)
            process.communicate(timeout=SHUTDOWN_SECONDS)
            deadline = time.monotonic() + SHUTDOWN_SECONDS
            while any(alive(pid) for pid in engines) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.kill()
            for pid in engines:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
    assert process.returncode == (143 if sig is signal.SIGTERM else -signal.SIGKILL)
    assert not any(alive(pid) for pid in engines)
    assert list(scratch.iterdir()) == []  # no engine config, no engine log


def test_a_crash_is_exit_70_with_a_short_message_never_a_verdict(tmp_path: Path, baseline: StandIn,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("scalepath.promote.command.evaluate", bug)
    env = environment(tmp_path)
    before = env.read_bytes()
    with StandIn("candidate", reply=lambda body: Reply("Paris")) as candidate:
        result = promote(env, suite(tmp_path), {"chat-endpoint": baseline.url, "chat-serverless": candidate.url},
                         "--write")
    assert result.exit_code == EXIT_CRASH == 70, result.output
    assert "internal error, nothing was written (ZeroDivisionError: division by zero)" in " ".join(
        result.output.split())
    assert isinstance(result.exception, SystemExit) and env.read_bytes() == before


@pytest.mark.parametrize(("outputs", "says"), [
    ("[" * 5000 + "]" * 5000, "nested too deeply to be stack outputs"),
    (json.dumps({"chat-serverless": {"openaiBaseUrl": ["http://x"]}}), "$SCALEPATH_CHAT_SERVERLESS_API_BASE (list)"),
], ids=["deep", "not-text"])
def test_unusable_outputs_exit_2_naming_the_flag(tmp_path: Path, baseline: StandIn, monkeypatch: pytest.MonkeyPatch,
                                                 outputs: str, says: str) -> None:
    monkeypatch.setenv("HF_TOKEN", "test-hub-token")
    monkeypatch.delenv("SCALEPATH_CHAT_SERVERLESS_API_BASE", raising=False)
    path = tmp_path / "outputs.json"
    path.write_text(outputs)
    result = promote(environment(tmp_path), suite(tmp_path), {"chat-endpoint": baseline.url}, "--outputs", str(path))
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "--outputs" in result.output and says in " ".join(result.output.split())
