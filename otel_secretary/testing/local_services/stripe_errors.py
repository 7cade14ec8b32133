"""A loopback stand-in for the Stripe API that answers in Stripe's documented error format.

stripe-mock (the official mock) covers success paths but cannot produce card declines, rate limits or
API errors; this server does, so error-path tests run the real ``stripe`` client against it:

* ``svc.fail("402:card_declined")`` → 402 ``card_error`` (``decline_code=insufficient_funds``)
* ``svc.fail("400")`` → 400 ``invalid_request_error``; ``svc.fail("400:idempotency_error")`` → the SDK's
  ``IdempotencyError``; ``svc.fail("409")`` → 409 ``idempotency_error`` (concurrent use of a key, retried)
* ``svc.fail("429")`` → 429 ``code=rate_limit`` (the SDK's ``RateLimitError``)
* ``svc.fail("500x2")`` → 500 ``api_error`` twice

A request whose ``payment_method`` is ``pm_card_chargeDeclinedInsufficientFunds`` is declined without
scripting, like Stripe's test-mode card. Every answer carries ``Request-Id`` and echoes ``Idempotency-Key``.
Success answers are minimal objects built from the posted form, enough for the demo when stripe-mock is
not built. All ids and data are synthetic.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from ._server import Fault, LocalService, Request, Response, run_main

# Path segment -> (object name, id prefix) for the resources the demo touches.
_RESOURCES = {
    "customers": ("customer", "cus"),
    "payment_intents": ("payment_intent", "pi"),
    "subscriptions": ("subscription", "sub"),
    "refunds": ("refund", "re"),
    "charges": ("charge", "ch"),
    "invoices": ("invoice", "in"),
    "prices": ("price", "price"),
    "payment_methods": ("payment_method", "pm"),
    "setup_intents": ("setup_intent", "seti"),
}
_DECLINING_METHODS = {
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_visa_chargeDeclined": "generic_decline",
}
_CARD_MESSAGES = {
    "card_declined": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
}


class FakeStripe(LocalService):
    """The running stand-in; point ``StripeClient(..., base_addresses={"api": svc.url})`` at it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._counter = 0
        self._counter_lock = threading.Lock()
        names = "|".join(_RESOURCES)
        routes = [
            ("POST", rf"/v1/(?P<res>{names})", self._create),
            ("GET", rf"/v1/(?P<res>{names})", self._list),
            ("GET", rf"/v1/(?P<res>{names})/(?P<id>[A-Za-z0-9_]+)", self._retrieve),
            ("POST", rf"/v1/(?P<res>{names})/(?P<id>[A-Za-z0-9_]+)", self._update),
            ("DELETE", rf"/v1/(?P<res>{names})/(?P<id>[A-Za-z0-9_]+)", self._delete),
            (
                "POST",
                r"/v1/payment_intents/(?P<id>[A-Za-z0-9_]+)/(?P<action>confirm|cancel|capture)",
                self._intent_action,
            ),
        ]
        super().__init__("stripe", routes, _error, host, port, self._headers)

    def _next(self) -> int:
        with self._counter_lock:
            self._counter += 1
            return self._counter

    def _headers(self, request: Request) -> dict[str, str]:
        headers = {"Request-Id": f"req_fake{self._next():010d}", "Stripe-Version": "2026-08-27.basil"}
        key = request.headers.get("idempotency-key")
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def _object(self, resource: str, object_id: str | None, form: dict[str, list[str]]) -> dict[str, Any]:
        name, prefix = _RESOURCES[resource]
        body: dict[str, Any] = {k: v[-1] for k, v in form.items() if "[" not in k}
        if "amount" in body and str(body["amount"]).isdigit():
            body["amount"] = int(body["amount"])
        body.update(
            {
                "id": object_id or f"{prefix}_fake{self._next():014d}",
                "object": name,
                "created": int(time.time()),
                "livemode": False,
            }
        )
        if name == "payment_intent":
            body.setdefault(
                "status", "requires_confirmation" if "payment_method" in body else "requires_payment_method"
            )
            body.setdefault("currency", "usd")
        if name == "subscription":
            body.setdefault("status", "active")
        return body

    def _create(self, request: Request, match: re.Match[str]) -> Response:
        declined = _decline_for(request.form)
        if declined is not None:
            return declined
        return Response(body=self._object(match["res"], None, request.form))

    def _retrieve(self, request: Request, match: re.Match[str]) -> Response:
        return Response(body=self._object(match["res"], match["id"], {}))

    def _update(self, request: Request, match: re.Match[str]) -> Response:
        return Response(body=self._object(match["res"], match["id"], request.form))

    def _delete(self, _request: Request, match: re.Match[str]) -> Response:
        name, _prefix = _RESOURCES[match["res"]]
        return Response(body={"id": match["id"], "object": name, "deleted": True})

    def _list(self, _request: Request, match: re.Match[str]) -> Response:
        return Response(body={"object": "list", "data": [], "has_more": False, "url": f"/v1/{match['res']}"})

    def _intent_action(self, request: Request, match: re.Match[str]) -> Response:
        declined = _decline_for(request.form)
        if declined is not None:
            return declined
        status = {"confirm": "succeeded", "cancel": "canceled", "capture": "succeeded"}[match["action"]]
        body = self._object("payment_intents", match["id"], request.form)
        body["status"] = status
        return Response(body=body)


