"""Checksums and structural checks that turn a regex candidate into a confident detection.

A bare regex over-matches (order numbers look like cards, timestamps like phones); each validator here
rejects the look-alikes. Validators receive the matched substring and must never raise for any input
of the shape their regex produces; they still run under the masker's fail-closed guard.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import ipaddress
import json
import re
from collections.abc import Callable

_SEPARATORS = str.maketrans("", "", " -./()")


def digits_only(candidate: str) -> str:
    return candidate.translate(_SEPARATORS)


_DOUBLED = {str(d): (2 * d - 9 if d > 4 else 2 * d) for d in range(10)}
_DIGIT_RUN = re.compile(r"\d+")


# Luhn doubles every second digit from the right and sums the digits of the product: as a table.
_LUHN_DOUBLED_SUMS = bytes.maketrans(b"0123456789", bytes([0, 2, 4, 6, 8, 1, 3, 5, 7, 9]))


def luhn_ok(number: str) -> bool:
    """Luhn over a string of digits (callers pass digits only)."""
    if not number.isascii():  # other scripts' digits: the general (slower) form
        reverse = number[::-1]
        total = sum(map(int, reverse[0::2])) + sum(map(_DOUBLED.__getitem__, reverse[1::2]))
        return total % 10 == 0
    # Bytes summed in C: the undoubled digits as ASCII codes less '0' each, the doubled ones through a
    # table straight to their digit sums (~2.5x faster than int() per digit).
    data = number.encode()
    kept = data[-1::-2]
    return (sum(kept) - 48 * len(kept) + sum(data[-2::-2].translate(_LUHN_DOUBLED_SUMS))) % 10 == 0


def card_length(candidate: str) -> int:
    """Length of the longest prefix (cut at a separator) that is a card: Luhn plus issuer ranges 2-6.

    Greedy scanning overruns ("4242 4242 4242 4242 12/34"), so prefixes ending at a group are tried.
    """
    if candidate[0] not in "23456" and not candidate.startswith("1800"):
        return 0
    if " " in candidate and "-" in candidate:
        return 0  # mixed separators ("4242-4242 4242") are not how a card is written
    # The common case first: the whole candidate is the card (no regex, no list of runs).
    number = candidate.replace(" ", "").replace("-", "")
    count = len(number)
    if (
        number.isdigit()
        and _card_range(number, count)
        and number.count(number[0]) != count
        and luhn_ok(number)
    ):
        return len(candidate)
    runs = list(_DIGIT_RUN.finditer(candidate))
    if len({candidate[run.end()] for run in runs[:-1]}) > 1:
        return 0  # mixed separators ("4242-4242 4242") are not how a card is written
    number = "".join(run.group() for run in runs)
    count = len(number)
    for run in reversed(runs):
        if _card_range(number, count):
            prefix = number[:count]
            if prefix.count(prefix[0]) != count and luhn_ok(prefix):
                return run.end()
        count -= len(run.group())
    return 0


def _card_range(number: str, count: int) -> bool:
    """13-19 digits for issuers 2-6; 12 for Maestro (50xx, 56-69); JCB's 15-digit 1800/2131 series."""
    if number[0] == "1":
        return count == 15 and number.startswith("1800")
    if count == 12:  # Maestro's 12-digit ranges only: a 12-digit order number is far more common
        return number.startswith(("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"))
    return 13 <= count <= 19


# ISO 13616 lengths for the countries our customers bank in; others still pass on mod-97 alone.
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "IE": 22,
    "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "SE": 24,
}  # fmt: skip


def is_iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int(rearranged.translate(_IBAN_DIGITS)) % 97 == 1


# ISO 13616 letter values (A=10 … Z=35), the same as int(char, 36), as one translate() table.
_IBAN_DIGITS = str.maketrans(
    {char: str(int(char, 36)) for char in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
)


def is_ssn(candidate: str) -> bool:
    number = digits_only(candidate)
    if len(number) != 9 or not number.isdigit():
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


# National identifiers: python-stdnum's checksums validate the candidates the scanner found (imported on
# first use, so a process that never sees one never pays for the import).
def _stdnum(module: str) -> Callable[[str], bool]:
    loaded: list[Callable[[str], bool]] = []

    def check(candidate: str) -> bool:
        if not loaded:
            loaded.append(importlib.import_module(f"stdnum.{module}").is_valid)
        return bool(loaded[0](candidate))

    return check


is_cpf = _stdnum("br.cpf")
is_nif = _stdnum("es.nif")  # DNI and NIE included
is_nir = _stdnum("fr.nir")
is_bsn = _stdnum("nl.bsn")
is_aadhaar = _stdnum("in_.aadhaar")
is_codice_fiscale = _stdnum("it.codicefiscale")
is_steuer_id = _stdnum("de.idnr")
_NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")


def is_nino(candidate: str) -> bool:
    """UK National Insurance number: HMRC's prefix rules (python-stdnum has no NINO module)."""
    return _NINO.fullmatch(candidate.replace(" ", "").upper()) is not None


def is_national_id(candidate: str) -> bool:
    """Any of the identifiers above (for a value under a generic cue such as "tax id")."""
    checks = (is_ssn, is_cpf, is_nif, is_nir, is_bsn, is_aadhaar, is_codice_fiscale, is_steuer_id, is_nino)
    return any(check(candidate) for check in checks)


def is_phone(candidate: str) -> bool:
    number = candidate.translate(_SEPARATORS).lstrip("+")
    if not number.isdigit():
        return False
    if candidate.startswith("+"):
        return 8 <= len(number) <= 15
    return 9 <= len(number) <= 12


# Addresses that identify no person: loopback, unspecified, and the Docker/k8s style defaults.
_SAFE_IPS = frozenset({"127.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "::"})


def is_ipv4(candidate: str) -> bool:
    parts = candidate.split(".")
    if len(parts) != 4:
        return False
    # Loops, not any() over generators: this runs for every dotted quad.
    for part in parts:
        if len(part) > 1 and part[0] == "0":
            return False
    for part in parts:
        if len(part) > 2 and int(part) > 255:
            return False
    return candidate not in _SAFE_IPS


def is_ipv6(candidate: str) -> bool:
    address = candidate.split("%", 1)[0]
    colons = address.count(":")
    if colons < 2 or address in _SAFE_IPS:
        return False
    if "::" not in address and colons != 7 and not (colons == 6 and "." in address):
        # Eight groups, or fewer with "::", or six before an IPv4 tail: "00:03:12" is a duration and
        # "10:30:00" a time, and ``IPv6Address`` would cost 5 µs to say so.
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    # A run like "abc::" in prose or "std::" in C++ parses; insist on a digit or at least three groups.
    return any(char.isdigit() for char in address) or address.count(":") >= 3


def is_jwt(candidate: str) -> bool:
    """A JWT is only a secret when its header decodes to JSON naming an algorithm or type."""
    header = candidate.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        parsed = json.loads(decoded)
    except (binascii.Error, ValueError):
        return False
    return isinstance(parsed, dict) and ("alg" in parsed or "typ" in parsed)
