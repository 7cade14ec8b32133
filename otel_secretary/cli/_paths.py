"""Where the CLI reads rule specs and writes generated files: the user's current folder, never the package.

A command run in a user's project must act on that project. So specs default to ``./rules`` when it
exists (else the specs shipped in the package, and the output says so), generated files default to a
folder under the current one, and nothing is ever written inside the installed package: a
``site-packages`` copy must stay what pip installed, and a checkout must not change because someone ran
the tool elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from otel_secretary.config_error import ConfigError
from otel_secretary.rules.spec import RuleSpec, default_rules_dir, load_dir, spec_files

#: The folder a project keeps its own rule specs in, relative to where the command runs.
LOCAL_SPECS = Path("rules")
#: Where generated files go when the specs are the shipped ones (there is no project folder to hold them).
SHIPPED_OUT = Path("generated")


class PackageOutputError(ConfigError):
    """An output folder inside the installed package."""


def package_root() -> Path:
    """The installed ``otel_secretary`` package folder (site-packages, or the checkout when editable)."""
    return Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SpecSource:
    """The spec folder a command uses, and whether it is the copy shipped in the package."""

    folder: Path
    shipped: bool

    def describe(self) -> str:
        """How the output names the source, so a user never wonders which rules were checked."""
        if self.shipped:
            return f"the specs shipped with otel-secretary ({self.folder})"
        return str(self.folder)


def resolve_specs(specs: Path | None, cwd: Path | None = None) -> SpecSource:
    """``--specs`` when given, else ``./rules`` when it exists, else the shipped specs."""
    if specs is not None:
        return SpecSource(specs, shipped=_inside(specs, default_rules_dir()))
    local = (cwd or Path()) / LOCAL_SPECS
    if local.is_dir():
        return SpecSource(local, shipped=False)
    return SpecSource(default_rules_dir(), shipped=True)


def load_specs(source: SpecSource) -> list[RuleSpec]:
    """Every spec of the folder, checked: :class:`SpecFolderError` for the folder, :class:`SpecError`
    (file, line, field) for a spec."""
    spec_files(source.folder)
    relative_to = None if source.shipped else source.folder.parent
    return load_dir(source.folder, relative_to=relative_to)


def default_out(source: SpecSource, cwd: Path | None = None) -> Path:
    """``<specs>/generated`` for a project's own specs, ``./generated`` for the shipped ones."""
    if source.shipped or _inside(source.folder, package_root()):
        return (cwd or Path()) / SHIPPED_OUT
    return source.folder / "generated"


def writable_out(out: Path) -> Path:
    """``out``, unless it lies inside the installed package: then refuse, naming ``--out``."""
    if _inside(out, package_root()):
        raise PackageOutputError(
            f"{out}: refusing to write inside the installed package ({package_root()}); pass --out DIR"
        )
    return out


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())
