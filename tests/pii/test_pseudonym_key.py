"""The pseudonym key: never one written in the source; a random per-deployment key file otherwise."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from otel_secretary import context
from otel_secretary.pii import _pseudonym_key, key_status, pseudonym_digest, pseudonym_key
from otel_secretary.settings import load_settings


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pseudonym_key, "_keys", {})
    monkeypatch.setattr(_pseudonym_key, "_ephemeral", None)


def test_without_a_key_a_random_0600_key_file_is_created_once_and_announced_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings({"OTEL_SECRETARY_DATA_DIR": str(tmp_path / "data")})
    assert key_status(settings).source == "missing"
    first = pseudonym_key(settings)
    again = pseudonym_key(settings)
    path = tmp_path / "data" / "pii.key"
    assert first == again and len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert err.count("created a random pseudonym key") == 1 and str(path) in err
    status = key_status(settings)
    assert status.source == "file" and status.path == path and not status.configured


def test_each_deployment_gets_its_own_key(tmp_path: Path) -> None:
    one = pseudonym_key(load_settings({"OTEL_SECRETARY_DATA_DIR": str(tmp_path / "a")}))
    two = pseudonym_key(load_settings({"OTEL_SECRETARY_DATA_DIR": str(tmp_path / "b")}))
    assert one != two


def test_the_configured_key_wins_and_nothing_is_written(tmp_path: Path) -> None:
    settings = load_settings({"OTEL_SECRETARY_DATA_DIR": str(tmp_path), "OTEL_SECRETARY_PII_KEY": "k"})
    assert pseudonym_key(settings) == b"k"
    assert key_status(settings).configured
    assert not (tmp_path / "pii.key").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_data_folder_falls_back_to_a_process_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    settings = load_settings({"OTEL_SECRETARY_DATA_DIR": str(locked / "data")})
    assert pseudonym_key(settings) == pseudonym_key(settings)
    assert "for this process only" in capsys.readouterr().err


def test_a_file_in_the_way_falls_back_to_a_process_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").write_text("not a folder")
    settings = load_settings({"OTEL_SECRETARY_DATA_DIR": str(tmp_path / "data")})
    key = pseudonym_key(settings)
    assert len(key) == 32 and key == pseudonym_key(settings)
    assert "for this process only" in capsys.readouterr().err


def test_enduser_pseudonym_uses_the_masker_scheme_and_the_deployment_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SECRETARY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OTEL_SECRETARY_PII_KEY", raising=False)
    pseudonym = context.pseudonymize("user-42")
    key = (tmp_path / "pii.key").read_text().strip().encode()
    assert pseudonym == pseudonym_digest(key, "enduser", "user-42", 16)
    assert context.pseudonymize("user-42") == pseudonym and len(pseudonym) == 16
    assert context.pseudonymize("user-42", key="explicit") == pseudonym_digest(
        b"explicit", "enduser", "user-42", 16
    )
