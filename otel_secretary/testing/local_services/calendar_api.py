"""A loopback stand-in for the Google Calendar v3 API, discovery document included, so the real
``googleapiclient`` works fully offline.

It serves a trimmed discovery document (events.insert/list/get/delete, calendarList.list) whose ``rootUrl``
points back at this server, keeps events in memory, and answers errors in Google's JSON error format
(``{"error": {"code", "message", "errors": [{"reason", "domain"}], "status"}}``) so the client's own retry
logic (403 ``rateLimitExceeded``, 429, 5xx) behaves as against Google. Faults:
``svc.fail("403:rateLimitExceeded")``, ``svc.fail("429x2")``, ``svc.fail("500")``.

Build a client with :func:`build_client` or ``build("calendar", "v3", static_discovery=False,
discoveryServiceUrl=svc.discovery_url, developerKey="fake")``.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import unquote

from ._server import Fault, LocalService, Request, Response, run_main

_PREFIX = r"(?:/calendar/v3)?"
_STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_DEFAULT_REASON = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    409: "duplicate",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}


def _param(location: str, required: bool = False, type_: str = "string") -> dict[str, Any]:
    return {"location": location, "required": required, "type": type_}


def discovery_document(root_url: str) -> dict[str, Any]:
    """The trimmed Calendar v3 discovery document; ``root_url`` must end with ``/``."""
    calendar_id = _param("path", required=True)
    event_id = _param("path", required=True)
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": "calendar:v3",
        "name": "calendar",
        "version": "v3",
        "title": "Calendar API (local stand-in)",
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": "calendar/v3/",
        "basePath": "/calendar/v3/",
        "baseUrl": root_url + "calendar/v3/",
        "batchPath": "batch/calendar/v3",
        "parameters": {
            "alt": {"type": "string", "location": "query", "default": "json", "enum": ["json"]},
            "key": {"type": "string", "location": "query"},
            "fields": {"type": "string", "location": "query"},
            "quotaUser": {"type": "string", "location": "query"},
        },
        "schemas": {
            "Event": {"id": "Event", "type": "object", "properties": {"id": {"type": "string"}}},
            "Events": {
                "id": "Events",
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"type": "object"}}},
            },
            "CalendarList": {
                "id": "CalendarList",
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"type": "object"}}},
            },
        },
        "resources": {
            "events": {
                "methods": {
                    "insert": {
                        "id": "calendar.events.insert",
                        "path": "calendars/{calendarId}/events",
                        "httpMethod": "POST",
                        "parameters": {
                            "calendarId": calendar_id,
                            "sendUpdates": _param("query"),
                            "conferenceDataVersion": _param("query", type_="integer"),
                        },
                        "parameterOrder": ["calendarId"],
                        "request": {"$ref": "Event"},
                        "response": {"$ref": "Event"},
                    },
                    "list": {
                        "id": "calendar.events.list",
                        "path": "calendars/{calendarId}/events",
                        "httpMethod": "GET",
                        "parameters": {
                            "calendarId": calendar_id,
                            "maxResults": _param("query", type_="integer"),
                            "timeMin": _param("query"),
                            "timeMax": _param("query"),
                            "singleEvents": _param("query", type_="boolean"),
                            "orderBy": _param("query"),
                            "pageToken": _param("query"),
                            "q": _param("query"),
                        },
                        "parameterOrder": ["calendarId"],
                        "response": {"$ref": "Events"},
                    },
                    "get": {
                        "id": "calendar.events.get",
                        "path": "calendars/{calendarId}/events/{eventId}",
                        "httpMethod": "GET",
                        "parameters": {"calendarId": calendar_id, "eventId": event_id},
                        "parameterOrder": ["calendarId", "eventId"],
                        "response": {"$ref": "Event"},
                    },
                    "delete": {
                        "id": "calendar.events.delete",
                        "path": "calendars/{calendarId}/events/{eventId}",
                        "httpMethod": "DELETE",
                        "parameters": {"calendarId": calendar_id, "eventId": event_id},
                        "parameterOrder": ["calendarId", "eventId"],
                    },
                }
            },
            "calendarList": {
                "methods": {
                    "list": {
                        "id": "calendar.calendarList.list",
                        "path": "users/me/calendarList",
                        "httpMethod": "GET",
                        "parameters": {"maxResults": _param("query", type_="integer")},
                        "response": {"$ref": "CalendarList"},
                    }
                }
            },
        },
    }


class FakeCalendar(LocalService):
    """The running stand-in; ``events`` maps calendar id to its stored events (in insertion order)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}
        self._events_lock = threading.Lock()
        self._next = 0
        routes = [
            ("GET", r"(?:/discovery/v1/apis/calendar/v3/rest|/\$discovery/rest)", self._discovery),
            ("POST", _PREFIX + r"/calendars/(?P<cal>[^/]+)/events", self._insert),
            ("GET", _PREFIX + r"/calendars/(?P<cal>[^/]+)/events", self._list),
            ("GET", _PREFIX + r"/calendars/(?P<cal>[^/]+)/events/(?P<event>[^/]+)", self._get),
            ("DELETE", _PREFIX + r"/calendars/(?P<cal>[^/]+)/events/(?P<event>[^/]+)", self._delete),
            ("GET", _PREFIX + r"/users/me/calendarList", self._calendar_list),
        ]
        super().__init__("calendar", routes, _error, host, port)

    @property
    def discovery_url(self) -> str:
        """What to pass as ``discoveryServiceUrl`` (the client formats ``{api}``/``{apiVersion}`` itself)."""
        return self.url + "/discovery/v1/apis/{api}/{apiVersion}/rest"

    def _discovery(self, _request: Request, _match: re.Match[str]) -> Response:
        return Response(body=discovery_document(self.url + "/"))

    def _insert(self, request: Request, match: re.Match[str]) -> Response:
        calendar = _unquote(match["cal"])
        body = dict(request.json or {})
        if not body.get("start") or not body.get("end"):
            return Response(400, *_error(Fault(400, reason="required")))
        with self._events_lock:
            self._next += 1
            body.update(
                {
                    "kind": "calendar#event",
                    "id": f"evt{self._next:06d}",
                    "status": "confirmed",
                    "htmlLink": f"{self.url}/event?eid=evt{self._next:06d}",
                    "organizer": {"email": calendar if "@" in calendar else "organizer@example.com"},
                }
            )
            self.events.setdefault(calendar, []).append(body)
        return Response(body=body)

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        calendar = _unquote(match["cal"])
        limit = int(request.query.get("maxResults", ["250"])[0])
        with self._events_lock:
            items = list(self.events.get(calendar, []))[:limit]
        return Response(body={"kind": "calendar#events", "summary": calendar, "items": items})

    def _get(self, _request: Request, match: re.Match[str]) -> Response:
        calendar, event_id = _unquote(match["cal"]), match["event"]
        with self._events_lock:
            found = [e for e in self.events.get(calendar, []) if e["id"] == event_id]
        if not found:
            return Response(404, *_error(Fault(404)))
        return Response(body=found[0])

    def _delete(self, _request: Request, match: re.Match[str]) -> Response:
        calendar, event_id = _unquote(match["cal"]), match["event"]
        with self._events_lock:
            before = self.events.get(calendar, [])
            after = [e for e in before if e["id"] != event_id]
            self.events[calendar] = after
        if len(after) == len(before):
            return Response(404, *_error(Fault(404)))
        return Response(204)

    def _calendar_list(self, _request: Request, _match: re.Match[str]) -> Response:
        items = [
            {"kind": "calendar#calendarListEntry", "id": "primary", "summary": "Primary", "primary": True}
        ]
        return Response(body={"kind": "calendar#calendarList", "items": items})


