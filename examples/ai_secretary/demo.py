"""The main job: run the AI secretary on the embedded default, send a day's worth of traffic in
seconds (with personal data and failures in it), and show what an SRE and a privacy reviewer would
see — spans, errors, GenAI usage, metrics — and that none of the personal data left the process.

Run: ``make demo`` (or ``python -m examples.ai_secretary.demo``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from examples.ai_secretary import demo_alerting
from examples.ai_secretary.runner import RunningExample, run_example, stripe_mock_binary
from otel_secretary.pii import Masker
from otel_secretary.pii.audit import audit_files
from otel_secretary.rules.spec import default_rules_dir
from otel_secretary.sdk._rotating_stream import complete_lines

# Synthetic personal data: what a secretary's traffic is full of. None of it may appear in telemetry.
PII = {
    "email": "jane.doe@example.com",
    "phone": "+1 415 555 0132",
    "card": "4242 4242 4242 4242",
    "iban": "DE89370400440532013000",
    "api key": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
}

console = Console(width=None if sys.stdout.isatty() else 150)


def traffic(example: RunningExample, rounds: int) -> Counter[str]:
    """Requests an AI secretary sees; returns HTTP status counts."""
    statuses: Counter[str] = Counter()
    tenant = {"X-Tenant-ID": "tenant-acme", "X-User-ID": PII["email"]}
    body = (
        f"Hi, this is Jane ({PII['email']}, {PII['phone']}). Please charge card {PII['card']} "
        f"or IBAN {PII['iban']}; our key {PII['api key']} expired."
    )
    calls: list[tuple[str, str, Any, dict[str, str]]] = [
        ("POST", "/api/v1/emails/summarize", {"subject": "Invoice", "body": body}, tenant),
        (
            "POST",
            "/api/v1/emails/summarize",
            {"subject": "Plan", "body": "Agenda attached.", "stream": True},
            tenant,
        ),
        (
            "POST",
            "/api/v1/meetings",
            {
                "calendar_id": PII["email"],
                "title": f"Call with {PII['email']}",
                "start": "2026-12-01T10:00:00Z",
                "end": "2026-12-01T10:30:00Z",
                "attendees": [PII["email"]],
            },
            tenant,
        ),
        ("POST", "/api/v1/subscriptions", {"email": PII["email"], "price": "price_basic"}, tenant),
        ("POST", "/api/v1/messages/inbound", {"sender": PII["email"], "body": body}, tenant),
        # The assistant as an agent: the model calls Stripe/Calendar/draft tools, then answers.
        (
            "POST",
            "/api/v1/messages/answer",
            {"sender": PII["email"], "body": f"Can we book a renewal call? {body}"},
            tenant | {"X-Conversation-ID": "conv-demo-1"},
        ),
        ("GET", "/api/v1/messages", None, tenant),
    ]
    failures: list[tuple[str, str, Any, dict[str, str]]] = [
        # OpenAI rate-limits twice, the client retries and succeeds: one logical call, three attempts.
        (
            "POST",
            "/api/v1/emails/summarize",
            {"subject": "Retry", "body": body},
            tenant | {"X-Fake-Fault": "429x2"},
        ),
        # OpenAI is down: the request fails with a 500 and an error classified as external_api.
        (
            "POST",
            "/api/v1/emails/summarize",
            {"subject": "Down", "body": body},
            tenant | {"X-Fake-Fault": "500x3"},
        ),
        ("POST", "/api/v1/meetings", {"title": "no times"}, tenant),
    ]
    for i in range(rounds):
        for method, path, payload, headers in calls + (failures if i % 2 == 0 else []):
            status, _ = example.request(method, path, payload, headers)
            statuses[f"{method} {path} → {status}"] += 1
    return statuses


def read_spans(path: Path) -> list[dict[str, Any]]:
    spans = []
    for file in sorted(path.parent.glob(path.name + "*")):
        for line in complete_lines(file):
            for rs in json.loads(line).get("resourceSpans", []):
                for ss in rs.get("scopeSpans", []):
                    spans.extend(ss.get("spans", []))
    return spans


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for item in span.get("attributes", []):
        value = item.get("value", {})
        if "arrayValue" in value:
            out[item["key"]] = [next(iter(v.values()), None) for v in value["arrayValue"].get("values", [])]
            continue
        out[item["key"]] = next(iter(value.values()), None) if value else None
    return out


# What the agent tree shows next to each span, when present, and the short label it gets.
TREE_ATTRIBUTES = {
    "gen_ai.conversation.id": "conversation",
    "app.genai.tool_call.names": "requested",
    "app.genai.tool_call.ids": "ids",
    "gen_ai.tool.call.id": "call_id",
    "gen_ai.usage.input_tokens": "in",
    "gen_ai.usage.output_tokens": "out",
    "app.genai.cost_usd": "usd",
    "error.type": "error",
}


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def agent_tree(spans: list[dict[str, Any]]) -> Tree | None:
    """The first agent trace as a tree: request → workflow → agent → chat → execute_tool → Stripe/Calendar."""
    workflow = next((s for s in spans if s["name"].startswith("invoke_workflow ")), None)
    if workflow is None:
        return None
    trace = [s for s in spans if s["traceId"] == workflow["traceId"]]
    children: dict[str, list[dict[str, Any]]] = {}
    for span in trace:
        children.setdefault(span.get("parentSpanId") or "", []).append(span)
    ids = {s["spanId"] for s in trace}
    root = next((s for s in trace if (s.get("parentSpanId") or "") not in ids), workflow)

    def label(span: dict[str, Any]) -> str:
        ms = (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e6
        a = attrs(span)
        present = [(short, a[key]) for key, short in TREE_ATTRIBUTES.items() if a.get(key) not in (None, "")]
        shown = " ".join(f"{short}={_shown(value)}" for short, value in present)
        return f"[bold]{span['name']}[/] [dim]{ms:.1f} ms[/] {shown}".rstrip()

    def add(node: Tree, span: dict[str, Any]) -> None:
        for child in sorted(children.get(span["spanId"], []), key=lambda s: int(s["startTimeUnixNano"])):
            add(node.add(label(child)), child)

    tree = Tree(label(root))
    add(tree, root)
    return tree


SHOWN_METRICS = (
    "http_server_request_duration_seconds_count",
    "gen_ai_client_operation_duration_seconds_count",
    "gen_ai_client_token_usage_sum",
    "app_errors_total",
)
SHOWN_LABELS = (
    "http_route",
    "http_response_status_code",
    "gen_ai_request_model",
    "gen_ai_token_type",
    "app_error_category",
    "error_type",
)


def metrics_table(text: str, port: int) -> Table:
    """The few series an SRE looks at first, from the app's own /metrics endpoint."""
    table = Table("series", "labels", "value", title=f"http://127.0.0.1:{port}/metrics (excerpt)")
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name not in SHOWN_METRICS:
            continue
        labels, _, value = rest.rpartition("} ")
        pairs = dict(p.split("=", 1) for p in labels.split(",") if "=" in p)
        shown = " ".join(f"{k}={pairs[k]}" for k in SHOWN_LABELS if k in pairs and pairs[k] != '""')
        table.add_row(name, shown, value)
    return table


