"""``otel-secretary rules …`` works where the user stands: specs from ./rules, output under the cwd.

Every test runs the real CLI in a subprocess from a temporary folder and checks that nothing in the
checkout or the package changed. One module-scoped fixture installs the checkout NON-editably (``pip
install --target``, from a copy so the build does not touch the checkout either) and repeats the key
cases against that ``site-packages``-style copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import REPO, clean_env, venv_tool

CLI = venv_tool("otel-secretary")
PACKAGE = REPO / "otel_secretary"
SHIPPED = PACKAGE / "rules" / "specs"
SPEC = """\
rules:
  - name: {name}
    kind: error_rate
    severity: ticket
    selector: {{service: paths-app}}
    threshold: 0.05
    window: 5m
    annotations:
      summary: "{{{{ $labels.service_name }}}} is failing"
      runbook_url: docs/runbooks/error-rate.md
"""


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file (size, mtime) under ``roots``, bytecode caches aside (Python's, not our command's)."""
    files: dict[str, tuple[int, int]] = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and ".venv" not in path.parts:
                stat = path.stat()
                files[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return files


@pytest.fixture
def untouched_checkout() -> Iterator[None]:
    """Fails the test if the command wrote anything into the checkout (package included)."""
    roots = [PACKAGE, REPO / "generated", REPO / "collector-config"]
    before = snapshot(*roots)
    top_before = top_level()
    yield
    assert snapshot(*roots) == before
    assert top_level() == top_before


def top_level() -> list[str]:
    """The checkout's top-level names, tool caches and the editable install's metadata aside."""
    caches = {".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    return sorted(p.name for p in REPO.iterdir() if p.name not in caches and not p.name.endswith(".egg-info"))


def cli(
    args: list[str], cwd: Path, command: list[str] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(command or [CLI]), *args],
        cwd=cwd,
        env=clean_env(PYTHONDONTWRITEBYTECODE="1", **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def spec(folder: Path, file: str, name: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / file).write_text(SPEC.format(name=name))


def test_validate_without_local_rules_uses_the_shipped_ones_and_says_so(
    tmp_path: Path, untouched_checkout: None
) -> None:
    result = cli(["rules", "validate"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no ./rules folder here, using the specs shipped with otel-secretary" in result.stderr
    assert f"rules OK in {SHIPPED}" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_local_rules_win_and_both_yaml_spellings_are_read(tmp_path: Path, untouched_checkout: None) -> None:
    spec(tmp_path / "rules", "a.yaml", "FromYaml")
    spec(tmp_path / "rules", "b.yml", "FromYml")
    result = cli(["rules", "validate"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 rules OK in rules"
    assert "shipped" not in result.stderr


def test_a_typo_in_local_rules_is_reported_not_the_shipped_rules_checked(
    tmp_path: Path, untouched_checkout: None
) -> None:
    spec(tmp_path / "rules", "app.yaml", "Typo")
    text = (tmp_path / "rules" / "app.yaml").read_text().replace("threshold:", "treshold:")
    (tmp_path / "rules" / "app.yaml").write_text(text)
    result = cli(["rules", "validate"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: rules/app.yaml:"), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["validate", "render", "check"])
def test_a_missing_spec_folder_is_an_error(command: str, tmp_path: Path, untouched_checkout: None) -> None:
    result = cli(["rules", command, "--specs", "/nonexistent"], tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == "error: /nonexistent: spec folder does not exist"
    assert list(tmp_path.iterdir()) == []


def test_an_empty_spec_folder_is_an_error(tmp_path: Path, untouched_checkout: None) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "notes.txt").write_text("nothing here yet\n")
    result = cli(["rules", "validate"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: rules: no rule specs here (expected *.yaml or *.yml files)"


def test_render_of_shipped_specs_writes_under_the_current_folder(
    tmp_path: Path, untouched_checkout: None
) -> None:
    result = cli(["rules", "render"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("files to generated")
    assert (tmp_path / "generated" / "alertmanager.yml").is_file()
    assert list((tmp_path / "generated" / "collector").glob("*.rules.yml"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]


def test_render_of_local_specs_writes_next_to_them(tmp_path: Path, untouched_checkout: None) -> None:
    spec(tmp_path / "rules", "app.yml", "LocalErrors")
    result = cli(["rules", "render"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "rules" / "generated" / "alertmanager.yml").is_file()
    rules = "".join(p.read_text() for p in (tmp_path / "rules" / "generated").glob("*/*.rules.yml"))
    assert "LocalErrors" in rules
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules"]


def test_render_refuses_to_write_inside_the_package(tmp_path: Path, untouched_checkout: None) -> None:
    target = PACKAGE / "rules" / "specs" / "generated"
    result = cli(["rules", "render", "--out", str(target)], tmp_path)
    assert result.returncode == 2
    assert "refusing to write inside the installed package" in result.stderr and "--out" in result.stderr
    assert not target.exists()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (apt: prometheus) not installed")
def test_check_reads_what_render_wrote_in_the_current_folder(
    tmp_path: Path, untouched_checkout: None
) -> None:
    assert cli(["rules", "render"], tmp_path).returncode == 0
    result = cli(["rules", "check"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules check passed" in result.stdout


def test_check_without_generated_files_says_to_render(tmp_path: Path, untouched_checkout: None) -> None:
    spec(tmp_path / "rules", "app.yaml", "NotRendered")
    result = cli(["rules", "check"], tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: rules/generated: no generated files (run `otel-secretary rules render`)"
    )


# --- a non-editable install ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout installed like a user would get it: built from a copy, into its own folder.

    pip builds in an isolated environment (setuptools and wheel from the package index, cached after
    the first run); building from a copy keeps ``build/`` and ``*.egg-info`` out of the checkout."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(PACKAGE, source / "otel_secretary", ignore=shutil.ignore_patterns("__pycache__"))
    target = base / "site-packages"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-compile", "--target", str(target), str(source),
        ],
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    return target


# With PYTHONPATH=<target> the installed copy comes before the editable checkout; the venv supplies deps.
INSTALLED_CLI = [sys.executable, "-c", "from otel_secretary.cli import main; main()"]


def test_the_non_editable_install_is_what_runs(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import otel_secretary; print(otel_secretary.__file__)"],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(installed)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == str(installed / "otel_secretary" / "__init__.py")


def test_the_non_editable_install_ships_the_given_name_list(installed: Path, tmp_path: Path) -> None:
    """The bare ``name`` rule reads ``pii/given_names.txt``: package data, not only in the checkout."""
    code = (
        "from otel_secretary.pii import Masker; from opentelemetry.sdk.metrics import MeterProvider; "
        "import otel_secretary.pii._names as n; print(n.__file__); "
        "print(Masker(meter_provider=MeterProvider()).mask_value('name', 'Ngozi'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(installed)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    module, masked = result.stdout.split()
    assert module == str(installed / "otel_secretary" / "pii" / "_names.py")
    assert masked == "<name>"


def test_installed_render_writes_only_under_the_current_folder(
    installed: Path, tmp_path: Path, untouched_checkout: None
) -> None:
    before = snapshot(installed)
    result = cli(["rules", "render"], tmp_path, INSTALLED_CLI, PYTHONPATH=str(installed))
    assert result.returncode == 0, result.stderr
    assert f"using the specs shipped with otel-secretary ({installed / 'otel_secretary'}" in result.stderr
    assert (tmp_path / "generated" / "alertmanager.yml").is_file()
    assert snapshot(installed) == before
    assert not (installed / "otel_secretary" / "rules" / "specs" / "generated").exists()


def test_installed_validate_prefers_local_rules_and_rejects_a_missing_folder(
    installed: Path, tmp_path: Path, untouched_checkout: None
) -> None:
    command = INSTALLED_CLI
    spec(tmp_path / "rules", "only.yml", "OnlyLocal")
    result = cli(["rules", "validate"], tmp_path, command, PYTHONPATH=str(installed))
    assert (result.returncode, result.stdout.strip()) == (0, "1 rules OK in rules"), result.stderr
    result = cli(
        ["rules", "validate", "--specs", "/nonexistent"], tmp_path, command, PYTHONPATH=str(installed)
    )
    assert result.returncode == 2 and "spec folder does not exist" in result.stderr
