"""The settings table: parsing, precedence, and errors that name variable, value and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otel_secretary.settings import SETTINGS, Settings, SettingsError, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_match_the_dataclass_defaults() -> None:
    assert load_settings({}) == Settings()


def test_environment_values_are_parsed_to_their_types() -> None:
    settings = load_settings(
        {
            "OTEL_SECRETARY_PROMETHEUS_PORT": "9999",
            "OTEL_SECRETARY_PII_MASK_IP": "off",
            "OTEL_SECRETARY_SEVERITY_OVERRIDES": "rate_limit=high, validation=low",
            "OTEL_SECRETARY_DATA_DIR": "/tmp/x",
            "OTEL_SECRETARY_SENTRY_REPEAT_WINDOW": "2.5",
        }
    )
    assert settings.prometheus_port == 9999
    assert settings.pii_mask_ip is False
    assert settings.severity_overrides == {"rate_limit": "high", "validation": "low"}
    assert settings.data_dir == Path("/tmp/x")
    assert settings.sentry_repeat_window == 2.5


def test_keyword_overrides_win_over_the_environment() -> None:
    settings = load_settings({"OTEL_SECRETARY_PII_MODE": "placeholder"}, pii_mode="pseudonym", pii_key="k")
    assert settings.pii_mode == "pseudonym"


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("OTEL_SECRETARY_PROMETHEUS_PORT", "70000", "port number"),
        ("OTEL_SECRETARY_PROMETHEUS_PORT", "http", "port number"),
        ("OTEL_SECRETARY_ENABLED", "maybe", "true or false"),
        ("OTEL_SECRETARY_PII_MODE", "hash", "placeholder, pseudonym"),
        ("OTEL_SECRETARY_MAX_QUEUE_SIZE", "0", "greater than 0"),
        ("OTEL_SECRETARY_SEVERITY_OVERRIDES", "rate_limit=urgent", "category=severity"),
        ("OTEL_SECRETARY_SENTRY_REPEAT_WINDOW", "-1", "0 or more"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_an_invalid_value_names_variable_value_and_allowed(variable: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    message = str(caught.value)
    assert variable in message and repr(value) in message and allowed in message


def test_pseudonym_mode_requires_a_key() -> None:
    with pytest.raises(SettingsError, match="OTEL_SECRETARY_PII_KEY"):
        load_settings({"OTEL_SECRETARY_PII_MODE": "pseudonym"})


def test_sentry_dsn_falls_back_to_the_standard_variable() -> None:
    assert load_settings({"SENTRY_DSN": "http://k@127.0.0.1:1/1"}).sentry_dsn == "http://k@127.0.0.1:1/1"


def test_embedded_default_is_decided_by_the_otlp_endpoint() -> None:
    assert load_settings({}).embedded
    assert not load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}).embedded


def test_every_setting_is_a_dataclass_field_and_documented_in_the_readme() -> None:
    fields = set(Settings.__dataclass_fields__)
    readme = README.read_text()
    rows = dict(re.findall(r"^\| `(OTEL_SECRETARY_[A-Z0-9_]+)` \| `([^`]*)` \|", readme, re.M))
    for setting in SETTINGS:
        assert setting.attribute in fields
        assert setting.env in rows, f"{setting.env} missing from the README settings table"
        assert rows[setting.env] == setting.default, f"README default of {setting.env} drifted"
    assert set(rows) == {s.env for s in SETTINGS}


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("", 0.0),
        ("0", 0.0),
        ("3600", 3600.0),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("12h", 43200.0),
        ("7D", 604800.0),
    ],
)
def test_file_max_age_takes_durations(raw: str, seconds: float) -> None:
    assert load_settings({"OTEL_SECRETARY_FILE_MAX_AGE": raw}).file_max_age == seconds


@pytest.mark.parametrize("raw", ["-1h", "a week", "7w", "nan", "inf"])
def test_a_bad_file_max_age_names_variable_and_value(raw: str) -> None:
    with pytest.raises(SettingsError, match=f"OTEL_SECRETARY_FILE_MAX_AGE={raw!r}.*12h or 7d"):
        load_settings({"OTEL_SECRETARY_FILE_MAX_AGE": raw})


def test_the_instrument_flags_module_names_every_setting_and_nothing_else() -> None:
    """``opentelemetry-instrument --secretary_*`` flags come from this module's ``OTEL_*`` constants."""
    from otel_secretary import environment_variables

    constants = {k: v for k, v in vars(environment_variables).items() if k.startswith("OTEL_")}
    assert constants == {s.env: s.env for s in SETTINGS}
