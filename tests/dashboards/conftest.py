"""Fixtures for dashboard tests: the rendered dashboards and a real, empty Prometheus server."""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_secretary import dashboards
from tests.support.processes import REPO, Proc, clean_env, free_port

COMMITTED = REPO / "generated" / "dashboards"


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    return dashboards.render_all()


@pytest.fixture(scope="session")
def boards(rendered: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in rendered.items()}


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> dict[str, Any]:
        """The API's JSON answer, also for 400/422 answers (bad_data errors carry the parser message)."""
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with urllib.request.urlopen(address, timeout=10) as response:
                answer: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            answer = json.load(exc)
        return answer

    def label_values(self, label: str, metric: str | None = None) -> list[str]:
        """What Grafana's ``label_values([metric,] label)`` variable query asks the same API for."""
        params = urllib.parse.urlencode({"match[]": metric} if metric else {})
        with urllib.request.urlopen(
            f"{self.url}/api/v1/label/{label}/values?{params}", timeout=10
        ) as response:
            values: list[str] = json.load(response)["data"]
        return values


@contextlib.contextmanager
def running_prometheus(
    work: Path, scrape_targets: Mapping[str, str] | None = None, *, honor_labels: bool = False
) -> Iterator[Prometheus]:
    """A real Prometheus on a free port with its own storage; ``scrape_targets``: job -> host:port (1s).

    ``honor_labels`` keeps the job/instance an exporter sets, as the stack does for the Collector.
    """
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(binary).exists():
        pytest.fail(
            "prometheus not installed: apt-get install -y prometheus (scripts/install-system-packages.sh)"
        )
    jobs = [
        {
            "job_name": job,
            "scrape_interval": "1s",
            "honor_labels": honor_labels,
            "static_configs": [{"targets": [target]}],
        }
        for job, target in (scrape_targets or {}).items()
    ]
    config = work / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "15s"}, "scrape_configs": jobs}))
    port = free_port()
    proc = Proc(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        clean_env(),
        work,
        cwd=work,
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=20)
        yield Prometheus(f"http://127.0.0.1:{port}")
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        yield server
