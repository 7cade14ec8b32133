"""The embedded rules engine wired into the SDK: a SpanProcessor, a MetricReader and an evaluation thread.

``on_end`` is on the application's hot path: it does one cached selector lookup and a few additions
under a lock, and swallows (counts, logs once) any error. Evaluation, file writes and notification
delivery happen on background threads. Safe across ``fork()``: the child gets fresh locks, threads and
dispatcher, and writes its own state file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Histogram as APIHistogram
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    MetricReader,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from otel_secretary import pii
from otel_secretary._internal.self_monitoring import is_bad_input, report_internal_error, say_disabled
from otel_secretary.alerting.model import Matcher, Notification, Silence
from otel_secretary.notify.config import load_dispatcher
from otel_secretary.notify.dispatcher import Dispatcher
from otel_secretary.rules import store
from otel_secretary.rules.engine import EngineOptions, RuleEngine
from otel_secretary.rules.spec import (
    Routing,
    RuleSpec,
    SpecFolderError,
    default_rules_dir,
    load_dir,
    load_routing,
    spec_files,
)
from otel_secretary.sdk.metrics import lean_streams
from otel_secretary.settings import Settings

_log = logging.getLogger(__name__)
_said_no_notifications = False
_KINDS = {
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.INTERNAL: "internal",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}


#: Notifications that every prefork worker would send for one incident, and the window within which
#: a repeat of the same kind for the same alert from another process is dropped.
_SHARED_KINDS = frozenset({"trigger", "resolve", "reminder"})
DEDUP_WINDOW = 300.0


class EngineSpanProcessor(SpanProcessor):
    """Counts each ended span's outcome and duration into the engine's windows."""

    def __init__(self, engine: RuleEngine) -> None:
        self.engine = engine
        self.errors = 0
        self._named: tuple[Resource | None, str] = (None, "unknown_service")

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return

    def on_end(self, span: ReadableSpan) -> None:
        try:
            end, start = span.end_time, span.start_time
            if end is None or start is None:
                return
            resource, service = self._named
            if span.resource is not resource:  # one resource per provider: its service name is read once
                resource = span.resource
                service = str(resource.attributes.get("service.name", "unknown_service"))
                self._named = (resource, service)  # one tuple: threads never see a half-updated pair
            self.engine.observe_span(
                service,
                span.name,
                _KINDS.get(span.kind, "internal"),
                span.status.status_code is StatusCode.ERROR,
                (end - start) / 1e9,
                end / 1e9,
            )
        except Exception:
            self.errors += 1
            if self.errors == 1:
                _log.exception("otel-secretary rules: cannot count a span (further errors are only counted)")

    def shutdown(self) -> None:
        return

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class EngineMetricReader(MetricReader):
    """Pull reader: the evaluation thread calls ``collect()`` and the points land in the engine."""

    def __init__(self, engine: RuleEngine) -> None:
        super().__init__(
            preferred_temporality={
                kind: AggregationTemporality.CUMULATIVE
                for kind in (
                    Counter,
                    UpDownCounter,
                    Histogram,
                    ObservableCounter,
                    ObservableUpDownCounter,
                    ObservableGauge,
                )
            }
        )
        self.engine = engine
        self.names = {spec.metric for spec in engine.specs if spec.metric}  # thresholds, forecasts
        #: Where points go: straight into the engine, or (EmbeddedRules) to the data folder first.
        self.on_point: Callable[[str, dict[str, Any], float, float, bool], None] = self._to_engine

    def restrict_to_rule_metrics(self, meter_provider: MeterProvider) -> bool:
        """Aggregate only the instruments a rule reads (sums and gauges named by a spec), leanly.

        Every measurement is aggregated once per reader, so this reader doubled the metric work of the
        request path (an HTTP duration and four connection-pool points per request) for points it
        discards. The SDK has no per-reader instrument filter: the reader's storage is told that the
        other instruments have no streams, the answer it caches for them itself. Our provider has no
        views, so an instrument's name is its metric's name. The streams it keeps skip exemplars, which
        the engine never reads (``sdk/metrics/lean_streams``). Returns False, and the reader keeps
        aggregating everything as before, on an SDK without that storage."""
        names = self.names
        return lean_streams.install(
            meter_provider,
            self,
            keep=lambda instrument: instrument.name in names and not isinstance(instrument, APIHistogram),
        )

    def _to_engine(self, name: str, attributes: dict[str, Any], value: float, ts: float, mono: bool) -> None:
        self.engine.observe_metric(name, attributes, value, ts, monotonic=mono)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        if metrics_data is None:
            return
        for resource_metrics in metrics_data.resource_metrics:
            service = resource_metrics.resource.attributes.get("service.name")
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name not in self.names or not isinstance(metric.data, Gauge | Sum):
                        continue
                    monotonic = isinstance(metric.data, Sum) and metric.data.is_monotonic
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        if service is not None:
                            attributes.setdefault("service.name", service)
                        self.on_point(
                            metric.name, attributes, float(point.value), point.time_unix_nano / 1e9, monotonic
                        )

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return


class EmbeddedRules:
    """Owns engine, processor, reader, evaluation thread, state files and notification delivery."""

    def __init__(
        self,
        specs: Sequence[RuleSpec],
        data_dir: Path,
        *,
        notify_config: Path | None = None,
        interval: float = 60.0,
        options: EngineOptions | None = None,
        dispatcher: Dispatcher | None = None,
        masker: pii.Masker | None = None,
        routing: Routing | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.masker = masker
        self.notify_config = notify_config
        self.interval = interval
        self._persist_lock = threading.Lock()
        self.is_evaluator = False
        self.dispatcher = dispatcher if dispatcher is not None else self._load_dispatcher()
        if self.dispatcher is not None:
            self.dispatcher.on_settled = self._delivered
        self.engine = RuleEngine(specs, options, sink=self._deliver, masker=masker, routing=routing)
        self.span_processor = EngineSpanProcessor(self.engine)
        self.metric_reader = EngineMetricReader(self.engine)
        self._state_path = store.state_path(data_dir, pid_suffix=False)
        self._applied_acks: set[tuple[str, float]] = set()
        # Counts travel through the data folder: every process appends what it saw, the evaluator reads
        # everyone's. The same files rebuild the windows after a restart.
        self.engine.fold_staged = False
        self._counts_writer = store.CountWriter(data_dir)
        longest = max((w for spec in specs for w in spec.windows), default=3600)
        self._counts_reader = store.CountReader(data_dir, keep=longest + 2 * 3600)
        self.restored = self._restore()
        self._points: list[store.MetricRow] = []
        self.metric_reader.on_point = self._keep_point
        # Whole-service evaluation: one process per data folder (the flock holder) evaluates everyone's
        # counts and notifies; the others only write their counts.
        self._election = store.EvaluatorLock(data_dir)
        self.is_evaluator = False
        self.takeovers = 0
        self.resent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self.evaluation_errors = 0
        self.deduplicated = 0
        _register_fork_handler(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedRules:
        rules_dir = settings.rules_dir or default_rules_dir()
        try:
            spec_files(rules_dir)  # a mistyped folder is said at start, not evaluated as zero rules
        except SpecFolderError as exc:
            raise SpecFolderError(f"OTEL_SECRETARY_RULES_DIR: {exc}") from None
        specs, masker = load_dir(rules_dir), pii.build_masker(settings)
        from otel_secretary import audit  # rules loaded/changed, channels changed: once per change

        names = [spec.name for spec in specs]
        audit.note_config(
            settings.data_dir, rules_dir, settings.notify_config, rule_names=names, masker=masker
        )
        return cls(
            specs,
            settings.data_dir,
            notify_config=settings.notify_config,
            masker=masker,
            routing=load_routing(rules_dir),
        )

    def _load_dispatcher(self) -> Dispatcher | None:
        global _said_no_notifications
        try:
            dispatcher = load_dispatcher(
                self.notify_config, self.data_dir / "notify-failed.json", self.masker
            )
            if dispatcher is not None:
                dispatcher.on_settled = self._delivered
            return dispatcher
        except Exception as exc:
            if not is_bad_input(exc):
                report_internal_error("rules.notify_config", exc)
            elif not _said_no_notifications:  # once per process: a forked child inherits the flag
                _said_no_notifications = True
                say_disabled("alert notifications (alerts are still evaluated, but sent nowhere)", exc)
            return None

    def _deliver(self, notification: Notification) -> None:
        if self.dispatcher is None:
            return
        if notification.kind in _SHARED_KINDS:
            try:
                claimed = store.claim_notification(
                    self.data_dir, notification.fingerprint, notification.kind, notification.at, DEDUP_WINDOW
                )
            except OSError:
                claimed = True  # an unwritable ledger must not silence alerts: send, maybe twice
            if not claimed:
                self.deduplicated += 1
                return
        self.dispatcher.submit(notification)

    # ------------------------------------------------------------------------------ evaluation

    def apply_control(self, now: float) -> None:
        """Take silences and acknowledgements written by ``otel-secretary alerts`` (another process)."""
        control = store.read_control(self.data_dir)
        silences = {}
        for raw in control.get("silences", []):
            try:
                silence = Silence.from_json(raw)
            except (KeyError, TypeError, ValueError):
                continue
            silences[silence.id] = silence
        with self.engine._lock:
            self.engine.silences = silences
        for ack in control.get("acks", []):
            key = (str(ack.get("fingerprint")), float(ack.get("at", 0)))
            if key not in self._applied_acks:
                self._applied_acks.add(key)
                self.engine.acknowledge(key[0], str(ack.get("by", "")), now)

    def _restore(self) -> int:
        """Continue where the previous process stopped: alerts (``for`` state, notified, acks) and the
        acks already applied; silences live in the control file. Windows are rebuilt by the first read
        of the count files."""
        data = store.read_json(self.data_dir / store.ALERTS, {})
        if not isinstance(data, dict):
            return 0
        for ack in data.get("appliedAcks", []):
            with contextlib.suppress(TypeError, ValueError, IndexError):
                self._applied_acks.add((str(ack[0]), float(ack[1])))
        alerts = data.get("alerts", [])
        return self.engine.restore_alerts(alerts) if isinstance(alerts, list) else 0

    def _keep_point(self, name: str, attributes: dict[str, Any], value: float, ts: float, mono: bool) -> None:
        """A metric point of this process, masked now: it is written to the data folder."""
        masked = {}
        for key, raw in attributes.items():
            try:
                masked[key] = str(
                    self.masker.mask_value(key, str(raw))
                    if self.masker is not None
                    else pii.mask_attributes({key: str(raw)})[key]
                )
            except Exception:
                masked[key] = "<redacted>"
        self._points.append((name, masked, value, ts, mono))

    def share_counts(self) -> None:
        """Write this process's span counts and metric points since the last call to its own file."""
        try:
            self.metric_reader.collect()
        except Exception:
            _log.debug("metric collection failed", exc_info=True)
        points, self._points = self._points, []
        self._counts_writer.write(self.engine.drain(), points)

    def read_counts(self) -> int:
        """Fold every process's new counts and points (this one's included) into the windows."""
        rows, points = self._counts_reader.read_all()
        for writer, (name, attributes, value, ts, mono) in points:
            # The writer keeps each process's counters apart: `sum`/`avg` then aggregate across them.
            tagged = {**attributes, "otel_secretary.writer": writer}
            self.engine.observe_metric(name, tagged, value, ts, monotonic=mono)
        return self.engine.ingest(rows)

    def _take_over(self) -> None:
        """Become the evaluator: start from the durable state and rebuild the windows from every
        process's count files, whatever this process held before (it was only writing counts)."""
        engine = self.engine
        engine.reset()
        self._applied_acks.clear()
        longest = max((w for spec in engine.specs for w in spec.windows), default=3600)
        self._counts_reader = store.CountReader(self.data_dir, keep=longest + 2 * 3600)
        self.restored = self._restore()
        self.is_evaluator = True
        self.takeovers += 1
        self._resend_outbox()

    def _resend_outbox(self) -> None:
        """Send what the previous evaluator had queued and not delivered when it stopped (at least once:
        a channel that had already received it before the death receives it again)."""
        data = store.read_json(self.data_dir / store.ALERTS, {})
        outbox = data.get("outbox", []) if isinstance(data, dict) else []
        own = isinstance(data, dict) and data.get("writer") == self._counts_writer.writer_id
        if self.dispatcher is None or not isinstance(outbox, list) or own:
            return
        for item in outbox:
            try:
                notification = Notification(**item)
            except TypeError:
                continue
            self.resent += 1
            self.dispatcher.submit(notification)

    def _delivered(self) -> None:
        """A notification left the outbox: rewrite the durable state now, so a successor taking over
        later does not send it again."""
        if self.is_evaluator:
            with contextlib.suppress(OSError):
                self.persist()

    def persist(self) -> None:
        """The durable state (write-then-rename, fsynced) and the snapshot ``alerts list`` reads."""
        with self._persist_lock:
            self._persist()

    def _persist(self) -> None:
        store.write_json(
            self.data_dir / store.ALERTS,
            {
                "pid": os.getpid(),
                "writer": self._counts_writer.writer_id,
                "alerts": self.engine.export_alerts(),
                "appliedAcks": sorted(self._applied_acks)[-1000:],
                # Queued but not yet delivered: a successor sends them if this process dies first.
                "outbox": [asdict(n) for n in self.dispatcher.pending()] if self.dispatcher else [],
            },
            durable=True,
        )
        store.write_json(self._state_path, {**self.engine.snapshot(), "pid": os.getpid()})

    def evaluate_now(self, now: float | None = None) -> list[Notification]:
        """One tick: write this process's counts; if it is (or becomes) the evaluator, evaluate the
        whole service from everyone's counts, notify and persist. Returns what was sent."""
        now = time.time() if now is None else now
        self.share_counts()
        if not self._election.try_acquire():
            self.is_evaluator = False
            return []
        if not self.is_evaluator:
            self._take_over()
        self.apply_control(now)
        self.read_counts()
        sent = self.engine.evaluate(now)
        self.persist()
        return sent

    @property
    def grace(self) -> float:
        """How long after a boundary the evaluator waits for the other processes' counts."""
        return min(2.0, self.interval * 0.05)

    def _run(self) -> None:
        while not self._stop.is_set():
            # Evaluate on interval boundaries, as Prometheus does, so windows line up with wall-clock minutes;
            # the evaluator a little later, once the workers wrote the minute that ended.
            delay = self.interval - (time.time() % self.interval)
            if self._election.held:
                delay = (delay + self.grace) % self.interval
            if self._stop.wait(delay):
                return
            try:
                self.evaluate_now()
            except Exception:
                self.evaluation_errors += 1
                if self.evaluation_errors == 1:
                    _log.exception(
                        "otel-secretary rules: evaluation failed (further errors are only counted)"
                    )

    def start(self) -> None:
        self._started = True
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="otel-secretary-rules", daemon=True)
            self._thread.start()

    def shutdown(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self.share_counts()  # the counts of the last, unfinished interval survive a clean restart
        if self.dispatcher is not None:
            self.dispatcher.flush(timeout)  # before the final persist: what was delivered leaves the outbox
        if self.is_evaluator:
            with contextlib.suppress(OSError):
                self.persist()
        if self.dispatcher is not None:
            self.dispatcher.close(timeout)
        self._election.release()  # after delivery: a successor then reads the final durable state
        self.is_evaluator = False

    def _after_fork_in_child(self) -> None:
        # Locks may have been held by a parent thread at fork time; threads did not survive.
        self.engine.after_fork()
        self._counts_writer = store.CountWriter(self.data_dir)
        self._points = []
        self._election.forget()  # the parent keeps evaluating; this child competes with its own lock
        self.is_evaluator = False
        self._state_path = store.state_path(self.data_dir, pid_suffix=True)
        self._persist_lock = threading.Lock()
        self.dispatcher = self._load_dispatcher()
        self._thread = None
        if self._started:
            self.start()

    def add_silence(
        self, matchers: Sequence[Matcher], starts_at: float, ends_at: float, by: str, comment: str
    ) -> str:
        """Create a silence through the control file, so every process (and the CLI) sees it."""
        silence_id = self.engine.add_silence(matchers, starts_at, ends_at, by, comment)
        silence = self.engine.silences[silence_id]
        store.update_control(self.data_dir, lambda c: c.setdefault("silences", []).append(silence.to_json()))
        return silence_id


_instances: weakref.WeakSet[EmbeddedRules] = weakref.WeakSet()
_fork_registered = False


def _after_fork() -> None:
    for instance in list(_instances):
        try:
            instance._after_fork_in_child()
        except Exception:
            _log.exception("otel-secretary rules: restart after fork failed")


def _register_fork_handler(instance: EmbeddedRules) -> None:
    global _fork_registered
    _instances.add(instance)
    if not _fork_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)
        _fork_registered = True
