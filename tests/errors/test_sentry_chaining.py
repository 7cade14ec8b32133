"""How our Sentry processing sits next to the app's: order, idempotence, and the transport's last pass.

In-process with real sentry-sdk clients whose transport keeps envelopes in memory (no global
``sentry_sdk.init``, so nothing is patched for the rest of the session except ``Client``'s creation
hook, which only acts while our processor is installed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef
from sentry_sdk.transport import Transport

from otel_secretary.errors import ErrorRecorder, _sentry_clients
from otel_secretary.pii import Masker
from tests.support.processes import clean_env

EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"


class KeepingTransport(Transport):
    kept: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        type(self).kept.append(envelope)


@pytest.fixture
def processing() -> Iterator[None]:
    _sentry_clients.reset_for_tests()
    _sentry_clients.install(
        recorder=ErrorRecorder(), masker=Masker(), repeat_window=0, dsn="", environment="test"
    )
    KeepingTransport.kept = []
    yield
    _sentry_clients.reset_for_tests()


def _client(**options: Any) -> sentry_sdk.Client:
    return sentry_sdk.Client(
        dsn="http://key@127.0.0.1:9/1",
        transport=KeepingTransport,
        default_integrations=False,
        integrations=[],
        **options,
    )


def _capture(client: sentry_sdk.Client, exc: BaseException) -> None:
    try:
        raise exc
    except type(exc):
        event, hint = sentry_sdk.utils.event_from_exception(sys.exc_info(), client_options=client.options)
    client.capture_event(event, hint)


def _sent() -> str:
    return "\n".join(
        json.dumps(item.payload.json or item.payload.get_bytes().decode(), default=str)
        for envelope in KeepingTransport.kept
        for item in envelope.items
    ) + json.dumps([envelope.headers for envelope in KeepingTransport.kept], default=str)


def test_the_apps_hook_sees_the_event_first_and_ours_mask_what_it_adds(processing: None) -> None:
    seen: list[str] = []

    def careless(event: dict[str, Any], hint: Any) -> dict[str, Any]:
        seen.append(event["exception"]["values"][-1]["value"])
        event.setdefault("tags", {})["customer"] = EMAIL
        return event

    _capture(_client(before_send=careless), RuntimeError(f"could not reach {EMAIL} at {PHONE}"))
    assert seen == [f"could not reach {EMAIL} at {PHONE}"]  # theirs first: the raw event
    [envelope] = KeepingTransport.kept
    event = envelope.get_event()
    assert event is not None
    assert event["tags"]["customer"] == "<email>"
    assert event["exception"]["values"][-1]["value"] == "could not reach <email> at <phone>"
    assert event["tags"]["app.error.fingerprint"] == event["fingerprint"][0]
    assert EMAIL not in _sent()


def test_an_app_hook_that_drops_the_event_still_drops_it(processing: None) -> None:
    _capture(_client(before_send=lambda event, hint: None), RuntimeError("boom"))
    assert KeepingTransport.kept == []


def test_adopting_a_client_again_does_not_chain_twice(processing: None) -> None:
    calls: list[int] = []

    def counting(event: dict[str, Any], hint: Any) -> dict[str, Any]:
        calls.append(1)
        return event

    client = _client(before_send=counting)
    hook = client.options["before_send"]
    _sentry_clients.adopt(client)
    _sentry_clients.adopt(client)
    assert client.options["before_send"] is hook
    _capture(client, RuntimeError("once"))
    assert calls == [1]
    assert len(KeepingTransport.kept) == 1
    assert _sentry_clients.processors_installed(client)


def test_the_transport_masks_items_no_hook_sees(processing: None) -> None:
    """Sessions (distinct id, ip), envelope headers (the transaction name) and attachments."""
    client = _client()
    envelope = Envelope(
        headers={"event_id": "9f2c1b7e8a0d4c3fb1e2d3c4b5a69788", "trace": {"transaction": f"/u/{EMAIL}"}}
    )
    envelope.add_item(
        Item(
            payload=PayloadRef(
                json={
                    "sid": "2b1f0c1e-8c2d-4e4a-9b59-6f1c2d3e4f5a",
                    "did": EMAIL,
                    "attrs": {"ip_address": "{{auto}}", "release": "r1"},
                }
            ),
            type="session",
        )
    )
    envelope.add_item(Item(payload=PayloadRef(bytes=f"note for {EMAIL}".encode()), type="attachment"))
    envelope.add_item(Item(payload=PayloadRef(bytes=b"\x89PNG\r\n\x1a\n\xff\xfe"), type="attachment"))
    assert client.transport is not None
    client.transport.capture_envelope(envelope)
    [sent] = KeepingTransport.kept
    session = sent.items[0].payload.json
    assert session is not None
    assert session["sid"] == "2b1f0c1e-8c2d-4e4a-9b59-6f1c2d3e4f5a"
    assert session["did"] != EMAIL and len(session["did"]) == 16
    assert session["attrs"] == {"release": "r1"}
    assert sent.headers["trace"]["transaction"] == "/u/<email>"
    assert sent.items[1].payload.get_bytes() == b"note for <email>"
    assert len(sent.items) == 2  # the binary attachment could not be masked, so it was not sent
    assert EMAIL not in _sent()


def test_status_reports_the_apps_client_and_our_processors(processing: None) -> None:
    client = _client()
    scope = sentry_sdk.get_global_scope()
    previous = scope.client
    scope.set_client(client)
    try:
        status = _sentry_clients.status()
    finally:
        scope.set_client(previous)
    assert status.owner == "app"
    assert status.processors_installed
    assert status.client_hook == "client-init"
    assert status.hook_available and status.sdk_version.startswith("2.")


def test_config_check_says_what_happens_to_an_apps_own_sentry_init(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from otel_secretary.cli.config import app

    monkeypatch.setenv("OTEL_SECRETARY_SENTRY_DSN", "http://key@127.0.0.1:9/1")
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[-1]
    assert line.startswith("sentry: OTEL_SECRETARY_SENTRY_DSN set (ours); sentry-sdk 2.")
    assert line.endswith("an app's own sentry_sdk.init gets our masking, fingerprints, tags and trace links")


_LATE_IMPORT = """
import sys
import otel_secretary
handle = otel_secretary.configure()
assert "sentry_sdk" not in sys.modules, "imported without a DSN (0.25 s of start-up)"
import sentry_sdk
sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", default_integrations=False)
from otel_secretary.errors import sentry_status
print(sentry_status().describe())
handle.shutdown()
"""


def test_without_a_dsn_sentry_is_not_imported_but_the_apps_later_client_is_covered(tmp_path: Path) -> None:
    env = clean_env(
        OTEL_SECRETARY_DATA_DIR=str(tmp_path),
        OTEL_SECRETARY_PROMETHEUS_PORT="0",
        OTEL_SECRETARY_RULES_ENABLED="false",
        OTEL_SECRETARY_SYSTEM_METRICS="false",
    )
    run = subprocess.run(
        [sys.executable, "-c", _LATE_IMPORT], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "sentry: the app's; our processors installed (later clients: client-init)" in run.stdout


def test_ids_survive_masking_but_a_card_under_an_id_key_does_not() -> None:
    from otel_secretary.pii import sentry_scrubber

    event = {
        "sid": "df4d285e-e3f2-407d-a33d-014849571902",  # its last group looks like a phone number
        "trace_id": "9f2c1b7e8a0d4c3fb1e2d3c4b5a69788",
        "event_id": "4539148803436467",  # no hex letter: not an id, a card
        "extra": {
            "query": "email=jane.doe%40example.com&phone=%2B44%2020%207946%200958&card=4539+1488+0343+6467"
        },
    }
    scrubbed = sentry_scrubber(Masker())(event, {})
    assert scrubbed["sid"] == event["sid"] and scrubbed["trace_id"] == event["trace_id"]
    assert scrubbed["event_id"] == "<card>"
    assert scrubbed["extra"]["query"] == "email=<email>&phone=<phone>&card=<card>"


def test_a_masker_that_cannot_walk_sentry_items_drops_them_rather_than_send_them_half_masked() -> None:
    """A plain ``str -> str`` function misses keys, query strings and credential subtrees: fail closed."""
    from otel_secretary.errors._sentry import RepeatSampler, SentryEventProcessor

    event = {"message": "boom", "extra": {"jane.doe@example.com": "invited"}}
    plain = SentryEventProcessor(ErrorRecorder(), str.upper, RepeatSampler(0))  # type: ignore[arg-type]
    assert plain.before_send(dict(event), {}) is None
    assert plain.before_breadcrumb({"message": "jane.doe@example.com"}, {}) is None
    ours = SentryEventProcessor(ErrorRecorder(), Masker(), RepeatSampler(0))
    sent = ours.before_send(dict(event), {})
    assert sent is not None and "jane.doe@example.com" not in json.dumps(sent)
