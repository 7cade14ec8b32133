"""Issue 12 item 6: the alert model is its own module; ``rules`` and ``notify`` never import each other
in a cycle, and each loads in a fresh interpreter on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "otel_secretary"


def _imports(package: str) -> set[str]:
    """Every ``otel_secretary.*`` module imported anywhere in a package (module level or in functions)."""
    found: set[str] = set()
    for path in (PACKAGE / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("otel_secretary"):
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("otel_secretary"))
    return found


def _packages(modules: set[str]) -> set[str]:
    return {m.split(".")[1] for m in modules if m.count(".") >= 1}


def test_the_import_graph_between_rules_notify_and_the_model_has_no_cycle() -> None:
    rules, notify, model = _imports("rules"), _imports("notify"), _imports("alerting")
    assert "notify" in _packages(rules)  # the embedded engine hands notifications to the dispatcher
    assert "rules" not in _packages(notify), sorted(m for m in notify if ".rules" in m)
    assert "alerting" in _packages(notify) and "alerting" in _packages(rules)
    assert not {"rules", "notify"} & _packages(model), sorted(model)


def test_each_side_imports_in_a_fresh_interpreter() -> None:
    script = (
        "import importlib, sys\n"
        "module = sys.argv[1]\n"
        "importlib.import_module(module)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('otel_secretary.'))))\n"
    )
    loaded = {}
    for module in ("otel_secretary.alerting.model", "otel_secretary.notify", "otel_secretary.rules.engine"):
        result = subprocess.run(
            [sys.executable, "-c", script, module], capture_output=True, text=True, check=True, timeout=120
        )
        loaded[module] = set(result.stdout.split())
    assert not any(
        m.startswith(("otel_secretary.rules", "otel_secretary.notify"))
        for m in loaded["otel_secretary.alerting.model"]
    )
    assert not any(m.startswith("otel_secretary.rules") for m in loaded["otel_secretary.notify"])
    assert "otel_secretary.alerting.model" in loaded["otel_secretary.notify"]
    assert not any(m.startswith("otel_secretary.notify") for m in loaded["otel_secretary.rules.engine"])


def test_the_engine_is_split_along_its_jobs() -> None:
    """Storage, sampling, conditions, lifecycle, suppression and notification building live in their own
    modules; the engine module only wires them (it defines no storage or suppression code itself)."""
    engine = _imports("rules")
    for job in ("series", "metric_samples", "conditions", "lifecycle", "suppression", "notifications"):
        assert (PACKAGE / "rules" / f"{job}.py").exists()
        assert any(m.startswith(f"otel_secretary.rules.{job}") for m in engine), job
    source = (PACKAGE / "rules" / "engine.py").read_text(encoding="utf-8")
    for stray in ("heapq", "CountRing", "Silence(", "deque("):
        assert stray not in source, stray
