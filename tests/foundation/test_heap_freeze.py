"""The startup heap is frozen once per process, at its first request or task, and only when asked to be."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.processes import clean_env

SCRIPT = textwrap.dedent(
    """
    import gc, json, os, sys
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind
    import otel_secretary

    otel_secretary.configure(prometheus_port=0)
    tracer = trace.get_tracer("test")
    seen = {"start": gc.get_freeze_count()}
    with tracer.start_as_current_span("internal work", kind=SpanKind.INTERNAL):
        pass
    seen["after_internal"] = gc.get_freeze_count()
    with tracer.start_as_current_span("GET /notes", kind=SpanKind.SERVER):
        pass
    seen["after_server"] = gc.get_freeze_count()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a prefork child: its own heap grows after the fork, then it serves
        kept = [[i] for i in range(5000)]
        before = gc.get_freeze_count()
        with tracer.start_as_current_span("run/task", kind=SpanKind.CONSUMER):
            pass
        os.write(write, json.dumps([before, gc.get_freeze_count()]).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    seen["child"] = json.loads(os.read(read, 1000))
    kept = [[i] for i in range(5000)]
    with tracer.start_as_current_span("GET /again", kind=SpanKind.SERVER):
        pass
    seen["second_server"] = gc.get_freeze_count()
    print(json.dumps(seen))
    """
)


def _run(tmp_path: Path, **env: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=clean_env(OTEL_SECRETARY_DATA_DIR=str(tmp_path / "data"), OTEL_SERVICE_NAME="heap", **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork")
def test_the_first_request_freezes_the_heap_once_and_each_forked_child_its_own(tmp_path: Path) -> None:
    seen = _run(tmp_path)
    # Python 3.12+ starts with some objects of its own frozen: every count is against that baseline.
    start = seen["start"]
    assert isinstance(start, int) and seen["after_internal"] == start  # imports, internal spans: not yet
    after_server = seen["after_server"]
    assert isinstance(after_server, int) and after_server > start + 1000
    before, after = seen["child"]  # type: ignore[misc]
    # Frozen objects are still freed by reference counting, so counts only ever drop by themselves.
    assert start < before <= after_server and after >= before + 5000  # the child's own objects joined it
    second = seen["second_server"]
    assert isinstance(second, int) and second < after_server + 5000  # the parent froze once, not again


def test_turned_off_nothing_is_frozen(tmp_path: Path) -> None:
    seen = _run(tmp_path, OTEL_SECRETARY_GC_FREEZE="false")
    start = seen["start"]
    assert isinstance(start, int)
    assert seen["after_server"] == start and seen["second_server"] == start
    assert seen["child"] == [start, start]
