"""Dashboard expressions as Prometheus receives them: Grafana's variables replaced by the values it sends.

The dashboard tests (every panel parses and evaluates) and the end-to-end exemplar tests (a panel's query
returns the test's trace ids) must send Prometheus the same text Grafana would.
"""

from __future__ import annotations

# Values Grafana substitutes before the query reaches Prometheus ("All" is our allValue ``.*``).
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__range": "6h",
    "$__interval": "1m",
    "$service": ".*",
    "$tenant": ".*",
}


def substitute(expr: str) -> str:
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr
