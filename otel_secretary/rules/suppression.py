"""Why an alert is muted: a silence, an inhibiting alert, or flapping (Alertmanager's ``silence/`` and
``inhibit/``, plus the engine's flap guard).

A muted alert keeps its lifecycle; only its notifications are held back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from otel_secretary.alerting.model import AlertInstance, Matcher, Silence
from otel_secretary.rules.spec import Routing

#: A silence ended this long ago is forgotten (Alertmanager keeps expired silences for a while too).
SILENCE_RETENTION = 86400.0


class Silences:
    """The engine's silences by id."""

    def __init__(self) -> None:
        self.by_id: dict[str, Silence] = {}

    def add(
        self, matchers: Sequence[Matcher], starts_at: float, ends_at: float, created_by: str, comment: str
    ) -> Silence:
        silence = Silence(uuid.uuid4().hex, tuple(matchers), starts_at, ends_at, created_by, comment)
        self.by_id[silence.id] = silence
        return silence

    def expire(self, silence_id: str, now: float) -> bool:
        silence = self.by_id.get(silence_id)
        if silence is None:
            return False
        silence.ends_at = min(silence.ends_at, now)
        return True

    def muting(self, labels: Mapping[str, str], now: float) -> Silence | None:
        return next((s for s in self.by_id.values() if s.active(now) and s.matches(labels)), None)

    def forget(self, now: float) -> None:
        for sid, silence in list(self.by_id.items()):
            if now - silence.ends_at > SILENCE_RETENTION:
                del self.by_id[sid]


def inhibitor(
    alert: AlertInstance, alerts: Iterable[AlertInstance], routing: Routing | None
) -> AlertInstance | None:
    """The firing alert that inhibits ``alert``, if any.

    With ``routing.inhibit`` set: an alert of a rule's ``source`` severity inhibits one of its ``target``
    severity when every ``equal`` label matches (missing counts as empty, as in Alertmanager). Without it:
    a firing page inhibits a ticket with the same labels apart from severity.
    """
    if routing is not None and routing.inhibit is not None:
        for rule in routing.inhibit:
            if alert.severity != rule.target:
                continue
            key = tuple(alert.labels.get(name, "") for name in rule.equal)
            for other in alerts:
                equal = tuple(other.labels.get(name, "") for name in rule.equal) == key
                if other.severity == rule.source and other.state == "firing" and equal:
                    return other
        return None
    if alert.severity != "ticket":
        return None
    same = _without_severity(alert.labels)
    for other in alerts:
        is_page = other.severity == "page" and other.state == "firing"
        if is_page and _without_severity(other.labels) == same:
            return other
    return None


def suppressed_by(
    alert: AlertInstance,
    alerts: Iterable[AlertInstance],
    silences: Silences,
    routing: Routing | None,
    now: float,
) -> str:
    """``silence:<id>``, ``inhibited:<fingerprint>``, ``flapping`` or empty (notify)."""
    silence = silences.muting(alert.labels, now)
    if silence is not None:
        return f"silence:{silence.id}"
    other = inhibitor(alert, alerts, routing)
    if other is not None:
        return f"inhibited:{other.fingerprint}"
    return "flapping" if alert.flapping else ""


def _without_severity(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "severity"}
