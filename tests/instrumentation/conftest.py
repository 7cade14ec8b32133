from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.otel_harness import Harness, make_harness


@pytest.fixture
def otel() -> Iterator[Harness]:
    yield from make_harness()
