"""The masker: finds PII and secrets by value (and by key), replaces only the offending substring.

It owns the scan and the replacement policy and nothing else: no OTel types appear here except the
counter it reports to. It must never raise to its callers for a *value*; each value is masked under a
fail-closed guard (see :meth:`Masker.mask_value`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import MeterProvider

from otel_secretary import semconv
from otel_secretary.pii._detectors import DETECTORS, PLACEHOLDER, Detector
from otel_secretary.pii._keys import value_key_kind
from otel_secretary.pii._names import (
    NameMemory,
    bare_name_is_person,
    local_part_names,
    looks_like_name,
    name_parts,
)
from otel_secretary.pii._scanner import Hit, Scanner
from otel_secretary.pii._validators import card_length
from otel_secretary.sdk.metrics.summed_counter import SummedCounter
from otel_secretary.sdk.trace.ended_attributes import sdk_attribute_dict
from otel_secretary.settings import PII_MODES, PiiMode
from otel_secretary.version import __version__

if TYPE_CHECKING:
    from otel_secretary.pii._live_learning import LiveNameLearning

_log = logging.getLogger(__name__)
_SCOPE = "otel_secretary.pii"

REDACTED = "<redacted>"
FAILED = "<redaction-failed>"

# Short values are prefiltered (one regex search decides most of them); values up to _CACHEABLE are
# memoised, which covers repeated user agents, routes and the stack traces of recurring errors.
_PREFILTERED = 256
_CACHEABLE = 1024
_PLACEHOLDER = re.compile(PLACEHOLDER)
_LOCAL_PART = re.compile(r"([A-Za-z0-9._%+-]{1,64})@[A-Za-z0-9-]{1,63}\.[A-Za-z]")


def _plain_items(attributes: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """The items of an SDK ``BoundedAttributes`` read from its plain dict (its ``items()`` goes through
    the Mapping ABC and the attribute lock, several Python calls per item); any other mapping as is.
    The dict is copied first, so a span still being written cannot change it under the loop."""
    storage = sdk_attribute_dict(attributes)
    return storage.copy().items() if storage is not None else attributes.items()


_JSON_NAME_KEY = re.compile(r"(?i)name\"|attendee|organi[sz]er|sender|recipient|customer")
# Neighbours that can neither glue a placeholder into a new match ("1<card>", "x@<email>") nor have
# vetoed a detection next to the replaced text ("x@example.com(555) 010-0199": the phone was glued to a
# word; once that word is "<email>" it is not). Any other neighbour triggers one more pass.
_MAX_PASSES = 16
_INERT = frozenset(" \t\n\r,;\"'<>[]{}|.!?:)=&")
_DIGITS = frozenset("0123456789")
# "." and ":" are inert unless they join two words: then the hit may have taken part of a longer value
# that lost to it, and the rest is a value of its own ("sk_live_…789jane" + ".doe@example.com";
# "2001:db8::" + "1jane@example.com", an IPv6 head). One more pass masks that rest.
_SEPARATORS = frozenset(".:")


def _touches_joiner(text: str, hits: list[Hit]) -> bool:
    """The characters next to each hit, and a digit one blank away ("+44 20 7946 0958192.0.2.33": the
    phone was vetoed as the head of a longer number that is now a placeholder)."""
    length = len(text)
    for hit in hits:
        start, end = hit.start, hit.end
        if start and (text[start - 1] not in _INERT or (start > 1 and text[start - 2] in _DIGITS)):
            return True
        if (
            start > 1
            and text[start - 1] in _SEPARATORS
            and (text[start - 2].isalnum() or text[start - 2] == ":")
        ):
            return True
        if end + 1 < length and text[end] in _SEPARATORS and text[end + 1].isalnum():
            return True
        if end < length and (text[end] not in _INERT or (end + 1 < length and text[end + 1] in _DIGITS)):
            return True
    return False


class _TraceLocal(threading.local):
    """The trace a thread is masking for; a class default, so reading it never raises AttributeError."""

    trace: int | None = None


class _TraceScope:
    __slots__ = ("_local", "_previous", "_trace")

    def __init__(self, local: _TraceLocal, trace: int | None) -> None:
        self._local = local
        self._trace = trace
        self._previous: int | None = None

    def __enter__(self) -> None:
        self._previous = self._local.trace
        self._local.trace = self._trace

    def __exit__(self, *exc_info: object) -> None:
        self._local.trace = self._previous


@dataclass
class Redactions:
    """What one span/record lost to masking: counts and kinds only, never a value."""

    count: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    failures: int = 0

    def add(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            self.count += 1
            self.kinds[kind] = self.kinds.get(kind, 0) + 1


class Masker:
    """Masks text, attribute values and nested bodies; thread-safe (no mutable state besides caches)."""

    def __init__(
        self,
        *,
        mode: PiiMode = "placeholder",
        key: str | bytes = b"",
        mask_ip: bool = True,
        card_keep_last4: bool = False,
        extra_detectors: Sequence[Detector] = (),
        meter_provider: MeterProvider | None = None,
        cache_size: int = 4096,
        names: bool = True,
    ) -> None:
        if mode not in PII_MODES:
            raise ValueError(f"unknown PII mode {mode!r}: expected placeholder or pseudonym")
        if mode == "pseudonym" and not key:
            raise ValueError("pseudonym mode needs a non-empty key")
        self.mode = mode
        self._key = key.encode() if isinstance(key, str) else key
        self.card_keep_last4 = card_keep_last4
        self.mask_ip = mask_ip
        self.detectors = tuple(d for d in (*DETECTORS, *extra_detectors) if mask_ip or d.kind != "ip")
        self._scanner = Scanner(self.detectors, names=names)
        # Names learned from structured places, per trace (see :meth:`trace_scope`); never exported.
        self.names = NameMemory()
        # Set by a LiveNameLearning span processor: spans then teach names as they end (app thread), and
        # the log exporter asks it for the names of spans still open (pii/_live_learning.py).
        self.live_learning: LiveNameLearning | None = None
        self._learned = self.names.traces  # membership test in C on the hot path
        self._local = _TraceLocal()
        # Telemetry repeats its short values (methods, routes, model names, SQL, status text) on every
        # request; the prefilter's answer depends on the text alone, so it is remembered per value.
        self._may_match = (
            functools.lru_cache(maxsize=cache_size)(self._scanner.may_match)
            if cache_size
            else self._scanner.may_match
        )
        self._cache_size = cache_size
        self._cached_scan = functools.lru_cache(maxsize=cache_size)(self._scan)
        # Summed in process and reported at collection (SummedCounter says what that gives up: exemplars):
        # an SDK Counter.add costs 3-6 µs per reader, and an item adds once per kind it lost. One counter
        # per provider, shared by every masker on it.
        self._redaction_counter = SummedCounter.shared(
            meter_provider, _SCOPE, __version__, semconv.PII_REDACTIONS
        )
        self._failure_counter = SummedCounter.shared(
            meter_provider, _SCOPE, __version__, semconv.PII_FAILURES
        )
        self._failure_logged = False

    # ---------------------------------------------------------------- public API
    def mask_text(self, text: str, redactions: Redactions | None = None) -> str:
        """Replace each PII substring with a typed placeholder; the rest of the text is kept."""
        return self._mask_text(text, redactions, False)

    def _mask_text(self, text: str, redactions: Redactions | None, prefiltered: bool) -> str:
        """``prefiltered``: the caller already ran the prefilter on ``text`` and it may match."""
        trace = self._local.trace
        if len(text) <= _CACHEABLE:
            if not prefiltered and len(text) <= _PREFILTERED and not self._may_match(text):
                # the common case: one regex search, no scan, no cache lookup
                if trace is None or trace not in self._learned:
                    return text
                return self._mask_learned(trace, text, redactions)
            masked, kinds, found = self._cached_scan(text) if self._cache_size else self._scan(text)
        else:
            masked, kinds, found = self._scan(text)
        if kinds and redactions is not None:
            redactions.add(kinds)
        if trace is not None:
            if found:
                self.names.learn(trace, _learnable(found))
            if trace in self._learned:
                masked = self._mask_learned(trace, masked, redactions)
        return masked

    def trace_scope(self, trace_id: int | None) -> _TraceScope:
        """Within this block (on this thread) names are learned for ``trace_id`` and every name learned
        for it so far is masked wherever it recurs. The span and log exporters open one per item (and
        the console filter one per line), so it is a small class: a generator-based context manager
        cost a microsecond per span."""
        return _TraceScope(self._local, trace_id or None)

    def names_learned_in_scope(self) -> bool:
        """Whether the trace of the current :meth:`trace_scope` has learned names: its values may then
        mask differently from the same values elsewhere, so nothing remembered as clean applies."""
        trace = self._local.trace
        return trace is not None and trace in self._learned

    def learn(self, trace_id: int, attributes: Mapping[str, Any] | None) -> None:
        """Remember the names that structured places of ``attributes`` hold (name and role keys, e-mail
        local parts, names inside JSON strings), so the rest of the trace masks them in free text."""
        if not trace_id or not attributes:
            return
        try:
            names: list[str] = []
            collect = self._collect_names
            # Every ended span passes here in the thread that ended it: the values that cannot teach a
            # name (numbers, and strings under a plain key with no "@" and no JSON: the string places
            # _collect_names reads) are skipped inline, without a call each.
            for key, value in _plain_items(attributes):
                kind = type(value)
                if kind is str:
                    if "@" not in value and '":' not in value and value_key_kind(key) is None:
                        continue
                elif kind is int or kind is float or kind is bool:
                    continue
                collect(key, value, names, 0)
            if names:
                self.names.learn(trace_id, names)
        except Exception:
            # Learning is best effort: the value is still masked (fail-closed) when it is exported.
            return

    def _collect_names(self, key: str | None, value: Any, names: list[str], depth: int) -> None:
        """Structured places only (cheap): name and role keys, e-mail local parts, JSON carrying a name
        key. Names after cues in free text are learned while that text is masked."""
        if isinstance(value, str):
            kind = value_key_kind(key) if key is not None else None
            if (kind in ("name", "person") and looks_like_name(value)) or (
                kind == "bare_name" and bare_name_is_person(value)
            ):
                names.extend(name_parts(value))
            elif "@" in value:
                for local in _LOCAL_PART.findall(value[:_CACHEABLE]):
                    names.extend(local_part_names(local))
            if '":' in value and _JSON_NAME_KEY.search(value) is not None and len(value) <= _CACHEABLE:
                names.extend(_learnable(self._cached_scan(value)[2]))  # cached: masking it next is free
        elif depth < 4 and isinstance(value, Mapping):
            for child_key, child in value.items():
                self._collect_names(str(child_key), child, names, depth + 1)
        elif depth < 4 and isinstance(value, list | tuple):
            for item in value:
                self._collect_names(key, item, names, depth + 1)

    def mask_value(self, key: str | None, value: Any, redactions: Redactions | None = None) -> Any:
        """Mask one attribute value of any OTel type; fail closed: a value that raises is dropped."""
        try:
            if type(value) is str:  # the hot path, inlined: most attribute values are short strings
                if key is not None and (kind := value_key_kind(key)) is not None:
                    if kind != "bare_name":
                        return self._redact_whole(value, kind, redactions)
                    if bare_name_is_person(value):
                        return self._redact_whole(value, "name", redactions)
                    # a label under a bare "name" ("Inbox"): masked by value, like any other value
                if len(value) > _PREFILTERED:
                    return self._mask_text(value, redactions, False)
                if self._may_match(value):
                    return self._mask_text(value, redactions, True)
                trace = self._local.trace
                if trace is None or trace not in self._learned:
                    return value
                return self._mask_learned(trace, value, redactions)
            return self._mask_value(key, value, redactions)
        except Exception:
            self._record_failure(redactions, "value")
            return FAILED

    def mask_attributes(
        self, attributes: Mapping[str, Any] | None, redactions: Redactions | None = None
    ) -> dict[str, Any]:
        if not attributes:
            return {}
        return {key: self.mask_value(key, value, redactions) for key, value in attributes.items()}

    def record(self, redactions: Redactions, signal: str) -> None:
        """Publish one item's redactions to the counters (low-cardinality labels: kind and signal)."""
        for kind, count in redactions.kinds.items():
            self._redaction_counter.add(count, {"kind": kind, "signal": signal})
        if redactions.failures:
            self._failure_counter.add(redactions.failures, {"signal": signal})

    def note_failure(self, signal: str, redactions: Redactions | None = None) -> None:
        self._record_failure(redactions, signal)

    # ---------------------------------------------------------------- values
    def _mask_value(self, key: str | None, value: Any, redactions: Redactions | None) -> Any:
        if type(value) is str or isinstance(value, str):
            if key is not None and (kind := value_key_kind(key)) is not None:
                return self._redact_whole(value, kind, redactions)
            return self.mask_text(value, redactions)
        if type(value) is int and value >= 10**12 and card_length(str(value)) == len(str(value)):
            # A card number stored as an integer ("card.number": 4242424242424242) is still a card.
            if redactions is not None:
                redactions.add(("card",))
            return self._placeholder("card", str(value))
        if isinstance(value, bool | int | float) or value is None:
            # Type-aware: a number or flag under an alarming key ("password_length") is not a secret.
            return value
        if isinstance(value, bytes | bytearray):
            text = bytes(value).decode("utf-8", errors="replace")
            masked = self._mask_value(key, text, redactions)
            return value if masked == text else masked.encode()
        if isinstance(value, Mapping):
            return {str(k): self._mask_value(str(k), v, redactions) for k, v in value.items()}
        if isinstance(value, Sequence):
            return tuple(self._mask_value(key, item, redactions) for item in value)
        # Unknown objects are exported as their str() by most exporters: mask that.
        return self._mask_value(key, str(value), redactions)

    def _redact_whole(self, value: str, kind: str, redactions: Redactions | None) -> str:
        """Secrets become ``<redacted>``; names go through the usual placeholder (pseudonym-aware)."""
        if not value or _PLACEHOLDER.fullmatch(value):
            return value
        if kind == "person":
            # A role ("organizer", "stripe.customer"): a name is masked whole, anything else by value.
            if not looks_like_name(value):
                return self.mask_text(value, redactions)
            kind = "name"
        elif kind == "bare_name":
            # A bare "name" holds labels too ("Inbox", "Travel Planner"): only a person goes whole.
            if not bare_name_is_person(value):
                return self.mask_text(value, redactions)
            kind = "name"
        if kind == "name" and (trace := self._local.trace) is not None:
            self.names.learn(trace, name_parts(value))
        if redactions is not None:
            redactions.add((kind,))
        return REDACTED if kind == "secret" else self._placeholder(kind, value.strip())

    def _record_failure(self, redactions: Redactions | None, signal: str) -> None:
        if redactions is not None:
            redactions.failures += 1
        else:
            self._failure_counter.add(1, {"signal": signal})
        if not self._failure_logged:
            self._failure_logged = True
            # Type and place only: an exception message can quote the very value that was being masked.
            exc = sys.exc_info()[1]
            frame = traceback.extract_tb(exc.__traceback__)[-1] if exc and exc.__traceback__ else None
            where = f"{frame.filename}:{frame.lineno}" if frame else "?"
            _log.error(
                "otel-secretary: masking a value raised %s at %s; the value was dropped (logged once)",
                type(exc).__name__,
                where,
            )

    # ---------------------------------------------------------------- scanning
    def _scan(self, text: str) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]:
        """Mask to a fixed point, so mask(mask(x)) == mask(x); also returns what names can be learned
        from (names found, e-mail local parts: see :func:`_learnable`), so a cached result still teaches
        the trace its names. They are split into names only when a trace learns them.

        A replacement can only create a new match when it touches a character that could join it to a
        neighbour ("1<card>", "x@<email>"); only then is the result scanned again. Every pass replaces
        at least one value, so a chain of glued values ("…@example.com+44 20 7946 0958+44 …") converges.
        """
        hits = self._scanner.scan(text)
        if not hits:
            return text, (), ()
        if len(hits) == 1 and not _touches_joiner(text, hits):
            # The common case, one value and one pass, without the bookkeeping of the loop below.
            start, end, kind, _ = hits[0]
            found = ((kind, text[start:end]),) if kind == "name" or kind == "email" else ()
            return self._replace(text, hits), (kind,), found
        all_kinds: list[str] = []
        names: list[tuple[str, str]] = []
        for _ in range(_MAX_PASSES):
            if not hits:
                hits = self._scanner.scan(text)
            if not hits:
                break
            for hit in hits:
                kind = hit.kind
                all_kinds.append(kind)
                if kind == "name" or kind == "email":
                    names.append((kind, text[hit.start : hit.end]))
            rescan = _touches_joiner(text, hits)
            text = self._replace(text, hits)
            if not rescan:
                break
            hits = []
        return text, tuple(all_kinds), tuple(names)

    def _mask_learned(self, trace: int, text: str, redactions: Redactions | None) -> str:
        """Mask the names this trace taught us wherever they recur ("Priya" in a span name or SQL)."""
        pattern = self.names.pattern_for(trace, text)
        if pattern is None:
            return text
        found: list[str] = []

        def replace(match: re.Match[str]) -> str:
            found.append("name")
            return self._placeholder("name", match.group())

        masked = pattern.sub(replace, text)
        if found and redactions is not None:
            redactions.add(found)
        return masked

    def _replace(self, text: str, hits: list[Hit]) -> str:
        pieces: list[str] = []
        last = 0
        if self.mode != "pseudonym" and not self.card_keep_last4:
            # Typed placeholders that do not depend on the value (the default): no call per hit.
            if len(hits) == 1:
                start, end, kind, _ = hits[0]
                return f"{text[:start]}<{kind}>{text[end:]}"
            for start, end, kind, _ in hits:
                pieces.append(text[last:start])
                pieces.append(f"<{kind}>")
                last = end
        else:
            for start, end, kind, _ in hits:
                pieces.append(text[last:start])
                pieces.append(self._placeholder(kind, text[start:end]))
                last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def _placeholder(self, kind: str, raw: str) -> str:
        if kind == "card" and self.card_keep_last4:
            digits = [char for char in raw if char.isdigit()]
            return f"<card:{''.join(digits[-4:])}>"
        if self.mode == "pseudonym":
            normal = raw.lower() if kind in ("email", "name") else "".join(ch for ch in raw if ch.isalnum())
            return f"<{kind}:{pseudonym_digest(self._key, kind, normal)}>"
        return f"<{kind}>"


def _learnable(found: Iterable[tuple[str, str]]) -> list[str]:
    """The names worth remembering in what a scan found: each name and its words, the words of each
    e-mail's local part ("priya.natarajan@…" → "priya", "natarajan")."""
    names: list[str] = []
    for kind, raw in found:
        if kind == "name":
            names.extend(name_parts(raw))
        else:
            names.extend(local_part_names(raw.split("@", 1)[0].split("%40", 1)[0]))
    return names


def pseudonym_digest(key: bytes, kind: str, value: str, length: int = 8) -> str:
    """The one pseudonym scheme: HMAC-SHA256 over ``kind:value`` with the deployment key, truncated.
    The kind is part of the message, so an e-mail and a user id that are the same string differ."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:length]
