"""Where GenAI telemetry goes: util-genai's handler (spans, M1-M4), our cost counters, content policy.

One :class:`GenAITelemetry` per process is the normal case (:func:`default_telemetry`, built lazily
from the global providers and ``OTEL_SECRETARY_*`` settings, so decorators applied at import time
work before ``configure()`` runs). Tests build their own with local providers and pass it to the
decorator, so they never touch global state.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from opentelemetry import baggage
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import TracerProvider
from opentelemetry.util.genai._conversation_context import get_ambient_conversation_id
from opentelemetry.util.genai.handler import TelemetryHandler

from otel_secretary import semconv
from otel_secretary._internal.lazy_default import LazyDefault
from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.sdk.metrics.summed_counter import SummedCounter
from otel_secretary.version import __version__

from ._cost import PriceBook
from ._extract import Usage

SCOPE: Final = "otel_secretary.genai"
# Ours, not a convention: cost has no standard name yet (semantic-conventions-genai #287). The
# app.* names are what the shipped alert rules (AICostBudget, Prometheus app_genai_cost_USD_total),
# the demo and the docs read.
COST_ATTRIBUTE: Final = semconv.GENAI_COST_USD
COST_METRIC: Final = semconv.GENAI_COST.name
UNPRICED_METRIC: Final = semconv.GENAI_UNPRICED.name
TENANT_KEY: Final = semconv.TENANT_ID
# Baggage key request_context(conversation_id=...) sets, so the id also reaches Celery tasks.
CONVERSATION_BAGGAGE_KEY: Final = "gen_ai.conversation.id"
FEEDBACK_METRIC: Final = semconv.GENAI_FEEDBACK.name
FEEDBACK_SENTIMENT: Final = semconv.GENAI_FEEDBACK_SENTIMENT

Mask = Callable[[str], str]


class GenAITelemetry:
    """The handler, instruments and policies one decorated call needs; cheap to share across threads."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        logger_provider: Any = None,
        *,
        capture_content: bool = False,
        prices: PriceBook | None = None,
        mask: Mask | None = None,
    ) -> None:
        self.handler = TelemetryHandler(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
            instrumentation_scope_name=SCOPE,
            instrumentation_scope_version=__version__,
        )
        self.capture_content = capture_content
        self.prices = prices if prices is not None else PriceBook()
        self._mask = mask
        meter = get_meter(SCOPE, __version__, meter_provider=meter_provider)
        # Added on every priced call: summed here, reported at collection (SummedCounter says why). One
        # per provider: telemetry objects sharing a provider (the decorator's, the instrumentor's) share it.
        self.cost = SummedCounter.shared(meter_provider, SCOPE, __version__, semconv.GENAI_COST)
        self.unpriced = semconv.counter(meter, semconv.GENAI_UNPRICED)
        self.feedback = semconv.counter(meter, semconv.GENAI_FEEDBACK)
        self.logger_provider = logger_provider
        # Metric attribute sets are reused per (provider, model, tenant): building and hashing a fresh
        # dict per call is a measurable share of a ~100 µs budget.
        self._cost_attributes: dict[tuple[str, str | None, str | None], dict[str, str]] = {}

    def record_cost(
        self,
        provider: str,
        request_model: str | None,
        model: str | None,
        usage: Usage,
        tenant: str | None,
    ) -> float | None:
        """Estimate one call's cost, count it (by provider, request model and tenant); None if unpriced."""
        key = (provider, request_model, tenant)
        attributes = self._cost_attributes.get(key)
        if attributes is None:
            attributes = {GenAI.GEN_AI_PROVIDER_NAME: provider}
            if request_model:
                attributes[GenAI.GEN_AI_REQUEST_MODEL] = request_model
            if tenant:
                attributes[TENANT_KEY] = tenant
            if len(self._cost_attributes) < 4096:  # bounded: tenants are many but finite
                self._cost_attributes[key] = attributes
        cost = self.prices.estimate(provider, model or request_model, usage)
        if cost is None:
            self.unpriced.add(1, {k: v for k, v in attributes.items() if k != TENANT_KEY})
            return None
        self.cost.add(cost, attributes)
        return cost

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        logger_provider: Any = None,
        mask: Mask | None = None,
    ) -> GenAITelemetry:
        capture = bool(settings.capture_content)
        if mask is None and capture:
            mask = _settings_masker(settings, meter_provider)
        return cls(
            tracer_provider,
            meter_provider,
            logger_provider,
            capture_content=capture,
            prices=_price_book(settings.prices_file),
            mask=mask,
        )

    def mask(self, text: str) -> str | None:
        """Masked text, or None when masking failed: content is then withheld, never raw."""
        masker = self._mask or _pii_mask_text()
        try:
            return masker(text)
        except Exception as exc:
            report_internal_error("genai.mask", exc)
            return None


def tenant_from_baggage() -> str | None:
    tenant = baggage.get_baggage(TENANT_KEY)
    return str(tenant) if tenant else None


def conversation_from_baggage() -> str | None:
    """The conversation id in scope: util-genai's context key (set by request_context() and by agents and
    workflows given one), else the baggage entry request_context() also sets so it reaches Celery tasks."""
    ambient = get_ambient_conversation_id()
    if ambient:
        return ambient
    value = baggage.get_baggage(CONVERSATION_BAGGAGE_KEY)
    return str(value) if value else None


def _price_book(path: Path | None) -> PriceBook:
    """Overrides from ``path``; an unreadable or invalid file is reported and genai-prices used alone."""
    try:
        return PriceBook.from_file(path)
    except Exception as exc:
        report_internal_error("genai.prices_file", exc)
        return PriceBook()


def _settings_masker(settings: Any, meter_provider: MeterProvider | None) -> Mask | None:
    """The masker the PII settings ask for (pseudonym mode, extra patterns); None falls back to default."""
    try:
        from otel_secretary.pii import build_masker

        masker: Mask = build_masker(settings, meter_provider).mask_text
        return masker
    except Exception as exc:  # a refused pattern file: the default policy still masks
        report_internal_error("genai.build_masker", exc)
        return None


def _pii_mask_text() -> Mask:
    # Imported on first use: the detectors cost tens of milliseconds, paid only when content is captured.
    from otel_secretary.pii import mask_text

    masker: Mask = mask_text
    return masker


def _telemetry_from_environment() -> GenAITelemetry:
    from otel_secretary.settings import load_settings

    return GenAITelemetry.from_settings(load_settings())


_default: LazyDefault[GenAITelemetry] = LazyDefault(_telemetry_from_environment)


def default_telemetry() -> GenAITelemetry:
    """The process-wide telemetry; global (proxy) providers, settings from the environment."""
    return _default.get()


def set_default_telemetry(telemetry: GenAITelemetry | None) -> None:
    """Replace the process-wide telemetry (``None`` rebuilds it lazily on next use)."""
    _default.set(telemetry)
