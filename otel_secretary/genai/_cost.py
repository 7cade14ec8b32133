"""Estimated USD cost of one GenAI call: a user override file first, then the `genai-prices` library.

genai-prices is maintained (Logfire uses it) and knows dated and tiered prices, but one
``calc_price`` costs ~80 µs of Decimal arithmetic, four times our whole per-call budget. So each
(provider, model) is resolved once per hour to plain per-token rates when its prices are flat, and
only tiered prices (e.g. Gemini above 200k input tokens) go through ``calc_price`` on every call.
An unknown model yields ``None``: no cost, never an exception.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from otel_secretary._internal.fork_reset import renew_lock, reset_in_forked_child
from otel_secretary.config_error import ConfigError

from ._extract import Usage

_RESOLVE_TTL_S: Final = 3600.0
_PER_MTOK: Final = 1_000_000.0
# The genai-prices token price keys we use; when any of them is tiered the model goes through
# calc_price on every call instead of the flat fast path.
_PRICE_KEYS: Final = (
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "output_reasoning_mtok",
)


@dataclass(frozen=True)
class Rates:
    """USD per million tokens; cache prices default to the input price, reasoning to the output price."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None

    def cost(self, usage: Usage) -> float:
        # Conventions and genai-prices agree: input tokens include cache reads and writes, and output
        # tokens include reasoning tokens; each subset is priced at its own rate when one is listed.
        input_tokens = usage.input_tokens or 0
        cache_read = usage.cache_read_tokens or 0
        cache_write = usage.cache_write_tokens or 0
        uncached = max(input_tokens - cache_read - cache_write, 0)
        output_tokens = usage.output_tokens or 0
        reasoning = min(usage.reasoning_tokens or 0, output_tokens)
        total = (
            uncached * self.input
            + cache_read * (self.input if self.cache_read is None else self.cache_read)
            + cache_write * (self.input if self.cache_write is None else self.cache_write)
            + (output_tokens - reasoning) * self.output
            + reasoning * (self.output if self.reasoning is None else self.reasoning)
        )
        return total / _PER_MTOK


class PriceFileError(ConfigError):
    """The override file cannot be used; the message says which entry and why."""


def load_price_file(path: Path) -> dict[str, Rates]:
    """Parse ``{models: {name: {input, output, cache_read?, cache_write?, reasoning?}}}`` (USD/MTok).

    YAML or JSON.

    Names may be bare (``gpt-4o-mini``) or provider-qualified (``openai/gpt-4o-mini``).
    """
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        raw: Any = json.loads(text)
    else:
        import yaml

        raw = yaml.safe_load(text)
    models = raw.get("models", raw) if isinstance(raw, dict) else None
    if not isinstance(models, dict):
        raise PriceFileError(f"{path}: expected a mapping of model name to prices")
    result: dict[str, Rates] = {}
    for name, entry in models.items():
        if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
            raise PriceFileError(
                f"{path}: {name!r} needs at least 'input' and 'output' (USD per million tokens)"
            )
        try:
            result[str(name)] = Rates(
                input=float(entry["input"]),
                output=float(entry["output"]),
                cache_read=None if entry.get("cache_read") is None else float(entry["cache_read"]),
                cache_write=None if entry.get("cache_write") is None else float(entry["cache_write"]),
                reasoning=None if entry.get("reasoning") is None else float(entry["reasoning"]),
            )
        except (TypeError, ValueError) as exc:
            raise PriceFileError(f"{path}: {name!r} has a non-numeric price: {exc}") from None
    return result


@dataclass
class _Resolved:
    rates: Rates | None  # flat prices
    model_price: Any  # tiered: a genai_prices ModelPrice, priced per call
    expires: float


class PriceBook:
    """Thread-safe cost estimator; one per process is enough."""

    def __init__(self, overrides: dict[str, Rates] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._cache: dict[tuple[str, str], _Resolved] = {}
        self._lock = threading.Lock()
        reset_in_forked_child(self, renew_lock)

    @classmethod
    def from_file(cls, path: Path | None) -> PriceBook:
        return cls(load_price_file(path) if path is not None else None)

    def estimate(self, provider: str | None, model: str | None, usage: Usage) -> float | None:
        """USD for ``usage`` on ``model``; None when the model is unknown or usage is missing."""
        if not model or not usage.known:
            return None
        if self._overrides:
            override = self._overrides.get(f"{provider}/{model}") or self._overrides.get(model)
            if override is not None:
                return override.cost(usage)
        resolved = self._resolve(provider or "", model)
        if resolved.rates is not None:
            return resolved.rates.cost(usage)
        if resolved.model_price is not None:
            return _tiered_cost(resolved.model_price, usage)
        return None

    def _resolve(self, provider: str, model: str) -> _Resolved:
        key = (provider, model)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached.expires > now:
            return cached
        resolved = _lookup(provider, model, now + _RESOLVE_TTL_S)
        with self._lock:
            self._cache[key] = resolved
        return resolved


def _lookup(provider: str, model: str, expires: float) -> _Resolved:
    from genai_prices import data_snapshot

    try:
        _provider, info = data_snapshot.get_snapshot().find_provider_model(
            model, None, provider or None, None
        )
        prices = info.get_prices(datetime.now(tz=UTC))
    except LookupError:
        return _Resolved(None, None, expires)
    values = {name: getattr(prices, name, None) for name in _PRICE_KEYS}
    if all(v is None or isinstance(v, Decimal) for v in values.values()) and values["input_mtok"] is not None:
        return _Resolved(
            Rates(
                input=float(values["input_mtok"]),
                output=float(values["output_mtok"] or 0),
                cache_read=None if values["cache_read_mtok"] is None else float(values["cache_read_mtok"]),
                cache_write=None if values["cache_write_mtok"] is None else float(values["cache_write_mtok"]),
                reasoning=None
                if values["output_reasoning_mtok"] is None
                else float(values["output_reasoning_mtok"]),
            ),
            None,
            expires,
        )
    return _Resolved(None, prices, expires)


def _tiered_cost(model_price: Any, usage: Usage) -> float | None:
    from genai_prices import Usage as PricesUsage

    counts = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "output_reasoning_tokens": usage.reasoning_tokens,
    }
    try:
        result = model_price.calc_price(PricesUsage(**{k: v for k, v in counts.items() if v is not None}))
        return float(result["total_price"])
    except (LookupError, ValueError, TypeError):
        return None
