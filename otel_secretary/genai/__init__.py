"""GenAI telemetry: model calls, tools, agents, workflows, cost and user feedback.

``@traced_ai_call`` (model calls), ``@traced_tool``, ``traced_agent``, ``traced_workflow`` and
``dispatch_tool_calls`` (agent turns), ``record_feedback`` (thumbs up/down), cost estimation and the
process-wide GenAI handler. Spans, attributes and metrics follow the OpenTelemetry GenAI semantic
conventions (v1.41 shapes, as ``opentelemetry-util-genai`` emits them); cost (``app.genai.cost``)
is ours, since the conventions have no cost attribute yet. Nothing here may raise into the host app.
"""

from ._agents import (
    adispatch_tool_calls,
    dispatch_tool_calls,
    tool_call_scope,
    traced_agent,
    traced_tool,
    traced_workflow,
)
from ._content import TOOL_CALL_IDS, TOOL_CALL_NAMES
from ._cost import PriceBook, PriceFileError, Rates, load_price_file
from ._decorator import TracedAsyncStream, TracedStream, traced_ai_call
from ._extract import Usage
from ._feedback import EVALUATION_EVENT, record_feedback
from ._telemetry import (
    COST_ATTRIBUTE,
    COST_METRIC,
    FEEDBACK_METRIC,
    FEEDBACK_SENTIMENT,
    UNPRICED_METRIC,
    GenAITelemetry,
    default_telemetry,
    set_default_telemetry,
)

__all__ = [
    "COST_ATTRIBUTE",
    "COST_METRIC",
    "EVALUATION_EVENT",
    "FEEDBACK_METRIC",
    "FEEDBACK_SENTIMENT",
    "TOOL_CALL_IDS",
    "TOOL_CALL_NAMES",
    "UNPRICED_METRIC",
    "GenAITelemetry",
    "PriceBook",
    "PriceFileError",
    "Rates",
    "TracedAsyncStream",
    "TracedStream",
    "Usage",
    "adispatch_tool_calls",
    "default_telemetry",
    "dispatch_tool_calls",
    "load_price_file",
    "record_feedback",
    "set_default_telemetry",
    "tool_call_scope",
    "traced_agent",
    "traced_ai_call",
    "traced_tool",
    "traced_workflow",
]
