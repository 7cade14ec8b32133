"""Person names: structural places, free-text cues, and names learned from structure (issue 10, item 7)."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk._logs import LoggingHandler
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from otel_secretary.pii import Masker
from otel_secretary.pii._names import NameMemory
from tests.support.otel_harness import masked_logs, masked_spans


def _masker() -> Masker:
    return Masker(meter_provider=MeterProvider())


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Hi Priya, can you move the call?", ["Priya"]),
        ("Thanks Marco!", ["Marco"]),
        ("Best regards,\nJane Doe", ["Jane Doe"]),
        ("Kind regards, Seán Ó Briain", ["Seán Ó Briain"]),
        ("Signed, Aiko Tanaka", ["Aiko Tanaka"]),
        ("Booked with Dr. Ana García-López for Tuesday", ["Ana García-López"]),
        ("Ms. Okafor confirmed", ["Okafor"]),
        ("Prof. Müller will attend", ["Müller"]),
        ("lunch with Priya Natarajan at noon", ["Priya Natarajan"]),
        ("call with Ludwig van Beethoven moved", ["Ludwig van Beethoven"]),
        ("please forward this to Marco Rossi", ["Marco Rossi"]),
        ("my name is Lucas Martin and I need help", ["Lucas Martin"]),
        ("meeting with Анна Петрова tomorrow", ["Анна Петрова"]),
        ("明日は田中さんと会議です", ["田中"]),
        ("Bonjour Élodie, merci", ["Élodie"]),
        ("Hola María José, gracias", ["María José"]),
        ("Jane Doe <jane@example.com> wrote:", ["Jane Doe"]),
    ],
)
def test_free_text_cues_mask_the_name_only(text: str, names: list[str]) -> None:
    masked = _masker().mask_text(text)
    assert "<name>" in masked
    assert not [name for name in names if name in masked], masked
    assert _masker().mask_text(masked) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Hi team, the deploy is done",
        "Dear Customer, your invoice is ready",
        "Meeting with Stripe about the payout schedule",
        "Best practices for retries",
        "Thanks for the update",
        "call with Sales moved to Monday",
        "forward this to Support",
        "Regards, The Scheduler Team".lower(),
        "phone number format: +CC NNN NNN NNNN",
        "Hi there!",
        "ask the model to summarise",
    ],
)
def test_cue_without_a_person_keeps_the_text(text: str) -> None:
    assert _masker().mask_text(text) == text


@pytest.mark.parametrize(
    "text",
    # Brands and works named by a title and one word; none of these is in the accuracy corpus.
    ["Dr Pepper and fries", "2x Mr. Clean refill", "watching Mrs. Doubtfire tonight", "Dr. Oetker pizza"],
)
def test_a_brand_after_a_title_is_kept(text: str) -> None:
    assert _masker().mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Dr. Pepper Lee, cardiology", "Pepper Lee"),  # a full name: the person
        ("Mr. Price called back", "Price"),  # a common surname is not on the brand list
        ("Mr. Robotham called", "Robotham"),  # a word, not a prefix
    ],
)
def test_a_person_after_a_title_is_masked_even_near_a_brand(text: str, name: str) -> None:
    masked = _masker().mask_text(text)
    assert name not in masked and "<name>" in masked, masked


def test_calendar_and_gmail_shapes() -> None:
    masker = _masker()
    event = {
        "summary": "Roadmap review",
        "organizer": {"email": "jane.doe@example.com", "displayName": "Jane Doe"},
        "attendees": [{"email": "priya@example.com", "displayName": "Priya Natarajan"}],
    }
    masked = masker.mask_value("calendar.event", event)
    assert masked["organizer"] == {"email": "<email>", "displayName": "<name>"}
    assert masked["attendees"] == ({"email": "<email>", "displayName": "<name>"},)
    assert masked["summary"] == "Roadmap review"
    carried = masker.mask_text(json.dumps(event))
    assert "Jane Doe" not in carried and "Priya Natarajan" not in carried and "Roadmap review" in carried
    headers = [
        {"name": "From", "value": "Jane Doe <jane.doe@example.com>"},
        {"name": "Subject", "value": "Q3"},
    ]
    assert masker.mask_value("gmail.payload.headers", headers) == (
        {"name": "From", "value": "<name> <<email>>"},
        {"name": "Subject", "value": "Q3"},
    )


def test_names_learned_from_structure_are_masked_across_the_trace() -> None:
    """The attendee's name, set on the parent, is masked in a child's span name, its SQL, an exception
    message and a log body of the same trace: places no cue marks."""
    masker = _masker()
    tracer_provider, spans = masked_spans(masker, batch=True)
    logger_provider, logs = masked_logs(masker, batch=True)
    logger = logging.getLogger("tests.pii.names")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logger_provider)
    logger.addHandler(handler)
    tracer = tracer_provider.get_tracer("t")
    try:
        with tracer.start_as_current_span("calendar.events.insert") as parent:
            parent.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
            parent.set_attribute("calendar.organizer.email", "okafor@example.com")
            with tracer.start_as_current_span("prepare brief for Priya") as child:
                child.set_attribute("db.statement", "SELECT * FROM notes WHERE author = 'Natarajan'")
                logger.warning("Okafor asked to move the meeting; Priya Natarajan agreed")
            raise_and_record(parent)
        with tracer.start_as_current_span("unrelated trace about Priya"):
            pass
    finally:
        logger.removeHandler(handler)
    # The batch holds the whole trace (as with the SDK's default delays); spans export before the logs.
    tracer_provider.force_flush()
    logger_provider.force_flush()
    exported = {span.name: span for span in spans.get_finished_spans()}
    assert "prepare brief for <name>" in exported
    child_span = exported["prepare brief for <name>"]
    assert child_span.attributes is not None
    assert child_span.attributes["db.statement"] == "SELECT * FROM notes WHERE author = '<name>'"
    (record,) = logs.get_finished_logs()
    assert record.log_record.body == "<name> asked to move the meeting; <name> agreed"
    parent_span = exported["calendar.events.insert"]
    assert parent_span.events[0].attributes is not None
    assert "<name>" in str(parent_span.events[0].attributes["exception.message"])
    # Another trace never learned the name: it is not a cue there, so it stays (per trace, by design).
    assert "unrelated trace about Priya" in exported


def raise_and_record(span: object) -> None:
    try:
        raise ValueError("Priya Natarajan has no free slot")
    except ValueError as exc:
        span.record_exception(exc)  # type: ignore[attr-defined]


def test_name_memory_is_bounded() -> None:
    memory = NameMemory(max_traces=3, max_names=2)
    for trace in range(10):
        memory.learn(trace, ["Priya", "Marco", "Jane"])
    assert len(memory) == 3
    assert memory.pattern(0) is None
    pattern = memory.pattern(9)
    assert pattern is not None and pattern.search("Jane") is None and pattern.search("priya") is not None


def test_console_logging_masks_names_learned_for_the_current_trace() -> None:
    from otel_secretary.pii import MaskingLoggingFilter

    masker = _masker()
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("calendar.events.insert") as span:
        masker.learn(span.get_span_context().trace_id, {"calendar.attendee.display_name": "Priya Natarajan"})
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "%s accepted", ("Priya",), None)
        MaskingLoggingFilter(masker).filter(record)
    assert record.getMessage() == "<name> accepted"
    outside = logging.LogRecord("app", logging.INFO, __file__, 1, "%s accepted", ("Priya",), None)
    MaskingLoggingFilter(masker).filter(outside)
    assert outside.getMessage() == "Priya accepted"


def test_names_in_scripts_without_blanks_are_masked_inside_their_run_of_text() -> None:
    """Chinese and Japanese write no blank between words and Korean attaches particles: a name the trace
    taught is found inside a run of its script ("田中太郎からの返信"), while a Latin name stays whole-word."""
    masker = _masker()
    masker.learn(7, {"name": "田中太郎", "user.name": "王伟", "organizer.name": "김민준"})
    masker.learn(7, {"attendee.name": "Priya Patel"})
    with masker.trace_scope(7):
        assert masker.mask_text("田中太郎からの返信") == "<name>からの返信"
        assert masker.mask_text("王伟说好") == "<name>说好"
        assert masker.mask_text("김민준님 안녕하세요") == "<name>님 안녕하세요"
        assert masker.mask_text("Priyanka is not Priya") == "Priyanka is not <name>"
    with masker.trace_scope(8):  # another trace was never taught these names
        assert masker.mask_text("田中太郎からの返信") == "田中太郎からの返信"
