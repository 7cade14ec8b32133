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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.metrics import Counter, MeterProvider, get_meter_provider

from otel_secretary.pii._detectors import DETECTORS, PLACEHOLDER, SAFE_HEX, SAFE_PATTERNS, Detector
from otel_secretary.pii._keys import is_sensitive_key

_log = logging.getLogger(__name__)

REDACTED = "<redacted>"
FAILED = "<redaction-failed>"

# Necessary conditions per detector family: a value with none of these cannot match, so most short
# attribute values ("GET", "/api/v1/messages", "gpt-4o-mini") return after one or two C-level scans.
_DIGIT = re.compile(r"\d")
_SECRET_TRIGGER = re.compile(
    r"-----BEGIN|sk[-_]|rk_|whsec_|_secret_|AIza|ya29\.|GOCSPX-|AKIA|ASIA|gh[pousr]_|github_pat_|xox|eyJ"
    r"|[Bb]earer|[Bb]asic|[Tt]oken|=|\"[ \t]{0,3}:|://"
)
_EMAIL_AT = re.compile(r"[A-Za-z0-9_%+-]@")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.([A-Za-z]{2,24})\b")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
# "logo@2x.png" is an asset name, not an address.
_FILE_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "pdf", "js", "css", "py"})
_CACHEABLE = 256


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

    def merge(self, other: Redactions) -> None:
        self.count += other.count
        self.failures += other.failures
        for kind, count in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str


