"""Personal data inside *keys*: ``extra={"alice@example.com": "accepted"}``, ``rsvp.<email>`` attributes.

The masker's value rules look at keys only to decide how to treat the value under them; a key is
exported verbatim by every exporter, so an e-mail used as a dict key leaked. Here each key is masked
with the same text masker as values, and then the value is masked with the *original* key's rules
(``password.alice@example.com`` is still a password).

Two keys that mask to the same text (``rsvp.<email>`` twice) keep both values: the later one gets a
``~2``, ``~3`` … suffix, so a masked mapping never silently loses an entry.

Almost every key is a constant string from source code, so clean lower-case keys are remembered
(bounded) and cost one dict lookup; keys that held PII are not remembered here (the masker's own scan
cache covers their repeats, and each occurrence must still be counted as a redaction).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from otel_secretary.pii._masker import Masker, Redactions

_MAX_CLEAN: Final = 8192
_MAX_DEPTH: Final = 16
_CACHE_ATTR: Final = "_otel_secretary_clean_keys"
# Only lower-case dotted keys (every semantic-convention key) are remembered as clean: a key with
# capitals or spaces may hold a name the masker learns later in a trace, so it is scanned each time.
_CACHEABLE_KEY: Final = re.compile(r"[a-z0-9._\-]{1,128}")
_SCALARS: Final = frozenset({int, float, bool, bytes, type(None)})


# Pairs remembered as clean (see known_clean): bounded in count and in the length of a value kept.
_MAX_CLEAN_PAIRS: Final = 4096
_MAX_PAIR_VALUE: Final = 1024
_PAIRS_ATTR: Final = "_otel_secretary_clean_pairs"
# The masker checks integers from here on for card numbers; below it, numbers and flags never mask.
_CARD_RANGE: Final = 10**12


def _clean_pairs(masker: Masker) -> dict[tuple[str | None, str], None]:
    cache: dict[tuple[str | None, str], None] | None = getattr(masker, _PAIRS_ATTR, None)
    if cache is None:
        cache = {}
        setattr(masker, _PAIRS_ATTR, cache)
    return cache


def known_clean(masker: Masker, name: str | None, attributes: Mapping[str, Any]) -> bool:
    """Whether masking ``name`` (masked as a value without a key) and ``attributes`` again can change
    nothing, because each of them masked to itself before, with no redaction.

    Telemetry repeats its pairs (routes, methods, statements, model names) on every request, and an
    exporter then need not copy an item only to find it clean. Valid only outside traces that learned
    names (their values mask differently there). String values are remembered per (key, value);
    numbers and flags below the card range are returned as they are by the masker, so only their key
    (remembered by :func:`mask_key`) is checked.
    """
    if masker.names_learned_in_scope():
        return False
    pairs = _clean_pairs(masker)
    if name is not None and (None, name) not in pairs:
        return False
    keys = _clean_keys(masker)
    for pair in attributes.items():
        value = pair[1]
        kind = type(value)
        if kind is str:
            if pair not in pairs:
                return False
        elif kind is bool or kind is float or (kind is int and value < _CARD_RANGE):
            if pair[0] not in keys:
                return False
        else:
            return False
    return True


def remember_clean(masker: Masker, name: str | None, attributes: Mapping[str, Any]) -> None:
    """After an item masked with no redaction and no failure: its pairs are clean (see known_clean).

    Only pairs whose key :func:`mask_key` remembered (lower-case dotted, clean) are kept, for the same
    reason that function gives."""
    if masker.names_learned_in_scope():
        return
    pairs = _clean_pairs(masker)
    if len(pairs) + len(attributes) >= _MAX_CLEAN_PAIRS:
        pairs.clear()
    if name is not None and len(name) <= _MAX_PAIR_VALUE:
        pairs[(None, name)] = None
    keys = _clean_keys(masker)
    for key, value in attributes.items():
        if type(value) is str and key in keys and len(value) <= _MAX_PAIR_VALUE:
            pairs[(key, value)] = None


def _clean_keys(masker: Masker) -> dict[str, None]:
    """Per masker: one with extra patterns may find PII in a key another one finds clean."""
    cache: dict[str, None] | None = getattr(masker, _CACHE_ATTR, None)
    if cache is None:
        cache = {}
        setattr(masker, _CACHE_ATTR, cache)
    return cache


def mask_key(masker: Masker, key: str, redactions: Redactions | None) -> str:
    """``key`` with any PII in it replaced by typed placeholders (``rsvp.<email>``)."""
    clean = _clean_keys(masker)
    if key in clean:
        return key
    masked = masker.mask_text(key, redactions)
    if masked == key and _CACHEABLE_KEY.fullmatch(key):
        if len(clean) >= _MAX_CLEAN:
            clean.clear()
        clean[key] = None
    return masked


def free_slot(result: Mapping[str, Any], key: str) -> str:
    if key not in result:
        return key
    number = 2
    while f"{key}~{number}" in result:
        number += 1
    return f"{key}~{number}"


def mask_attributes_and_keys(
    masker: Masker, attributes: Mapping[str, Any] | None, redactions: Redactions | None
) -> dict[str, Any]:
    """Attribute mapping with keys masked and values masked under their original keys, nested too."""
    if not attributes:
        return {}
    clean = _clean_keys(masker)
    mask_value = masker.mask_value
    result: dict[str, Any] = {}
    for key, value in attributes.items():
        name = key if type(key) is str else str(key)
        masked_name = name if name in clean else mask_key(masker, name, redactions)
        if masked_name in result:
            masked_name = free_slot(result, masked_name)
        kind = type(value)
        if (
            kind is not str
            and kind not in _SCALARS
            and (
                isinstance(value, Mapping) or (isinstance(value, list | tuple) and value and not _flat(value))
            )
        ):
            result[masked_name] = mask_keyed(masker, name, value, redactions)
        else:
            result[masked_name] = mask_value(name, value, redactions)
    return result


def _flat(values: Sequence[Any]) -> bool:
    return not any(isinstance(item, Mapping) for item in values)


def mask_keyed(
    masker: Masker, key: str | None, value: Any, redactions: Redactions | None, depth: int = 0
) -> Any:
    """One value, recursing into mappings (whose keys are masked) and sequences holding mappings."""
    if isinstance(value, Mapping):
        if depth >= _MAX_DEPTH:
            return masker.mask_value(key, str(value), redactions)
        result: dict[str, Any] = {}
        for inner_key, inner in value.items():
            name = str(inner_key)
            result[free_slot(result, mask_key(masker, name, redactions))] = mask_keyed(
                masker, name, inner, redactions, depth + 1
            )
        return result
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str | bytes | bytearray)
        and any(isinstance(item, Mapping) for item in value)
    ):
        return tuple(mask_keyed(masker, key, item, redactions, depth + 1) for item in value)
    return masker.mask_value(key, value, redactions)
