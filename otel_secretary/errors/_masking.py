"""Adapt whatever masker the pipeline hands us into ``str -> str``, failing closed.

The PII package owns masking; this module only finds its text entry point so the errors package
does not depend on that package's internals. A masker that raises yields a redaction marker, never
the raw text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

REDACTION_FAILED: Final = "<redaction-failed>"


def identity(text: str) -> str:
    return text


def text_masker(masker: object) -> Callable[[str], str]:
    """``masker.mask_text`` (or ``masker`` itself when callable), wrapped so a failure never leaks text."""
    method = getattr(masker, "mask_text", None)
    candidate = method if callable(method) else masker
    if not callable(candidate):
        raise TypeError(f"{type(masker).__name__} has no mask_text(str) -> str")
    fn: Callable[[str], object] = candidate

    def mask(text: str) -> str:
        try:
            result = fn(text)
        except Exception:
            return REDACTION_FAILED
        return result if isinstance(result, str) else REDACTION_FAILED

    return mask
