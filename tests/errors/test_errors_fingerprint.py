"""Fingerprints group one bug across ids, code paths, line moves and processes, and split different bugs."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_secretary.errors import fingerprint, normalise_message
from otel_secretary.errors._fingerprint import raise_site
from otel_secretary.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("expected the action to fail")


def _load_customer(customer_id: object, email: str) -> None:
    raise LookupError(f"customer {customer_id} ({email}) not found at 2026-11-27T10:00:00Z")


def _load_invoice(invoice_id: object) -> None:
    raise LookupError(f"invoice {invoice_id} not found")


def _summarise_view() -> None:
    _load_customer(1234, "alice@example.com")


def _billing_task() -> None:
    _load_customer("3f2a9c1d-5b6e-4f7a-8b9c-0d1e2f3a4b5c", "bob.smith+billing@example.org")


def test_same_bug_from_two_code_paths_with_different_ids_groups_once() -> None:
    assert fingerprint(_raised(_summarise_view)) == fingerprint(_raised(_billing_task))


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda: _load_invoice(1234), id="same-type-other-raise-site"),
        pytest.param(lambda: {}["customer"], id="other-type"),
        pytest.param(lambda: _load_customer_bad_state(), id="same-site-other-message"),
    ],
)
def test_different_bugs_get_different_fingerprints(other: Callable[[], object]) -> None:
    assert fingerprint(_raised(_summarise_view)) != fingerprint(_raised(other))


def _load_customer_bad_state() -> None:
    # Same function name is not enough to merge: the message template differs.
    raise LookupError("customer record is locked by another worker")


def test_cause_chain_is_part_of_the_bug() -> None:
    def wrap(cause: BaseException) -> None:
        raise RuntimeError("sync failed") from cause

    from_key = _raised(lambda: wrap(KeyError("x")))
    from_timeout = _raised(lambda: wrap(TimeoutError("y")))
    assert fingerprint(from_key) != fingerprint(from_timeout)


_MODULE_V1 = """
def fetch_thread(thread_id):
    raise ValueError(f"thread {thread_id} has no messages")


def handler(thread_id):
    fetch_thread(thread_id)
"""

# The same code after a deploy: comments, imports and a helper above move every line number.
_MODULE_V2 = """
import logging

_logger = logging.getLogger(__name__)


def unrelated_helper():
    return 42


def fetch_thread(thread_id):
    # TODO: paginate
    _logger.debug("fetching")
    raise ValueError(f"thread {thread_id} has no messages")


def handler(thread_id):
    return fetch_thread(thread_id)
"""


def _load_module(folder: Path, source: str) -> ModuleType:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "inbox_app.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location("inbox_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_line_moves_keep_the_fingerprint(tmp_path: Path) -> None:
    v1 = _load_module(tmp_path / "v1", _MODULE_V1)
    v2 = _load_module(tmp_path / "v2", _MODULE_V2)
    first = _raised(lambda: v1.handler(17))
    second = _raised(lambda: v2.handler(90210))
    assert first.__traceback__ is not None
    assert raise_site(first) == raise_site(second) == "inbox_app:fetch_thread"
    assert fingerprint(first) == fingerprint(second)


def test_fingerprint_is_identical_in_another_process(tmp_path: Path) -> None:
    module = _load_module(tmp_path, _MODULE_V1)
    here = fingerprint(_raised(lambda: module.handler(5)))
    code = textwrap.dedent(
        """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        import inbox_app
        from otel_secretary.errors import fingerprint
        try:
            inbox_app.handler(123456)
        except ValueError as exc:
            print(json.dumps(fingerprint(exc)))
        """
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different hash salt must not matter
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == here


def test_library_frames_are_skipped_when_app_frames_exist() -> None:
    def parse_invite() -> None:
        json.loads("{not json")

    exc = _raised(parse_invite)
    assert raise_site(exc).endswith(".<locals>.parse_invite")


def test_our_own_frames_never_count_as_the_raise_site() -> None:
    def start_worker() -> None:
        load_settings({"OTEL_SECRETARY_FILE_BACKUPS": "-1"})

    exc = _raised(start_worker)
    assert raise_site(exc).endswith(".<locals>.start_worker")


def test_exception_without_traceback_still_fingerprints() -> None:
    assert fingerprint(ValueError("boom 1")) == fingerprint(ValueError("boom 2"))
    assert fingerprint(ValueError("boom")) != fingerprint(TypeError("boom"))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("user 12345 not found", "user <n> not found"),
        ("mail to alice.smith+tag@example.com bounced", "mail to <email> bounced"),
        ("event 3f2a9c1d-5b6e-4f7a-8b9c-0d1e2f3a4b5c missing", "event <uuid> missing"),
        ("at 2026-11-27T10:15:30.123Z and 2026-11-27 10:15", "at <ts> and <ts>"),
        ("took 12:01:59 total", "took <ts> total"),
        ("object at 0x7f3a2b1c0d10", "object at <hex>"),
        ("digest deadbeef1234abcd mismatch", "digest <hex> mismatch"),
        ("No such customer: 'cus_NffrFeUfNV2Hib'", "No such customer: '<id>'"),
        ("request req_AbCdEfGhIjKl failed", "request <id> failed"),
        ("key sk3fakeFAKEfake1234xyz rejected", "key <id> rejected"),
        ("Your card was declined: card_declined", "Your card was declined: card_declined"),
        ("retry in 2.5s", "retry in <n>s"),
        ("card 4242 4242 4242 4242 or 4242424242424242", "card <n> or <n>"),
        ("call 555-0100 from 10.0.0.12", "call <n> from <n>"),
        ("  spaces \n collapse  ", "spaces collapse"),
    ],
)
def test_message_normalisation(message: str, expected: str) -> None:
    assert normalise_message(message) == expected


def test_normalisation_is_bounded_on_huge_messages() -> None:
    import time

    start = time.perf_counter()
    normalise_message("a1" * 500_000 + "@" * 100_000)
    assert time.perf_counter() - start < 0.5


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_normalisation_is_idempotent_and_fingerprint_total(message: str) -> None:
    once = normalise_message(message)
    assert normalise_message(once) == once
    assert re.search(r"\d", once) is None  # every decimal digit run became a placeholder
    assert len(fingerprint(ValueError(message))) == 16
