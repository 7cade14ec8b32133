"""``otel-secretary config check|show``: validate the environment before a deploy, not after.

``check`` is a preflight: it reads what the app will read at start (every ``OTEL_SECRETARY_*`` setting,
the data folder, the Sentry DSN, the PII patterns, prices and notification files, the rule specs) with
the same loaders the app uses, and prints one line per problem. At start the app only says "disabled"
for a bad file and keeps serving; a deploy pipeline wants to hear it before the app runs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from otel_secretary.settings import SETTINGS, Settings, SettingsError, load_settings

app = typer.Typer(help="Validate and show otel-secretary settings.", no_args_is_help=True)

#: Exporter names that write into the data folder (the embedded default's JSON-lines files).
_FILE_EXPORTER = "secretary_jsonl"


@dataclass
class Preflight:
    """What a check found: ``notes`` say what the app will use, ``problems`` what stops it working."""

    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def preflight(env: Mapping[str, str]) -> Preflight:
    """Every check, in the order the app meets them at start; none raises."""
    result = Preflight()
    settings = _settings(env, result)
    _data_dir(settings, env, result)
    _sentry(settings, env, result)
    _pseudonym_key(settings, result)
    _file(
        "OTEL_SECRETARY_PII_EXTRA_PATTERNS",
        settings.pii_extra_patterns,
        _pii_patterns,
        result,
        unset="PII extra patterns: none (built-in detectors only)",
    )
    _file(
        "OTEL_SECRETARY_PRICES_FILE",
        settings.prices_file,
        _prices,
        result,
        unset="GenAI prices: genai-prices only (no overrides file)",
    )
    _file(
        "OTEL_SECRETARY_NOTIFY_CONFIG",
        settings.notify_config,
        _notify,
        result,
        unset=_no_notify_config(settings),
    )
    _rule_specs(settings, result)
    return result


def _settings(env: Mapping[str, str], result: Preflight) -> Settings:
    """Each variable parsed alone (so every bad one is named), then together for cross-checks."""
    usable = dict(env)
    for setting in SETTINGS:
        if setting.env not in env:
            continue
        try:
            load_settings({setting.env: env[setting.env]})
        except SettingsError as exc:
            if exc.variable == setting.env:
                result.problems.append(str(exc))
                del usable[setting.env]
    try:
        settings = load_settings(usable)
    except SettingsError as exc:  # the pseudonym mode without a key: check the rest as placeholder
        result.problems.append(str(exc))
        settings = load_settings(usable, pii_mode="placeholder")
    ours = sum(1 for s in SETTINGS if s.env in env)
    result.notes.append(f"settings: {ours} OTEL_SECRETARY_* variable(s) set, the rest at their defaults")
    return settings


def _data_dir(settings: Settings, env: Mapping[str, str], result: Preflight) -> None:
    """The folder must exist as a folder we can write, or be creatable; probed, never left changed."""
    exporters = {env.get(f"OTEL_{signal}_EXPORTER", "") for signal in ("TRACES", "LOGS")}
    if not (settings.embedded or any(_FILE_EXPORTER in names for names in exporters)):
        result.notes.append("data folder: not used (an OTLP endpoint is set)")
        return
    folder = settings.data_dir
    variable = f"OTEL_SECRETARY_DATA_DIR={folder}"
    existing = folder  # the app creates missing folders: what matters is the nearest existing one
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == folder else f"cannot be created: {existing} is a file"
        result.problems.append(f"{variable}: the data folder {what}")
        return
    try:
        # O_TMPFILE on Linux: a real write, and nothing is ever visible in the folder.
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        result.problems.append(f"{variable}: the data folder is not writable ({exc.strerror or exc})")
        return
    created = "" if folder.exists() else " (created at start)"
    result.notes.append(f"data folder: {folder} is writable{created}")


def _pseudonym_key(settings: Settings, result: Preflight) -> None:
    """``enduser.id`` is always a keyed pseudonym: not a problem when the key is unset (one is created in
    the data folder), but every process and host of a deployment must share one for ids to correlate."""
    from otel_secretary.pii import key_status

    status = key_status(settings)
    advice = "" if status.configured else " (set it to one shared secret per deployment in production)"
    result.notes.append(f"pseudonym key: {status.message}{advice}")


def _sentry(settings: Settings, env: Mapping[str, str], result: Preflight) -> None:
    if not settings.sentry_dsn:
        result.notes.append("Sentry: off (no DSN)")
        return
    from sentry_sdk.utils import BadDsn, Dsn

    own = env.get("OTEL_SECRETARY_SENTRY_DSN", "").strip()
    variable = "OTEL_SECRETARY_SENTRY_DSN" if own else "SENTRY_DSN"
    try:
        parsed = Dsn(settings.sentry_dsn)
    except BadDsn as exc:
        # The DSN carries the project key: name the variable, never print the value.
        result.problems.append(
            f"{variable} (value not shown) is not a valid Sentry DSN: {exc}; "
            "expected https://<public key>@<host>/<project id>"
        )
        return
    result.notes.append(f"Sentry: DSN from {variable} for host {parsed.host}, project {parsed.project_id}")


def _file(
    variable: str,
    path: Path | None,
    load: Callable[[Path], str],
    result: Preflight,
    *,
    unset: str,
) -> None:
    """A configured file must exist and load with the app's own loader; ``load`` returns a note."""
    if path is None:
        result.notes.append(unset)
        return
    if not path.exists():
        result.problems.append(f"{variable}={path}: file not found")
        return
    if not path.is_file():
        result.problems.append(f"{variable}={path}: not a file")
        return
    try:
        result.notes.append(load(path))
    except ValueError as exc:  # our loaders' errors already name file (and line)
        result.problems.append(f"{variable}: {exc}")
    except OSError as exc:
        result.problems.append(f"{variable}={path}: cannot read ({exc.strerror or exc})")


