"""Everything that leaves for a notification channel passes the PII masker, and delivery leaves no trace.

Alert labels come from span names and metric attributes (a route with an e-mail in its path, a tenant id
that is an address); annotations expand ``{{ $labels.x }}``. The channels' payloads (Slack blocks, the
webhook JSON, PagerDuty ``custom_details``, the e-mail body) are all built from one
:class:`~otel_secretary.rules.engine.Notification`, so masking that object once, before it is queued,
covers every channel, the dead-letter file and the retries. Delivery itself runs with OpenTelemetry
instrumentation suppressed: an instrumented httpx would otherwise export the Slack webhook URL or a
webhook path token as ``url.full`` on a client span.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry.instrumentation.utils import suppress_http_instrumentation, suppress_instrumentation

from otel_secretary import pii

if TYPE_CHECKING:
    from otel_secretary.alerting.model import Notification

_FAILED = "<redacted>"


def mask_text(text: str, masker: pii.Masker | None = None) -> str:
    try:
        return masker.mask_text(text) if masker is not None else pii.mask_text(text)
    except Exception:
        return _FAILED  # fail closed: a value we cannot mask does not leave


def mask_labels(labels: Mapping[str, Any], masker: pii.Masker | None = None) -> dict[str, str]:
    """Keys and values: a key that names PII (``customer_email``) redacts its value whole; a key that
    is itself PII (an address used as a label name) is replaced by its masked form."""
    masked: dict[str, str] = {}
    for key, value in labels.items():
        try:
            if masker is not None:
                new = masker.mask_value(key, str(value))
            else:
                new = pii.mask_attributes({key: str(value)})[key]
        except Exception:
            new = _FAILED
        masked[mask_text(str(key), masker)] = str(new)
    return masked


def mask_notification(notification: Notification, masker: pii.Masker | None = None) -> Notification:
    """A copy with alert name, labels and annotations masked (fingerprint and times kept)."""
    return replace(
        notification,
        alertname=mask_text(notification.alertname, masker),
        labels=mask_labels(notification.labels, masker),
        annotations={k: mask_text(str(v), masker) for k, v in notification.annotations.items()},
    )


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """No span, metric or log instrumentation for the calls inside (our channels' own HTTP/SMTP)."""
    with suppress_instrumentation(), suppress_http_instrumentation():
        yield


def redact_url(url: str) -> str:
    """``scheme://host`` only: webhook paths and query strings carry tokens (Slack, generic hooks)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _FAILED
    if not parts.scheme or not parts.netloc:
        return _FAILED
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…" if parts.path not in ("", "/") or parts.query else url


def scrub(text: str, secrets: Sequence[str]) -> str:
    """Remove every secret (URL, path, token) from an error message before it is logged or kept."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, _FAILED)
    return re.sub(r"https?://[^\s'\"<>]+", lambda m: redact_url(m.group(0)), text)
