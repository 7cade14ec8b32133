"""The single pattern set: value detectors, allow-listed identifiers, and their collector (RE2) forms.

Everything that finds PII by value is declared here once; the in-process masker compiles it into one
scanner and ``collector_config`` emits the same list for the Collector, so the two cannot drift.
Patterns use only syntax that Go's RE2 also accepts (no lookarounds, no backreferences): Python
validators do the context checks RE2 cannot. Every quantifier is bounded or unambiguous, so a scan is
linear in the input length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from otel_secretary.pii import _validators as v

# A validator returns how many leading characters of the candidate are the real PII (0 rejects it).
# Returning a shorter length lets "4242 4242 4242 4242 12" keep the card and drop the trailing "12".
Validator = Callable[[str], int]


@dataclass(frozen=True)
class Detector:
    """One kind of PII or secret found by value.

    ``pattern`` may hold a named group ``secret``: then only that group is replaced ("Bearer <secret>").
    ``collector_pattern`` overrides what the Collector gets when the Python pattern relies on a validator
    to be precise enough (the Collector has no validators).
    """

    name: str
    kind: str
    pattern: str
    validator: Validator | None = None
    # "digits" rejects a candidate glued to a letter or digit; "ipv6" to a word char or colon; "ipv4" is
    # "digits" plus no product before a slash ("Chrome/124.0.0.0" is a version, not an address).
    guard: str = ""
    family: str = "secret"
    # Secret-family detectors are only tried where one of these literals occurs; the match is attempted
    # at the anchor ("here"), at the start of the word holding it ("token") or of the key before it ("key";
    # the scanner then requires a sensitive key and reports its kind: "secret" or "name").
    anchors: tuple[str, ...] = ()
    start: str = "token"
    collector_pattern: str | None = None
    collector: bool = True

    @property
    def rendered_collector_pattern(self) -> str:
        return to_re2(self.collector_pattern or self.pattern)


def to_re2(pattern: str) -> str:
    """Go's RE2 refuses repeat counts above 1000; it is linear-time anyway, so those become open-ended."""
    pattern = re.sub(r"\(\?P<\w+>", "(", pattern)
    return re.sub(r"\{(\d+),(\d+)\}", lambda m: f"{{{m[1]},}}" if int(m[2]) > 1000 else m[0], pattern)


def _whole(check: Callable[[str], bool]) -> Validator:
    return lambda candidate: len(candidate) if check(candidate) else 0


def _longest_prefix(check: Callable[[str], bool]) -> Validator:
    """Try the whole candidate, then shorter prefixes cut at separators (greedy scans overrun)."""

    def validate(candidate: str) -> int:
        if check(candidate):
            return len(candidate)  # the common case, without a generator
        for cut in _cuts(candidate):
            if check(candidate[:cut]):
                return cut
        return 0

    return validate


def _cuts(candidate: str) -> Iterator[int]:
    """The shorter prefixes worth trying, longest first (the whole candidate was tried already)."""
    for index in range(len(candidate) - 1, 0, -1):
        if not candidate[index].isalnum() and candidate[index - 1].isalnum():
            yield index


def _credential_value(candidate: str) -> int:
    """After 'Bearer '/'Basic ': a credential has a digit, base64 punctuation or inner capitals, or is
    too long to be a word; "Basic authentication" and "token counting" stay readable."""
    value = candidate.split(None, 1)[-1]
    looks_encoded = any(char.isdigit() or char in "+/=_" or char.isupper() for char in value[1:])
    return len(candidate) if looks_encoded or len(value) >= 20 else 0


_DATE = re.compile(r"(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2})(?![./-]?\d)")


def _sensitive_credential(candidate: str) -> int:
    """``key: value`` where the value looks encoded (digit, inner capital, base64 punctuation)."""
    value = candidate.split(":", 1)[1].strip()
    return len(candidate) if _credential_value("x " + value) else 0


def _not_date(candidate: str) -> bool:
    return _DATE.match(candidate) is None


def _national_phone(candidate: str) -> bool:
    return candidate.count("/") <= 1 and _not_date(candidate) and v.is_phone(candidate)


_EXT = r"(?:[ ]{0,2}(?:x|ext\.?|#)[ ]{0,2}\d{1,6})?"
_EXTENSION = re.compile(r"[ ]{0,2}(?:x|ext\.?|#)[ ]{0,2}\d{1,6}$")


