"""The gateway's metrics, written once for every runtime: the engine's series, how a scrape keeps
them, the alerts (PromQL text and thresholds) and the dashboard panels. Each runtime renders these
in its own platform's form (``meter_aws.py``, ``meter_gcp.py``, ``meter_azure.py``, and the
Kubernetes objects below).

The engine (LiteLLM's proxy) serves its metrics on ``/metrics/`` behind the client key
(docs/gateway.md, "The gateway as the meter"). Its ``requested_model`` label is the route, or
``<route>@<deployment>`` for a fallback; every scrape keeps only :data:`EXPORTED`, folds
``requested_model`` into a ``route`` label, drops the per-caller labels and stamps
:data:`SCOPE_LABEL` with the gateway's physical name (unique per project and stack), so the alerts
of one stack never read another's series in a shared project or workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.gateway.args import CALLER_LABELS, MeterArgs

SCRAPE_SECONDS = 60
#: The engine's series (docs/gateway.md lists what each counts).
REQUESTS = "litellm_proxy_total_requests_metric_total"
FAILURES = "litellm_proxy_failed_requests_metric_total"
FALLBACKS = "litellm_deployment_successful_fallbacks_total"
LATENCY = "litellm_request_total_latency_metric"
#: Streamed requests only: seconds from the backend call to its first chunk.
FIRST_TOKEN = "litellm_llm_api_time_to_first_token_metric"
INPUT_TOKENS, OUTPUT_TOKENS = "litellm_input_tokens_metric_total", "litellm_output_tokens_metric_total"
SPEND = "litellm_spend_metric_total"
EXPORTED = (REQUESTS, FAILURES, FALLBACKS, LATENCY, FIRST_TOKEN, INPUT_TOKENS, OUTPUT_TOKENS, SPEND)
#: The label naming an engine entry, ``<route>/<deployment>`` (a fallback: ``<route>@<deployment>``):
#: the target a request went to.
TARGET_LABEL = "model_id"
DAYS_PER_MONTH = 30
#: Label every scrape adds: the gateway's physical name.
SCOPE_LABEL = "scalepath_gateway"
#: An alert fires once its condition has held this long (three 5-minute windows on CloudWatch).
FOR_SECONDS = 600
RULE_GROUP = "scalepath-gateway"


def relabel_rules(gateway: str, dollar: str = "$") -> list[dict[str, Any]]:
    """Prometheus ``metric_relabel_configs`` (snake_case) every scrape of the engine applies.

    ``dollar`` is how the consumer spells a literal ``$``: ``$$`` in OpenTelemetry Collector
    configs, which expand ``${env:...}`` themselves."""
    return [
        {"source_labels": ["__name__"], "regex": "|".join(f"{n}(_bucket|_count|_sum)?" for n in EXPORTED),
         "action": "keep"},
        # The engine's own `route` label is the HTTP path: keep it as `http_route`, then make
        # `route` the gateway route (series must stay distinct, or the scrape rejects them).
        {"source_labels": ["route"], "target_label": "http_route"},
        {"regex": "route", "action": "labeldrop"},
        {"source_labels": ["requested_model"], "regex": "([^@]+)(@.*)?", "target_label": "route",
         "replacement": f"{dollar}1"},
        {"regex": "|".join(CALLER_LABELS), "action": "labeldrop"},
        {"target_label": SCOPE_LABEL, "replacement": gateway},
    ]


def camel_case(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same rules as Kubernetes custom resources spell them (``sourceLabels``, ``targetLabel``)."""
    def camel(key: str) -> str:
        head, *rest = key.split("_")
        return head + "".join(part.title() for part in rest)
    return [{camel(k): v for k, v in rule.items()} for rule in rules]


def scrape_config(job: str, target: str, authorization: dict[str, str], gateway: str,
                  dollar: str = "$") -> dict[str, Any]:
    """One Prometheus scrape job of the engine at ``target`` (``host:port``)."""
    return {"job_name": job, "scrape_interval": f"{SCRAPE_SECONDS}s", "metrics_path": "/metrics/",
            "authorization": authorization, "static_configs": [{"targets": [target]}],
            "metric_relabel_configs": relabel_rules(gateway, dollar)}


@dataclass(frozen=True)
class Alert:
    """One alert of one route: its condition as PromQL over the scraped series, and its bound."""

    name: str
    """Alert name (``GatewayRouteErrorRateHigh``...)."""
    kind: str
    """``p95-latency``, ``errors``, ``fallbacks`` or ``spend``: what a platform without PromQL
    (CloudWatch) renders it from."""
    route: str
    threshold: float
    query: str
    """PromQL whose value is compared with ``threshold``."""
    summary: str

    @property
    def expr(self) -> str:
        """The alerting expression: the query above the threshold."""
        return f"{self.query} > {self.threshold:.6g}"


def _matcher(gateway: str, route: str, fallbacks_too: bool = True) -> str:
    """PromQL matchers for one route's series (its fallback groups ``<route>@...`` too)."""
    scope = f'{SCOPE_LABEL}="{gateway}"'
    if not fallbacks_too:
        return f'{scope},requested_model="{route}"'
    name = route.replace(".", "\\\\.")  # route names are [A-Za-z0-9._-]: only '.' is special
    return f'{scope},requested_model=~"{name}(@.*)?"'


def daily_budget(meter: MeterArgs) -> float:
    """Spend in one day that is on pace to use the whole monthly budget."""
    return meter.monthly_budget_usd / DAYS_PER_MONTH


def route_alerts(meter: MeterArgs, gateway: str) -> list[Alert]:
    """Per route: p95 latency (the engine's histogram), error rate, fallback rate, and spend in one
    day on pace to pass the stack's monthly budget. The one source of every runtime's alerts."""
    alerts = []
    daily = daily_budget(meter)
    for r in meter.routes:
        every, primary = _matcher(gateway, r.route), _matcher(gateway, r.route, False)
        total = f"sum(rate({REQUESTS}{{{every}}}[5m]))"
        alerts += [
            Alert("GatewayRouteP95LatencyHigh", "p95-latency", r.route, r.p95_latency_seconds,
                  f"histogram_quantile(0.95, sum by (le) (rate({LATENCY}_bucket{{{every}}}[5m])))",
                  f"p95 latency above {r.p95_latency_seconds:g}s"),
            Alert("GatewayRouteErrorRateHigh", "errors", r.route, r.max_error_rate,
                  f"sum(rate({FAILURES}{{{every}}}[5m])) / {total}", f"error rate above {r.max_error_rate:.1%}"),
            Alert("GatewayRouteFallbackRateHigh", "fallbacks", r.route, r.max_fallback_rate,
                  f"sum(rate({FALLBACKS}{{{primary}}}[5m])) / {total}",
                  f"fallback rate above {r.max_fallback_rate:.1%}"),
            Alert("GatewayRouteSpendOnPace", "spend", r.route, daily,
                  f"sum(increase({SPEND}{{{every}}}[1d]))",
                  f"spend in one day above ${daily:.2f}, the pace of the stack's whole monthly budget "
                  f"(${meter.monthly_budget_usd:g}) on this route alone"),
        ]
    return alerts


def panels(meter: MeterArgs, gateway: str) -> list[tuple[str, str]]:
    """The dashboard, as (title, PromQL) per panel: per route requests, error rate, fallbacks,
    latency p50/p95/p99, time to first token, output tokens per second (all answers together, and
    per second of answer time), spend; per target latency p95 and requests."""
    scope = f'{SCOPE_LABEL}="{gateway}"'

    def by_route(query: str) -> str:
        return f"sum by (route) ({query})"

    def quantile(q: int, metric: str, by: str) -> str:
        return f"histogram_quantile(0.{q}, sum by ({by}, le) (rate({metric}_bucket{{{scope}}}[5m])))"

    return [
        ("Requests per second, per route", by_route(f"rate({REQUESTS}{{{scope}}}[5m])")),
        ("Error rate, per route", f"{by_route(f'rate({FAILURES}{{{scope}}}[5m])')} / "
                                  f"{by_route(f'rate({REQUESTS}{{{scope}}}[5m])')}"),
        ("Fallbacks taken per second, per route", by_route(f"rate({FALLBACKS}{{{scope}}}[5m])")),
        *((f"Latency p{q}, per route (s)", quantile(q, LATENCY, "route")) for q in (50, 95, 99)),
        ("Time to first token p95, per route (s, streams)", quantile(95, FIRST_TOKEN, "route")),
        ("Output tokens per second, per route", by_route(f"rate({OUTPUT_TOKENS}{{{scope}}}[5m])")),
        ("Output tokens per second of answer time, per route",
         f"{by_route(f'rate({OUTPUT_TOKENS}{{{scope}}}[5m])')} / {by_route(f'rate({LATENCY}_sum{{{scope}}}[5m])')}"),
        ("Spend per day, per route (USD)", by_route(f"increase({SPEND}{{{scope}}}[1d])")),
        ("Requests per second, per target", f"sum by ({TARGET_LABEL}) (rate({REQUESTS}{{{scope}}}[5m]))"),
        ("Latency p95, per target (s)", quantile(95, LATENCY, TARGET_LABEL)),
    ]


def prometheus_alert_rules(meter: MeterArgs, gateway: str) -> list[dict[str, Any]]:
    """:func:`route_alerts` as Prometheus alerting rules, labelled with the route and the gateway
    (Alertmanager routes on it); ``notify`` names the budget's addresses."""
    return [{"alert": a.name, "expr": a.expr, "for": f"{FOR_SECONDS // 60}m",
             "labels": {"severity": "warning", "route": a.route, SCOPE_LABEL: gateway},
             "annotations": {"summary": f"gateway route {a.route}: {a.summary}", "notify": ", ".join(meter.notify)}}
            for a in route_alerts(meter, gateway)]
