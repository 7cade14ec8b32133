"""An ended span's attributes as the SDK's own plain dict, for processors on the request path.

``ReadableSpan.attributes`` wraps the SDK's ``BoundedAttributes`` in a ``MappingProxyType``, and every
``items()``/``values()`` on it goes through the Mapping ABC and the attribute lock: several Python calls
per attribute, on every span, in the thread that ends it. Once a span has ended the SDK refuses new
attributes, so its dict no longer changes and can be read as is. A span from another SDK (or a future
one without that storage) is read the public way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def ended_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    storage = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(storage) is dict:
        return storage
    return span.attributes or {}