def _with_extension(validate: Validator) -> Validator:
    """The number is validated without its extension; a valid number keeps the extension it has."""

    def check(candidate: str) -> int:
        if "x" not in candidate and "#" not in candidate:
            return validate(candidate)  # every extension marker ("x", "ext", "#") holds one of these
        extension = _EXTENSION.search(candidate)
        if extension is None:
            return validate(candidate)
        base = candidate[: extension.start()]
        accepted = validate(base)
        return len(candidate) if accepted == len(base) else accepted

    return check


_NAME_HEADERS = (
    "From",
    "To",
    "Cc",
    "Bcc",
    "Reply-To",
    "Sender",
    "Organizer",
    "Organiser",
    "Attendee",
    "Attendees",
)
# Capitalised, up to 64 characters, no address punctuation, not ending in a blank.
_DISPLAY_NAME = r"(?P<secret>[A-Z][^<>\n,;:\"@]{0,62}[^<>\n,;:\"@ \t])"
# What follows a display name: an address ("<jane@") or a masked one ("<<email>>"; a bare "<email>" is
# a placeholder where no angle brackets were, so it must not make "…, Word <email>" a name list).
_ADDRESS_OPENS = r"<(?:[^<>\s@]{1,64}@|<email[:>])"
_GITHUB_ANCHORS = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
_SCHEMES = ("Bearer", "Basic", "Token", "bearer", "basic", "token")

