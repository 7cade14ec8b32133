"""Acceptance scenarios (issue 7) replayed through the engine's clock: days of traffic in seconds."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from otel_secretary.rules.engine import EngineOptions, Matcher, RuleEngine
from otel_secretary.rules.spec import RuleSpec

from .conftest import ANNOTATIONS, Replay

SLO_99 = (
    """
rules:
  - name: Api
    kind: slo
    objective: 99
    min_rate: 0.0167
    by: [service_name]
    selector: {service: api, span_kind: server}
    no_data: false
"""
    + ANNOTATIONS
)

Specs = Callable[[str], list[RuleSpec]]


@pytest.fixture
def replay(make_specs: Specs) -> Replay:
    return Replay(RuleEngine(make_specs(SLO_99)))


def test_short_blip_of_20_percent_errors_pages_nobody(replay: Replay) -> None:
    replay.run(24 * 60, 100)  # a healthy day fills the long windows
    replay.run(5, 100, bad_share=0.2)
    replay.run(6 * 60, 100)
    assert replay.sent == []


def test_hard_outage_pages_within_workbook_detection_time_and_resolves_once(replay: Replay) -> None:
    replay.run(24 * 60, 100)
    start = replay.minute
    replay.run(30, 100, bad_share=1.0)
    end = replay.minute
    replay.run(6 * 60, 100)
    pages = replay.kinds("page")
    assert [kind for _, kind, _ in pages] == ["trigger", "resolve"]
    # Workbook: detection time = (1 - SLO) / error ratio * window * burn = 0.01 * 60 min * 14.4 = 8.6 min.
    assert pages[0][0] - start <= 9
    # Reset is governed by the short window (30m) of the slowest page tier still true.
    assert 0 < pages[1][0] - end <= 31


def test_outage_raises_ticket_only_after_page_is_gone_inhibition(replay: Replay) -> None:
    replay.run(24 * 60, 100)
    replay.run(30, 100, bad_share=1.0)
    page_resolved = replay.minute
    replay.run(6 * 60, 100)
    page_resolve_minute = next(m for m, kind, _ in replay.kinds("page") if kind == "resolve")
    tickets = replay.kinds("ticket")
    # While the page fired, the ticket (same rule and service) was inhibited; it surfaces afterwards.
    assert tickets and tickets[0][1] == "trigger" and tickets[0][0] >= page_resolve_minute >= page_resolved


def test_slow_burn_opens_a_ticket_not_a_page(replay: Replay) -> None:
    replay.run(2 * 24 * 60, 100, bad_share=0.02)  # burn rate 2: budget gone in 15 days
    assert replay.kinds("page") == []
    assert [kind for _, kind, _ in replay.kinds("ticket")][:1] == ["trigger"]


def test_low_traffic_does_not_page(replay: Replay) -> None:
    replay.run(6 * 60, 0.2, bad_share=1.0)  # one failing request every five minutes
    assert replay.kinds("page") == []


def test_silenced_alert_notifies_nothing_then_notifies_when_silence_expires_while_firing(
    replay: Replay,
) -> None:
    replay.run(24 * 60, 100)
    now = replay.minute * 60
    replay.engine.add_silence([Matcher("rule", "Api")], now, now + 20 * 60, "sre@example.com", "deploy")
    replay.run(15, 100, bad_share=1.0)
    assert replay.sent == []
    replay.run(10, 100, bad_share=1.0)
    assert replay.kinds("page")[0][1:] == ("trigger", "page")
    assert (
        replay.kinds("page")[0][0] == replay.minute - 10 + 5
    )  # the first evaluation after the silence ended


def test_silence_covering_whole_incident_sends_nothing_at_all(replay: Replay) -> None:
    replay.run(24 * 60, 100)
    now = replay.minute * 60
    replay.engine.add_silence([Matcher.parse('alertname=~"Api.*"')], now, now + 24 * 3600)
    replay.run(30, 100, bad_share=1.0)
    replay.run(3 * 60, 100)
    assert replay.sent == []


def test_ack_stops_reminders_but_not_resolution(make_specs: Specs) -> None:
    engine = RuleEngine(make_specs(SLO_99), EngineOptions(repeat_interval=600))
    replay = Replay(engine)
    replay.run(60, 100)
    replay.run(15, 100, bad_share=1.0)  # fires at once (burn 100x), one reminder 10 minutes later
    assert [k for _, k, s in replay.kinds("page")] == ["trigger", "reminder"]
    page = next(a for a in engine.alerts.values() if a.severity == "page")
    ack = engine.acknowledge(page.fingerprint, "oncall@example.com", replay.minute * 60)
    assert ack is not None and ack.kind == "acknowledge"
    replay.run(40, 100, bad_share=1.0)
    replay.run(60, 100)
    assert [k for _, k, s in replay.kinds("page")] == ["trigger", "reminder", "resolve"]


def test_flap_guard_mutes_a_flapping_alert_until_it_settles(make_specs: Specs) -> None:
    spec = (
        """
