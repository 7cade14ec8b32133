"""The alert model shared by the rule engine (``otel_secretary.rules``) and the channels (``notify``).

It imports neither of them: ``rules`` imports ``notify`` (the embedded engine hands notifications to the
dispatcher) and both import this package, so there is no cycle between the two.
"""
