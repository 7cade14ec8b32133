"""The alert lifecycle: Prometheus 2.42's inactive → pending → firing → inactive, with ``for``,
``keep_firing_for``, an undefined condition that holds the state, a flap guard and retention.

Pure functions over :class:`~otel_secretary.alerting.model.AlertInstance`; time comes from the caller.
"""

from __future__ import annotations

from otel_secretary.alerting.model import AlertInstance
from otel_secretary.rules import forecast
from otel_secretary.rules.spec import RuleSpec


def advance(
    alert: AlertInstance, spec: RuleSpec, condition: bool | None, value: float | None, now: float
) -> None:
    """Move ``alert`` one evaluation on: True starts or keeps it, False ends it, None holds it."""
    alert.no_data = condition is None
    if condition is not None:
        alert.held_since = None
    elif alert.held_since is None:
        alert.held_since = now
    if condition is None:
        # Undefined holds the state (pending stays pending, firing stays firing). A held firing alert
        # counts as still true for keep_firing_for, as Prometheus' hold expression does.
        if alert.state == "firing":
            alert.keep_firing_since = None
        return
    if condition:
        alert.value = value
        alert.keep_firing_since = None
        if alert.state == "inactive":
            alert.state, alert.active_at, alert.resolved_at = "pending", now, None
        for_ = 0 if alert.alertname.endswith("NoData") else spec.for_  # as rendered: NoData takes no for
        if alert.state == "pending" and now - alert.active_at >= for_:
            alert.state, alert.fired_at = "firing", now
            alert.transitions.append(now)
        return
    if alert.state == "pending":
        alert.state = "inactive"
        return
    if alert.state == "firing":
        if spec.keep_firing_for:
            if alert.keep_firing_since is None:
                alert.keep_firing_since = now
            if now - alert.keep_firing_since < spec.keep_firing_for:
                return
        alert.state, alert.resolved_at, alert.keep_firing_since = "inactive", now, None
        alert.transitions.append(now)


def unseen_condition(alert: AlertInstance, spec: RuleSpec, now: float) -> bool | None:
    """The condition of an active alert whose series was not evaluated (evicted, or not rebuilt yet).

    A series with no window at all (not rebuilt yet after a restart) is undefined, not healthy: its firing
    span alert is held like a 0/0 window, for at most the rule's longest window; a series that never comes
    back then resolves. An evicted series is not a silent one: its no-data alert resolves.
    """
    if alert.alertname.endswith("NoData") or forecast.reads_metrics(spec):
        return False
    held = alert.held_since is not None and now - alert.held_since > max(spec.windows)
    return False if held else None


def update_flapping(alert: AlertInstance, now: float, changes: int, window: float) -> None:
    """Flap guard (Nagios/Kibana style): ``changes`` state changes within ``window`` mark the alert
    flapping until it has been stable for a whole window.

    Transitions are appended in time order, so "``changes`` of them within the window" is "the
    ``changes``-th latest is within it", and "none within it" is "the latest is not" (no scan).
    """
    transitions = alert.transitions
    if len(transitions) >= changes and now - transitions[-changes] < window:
        alert.flapping = True
    elif alert.flapping and (not transitions or now - transitions[-1] >= window):
        alert.flapping = False


def expired(alert: AlertInstance, now: float, retention: float) -> bool:
    """A closed alert (inactive, its resolve handled) kept past ``retention`` is forgotten."""
    if alert.state != "inactive" or alert.notified == "firing" or alert.flapping:
        return False
    return alert.resolved_at is None or now - alert.resolved_at > retention
