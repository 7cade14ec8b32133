"""Suite-wide guard: in CI every real component must be present.

Some tests skip when a binary is missing, so a developer without the Go toolchain can still run the
rest. In CI (``CI=true``) a missing binary would turn those tests into silent skips; instead the run
stops at once, naming what the set-up failed to install.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from otel_secretary.stack import binaries
from tests.support.otel_harness import Harness, make_harness

SYSTEM_TOOLS = ("redis-server", "prometheus", "promtool", "prometheus-alertmanager", "amtool", "go")
GO_BUILT = ("otelcol-secretary", "jaeger", "stripe-mock")


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") != "true":
        return
    missing = [
        tool for tool in SYSTEM_TOOLS if shutil.which(tool) is None and not os.path.exists(f"/usr/bin/{tool}")
    ]
    for tool in GO_BUILT:
        try:
            binaries.find(tool)
        except Exception:
            missing.append(tool)
    if missing:
        raise pytest.UsageError(f"CI=true but these components are missing (see scripts/setup.sh): {missing}")


@pytest.fixture
def otel() -> Iterator[Harness]:
    """Local tracer and meter providers with in-memory exporters, shut down after the test."""
    yield from make_harness()
