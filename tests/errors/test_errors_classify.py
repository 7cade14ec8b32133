"""classify() over exceptions raised by the real libraries against real (local) servers.

Each case provokes the failure the way production would meet it: a real SQLite error through
SQLAlchemy, a 429 answered by a local OpenAI stand-in, a Stripe card decline in Stripe's error
format, a client timeout against a server that sleeps, a refused Redis connection, and so on.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
import redis
import requests
import sqlalchemy as sa
import stripe
from flask import Flask, request
from googleapiclient.errors import HttpError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from otel_secretary.errors import ErrorInfo, classify
from otel_secretary.settings import load_settings
from otel_secretary.testing.local_services import calendar_api


class Servers:
    """Lazy access to the session fixtures, so each case starts only the servers it needs."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return self._request.getfixturevalue(name)


def _raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except BaseException as exc:  # the exception under test, whatever it is
        return exc
    raise AssertionError("expected the action to fail")


class _Base(DeclarativeBase):
    pass


class _Customer(_Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(unique=True)


def sqlite_missing_table(_s: Servers) -> BaseException:
    engine = sa.create_engine("sqlite://")

    def query() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM invoices WHERE id = 42"))

    return _raised(query)


def sqlite_integrity(_s: Servers) -> BaseException:
    engine = sa.create_engine("sqlite://")
    _Base.metadata.create_all(engine)

    def insert_twice() -> None:
        with Session(engine) as session:
            session.add_all([_Customer(email="a@example.com"), _Customer(email="a@example.com")])
            session.commit()

    return _raised(insert_twice)


def sqlalchemy_no_result(_s: Servers) -> BaseException:
    engine = sa.create_engine("sqlite://")
    _Base.metadata.create_all(engine)

    def one() -> None:
        with Session(engine) as session:
            session.execute(sa.select(_Customer).where(_Customer.id == 7)).scalar_one()

    return _raised(one)


def _openai(s: Servers, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=s.openai_service.url + "/v1", api_key="sk-fake-test", max_retries=0, **options
    )


def _chat(client: openai.OpenAI, fault: str) -> Callable[[], object]:
    return lambda: client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Summarise the thread"}],
        extra_headers={"x-fake-fault": fault},
    )


def openai_rate_limit(s: Servers) -> BaseException:
    return _raised(_chat(_openai(s), "429"))


def openai_auth(s: Servers) -> BaseException:
    return _raised(_chat(_openai(s), "401"))


def openai_server_error(s: Servers) -> BaseException:
    return _raised(_chat(_openai(s), "500"))


def openai_timeout(s: Servers) -> BaseException:
    return _raised(_chat(_openai(s, timeout=0.1), "slow:0.5"))


def openai_connection_refused(s: Servers) -> BaseException:
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{s.closed_port}/v1", api_key="sk-fake", max_retries=0)
    return _raised(_chat(client, "none"))


def openai_missing_key(_s: Servers) -> BaseException:
    return _raised(lambda: openai.OpenAI(api_key=None, base_url="http://127.0.0.1:9/v1"))


def _stripe(s: Servers) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_fake", base_addresses={"api": s.stripe_service.url}, max_network_retries=0
    )


def stripe_card_declined(s: Servers) -> BaseException:
    return _raised(
        lambda: _stripe(s).v1.payment_intents.create(
            params={
                "amount": 1000,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
            }
        )
    )


def _stripe_fault(s: Servers, spec: str) -> BaseException:
    s.stripe_service.fail(spec)
    return _raised(lambda: _stripe(s).v1.customers.create(params={"email": "user@example.com"}))


def stripe_rate_limit(s: Servers) -> BaseException:
    return _stripe_fault(s, "429")


def stripe_api_error(s: Servers) -> BaseException:
    return _stripe_fault(s, "500")


def stripe_invalid_request(s: Servers) -> BaseException:
    return _stripe_fault(s, "400")


def calendar_rate_limit(s: Servers) -> BaseException:
    client = calendar_api.build_client(s.calendar_service)
    s.calendar_service.fail("403:rateLimitExceeded")
    return _raised(lambda: client.events().list(calendarId="primary").execute())