rules:
  - name: Flappy
    kind: error_rate
    threshold: 0.5
    window: 1m
    by: [service_name]
    selector: {service: api}
"""
        + ANNOTATIONS
    )
    replay = Replay(RuleEngine(make_specs(spec)))
    for _ in range(6):
        replay.run(1, 10, bad_share=1.0)
        replay.run(1, 10)
    sent = [kind for _, kind, _ in replay.kinds()]
    assert sent.count("trigger") == 2  # two full cycles, then the guard holds notifications
    replay.run(30, 10)
    assert [kind for _, kind, _ in replay.kinds()][-1] == "resolve"


def test_zero_over_zero_holds_a_firing_alert_instead_of_resolving(replay: Replay) -> None:
    replay.run(60, 100)
    replay.run(20, 100, bad_share=1.0)
    replay.run(120, 0)  # traffic stops entirely: no data, not "0% errors"
    assert [k for _, k, _ in replay.kinds("page")] == ["trigger"]
    assert ("ApiBudgetBurn", "page") in replay.firing[replay.minute]


def test_series_memory_is_bounded(make_specs: Specs) -> None:
    spec = SLO_99.replace("by: [service_name]", "by: [service_name, span_name]")
    engine = RuleEngine(make_specs(spec), EngineOptions(max_series=50))
    for i in range(500):
        engine.observe_span("api", f"GET /user/{i}", "server", False, 0.01, 30.0)
    assert engine.snapshot()["series"] == 50
    assert engine.evicted_series == 450


SLO_NO_DATA = SLO_99.replace("    no_data: false\n", "")


def test_traffic_gap_right_after_an_outage_neither_resolves_nor_repages(make_specs: Specs) -> None:
    """page_fast burns, page_slow has data below its threshold, then traffic stops: the page is held
    (undefined) until healthy traffic makes every page tier false; one trigger, one resolve."""
    replay = Replay(RuleEngine(make_specs(SLO_99)))
    replay.run(6 * 60, 100)
    replay.run(10, 100, bad_share=1.0)
    gap_start = replay.minute
    replay.run(20, 0)
    assert all(("ApiBudgetBurn", "page") in replay.firing[m] for m in range(gap_start, replay.minute + 1))
    page = next(a for a in replay.engine.alerts.values() if a.severity == "page")
    assert page.no_data  # the held alert says why it is held
    replay.run(60, 100)
    assert [kind for _, kind, _ in replay.kinds("page")] == ["trigger", "resolve"]


def test_severity_is_true_undefined_or_false_across_tiers(make_specs: Specs) -> None:
    from otel_secretary.rules.engine import severity_state, tier_state

    (spec,) = make_specs(SLO_99)
    fast = next(t for t in spec.tiers if t.name == "page_fast")
    burning, healthy, empty = (0.5, 1.0), (0.0, 1.0), (None, 0.0)
    assert tier_state(spec, fast, burning, burning)[0] is True
    assert tier_state(spec, fast, burning, empty)[0] is None  # short window 0/0: undefined
    assert tier_state(spec, fast, healthy, empty)[0] is False  # long window below: false decides
    assert tier_state(spec, fast, empty, empty)[0] is None
    assert tier_state(spec, fast, (0.5, 0.001), burning)[0] is False  # under the traffic guard
    assert severity_state([(None, 0.5), (False, 0.0)])[0] is None
    assert severity_state([(None, 0.5), (True, 0.2)]) == (True, 0.2)
    assert severity_state([(False, 0.0), (False, 0.1)])[0] is False


def test_no_data_is_signalled_within_a_few_evaluations_and_clears_when_traffic_returns(
    make_specs: Specs,
) -> None:
    replay = Replay(RuleEngine(make_specs(SLO_NO_DATA)))
    replay.run(60, 100)
    stopped = replay.minute
    replay.run(15, 0)
    tickets = [(m, kind) for m, kind, _ in replay.kinds("ticket")]
    assert tickets and tickets[0][1] == "trigger" and tickets[0][0] - stopped <= 6
    resumed = replay.minute
    replay.run(5, 100)
    assert [kind for _, kind in [(m, k) for m, k, _ in replay.kinds("ticket")]] == ["trigger", "resolve"]
    assert next(m for m, k, _ in replay.kinds("ticket") if k == "resolve") - resumed <= 2


def test_no_data_is_never_raised_for_a_series_that_never_had_volume(make_specs: Specs) -> None:
    replay = Replay(RuleEngine(make_specs(SLO_NO_DATA)))
    replay.run(30, 0.2)  # one request every five minutes: under min_rate, so silence is normal
    replay.run(60, 0)
    assert replay.sent == []


def test_a_scan_of_junk_paths_never_evicts_a_real_route_nor_raises_no_data(make_specs: Specs) -> None:
    """Issue 12 item 5: 10,000 unrouted one-hit paths against a 2,000-series cap, a real route beside."""
    spec = SLO_NO_DATA.replace("by: [service_name]", "by: [service_name, span_name]")
    engine = RuleEngine(make_specs(spec), EngineOptions(max_series=2000, max_series_bytes=1 << 40))
    real = Replay(engine, span="GET /api/v1/messages")
    real.run(60, 10)  # 600 events in the last hour
    for i in range(10_000):
        engine.observe_span("api", f"GET /scan/{i}.php", "server", False, 0.01, real.minute * 60 + 10)
    real.run(1, 10)
    (real_series,) = [s for s in engine._series.values() if s.labels["span_name"] == "GET /api/v1/messages"]
    assert real_series.ring.window(real.minute * 60, 3600) == [0.0, 600.0]  # not a single event lost
    assert len(engine._series) == 2000 and engine.evicted_series >= 8000
    # An hour and more of quiet for the junk: no no-data ticket for series that never had volume.
    real.run(120, 10)
    assert not [n for _, n in real.sent if n.alertname.endswith("NoData")]


def test_selector_regex_uses_re2_and_refuses_backtracking_and_lookahead(make_specs: Specs) -> None:
    from otel_secretary.rules.spec import SpecError

    base = SLO_99.replace(
        "selector: {service: api, span_kind: server}",
        "selector: {{span_name_regex: '{}', example: 'GET /a'}}",
    )
    for pattern, reason in (("GET /(a+)+", "backtrack"), ("GET /(?=a)a", "RE2"), ("GET /(a)\\1", "RE2")):
        with pytest.raises(SpecError, match=reason) as caught:
            make_specs(base.format(pattern))
        assert "spec.yaml:" in str(caught.value) and "span_name_regex" in str(caught.value)
    (spec,) = make_specs(base.format("GET /[a-z]+"))
    assert spec.selector.matches("api", "GET /abc", "server") and not spec.selector.matches(
        "api", "GET /1", "server"
    )


def test_series_memory_budget_evicts_before_the_count_cap(make_specs: Specs) -> None:
    spec = SLO_99.replace("by: [service_name]", "by: [service_name, span_name]")
    engine = RuleEngine(make_specs(spec), EngineOptions(max_series=2000, max_series_bytes=8 * 1024 * 1024))
    engine.observe_span("api", "GET /real", "server", False, 0.01, 30.0, count=600)
    for i in range(2000):
        engine.observe_span("api", f"GET /scan/{i}", "server", False, 0.01, 30.0)
    snapshot = engine.snapshot()
    assert snapshot["seriesBytes"] <= 8 * 1024 * 1024 and 0 < snapshot["series"] < 2000
    assert any(s.labels["span_name"] == "GET /real" for s in engine._series.values())
