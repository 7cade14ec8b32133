"""Prints the README's settings table from the one declaration in otel_secretary/settings.py."""

from otel_secretary.settings import SETTINGS

print("| variable | default | meaning |")
print("|---|---|---|")
for s in SETTINGS:
    print(f"| `{s.env}` | `{s.default}` | {s.doc} |")
