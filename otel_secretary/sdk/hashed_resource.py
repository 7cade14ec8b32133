"""A Resource that hashes once.

The SDK's encoders (OTLP protobuf and JSON alike) group every span and log record of a batch by resource,
as a dict key, and ``Resource.__hash__`` is a sorted ``json.dumps`` of every attribute. Our resource
carries host, process and runtime attributes next to the service's, so that is ≈ 20 µs per item, about
100 µs per request of export-thread CPU at five items a request (py-spy, benchmarks/bench_server.py,
issue 15). Resource attributes are immutable, so the hash is computed when the resource is made.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource


class HashedResource(Resource):
    """Equal to, and hashing like, the plain ``Resource`` with the same attributes and schema URL."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


__all__ = ["HashedResource"]
