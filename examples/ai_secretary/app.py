"""The AI secretary's HTTP API (Flask).

Run: ``opentelemetry-instrument flask --app examples.ai_secretary.app run``.

Nothing here mentions OpenTelemetry except :func:`otel_secretary.request_context`, which puts the
tenant and a pseudonymous user id on the trace: everything else comes from auto-instrumentation.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, g, jsonify, request, stream_with_context
from opentelemetry import metrics
from sqlalchemy import text

from examples.ai_secretary.assistant import answer_inbound, stream_summary, summarize_email
from examples.ai_secretary.clients import calendar_service, stripe_client
from examples.ai_secretary.config import AppConfig
from examples.ai_secretary.models import Message, make_sessionmaker
from otel_secretary import request_context, semconv
from otel_secretary.celery import observe_queue_lengths


def create_app(config: AppConfig | None = None) -> Flask:
    config = config or AppConfig.from_env()
    sessions = make_sessionmaker(config.database_url)
    app = Flask("ai_secretary")
    subscriptions_started = semconv.counter(
        metrics.get_meter("ai_secretary"), semconv.DEMO_SUBSCRIPTIONS_STARTED
    )
    from examples.ai_secretary.tasks import celery_app

    observe_queue_lengths(celery_app)

    def fault() -> str | None:
        return request.headers.get("X-Fake-Fault") if config.allow_faults else None

    def payload() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400, "expected a JSON object")
        return data

    @app.before_request
    def attach_context() -> None:
        g.context = request_context(
            request.headers.get("X-Tenant-ID"),
            request.headers.get("X-User-ID"),
            conversation_id=request.headers.get("X-Conversation-ID"),
        )
        g.context.__enter__()

    @app.teardown_request
    def detach_context(_exc: BaseException | None) -> None:
        if "context" in g:
            g.context.__exit__(None, None, None)

    @app.get("/health")
    @app.get("/health/live")
    def health() -> Response:
        return jsonify(status="ok")

    @app.get("/health/ready")
    def ready() -> tuple[Response, int]:
        """Ready when the database answers and the Celery broker accepts connections."""
        checks: dict[str, str] = {}
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = type(exc).__name__
        try:
            with celery_app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = type(exc).__name__
        healthy = all(v == "ok" for v in checks.values())
        return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503

    @app.post("/api/v1/emails/summarize")
    def summarize() -> Response:
        data = payload()
        subject, body = str(data.get("subject", "")), str(data.get("body", ""))
        if data.get("stream"):
            chunks = stream_summary(config, subject, body)
            return Response(stream_with_context(chunks), mimetype="text/plain")
        return jsonify(summary=summarize_email(config, subject, body, fault=fault()))

    @app.post("/api/v1/meetings")
    def schedule_meeting() -> tuple[Response, int]:
        data = payload()
        event = {
            "summary": str(data.get("title", "Meeting")),
            "start": {"dateTime": data["start"]},
            "end": {"dateTime": data["end"]},
            "attendees": [{"email": a} for a in data.get("attendees", [])],
        }
        calendar_id = str(data.get("calendar_id", "primary"))
        created = calendar_service(config).events().insert(calendarId=calendar_id, body=event).execute()
        return jsonify(id=created.get("id"), status=created.get("status")), 201

    @app.post("/api/v1/subscriptions")
    def start_subscription() -> tuple[Response, int]:
        data = payload()
        client = stripe_client(config)
        customer = client.v1.customers.create(params={"email": str(data["email"])})
        subscription = client.v1.subscriptions.create(
            params={"customer": customer.id, "items": [{"price": str(data.get("price", "price_basic"))}]}
        )
        subscriptions_started.add(1, {"price": str(data.get("price", "price_basic"))[:40]})
        return jsonify(customer=customer.id, subscription=subscription.id, status=subscription.status), 201

    @app.post("/api/v1/messages/answer")
    def answer_message() -> Response:
        """The secretary as an agent: tools (Stripe, Calendar, a draft), then the reply."""
        data = payload()
        return jsonify(reply=answer_inbound(config, str(data["sender"]), str(data["body"])))

    @app.get("/api/v1/messages")
    def list_messages() -> Response:
        tenant = request.headers.get("X-Tenant-ID", "default")
        with sessions() as session:
            rows = session.query(Message).filter_by(tenant_id=tenant).order_by(Message.id.desc()).limit(50)
            return jsonify(messages=[m.as_dict() for m in rows])

    @app.post("/api/v1/messages/inbound")
    def inbound_message() -> tuple[Response, int]:
        from examples.ai_secretary.tasks import process_inbound_message

        data = payload()
        tenant = request.headers.get("X-Tenant-ID", "default")
        with sessions() as session:
            message = Message(tenant_id=tenant, sender=str(data["sender"]), body=str(data["body"]))
            session.add(message)
            session.commit()
            message_id = message.id
        process_inbound_message.delay(message_id, fault())
        return jsonify(id=message_id, status="queued"), 202

    @app.errorhandler(KeyError)
    def missing_field(exc: KeyError) -> tuple[Response, int]:
        return jsonify(error="missing field", field=str(exc.args[0]) if exc.args else ""), 400

    return app


app = create_app()
