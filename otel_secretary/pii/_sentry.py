"""Masking for everything sentry-sdk sends: events, transactions, breadcrumbs, logs, whole envelopes.

sentry-sdk's ``EventScrubber`` matches exact key names only and skips the exception message; this walks
the whole event (message, exception values, frame vars, request, breadcrumbs, spans' data) with the same
masker as the OTel pipeline, keys included. Rules on top of the masker's:

- a credential-named key (``cookies``, ``authorization``, ``credentials``) redacts everything under it,
  not only a string directly under it (``request.cookies`` is a mapping of name to value);
- query strings (``request.query_string``, ``http.query``, ``url.query``) are split into pairs, decoded,
  and each key and value masked on its own, then encoded again: ``%2B44%2020…`` and ``4539+1488…`` are
  masked whatever the text scanner knows about percent-encoding;
- any other string with ``%XX`` or ``+`` is masked in its decoded form too, and that result wins when it
  found more;
- ``ip_address`` entries are removed (``{{auto}}`` would make Sentry's ingest fill in the client IP) and
  a session's distinct id becomes a keyed pseudonym.

An event that cannot be masked is dropped, never sent raw (fail closed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_plus, urlencode

from otel_secretary.pii._keyed import mask_key
from otel_secretary.pii._keys import key_kind
from otel_secretary.pii._masker import REDACTED, Masker, Redactions

SentryHook = Callable[[Any, Any], Any]

# Ids and timestamps: their values are masked by value only (no key rule: "sid" is a session uuid, not a
# credential); numbers and flags under them are kept.
_STRUCTURAL: Final = frozenset(
    {
        "event_id", "trace_id", "span_id", "parent_span_id", "segment_id", "timestamp", "start_timestamp",
        "sent_at", "sid", "started", "init", "level", "platform", "lineno", "colno", "in_app",
        "time_unix_nano", "severity_number", "sample_rate", "sample_rand", "sampled",
    }
)  # fmt: skip
# SDK metadata (name, version, integrations, packages): produced by sentry-sdk, never user data.
_VERBATIM: Final = frozenset({"sdk"})
# Span, trace, event and session ids: random hex cannot be personal, and a digit run inside one must not
# be taken for a phone number (that would break the event). At least one a-f letter is required, so a
# card or phone number stored under such a key is still masked.
_ID_VALUE: Final = re.compile(
    r"(?=[0-9a-f-]*[a-f])"
    r"(?:[0-9a-f]{16}|[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
_QUERY_KEYS: Final = frozenset({"query_string", "http.query", "url.query", "query"})
_DROPPED: Final = frozenset({"ip_address"})
_ENCODED: Final = re.compile(r"%[0-9A-Fa-f]{2}|\+")
_MAX_DEPTH: Final = 48


def sentry_scrubber(masker: Masker) -> SentryHook:
    """``(event, hint) -> event | None``: the masked copy, or ``None`` when masking failed."""

    def scrub(event: Any, hint: Any) -> Any:
        redactions = Redactions()
        try:
            scrubbed = scrub_tree(masker, event, redactions)
        except Exception:
            masker.note_failure("sentry")
            return None
        masker.record(redactions, "sentry")
        return scrubbed

    return scrub


def scrub_tree(
    masker: Masker, value: Any, redactions: Redactions, pseudonymize: Callable[[str], str] | None = None
) -> Any:
    """A masked copy of a JSON-like Sentry payload (raises on failure; callers fail closed)."""
    return _walk(masker, None, value, redactions, False, pseudonymize, 0)


def _walk(
    masker: Masker,
    key: str | None,
    value: Any,
    redactions: Redactions,
    secret: bool,
    pseudonymize: Callable[[str], str] | None,
    depth: int,
) -> Any:
    if depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for raw_key, inner in value.items():
            name = str(raw_key)
            if name in _DROPPED:
                continue
            if name in _VERBATIM and depth == 0 and isinstance(inner, Mapping):  # the event's own
                result[name] = inner
                continue
            if name in _STRUCTURAL and not secret and isinstance(inner, str | bool | int | float | None):
                kept = inner
                if isinstance(inner, str) and not _ID_VALUE.fullmatch(inner):
                    kept = mask_string(masker, None, inner, redactions)
                result[name] = kept
                continue
            if name == "did" and pseudonymize is not None and isinstance(inner, str) and inner:
                result[name] = pseudonymize(inner)
                continue
            rule_key = key if name == "value" and key is not None and _is_typed_value(value) else name
            masked_name = mask_key(masker, name, redactions)
            while masked_name in result:
                masked_name += "~"
            child_secret = secret or (
                isinstance(inner, Mapping | list | tuple) and key_kind(name) == "secret"
            )
            result[masked_name] = _walk(
                masker, rule_key, inner, redactions, child_secret, pseudonymize, depth + 1
            )
        return result
    if isinstance(value, list | tuple):
        items = [_walk(masker, key, item, redactions, secret, pseudonymize, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        if secret:
            if value and value != REDACTED:
                redactions.add(("secret",))
            return REDACTED if value else value
        if key in _QUERY_KEYS:
            return mask_query(masker, value, redactions)
        return mask_string(masker, key, value, redactions)
    return masker.mask_value(key, value, redactions)


def _is_typed_value(mapping: Mapping[Any, Any]) -> bool:
    """Sentry's serialised log/metric attribute ``{"value": …, "type": "string"}``."""
    return len(mapping) == 2 and "value" in mapping and "type" in mapping


