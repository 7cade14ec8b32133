"""The embedded engine in a real SDK TracerProvider/MeterProvider, with real receivers for notifications."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_secretary.rules import store
from otel_secretary.rules.embedded import EmbeddedRules
from otel_secretary.rules.engine import EngineOptions, Matcher, Notification
from otel_secretary.rules.spec import RuleSpec, default_rules_dir, load_dir
from otel_secretary.settings import load_settings
from otel_secretary.testing.receivers import HttpReceiver

from .conftest import ANNOTATIONS

Specs = Callable[[str], list[RuleSpec]]
SPEC = (
    """
rules:
  - name: Api
    kind: slo
    objective: 99
    by: [service_name]
    selector: {service: api, span_kind: server}
    no_data: false
"""
    + ANNOTATIONS
    + """
  - name: Cost
    kind: threshold
    severity: ticket
    metric: app.genai.cost
    unit: USD
    type: counter
    function: increase
    window: 1h
    aggregate: sum
    by: [app_tenant_id]
    value: 5
"""
    + ANNOTATIONS
)

MINUTE_NS = 60_000_000_000


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, HttpReceiver]]:
    slack, pagerduty = HttpReceiver(), HttpReceiver()
    yield slack, pagerduty
    slack.close()
    pagerduty.close()


def _embedded(specs: list[RuleSpec], tmp_path: Path, slack: HttpReceiver, pd: HttpReceiver) -> EmbeddedRules:
    config = tmp_path / "notify.yaml"
    config.write_text(
        f"""
retry: {{attempts: 2, backoff_seconds: 0.05}}
channels:
  - {{name: slack, type: slack, url: "{slack.url}", severities: [page]}}
  - {{name: pd, type: pagerduty, url: "{pd.url}", routing_key: "${{TEST_PD_KEY}}", severities: [page]}}
