"""An ended span's attributes, events and links read from the SDK's own storage, for the span pipeline.

``ReadableSpan.attributes`` wraps the SDK's ``BoundedAttributes`` in a ``MappingProxyType``, and every
``items()``/``values()`` on it goes through the Mapping ABC and the attribute lock: several Python calls
per attribute, on every span, in the thread that ends it. ``events`` and ``links`` build a tuple through a
generator on every read, though most spans have neither. Once a span has ended the SDK refuses new
attributes, events and links, so its storage no longer changes and can be read as is. A span from
another SDK (or a future one without that storage), or a subclass with its own properties, is read the
public way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link

_EVENTS: Final = ReadableSpan.events
_LINKS: Final = ReadableSpan.links


def sdk_attribute_dict(attributes: object) -> dict[str, Any] | None:
    """The plain dict inside an SDK ``BoundedAttributes``; None for anything else."""
    storage = getattr(attributes, "_dict", None)
    return storage if type(storage) is dict else None


def ended_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    storage = sdk_attribute_dict(getattr(span, "_attributes", None))
    return storage if storage is not None else (span.attributes or {})


def ended_events(span: ReadableSpan) -> Sequence[Event]:
    if type(span).events is _EVENTS and not getattr(span, "_events", True):
        return ()
    return span.events


def ended_links(span: ReadableSpan) -> Sequence[Link]:
    if type(span).links is _LINKS and not getattr(span, "_links", True):
        return ()
    return span.links
