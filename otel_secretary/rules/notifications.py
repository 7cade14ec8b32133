"""Notification building: what the channels hear about an alert (Alertmanager's ``notify/`` stage).

A firing alert not yet announced triggers; an announced one is reminded every repeat interval unless
acknowledged; an announced alert that closed resolves, unless its rule said ``send_resolved: false``.
The fingerprint deduplicates: one trigger per firing episode, whatever the number of evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping

from otel_secretary.alerting.model import AlertInstance, Notification, NotificationKind
from otel_secretary.rules.spec import Routing, RuleSpec


def build(kind: NotificationKind, alert: AlertInstance, now: float) -> Notification:
    return Notification(
        kind=kind,
        alertname=alert.alertname,
        severity=alert.severity,
        fingerprint=alert.fingerprint,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        value=alert.value,
        starts_at=alert.fired_at,
        at=now,
        ends_at=alert.resolved_at if kind == "resolve" else None,
    )


class NotificationPolicy:
    """Repeat intervals and resolve messages: per severity (``routing.repeat_interval``) and per rule."""

    def __init__(self, default_repeat: float, routing: Routing | None, specs: Mapping[str, RuleSpec]) -> None:
        self.default_repeat = default_repeat
        self.routing = routing
        self.specs = specs

    def repeat_interval(self, alert: AlertInstance) -> float:
        if self.routing is not None:
            return self.routing.repeat_interval.get(alert.severity, self.default_repeat)
        return self.default_repeat

    def send_resolved(self, alert: AlertInstance) -> bool:
        spec = self.specs.get(alert.labels.get("rule", ""))
        return spec is None or spec.send_resolved

    def decide(self, alert: AlertInstance, now: float) -> Notification | None:
        """The notification an unmuted alert needs now (updating what it was told), or None."""
        if alert.state == "firing":
            if alert.notified != "firing":
                alert.notified, alert.last_sent = "firing", now
                return build("trigger", alert, now)
            if not alert.acked and now - alert.last_sent >= self.repeat_interval(alert):
                alert.last_sent = now
                return build("reminder", alert, now)
            return None
        if alert.state == "inactive" and alert.notified == "firing":
            alert.notified, alert.last_sent, alert.acked = "resolved", now, False
            if not self.send_resolved(alert):
                return None  # the rule asked for no resolve message (the alert is still closed)
            return build("resolve", alert, now)
        return None