DETECTORS: tuple[Detector, ...] = (
    # --- secrets with a recognisable prefix -----------------------------------------------------------
    Detector("private_key", "secret",
             r"-----BEGIN [A-Z ]{0,24}PRIVATE KEY-----[A-Za-z0-9+/=\s]{0,8192}"
             r"-----END [A-Z ]{0,24}PRIVATE KEY-----",
             anchors=("-----BEGIN",), start="here"),
    Detector("openai_key", "secret", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,256}",
             anchors=("sk-",)),
    Detector("stripe_secret_key", "secret", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,256}",
             anchors=("sk_", "rk_")),
    Detector("stripe_webhook_secret", "secret", r"\bwhsec_[A-Za-z0-9+/=]{16,256}", anchors=("whsec_",)),
    Detector("stripe_client_secret", "secret", r"\b(?:pi|seti)_[A-Za-z0-9]{8,64}_secret_[A-Za-z0-9]{8,64}",
             anchors=("_secret_",)),
    Detector("google_api_key", "secret", r"\bAIza[0-9A-Za-z_-]{35}", anchors=("AIza",)),
    Detector("google_oauth_token", "secret", r"\bya29\.[0-9A-Za-z_-]{20,2048}", anchors=("ya29.",)),
    Detector("google_oauth_client_secret", "secret", r"\bGOCSPX-[0-9A-Za-z_-]{20,64}", anchors=("GOCSPX-",)),
    # The key id, and its secret when it follows ("AKIA… wJalr…", "AKIA…,aws_secret_access_key=wJalr…").
    Detector("aws_access_key", "secret",
             r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b(?:[\s,;:=|\"'/]{1,8}(?:[A-Za-z_]{1,40}[\s,;:=|\"']{1,4})?"
             r"[A-Za-z0-9/+]{40}\b)?",
             anchors=("AKIA", "ASIA"), collector_pattern=r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    Detector("github_token", "secret", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
             anchors=_GITHUB_ANCHORS),
    Detector("slack_token", "secret", r"\bxox[abposr]-[0-9A-Za-z-]{10,255}", anchors=("xox",)),
    Detector("jwt", "secret", r"\beyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,4096}",
             _whole(v.is_jwt), anchors=("eyJ",)),
    # --- credentials identified by their context --------------------------------------------------------
    Detector("auth_scheme", "secret",
             r"\b(?:Bearer|Basic|Token|bearer|basic|token)[ \t]{1,4}(?P<secret>[A-Za-z0-9._~+/=-]{8,4096})",
             _credential_value, anchors=_SCHEMES,
             collector_pattern=r"\b(?:Bearer|Basic|bearer|basic)[ \t]{1,4}[A-Za-z0-9._~+/=-]{16,4096}"),
    Detector("url_userinfo", "secret", r"://[^\s:/?#@<>\"']{0,256}:(?P<secret>[^\s/?#@<>\"']{1,256})@",
             anchors=("://",), start="here",
             collector_pattern=r"://[^\s:/?#@]{0,256}:[^\s/?#@]{1,256}@"),
    Detector("sensitive_param", "secret",
             r"[A-Za-z_][A-Za-z0-9_.-]{0,40}=(?P<secret>[^&\s#\"'<>,;]{1,4096})",
             anchors=("=",), start="key",
             collector_pattern=(r"(?i)(?:^|[?&;,\s])\w{0,20}(?:password|passwd|pwd|secret|token|api_?key|apikey|"
                                r"signature|sig|session|auth)=[^&\s#\"']{1,4096}")),
    Detector("sensitive_json", "secret",
             r"[A-Za-z_][A-Za-z0-9_.-]{0,40}\"[ \t]{0,3}:[ \t]{0,3}\"(?P<secret>[^\"<>]{1,4096})\"",
             anchors=('":', '" :'), start="key",
             collector_pattern=(r"(?i)\"\w{0,20}(?:password|passwd|secret|token|api_?key|apikey|"
                                r"authorization|cookie|display_?name|full_?name|first_?name|last_?name|surname)\"\s{0,3}:\s{0,3}"
                                r"\"[^\"]{1,4096}\"")),
    # "password: hunter2" in logs and config dumps; only when the value looks like a credential, so
    # "Password: reset link sent" stays. The Collector (no validators) only masks values with a digit.
    Detector("sensitive_colon", "secret",
             r"[A-Za-z_][A-Za-z0-9_.-]{0,40}:[ \t]{1,3}(?P<secret>[^\s\"',;<>]{4,4096})",
             _sensitive_credential,
             anchors=(": ", ":\t"), start="key",
             collector_pattern=(r"(?i)\b\w{0,20}(?:password|passwd|pwd|secret|api_?key|token)\w{0,10}:"
                                r"[ \t]{1,3}[^\s\"',;]{0,100}[0-9][^\s\"',;]{0,100}")),
    # --- names, only where structure says so (no NER): mail/calendar headers and "…>, Name <" lists -----
    Detector("display_name", "name",
             r"(?:" + "|".join(_NAME_HEADERS) + r"):[ \t]{0,4}" + _DISPLAY_NAME + r"[ \t]{0,4}"
             + _ADDRESS_OPENS,
             anchors=(": ", ":\t"), start="token",
             collector_pattern=r"(?:" + "|".join(_NAME_HEADERS) + r"):[ \t]{0,4}" + _DISPLAY_NAME
             + r"[ \t]{0,4}<"),
    # Only between two addresses, so our own "<card>, IBAN <iban>" is never read as a name list.
    Detector("listed_name", "name",
             r">,[ \t]{0,4}" + _DISPLAY_NAME + r"[ \t]{0,4}" + _ADDRESS_OPENS,
             anchors=(">,",), start="here", guard="address",
             collector_pattern=r">,[ \t]{0,4}" + _DISPLAY_NAME + r"[ \t]{0,4}<"),
    # --- personal data, validated ---------------------------------------------------------------------
    Detector("iban", "iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
             _longest_prefix(v.is_iban), family="digits"),
    Detector("card", "card", r"\b(?:\d[ -]?){11,18}\d\b", v.card_length, guard="digits", family="digits",
             collector_pattern=(r"\b(?:4\d{3}|5[1-5]\d{2}|2[2-7]\d{2}|6(?:011|5\d{2}))(?:[ -]?\d{4}){3}\b"
                                r"|\b3[47]\d{2}[ -]?\d{6}[ -]?\d{5}\b")),
    Detector("ssn", "ssn", r"\b\d{3}-\d{2}-\d{4}\b", _whole(v.is_ssn), guard="digits", family="digits"),
    # --- national identifiers with a distinctive shape; python-stdnum's checksum decides --------------
    Detector("cpf", "national_id", r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b", _whole(v.is_cpf), guard="digits",
             family="digits", collector=False),
    Detector("nif_nie", "national_id", r"\b(?:[XYZ]-?\d{7}|\d{8})-?[A-HJ-NP-TV-Z]\b", _whole(v.is_nif),
             guard="digits", family="digits", collector=False),
    Detector("nino", "national_id", r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", _whole(v.is_nino),
             guard="digits", family="digits", collector=False),
    Detector("codice_fiscale", "national_id", r"\b[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z]\b",
             _whole(v.is_codice_fiscale), guard="digits", family="digits", collector=False),
    Detector("nir", "national_id", r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b",
             _whole(v.is_nir), guard="digits", family="digits", collector=False),
    Detector("aadhaar", "national_id", r"\b[2-9]\d{3} \d{4} \d{4}\b", _whole(v.is_aadhaar), guard="digits",
             family="digits", collector=False),
    # --- phones (an extension such as "x798" or "ext. 12" belongs to the number) ----------------------
    Detector("phone_international", "phone", r"\+[1-9][0-9 .()/-]{6,22}[0-9]" + _EXT,
             _with_extension(_longest_prefix(v.is_phone)),
             guard="digits", family="digits", collector_pattern=r"\+[1-9](?:[ .-]?\(?\d{1,4}\)?){2,6}\d"),
    Detector("phone_idd", "phone", r"\b00[1-9]\d{0,3}[ .()/-][0-9 .()/-]{5,20}[0-9]" + _EXT,
             _with_extension(_longest_prefix(lambda c: v.is_phone("+" + c[2:]))),
             guard="digits", family="digits", collector_pattern=r"\b00[1-9](?:[ .-]?\d{1,4}){2,6}\d"),
    Detector("phone_nanp", "phone", r"(?:\(\d{3}\) ?|\b(?:1[ .-])?\d{3}[ .-])\d{3}[ .-]\d{4}" + _EXT + r"\b",
             guard="digits", family="digits",
             collector_pattern=r"(?:\(\d{3}\) ?|\b(?:1[ .-])?\d{3}[ .-])\d{3}[ .-]\d{4}\b"),
    Detector("phone_bracketed", "phone", r"\(\d{2,5}\) ?\d{2,5}(?:[ .-]?\d{2,4}){1,2}" + _EXT + r"\b",
             _with_extension(_whole(_national_phone)), guard="digits", family="digits",
             collector_pattern=r"\(0\d{2,4}\) ?\d{3,4}[ .-]?\d{3,4}\b"),
    Detector("phone_national", "phone", r"\b0[1-9][0-9 ./-]{7,16}[0-9]" + _EXT + r"\b",
             _with_extension(_longest_prefix(_national_phone)),
             guard="digits", family="digits",
             collector_pattern=r"\b0[1-9](?:[ .-]?\d{2}){4}\b|\b0\d{2,4}[ /-]\d{3,4}[ -]?\d{3,4}\b"),
    Detector("ipv6", "ip", r"(?:[0-9A-Fa-f]{1,4}|:)(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[A-Za-z0-9]{1,16})?",
             _whole(v.is_ipv6), guard="ipv6", family="digits",
             collector_pattern=(r"\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b|"
                                r"\b(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}\b")),
    Detector("ipv4", "ip", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", _whole(v.is_ipv4), guard="ipv4", family="digits",
             collector_pattern=r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"),
)  # fmt: skip

# E-mail is found from each '@' outward (see _masker); this is its declarative form for the Collector.
EMAIL_PATTERN = (
    r"\b[A-Za-z0-9._%+-]{1,64}(?:@|%40)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b"
)

# Identifiers that must stay readable; the scanner consumes them whole so no detector looks inside.
SAFE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("uuid", r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b"),
    ("timestamp", r"\b\d{4}-\d{2}-\d{2}"
                  r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
    ("stripe_id", r"\b(?:ch|cus|evt|pi|pm|py|in|ii|il|sub|si|price|prod|req|seti|src|tok|card|ba|re|txn|acct|"
                  r"cs|po|tr|pyr|trr|iauth|ic|cn|dp|du|file|link|promo|qt|sub_sched|sched)_[A-Za-z0-9]{6,255}\b"),
    ("traceparent", r"\b00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\b"),
    # Semver-like (no leading zeros, so "555.010.0188" is not a version); never a 4th numeric part (IPs).
    ("version", r"\bv?(?:0|[1-9]\d{0,3})\.(?:0|[1-9]\d{0,3})\.(?:0|[1-9]\d{0,5})"
                r"(?:[-+][0-9A-Za-z.]{1,32})?\b(?!\.\d)"),
)  # fmt: skip
# After detectors: lowercase hex ids with at least one letter (trace/span ids, git SHAs). All-digit
# strings are not protected: a 16-digit span id and a card number are indistinguishable by shape.
SAFE_HEX = r"\b[0-9]{0,64}[a-f][0-9a-f]{0,64}\b"

# Our own output, so masking is idempotent: <email>, <card:4242>, <email:3f2a9c1d>, <redacted>.
PLACEHOLDER = r"<[a-z][a-z0-9_-]{0,30}(?::[0-9a-f]{8}|:\d{4})?>"
