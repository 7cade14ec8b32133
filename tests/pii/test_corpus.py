"""The labelled corpus: 100% recall on structured kinds, zero altered hard negatives."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from otel_secretary.pii import Masker, Redactions
from tests.pii.conftest import load_corpus

CASES = load_corpus()
POSITIVES = [case for case in CASES if case["pii"]]
NEGATIVES = [case for case in CASES if not case["pii"]]
STRUCTURED = {"email", "phone", "card", "iban", "ssn", "ip", "secret"}
# Names are only found where structure marks them (mail headers, name keys); free-text names are not.
KINDS = STRUCTURED | {"name"}


def test_corpus_is_big_and_balanced() -> None:
    assert len(CASES) >= 150
    assert len(NEGATIVES) >= 60
    categories = Counter(case["id"].split("-")[0] for case in POSITIVES)
    assert set(categories) == {"email", "calendar", "payment", "llm", "trace"}
    assert {kind for case in POSITIVES for kind in case["kinds"]} == KINDS


@pytest.mark.parametrize("case", POSITIVES, ids=[case["id"] for case in POSITIVES])
def test_positive_is_masked_and_context_kept(masker: Masker, case: dict[str, Any]) -> None:
    redactions = Redactions()
    masked = masker.mask_text(case["text"], redactions)
    leaked = [value for value in case["pii"] if value in masked]
    assert not leaked, masked
    lost = [value for value in case["keep"] if value not in masked]
    assert not lost, masked
    assert sorted(redactions.kinds) == case["kinds"]


@pytest.mark.parametrize("case", NEGATIVES, ids=[case["id"] for case in NEGATIVES])
def test_negative_is_untouched(masker: Masker, case: dict[str, Any]) -> None:
    redactions = Redactions()
    assert masker.mask_text(case["text"], redactions) == case["text"]
    assert redactions.count == 0


def test_recall_per_kind_is_total(masker: Masker) -> None:
    """The summary figure: every structured kind found in every positive that has it."""
    missed: Counter[str] = Counter()
    for case in POSITIVES:
        redactions = Redactions()
        masker.mask_text(case["text"], redactions)
        for kind in case["kinds"]:
            if kind not in redactions.kinds:
                missed[kind] += 1
    assert not missed