def _pii_patterns(path: Path) -> str:
    from otel_secretary.pii._patterns import load_patterns

    return f"PII extra patterns: {len(load_patterns(path))} pattern(s) from {path}"


def _prices(path: Path) -> str:
    import yaml

    from otel_secretary.genai._cost import load_price_file

    try:
        prices = load_price_file(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ValueError(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: invalid JSON: {exc}") from None
    return f"GenAI prices: {len(prices)} model override(s) from {path}"


def _notify(path: Path) -> str:
    from otel_secretary.notify.config import load_channels

    channels, _ = load_channels(path)
    kinds = ", ".join(sorted({type(c).__name__.removesuffix("Channel").lower() for c in channels}))
    return f"notify config: {len(channels)} channel(s) ({kinds or 'none'}) from {path}"


def _no_notify_config(settings: Settings) -> str:
    if settings.embedded and settings.rules_enabled:
        return (
            "notify config: not set (OTEL_SECRETARY_NOTIFY_CONFIG): in-process alerts are evaluated and "
            "listed by `otel-secretary alerts list`, but sent nowhere"
        )
    return "notify config: not set"


def _rule_specs(settings: Settings, result: Preflight) -> None:
    from otel_secretary.cli import _paths
    from otel_secretary.rules.spec import SpecError, SpecFolderError, default_rules_dir

    if settings.rules_dir is None:
        source = _paths.SpecSource(default_rules_dir(), shipped=True)
        variable = "rule specs"
    else:
        source = _paths.SpecSource(settings.rules_dir, shipped=False)
        variable = f"OTEL_SECRETARY_RULES_DIR={settings.rules_dir}"
    try:
        specs = _paths.load_specs(source)
    except SpecFolderError as exc:
        result.problems.append(f"OTEL_SECRETARY_RULES_DIR: {exc}")
        return
    except SpecError as exc:
        result.problems.append(str(exc))
        return
    used = "" if settings.embedded and settings.rules_enabled else " (not evaluated in-process here)"
    result.notes.append(f"{variable}: {len(specs)} rules OK in {source.describe()}{used}")


@app.command()
def check() -> None:
    """Preflight: every setting and every file the app reads at start; one line per problem, exit 2."""
    result = preflight(os.environ)
    for note in result.notes:
        typer.echo(f"ok: {note}")
    for problem in result.problems:
        typer.echo(f"error: {problem}", err=True)
    if result.problems:
        typer.echo(f"{len(result.problems)} problem(s): the app would start without what they configure")
        raise typer.Exit(2)
    typer.echo("preflight OK")
    from otel_secretary.errors import sentry_status

    typer.echo(sentry_status(load_settings()).describe_configuration())


@app.command()
def show() -> None:
    """The effective value of each setting (secrets shown only as set/unset)."""
    settings = load_settings()
    table = Table("variable", "value", "meaning")
    for setting in SETTINGS:
        value = getattr(settings, setting.attribute)
        if setting.attribute in {"pii_key", "sentry_dsn"}:
            value = "(set)" if value else "(unset)"
        table.add_row(setting.env, str(value), setting.doc)
    Console().print(table)
