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
