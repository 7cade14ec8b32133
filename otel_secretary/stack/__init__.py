"""The real pipeline on one machine: our collector distribution, Jaeger v2, Prometheus and Alertmanager,
built from source or Debian packages and run as plain processes (no Docker engine needed).

``Stack(state_dir, ports).up()`` / ``.down()`` is what `otel-secretary stack` and the end-to-end tests use.
"""

from otel_secretary.stack._stack import ComponentStatus, Stack, StackError
from otel_secretary.stack.binaries import BinaryNotFound, find
from otel_secretary.stack.ports import StackPorts
from otel_secretary.stack.render import StackOptions

__all__ = ["BinaryNotFound", "ComponentStatus", "Stack", "StackError", "StackOptions", "StackPorts", "find"]