def mask_string(masker: Masker, key: str | None, value: str, redactions: Redactions) -> Any:
    """The masker's result, or the masked *decoded* text when decoding revealed more PII."""
    if key is not None and len(value) > 2 and value[0] == value[-1] and value[0] in "'\"":
        # A frame's local variable as Sentry serialises it, ``'Ada Lovelace'`` (a repr): the key's
        # rules (``attendee``, ``customer`` …) apply to the quoted text, not to the quotes.
        inner = masker.mask_value(key, value[1:-1], redactions)
        if isinstance(inner, str) and inner != value[1:-1]:
            return value[0] + inner + value[-1]
    masked = masker.mask_value(key, value, redactions)
    if not isinstance(masked, str) or not _ENCODED.search(masked):
        return masked
    decoded = unquote_plus(masked)
    if decoded == masked:
        return masked
    found = Redactions()
    again = masker.mask_text(decoded, found)
    if not found.count:
        return masked
    redactions.add(kind for kind, count in found.kinds.items() for _ in range(count))
    return again


def mask_query(masker: Masker, query: str, redactions: Redactions) -> str:
    """``a=1&email=x%40y.z`` → each pair decoded, masked (key rules included), encoded again."""
    if not query:
        return query
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        pairs = []
    if not pairs:
        result = mask_string(masker, None, query, redactions)
        return result if isinstance(result, str) else REDACTED
    masked_pairs = []
    for name, value in pairs:
        masked_value = masker.mask_value(name, value, redactions)
        if masked_value == value and value:
            # The text scan's cues hold for a pair as they do in ``url.query`` ("name=Ada Lovelace").
            pair = masker.mask_text(f"{name}={value}", redactions)
            if pair.startswith(f"{name}=") and pair != f"{name}={value}":
                masked_value = pair[len(name) + 1 :]
        masked_pairs.append(
            (mask_key(masker, name, redactions), masked_value if isinstance(masked_value, str) else REDACTED)
        )
    return urlencode(masked_pairs, safe="<>:")


def scrub_json_bytes(masker: Masker, payload: bytes, redactions: Redactions) -> bytes | None:
    """A JSON (or JSON-lines) payload masked; ``None`` when it is neither JSON nor text."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        masked_text = masker.mask_text(text, redactions)
        return masked_text.encode("utf-8")
    return json.dumps(scrub_tree(masker, parsed, redactions), separators=(",", ":")).encode("utf-8")


# Envelope headers sentry-sdk writes for the ingest; the DSN is the operator's, not user data.
_ENVELOPE_VERBATIM: Final = frozenset({"dsn", "sdk", "event_id", "sent_at"})


def _pseudonym(value: str) -> str:
    from otel_secretary.context import pseudonymize

    return pseudonymize(value)


def _harden_event(event: Any) -> None:
    """The user is an id at most (e-mail, username, ip and geo go), and no IP inference at ingest."""
    if not isinstance(event, dict):
        return
    user = event.get("user")
    if isinstance(user, dict):
        kept = {"id": user["id"]} if user.get("id") not in (None, "") else {}
        if kept:
            event["user"] = kept
        else:
            event.pop("user", None)
    sdk = event.get("sdk")
    if isinstance(sdk, dict) and isinstance(sdk.get("settings"), dict):
        sdk["settings"]["infer_ip"] = "never"


def mask_envelope(masker: Masker, envelope: Any) -> Any:
    """The envelope with every item and header masked in place; binary attachments are dropped.

    Runs on the capturing thread right before ``transport.capture_envelope``: the last step before the
    HTTP send, after every hook of the app and ours."""
    from sentry_sdk.envelope import PayloadRef

    redactions = Redactions()
    headers = envelope.headers
    envelope.headers = {
        key: (value if key in _ENVELOPE_VERBATIM else scrub_tree(masker, value, redactions, _pseudonym))
        for key, value in headers.items()
    }
    kept = []
    for item in envelope.items:
        payload = item.payload
        if payload.json is not None:
            data = payload.json
            if item.type in ("event", "transaction"):
                _harden_event(data)
            item.payload = PayloadRef(json=scrub_tree(masker, data, redactions, _pseudonym))
        else:
            masked = scrub_json_bytes(masker, payload.get_bytes(), redactions)
            if masked is None:
                redactions.add(("attachment",))
                continue  # binary: cannot be masked, so it is not sent
            item.payload = PayloadRef(bytes=masked)
        if isinstance(item.headers.get("filename"), str):
            item.headers["filename"] = masker.mask_text(item.headers["filename"], redactions)
        kept.append(item)
    envelope.items[:] = kept
    masker.record(redactions, "sentry")
    return envelope if kept else None