"""
    )
    os.environ["TEST_PD_KEY"] = "TESTKEY00000000000000000000000000"
    try:
        return EmbeddedRules(specs, tmp_path / "data", notify_config=config)
    finally:
        del os.environ["TEST_PD_KEY"]


def _providers(rules: EmbeddedRules, service: str = "api") -> tuple[TracerProvider, MeterProvider]:
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(rules.span_processor)
    meter_provider = MeterProvider(metric_readers=[rules.metric_reader], resource=resource)
    return tracer_provider, meter_provider


def _traffic(provider: TracerProvider, minute: int, count: int, failing: bool) -> None:
    tracer = provider.get_tracer("test")
    for i in range(count):
        start = minute * MINUTE_NS + i * 1_000_000
        span = tracer.start_span("GET /api/v1/messages", kind=SpanKind.SERVER, start_time=start)
        if failing:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=start + 20_000_000)


def test_hard_outage_through_sdk_notifies_each_channel_once_per_transition(
    make_specs: Specs, tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver]
) -> None:
    slack, pd = receivers
    rules = _embedded(make_specs(SPEC), tmp_path, slack, pd)
    tracer_provider, meter_provider = _providers(rules)
    base = 29_000_000  # minutes since the epoch: a fixed synthetic day
    try:
        for minute in range(base, base + 180):
            failing = base + 60 <= minute < base + 80
            _traffic(tracer_provider, minute, 20, failing)
            rules.evaluate_now((minute + 1) * 60)
        assert rules.dispatcher is not None and rules.dispatcher.flush(10)
        assert [b["text"].split("]")[0] for b in slack.bodies()] == ["[FIRING", "[RESOLVED"]
        actions = [(b["event_action"], b["dedup_key"]) for b in pd.bodies()]
        assert [a for a, _ in actions] == ["trigger", "resolve"] and actions[0][1] == actions[1][1]
        state = json.loads((tmp_path / "data" / "rules-state.json").read_text())
        assert state["evaluatedAt"] == (base + 180) * 60
    finally:
        rules.shutdown()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def test_threshold_rule_reads_sdk_metrics_through_the_metric_reader(
    make_specs: Specs, tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver]
) -> None:
    rules = _embedded(make_specs(SPEC), tmp_path, *receivers)
    tracer_provider, meter_provider = _providers(rules)
    cost = meter_provider.get_meter("test").create_counter("app.genai.cost", unit="USD")
    try:
        rules.evaluate_now()
        for _ in range(4):
            cost.add(2.0, {"app.tenant.id": "tenant-a", "gen_ai.request.model": "gpt-4o-mini"})
            cost.add(0.1, {"app.tenant.id": "tenant-b", "gen_ai.request.model": "gpt-4o-mini"})
            rules.evaluate_now(time.time() + 1)
        firing = [a for a in rules.engine.alerts.values() if a.state == "firing"]
        assert [(a.alertname, a.labels["app_tenant_id"]) for a in firing] == [("Cost", "tenant-a")]
    finally:
        rules.shutdown()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def test_threshold_rule_leaves_the_overflow_series_out(
    make_specs: Specs, tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver]
) -> None:
    """As the PromQL does (tests/rules/test_overflow.py): beyond the cardinality limit every new tenant
    lands in one otel.metric.overflow series; its sum over many tenants is no tenant's spend."""
    from otel_secretary.sdk.metrics import cardinality

    rules = _embedded(make_specs(SPEC), tmp_path, *receivers)
    tracer_provider, meter_provider = _providers(rules)
    cost = meter_provider.get_meter("test").create_counter("app.genai.cost", unit="USD")
    cardinality.install(3)
    try:
        rules.evaluate_now()
        for _ in range(4):
            cost.add(0.5, {"app.tenant.id": "tenant-a"})
            cost.add(0.5, {"app.tenant.id": "tenant-b"})  # the limit's last set: overflow from here
            for tenant in range(10):
                cost.add(0.5, {"app.tenant.id": f"tenant-over-{tenant}"})
            rules.evaluate_now(time.time() + 1)
        # 20 USD went to the overflow series, more than the 5 USD threshold: no alert, no phantom group.
        assert [a for a in rules.engine.alerts.values() if a.state == "firing"] == []
        cost.add(6.0, {"app.tenant.id": "tenant-a"})
        rules.evaluate_now(time.time() + 2)
        firing = [a for a in rules.engine.alerts.values() if a.state == "firing"]
        assert [(a.alertname, a.labels["app_tenant_id"]) for a in firing] == [("Cost", "tenant-a")]
    finally:
        cardinality.install()
        rules.shutdown()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def test_silence_written_by_another_process_is_honoured(
    make_specs: Specs, tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver]
) -> None:
    slack, pd = receivers
    rules = _embedded(make_specs(SPEC), tmp_path, slack, pd)
    tracer_provider, _ = _providers(rules)
    base = 29_000_000
    silence = {"id": "s1", "matchers": [Matcher("rule", "Api").__dict__], "startsAt": 0, "endsAt": 4e9}
    store.update_control(tmp_path / "data", lambda c: c["silences"].append(silence))
    try:
        for minute in range(base, base + 30):
            _traffic(tracer_provider, minute, 20, failing=minute >= base + 10)
            rules.evaluate_now((minute + 1) * 60)
        assert any(
            a.state == "firing" and a.suppressed_by == "silence:s1" for a in rules.engine.alerts.values()
        )
        assert rules.dispatcher is not None and rules.dispatcher.flush(5)
        assert slack.requests == [] and pd.requests == []
    finally:
        rules.shutdown()
        tracer_provider.shutdown()


def test_from_settings_loads_the_shipped_specs(tmp_path: Path) -> None:
    settings = load_settings({"OTEL_SECRETARY_DATA_DIR": str(tmp_path)})
    rules = EmbeddedRules.from_settings(settings)
    try:
        assert {s.name for s in rules.engine.specs} == {s.name for s in load_dir(default_rules_dir())}
        assert rules.dispatcher is None  # no notify config: evaluate and persist, notify nobody
    finally:
        rules.shutdown()


