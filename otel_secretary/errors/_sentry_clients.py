"""Every Sentry client in the process gets our processing, whoever creates it and whenever.

Apps that adopt us usually call ``sentry_sdk.init(...)`` themselves, at import (after our distro ran
under ``opentelemetry-instrument``) or before calling ``otel_secretary.configure()``. Each ``init``
builds a new client with the app's options, which used to replace everything we add. So:

- **Client creation is hooked**, not ``sentry_sdk.init``: ``_Client._init_impl`` (run by every
  ``Client(...)``, by ``sentry_sdk.init`` and by unpickling) is wrapped once, when ``sentry_sdk`` is
  imported. A module attribute such as ``sentry_sdk.init`` can be bound by the app before we patch it
  (``from sentry_sdk import init``); a class method cannot. A client that already exists when we start
  is adopted in place. If a future sentry-sdk renames the method we fall back to a global event
  processor and say on stderr that breadcrumbs, logs and the app's ``before_send`` output are then not
  covered.
- **Ours run last.** The app's ``before_send`` / ``before_send_transaction`` / ``before_breadcrumb`` /
  ``before_send_log`` / ``before_send_metric`` see each item first and ours see their result: a hook
  that adds personal data is still masked, a hook that drops an item still drops it, and the app's
  hooks keep seeing the data they were written against. (Sentry's event processors, where a global
  processor would run, come *before* ``before_send``, so that place cannot be last.)
- **The transport masks once more.** ``transport.capture_envelope`` of every client is wrapped: each
  JSON item of every envelope (events, transactions, sessions, logs, metrics, check-ins, profiles,
  client reports) and the envelope's headers are masked again right before the HTTP send, so items
  that pass no hook (sessions carry ``ip_address`` and a distinct id; attachments) are covered too.
  Binary attachments cannot be masked and are dropped.
- **Sentry's own transactions** (the app's tracing) keep Sentry's trace ids; Flask ones are tagged
  with the OTel trace and span id of the same request.
- **Conflicts are said once** on stderr, with what wins (a different DSN, Sentry's propagator
  replacing W3C propagation, Sentry's OTLP span exporter, Sentry's legacy OTel integration, Sentry
  tracing next to ours).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from otel_secretary._internal.self_monitoring import report_internal_error

from ._record import ErrorRecorder
from ._sentry import RepeatSampler, SentryEventProcessor, our_client_options

if TYPE_CHECKING:
    from otel_secretary.pii import Masker

HOOKS: Final = (
    "before_send",
    "before_send_transaction",
    "before_breadcrumb",
    "before_send_log",
    "before_send_metric",
)
_MARK: Final = "__otel_secretary_hook__"
#: The dynamic sampling context's keys (Sentry's spec); a client may send any other ``sentry-*`` item.
DSC_KEYS: Final = frozenset(
    {"trace_id", "public_key", "sample_rate", "sample_rand", "sampled", "release", "environment",
     "transaction", "replay_id", "org_id"}
)  # fmt: skip
_PATCHED: Final = "__otel_secretary_patched__"

Owner = Literal["none", "ours", "app", "both"]


@dataclass(frozen=True)
class SentryStatus:
    """What ``otel-secretary config check`` and the tests read about Sentry in this process."""

    owner: Owner  # who created the active client: nobody, us, the app, or the app while we have a DSN
    processors_installed: bool  # the active client runs our hooks last and masks at its transport
    client_hook: Literal["client-init", "global-processor", "not-installed"]  # how later clients are reached
    our_dsn_configured: bool
    conflicts: tuple[str, ...]
    sdk_version: str = ""  # the installed sentry-sdk
    hook_available: bool = False  # this sentry-sdk lets us reach clients the app creates

    def describe(self) -> str:
        installed = "installed" if self.processors_installed else "NOT installed"
        who = {"none": "not initialised", "ours": "ours", "app": "the app's", "both": "the app's and ours"}
        return f"sentry: {who[self.owner]}; our processors {installed} (later clients: {self.client_hook})"

    def describe_configuration(self) -> str:
        """For ``config check`` (no app loaded): what will happen when the app starts."""
        dsn = "OTEL_SECRETARY_SENTRY_DSN set (ours)" if self.our_dsn_configured else "no DSN of ours"
        reach = (
            "an app's own sentry_sdk.init gets our masking, fingerprints, tags and trace links"
            if self.hook_available
            else "an app's own sentry_sdk.init is only partly covered (no client hook in this sentry-sdk)"
        )
        return f"sentry: {dsn}; sentry-sdk {self.sdk_version or 'not installed'}: {reach}"


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.processor: SentryEventProcessor | None = None
        self.our_dsn = ""
        self.our_client_id: int | None = None
        self.creating_ours = False
        self.hook: Literal["client-init", "global-processor", "not-installed"] = "not-installed"
        self.said: dict[str, str] = {}
        self.default_masker: Any = None


_state = _State()


def _renew_lock() -> None:
    _state.lock = threading.RLock()


# A gunicorn worker forked while another thread held the lock must not freeze at its first Sentry event.
os.register_at_fork(after_in_child=_renew_lock)


def _say_once(kind: str, message: str) -> None:
    with _state.lock:
        if kind in _state.said:
            return
        _state.said[kind] = message
    print(f"otel-secretary: Sentry: {message}", file=sys.stderr, flush=True)


def _owns_current_client() -> bool:
    if _state.our_client_id is None:
        return False
    import sentry_sdk

    return id(sentry_sdk.get_client()) == _state.our_client_id


def install(
    *,
    recorder: ErrorRecorder,
    masker: Masker | None,
    repeat_window: float,
    dsn: str,
    environment: str,
    extra_options: Mapping[str, Any] | None = None,
) -> SentryEventProcessor:
    """Process every Sentry client of this process; with ``dsn``, create ours unless the app has one.

    Without a DSN sentry-sdk is not imported here (≈0.25 s of start-up): the client hook is installed
    when the app imports it."""
    with _state.lock:
        if _state.processor is None:
            _state.processor = SentryEventProcessor(
                recorder, masker, RepeatSampler(repeat_window), owns_client=_owns_current_client
            )
        else:
            _state.processor.recorder = recorder
        processor = _state.processor
        if dsn:
            _state.our_dsn = dsn
    if dsn or "sentry_sdk" in sys.modules:
        _on_sentry_import(None)
    else:
        _hook_future_import()
    if dsn:
        _init_ours(dsn, environment, extra_options)
    return processor


def _hook_future_import() -> None:
    try:
        import wrapt

        wrapt.register_post_import_hook(_on_sentry_import, "sentry_sdk")
    except Exception as failure:  # without wrapt: hook now (costs the import) rather than never
        report_internal_error("errors.sentry_import_hook", failure)
        _on_sentry_import(None)


def _on_sentry_import(_module: object) -> None:
    """Patch client creation, then adopt the client that may already exist."""
    try:
        import sentry_sdk

        _patch_client_class()
        client = sentry_sdk.get_client()
        if client.is_active():
            adopt(client)
    except Exception as failure:
        report_internal_error("errors.sentry_hook", failure)


def _patch_client_class() -> None:
    from sentry_sdk import client as client_module

    with _state.lock:
        if _state.hook != "not-installed":
            return
        cls = getattr(client_module, "_Client", None)
        original = getattr(cls, "_init_impl", None)
        if cls is None or not callable(original):
            _fallback_global_processor()
            return
        if not getattr(original, _PATCHED, False):

            @functools.wraps(original)
            def _init_impl(self: Any) -> None:
                original(self)
                adopt(self)

            setattr(_init_impl, _PATCHED, True)
            cls._init_impl = _init_impl
        _state.hook = "client-init"
    _filter_incoming_sentry_baggage()


def _filter_incoming_sentry_baggage() -> None:
    """A client's ``baggage: sentry-x=<e-mail>`` is forwarded by Sentry's tracing to every host the app
    calls (it freezes incoming ``sentry-*`` items). Keep only the DSC keys, and only values the masker
    leaves alone."""
    try:
        from sentry_sdk.tracing_utils import Baggage
    except ImportError:
        return
    original = Baggage.__dict__.get("from_incoming_header")
    function = getattr(original, "__func__", None)
    if function is None or getattr(function, _PATCHED, False):
        return

    @functools.wraps(function)
    def from_incoming_header(cls: Any, header: Any, *args: Any, **kwargs: Any) -> Any:
        result = function(cls, header, *args, **kwargs)
        try:
            mask = _masker().mask_text
            items = getattr(result, "sentry_items", None)
            if isinstance(items, dict):
                result.sentry_items = {
                    key: value
                    for key, value in items.items()
                    if key in DSC_KEYS and mask(str(value)) == str(value)
                }
        except Exception as failure:
            report_internal_error("errors.sentry_incoming_baggage", failure)
            result.sentry_items = {}
        return result

    setattr(from_incoming_header, _PATCHED, True)
    Baggage.from_incoming_header = classmethod(from_incoming_header)  # type: ignore[method-assign,assignment]


def _fallback_global_processor() -> None:
    from sentry_sdk.scope import add_global_event_processor

    def process(event: Any, hint: Any) -> Any:
        processor = _state.processor
        return processor.before_send(event, hint) if processor is not None else event

    add_global_event_processor(process)
    _state.hook = "global-processor"
    _say_once(
        "hook",
        "this sentry-sdk has no Client._init_impl; events are masked by a global event processor, but "
        "breadcrumbs, logs and what the app's before_send adds are NOT masked. Pin sentry-sdk 2.x.",
    )


def _chain(name: str, theirs: Callable[..., Any] | None) -> Callable[..., Any]:
    """The app's hook first, ours on its result (``None`` from theirs still drops the item)."""
    if theirs is not None and getattr(theirs, _MARK, False):
        return theirs

    def chained(item: Any, hint: Any) -> Any:
        if theirs is not None:
            item = theirs(item, hint)  # the app's exceptions are Sentry's to handle, as without us
            if item is None:
                return None
        processor = _state.processor
        if processor is None:
            return item
        ours: Callable[[Any, Any], Any] = getattr(processor, name)
        return ours(item, hint)

    setattr(chained, _MARK, True)
    return chained