class Masker:
    """Masks text, attribute values and nested bodies; thread-safe (no mutable state besides caches)."""

    def __init__(
        self,
        *,
        mode: str = "placeholder",
        key: str | bytes = b"",
        mask_ip: bool = True,
        card_keep_last4: bool = False,
        extra_detectors: Sequence[Detector] = (),
        meter_provider: MeterProvider | None = None,
        cache_size: int = 4096,
    ) -> None:
        if mode not in {"placeholder", "pseudonym"}:
            raise ValueError(f"unknown PII mode {mode!r}: expected placeholder or pseudonym")
        if mode == "pseudonym" and not key:
            raise ValueError("pseudonym mode needs a non-empty key")
        self.mode = mode
        self._key = key.encode() if isinstance(key, str) else key
        self.card_keep_last4 = card_keep_last4
        self.mask_ip = mask_ip
        self.detectors = tuple(d for d in (*DETECTORS, *extra_detectors) if mask_ip or d.kind != "ip")
        self._by_group = {f"d{index}": d for index, d in enumerate(self.detectors)}
        self._extra_triggers = tuple(
            (d.family, d.family.removeprefix("extra:"))
            for d in extra_detectors
            if d.family.startswith("extra")
        )
        self._scanners: dict[frozenset[str], re.Pattern[str]] = {}
        self._cached_scan = functools.lru_cache(maxsize=cache_size)(self._scan)
        provider = meter_provider or get_meter_provider()
        meter = provider.get_meter("otel_secretary.pii")
        self._redaction_counter: Counter = meter.create_counter(
            "otel_secretary.pii.redactions",
            unit="{redaction}",
            description="Values masked, by kind and signal",
        )
        self._failure_counter: Counter = meter.create_counter(
            "otel_secretary.pii.failures",
            unit="{value}",
            description="Values dropped because masking raised (fail-closed), by signal",
        )
        self._failure_logged = False

    # ---------------------------------------------------------------- public API
    def mask_text(self, text: str, redactions: Redactions | None = None) -> str:
        """Replace each PII substring with a typed placeholder; the rest of the text is kept."""
        if len(text) <= _CACHEABLE:
            masked, kinds = self._cached_scan(text)
        else:
            masked, kinds = self._scan(text)
        if kinds and redactions is not None:
            redactions.add(kinds)
        return masked

    def mask_value(self, key: str | None, value: Any, redactions: Redactions | None = None) -> Any:
        """Mask one attribute value of any OTel type; fail closed: a value that raises is dropped."""
        try:
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
        if isinstance(value, str):
            if key is not None and is_sensitive_key(key):
                return self._redact_whole(value, redactions)
            return self.mask_text(value, redactions)
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

    def _redact_whole(self, value: str, redactions: Redactions | None) -> str:
        if value == REDACTED or not value:
            return value
        if redactions is not None:
            redactions.add(("secret",))
        return REDACTED

    def _record_failure(self, redactions: Redactions | None, signal: str) -> None:
        if redactions is not None:
            redactions.failures += 1
        else:
            self._failure_counter.add(1, {"signal": signal})
        if not self._failure_logged:
            self._failure_logged = True
            _log.exception("otel-secretary: masking a value failed; it was dropped (logged once)")

    # ---------------------------------------------------------------- scanning
    def _scan(self, text: str) -> tuple[str, tuple[str, ...]]:
        """Mask to a fixed point, so mask(mask(x)) == mask(x) even when a replacement joins neighbours."""
        all_kinds: list[str] = []
        for _ in range(3):
            masked, kinds = self._scan_once(text)
            if not kinds:
                break
            all_kinds.extend(kinds)
            text = masked
        return text, tuple(all_kinds)

    def _scan_once(self, text: str) -> tuple[str, tuple[str, ...]]:
        families = self._families(text)
        if families:
            hits = self._scan_patterns(text, families)
            if hits:
                text = self._replace(text, hits)
                hits_kinds = [hit.kind for hit in hits]
            else:
                hits_kinds = []
        else:
            hits_kinds = []
        if "@" in text:
            email_hits = self._scan_emails(text)
            if email_hits:
                text = self._replace(text, email_hits)
                hits_kinds.extend(hit.kind for hit in email_hits)
        return text, tuple(hits_kinds)

    def _families(self, text: str) -> frozenset[str]:
        found = set()
        if _DIGIT.search(text) is not None:
            found.add("digits")
        if _SECRET_TRIGGER.search(text) is not None:
            found.add("secret")
        for family, trigger in self._extra_triggers:
            if not trigger or trigger in text:
                found.add(family)
        return frozenset(found)

    def _scanner(self, families: frozenset[str]) -> re.Pattern[str]:
        scanner = self._scanners.get(families)
        if scanner is None:
            parts = [f"(?P<s0>{PLACEHOLDER})"]
            parts += [f"(?P<s{index + 1}>{pattern})" for index, (_, pattern) in enumerate(SAFE_PATTERNS)]
            for group, detector in self._by_group.items():
                if detector.family in families:
                    pattern = detector.pattern.replace("(?P<secret>", f"(?P<{group}s>")
                    parts.append(f"(?P<{group}>{pattern})")
            parts.append(f"(?P<s99>{SAFE_HEX})")
            scanner = re.compile("|".join(parts))
            self._scanners[families] = scanner
        return scanner

    def _scan_patterns(self, text: str, families: frozenset[str]) -> list[_Hit]:
        scanner = self._scanner(families)
        hits: list[_Hit] = []
        pos = 0
        length = len(text)
        while pos < length:
            match = scanner.search(text, pos)
            if match is None:
                break
            group = match.lastgroup or ""
            start, end = match.span()
            if group[0] == "s":
                pos = max(end, start + 1)
                continue
            detector = self._by_group[group]
            accepted = self._accept(detector, match.group(), text, start, end)
            if accepted == 0:
                pos = start + 1
                continue
            full_end = start + accepted
            end = full_end
            if "(?P<secret>" in detector.pattern:
                inner_start, inner_end = match.span(group + "s")
                if inner_start >= 0 and inner_end <= full_end:
                    start, end = inner_start, inner_end
            hits.append(_Hit(start, end, detector.kind))
            pos = full_end
        return hits

    @staticmethod
    def _accept(detector: Detector, candidate: str, text: str, start: int, end: int) -> int:
        accepted = detector.validator(candidate) if detector.validator is not None else len(candidate)
        if accepted and detector.guard:
            end = start + accepted
            before = text[start - 1] if start else " "
            after = text[end] if end < len(text) else " "
            if detector.guard == "ipv6":
                if before.isalnum() or before in ":_" or after.isalnum() or after in ":_":
                    return 0
            elif before.isalnum() or after.isalnum() or before in "_+" or after == "_":
                return 0
        return accepted

    @staticmethod
    def _scan_emails(text: str) -> list[_Hit]:
        hits: list[_Hit] = []
        pos = 0
        while True:
            match = _EMAIL_AT.search(text, pos)
            if match is None:
                return hits
            at = match.end() - 1
            domain = _EMAIL_DOMAIN.match(text, at + 1)
            if domain is None or domain.group(1).lower() in _FILE_TLDS:
                pos = at + 1
                continue
            start = at
            limit = max(0, at - 64)
            while start > limit and text[start - 1] in _EMAIL_LOCAL:
                start -= 1
            while start < at and text[start] == ".":
                start += 1
            hits.append(_Hit(start, domain.end(), "email"))
            pos = domain.end()

    def _replace(self, text: str, hits: list[_Hit]) -> str:
        pieces: list[str] = []
        last = 0
        for hit in hits:
            pieces.append(text[last : hit.start])
            pieces.append(self._placeholder(hit.kind, text[hit.start : hit.end]))
            last = hit.end
        pieces.append(text[last:])
        return "".join(pieces)

    def _placeholder(self, kind: str, raw: str) -> str:
        if kind == "card" and self.card_keep_last4:
            digits = [char for char in raw if char.isdigit()]
            return f"<card:{''.join(digits[-4:])}>"
        if self.mode == "pseudonym":
            normal = raw.lower() if kind == "email" else "".join(ch for ch in raw if ch.isalnum())
            digest = hmac.new(self._key, f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()[:8]
            return f"<{kind}:{digest}>"
        return f"<{kind}>"
