"""Issue 10 item 4: inbound baggage is untrusted; no personal data leaves in outbound baggage.

Policy (otel_secretary.context): inbound, only ``app.tenant.id`` (identifier-shaped), ``enduser.id``
and our signature of it are accepted; an unsigned ``enduser.id`` is pseudonymised. Outbound, baggage
goes only to our own queue (PRODUCER spans); HTTP and everything else gets none.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import baggage, context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_secretary.context import (
    BaggagePolicyPropagator,
    clear_pseudonym_caches,
    pseudonymize,
    request_context,
    sign_user_id,
    trusted_user_id,
)
from otel_secretary.sdk.trace.context_processor import USER_SIGNATURE_KEY, RequestContextSpanProcessor
from tests.support.header_recorder import header_recorder
from tests.support.otel_harness import Harness
from tests.support.otlp_json import read_spans
from tests.support.processes import Proc, clean_env, free_port, venv_tool
from tests.support.sentry_ingest import leaks, running_sink

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "jane.doe@example.com"
NAME = "Jane Doe"
HOSTILE_BAGGAGE = (
    "user.email=jane.doe%40example.com,user.name=Jane%20Doe,enduser.id=jane.doe%40example.com,"
    "app.tenant.id=tenant-9,sentry-trace_id=0123456789abcdef0123456789abcdef,"
    "sentry-user_email=jane.doe%40example.com,sentry-transaction=Jane%20Doe%20jane.doe%40example.com"
)


#: Pseudonyms need a key; without one a key file would be created in the current folder (the checkout).
PII_KEY = "baggage-tests-pseudonym-key-0123456789"


@pytest.fixture(autouse=True)
def pii_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OTEL_SECRETARY_PII_KEY", PII_KEY)
    clear_pseudonym_caches()
    yield
    clear_pseudonym_caches()


def _policy() -> BaggagePolicyPropagator:
    return BaggagePolicyPropagator(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )


def test_inbound_baggage_keeps_only_accepted_keys_and_pseudonymises_the_user() -> None:
    ctx = _policy().extract({"baggage": HOSTILE_BAGGAGE})
    entries = baggage.get_all(ctx)
    expected_user = pseudonymize(EMAIL)
    assert dict(entries) == {
        "app.tenant.id": "tenant-9",
        "enduser.id": expected_user,
        USER_SIGNATURE_KEY: sign_user_id(expected_user),
    }


def test_an_opaque_conversation_id_travels_to_our_queue_only() -> None:
    ctx = _policy().extract({"baggage": "gen_ai.conversation.id=conv_8f2a91,x=1"})
    assert dict(baggage.get_all(ctx)) == {"gen_ai.conversation.id": "conv_8f2a91"}
    assert dict(baggage.get_all(_policy().extract({"baggage": "gen_ai.conversation.id=Jane%20Doe"}))) == {}


def test_a_tenant_that_is_not_an_identifier_is_dropped() -> None:
    ctx = _policy().extract({"baggage": "app.tenant.id=jane.doe%40example.com"})
    assert dict(baggage.get_all(ctx)) == {}


def test_our_signed_pseudonym_is_trusted_and_a_forged_signature_is_not() -> None:
    pseudonym = pseudonymize("user-42")
    signed = f"enduser.id={pseudonym},{USER_SIGNATURE_KEY}={sign_user_id(pseudonym)}"
    assert baggage.get_baggage("enduser.id", _policy().extract({"baggage": signed})) == pseudonym
    forged = f"enduser.id={pseudonym},{USER_SIGNATURE_KEY}=0000000000000000"
    assert baggage.get_baggage("enduser.id", _policy().extract({"baggage": forged})) == pseudonymize(
        pseudonym
    )


def _inject_under(kind: SpanKind | None) -> dict[str, str]:
    provider = TracerProvider()
    ctx = context.get_current()
    ctx = baggage.set_baggage("enduser.id", "5f0c2a9e1b7d4c3a", ctx)
    ctx = baggage.set_baggage("user.email", EMAIL, ctx)
    carrier: dict[str, str] = {}
    token = context.attach(ctx)
    try:
        if kind is None:
            _policy().inject(carrier)
        else:
            with provider.get_tracer("t").start_as_current_span("call", kind=kind):
                _policy().inject(carrier)
    finally:
        context.detach(token)
    return carrier


def test_http_and_unknown_destinations_get_no_baggage_but_keep_traceparent() -> None:
    client = _inject_under(SpanKind.CLIENT)
    assert "baggage" not in client and "traceparent" in client
    assert "baggage" not in _inject_under(None)


def test_our_queue_gets_only_the_accepted_keys() -> None:
    producer = _inject_under(SpanKind.PRODUCER)
    assert producer["baggage"] == "enduser.id=5f0c2a9e1b7d4c3a"


def test_context_processor_never_copies_a_raw_client_user_id(otel: Harness) -> None:
    """Even without our propagator (the app replaced it), the span gets a pseudonym, not the raw id."""
    provider = otel.tracer_provider
    provider.add_span_processor(RequestContextSpanProcessor())  # sets attributes on start, before any export
    ctx = W3CBaggagePropagator().extract({"baggage": "enduser.id=jane.doe%40example.com,app.tenant.id=t-1"})
    with provider.get_tracer("t").start_as_current_span("server", context=ctx):
        pass
    with (
        request_context(tenant_id="t-2", user_id="user-42"),
        provider.get_tracer("t").start_as_current_span("ours"),
    ):
        pass
    raw, ours = otel.spans()
    assert dict(raw.attributes or {}) == {"enduser.id": pseudonymize(EMAIL), "app.tenant.id": "t-1"}
    assert dict(ours.attributes or {})["enduser.id"] == pseudonymize("user-42")
    assert trusted_user_id(pseudonymize("user-42"), sign_user_id(pseudonymize("user-42"))) == pseudonymize(
        "user-42"
    )


@pytest.fixture
def third_party() -> Iterator[tuple[str, list[dict[str, str]]]]:
    with header_recorder() as recorder:
        yield recorder


def _get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


@pytest.mark.integration
def test_a_real_flask_app_forwards_no_client_baggage_and_exports_no_raw_user_id(
    third_party: tuple[str, list[dict[str, str]]], tmp_path: Path
) -> None:
    url, received = third_party
    port = free_port()
    with running_sink() as sentry:
        env = clean_env(
            THIRD_PARTY_URL=url,
            APP_SENTRY_DSN=sentry.dsn(3),
            OTEL_SECRETARY_DATA_DIR=str(tmp_path / "data"),
            OTEL_SECRETARY_PROMETHEUS_PORT="0",
            OTEL_SECRETARY_RULES_ENABLED="false",
            OTEL_SECRETARY_SYSTEM_METRICS="false",
            OTEL_SERVICE_NAME="baggage-app",
            OTEL_SECRETARY_PII_KEY=PII_KEY,
        )
        argv = [
            venv_tool("opentelemetry-instrument"),
            "python",
            str(ROOT / "tests" / "pii" / "baggage_app.py"),
        ]
        proc = Proc("baggage-app", [*argv, str(port)], env, tmp_path)
        try:
            proc.wait_log("serving")
            headers = {
                "baggage": HOSTILE_BAGGAGE,
                "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01",
                # Sentry continues this trace and would forward the client's sentry-* items verbatim.
                "sentry-trace": "0123456789abcdef0123456789abcdef-0123456789abcdef-1",
            }
            assert _get(f"http://127.0.0.1:{port}/api/v1/forward", headers) == 200
            assert _get(f"http://127.0.0.1:{port}/api/v1/mine", headers) == 200
            traces = tmp_path / "data" / "traces.jsonl"
            proc.wait_until(
                lambda: traces.exists() and sum(s.kind == 2 for s in read_spans(traces)) >= 2,
                timeout=60,
                what="two server spans exported",
            )
        finally:
            proc.stop()
        sentry_text = sentry.text()
    assert len(received) == 4  # requests + urllib, two routes
    for headers in received:
        outbound = json.dumps(headers)
        assert leaks(outbound, [EMAIL, NAME, "jane.doe", "user.email", "user.name"]) == []
        assert "enduser.id" not in outbound and "tenant" not in outbound
        sentry_keys = {item.split("=")[0] for item in headers.get("baggage", "").split(",") if item}
        assert "sentry-trace_id" in sentry_keys and "sentry-user_email" not in sentry_keys
        if headers["user-agent"].startswith("python-requests"):  # urllib is not instrumented here
            assert headers["traceparent"].startswith("00-" + "ab" * 16)  # the trace still joins
    spans = read_spans(tmp_path / "data" / "traces.jsonl")
    servers = [s for s in spans if s.kind == 2]
    assert len(servers) == 2
    forward, mine = sorted(servers, key=lambda s: str(s.attributes.get("http.route")))
    assert forward.attributes["enduser.id"] == pseudonymize(EMAIL, key=PII_KEY)
    assert mine.attributes["enduser.id"] == pseudonymize("user-42", key=PII_KEY)
    traces_text = (tmp_path / "data" / "traces.jsonl").read_text()
    assert leaks(traces_text, [EMAIL, NAME, "jane.doe"]) == []
    assert leaks(sentry_text, [EMAIL, NAME, "jane.doe"]) == []