def calendar_not_found(s: Servers) -> BaseException:
    client = calendar_api.build_client(s.calendar_service)
    return _raised(lambda: client.events().get(calendarId="primary", eventId="evt404missing").execute())


def requests_timeout(s: Servers) -> BaseException:
    return _raised(lambda: requests.get(s.slow_http + "/slow", timeout=0.1))


def requests_refused(s: Servers) -> BaseException:
    return _raised(lambda: requests.get(f"http://127.0.0.1:{s.closed_port}/", timeout=2))


def requests_http_503(s: Servers) -> BaseException:
    return _raised(lambda: requests.get(s.slow_http + "/status/503", timeout=2).raise_for_status())


def httpx_timeout(s: Servers) -> BaseException:
    return _raised(lambda: httpx.get(s.slow_http + "/slow", timeout=0.1))


def httpx_http_429(s: Servers) -> BaseException:
    return _raised(lambda: httpx.get(s.slow_http + "/status/429", timeout=2).raise_for_status())


def socket_timeout(s: Servers) -> BaseException:
    def recv() -> None:
        with socket.create_connection(("127.0.0.1", int(s.slow_http.rsplit(":", 1)[1])), timeout=0.1) as sock:
            sock.recv(1)

    return _raised(recv)


def redis_refused(s: Servers) -> BaseException:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        host="127.0.0.1", port=s.closed_port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    return _raised(client.ping)


def _flask_app() -> Flask:
    app = Flask("classify_test")

    @app.post("/api/v1/meetings")
    def create_meeting() -> str:
        return str(request.get_json()["title"])

    return app


def werkzeug_not_found(_s: Servers) -> BaseException:
    adapter = _flask_app().url_map.bind("api.example.com")
    return _raised(lambda: adapter.match("/api/v1/nothing-here"))


def werkzeug_bad_request(_s: Servers) -> BaseException:
    app = _flask_app()

    def parse() -> None:
        with app.test_request_context(
            "/api/v1/meetings", method="POST", data="{not json", content_type="application/json"
        ):
            request.get_json()

    return _raised(parse)


def werkzeug_method_not_allowed(_s: Servers) -> BaseException:
    adapter = _flask_app().url_map.bind("api.example.com")
    return _raised(lambda: adapter.match("/api/v1/meetings", method="DELETE"))


def werkzeug_unauthorized(_s: Servers) -> BaseException:
    from flask import abort

    return _raised(lambda: abort(401))


def stripe_bad_key(s: Servers) -> BaseException:
    return _stripe_fault(s, "401")


def stripe_missing_object(s: Servers) -> BaseException:
    return _stripe_fault(s, "404")


def calendar_forbidden(s: Servers) -> BaseException:
    client = calendar_api.build_client(s.calendar_service)
    s.calendar_service.fail("403")
    return _raised(lambda: client.events().list(calendarId="team@example.com").execute())


def celery_not_registered(_s: Servers) -> BaseException:
    from celery import Celery

    return _raised(lambda: Celery("classify_test", set_as_current=False).tasks["tasks.missing"])


def celery_soft_time_limit(_s: Servers) -> BaseException:
    from celery.exceptions import SoftTimeLimitExceeded

    def run() -> None:
        raise SoftTimeLimitExceeded()

    return _raised(run)


def pydantic_validation(_s: Servers) -> BaseException:
    from pydantic import BaseModel

    class Meeting(BaseModel):
        title: str
        minutes: int

    return _raised(lambda: Meeting.model_validate({"title": "Sync", "minutes": "many"}))


def settings_error(_s: Servers) -> BaseException:
    return _raised(lambda: load_settings({"OTEL_SECRETARY_PROMETHEUS_PORT": "ninety"}))


def plain_key_error(_s: Servers) -> BaseException:
    return _raised(lambda: {}["summary"])


def wrapped_redis_error(s: Servers) -> BaseException:
    cause = redis_refused(s)

    def sync() -> None:
        raise RuntimeError("inbox sync failed") from cause

    return _raised(sync)


@dataclass(frozen=True)
class Case:
    make: Callable[[Servers], BaseException]
    error_type: str
    category: str
    severity: str
    system: str | None = None
    status: int | None = None


