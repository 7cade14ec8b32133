"""otel-secretary: OpenTelemetry for the AI-secretary SaaS.

Zero-code: ``opentelemetry-instrument flask --app … run`` loads our ``secretary`` distro and
configurator. In code: ``otel_secretary.configure()``. Either way every exported signal passes the
PII masker first.

Names from the feature areas are imported lazily, so ``import otel_secretary`` stays cheap and an
app that never calls an AI model never imports the GenAI machinery.
"""

from __future__ import annotations

import importlib
from typing import Any

from otel_secretary._configure import configure
from otel_secretary.context import pseudonymize, request_context
from otel_secretary.settings import Settings, SettingsError, load_settings
from otel_secretary.version import __version__

_LAZY = {
    "traced_ai_call": "otel_secretary.genai",
    "traced_tool": "otel_secretary.genai",
    "traced_agent": "otel_secretary.genai",
    "traced_workflow": "otel_secretary.genai",
    "dispatch_tool_calls": "otel_secretary.genai",
    "record_feedback": "otel_secretary.genai",
    "traced_external_call": "otel_secretary.instrumentation.external",
    "traced_stripe_webhook": "otel_secretary.instrumentation.stripe",
    "mask_text": "otel_secretary.pii",
    "mask_attributes": "otel_secretary.pii",
    "classify": "otel_secretary.errors",
    "record_exception": "otel_secretary.errors",
}

__all__ = [
    "Settings",
    "SettingsError",
    "__version__",
    "classify",
    "configure",
    "dispatch_tool_calls",
    "load_settings",
    "mask_attributes",
    "mask_text",
    "pseudonymize",
    "record_exception",
    "record_feedback",
    "request_context",
    "traced_agent",
    "traced_ai_call",
    "traced_external_call",
    "traced_stripe_webhook",
    "traced_tool",
    "traced_workflow",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_secretary' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
