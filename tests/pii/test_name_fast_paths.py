"""The name finder's fast paths decide exactly what the general code they skip decides.

``name_end`` and ``looks_like_name`` take a shortcut for the common shape ("Tijs Knoers"); turning the
shortcut off (its regex replaced by one that never matches) must change no answer, on names, stop words,
particles, initials, hyphens, apostrophes, accents, digits and blanks in any order.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider

from otel_secretary.pii import Masker, _names

_NEVER = re.compile(r"(?!)")
_WORDS = [
    "Tijs", "Knoers", "Ana", "Laura", "Li", "Wei", "Jo", "X", "J", "McDonald", "O'Brien", "ACME", "Émile",
    "Renée", "Anne", "Kathrin", "priya", "Van", "van", "De", "de", "la", "Team", "The", "Hello", "Sync",
    "Дарья", "Жукова", "ДАРЬЯ", "Jürgen", "Weiß", "ÉMILE", "Ø", "Ölaf", "Straße", "Ÿves", "Élan", "µs",
]  # fmt: skip
_SEPARATORS = [" ", " ", " ", "", "-", "'", "\u2019", ". ", ",", "2", "\n", "  ", "é", "_", "ж", "\u00d7"]

texts = st.lists(
    st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS)), min_size=1, max_size=7
).map(lambda parts: "".join(word + separator for word, separator in parts))


def _without_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_names, "_CAPITALISED_RUN", _NEVER)
    monkeypatch.setattr(_names, "_PLAIN_NAME", _NEVER)


@settings(max_examples=400, deadline=None)
@given(text=texts, trim=st.booleans())
def test_name_end_fast_path_agrees_with_the_word_loop(text: str, trim: bool) -> None:
    text = text.rstrip() if trim else text
    fast = [_names.name_end(text, start) for start in range(len(text))]
    with pytest.MonkeyPatch.context() as patch:
        _without_fast_path(patch)
        slow = [_names.name_end(text, start) for start in range(len(text))]
    assert fast == slow


@settings(max_examples=400, deadline=None)
@given(text=texts)
def test_looks_like_name_fast_path_agrees_with_the_word_loop(text: str) -> None:
    value = text.replace("2", "").replace("_", "")
    fast = _names.looks_like_name(value)
    with pytest.MonkeyPatch.context() as patch:
        _without_fast_path(patch)
        slow = _names.looks_like_name(value)
    assert fast == slow


def test_the_fast_path_is_taken_and_stops_where_the_loop_would() -> None:
    # Taken: a mutation that breaks the shortcut (off by one in its word ends) fails these.
    assert _names._CAPITALISED_RUN.match("Tijs Knoers asap") is not None
    assert _names.name_end("Tijs Knoers asap", 0) == len("Tijs Knoers")
    assert _names.name_end("Ludwig van Beethoven said", 0) == len("Ludwig van Beethoven")
    assert _names.name_end("Anne-Kathrin Scheibe", 0) == len("Anne-Kathrin Scheibe")
    assert _names.name_end("Team Hello", 0) == 0  # a stop word first: no name
    assert _names.looks_like_name("Tijs Knoers") and not _names.looks_like_name("Sync")


_LEARNED = ["jane", "Doe", "Jane Doe", "Émile", "O'Brien", "li", "Rossi"]
_AROUND = ["", " ", "x", "<", ">", ":", ", ", "\n", "é", "JANE", "doe", "ROSSINI", "Li.", "o'brien"]
learned_texts = st.lists(st.sampled_from(_LEARNED + _AROUND), min_size=1, max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(st.sampled_from(_LEARNED), min_size=1, max_size=4), text=learned_texts)
def test_the_learned_name_prefilter_masks_what_the_regex_alone_masks(names: list[str], text: str) -> None:
    # On ASCII text an automaton over the lower-cased names runs before the any-case regex: it may only
    # skip the regex where the regex finds nothing.
    masker = Masker(meter_provider=MeterProvider(), cache_size=0)
    masker.names.learn(1, names)
    with masker.trace_scope(1):
        fast = masker.mask_value("note", text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_names._TraceNames, "compiled_for", lambda self, _text: self.compiled())
        with masker.trace_scope(1):
            slow = masker.mask_value("note", text)
    assert fast == slow