def test_forked_child_keeps_counting_and_writes_its_own_state(make_specs: Specs, tmp_path: Path) -> None:
    rules = EmbeddedRules(make_specs(SPEC), tmp_path, interval=3600)
    rules.start()
    tracer_provider, _ = _providers(rules)
    with rules.engine._lock:  # a lock held by a parent thread at fork time must not deadlock the child
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                _traffic(tracer_provider, 29_000_000, 5, failing=True)
                rules.evaluate_now(29_000_001 * 60)
                code = 0 if (tmp_path / f"rules-state-{os.getpid()}.json").exists() else 2
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    rules.shutdown()
    assert os.waitstatus_to_exitcode(status) == 0


def test_span_processor_hot_path_cost(make_specs: Specs, tmp_path: Path) -> None:
    specs = load_dir(default_rules_dir())
    rules = EmbeddedRules(specs, tmp_path, options=EngineOptions())
    # matches five shipped rules (four of api.yaml and ErrorBudgetForecast of forecast.yaml)
    tracer_provider, _ = _providers(rules, service="ai-secretary")
    tracer = tracer_provider.get_tracer("bench")
    spans = []
    for _ in range(2000):
        span = tracer.start_span("GET /api/v1/messages", kind=SpanKind.SERVER)
        span.end()
        spans.append(span)
    processor = rules.span_processor
    started = time.perf_counter()
    for span in spans * 5:
        processor.on_end(span)
    per_span = (time.perf_counter() - started) / (len(spans) * 5)
    print(f"\non_end cost with the shipped rules: {per_span * 1e6:.2f} us/span")
    assert processor.errors == 0
    rules.share_counts()  # counts travel through the data folder to the evaluator's windows
    rules.read_counts()
    assert rules.engine.snapshot()["series"] == 5
    assert per_span < 100e-6  # generous bound for a shared 2-core CI machine
    rules.shutdown()


def test_disk_rule_fires_from_the_sdk_host_gauges(make_specs: Specs, tmp_path: Path) -> None:
    """The shipped DiskAlmostFull shape (hostmetrics name and `device` label) reads our own SDK gauge, so the
    embedded default alerts on a full disk without a collector; the threshold is 0 so any disk fires."""
    from otel_secretary.sdk.metrics.host_metrics import register_host_metrics

    specs = make_specs(
        """
rules:
  - name: DiskAlmostFull
    kind: threshold
    severity: page
    metric: system.filesystem.utilization
    unit: "1"
    aggregate: max
    by: [device]
    op: ">"
    value: 0
"""
        + ANNOTATIONS
    )
    rules = EmbeddedRules(specs, tmp_path)
    meter_provider = MeterProvider(metric_readers=[rules.metric_reader])
    register_host_metrics(meter_provider.get_meter("otel_secretary.host"))
    try:
        rules.evaluate_now()
        rules.evaluate_now(time.time() + 1)
        firing = [a for a in rules.engine.alerts.values() if a.state == "firing"]
        assert firing and all(a.alertname == "DiskAlmostFull" and a.labels["device"] for a in firing)
    finally:
        rules.shutdown()
        meter_provider.shutdown()


