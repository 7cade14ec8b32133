"""A stdlib ``logging.Filter`` that masks what console and file handlers would print.

The OTel log pipeline is masked by ``MaskingLogRecordExporter``; this covers every *other* handler
(stderr, files, gunicorn's error log) that formats the same ``LogRecord``. It never drops a record and
never raises: a record it cannot mask has its message replaced by the failure marker.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from opentelemetry import trace

from otel_secretary.pii._keyed import mask_key, mask_keyed
from otel_secretary.pii._masker import FAILED, Masker

# Attributes every LogRecord has; anything else came from ``extra=`` and is user data.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "otelSpanID",
    "otelTraceID",
    "otelServiceName",
    "otelTraceSampled",
}


class MaskingLoggingFilter(logging.Filter):
    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self._masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_otel_secretary_masked", False):
            return True
        try:
            # Names learned from this trace's structured places are masked on the console too.
            trace_id = trace.get_current_span().get_span_context().trace_id
            live = self._masker.live_learning
            if trace_id and live is not None:
                live.learn_open_spans((trace_id,))  # this line may name whom an open span names
            with self._masker.trace_scope(trace_id):
                self._mask(record)
        except Exception:
            record.msg, record.args, record.exc_text = FAILED, None, FAILED
            self._masker.note_failure("logging")
        record._otel_secretary_masked = True
        return True

    def _mask(self, record: logging.LogRecord) -> None:
        mask = self._masker.mask_text
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and not key.startswith("_"):
                # ``extra=`` keys can hold PII too (JSON formatters print every key): mask them as well.
                masked_value: Any = mask_keyed(self._masker, key, value, None)
                masked_key = mask_key(self._masker, key, None)
                if masked_key != key:
                    delattr(record, key)
                    while hasattr(record, masked_key):
                        masked_key += "~"
                setattr(record, masked_key, masked_value)