def adopt(client: Any) -> None:
    """Chain our hooks after the client's own and mask at its transport. Idempotent, never raises."""
    try:
        options = client.options
        experiments = options.get("_experiments") or {}
        for name in HOOKS:
            theirs = options.get(name) or experiments.get(name)
            options[name] = _chain(name, theirs)
            if name in experiments:
                experiments[name] = options[name]
        _wrap_transport(client)
        if options.get("traces_sample_rate") is not None or options.get("traces_sampler"):
            _link_flask_transactions()
        if not _state.creating_ours and id(client) != _state.our_client_id and options.get("dsn"):
            _report_conflicts(client)
    except Exception as failure:
        report_internal_error("errors.sentry_adopt", failure)


_transactions_linked = False


def _link_flask_transactions() -> None:
    """Sentry's own tracing (the app's choice) makes transactions with Sentry's trace ids; tag each
    Flask one with the OTel trace and span id of the same request, at ``request_finished`` (the OTel
    server span is still current then; Sentry's transaction ends later, when the response closes)."""
    global _transactions_linked
    if _transactions_linked:
        return
    try:
        from flask.signals import request_finished
    except ImportError:
        return
    request_finished.connect(_tag_sentry_transaction, weak=False)
    _transactions_linked = True


def _tag_sentry_transaction(sender: Any, **_extra: Any) -> None:
    try:
        from ._sentry import active_trace_ids

        ids = active_trace_ids()
        if ids is None:
            return
        import sentry_sdk

        transaction = sentry_sdk.get_current_scope().transaction
        if transaction is not None:
            transaction.set_tag("otel.trace_id", ids[0])
            transaction.set_tag("otel.span_id", ids[1])
    except Exception as failure:
        report_internal_error("errors.sentry_transaction_link", failure)