def test_prefork_workers_sharing_a_data_dir_notify_once_per_transition(
    make_specs: Specs, tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver]
) -> None:
    """Two engines on one data folder, each seeing half the traffic, as two gunicorn workers do: one is
    elected (flock) and evaluates the whole service from both workers' counts; mid-incident it dies and
    the other takes over from the durable state: one trigger and one resolve per channel."""
    slack, pd = receivers
    workers = [_embedded(make_specs(SPEC), tmp_path, slack, pd) for _ in range(2)]
    providers = [_providers(rules) for rules in workers]
    base = 29_000_000
    alive = [True, True]
    try:
        for minute in range(base, base + 180):
            failing = base + 60 <= minute < base + 80
            if minute == base + 70:  # the evaluator dies mid-incident (its lock is released by the kernel)
                assert workers[0].is_evaluator and not workers[1].is_evaluator
                assert workers[0].dispatcher is not None and workers[0].dispatcher.flush(10)
                workers[0]._election.release()
                alive[0] = False
            for index, ((tracer_provider, _), rules) in enumerate(zip(providers, workers, strict=True)):
                if alive[index]:
                    _traffic(tracer_provider, minute, 10 if alive[0] else 20, failing)
                    rules.evaluate_now((minute + 1) * 60)
            if minute == base + 69:
                (page,) = [a for a in workers[0].engine.alerts.values() if a.severity == "page"]
                assert page.state == "firing" and workers[1].engine.alerts == {}  # the follower only writes
        assert workers[1].is_evaluator and workers[1].takeovers == 1
        for rules in workers:
            assert rules.dispatcher is not None and rules.dispatcher.flush(10)
        assert [b["text"].split("]")[0] for b in slack.bodies()] == ["[FIRING", "[RESOLVED"]
        assert [b["event_action"] for b in pd.bodies()] == ["trigger", "resolve"]
    finally:
        for (tracer_provider, meter_provider), rules in zip(providers, workers, strict=True):
            rules.shutdown()
            tracer_provider.shutdown()
            meter_provider.shutdown()


def test_the_evaluator_sees_the_whole_service_not_its_share(make_specs: Specs, tmp_path: Path) -> None:
    """Four workers, each a quarter of the traffic; the elected one's windows hold all of it."""
    workers = [EmbeddedRules(make_specs(SPEC), tmp_path) for _ in range(4)]
    providers = [_providers(rules) for rules in workers]
    base = 29_000_000
    try:
        for minute in range(base, base + 5):
            for (tracer_provider, _), rules in zip(providers, workers, strict=True):
                _traffic(tracer_provider, minute, 5, failing=False)
                rules.evaluate_now((minute + 1) * 60)
        evaluators = [rules for rules in workers if rules.is_evaluator]
        assert len(evaluators) == 1
        evaluators[0].read_counts()  # the workers after it in this round wrote their last minute since
        (series,) = evaluators[0].engine._series.values()
        assert series.ring.window((base + 5) * 60, 300) == [0.0, 4 * 5 * 5.0]
    finally:
        for (tracer_provider, meter_provider), rules in zip(providers, workers, strict=True):
            rules.shutdown()
            tracer_provider.shutdown()
            meter_provider.shutdown()


class _Recorder:
    """A channel that keeps what it is sent (the dispatcher's real worker threads deliver to it)."""

    name = "recorder"
    severities: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def send(self, notification: object) -> None:
        self.kinds.append(getattr(notification, "kind", "?"))