CASES = {
    "sqlite-missing-table": Case(sqlite_missing_table, "sqlalchemy.exc.OperationalError", "database", "high"),
    "sqlite-integrity": Case(sqlite_integrity, "sqlalchemy.exc.IntegrityError", "database", "high"),
    "sqlalchemy-no-result": Case(sqlalchemy_no_result, "sqlalchemy.exc.NoResultFound", "not_found", "low"),
    "openai-429": Case(openai_rate_limit, "openai.RateLimitError", "rate_limit", "medium", "openai", 429),
    "openai-401": Case(openai_auth, "openai.AuthenticationError", "auth", "critical", "openai", 401),
    "openai-500": Case(
        openai_server_error, "openai.InternalServerError", "external_api", "medium", "openai", 500
    ),
    "openai-timeout": Case(openai_timeout, "openai.APITimeoutError", "timeout", "medium", "openai"),
    "openai-refused": Case(
        openai_connection_refused, "openai.APIConnectionError", "external_api", "medium", "openai"
    ),
    "openai-no-key": Case(openai_missing_key, "openai.OpenAIError", "configuration", "critical", "openai"),
    "stripe-card-declined": Case(
        stripe_card_declined, "stripe._error.CardError", "validation", "low", "stripe", 402
    ),
    "stripe-429": Case(
        stripe_rate_limit, "stripe._error.RateLimitError", "rate_limit", "medium", "stripe", 429
    ),
    "stripe-500": Case(stripe_api_error, "stripe._error.APIError", "external_api", "medium", "stripe", 500),
    "stripe-400": Case(
        stripe_invalid_request, "stripe._error.InvalidRequestError", "validation", "medium", "stripe", 400
    ),
    "calendar-403-rate-limit": Case(
        calendar_rate_limit, "googleapiclient.errors.HttpError", "rate_limit", "medium", "calendar", 403
    ),
    "calendar-404": Case(
        calendar_not_found, "googleapiclient.errors.HttpError", "not_found", "low", "calendar", 404
    ),
    "requests-timeout": Case(
        requests_timeout, "requests.exceptions.ReadTimeout", "timeout", "medium", "http"
    ),
    "requests-refused": Case(
        requests_refused, "requests.exceptions.ConnectionError", "external_api", "medium", "http"
    ),
    "requests-503": Case(
        requests_http_503, "requests.exceptions.HTTPError", "external_api", "medium", "http", 503
    ),
    "httpx-timeout": Case(httpx_timeout, "httpx.ReadTimeout", "timeout", "medium", "http"),
    "httpx-429": Case(httpx_http_429, "httpx.HTTPStatusError", "rate_limit", "medium", "http", 429),
    "socket-timeout": Case(socket_timeout, "TimeoutError", "timeout", "medium"),
    "redis-refused": Case(redis_refused, "redis.exceptions.ConnectionError", "database", "critical"),
    "werkzeug-404": Case(werkzeug_not_found, "werkzeug.exceptions.NotFound", "not_found", "low", None, 404),
    "werkzeug-400": Case(
        werkzeug_bad_request, "werkzeug.exceptions.BadRequest", "validation", "low", None, 400
    ),
    "werkzeug-405": Case(
        werkzeug_method_not_allowed, "werkzeug.exceptions.MethodNotAllowed", "validation", "low", None, 405
    ),
    "werkzeug-401-inbound": Case(
        werkzeug_unauthorized, "werkzeug.exceptions.Unauthorized", "auth", "low", None, 401
    ),
    "stripe-401-outbound": Case(
        stripe_bad_key, "stripe._error.AuthenticationError", "auth", "critical", "stripe", 401
    ),
    "stripe-404": Case(
        stripe_missing_object, "stripe._error.InvalidRequestError", "not_found", "low", "stripe", 404
    ),
    "calendar-403-forbidden": Case(
        calendar_forbidden, "googleapiclient.errors.HttpError", "permission", "critical", "calendar", 403
    ),
    "celery-not-registered": Case(
        celery_not_registered, "celery.exceptions.NotRegistered", "configuration", "critical"
    ),
    "celery-soft-time-limit": Case(
        celery_soft_time_limit, "billiard.exceptions.SoftTimeLimitExceeded", "timeout", "medium"
    ),
    "pydantic": Case(
        pydantic_validation, "pydantic_core._pydantic_core.ValidationError", "validation", "low"
    ),
    "settings-error": Case(
        settings_error, "otel_secretary.settings.SettingsError", "configuration", "critical"
    ),
    "key-error": Case(plain_key_error, "KeyError", "internal", "high"),
    "runtime-from-redis": Case(wrapped_redis_error, "RuntimeError", "database", "critical"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_classify_real_exceptions(case: Case, request: pytest.FixtureRequest) -> None:
    exc = case.make(Servers(request))
    info = classify(exc)
    assert (info.error_type, info.category, info.severity, info.system, info.status_code) == (
        case.error_type,
        case.category,
        case.severity,
        case.system,
        case.status,
    )
    assert len(info.fingerprint) == 16 and int(info.fingerprint, 16) >= 0


def test_explicit_system_wins_over_detection(request: pytest.FixtureRequest) -> None:
    exc = httpx_timeout(Servers(request))
    assert classify(exc, system="calendar").system == "calendar"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"rate_limit": "high"}, "high"),
        (
            {"external_api.openai": "low", "rate_limit": "high"},
            "high",
        ),  # category.system is for that category
        ({"rate_limit.openai": "critical", "rate_limit": "low"}, "critical"),
        ({"openai.RateLimitError": "low", "rate_limit.openai": "critical"}, "low"),
        ({"validation": "critical"}, "medium"),  # unrelated keys change nothing
    ],
    ids=["category", "other-category-system", "category-system", "short-type", "unrelated"],
)
def test_severity_overrides_most_specific_key_wins(
    overrides: dict[str, str], expected: str, request: pytest.FixtureRequest
) -> None:
    exc = openai_rate_limit(Servers(request))
    assert classify(exc, overrides=overrides).severity == expected


