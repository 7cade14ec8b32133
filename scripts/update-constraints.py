"""Writes constraints.txt: one complete OpenTelemetry release train plus the rest of the dependency set.

Why: pyproject's ranges stay loose for users who pin their own versions, but upstream publishes a
release train package by package (0.66b2 of the Celery instrumentation days before 0.66b2 of Flask's),
and the pip that a fresh venv brings gives up (ResolutionImpossible) on such a half-published train
instead of backtracking. The constraints pin every ``opentelemetry-*`` package to one train that exists
whole, and everything else to versions resolved with it on every Python we support.

A train is named by its contrib version (``0.66b1``): every 0.x OpenTelemetry package at exactly that
version, the 1.x core (API, SDK, OTLP exporters, proto) at the one release that requires it, and the
GenAI packages (their own numbering) at the newest version compatible with both.

Runs under a venv with a current pip and ``packaging`` (scripts/update-constraints.sh makes one).
Resolution is pip's own (``pip install --dry-run --report``), once per supported Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "otel-secretary"
TRAIN_LINE = re.compile(r"^# OpenTelemetry train: contrib (\S+),")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "otel-secretary" / "resolvers"


class TrainIncomplete(Exception):
    """A train that pip cannot install whole (a package missing at that version, or a conflict)."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str = ""

    def line(self) -> str:
        return f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")


def supported_pythons() -> list[str]:
    """The ``Programming Language :: Python :: 3.X`` classifiers: the one list CI, setup and we read."""
    classifiers = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    found = [c.rsplit("::", 1)[1].strip() for c in classifiers if re.fullmatch(r".*:: Python :: 3\.\d+", c)]
    return sorted(found, key=Version)


def project_requirements() -> list[Requirement]:
    """Every dependency and every extra of pyproject.toml, so new entries are picked up on a rerun."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [r for r in map(Requirement, lines) if canonicalize_name(r.name) != PROJECT]


def is_otel(name: str) -> bool:
    return name.startswith("opentelemetry-")


def is_genai(name: str) -> bool:
    return is_otel(name) and "genai" in name


def is_contrib_numbered(name: str, version: str) -> bool:
    """0.x OpenTelemetry packages (contrib and core's unstable ones) share the train's number."""
    return is_otel(name) and not is_genai(name) and Version(version).major == 0


def interpreter(version: str) -> str:
    found = subprocess.run(
        ["bash", str(ROOT / "scripts" / "find-python.sh"), version], capture_output=True, text=True
    )
    if found.returncode != 0:
        sys.exit(found.stderr.strip())
    return found.stdout.strip()


def resolver_python(version: str) -> Path:
    """A venv per Python with a current pip (its resolver backtracks; the answer is a full pin set)."""
    env_dir = CACHE / version
    python = env_dir / "bin" / "python"
    if not python.exists():
        subprocess.run([interpreter(version), "-m", "venv", str(env_dir)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    return python


def resolve(python: Path, requirements: Iterable[Requirement], pins: Iterable[Pin]) -> dict[str, str]:
    """name -> version that pip would install for ``requirements`` under ``pins``; raises if it can't."""
    with tempfile.TemporaryDirectory() as tmp:
        reqs, cons = Path(tmp, "requirements.txt"), Path(tmp, "constraints.txt")
        reqs.write_text("".join(f"{r}\n" for r in requirements))
        cons.write_text("".join(f"{p.line()}\n" for p in pins))
        dry_run = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-"]
        run = subprocess.run(
            [str(python), "-m", "pip", *dry_run, "-r", str(reqs), "-c", str(cons)],
            capture_output=True,
            text=True,
        )
    if run.returncode != 0:
        reasons = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
        raise TrainIncomplete("; ".join(reasons) or run.stderr.strip()[-400:])
    report = json.loads(run.stdout)
    return {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]
    }


def published_versions(python: Path, name: str) -> list[str]:
    """Every version of ``name`` on the registry, newest first, pre-releases included."""
    run = subprocess.run(
        [str(python), "-m", "pip", "index", "versions", "--pre", "--disable-pip-version-check", name],
        capture_output=True,
        text=True,
    )
    listed = next((line for line in run.stdout.splitlines() if line.startswith("Available versions:")), "")
    versions = [v.strip() for v in listed.partition(":")[2].split(",") if v.strip()]
    return sorted(versions, key=Version, reverse=True)


def missing_at(python: Path, train: str, names: Iterable[str]) -> list[str]:
    """Which of our 0.x OpenTelemetry packages the registry lacks at ``train`` (for the message)."""
    return [name for name in names if train not in published_versions(python, name)]


def allowed_by_pyproject(trains: list[str]) -> list[str]:
    spec = next(
        (r.specifier for r in project_requirements() if r.name == "opentelemetry-instrumentation"),
        SpecifierSet(),
    )
    return [t for t in trains if spec.contains(t, prereleases=True)]


