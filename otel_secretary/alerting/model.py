"""The alert model shared by the rule engine, the notification channels and the CLI.

Alerts, notifications, silences and their matchers are plain data: the engine produces them, the
dispatcher and channels (``otel_secretary.notify``) deliver them, ``otel-secretary alerts`` reads and
writes them. Keeping them outside ``rules``, with no engine or channel code, is what lets ``notify``
import the model without importing ``rules`` (``rules.embedded`` imports ``notify``; a model inside
``rules`` made the two packages import each other).
Closed sets are ``Literal`` types, so mypy checks every state and kind that is written.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from otel_secretary.alerting import regex

#: Prometheus' alert lifecycle.
AlertState = Literal["inactive", "pending", "firing"]
#: What a notification says; ``test`` comes from ``otel-secretary alerts test``.
NotificationKind = Literal["trigger", "reminder", "resolve", "acknowledge", "test"]
#: The last thing the channels were told about an alert.
Notified = Literal["none", "firing", "resolved"]
ALERT_STATES: tuple[AlertState, ...] = ("inactive", "pending", "firing")


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex digits over the sorted label set (as Alertmanager); shared by trigger, reminder, resolve."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        try:
            hit = regex.fullmatch(self.value, actual) if self.is_regex else actual == self.value
        except regex.RegexError:
            return False  # a silence with a pattern RE2 refuses (hand-edited file) matches nothing
        return hit == self.is_equal

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex`` (quotes optional)."""
        match = re.fullmatch(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*', text)
        if not match:
            raise ValueError(f'{text!r} is not a matcher like severity=page or span_name=~"stripe.*"')
        name, op, value = match.groups()
        if "~" in op:
            regex.compile_re2(value)  # RegexError is a ValueError: the CLI reports it as bad input
        return cls(name, value, is_regex="~" in op, is_equal=not op.startswith("!"))


@dataclass
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [m.__dict__ for m in self.matchers],
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "createdBy": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Silence:
        return cls(
            id=str(data["id"]),
            matchers=tuple(Matcher(**m) for m in data["matchers"]),
            starts_at=float(data["startsAt"]),
            ends_at=float(data["endsAt"]),
            created_by=str(data.get("createdBy", "")),
            comment=str(data.get("comment", "")),
        )


@dataclass(frozen=True)
class Notification:
    """One message for the channels: ``kind`` is trigger, reminder, resolve, acknowledge or test."""

    kind: NotificationKind
    alertname: str
    severity: str
    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    value: float | None
    starts_at: float
    at: float
    ends_at: float | None = None


@dataclass
class AlertInstance:
    alertname: str
    labels: dict[str, str]
    annotations: dict[str, str]
    fingerprint: str
    severity: str
    state: AlertState = "inactive"
    active_at: float = 0.0
    fired_at: float = 0.0
    resolved_at: float | None = None
    keep_firing_since: float | None = None
    value: float | None = None
    acked: bool = False
    acked_by: str = ""
    notified: Notified = "none"
    last_sent: float = 0.0
    transitions: deque[float] = field(default_factory=lambda: deque(maxlen=32))
    flapping: bool = False
    suppressed_by: str = ""
    no_data: bool = False
    held_since: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "alertname": self.alertname,
            "labels": self.labels,
            "annotations": self.annotations,
            "fingerprint": self.fingerprint,
            "severity": self.severity,
            "state": self.state,
            "activeAt": self.active_at,
            "firedAt": self.fired_at,
            "resolvedAt": self.resolved_at,
            "value": None if self.value is None or math.isnan(self.value) else self.value,
            "acked": self.acked,
            "ackedBy": self.acked_by,
            "notified": self.notified,
            "flapping": self.flapping,
            "suppressedBy": self.suppressed_by,
            "noData": self.no_data,
            "keepFiringSince": self.keep_firing_since,
            "heldSince": self.held_since,
            "lastSent": self.last_sent,
            "transitions": list(self.transitions),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertInstance:
        """The inverse of :meth:`to_json`: what a restart needs to continue an alert where it was."""
        alert = cls(
            alertname=str(data["alertname"]),
            labels={str(k): str(v) for k, v in data["labels"].items()},
            annotations={str(k): str(v) for k, v in data["annotations"].items()},
            fingerprint=str(data["fingerprint"]),
            severity=str(data["severity"]),
            state=_state(data["state"]),
            active_at=float(data.get("activeAt") or 0.0),
            fired_at=float(data.get("firedAt") or 0.0),
            resolved_at=None if data.get("resolvedAt") is None else float(data["resolvedAt"]),
            keep_firing_since=None if data.get("keepFiringSince") is None else float(data["keepFiringSince"]),
            value=None if data.get("value") is None else float(data["value"]),
            acked=bool(data.get("acked", False)),
            acked_by=str(data.get("ackedBy", "")),
            notified=_notified(data.get("notified", "none")),
            last_sent=float(data.get("lastSent") or 0.0),
            flapping=bool(data.get("flapping", False)),
            no_data=bool(data.get("noData", False)),
            held_since=None if data.get("heldSince") is None else float(data["heldSince"]),
        )
        alert.transitions.extend(float(t) for t in data.get("transitions", []))
        return alert


def _state(value: Any) -> AlertState:
    if value not in ALERT_STATES:
        raise ValueError(f"unknown alert state {value!r}")
    return cast(AlertState, value)


def _notified(value: Any) -> Notified:
    if value not in ("none", "firing", "resolved"):
        raise ValueError(f"unknown notified state {value!r}")
    return cast(Notified, value)
