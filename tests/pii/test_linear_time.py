"""No input makes the masker backtrack: 1 MB adversarial values finish fast and scale linearly."""

from __future__ import annotations

import time

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from otel_secretary.pii import Masker

MASKER = Masker(meter_provider=MeterProvider(), cache_size=0)
MB = 1_000_000

ADVERSARIAL = {
    "letters": lambda n: "a" * n,
    "at-signs": lambda n: "@" * n,
    "nested-dots": lambda n: "a." * (n // 2),
    "email-like-chain": lambda n: "x@a." + "a." * (n // 2),
    "at-runs": lambda n: "a@" * (n // 2),
    "digits": lambda n: "4" * n,
    "digits-spaces": lambda n: "1 " * (n // 2),
    "digits-dashes": lambda n: "1-" * (n // 2),
    "dotted-numbers": lambda n: "1." * (n // 2),
    "colons": lambda n: ":" * n,
    "hex-colons": lambda n: "ab:" * (n // 3),
    "equals": lambda n: "a=" * (n // 2),
    "bearer-runs": lambda n: "Bearer " * (n // 7),
    "json-keys": lambda n: '"password":"x",' * (n // 15),
    "placeholder-like": lambda n: "<email:" * (n // 7),
    "url-userinfo": lambda n: "://a:" * (n // 5),
}


def _seconds(text: str) -> float:
    start = time.perf_counter()
    MASKER.mask_text(text)
    return time.perf_counter() - start


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_one_megabyte_is_masked_quickly(name: str) -> None:
    # Generous bound for a loaded, shared 2-core CI box (the slowest input, digit runs, takes ~2-4 s there);
    # catastrophic backtracking on 1 MB would take hours.
    assert _seconds(ADVERSARIAL[name](MB)) < 15.0


@pytest.mark.parametrize("name", ["digits-spaces", "dotted-numbers", "at-runs", "equals", "hex-colons"])
def test_cost_grows_linearly(name: str) -> None:
    """Four times the input costs about four times the time (quadratic would be sixteen)."""
    small = min(_seconds(ADVERSARIAL[name](MB // 16)) for _ in range(2))
    large = min(_seconds(ADVERSARIAL[name](MB // 4)) for _ in range(2))
    assert large < small * 8
