"""The stack's listening ports: one field per socket, so an isolated stack (tests, a second developer on the
same machine) can move every one of them and the configs follow.

The defaults are the ports written in collector-config/*.yaml; rendering a stack maps each default to the
chosen port, so this table and those files must agree (tests/stack checks that every default appears).
"""

from __future__ import annotations

import json
import socket
from contextlib import ExitStack
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class StackPorts:
    otlp_grpc: int = 4317
    otlp_http: int = 4318
    collector_health: int = 13133
    collector_prometheus: int = 8889
    collector_telemetry: int = 8888
    jaeger_otlp_grpc: int = 14317
    jaeger_otlp_http: int = 14318
    jaeger_health: int = 14133
    jaeger_telemetry: int = 14269
    jaeger_ui: int = 16686
    jaeger_grpc: int = 16685
    prometheus: int = 9090
    alertmanager: int = 9093
    # Not served by the stack: where it sends alerts and what it scrapes.
    alert_webhook: int = 9095
    app_metrics: int = 9464

    @classmethod
    def free(cls, *, app_metrics: int | None = None, alert_webhook: int | None = None) -> StackPorts:
        """Fresh ephemeral ports for every socket, so parallel stacks never clash.

        All probe sockets stay bound until every port is picked, so no port is handed out twice.
        """
        names = [f.name for f in fields(cls)]
        chosen: dict[str, int] = {}
        with ExitStack() as held:
            for name in names:
                sock = held.enter_context(socket.socket())
                sock.bind(("127.0.0.1", 0))
                chosen[name] = int(sock.getsockname()[1])
        if app_metrics is not None:
            chosen["app_metrics"] = app_metrics
        if alert_webhook is not None:
            chosen["alert_webhook"] = alert_webhook
        return cls(**chosen)

    def remapping(self) -> dict[int, int]:
        """Default port → this stack's port, for rewriting the shipped configs."""
        default = StackPorts()
        return {getattr(default, f.name): getattr(self, f.name) for f in fields(self)}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> StackPorts:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in data.items() if k in known})