def _masker() -> Any:
    processor = _state.processor
    if processor is not None and processor.masker is not None:
        return processor.masker
    if _state.default_masker is None:
        from otel_secretary.pii import Masker

        _state.default_masker = Masker()
    return _state.default_masker


def _wrap_transport(client: Any) -> None:
    transport = getattr(client, "transport", None)
    if transport is None or getattr(transport, _MARK, False):
        return
    original = transport.capture_envelope

    def capture_envelope(envelope: Any) -> Any:
        from otel_secretary.pii._sentry import mask_envelope

        try:
            masked = mask_envelope(_masker(), envelope)
        except Exception as failure:
            report_internal_error("errors.sentry_envelope", failure)
            return None  # fail closed
        if masked is None:
            return None
        return original(masked)

    transport.capture_envelope = capture_envelope
    setattr(transport, _MARK, True)


def processors_installed(client: Any) -> bool:
    options = getattr(client, "options", {}) or {}
    hooks = all(getattr(options.get(name), _MARK, False) for name in HOOKS)
    transport = getattr(client, "transport", None)
    return hooks and (transport is None or bool(getattr(transport, _MARK, False)))


def _init_ours(dsn: str, environment: str, extra_options: Mapping[str, Any] | None) -> None:
    import sentry_sdk

    client = sentry_sdk.get_client()
    if client.is_active():
        if id(client) != _state.our_client_id:
            _report_conflicts(client)  # the app initialised Sentry before us: it wins, we adopted it
        return
    _state.creating_ours = True
    try:
        sentry_sdk.init(**our_client_options(dsn, environment, extra_options))
    finally:
        _state.creating_ours = False
    new_client = sentry_sdk.get_client()
    _state.our_client_id = id(new_client)
    if not processors_installed(new_client):
        adopt(new_client)