def train_pins(python: Path, train: str, requirements: list[Requirement], keep: list[Pin]) -> dict[str, str]:
    """Resolve with every 0.x OTel package at ``train``, then the 1.x core at one release; fixed point."""
    pins = {name: Pin(name, train) for name in ("opentelemetry-instrumentation",)}
    for _ in range(6):
        try:
            resolved = resolve(python, requirements, [*pins.values(), *keep])
        except TrainIncomplete:
            if not keep:
                raise
            keep = []  # the previous set does not fit this train: resolve the rest afresh
            continue
        wanted = dict(pins)
        for name, version in resolved.items():
            if is_contrib_numbered(name, version) or name == "opentelemetry-semantic-conventions":
                wanted[name] = Pin(name, train)
        core = resolved.get("opentelemetry-sdk") or resolved.get("opentelemetry-api")
        for name, version in resolved.items():
            if is_otel(name) and not is_genai(name) and Version(version).major >= 1 and core:
                wanted[name] = Pin(name, core)
        genai = {resolved[n] for n in resolved if is_genai(n)}
        if len(genai) > 1:  # keep util-genai and its instrumentations on one version
            lowest = min(genai, key=Version)
            for name in resolved:
                if is_genai(name):
                    wanted[name] = Pin(name, lowest)
        if wanted == pins and all(resolved.get(n) == p.version for n, p in pins.items()):
            return resolved
        pins = wanted
    raise TrainIncomplete(f"train {train}: pins did not settle")


def merge(per_python: dict[str, dict[str, str]]) -> list[Pin]:
    """One pin per package where all Pythons agree, else one per Python with a marker."""
    names = sorted({n for resolved in per_python.values() for n in resolved})
    out: list[Pin] = []
    for name in names:
        versions = {py: r[name] for py, r in per_python.items() if name in r}
        if len(set(versions.values())) == 1:
            out.append(Pin(name, next(iter(versions.values()))))
        else:
            out.extend(Pin(name, v, f'python_version == "{py}"') for py, v in sorted(versions.items()))
    return out


def read_existing(path: Path) -> tuple[str | None, list[Pin]]:
    if not path.exists():
        return None, []
    train = None
    pins = []
    for line in path.read_text().splitlines():
        if m := TRAIN_LINE.match(line):
            train = m.group(1)
        elif line and not line.startswith("#"):
            requirement, _, marker = line.partition(";")
            name, _, version = requirement.strip().partition("==")
            pins.append(Pin(canonicalize_name(name), version, marker.strip()))
    return train, pins


def render(train: str, pins: list[Pin], pythons: list[str]) -> str:
    core = next((p.version for p in pins if p.name == "opentelemetry-sdk"), "?")
    genai = next((p.version for p in pins if p.name == "opentelemetry-util-genai"), "none")
    otel = [p for p in pins if is_otel(p.name)]
    rest = [p for p in pins if not is_otel(p.name)]
    header = [
        f"# OpenTelemetry train: contrib {train}, core {core}, GenAI {genai}",
        "# Generated by `make constraints` / `make update-constraints` from pyproject.toml; do not edit.",
        f"# Resolved for Python {', '.join(pythons)}. Use: pip install -e . -c constraints.txt",
    ]
    body = ["", "# OpenTelemetry (one release train)", *(p.line() for p in otel), ""]
    body += ["# Everything else the project and its extras install", *(p.line() for p in rest)]
    return "\n".join(header + body) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train",
        default="current",
        help="'current' (the train in the file; picks up pyproject changes), 'newest' (newest complete "
        "train pyproject allows) or a contrib version such as 0.66b1",
    )
    parser.add_argument("--refresh", action="store_true", help="re-resolve non-OpenTelemetry pins too")
    parser.add_argument("--output", type=Path, default=ROOT / "constraints.txt")
    args = parser.parse_args()

    pythons = supported_pythons()
    resolvers = {py: resolver_python(py) for py in pythons}
    requirements = project_requirements()
    current, existing = read_existing(args.output)
    keep = [] if args.refresh else [p for p in existing if not is_otel(p.name) and not p.marker]
    first = resolvers[pythons[0]]

    if args.train == "newest":
        published = published_versions(first, "opentelemetry-instrumentation")
        candidates = allowed_by_pyproject(published)
        if published and candidates and published[0] != candidates[0]:
            print(f"note: {published[0]} is published but pyproject's ranges stop below it", file=sys.stderr)
    elif args.train == "current":
        if current is None:
            sys.exit(f"{args.output}: no '# OpenTelemetry train:' line; run with --train newest")
        candidates = [current]
    else:
        candidates = [args.train]

    for train in candidates:
        try:
            per_python = {py: train_pins(resolvers[py], train, requirements, keep) for py in pythons}
        except TrainIncomplete as incomplete:
            numbered = sorted({p.name for p in existing if is_contrib_numbered(p.name, p.version)})
            missing = missing_at(first, train, numbered)
            why = f"not published at {train}: {', '.join(missing)}" if missing else str(incomplete)
            print(f"train {train}: incomplete, skipped ({why})", file=sys.stderr)
            continue
        args.output.write_text(render(train, merge(per_python), pythons))
        change = "kept" if train == current else f"moved from {current}"
        print(f"{args.output.name}: OpenTelemetry train {train} ({change}), Python {', '.join(pythons)}")
        return
    sys.exit(f"no complete OpenTelemetry train among {', '.join(candidates) or 'none'}")


if __name__ == "__main__":
    main()
