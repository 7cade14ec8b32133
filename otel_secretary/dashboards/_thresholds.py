"""Threshold lines and alert wording of the seed panels, read from the rule specs.

A spec names the panels that draw its threshold (``dashboard.panels``) and an optional early-warning
level (``dashboard.warn``); a panel asks by its id. So the dashboards never retype a rule's name or
threshold: change the spec and the red line and the sentence under the panel follow. A panel whose
rule is absent (a project's own specs) simply has no line and no alert sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from otel_secretary.rules import forecast
from otel_secretary.rules.spec import RuleSpec

_VERBS = {"page": "pages", "ticket": "tickets", "info": "notes"}


@dataclass(frozen=True)
class RuleLines:
    """The specs, looked up by the panel ids they name."""

    specs: Sequence[RuleSpec]

    def spec(self, panel: str) -> RuleSpec | None:
        return next((s for s in self.specs if panel in s.dashboard.panels), None)

    def thresholds(self, panel: str, *, warn: bool = False) -> tuple[tuple[float, str], ...]:
        """``((warn, orange)?, (alert, red))`` for the rule drawn on ``panel``; empty when none is."""
        spec = self.spec(panel)
        if spec is None:
            return ()
        steps: list[tuple[float, str]] = []
        if warn and spec.dashboard.warn is not None:
            steps.append((_plain(spec.dashboard.warn), "orange"))
        steps.append((_plain(red_line(spec)), "red"))
        return tuple(steps)

    def describe(self, panel: str, text: str, alert: str) -> str:
        """``text``, followed by ``alert`` filled from the rule drawn on ``panel`` (see :meth:`fill`)."""
        filled = self.fill(panel, alert, "")
        return f"{text}; {filled}." if filled else f"{text}."

    def fill(self, panel: str, template: str, otherwise: str) -> str:
        """``template`` filled from the rule drawn on ``panel``; ``otherwise`` when no rule is.

        Fields: ``name``, ``severity`` (page/ticket), ``verb`` (pages/tickets), ``value`` and
        ``percent`` (the threshold), ``more_than`` ("any" for 0), ``for_`` and ``window`` (spoken).
        """
        spec = self.spec(panel)
        if spec is None:
            return otherwise
        value = {"latency": spec.latency_threshold, "forecast": forecast.limit(spec)[1]}.get(
            spec.kind, spec.threshold
        )
        return template.format(
            name=spec.name,
            severity=spec.severity,
            verb=_VERBS[spec.severity],
            value=f"{value:g}",
            percent=f"{value * 100:g}%",
            more_than="any" if value == 0 else f"more than {value:g}",
            for_=_spoken(spec.for_),
            window=_spoken(spec.window),
        )


def red_line(spec: RuleSpec) -> float:
    """Where a panel turns red: the rule's threshold, in the panel's unit.

    Grafana colours a value at or above a step; a rule on the increase of a count fires above N, i.e.
    from N + 1 events, so that is where its line goes (``> 0`` critical errors: red from one). A forecast
    draws the limit its projection is held against (an error-budget forecast: the budget).
    """
    if spec.kind == "forecast":
        return forecast.limit(spec)[1]
    if spec.kind == "latency" or (spec.kind == "slo" and spec.sli == "latency"):
        return spec.latency_threshold
    if spec.function == "increase" and spec.unit.startswith("{") and spec.op == ">":
        return spec.threshold + 1
    return spec.threshold


def _plain(value: float) -> float:
    """2.0 as 2, as the hand-written panels had it (the JSON stays byte-identical)."""
    return int(value) if float(value).is_integer() else value


def _spoken(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