def test_real_evaluation_thread_fires_and_resolves_a_one_bucket_rule(
    make_specs: Specs, tmp_path: Path
) -> None:
    """Issue 12 item 0 on a real clock: the evaluation thread of EmbeddedRules wakes just after each
    boundary (1 s buckets and a 1 s interval here, the 60 s shape scaled down); a rule whose window is one
    bucket must fire during an outage and resolve after it, which reading the running bucket prevented."""
    from otel_secretary.notify.dispatcher import Dispatcher

    specs = make_specs(
        """
rules:
  - name: OneBucket
    kind: error_rate
    threshold: 0.5
    window: 1s
    by: [service_name]
    selector: {service: api, span_kind: server}
"""
        + ANNOTATIONS
    )
    recorder = _Recorder()
    dispatcher = Dispatcher([recorder])
    rules = EmbeddedRules(
        specs, tmp_path, interval=1.0, options=EngineOptions(bucket_seconds=1.0), dispatcher=dispatcher
    )
    tracer_provider, _ = _providers(rules)
    tracer = tracer_provider.get_tracer("test")
    evaluations: list[list[str]] = []  # kinds sent by each evaluation of the real thread
    evaluate = rules.engine.evaluate

    def counting(now: float) -> list[Notification]:
        sent = evaluate(now)
        evaluations.append([n.kind for n in sent])
        return sent

    rules.engine.evaluate = counting  # type: ignore[method-assign]

    def traffic_until(failing: bool, wanted: str, timeout: float = 30.0) -> int:
        """Send spans until an evaluation sends ``wanted``; returns how many evaluations that took."""
        first = len(evaluations)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _ in range(20):
                span = tracer.start_span("GET /x", kind=SpanKind.SERVER)
                if failing:
                    span.set_status(Status(StatusCode.ERROR))
                span.end()
            done = [i for i, kinds in enumerate(evaluations[first:]) if wanted in kinds]
            if done:
                return done[0] + 1
            time.sleep(0.02)
        return -1

    rules.start()
    try:
        # The evaluation running when the phase began, the one reading the bucket the phase began in
        # (maybe only partly), and the one reading the first whole bucket of the phase.
        fired = traffic_until(failing=True, wanted="trigger")
        assert 0 < fired <= 3, evaluations
        resolved = traffic_until(failing=False, wanted="resolve")
        assert 0 < resolved <= 3, evaluations
        assert dispatcher.flush(10) and recorder.kinds == ["trigger", "resolve"]
        assert rules.evaluation_errors == 0
    finally:
        rules.shutdown()
        tracer_provider.shutdown()


class _Stuck:
    """A channel whose process 'dies' mid-delivery: it never returns (until the test ends)."""

    name = "stuck"
    severities: frozenset[str] = frozenset()

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    def send(self, notification: object) -> None:
        self.release.wait(30)


def test_a_notification_queued_when_the_evaluator_dies_is_sent_by_its_successor(
    make_specs: Specs, tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver]
) -> None:
    """Issue 12 item 2, handover without lost notifications: the evaluator decides a trigger and dies
    before delivering it; the next evaluator sends it (once) from the persisted outbox and no second one."""
    from otel_secretary.notify.dispatcher import Dispatcher

    slack, pd = receivers
    stuck = _Stuck()
    first = EmbeddedRules(make_specs(SPEC), tmp_path / "data", dispatcher=Dispatcher([stuck]))
    second = _embedded(make_specs(SPEC), tmp_path, slack, pd)
    providers = [_providers(first), _providers(second)]
    base = 29_000_000
    try:
        for minute in range(base, base + 70):
            _traffic(providers[0][0], minute, 20, failing=minute >= base + 60)
            first.evaluate_now((minute + 1) * 60)
            second.evaluate_now((minute + 1) * 60)
        assert first.is_evaluator and first.dispatcher is not None and first.dispatcher.pending()
        first._election.release()  # dies with the trigger still queued
        for minute in range(base + 70, base + 200):
            _traffic(providers[1][0], minute, 20, failing=minute < base + 80)
            second.evaluate_now((minute + 1) * 60)
        assert second.is_evaluator and second.resent >= 1
        assert second.dispatcher is not None and second.dispatcher.flush(10)
        assert [b["event_action"] for b in pd.bodies()] == ["trigger", "resolve"]
        assert [b["text"].split("]")[0] for b in slack.bodies()] == ["[FIRING", "[RESOLVED"]
    finally:
        stuck.release.set()
        for (tracer_provider, meter_provider), rules in zip(providers, (first, second), strict=True):
            rules.shutdown(timeout=2)
            tracer_provider.shutdown()
            meter_provider.shutdown()


def _engine_streams(meter_provider: MeterProvider, rules: EmbeddedRules) -> list[tuple[str, str, int]]:
    """Aggregation streams per instrument in the engine reader's own SDK storage (what it costs)."""
    storage = meter_provider._measurement_consumer._reader_storages[rules.metric_reader]  # type: ignore[attr-defined]
    found = storage._instrument_view_instrument_matches.items()
    return sorted((type(instrument).__name__, instrument.name, len(streams)) for instrument, streams in found)