def test_full_type_name_override_beats_short_name(request: pytest.FixtureRequest) -> None:
    exc = stripe_card_declined(Servers(request))
    overrides = {"stripe._error.CardError": "high", "stripe.CardError": "low", "validation": "medium"}
    assert classify(exc, overrides=overrides).severity == "high"


def test_overrides_come_from_the_settings_table() -> None:
    settings = load_settings({"OTEL_SECRETARY_SEVERITY_OVERRIDES": "not_found=medium"})
    exc = werkzeug_not_found(Servers(None))  # type: ignore[arg-type]
    assert classify(exc, overrides=settings.severity_overrides).severity == "medium"


class _Hostile(Exception):
    """An exception whose attribute access and str() both blow up, as some C extensions manage."""

    def __getattribute__(self, name: str) -> Any:
        if name in {"status_code", "response", "code", "http_status", "status", "resp"}:
            raise RuntimeError("boom")
        return super().__getattribute__(name)

    def __str__(self) -> str:
        raise RuntimeError("no str either")


def test_hostile_exception_still_classifies() -> None:
    info: ErrorInfo = classify(_raised(lambda: (_ for _ in ()).throw(_Hostile())))
    assert (info.category, info.severity) == ("internal", "high")
    assert info.error_type.endswith("_Hostile") and len(info.fingerprint) == 16


def test_no_classified_library_is_imported_by_the_package() -> None:
    """The classifier works by names, so importing it must not drag in optional client libraries."""
    import subprocess
    import sys

    code = (
        "import sys, otel_secretary.errors as e; "
        "names = ('openai','stripe','sqlalchemy','redis','googleapiclient','celery','requests','werkzeug'); "
        "print(json.dumps(sorted(m for m in names if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


def test_google_rate_limit_reason_needs_the_body() -> None:
    """A 403 without a quota reason stays a permission error (Google's two meanings of 403)."""
    import httplib2

    forbidden = HttpError(
        httplib2.Response({"status": 403}), b'{"error": {"message": "Forbidden", "errors": []}}'
    )
    assert classify(forbidden).category == "permission"
