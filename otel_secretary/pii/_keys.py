"""Which attribute keys name a secret, decided on key *tokens*, never on raw substrings.

Splitting on ``.``, ``_``, ``-`` and camelCase is what keeps ``secretary``, ``tokenizer``, ``author`` and
``gen_ai.usage.input_tokens`` readable while ``x-api-key``, ``set-cookie`` and ``client_secret`` are caught
(the word-substring matching of Logfire and Relay gets both of these wrong).
"""

from __future__ import annotations

import functools
import itertools
import re

_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")

# Any of these tokens anywhere in the key makes the value a credential.
_STRONG = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "authorization", "cookie", "cookies",
        "apikey", "credential", "credentials", "jwt", "csrf", "xsrf", "ssn", "sessionid", "privatekey",
        "pin", "cvc", "cvv",
    }
)  # fmt: skip
# These only count as the last token ("refresh_token", "x-session"), not in "token.type" or "auth.method".
_WEAK_LAST = frozenset({"token", "session", "auth", "sid", "signature", "sig", "dsn"})
# Run-together compounds: "csrftoken", "clientsecret", "dbpassword" (not "tokenizer", "secretary").
_COMPOUND_ENDINGS = ("token", "secret", "password", "passwd", "apikey", "sessionid", "cookie")
_PAIRS = frozenset(
    {
        ("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("signing", "key"),
        ("hmac", "key"), ("session", "id"), ("session", "key"), ("client", "secret"), ("auth", "token"),
    }
)  # fmt: skip
# A key ending in one of these describes a credential without holding it ("password_reset_sent").
_BENIGN_LAST = frozenset(
    {
        "sent", "reset", "changed", "count", "length", "len", "type", "method", "scheme", "name", "enabled",
        "required", "expires", "expiry", "expired", "present", "valid", "policy", "strength", "version",
        "consent", "algorithm", "alg", "kind", "status", "updated", "created", "at", "hint", "rotated",
        "provider", "source", "set", "used", "usage", "limit", "ttl", "timeout", "error", "reason",
    }
)  # fmt: skip


def key_tokens(key: str) -> tuple[str, ...]:
    return tuple(token.lower() for token in _SPLIT.split(key) if token)


# Keys holding a person's name ("displayName", "customer_full_name", "user.name"); checked before the
# benign suffixes because those include "name".
_NAME_COMPOUNDS = frozenset(
    {"displayname", "fullname", "firstname", "lastname", "givenname", "familyname", "surname"}
)
_NAME_OWNERS = frozenset(
    {"display", "full", "first", "last", "given", "family", "user", "customer", "contact", "attendee",
     "sender", "recipient", "person", "cardholder", "holder", "billing", "organizer", "organiser", "guest",
     "invitee", "shipping", "middle", "legal", "preferred", "maiden", "nick"}
)  # fmt: skip


# Keys of national identifiers, dates of birth and postal addresses, matched on the last one, two or three
# tokens run together ("customer.tax_id" → "taxid", "billing_details.address" → "detailsaddress" no,
# "billing.address" → "billingaddress").
_KIND_BY_KEY = {
    **dict.fromkeys(
        ("cpf", "nif", "nie", "dni", "nir", "bsn", "aadhaar", "aadhar", "nino", "codicefiscale", "fiscalcode",
         "steuerid", "steueridnr", "idnr", "taxid", "taxnumber", "tin", "nationalid", "nationalidnumber",
         "nationalinsurancenumber", "ninumber", "burgerservicenummer", "socialsecuritynumber", "personalid"),
        "national_id",
    ),
    "ssn": "ssn",
    **dict.fromkeys(("dob", "dateofbirth", "birthdate", "birthday", "birthdt", "bday"), "dob"),
    **dict.fromkeys(
        ("street", "streetaddress", "addressline1", "addressline2", "addressline", "postaladdress",
         "billingaddress", "shippingaddress", "homeaddress", "mailingaddress", "residentialaddress",
         "deliveryaddress", "customeraddress", "useraddress", "contactaddress", "streetname", "housenumber"),
        "address",
    ),
}  # fmt: skip
# Alone, these are too generic to say a person is meant ("from": "cache"); with an owner they do.
_SHORT_ROLES = frozenset({"from", "to", "cc", "bcc", "owner", "contact"})
# Roles whose value is a person (a name or an address) but may also be an id ("stripe.customer": "cus_…").
_PERSON_ROLES = frozenset(
    {"attendee", "attendees", "organizer", "organiser", "sender", "recipient", "recipients", "customer",
     "guest", "invitee", "contact", "assignee", "owner", "requester", "from", "to", "cc", "bcc"}
)  # fmt: skip


@functools.lru_cache(maxsize=4096)
def key_kind(key: str) -> str | None:
    """The kind of a string value under ``key`` that is redacted whole (``"secret"``, ``"name"``,
    ``"national_id"``, ``"ssn"``, ``"dob"``, ``"address"``), ``"person"`` for a role whose value is
    masked when it looks like a person, else ``None``."""
    tokens = key_tokens(key)
    if not tokens:
        return None
    last = tokens[-1]
    for width in (1, 2, 3):
        kind = _KIND_BY_KEY.get("".join(tokens[-width:]))
        if kind is not None:
            return kind
    if last in ("line1", "line2") and "address" in tokens:
        return "address"
    if last in _NAME_COMPOUNDS or (last == "name" and len(tokens) > 1 and tokens[-2] in _NAME_OWNERS):
        return "name"
    if _is_secret_key(tokens):
        return "secret"
    if last in _PERSON_ROLES and (len(tokens) > 1 or last not in _SHORT_ROLES):
        return "person"
    return None


@functools.lru_cache(maxsize=4096)
def value_key_kind(key: str) -> str | None:
    """:func:`key_kind` for masking one value under ``key``, plus ``"bare_name"`` for a key whose only
    token is ``name`` (``name``, ``Name``, ``NAME``): it holds a person ("Priya Patel") as often as a
    label ("Inbox", "tasks.send_email"), so its value is masked whole only when it looks like a full
    name or is one given name (see ``bare_name_is_person``). A dotted key ending in ``name`` is named
    by its owner instead (``user.name`` is a person, ``gen_ai.agent.name`` and ``service.name`` are
    not). The text scanner keeps :func:`key_kind` (``name=…`` in a log line has its own rule there)."""
    kind = key_kind(key)
    if kind is None and key_tokens(key) == ("name",):
        return "bare_name"
    return kind


def is_sensitive_key(key: str) -> bool:
    """True when a string value under ``key`` must be redacted whole, whatever it looks like."""
    return key_kind(key) not in (None, "person")


# "<thing>_sid" names an object (Twilio's account_sid "AC…", message_sid "SM…"), not a session.
_SID_OWNERS = frozenset(
    {"account", "message", "call", "service", "messaging", "conversation", "recording", "conference",
     "participant", "api", "sms", "mms", "workspace", "task", "worker", "flow", "execution", "verification",
     "chat", "channel", "room", "twilio", "sub", "subaccount", "application", "app", "phone", "number"}
)  # fmt: skip


def _is_secret_key(tokens: tuple[str, ...]) -> bool:
    if tokens[-1] in _BENIGN_LAST:
        return False
    if tokens[-1] == "sid" and len(tokens) > 1 and tokens[-2] in _SID_OWNERS:
        return False
    if tokens[-1] in _WEAK_LAST or tokens[-1].endswith(_COMPOUND_ENDINGS):
        return True
    if any(token in _STRONG for token in tokens):
        return True
    return any(pair in _PAIRS for pair in itertools.pairwise(tokens))


# Metric labels that hold a per-request or per-person value; as labels they are both PII and a
# cardinality bomb, so metrics never carry them raw (http.route is the low-cardinality alternative).
_METRIC_DENY = frozenset(
    {
        "url.full", "url.query", "url.path", "http.url", "http.target", "enduser.id", "user.id", "user.email",
        "user.name", "user.full_name", "session.id", "client.address", "source.address", "net.peer.ip",
        "http.client_ip", "messaging.message.id", "db.statement", "db.query.text",
    }
)  # fmt: skip


def is_metric_denied_key(key: str) -> bool:
    return key in _METRIC_DENY or is_sensitive_key(key)


def collector_key_pattern() -> str:
    """The key rules above as one RE2 regex over the *last* key token, for the Collector's
    ``blocked_key_patterns`` (RE2 has no lookarounds, so the benign-suffix exceptions come for free:
    "password_reset_sent" ends in "sent")."""
    compounds = "|".join(_COMPOUND_ENDINGS)
    words = sorted((_STRONG | _WEAK_LAST) - {ending for ending in _COMPOUND_ENDINGS})
    pairs = sorted(f"{first}[._-]?{second}" for first, second in _PAIRS)
    names = "|".join(sorted(_NAME_COMPOUNDS))
    owners = "|".join(sorted(_NAME_OWNERS))
    personal = (
        r"date[._-]?of[._-]?birth|birth[._-]?date|dob|birthday|ssn|tax[._-]?id|national[._-]?id|cpf|nif|nie|dni"
        r"|nir|bsn|aadhaar|nino|codice[._-]?fiscale|steuer[._-]?id|idnr|street|street[._-]?address"
        r"|address[._-]?line[12]?|(?:billing|shipping|home|postal|mailing)[._-]?address"
    )
    alternatives = [f"[a-z0-9]*(?:{compounds})", *words, *pairs, names, f"(?:{owners})[._-]?name", personal]
    return "(?i)(?:^|[._-])(?:" + "|".join(alternatives) + ")$"