def _dsn_target(dsn: str) -> str:
    """host/project of a DSN, without its public key."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def _report_conflicts(client: Any) -> None:
    options = client.options
    their_dsn = str(options.get("dsn") or "")
    if _state.our_dsn and their_dsn and _dsn_target(their_dsn) != _dsn_target(_state.our_dsn):
        _say_once(
            "dsn",
            f"the app's sentry_sdk.init sends to {_dsn_target(their_dsn)}, OTEL_SECRETARY_SENTRY_DSN names "
            f"{_dsn_target(_state.our_dsn)}; the app's DSN wins (one client per process). Our masking, "
            "fingerprints, tags and trace links apply to its events.",
        )
    elif _state.our_dsn:
        _say_once(
            "app-client",
            "the app initialised Sentry itself; its client and options win, our masking, fingerprints, "
            "tags and trace links are chained after its hooks.",
        )
    integrations: Mapping[str, Any] = getattr(client, "integrations", {}) or {}
    otlp = integrations.get("otlp")
    if otlp is not None and getattr(otlp, "setup_propagator", False):
        from otel_secretary.context import reapply_baggage_policy

        wrapped = reapply_baggage_policy()
        _say_once(
            "propagator",
            "the app's OTLPIntegration replaced the global propagator with Sentry's; the app's choice "
            "wins, so W3C traceparent/baggage are no longer injected by OTel instrumentations"
            + ("; our baggage policy is applied around it" if wrapped else "")
            + ". Pass OTLPIntegration(setup_propagator=False) to keep W3C propagation.",
        )
    if otlp is not None and getattr(otlp, "setup_otlp_traces_exporter", False):
        wrapped = _mask_sentry_span_exporter()
        _say_once(
            "otlp-exporter",
            "the app's OTLPIntegration exports OTel spans to Sentry; "
            + (
                "they pass our masker first."
                if wrapped
                else "they could NOT be wrapped in our masker. Pass setup_otlp_traces_exporter=False."
            ),
        )
    if "opentelemetry" in integrations or options.get("instrumenter") == "otel":
        _say_once(
            "legacy-otel",
            "the app enabled Sentry's deprecated OpenTelemetryIntegration (instrumenter='otel'); "
            "otel-secretary's TracerProvider stays the global one. Use OTLPIntegration instead.",
        )
    if (options.get("traces_sample_rate") is not None or options.get("traces_sampler")) and otlp is None:
        _say_once(
            "tracing",
            "Sentry's own tracing is on next to OpenTelemetry: Sentry transactions keep Sentry's trace "
            "ids; error events carry the OTel trace id (contexts.trace, tag otel.trace_id). Both are masked.",
        )


def _mask_sentry_span_exporter() -> bool:
    """Put our masker in front of the OTLP exporter Sentry's OTLPIntegration added (private SDK API)."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from otel_secretary.pii import Masker, MaskingSpanExporter

        masker = _masker()
        if not isinstance(masker, Masker):
            return False
        provider = trace.get_tracer_provider()
        processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())
        wrapped = False
        for processor in processors:
            if not isinstance(processor, BatchSpanProcessor):
                continue
            inner = processor._batch_processor
            exporter = inner._exporter
            if isinstance(exporter, MaskingSpanExporter):
                wrapped = wrapped or "integration/otlp" in str(getattr(exporter.delegate, "_endpoint", ""))
                continue
            if "integration/otlp" in str(getattr(exporter, "_endpoint", "")):
                inner._exporter = MaskingSpanExporter(exporter, masker)  # type: ignore[arg-type]
                wrapped = True
        return wrapped
    except Exception as failure:
        report_internal_error("errors.sentry_otlp_exporter", failure)
        return False


def status(dsn_configured: bool | None = None) -> SentryStatus:
    """Live state of Sentry in this process; ``dsn_configured`` stands in when nothing is installed."""
    owner: Owner = "none"
    installed = False
    version, available = _sdk_capabilities()
    if "sentry_sdk" in sys.modules:
        import sentry_sdk

        client = sentry_sdk.get_client()
        if client.is_active():
            installed = processors_installed(client)
            ours = id(client) == _state.our_client_id
            owner = "ours" if ours else ("both" if _state.our_dsn else "app")
    return SentryStatus(
        owner=owner,
        processors_installed=installed,
        client_hook=_state.hook,
        our_dsn_configured=bool(_state.our_dsn) or bool(dsn_configured),
        conflicts=tuple(_state.said.values()),
        sdk_version=version,
        hook_available=available,
    )


def _sdk_capabilities() -> tuple[str, bool]:
    try:
        from sentry_sdk import client as client_module
        from sentry_sdk.consts import VERSION
    except ImportError:
        return "", False
    cls = getattr(client_module, "_Client", None)
    return str(VERSION), callable(getattr(cls, "_init_impl", None))


def reset_for_tests() -> None:
    """Forget our processor and client; the class patch stays (it is idempotent and state-driven)."""
    with _state.lock:
        _state.processor = None
        _state.our_dsn = ""
        _state.our_client_id = None
        _state.said.clear()