def _decline_for(form: dict[str, list[str]]) -> Response | None:
    method = (form.get("payment_method") or [""])[-1]
    if method in _DECLINING_METHODS:
        body, headers = _error(Fault(402, reason="card_declined"), decline_code=_DECLINING_METHODS[method])
        return Response(402, body, headers)
    return None


def _error(fault: Fault, decline_code: str = "insufficient_funds") -> tuple[dict[str, Any], dict[str, str]]:
    status = fault.status or 500
    headers: dict[str, str] = {}
    error: dict[str, Any]
    if status == 402:
        code = fault.reason or "card_declined"
        error = {
            "type": "card_error",
            "code": code,
            "message": _CARD_MESSAGES.get(code, "Your card was declined."),
            "param": "payment_method",
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        }
        if code == "card_declined":
            error["decline_code"] = decline_code
            error["advice_code"] = (
                "try_again_later" if decline_code == "insufficient_funds" else "do_not_try_again"
            )
    elif status == 409:
        # A concurrent request holds the same Idempotency-Key: retryable, and the SDK does retry 409.
        error = {
            "type": "idempotency_error",
            "message": "There is currently another in-progress request using this Idempotency-Key.",
        }
    elif status == 400 and fault.reason == "idempotency_error":
        # Key reused with different parameters: the SDK raises IdempotencyError; retrying cannot help.
        error = {
            "type": "idempotency_error",
            "message": "Keys for idempotent requests can only be used with the same parameters.",
        }
        headers["Stripe-Should-Retry"] = "false"
    elif status == 429:
        # Stripe has no rate_limit_error type: the SDK maps status 429 (or code=rate_limit) to RateLimitError.
        error = {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": "Too many requests hit the API too quickly.",
        }
    elif status == 401:
        error = {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****fake"}
    elif status == 404:
        error = {"type": "invalid_request_error", "code": "resource_missing", "message": "No such object."}
    elif 400 <= status < 500:
        error = {
            "type": "invalid_request_error",
            "code": fault.reason or "parameter_invalid_integer",
            "message": "Invalid integer: abc",
            "param": "amount",
        }
    else:
        error = {"type": "api_error", "message": "An unknown error occurred (synthetic)."}
    return {"error": error}, headers


def start(host: str = "127.0.0.1", port: int = 0) -> FakeStripe:
    """Start the stand-in in a background thread."""
    return FakeStripe(host, port)


if __name__ == "__main__":
    run_main("Local Stripe API stand-in answering in Stripe's error format (and minimal successes).", start)
