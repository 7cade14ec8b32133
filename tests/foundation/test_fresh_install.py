"""A new user's first command works: the README's install lines, in a fresh venv, with the pip it brings.

The pip bundled with Python 3.11.7 and 3.12.1 (23.2.1) gives up with ``ResolutionImpossible`` when
upstream has published only part of an OpenTelemetry release train; ``constraints.txt`` pins a complete
one. The install lines are read from README.md (not copied here), so the docs cannot drift from what is
tested. The venv is made by the interpreter running this test, so CI proves it on every Python we claim.
Needs the package registry (pip's cache makes reruns fast).
"""

from __future__ import annotations

import ensurepip
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.otlp_json import read_spans

ROOT = Path(__file__).resolve().parents[2]


def readme_install_lines() -> list[str]:
    """The commands of the first ```bash block under README.md's '## Install' heading."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Install\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README.md: no ```bash block under '## Install'"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def constraint_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#") and ";" not in line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_the_readme_install_lines_are_a_venv_and_a_constrained_pip_install() -> None:
    venv_line, pip_line = (shlex.split(line, comments=True) for line in readme_install_lines())
    assert venv_line[1:3] == ["-m", "venv"], venv_line
    assert "install" in pip_line and pip_line[-2:] == ["-c", "constraints.txt"], pip_line
    assert pip_line[0] == f"{venv_line[3]}/bin/pip", "the pip of the venv the first line made"


def test_constraints_cover_every_requirement_within_its_range() -> None:
    """Fails when pyproject.toml gained or changed a dependency and nobody ran `make constraints`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines.extend(extra)
    pins = constraint_pins()
    for requirement in map(Requirement, lines):
        name = canonicalize_name(requirement.name)
        if name == "otel-secretary":
            continue
        assert name in pins, f"constraints.txt has no pin for {name}: run `make constraints`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]} outside pyproject's {requirement}: `make constraints`"
        )


def test_constraints_pin_one_opentelemetry_train() -> None:
    header = (ROOT / "constraints.txt").read_text().splitlines()[0]
    train = re.fullmatch(r"# OpenTelemetry train: contrib (\S+), core (\S+), GenAI (\S+)", header)
    assert train, f"constraints.txt: first line is not the train: {header!r}"
    contrib, core, genai = train.groups()
    for name, version in constraint_pins().items():
        if not name.startswith("opentelemetry-"):
            continue
        expected = genai if "genai" in name else contrib if version.startswith("0.") else core
        assert version == expected, f"{name}=={version} is not on the train ({contrib}/{core}/{genai})"


def copy_of_checkout(dest: Path) -> Path:
    """What pip builds from; a copy, so the install writes nothing into the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "otel_secretary", dest / "otel_secretary", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.integration
@pytest.mark.timeout(1200)
def test_a_fresh_venv_installs_from_the_readme_line_with_its_bundled_pip(tmp_path: Path) -> None:
    checkout = copy_of_checkout(tmp_path / "checkout")
    venv_line, pip_line = (shlex.split(line, comments=True) for line in readme_install_lines())
    inherited = ("PIP_CONSTRAINT", "PIP_REQUIRE", "VIRTUAL_ENV")  # the user's shell, not the README's
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # The README says python3; the test runs it with the interpreter under test (3.11, 3.12 or 3.13).
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, *venv_line[1:]], cwd=checkout, env=env, check=True, timeout=300)
    venv = checkout / venv_line[3]

    pip_version = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert pip_version.split()[1] == ensurepip.version(), f"not the bundled pip: {pip_version}"

    install = subprocess.run(pip_line, cwd=checkout, env=env, capture_output=True, text=True, timeout=1100)
    assert install.returncode == 0, f"{shlex.join(pip_line)} failed:\n{install.stderr[-3000:]}"

    check = subprocess.run([str(venv / "bin" / "pip"), "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    freeze = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze", "--exclude-editable"], env=env, capture_output=True, text=True
    )
    installed = dict(line.split("==", 1) for line in freeze.stdout.splitlines() if "==" in line)
    pins = constraint_pins()
    otel = {canonicalize_name(n): v for n, v in installed.items() if n.lower().startswith("opentelemetry")}
    assert otel, "no OpenTelemetry package installed"
    assert {n: v for n, v in otel.items() if pins.get(n) != v} == {}, "installed off the pinned train"

    # The distro's entry points load: a span made under opentelemetry-instrument reaches our exporter
    # with our resource, from the installed package (the test's own checkout is not on the path).
    data_dir = tmp_path / "telemetry"
    run_env = env | {
        "OTEL_SERVICE_NAME": "fresh-install",
        "OTEL_SECRETARY_DATA_DIR": str(data_dir),
        "OTEL_SECRETARY_PROMETHEUS_PORT": "0",
        "PYTHONPATH": "",
    }
    script = "from opentelemetry import trace\nwith trace.get_tracer('t').start_as_current_span('1st'): pass"
    run = subprocess.run(
        [str(venv / "bin" / "opentelemetry-instrument"), str(venv / "bin" / "python"), "-c", script],
        cwd=tmp_path,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    spans = read_spans(data_dir / "traces.jsonl")
    assert [s.name for s in spans] == ["1st"], run.stderr[-3000:]
    assert spans[0].resource["telemetry.distro.name"] == "otel-secretary"
    assert spans[0].resource["service.name"] == "fresh-install"
