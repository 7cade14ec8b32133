"""PII and secret masking for every signal: spans, logs, metrics, stdlib logging and Sentry.

One pattern set (``_detectors``) feeds the in-process masker and the generated Collector config. The
pipeline wraps every exporter in the ``Masking*`` classes below, so nothing leaves the process unmasked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from otel_secretary._internal.lazy_default import LazyDefault
from otel_secretary.pii._detectors import DETECTORS, Detector
from otel_secretary.pii._exporters import (
    MaskingLogRecordExporter,
    MaskingMetricExporter,
    MaskingPrometheusMetricReader,
    MaskingSpanExporter,
)
from otel_secretary.pii._keys import is_sensitive_key
from otel_secretary.pii._live_learning import LiveNameLearning
from otel_secretary.pii._logging import MaskingLoggingFilter
from otel_secretary.pii._masker import FAILED, REDACTED, Masker, Redactions, pseudonym_digest
from otel_secretary.pii._patterns import PatternError, check_pattern, load_patterns
from otel_secretary.pii._pseudonym_key import KeyStatus, key_status, pseudonym_key
from otel_secretary.pii._sentry import sentry_scrubber

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

    from otel_secretary.settings import Settings

__all__ = [
    "DETECTORS",
    "FAILED",
    "REDACTED",
    "Detector",
    "KeyStatus",
    "LiveNameLearning",
    "Masker",
    "MaskingLogRecordExporter",
    "MaskingLoggingFilter",
    "MaskingMetricExporter",
    "MaskingPrometheusMetricReader",
    "MaskingSpanExporter",
    "PatternError",
    "Redactions",
    "build_masker",
    "check_pattern",
    "is_sensitive_key",
    "key_status",
    "load_patterns",
    "mask_attributes",
    "mask_text",
    "pseudonym_digest",
    "pseudonym_key",
    "sentry_scrubber",
]


def build_masker(settings: Settings, meter_provider: MeterProvider | None = None) -> Masker:
    """The masker the settings ask for; a refused extra-patterns file raises :class:`PatternError`."""
    extra = load_patterns(settings.pii_extra_patterns) if settings.pii_extra_patterns else ()
    return Masker(
        mode=settings.pii_mode,
        key=settings.pii_key,
        mask_ip=settings.pii_mask_ip,
        card_keep_last4=settings.pii_card_keep_last4,
        extra_detectors=extra,
        meter_provider=meter_provider,
    )


_default: LazyDefault[Masker] = LazyDefault(lambda: Masker())


def _default_masker() -> Masker:
    return _default.get()


def mask_text(text: str) -> str:
    """Mask ``text`` with the default policy (typed placeholders, IPs masked)."""
    return _default_masker().mask_text(text)


def mask_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Mask an attribute mapping with the default policy: key rules first, then values."""
    return _default_masker().mask_attributes(attributes)
