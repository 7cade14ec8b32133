"""Notification building: what the channels hear about an alert (Alertmanager's ``notify/`` stage).

A firing alert not yet announced triggers; an announced one is reminded every repeat interval unless
acknowledged; an announced alert that closed resolves, unless its rule or route says ``send_resolved:
false``.
The fingerprint deduplicates: one trigger per firing episode, whatever the number of evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping

from otel_secretary.alerting.model import AlertInstance, Notification, NotificationKind
from otel_secretary.rules.spec import Route, Routing, RuleSpec


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
    """Repeat intervals and resolve messages, from the most specific setting down.

    Repeat interval: the first matching ``routing.routes`` entry that sets one, else the severity's
    (``routing.repeat_interval``), else the engine default. Resolve messages: sent unless the rule or the
    first matching route says ``send_resolved: false`` (either one suffices, as in the generated
    ``alertmanager.yml``, where the route's receivers and the rule's label twins combine).
    """

    def __init__(self, default_repeat: float, routing: Routing | None, specs: Mapping[str, RuleSpec]) -> None:
        self.default_repeat = default_repeat
        self.routing = routing
        self.specs = specs
        # Labels of a fingerprint never change, so its route is looked up once.
        self._routes: dict[str, Route | None] = {}

    def route(self, alert: AlertInstance) -> Route | None:
        if self.routing is None or not self.routing.routes:
            return None
        if alert.fingerprint not in self._routes:
            if len(self._routes) > 100_000:
                self._routes.clear()
            self._routes[alert.fingerprint] = self.routing.route(alert.labels)
        return self._routes[alert.fingerprint]

    def repeat_interval(self, alert: AlertInstance) -> float:
        route = self.route(alert)
        if route is not None and route.repeat_interval is not None:
            return route.repeat_interval
        if self.routing is not None:
            return self.routing.repeat_interval.get(alert.severity, self.default_repeat)
        return self.default_repeat

    def send_resolved(self, alert: AlertInstance) -> bool:
        spec = self.specs.get(alert.labels.get("rule", ""))
        if spec is not None and not spec.send_resolved:
            return False
        route = self.route(alert)
        return route is None or route.send_resolved is not False

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
                return None  # the rule or its route asked for no resolve message (the alert is still closed)
            return build("resolve", alert, now)
        return None