def report(example: RunningExample, statuses: Counter[str]) -> bool:
    spans = read_spans(example.data_dir / "traces.jsonl")
    table = Table("request", "count", title="Traffic sent")
    for key, count in sorted(statuses.items()):
        table.add_row(key, str(count))
    console.print(table)

    by_name: Counter[str] = Counter(s["name"] for s in spans)
    table = Table("span", "count", title=f"Spans exported to {example.data_dir / 'traces.jsonl'}")
    for name, count in by_name.most_common(20):
        table.add_row(name, str(count))
    console.print(table)

    tree = agent_tree(spans)
    if tree is not None:
        console.rule("One agent turn, as exported (the model's tool call ids match the execute_tool spans)")
        console.print(tree)

    errors: Counter[tuple[str, str]] = Counter()
    tokens: Counter[str] = Counter()
    cost = 0.0
    for span in spans:
        a = attrs(span)
        if "app.error.category" in a:
            errors[(str(a["app.error.category"]), str(a.get("app.error.severity")))] += 1
        for kind in ("input", "output"):
            tokens[kind] += int(a.get(f"gen_ai.usage.{kind}_tokens") or 0)
        cost += float(a.get("app.genai.cost_usd") or a.get("gen_ai.usage.cost") or 0)
    table = Table("category", "severity", "spans", title="Errors (app.error.*)")
    for (category, severity), count in errors.most_common():
        table.add_row(category, severity, str(count))
    console.print(table)
    console.print(
        f"GenAI tokens: input={tokens['input']} output={tokens['output']}  estimated cost=${cost:.6f}"
    )

    with urllib.request.urlopen(f"http://127.0.0.1:{example.metrics_port}/metrics", timeout=5) as response:
        metrics_text = response.read().decode()
    console.print(metrics_table(metrics_text, example.metrics_port))

    leaked = []
    for file in example.data_dir.glob("*.jsonl*"):
        text = file.read_text()
        leaked += [f"{kind} in {file.name}" for kind, value in PII.items() if value in text]
    leaked += [f"{kind} in /metrics" for kind, value in PII.items() if value in metrics_text]
    if leaked:
        console.print(f"[bold red]PII found in telemetry: {leaked}[/]")
    else:
        console.print(
            f"[bold green]Privacy check: none of the {len(PII)} kinds of personal data sent appear in "
            "traces, logs or metrics.[/]"
        )
    # The same question asked without knowing what was sent: `otel-secretary pii audit`.
    audit = audit_files([example.data_dir], Masker())
    console.print(
        f"Privacy audit (`otel-secretary pii audit {example.data_dir}`): {audit.values} exported values in "
        f"{audit.files} files, {len(audit.findings or [])} that the masker would still change"
    )
    return not leaked and audit.clean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=4, help="how many times to send the traffic mix")
    parser.add_argument("--dir", type=Path, default=Path(".otel-secretary/demo"), help="where telemetry goes")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    stripe = (
        "stripe-mock" if stripe_mock_binary() else "the example's Stripe stand-in (stripe-mock not built)"
    )
    console.print(
        f"Starting the AI secretary (Flask + Celery + Redis) with OpenAI/Calendar stand-ins and {stripe}"
    )
    with run_example(args.dir.resolve()) as example:
        statuses = traffic(example, args.rounds)
        time.sleep(2)  # one batch delay and a metric interval, so the last spans are on disk
        private = report(example, statuses)
    console.rule("Alerting: the same rule specs, evaluated in-process, delivered to local receivers")
    alerted = demo_alerting.run(default_rules_dir(), console)
    return 0 if private and alerted else 1


if __name__ == "__main__":
    raise SystemExit(main())
