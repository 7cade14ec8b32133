"""The dashboards: the seed's System Overview, Application Performance, Error Monitoring and Business
Metrics, plus External APIs & GenAI, each ending with the panels of the alert rules it explains."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from otel_secretary.dashboards import _queries as m
from otel_secretary.dashboards._alerts import signal_panels
from otel_secretary.dashboards._grafana import Dashboard, Panel, Query, Row, Variable
from otel_secretary.dashboards._thresholds import RuleLines
from otel_secretary.rules.spec import RuleSpec

SERVICE = Variable("service", "Service", "label_values(service_name)")
TENANT = Variable("tenant", "Tenant", f"label_values({m.GENAI_COST.names[0]}, {m.TENANT})")

# Health counters no rule watches: red as soon as one happens at all (rates are never exactly zero after).
ANY_NONZERO = ((0.0001, "red"),)
HTTP_5XX = (m.STATUS, "=~", "5..")
ROUTE_BY = (m.METHOD, m.ROUTE)


def _http_error_ratio(by: Sequence[str]) -> str:
    return m.ratio(m.sdk_rate(m.HTTP_SERVER, by, [HTTP_5XX]), m.sdk_rate(m.HTTP_SERVER, by))


def _top_errors() -> str:
    increase = f"increase({m.APP_ERRORS.series()}[$__range])"
    return f"topk(10, {m.sum_by((m.ERROR_TYPE, m.CATEGORY), m.of_service(increase))})"


def _alert_row(specs: Sequence[RuleSpec]) -> tuple[Row, ...]:
    if not specs:
        return ()
    panels = signal_panels(specs)
    return (Row("Alert rules: what they evaluate (threshold = red line)", panels),)


def _overview(specs: Sequence[RuleSpec], lines: RuleLines) -> Dashboard:
    busy = m.sum_by(("job", "instance"), m.CPU.series([("state", "=", "idle")]), op="avg")
    status = Row(
        "Service status",
        (
            Panel(
                "Requests/s",
                (Query(m.sdk_rate(m.HTTP_SERVER, ()), instant=True),),
                "Server requests per second over all routes (http.server.request.duration count).",
                unit="reqps",
                kind="stat",
                width=6,
                height=5,
            ),
            Panel(
                "5xx share",
                (Query(_http_error_ratio(()), instant=True),),
                lines.describe(
                    "http_5xx_share",
                    "Share of requests answered 5xx",
                    "{name} {verb} above {percent} for {for_}",
                ),
                unit="percentunit",
                kind="stat",
                width=6,
                height=5,
                thresholds=lines.thresholds("http_5xx_share", warn=True),
                runbook="error-rate.md",
            ),
            Panel(
                "p95 latency",
                (Query(m.sdk_quantile(0.95, m.HTTP_SERVER, ()), instant=True),),
                lines.describe(
                    "p95_latency",
                    "95th percentile of server request duration",
                    "{name} {verb} above {value}s",
                ),
                unit="s",
                kind="stat",
                width=6,
                height=5,
                thresholds=lines.thresholds("p95_latency", warn=True),
                runbook="latency.md",
            ),
            Panel(
                "Scrape targets up",
                (Query("min by (job) (up)", m.legend("job"), instant=True),),
                "1 = Prometheus scraped the target on its last attempt (app, Collector, Jaeger ...).",
                kind="stat",
                width=6,
                height=5,
                thresholds=((1, "green"),),
                base_colour="red",
            ),
        ),
    )
    traffic = Row(
        "Traffic",
        (
            Panel(
                "Requests/s by route",
                (Query(m.sdk_rate(m.HTTP_SERVER, ROUTE_BY), m.legend(*ROUTE_BY)),),
                "Flask server requests per second, by method and route template.",
                unit="reqps",
                stacked=True,
            ),
            Panel(
                "p95 latency by route",
                (Query(m.sdk_quantile(0.95, m.HTTP_SERVER, ROUTE_BY), m.legend(*ROUTE_BY)),),
                "95th percentile request duration by route.",
                unit="s",
                thresholds=lines.thresholds("p95_latency_by_route"),
                runbook="latency.md",
            ),
        ),
    )
    host = Row(
        "Host resources",
        (
            Panel(
                "CPU busy",
                (Query(f"1 - {busy}", m.legend("job", "instance")),),
                "1 - idle share, averaged over CPUs (system-metrics instrumentation or hostmetrics).",
                unit="percentunit",
                thresholds=lines.thresholds("cpu_busy"),
                runbook="high-cpu.md",
                minimum=0,
                maximum=1,
                width=6,
            ),
            Panel(
                "Memory used",
                (
                    Query(
                        m.sum_by(("job", "instance"), m.MEMORY.series([("state", "=", "used")]), op="max"),
                        m.legend("job", "instance"),
                    ),
                ),
                "Share of memory in state 'used'.",
                unit="percentunit",
                thresholds=lines.thresholds("memory_used"),
                runbook="memory.md",
                minimum=0,
                maximum=1,
                width=6,
            ),
            Panel(
                "Filesystem used",
                (
                    Query(
                        m.sum_by(("instance", "device"), m.FILESYSTEM.series(), op="max"), m.legend("device")
                    ),
                ),
                "Filesystem utilization by device (Collector hostmetrics receiver, filesystem scraper).",
                unit="percentunit",
                thresholds=lines.thresholds("filesystem_used"),
                runbook="disk-and-system.md",
                minimum=0,
                maximum=1,
                width=6,
            ),
            Panel(
                "Load average",
                tuple(
                    Query(
                        m.sum_by(("instance",), metric.series(), op="max"),
                        m.legend("instance", suffix=window),
                    )
                    for window, metric in m.LOAD.items()
                ),
                "1/5/15-minute load average (Collector hostmetrics receiver, load scraper).",
                thresholds=lines.thresholds("load_average"),
                runbook="disk-and-system.md",
                width=6,
            ),
        ),
    )
    database = Row(
        "Database pool",
        (
            Panel(
                "DB connections by state",
                (
                    Query(
                        m.sum_by(("pool_name", "state"), m.of_service(m.DB_CONNECTIONS.series())),
                        m.legend("pool_name", "state"),
                    ),
                ),
                lines.describe(
                    "db_connections",
                    "SQLAlchemy pool connections (db.client.connections.usage)",
                    "the pool alert is at {value} used",
                ),
                thresholds=lines.thresholds("db_connections"),
                runbook="database.md",
                width=24,
            ),
        ),
    )
    health = Row(
        "Telemetry health",
        (
            Panel(
                "PII redactions/s by kind and signal",
                (
                    Query(
                        m.sdk_rate(m.PII_REDACTIONS, ("kind", "signal")),
                        m.legend("kind", "signal"),
                    ),
                ),
                "Values our masker replaced before export; a jump means new code is logging personal data.",
                stacked=True,
                width=6,
            ),
            Panel(
                "PII masking failures/s",
                (Query(m.sdk_rate(m.PII_FAILURES, ("signal",)), m.legend("signal")),),
                "Values dropped because masking raised (fail-closed); should stay at zero.",
                thresholds=ANY_NONZERO,
                width=6,
            ),
            Panel(
                "otel-secretary internal errors/s",
                (
                    Query(
                        m.sdk_rate(m.INTERNAL_ERRORS, (m.INTERNAL_WHERE, m.ERROR_TYPE)),
                        m.legend(m.INTERNAL_WHERE, m.ERROR_TYPE),
                    ),
                ),
                "Exceptions swallowed inside the distro to protect the app; each is logged once per place.",
                thresholds=ANY_NONZERO,
                width=6,
            ),
            Panel(
                "Metrics over a cardinality limit",
                (Query(m.overflow_series(), m.legend("job", "__name__")),),
                "Metrics whose new attribute sets land in one otel_metric_overflow series (docs/stack.md):"
                " other panels and every rule leave it out, so find the unbounded attribute.",
                thresholds=ANY_NONZERO,
                width=6,
            ),
        ),
    )
    return Dashboard(
        uid="otel-secretary-overview",
        title="AI Secretary / System Overview",
        description="Requests, latency and errors at a glance; host resources, DB pool, telemetry health.",
        rows=(status, traffic, host, database, health, *_alert_row(specs)),
        variables=(SERVICE,),
        tags=("overview",),
    )


def _performance(specs: Sequence[RuleSpec], lines: RuleLines) -> Dashboard:
    span_by = ("span_kind", "span_name")
    http = Row(
        "HTTP routes (SDK metric http.server.request.duration)",
        (
            Panel(
                "Requests/s by route",
                (Query(m.sdk_rate(m.HTTP_SERVER, ROUTE_BY), m.legend(*ROUTE_BY)),),
                "Server requests per second by method and route template.",
                unit="reqps",
                stacked=True,
                width=8,
            ),
            Panel(
                "5xx share by route",
                (Query(_http_error_ratio(ROUTE_BY), m.legend(*ROUTE_BY)),),
                "Share of each route's requests answered with a 5xx status.",
                unit="percentunit",
                thresholds=lines.thresholds("http_5xx_share_by_route"),
                runbook="error-rate.md",
                minimum=0,
                width=8,
            ),
            Panel(
                "Latency p50 / p95 / p99 (all routes)",
                tuple(
                    Query(m.sdk_quantile(q, m.HTTP_SERVER, ()), f"p{round(q * 100)}")
                    for q in (0.5, 0.95, 0.99)
                ),
                "Request duration percentiles over every route.",
                unit="s",
                thresholds=lines.thresholds("latency_quantiles"),
                runbook="latency.md",
                width=8,
            ),
            *(
                Panel(
                    f"p{round(q * 100)} latency by route",
                    (Query(m.sdk_quantile(q, m.HTTP_SERVER, ROUTE_BY), m.legend(*ROUTE_BY)),),
                    f"{round(q * 100)}th percentile request duration by route.",
                    unit="s",
                    runbook="latency.md",
                    width=8,
                )
                for q in (0.5, 0.95, 0.99)
            ),
        ),
    )
    spans = Row(
        "Spans (Collector spanmetrics connector)",
        (
            Panel(
                "Span calls/s by name",
                (Query(m.span_calls(span_by, m.span_pairs()), m.legend(*span_by)),),
                "Every span kind: server routes, outbound clients, Celery consumers, database calls.",
                unit="ops",
                width=8,
            ),
            Panel(
                "Span error share by name",
                (
                    Query(
                        m.ratio(
                            m.span_calls(span_by, m.span_pairs(), errors=True),
                            m.span_calls(span_by, m.span_pairs()),
                        ),
                        m.legend(*span_by),
                    ),
                ),
                "Share of spans with status ERROR.",
                unit="percentunit",
                runbook="error-rate.md",
                minimum=0,
                width=8,
            ),
            Panel(
                "Span p95 duration by name",
                (Query(m.span_quantile(0.95, span_by, m.span_pairs()), m.legend(*span_by)),),
                "95th percentile span duration (histogram in s or ms, both read as seconds).",
                unit="s",
                runbook="latency.md",
                width=8,
            ),
        ),
    )
    celery = Row(
        "Celery workers",
        (
            Panel(
                "Queue length",
                (
                    Query(
                        m.sum_by((m.QUEUE,), m.of_service(m.CELERY_QUEUE.series()), op="max"),
                        m.legend(m.QUEUE),
                    ),
                ),
                "Messages waiting in the broker (messaging.celery.queue.length).",
                width=8,
            ),
            Panel(
                "Tasks/s by name (consumer spans)",
                (Query(m.span_calls(("span_name",), m.span_pairs("consumer")), m.legend("span_name")),),
                "Celery task executions per second.",
                unit="ops",
                width=8,
            ),
            Panel(
                "Task p95 duration",
                (
                    Query(
                        m.span_quantile(0.95, ("span_name",), m.span_pairs("consumer")), m.legend("span_name")
                    ),
                ),
                "95th percentile task duration.",
                unit="s",
                width=8,
            ),
        ),
    )
    return Dashboard(
        uid="otel-secretary-performance",
        title="AI Secretary / Application Performance",
        description="Request rate, error share and latency percentiles by route and span; Celery throughput.",
        rows=(http, spans, celery, *_alert_row(specs)),
        variables=(SERVICE,),
        tags=("performance",),
    )


def _errors(specs: Sequence[RuleSpec], lines: RuleLines) -> Dashboard:
    app = Row(
        "Application errors (app.errors)",
        (
            Panel(
                "Errors/s by category",
                (Query(m.sdk_rate(m.APP_ERRORS, (m.CATEGORY,)), m.legend(m.CATEGORY)),),
                "Exceptions recorded by the error tracker, by category (database, external_api, auth ...).",
                stacked=True,
                runbook="error-rate.md",
                width=8,
            ),
            Panel(
                "Errors/s by severity",
                (Query(m.sdk_rate(m.APP_ERRORS, (m.SEVERITY,)), m.legend(m.SEVERITY)),),
                lines.fill(
                    "critical_errors",
                    "Critical errors {severity} ({name}); high/medium/low are for triage.",
                    "Errors by severity: critical, high, medium, low.",
                ),
                stacked=True,
                runbook="error-rate.md",
                width=8,
            ),
            Panel(
                "Errors/s by external system",
                (
                    Query(
                        m.sdk_rate(m.APP_ERRORS, (m.ERROR_SYSTEM,), [(m.ERROR_SYSTEM, "!=", "")]),
                        m.legend(m.ERROR_SYSTEM),
                    ),
                ),
                "Errors raised by calls to OpenAI, Stripe, Google Calendar ...",
                stacked=True,
                runbook="external-api-failures.md",
                width=8,
            ),
            Panel(
                "Top 10 error types (time range)",
                (
                    Query(
                        _top_errors(),
                        m.legend(m.ERROR_TYPE, m.CATEGORY),
                        instant=True,
                    ),
                ),
                "Most frequent exception types over the selected time range.",
                kind="bargauge",
                width=12,
                height=10,
            ),
            Panel(
                "Critical errors by category (time range)",
                (
                    Query(
                        m.sum_by(
                            (m.CATEGORY,),
                            m.of_service(
                                f"increase({m.APP_ERRORS.series([(m.SEVERITY, '=', 'critical')])}[$__range])"
                            ),
                        ),
                        m.legend(m.CATEGORY),
                        instant=True,
                    ),
                ),
                lines.describe(
                    "critical_errors",
                    "Critical errors in the selected range",
                    "{more_than} in {window} {verb} ({name})",
                ),
                kind="bargauge",
                thresholds=lines.thresholds("critical_errors"),
                runbook="error-rate.md",
                width=12,
                height=10,
            ),
        ),
    )
    http = Row(
        "HTTP and span errors",
        (
            Panel(
                "4xx/5xx responses/s by route and status",
                (
                    Query(
                        m.sdk_rate(m.HTTP_SERVER, (m.ROUTE, m.STATUS), [(m.STATUS, "=~", "[45]..")]),
                        m.legend(m.ROUTE, m.STATUS),
                    ),
                ),
                "Failed requests per second by route template and status code.",
                unit="reqps",
                stacked=True,
                runbook="error-rate.md",
                width=12,
            ),
            Panel(
                "Error spans/s by name",
                (
                    Query(
                        m.span_calls(("span_kind", "span_name"), m.span_pairs(), errors=True),
                        m.legend("span_kind", "span_name"),
                    ),
                ),
                "Spans with status ERROR per second (Collector spanmetrics), every span kind.",
                unit="ops",
                stacked=True,
                width=12,
            ),
        ),
    )
    return Dashboard(
        uid="otel-secretary-errors",
        title="AI Secretary / Error Monitoring",
        description="Error trends by category, severity and type; failing routes and spans.",
        rows=(app, http, *_alert_row(specs)),
        variables=(SERVICE,),
        tags=("errors",),
    )


def _external(specs: Sequence[RuleSpec], lines: RuleLines) -> Dashboard:
    genai_by = (m.OPERATION, m.MODEL)
    call_by = (m.EXTERNAL_SYSTEM, m.EXTERNAL_OPERATION)
    genai = Row(
        "OpenAI / GenAI (gen_ai.client.* semantic-convention metrics)",
        (
            Panel(
                "GenAI calls/s by operation and model",
                (Query(m.sdk_rate(m.GENAI_DURATION, genai_by), m.legend(*genai_by)),),
                "Chat, embeddings and responses calls per second.",
                unit="ops",
                stacked=True,
                width=8,
            ),
            Panel(
                "GenAI error share by model",
                (
                    Query(
                        m.ratio(
                            m.sdk_rate(m.GENAI_DURATION, (m.MODEL,), [(m.ERROR_TYPE, "=~", ".+")]),
                            m.sdk_rate(m.GENAI_DURATION, (m.MODEL,)),
                        ),
                        m.legend(m.MODEL),
                    ),
                ),
                "Share of GenAI calls that ended with an error.type (429s, timeouts, 5xx ...).",
                unit="percentunit",
                runbook="external-api-failures.md",
                minimum=0,
                width=8,
            ),
            Panel(
                "GenAI latency p50 / p95 by model",
                tuple(
                    Query(
                        m.sdk_quantile(q, m.GENAI_DURATION, (m.MODEL,)),
                        m.legend(m.MODEL, suffix=f"p{round(q * 100)}"),
                    )
                    for q in (0.5, 0.95)
                ),
                "gen_ai.client.operation.duration percentiles (time to the last token for streams).",
                unit="s",
                runbook="latency.md",
                width=8,
            ),
            Panel(
                "Tokens/s by model and type",
                (
                    Query(
                        m.sum_by(
                            (m.MODEL, m.TOKEN_TYPE),
                            m.of_service(m.rate(m.GENAI_TOKENS.series(suffix="_sum"))),
                        ),
                        m.legend(m.MODEL, m.TOKEN_TYPE),
                    ),
                ),
                "Input and output tokens per second (sum of gen_ai.client.token.usage).",
                stacked=True,
                width=8,
            ),
            Panel(
                "Rate-limit used share",
                (
                    Query(
                        m.sum_by(
                            (m.PROVIDER, m.RATELIMIT_RESOURCE),
                            m.of_service(m.RATELIMIT_UTILIZATION.series()),
                            op="max",
                        ),
                        m.legend(m.PROVIDER, m.RATELIMIT_RESOURCE),
                    ),
                ),
                "1 - remaining/limit from x-ratelimit-* headers; near 1 means 429s are imminent.",
                unit="percentunit",
                thresholds=lines.thresholds("ratelimit_utilization", warn=True),
                runbook="external-api-failures.md",
                minimum=0,
                maximum=1,
                width=8,
            ),
            Panel(
                "Rate-limit remaining",
                (
                    Query(
                        m.sum_by(
                            (m.PROVIDER, m.RATELIMIT_RESOURCE),
                            m.of_service(m.RATELIMIT_REMAINING.series()),
                            op="min",
                        ),
                        m.legend(m.PROVIDER, m.RATELIMIT_RESOURCE),
                    ),
                ),
                "Requests and tokens left in the provider's current rate-limit window.",
                width=8,
            ),
        ),
    )
    others = Row(
        "Stripe and Google Calendar (logical calls, retries included)",
        (
            Panel(
                "Calls/s by system and operation",
                (Query(m.sdk_rate(m.EXTERNAL_DURATION, call_by), m.legend(*call_by)),),
                "Logical outbound calls per second (otel_secretary.external.duration count).",
                unit="ops",
                stacked=True,
                width=8,
            ),
            Panel(
                "Failed calls/s by system and error.type",
                (
                    Query(
                        m.sdk_rate(m.EXTERNAL_ERRORS, (m.EXTERNAL_SYSTEM, m.ERROR_TYPE)),
                        m.legend(m.EXTERNAL_SYSTEM, m.ERROR_TYPE),
                    ),
                ),
                "Calls that failed after the client's retries.",
                unit="ops",
                stacked=True,
                runbook="external-api-failures.md",
                width=8,
            ),
            Panel(
                "Call p95 duration by system and operation",
                (Query(m.sdk_quantile(0.95, m.EXTERNAL_DURATION, call_by), m.legend(*call_by)),),
                "Includes retries and back-off, so it is what the user waited.",
                unit="s",
                runbook="latency.md",
                width=8,
            ),
            Panel(
                "HTTP attempts/s by server",
                (Query(m.sdk_rate(m.HTTP_CLIENT, (m.SERVER_ADDRESS,)), m.legend(m.SERVER_ADDRESS)),),
                "Physical HTTP attempts; more attempts than calls means the clients are retrying.",
                unit="ops",
                width=12,
            ),
            Panel(
                "Stripe webhooks/s by type and outcome",
                (
                    Query(
                        m.sdk_rate(m.STRIPE_WEBHOOKS, (m.WEBHOOK_TYPE, "outcome")),
                        m.legend(m.WEBHOOK_TYPE, "outcome"),
                    ),
                ),
                "Webhook deliveries; outcome invalid_signature points at a wrong signing secret.",
                unit="ops",
                stacked=True,
                runbook="external-api-failures.md",
                width=12,
            ),
        ),
    )
    return Dashboard(
        uid="otel-secretary-external",
        title="AI Secretary / External APIs and GenAI",
        description="OpenAI calls, tokens, latency, rate-limit headroom; Stripe and Google Calendar calls.",
        rows=(genai, others, *_alert_row(specs)),
        variables=(SERVICE,),
        tags=("external", "genai"),
    )


def _business(specs: Sequence[RuleSpec], lines: RuleLines) -> Dashboard:
    tenant = [(m.TENANT, "=~", m.TENANT_VAR)]
    cost_hour = f"increase({m.GENAI_COST.series(tenant)}[1h])"
    cost_day = f"increase({m.GENAI_COST.series(tenant)}[1d])"
    work = Row(
        "Messages and subscriptions",
        (
            Panel(
                "Messages processed per minute by outcome",
                (Query(f"60 * {m.sdk_rate(m.MESSAGES_PROCESSED, ('outcome',))}", m.legend("outcome")),),
                "Inbound messages the Celery worker summarised, failed or could not find.",
                stacked=True,
                width=8,
            ),
            Panel(
                "Failed share of processed messages",
                (
                    Query(
                        m.ratio(
                            m.sdk_rate(m.MESSAGES_PROCESSED, (), [("outcome", "!=", "summarised")]),
                            m.sdk_rate(m.MESSAGES_PROCESSED, ()),
                        )
                    ),
                ),
                "Share of inbound messages not summarised.",
                unit="percentunit",
                runbook="error-rate.md",
                minimum=0,
                width=8,
            ),
            Panel(
                "Subscriptions started per hour",
                (Query(m.sum_by((), m.of_service(f"increase({m.SUBSCRIPTIONS.series()}[1h])")), "started"),),
                "Stripe subscriptions started (trial conversions in the seed's terms).",
                width=8,
            ),
        ),
    )
    ai = Row(
        "AI cost (tenant-specific: pick tenants above)",
        (
            Panel(
                "AI cost per hour by tenant (USD)",
                (Query(m.sum_by((m.TENANT,), m.of_service(cost_hour)), m.legend(m.TENANT)),),
                "Estimated GenAI spend from token usage and the price book, per pseudonymous tenant id.",
                unit="currencyUSD",
                stacked=True,
                width=12,
            ),
            Panel(
                "AI cost per hour by model (USD)",
                (Query(m.sum_by((m.MODEL,), m.of_service(cost_hour)), m.legend(m.MODEL)),),
                "Same spend split by requested model.",
                unit="currencyUSD",
                stacked=True,
                width=12,
            ),
            Panel(
                "AI cost in the last 24h by tenant (USD)",
                (Query(m.sum_by((m.TENANT,), m.of_service(cost_day)), m.legend(m.TENANT), instant=True),),
                lines.describe(
                    "tenant_cost_24h",
                    "Rolling 24h spend per tenant",
                    "the {name} rule {verb} above {value} USD",
                ),
                unit="currencyUSD",
                kind="bargauge",
                thresholds=lines.thresholds("tenant_cost_24h", warn=True),
                runbook="external-api-failures.md",
                width=12,
                height=10,
            ),
            Panel(
                "Unpriced GenAI calls per hour by model",
                (
                    Query(
                        m.sum_by((m.MODEL,), m.of_service(f"increase({m.GENAI_UNPRICED.series()}[1h])")),
                        m.legend(m.MODEL),
                    ),
                ),
                "Calls whose model has no price: missing from the cost totals until the price book knows it.",
                width=12,
                height=10,
            ),
        ),
    )
    return Dashboard(
        uid="otel-secretary-business",
        title="AI Secretary / Business Metrics",
        description="Messages processed, subscriptions started, AI spend per tenant and model.",
        rows=(work, ai, *_alert_row(specs)),
        variables=(SERVICE, TENANT),
        tags=("business", "tenant"),
    )


_BUILDERS: dict[str, Callable[[Sequence[RuleSpec], RuleLines], Dashboard]] = {
    "overview": _overview,
    "performance": _performance,
    "errors": _errors,
    "external": _external,
    "business": _business,
}


def build(specs: Sequence[RuleSpec]) -> tuple[Dashboard, ...]:
    """Every dashboard; each alert rule's panel goes to the board its spec names (default: overview)."""
    homes: dict[str, list[RuleSpec]] = {name: [] for name in _BUILDERS}
    for spec in specs:
        homes[spec.dashboard.board].append(spec)
    lines = RuleLines(specs)
    return tuple(builder(homes[name], lines) for name, builder in _BUILDERS.items())
