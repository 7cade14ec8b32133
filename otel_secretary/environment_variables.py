"""``OTEL_SECRETARY_*`` names, registered under ``opentelemetry_environment_variables``.

``opentelemetry-instrument`` turns every ``OTEL_*`` constant of such a module into a CLI flag
(``--secretary_pii_mode`` ↔ ``OTEL_SECRETARY_PII_MODE``), so each setting of the table in
:mod:`otel_secretary.settings` is exported here as a module constant.
"""

from otel_secretary.settings import SETTINGS

for _setting in SETTINGS:
    globals()[_setting.env] = _setting.env

__all__ = [s.env for s in SETTINGS]
