"""GenAI call telemetry: ``@traced_ai_call``, cost estimation and the process-wide GenAI handler.

Spans, attributes and metrics follow the OpenTelemetry GenAI semantic conventions (v1.41 shapes, as
``opentelemetry-util-genai`` emits them); cost (``app.genai.cost``) is ours, since the
conventions have no cost attribute yet. Nothing here may raise into the host app.
"""

from ._cost import PriceBook, PriceFileError, Rates, load_price_file
from ._decorator import TracedAsyncStream, TracedStream, traced_ai_call
from ._extract import Usage
from ._telemetry import (
    COST_ATTRIBUTE,
    COST_METRIC,
    UNPRICED_METRIC,
    GenAITelemetry,
    default_telemetry,
    set_default_telemetry,
)

__all__ = [
    "COST_ATTRIBUTE",
    "COST_METRIC",
    "UNPRICED_METRIC",
    "GenAITelemetry",
    "PriceBook",
    "PriceFileError",
    "Rates",
    "TracedAsyncStream",
    "TracedStream",
    "Usage",
    "default_telemetry",
    "load_price_file",
    "set_default_telemetry",
    "traced_ai_call",
]