def _unquote(value: str) -> str:
    return unquote(value)


def _error(fault: Fault) -> tuple[dict[str, Any], dict[str, str]]:
    status = fault.status or 500
    reason = fault.reason or _DEFAULT_REASON.get(status, "backendError")
    domain = "usageLimits" if "RateLimit" in reason or "rateLimit" in reason else "global"
    message = {
        "rateLimitExceeded": "Rate Limit Exceeded",
        "userRateLimitExceeded": "User Rate Limit Exceeded",
    }.get(reason, f"Synthetic {reason} error")
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": domain, "reason": reason, "message": message}],
            "status": _STATUS_TEXT.get(status, "UNKNOWN"),
        }
    }
    return body, {}


def build_client(service: FakeCalendar, **kwargs: Any) -> Any:
    """A real ``googleapiclient`` Calendar resource pointed at ``service`` (no network, no credentials)."""
    from googleapiclient.discovery import build

    return build(
        "calendar",
        "v3",
        discoveryServiceUrl=service.discovery_url,
        developerKey="fake-developer-key",
        static_discovery=False,
        cache_discovery=False,
        **kwargs,
    )


def start(host: str = "127.0.0.1", port: int = 0) -> FakeCalendar:
    """Start the stand-in in a background thread."""
    return FakeCalendar(host, port)


if __name__ == "__main__":
    run_main("Local Google Calendar v3 stand-in (discovery document, in-memory events, faults).", start)
