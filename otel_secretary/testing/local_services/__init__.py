"""Loopback stand-ins for OpenAI, Google Calendar and Stripe, used by tests (ours and users') and the demo.

Each module's ``start()`` returns a running :class:`LocalService`; ``svc.fail("429x2")`` scripts faults.
"""

from ._server import Fault, LocalService, Request, Response, parse_faults

__all__ = ["Fault", "LocalService", "Request", "Response", "parse_faults"]