def test_the_engine_reader_aggregates_only_what_a_rule_reads(
    make_specs: Specs, tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver]
) -> None:
    """Every measurement is aggregated once per reader: the engine's must not redo the exporting
    reader's work for instruments no rule reads (nor for histograms, which it never reads)."""
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    rules = _embedded(make_specs(SPEC), tmp_path, *receivers)
    everything = InMemoryMetricReader()
    resource = Resource.create({"service.name": "api"})
    meter_provider = MeterProvider(metric_readers=[rules.metric_reader, everything], resource=resource)
    try:
        assert rules.metric_reader.restrict_to_rule_metrics(meter_provider)
        cost = meter_provider.get_meter("test").create_counter("app.genai.cost", unit="USD")
        requests = meter_provider.get_meter("test").create_counter("app.requests")
        cost_histogram = meter_provider.get_meter("other").create_histogram("app.genai.cost")
        rules.evaluate_now()
        for _ in range(4):
            requests.add(1, {"http.route": "/x"})
            cost_histogram.record(1.0)
            cost.add(2.0, {"app.tenant.id": "tenant-a"})
            rules.evaluate_now(time.time() + 1)
        assert _engine_streams(meter_provider, rules) == [
            ("_Counter", "app.genai.cost", 1),
            ("_Counter", "app.requests", 0),
            ("_Histogram", "app.genai.cost", 0),  # a histogram of a rule's name: the reader never reads one
        ]
        firing = [a for a in rules.engine.alerts.values() if a.state == "firing"]
        assert [(a.alertname, a.labels["app_tenant_id"]) for a in firing] == [("Cost", "tenant-a")]
        data = everything.get_metrics_data()
        assert data is not None
        names = sorted(m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
        assert names == ["app.genai.cost", "app.genai.cost", "app.requests"]  # the other reader keeps all
    finally:
        rules.shutdown()
        meter_provider.shutdown()


def test_an_sdk_without_the_reader_storage_keeps_the_engine_reader_whole(
    make_specs: Specs, tmp_path: Path, receivers: tuple[HttpReceiver, HttpReceiver]
) -> None:
    rules = _embedded(make_specs(SPEC), tmp_path, *receivers)
    try:
        assert rules.metric_reader.restrict_to_rule_metrics(object()) is False  # type: ignore[arg-type]
    finally:
        rules.shutdown()


def test_configure_restricts_the_engine_reader(tmp_path: Path) -> None:
    """Through configure(), as the distro runs it: the request path's instruments that no shipped rule
    reads have no stream in the engine's reader; the connection-pool gauge a rule reads has one."""
    script = """
import json, otel_secretary
from opentelemetry import metrics
otel_secretary.configure()
provider = metrics.get_meter_provider()
meter = provider.get_meter("probe")
meter.create_counter("probe.requests").add(1)
meter.create_up_down_counter("db.client.connections.usage").add(1, {"db.client.connections.state": "used"})
meter.create_histogram("http.server.request.duration").record(0.1)
storages = provider._measurement_consumer._reader_storages
engine = next(r for r in storages if type(r).__name__ == "EngineMetricReader")
found = storages[engine]._instrument_view_instrument_matches
print(json.dumps({i.name: len(v) for i, v in found.items()}))
"""
    env = {
        **os.environ,
        "OTEL_SECRETARY_DATA_DIR": str(tmp_path / "data"),
        "OTEL_SECRETARY_PROMETHEUS_PORT": "0",
        "OTEL_SECRETARY_SYSTEM_METRICS": "false",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    streams = json.loads(done.stdout.splitlines()[-1])
    assert streams["probe.requests"] == 0 and streams["http.server.request.duration"] == 0
    assert streams["db.client.connections.usage"] == 1
