"""User feedback (thumbs up/down) on a model answer, as the conventions' ``gen_ai.evaluation.result`` event.

The event is a log record parented to the model call's span (so a backend shows it on that span),
with ``gen_ai.evaluation.name``/``score.value``/``score.label``/``explanation`` and
``gen_ai.response.id``. The user's comment is free text, so it is masked here as well as by the
exporter's masker. ``app.genai.feedback`` counts feedback by model and sentiment, so a rule can alert
on the share of negative answers per model.

Feedback usually arrives in a later request than the answer. The span context of recent answers is
kept per process by response id (bounded); across processes, store the span context with the message
and pass it instead of the id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from opentelemetry._logs import LogRecord, get_logger
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context
from opentelemetry.util.types import AttributeValue

from otel_secretary._internal.fork_reset import renew_lock, reset_in_forked_child
from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.version import __version__

EVALUATION_EVENT: Final = "gen_ai.evaluation.result"
FEEDBACK_EVALUATION_NAME: Final = "user_feedback"
NEGATIVE_BELOW: Final = 0.5
_MAX_REMEMBERED: Final = 10_000
_MAX_COMMENT: Final = 1024


class _Recent:
    """Bounded LRU of response id → (span context, request model)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, tuple[SpanContext, str | None]] = OrderedDict()
        self._lock = threading.Lock()
        reset_in_forked_child(self, renew_lock)

    def put(self, response_id: str, span_context: SpanContext, model: str | None) -> None:
        with self._lock:
            self._items[response_id] = (span_context, model)
            self._items.move_to_end(response_id)
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def get(self, response_id: str) -> tuple[SpanContext, str | None] | None:
        with self._lock:
            return self._items.get(response_id)


_recent = _Recent(_MAX_REMEMBERED)


def remember_response(response_id: str, span_context: SpanContext, model: str | None) -> None:
    """Called when a model call span ends, so later feedback by response id finds its span."""
    if span_context.is_valid:
        _recent.put(response_id, span_context, model)


def record_feedback(
    target: str | SpanContext,
    score: float,
    label: str | None = None,
    comment: str | None = None,
    *,
    model: str | None = None,
    name: str = FEEDBACK_EVALUATION_NAME,
    telemetry: object | None = None,
) -> bool:
    """Record feedback on one model answer; returns whether it could be linked to the answer's span.

    ``target`` is the answer's ``gen_ai.response.id`` (looked up among this process's recent answers) or
    the span context of the model call. ``score`` is in [0, 1] (thumbs up 1, thumbs down 0); below 0.5
    counts as negative. ``label`` defaults to ``positive``/``negative``. Never raises.
    """
    try:
        return _record(target, float(score), label, comment, model, name, telemetry)
    except Exception as exc:
        report_internal_error("genai.feedback", exc)
        return False


def _record(
    target: str | SpanContext,
    score: float,
    label: str | None,
    comment: str | None,
    model: str | None,
    name: str,
    telemetry: object | None,
) -> bool:
    from ._telemetry import FEEDBACK_SENTIMENT, SCOPE, GenAITelemetry, default_telemetry

    tel = telemetry if isinstance(telemetry, GenAITelemetry) else default_telemetry()
    span_context: SpanContext | None = None
    response_id: str | None = None
    if isinstance(target, SpanContext):
        span_context = target
    else:
        response_id = str(target)
        found = _recent.get(response_id)
        if found is not None:
            span_context, remembered_model = found
            model = model or remembered_model
    sentiment = "negative" if score < NEGATIVE_BELOW else "positive"
    attributes: dict[str, AttributeValue] = {
        GenAI.GEN_AI_EVALUATION_NAME: name,
        GenAI.GEN_AI_EVALUATION_SCORE_VALUE: score,
        GenAI.GEN_AI_EVALUATION_SCORE_LABEL: label or sentiment,
    }
    if response_id:
        attributes[GenAI.GEN_AI_RESPONSE_ID] = response_id
    if comment:
        masked = tel.mask(comment[:_MAX_COMMENT])
        if masked is not None:  # no masker: the comment is withheld, never sent raw
            attributes[GenAI.GEN_AI_EVALUATION_EXPLANATION] = masked
    linked = span_context is not None and span_context.is_valid
    context = set_span_in_context(NonRecordingSpan(span_context)) if linked and span_context else None
    logger = get_logger(SCOPE, __version__, tel.logger_provider)
    logger.emit(LogRecord(event_name=EVALUATION_EVENT, attributes=attributes, context=context))
    tel.feedback.add(1, {GenAI.GEN_AI_REQUEST_MODEL: model or "unknown", FEEDBACK_SENTIMENT: sentiment})
    return linked
